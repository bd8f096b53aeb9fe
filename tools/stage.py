"""Time the stages of a long command (``make test``, ``.ci/run``) and print them as one table.

    python -m tools.stage start [--file F]         forget earlier stages
    python -m tools.stage run NAME [--file F] -- COMMAND ...
    python -m tools.stage report [--file F]

``run`` runs COMMAND, appends its name, wall time and exit status to F (default
``_build/stages.json``) and exits with COMMAND's status; on a failure it prints the table so far
first, so that a failing run still says where its time went. Standard library only: it runs
before any environment exists.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = Path("_build") / "stages.json"
# Stages that install (pip, apt) rather than test: named install-<what>.
INSTALL = "install-"


def _load(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def table(stages: list[dict]) -> str:
    """The stages as a fixed-width table with a total."""
    width = max([len(s["name"]) for s in stages] + [len("without installs")])
    lines = [f"{'stage':<{width}}  {'seconds':>8}  {'share':>6}  status"]
    total = sum(s["seconds"] for s in stages) or 1.0
    for s in stages:
        status = "ok" if s["status"] == 0 else f"FAILED ({s['status']})"
        lines.append(f"{s['name']:<{width}}  {s['seconds']:8.0f}  {100 * s['seconds'] / total:5.1f}%  {status}")
    lines.append(f"{'total':<{width}}  {sum(s['seconds'] for s in stages):8.0f}")
    installs = [s for s in stages if s["name"].startswith(INSTALL)]
    if installs:  # what the suite itself costs (BOOK_SPEC 6 compares it with one nbval pass)
        work = sum(s["seconds"] for s in stages if not s["name"].startswith(INSTALL))
        lines.append(f"{'without installs':<{width}}  {work:8.0f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "run", "report"))
    parser.add_argument("name", nargs="?")
    parser.add_argument("--file", type=Path, default=DEFAULT)
    args = parser.parse_args(argv)
    if args.action == "start":
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text("[]")
        return 0
    if args.action == "report":
        print("\nTime per stage:\n" + table(_load(args.file)))
        return 0
    if not args.name or not command:
        parser.error("run needs a NAME and a COMMAND after --")
    start = time.perf_counter()
    status = subprocess.run(command, check=False).returncode
    stages = _load(args.file) + [{"name": args.name, "seconds": round(time.perf_counter() - start, 1),
                                  "status": status}]
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text(json.dumps(stages, indent=1))
    if status:
        print(f"\nstage {args.name} failed; time per stage so far:\n" + table(stages))
    return status


if __name__ == "__main__":
    sys.exit(main())
