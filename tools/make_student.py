"""Write the student notebooks: every chapter without its exercises' solutions, with self-checks.

    python -m tools.make_student [--out _build/student] [--native _build/jupyter]

For every chapter in _toc.yml (appendix pages excepted) this writes ``<out>/<name>.ipynb`` from
the chapter's Jupyter-native edition (``make notebooks``, so that no MyST is left): the chapter as
it is, except that each exercise's solution (its cells, text and code, marked
``metadata.reglab.solution``) is replaced by

* a stub code cell (:meth:`reglab.Exercise.stub`): every input the check reads, declared with
  its meaning and shape (data of the chapter, a value the statement fixes, or ``...`` for the
  student's own choice), then every answer's variable set to ``...``, explained the same way;
* a self-check cell calling :func:`reglab.check_exercise` on exactly those names, which prints
  ``correct``, ``not yet: <hint>`` or ``not answered yet`` (never the expected answer);
* where the solution explains in words, a markdown cell inviting a written answer.

Exercises answered in words only (``reglab.exercise(label).written``) get the stub (for any
code the student wants to run) and the written-answer cell, no check. Outputs are cleared; the
chapter's first cell, which installs reglab when the notebook is opened alone, stays.

The tests use :func:`student_notebook` with ``fill=True`` (the stub, then the chapter's own
solution code below it, then the answers and inputs the solution keeps elsewhere: the
``source`` of :class:`~reglab.exercises.core.Answer` and :class:`~reglab.exercises.core.Input`)
and ``planted=True`` (after each check, the same check on a deliberately wrong answer,
:func:`reglab.planted_answer`).
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "_build" / "jupyter"

START = re.compile(r"(?P<fence>`{3,}|:{3,})\{solution-start\}[ \t]*(?P<label>\S+)[^\n]*\n(?:[ \t]*:[^\n]*\n)*"
                   r"(?P=fence)[ \t]*(?:\n|$)")
END = re.compile(r"(?P<fence>`{3,}|:{3,})\{solution-end\}[^\n]*\n(?P=fence)[ \t]*(?:\n|$)")

NOTE = (
    "> **Student edition.** This is the chapter with the solutions of its exercises removed. Run the "
    "chapter from the top first: the exercises use its variables. Under each exercise, a code cell "
    "starting `# Your code here` declares the inputs your answer is judged on (each with its meaning "
    "and shape) and sets every part of the answer to `...`: write your code there, replace each `...` "
    "by your result, then run the check cell below it. The check compares your answer with the "
    "library's own computation and prints `correct`, `not yet:` with a hint, or `not answered yet`; "
    "it never shows the expected answer. Explanations go into the cells marked *Your answer*; the "
    "model answers are in the instructor's edition (the book)."
)
WRITTEN = ("**Your answer.** *Explain in your own words (double-click to edit). The model answer is in the "
           "instructor's edition of the book.*")
WRITTEN_ONLY = ("**Your answer.** *This exercise is answered in words: write your prediction and your "
                "explanation here (double-click to edit). There is no self-check; the model answer is in the "
                "instructor's edition of the book.*")


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks listed in _toc.yml, in its order (appendix pages left out)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    paths = [root / f"{f}.ipynb" for f in files if not f.startswith("book/appendix/")]
    return [p for p in paths if p.exists()]


def solutions(nb) -> dict[str, dict[str, list[str]]]:
    """Every exercise's solution in a notebook: ``{label: {"text": [...], "code": [...]}}``."""
    found: dict[str, dict[str, list[str]]] = {}
    for kind, piece, label in _walk(nb):
        if kind in ("text", "code") and label:
            found.setdefault(label, {"text": [], "code": []})[kind].append(piece)
    return found


def _walk(nb):
    """Yield ("keep", cell, None), ("text"/"code", source, label) and ("end", None, label).

    A notebook of the Jupyter-native edition marks its solution cells (``metadata.reglab.solution``);
    a source notebook of the book marks them with ``{solution-start}`` / ``{solution-end}``.
    """
    if nb.metadata.get("reglab", {}).get("edition") == "jupyter":
        yield from _walk_native(nb)
        return
    label = None
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            yield ("code", cell.source, label) if label else ("keep", cell, None)
            continue
        text = cell.source
        while True:
            pattern = END if label else START
            m = pattern.search(text)
            if m is None:
                if text.strip():
                    yield ("text", text, label) if label else ("keep", _markdown(text, cell), None)
                break
            before, text = text[: m.start()], text[m.end():]
            if before.strip():
                yield ("text", before, label) if label else ("keep", _markdown(before, cell), None)
            if label:
                yield ("end", None, label)
                label = None
            else:
                label = m.group("label")
    if label:
        raise ValueError(f"{label}: a solution-start without its solution-end")


def _walk_native(nb):
    label = None
    for cell in nb.cells:
        here = cell.metadata.get("reglab", {}).get("solution")
        if label and here != label:
            yield ("end", None, label)
        label = here
        if label is None:
            yield ("keep", cell, None)
        else:
            yield ("code" if cell.cell_type == "code" else "text", cell.source, label)
    if label:
        yield ("end", None, label)


def _markdown(text: str, like) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
    cell.metadata = like.metadata if like.source == text else {}
    return cell


def _assigned(sources: list[str]) -> set[str]:
    """The names that code cells define at the top level of the notebook (not inside functions)."""
    names: set[str] = set()
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
              ast.DictComp, ast.GeneratorExp)

    def visit(node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if not isinstance(node, scopes):
            for child in ast.iter_child_nodes(node):
                visit(child)

    for src in sources:
        try:
            visit(ast.parse(src))
        except SyntaxError:  # IPython magics: such a cell defines nothing we need
            continue
    return names


def _stub(ex) -> str:
    if not ex.answers:
        return ("# Your code here: any computation that supports your answer below (there is no self-check\n"
                "# for this exercise: it is answered in words).\n")
    return ex.stub()


def _filled(ex, code: str) -> str:
    """The stub, the chapter's solution below it, then the names the solution keeps elsewhere."""
    if not ex.answers:
        return code
    moved = [f"{v.name} = {v.source}" for v in (*ex.inputs, *ex.answers) if v.source]
    return "\n".join([ex.stub(), code, *(["# where the book's solution keeps them:", *moved] if moved else [])])


def _check_cell(ex) -> str:
    return ("# Self-check: compares your answer with the library's own computation (never shows it).\n"
            "from reglab import check_exercise\n\n" + ex.check_line())


def _planted_cell(ex) -> str:
    wrong = ", ".join(f"{a.name}={a.name}" for a in ex.answers)
    return ("# Test only: the same check on a deliberately wrong answer must say 'not yet'.\n"
            "from reglab import check_exercise, planted_answer\n\n"
            + ex.check_line(f'**planted_answer("{ex.label}", {wrong})'))


def _definition(label: str):
    """The exercise's check, or an answered-in-words stand-in for a label reglab does not know."""
    from reglab import Exercise, exercise

    try:
        return exercise(label)
    except ValueError:  # a new exercise without a check yet (tests/test_student.py reports it)
        return Exercise(label=label, chapter="", answers=(), inputs=(), reference="", written="no check defined")


def _tagged(cell, label: str, role: str):
    cell.metadata["reglab"] = {"exercise": label, "role": role}
    return cell


def student_notebook(path: Path, *, fill: bool = False, planted: bool = False) -> nbformat.NotebookNode:
    """The student edition of one chapter notebook.

    Parameters
    ----------
    path : Path
        The chapter (book/<name>.ipynb).
    fill : bool
        Put the chapter's own solution code below each stub (for the tests): the stub's inputs
        and placeholders stay above it, as a student who pasted the solution would have them.
    planted : bool
        After each self-check, add a cell running it on :func:`reglab.planted_answer` (for the tests).
    """
    nb = nbformat.read(path, as_version=4)
    found = solutions(nb)
    cells, title_done = [], False
    for kind, item, label in _walk(nb):
        if kind == "keep":
            cell = item
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                cell.metadata.pop("execution", None)
            cells.append(cell)
            if not title_done and cell.cell_type == "markdown" and re.search(r"^# ", cell.source, re.MULTILINE):
                cells.append(_tagged(nbformat.v4.new_markdown_cell(NOTE), "", "note"))
                title_done = True
        elif kind == "end":
            ex, sol = _definition(label), found[label]
            code = "\n\n".join(sol["code"])
            stub = _filled(ex, code) if fill else _stub(ex)
            cells.append(_tagged(nbformat.v4.new_code_cell(stub), label, "stub"))
            if ex.answers:
                cells.append(_tagged(nbformat.v4.new_code_cell(_check_cell(ex)), label, "check"))
                if planted:
                    cells.append(_tagged(nbformat.v4.new_code_cell(_planted_cell(ex)), label, "planted"))
            if sol["text"] or not ex.answers:
                cells.append(_tagged(nbformat.v4.new_markdown_cell(WRITTEN if ex.answers else WRITTEN_ONLY),
                                     label, "written"))
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def native_chapters(native: Path = NATIVE, *, root: Path = ROOT) -> list[Path]:
    """The chapters of the Jupyter-native edition (``make notebooks``), in _toc.yml's order."""
    paths = [native / p.name for p in chapters(root)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"the Jupyter-native edition is not built ({native}: no {missing[0]}); "
                                "run `make notebooks` first")
    return paths


def write_student_notebooks(out: Path, *, root: Path = ROOT, native: Path = NATIVE) -> list[Path]:
    """Write the student edition of every chapter into ``out``, made from the Jupyter-native
    edition in ``native``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in native_chapters(native, root=root):
        target = out / path.name
        nbformat.write(student_notebook(path), target)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student", help="output folder")
    parser.add_argument("--native", type=Path, default=NATIVE, help="the Jupyter-native edition")
    args = parser.parse_args(argv)
    paths = write_student_notebooks(args.out, native=args.native)
    print(f"{len(paths)} student notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
