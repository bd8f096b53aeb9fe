"""Re-execute notebooks in place, top to bottom, and record their time and peak memory.

Usage: python tools/execute_notebooks.py [--no-report] [PATH ...]   (files or folders; default: book)

Each notebook runs in a fresh kernel of the current Python (nbclient), from its own folder,
with widget state stored so that explorers render on the static site. The wall time of the
execution and the kernel's peak resident memory (Linux VmHWM) are written to
book/execution_report.json, which the Execution report page shows.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "book" / "execution_report.json"
REPORT_PAGE = "appendix/execution_report.ipynb"
TIMEOUT = 600


def find_notebooks(paths: list[str]) -> list[Path]:
    found = []
    for p in map(Path, paths or ["book"]):
        p = p.resolve()
        candidates = [p] if p.suffix == ".ipynb" else sorted(p.rglob("*.ipynb"))
        for nb in candidates:
            if "_build" in nb.parts or ".ipynb_checkpoints" in nb.parts:
                continue
            found.append(nb)
    # The execution report shows the others' figures: it runs last.
    return sorted(found, key=lambda nb: nb.as_posix().endswith(REPORT_PAGE))


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def execute(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    peak = None
    start = time.perf_counter()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
        peak = _peak_rss_mb(pid)
        client.set_widgets_metadata()
    nbformat.write(nb, path)
    return {"seconds": round(seconds, 1), "peak_memory_mb": None if peak is None else round(peak)}


def main(argv: list[str]) -> int:
    record = "--no-report" not in argv  # --no-report: execute only, leave the report alone
    notebooks = find_notebooks([a for a in argv if a != "--no-report"])
    report_page = ROOT / "book" / REPORT_PAGE
    if record and report_page.exists() and report_page not in notebooks:
        notebooks.append(report_page)  # it shows the figures just measured
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {"notebooks": {}}
    failed = []
    for path in notebooks:
        book = ROOT / "book"
        rel = path.relative_to(book).as_posix() if path.is_relative_to(book) else str(path)
        print(f"executing {rel} ...", flush=True)
        try:
            measured = execute(path)
        except Exception as exc:  # report every failing notebook, then fail
            print(f"  FAILED: {type(exc).__name__}: {str(exc)[-2000:]}", flush=True)
            failed.append(rel)
            continue
        print(f"  {measured['seconds']} s, peak memory {measured['peak_memory_mb']} MB", flush=True)
        if record and not rel.endswith(REPORT_PAGE):
            report["notebooks"][rel] = measured
            report["machine"] = {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "torch_threads": os.environ.get("OMP_NUM_THREADS", "default"),
            }
            report["date"] = datetime.date.today().isoformat()
            REPORT.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
