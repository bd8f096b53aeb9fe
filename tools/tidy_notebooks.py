"""Tidy the notebooks' sources for the page, without touching their outputs.

Usage: python tools/tidy_notebooks.py [--check] [PATH ...]   (default: every notebook in book/)

1. nbval markers become cell tags: a first line ``# NBVAL_IGNORE_OUTPUT`` and the comment lines
   after it (the reason) are removed from the source; the cell gets the tag
   ``nbval-ignore-output`` and the reason goes to its metadata (``nbval_ignore_reason``), where
   tests/test_book_structure.py requires it.
2. Code is formatted with ruff at 79 columns (ruff formats notebooks natively), so that it fits
   the page's column (the site shows about 90 characters of code per line).

With --check nothing is written; the exit status is 1 if a notebook would change.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# NBVAL_IGNORE_OUTPUT"
LINE_LENGTH = 79


def _notebooks(paths: list[str]) -> list[Path]:
    found = []
    for p in map(Path, paths or [str(ROOT / "book")]):
        found += [p] if p.suffix == ".ipynb" else sorted(q for q in p.rglob("*.ipynb") if "_build" not in q.parts)
    return found


def markers_to_tags(nb) -> bool:
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        if not lines or lines[0].strip() != MARKER:
            continue
        reason = []
        rest = lines[1:]
        while rest and rest[0].lstrip().startswith("#"):
            reason.append(rest.pop(0).lstrip().lstrip("#").strip())
        cell.source = "\n".join(rest)
        tags = cell.metadata.setdefault("tags", [])
        if "nbval-ignore-output" not in tags:
            tags.append("nbval-ignore-output")
        cell.metadata["nbval_ignore_reason"] = " ".join(reason)
        changed = True
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = _notebooks([a for a in argv if a != "--check"])
    if not paths:  # ruff without a path would format the whole working directory
        print("tidy_notebooks: no notebooks found in the paths given", file=sys.stderr)
        return 2
    dirty = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if markers_to_tags(nb):
            dirty.append(f"{path.name}: nbval marker comments")
            if not check:
                nbformat.write(nb, path)
    ruff = [sys.executable, "-m", "ruff", "format", "--line-length", str(LINE_LENGTH), "--no-cache"]
    result = subprocess.run(ruff + (["--check"] if check else []) + [str(p) for p in paths],
                            capture_output=True, text=True)
    if check and result.returncode:
        dirty.append(result.stdout.strip())
    elif result.returncode:
        print(result.stdout, result.stderr, file=sys.stderr)
        return result.returncode
    for line in dirty:
        print(line)
    return 1 if check and dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
