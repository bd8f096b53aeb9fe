"""pytest plugin: notebooks' tests handed out heaviest first (``-p tools.heaviest_first``).

With ``pytest -n 2 --dist loadfile --no-loadscope-reorder`` each worker takes the next notebook
in collection order when it is done with its own. This plugin sorts the collected items by the
execution time that ``make outputs`` recorded for their notebook (book/execution_report.json),
longest first, each notebook's cells in their own order: the long notebooks start at once and
the short ones fill in at the end, so that the workers finish together (the order of the items
changes no result: each notebook runs in a kernel of its own).
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.execute_notebooks import REPORT  # where `make outputs` records each notebook's time


def recorded_seconds() -> dict[str, float]:
    """{notebook path relative to book/: seconds} from the last `make outputs` (empty if none)."""
    try:
        notebooks = json.loads(REPORT.read_text())["notebooks"]
    except (OSError, ValueError, KeyError):
        return {}
    return {name: float(m.get("seconds") or 0.0) for name, m in notebooks.items()}


def heaviest_first(paths: list[Path]) -> list[Path]:
    """``paths`` (notebooks under book/) sorted by recorded time, longest first, then by name."""
    seconds = recorded_seconds()
    book = REPORT.parent

    def cost(path: Path) -> float:
        try:
            return seconds.get(path.resolve().relative_to(book).as_posix(), 0.0)
        except ValueError:
            return 0.0

    return sorted(paths, key=lambda p: (-cost(p), p.as_posix()))


def pytest_collection_modifyitems(session, config, items):
    order = {p: k for k, p in enumerate(heaviest_first(sorted({Path(str(i.path)) for i in items})))}
    items.sort(key=lambda i: order[Path(str(i.path))])  # stable: cells keep their order
