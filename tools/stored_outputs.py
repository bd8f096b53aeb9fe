"""Compare a notebook executed elsewhere with the book's stored outputs, the way nbval does.

    python -m tools.stored_outputs EXECUTED.ipynb [--book book/<chapter>.ipynb]

A chapter's cells reach students through its other editions (the Jupyter-native, student and
nbgrader notebooks) with their cell ids and code unchanged (a folded cell gains a ``# @title``
line for Colab). When such a notebook has been executed, by nbgrader's ``autograde`` say, in
another kernel or on another CPU code path, its outputs can be held against the stored outputs
of the book without executing the chapter again: :func:`compare` matches the cells by id and
compares what nbval compares (every output field but metadata, tracebacks, execution counts and
images; text through the sanitize patterns of ``tools/nbval_sanitize.cfg``), leaving out the
cells nbval leaves out (``nbval-ignore-output``, ``nbval-skip``) and the glue records, which
the book's build stack writes and a plain kernel does not (their values are printed by the
cells that compute them).

``make test-nbgrader`` runs the reference answers on the AVX2 code path and the planted ones on
the baseline path this way (BOOK_SPEC 9), instead of two more nbval passes over the book.
Exit status 1 if an output differs or no cell could be compared.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbval.plugin import coalesce_streams, find_comment_markers, find_metadata_tags, get_sanitize_patterns

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "tools" / "nbval_sanitize.cfg"
GLUE_PREFIX = "application/papermill.record/"
# What nbval leaves out of a comparison (without --nbdime, images too).
SKIP_KEYS = frozenset({"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                       "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"})
TITLE = re.compile(r"\A# @title [^\n]*\n")


@dataclass
class Comparison:
    """The outcome of :func:`compare`: cells compared, cells of the executed notebook without a
    counterpart in the book (its own cells: install, exercises), cells left out as nbval leaves
    them out, and one message per cell whose outputs differ."""

    compared: int = 0
    unmatched: int = 0
    ignored: int = 0
    differing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.compared} cells compared with the stored outputs, {len(self.differing)} differ "
                f"({self.ignored} left out as nbval leaves them, {self.unmatched} not in the book)")


def _source(cell) -> str:
    return TITLE.sub("", cell.source, count=1)


def _ignored(cell) -> bool:
    markers = {**dict(find_metadata_tags(cell.metadata) or {}), **dict(find_comment_markers(cell.source) or {})}
    return bool(markers.get("skip") or markers.get("check") is False or markers.get("check_exception"))


def _flatten(outputs, patterns) -> dict[str, list]:
    """nbval's view of a cell's outputs: {field or MIME type: [value, ...]} in order."""
    def clean(value):
        if isinstance(value, list):
            value = "".join(value)
        if isinstance(value, str):
            for regex, replace in patterns:
                value = re.sub(regex, replace, value)
        return value

    flat: dict[str, list] = {}
    kept = [copy.deepcopy(o) for o in outputs if not any(k.startswith(GLUE_PREFIX) for k in o.get("data", {}))]
    for out in coalesce_streams(kept):  # one stream of each name, as nbval compares them
        if out.get("output_type") == "stream":
            flat.setdefault(out["name"], []).append(clean(out["text"]))
            continue
        for key, value in out.items():
            if key in SKIP_KEYS:
                continue
            if key == "data":
                for mime, content in value.items():
                    if mime not in SKIP_KEYS:
                        flat.setdefault(mime, []).append(clean(content))
            else:
                flat.setdefault(key, []).append(clean(value))
    return flat


def _first_difference(want, got) -> str:
    """Where two output values part: the first differing line of each."""
    if want is None or got is None:
        return "stored none" if want is None else "none produced"
    a, b = "\n".join(map(str, want)).splitlines(), "\n".join(map(str, got)).splitlines()
    for n, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"line {n + 1}: stored {x[:160]!r}, got {y[:160]!r}"
    return f"stored {len(a)} lines, got {len(b)}"


def compare(executed, stored, *, sanitize: Path = SANITIZE) -> Comparison:
    """Hold the outputs of ``executed`` against those ``stored`` in the book, cell by cell.

    A cell is compared when the book has a code cell with its id and the same code; a cell
    with the book's id but other code is reported as differing (the editions went out of step).
    """
    patterns = get_sanitize_patterns(Path(sanitize).read_text())
    book = {c.get("id"): c for c in stored.cells if c.cell_type == "code"}
    result = Comparison()
    for index, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        ref = book.get(cell.get("id"))
        if ref is None:
            result.unmatched += 1
            continue
        where = f"cell {index} (id {cell.id})"
        if _source(cell) != _source(ref):
            result.differing.append(f"{where}: its code is not the book's")
            continue
        if _ignored(ref):
            result.ignored += 1
            continue
        result.compared += 1
        got, want = _flatten(cell.outputs, patterns), _flatten(ref.outputs, patterns)
        if got != want:
            keys = sorted(set(got) | set(want))
            key = next(k for k in keys if got.get(k) != want.get(k))
            detail = f"{key}: " + _first_difference(want.get(key), got.get(key))
            result.differing.append(f"{where}: {detail}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executed", type=Path)
    parser.add_argument("--book", type=Path, help="the stored chapter (default: book/<same name>)")
    args = parser.parse_args(argv)
    book = args.book or ROOT / "book" / args.executed.name
    result = compare(nbformat.read(args.executed, as_version=4), nbformat.read(book, as_version=4))
    print(f"{args.executed}: {result}")
    for line in result.differing:
        print("  " + line)
    return 1 if result.differing or not result.compared else 0


if __name__ == "__main__":
    sys.exit(main())
