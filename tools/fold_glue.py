"""Fold the plumbing that copies numbers into a chapter's text out of its teaching cells.

A chapter's code cell computes something and prints it; the ``glue``/``glue_many`` calls that copy
its numbers into the prose are bookkeeping a reader does not need to see. This tool moves them, in
every chapter notebook, into a cell of their own right after the one they came from, tagged
``hide-cell`` (folded on the site behind a "show" toggle, left out of the PDF, kept as it is in the
Jupyter-native edition). Re-execute the notebooks afterwards (``make outputs``): the glue outputs
then come from the new cells.

A statement is moved only if it is a glue call at the top level of the cell (or a loop or test
that glues and otherwise only assigns), no later statement of the cell rebinds a name it reads, and no
later statement reads or binds a name it binds (a loop variable): moving it to the end of the
cell then computes the same values and leaves the kernel as it was. Comment lines directly
above a moved statement go with it. A cell whose glue calls cannot all be moved is reported, and
left for its author to split by hand.

    python -m tools.fold_glue            # fold every chapter in book/
    python -m tools.fold_glue --check    # exit 1 if a visible cell still glues
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
GLUE = {"glue", "glue_many"}
FOLDED = {"hide-cell", "hide-input", "remove-cell", "remove-input"}
FOLD_TAG = "hide-cell"


def _is_glue_call(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id in GLUE
    )


def _is_glue(node: ast.stmt) -> bool:
    """A glue call, or a loop or test that glues and otherwise only assigns (what it glues)."""
    if _is_glue_call(node):
        return True
    if isinstance(node, ast.For | ast.If):
        inner = [*node.body, *node.orelse]
        return any(_is_glue(s) for s in inner) and all(
            _is_glue(s) or (isinstance(s, ast.Assign) and not calls_glue(ast.unparse(s))) for s in inner
        )
    return False


def _displays_nothing(expr: ast.expr) -> bool:
    """A call whose value a notebook does not display (nbval ignores a trailing semicolon)."""
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in {"print", "show", "record", "show_checks"}


def _comprehension_names(node: ast.AST) -> set[str]:
    return {
        n.id
        for c in ast.walk(node)
        if isinstance(c, ast.comprehension)
        for n in ast.walk(c.target)
        if isinstance(n, ast.Name)
    }


def _reads(node: ast.AST) -> set[str]:
    """Names a statement reads from the cell's scope (not a comprehension's own variables)."""
    loads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loads - _comprehension_names(node)


def _binds(node: ast.AST) -> set[str]:
    """Names a statement binds in the cell's scope (a comprehension's variables are its own)."""
    local = {id(n) for c in ast.walk(node) if isinstance(c, ast.comprehension) for n in ast.walk(c.target)}
    names = {
        n.id
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and id(n) not in local
    }
    names |= {n.name for n in ast.walk(node) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    return names


def calls_glue(source: str) -> bool:
    """Whether a cell's code calls ``glue`` or ``glue_many`` anywhere."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in GLUE for n in ast.walk(tree)
    )


def split_glue(source: str) -> tuple[str, str] | None:
    """``(teaching code, glue code)`` of a cell, or None if its glue calls cannot all be moved.

    The teaching code is empty when the cell does nothing but glue.

    >>> split_glue("x = 2\\nglue('x', x)\\nprint(x)")
    ('x = 2\\nprint(x)', "glue('x', x)")
    >>> split_glue("x = 2\\nglue('x', x)\\nx = 3") is None
    True
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    body = tree.body
    moved: list[int] = []
    for i, node in enumerate(body):
        if not _is_glue(node):
            continue
        rest = [s for s in body[i + 1 :] if not _is_glue(s)]
        later_binds = set().union(*(_binds(s) for s in rest))
        later_reads = set().union(*(_reads(s) for s in rest))
        # moved to the end, it must read the same values and leave every name as it was
        if _reads(node) & later_binds or _binds(node) & (later_reads | later_binds):
            return None
        moved.append(i)
    if not moved or any(calls_glue(ast.unparse(s)) for i, s in enumerate(body) if i not in moved):
        return None
    glue = []
    taken = set()
    for i in moved:
        node = body[i]
        start = node.lineno - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#") and start - 1 not in taken:
            start -= 1
        taken.update(range(start, node.end_lineno))
        glue.append("\n".join(lines[start : node.end_lineno]).rstrip().rstrip(";"))
    teaching = "\n".join(line for j, line in enumerate(lines) if j not in taken).strip("\n")
    rest = ast.parse(teaching).body
    if rest and isinstance(rest[-1], ast.Expr) and not _displays_nothing(rest[-1].value):
        return None  # its value would be displayed once the glue after it is gone
    return teaching, "\n".join(glue)


def fold(path: Path) -> tuple[int, list[int]]:
    """Fold one notebook in place: ``(cells folded, indices of visible glue cells left)``."""
    nb = nbformat.read(path, as_version=4)
    cells, folded, left = [], 0, []
    for cell in nb.cells:
        cells.append(cell)
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type != "code" or tags & FOLDED or not calls_glue(cell.source):
            continue
        parts = split_glue(cell.source)
        if parts is None:
            left.append(len(cells) - 1)
            continue
        teaching, glue = parts
        if not teaching.strip():
            cell.metadata["tags"] = sorted(tags | {FOLD_TAG})
            folded += 1
            continue
        cell.source = teaching
        glue_cell = nbformat.v4.new_code_cell(glue, metadata={"tags": [FOLD_TAG]})
        glue_cell.id = f"{cell.id}-glue"[:64]
        cells.append(glue_cell)
        folded += 1
    nb.cells = cells
    nbformat.write(nb, path)
    return folded, left


def visible_glue_cells(path: Path) -> list[int]:
    """Indices of code cells that call glue and are not folded."""
    nb = nbformat.read(path, as_version=4)
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and not set(c.metadata.get("tags", [])) & FOLDED and calls_glue(c.source)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report visible glue cells")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    if not paths:
        raise SystemExit("fold_glue: no notebooks found")
    bad = 0
    for path in paths:
        if args.check:
            left = visible_glue_cells(path)
        else:
            folded, left = fold(path)
            print(f"{path.name}: {folded} cells folded")
        for i in left:
            print(f"{path.name}: cell {i} glues in view and cannot be folded automatically")
        bad += len(left)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
