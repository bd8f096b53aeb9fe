"""Write the student kit as an nbgrader course: what an instructor collects and grades.

    python -m tools.make_nbgrader [--out _build/nbgrader] [--native _build/jupyter]

The course is made from the same source as the student notebooks (``make student``): the
Jupyter-native edition and the exercises' definitions in :mod:`reglab.exercises`. It holds
``nbgrader_config.py`` and one assignment per chapter, ``source/<chapter>/<chapter>.ipynb``, whose
cells carry nbgrader's metadata (schema version 3):

* every cell of the chapter (its text, its install and set-up cells) is read-only (locked):
  autograde puts back the original of a locked cell a student has changed;
* each exercise's code cell is an answer cell: the student notebook's stub (the inputs the check
  reads, then every answer set to ``...``), followed by the book's solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``. ``nbgrader generate_assignment`` replaces that
  region by a one-line comment, so the released cell is the student notebook's stub;
* after it, a locked autograded test cell worth the exercise's points: it runs the exercise's
  own self-check (:func:`reglab.check_exercise`, the judge the student notebook uses) and asserts
  that it passed, with the check's verdict (the hint) as the failure message. An untouched stub
  is "not answered yet": the assertion fails and the cell scores 0, without any other error;
* where the book's solution explains in words, a manually graded answer cell holding the
  solution's text as the model answer (released as an empty answer for the student).

The points of every exercise are set in :data:`POINTS`, and nowhere else.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from tools import make_student

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "nbgrader"

# Points per exercise: (autograded check, manually graded written answer). An exercise answered
# in words only has no check (0). tests/test_nbgrader.py requires an entry for every exercise.
POINTS: dict[str, tuple[int, int]] = {
    "ex-regimes-1": (3, 1),
    "ex-regimes-2": (2, 1),
    "ex-regimes-3": (3, 1),
    "ex-weight_decay-1": (3, 1),
    "ex-weight_decay-2": (3, 1),
    "ex-weight_decay-3": (2, 1),
    "ex-l1_penalty-1": (2, 1),
    "ex-l1_penalty-2": (3, 1),
    "ex-l1_penalty-3": (3, 1),
    "ex-early_stopping-1": (3, 1),
    "ex-early_stopping-2": (2, 1),
    "ex-early_stopping-3": (2, 1),
    "ex-bagging-1": (2, 1),
    "ex-bagging-2": (4, 1),
    "ex-bagging-3": (2, 1),
    "ex-bagging-4": (3, 1),
    "ex-dropout-1": (2, 1),
    "ex-dropout-2": (3, 1),
    "ex-dropout-3": (2, 1),
    "ex-dropout-4": (2, 1),
    "ex-augmentation-1": (2, 1),
    "ex-augmentation-2": (2, 1),
    "ex-augmentation-3": (2, 1),
    "ex-weight_noise-1": (2, 1),
    "ex-weight_noise-2": (2, 1),
    "ex-weight_noise-3": (3, 1),
    "ex-label_smoothing-1": (2, 1),
    "ex-label_smoothing-2": (2, 1),
    "ex-label_smoothing-3": (2, 1),
    "ex-multitask-1": (3, 1),
    "ex-multitask-2": (2, 1),
    "ex-multitask-3": (2, 1),
    "ex-parameter_sharing-1": (2, 1),
    "ex-parameter_sharing-2": (3, 1),
    "ex-parameter_sharing-3": (0, 3),
    "ex-sparse_representations-1": (3, 1),
    "ex-sparse_representations-2": (2, 1),
    "ex-sparse_representations-3": (2, 1),
    "ex-sparse_representations-4": (2, 1),
    "ex-adversarial_training-1": (2, 1),
    "ex-adversarial_training-2": (3, 1),
    "ex-adversarial_training-3": (3, 1),
}

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = "# Write your code here, and assign each answer named above (in place of its ...)."
TEXT_STUB = "*Your answer here.*"

NOTE = (
    "> **Course edition.** This is the chapter as an assignment: the solutions of its exercises are "
    "removed and your answers are graded. Run the chapter from the top first: the exercises use its "
    "variables. Under each exercise, a code cell starting `# Your code here` declares the inputs your "
    "answer is judged on (each with its meaning and shape) and sets every part of the answer to `...`: "
    "write your code there and replace each `...` by your result. The cell after it is the graded "
    "check: it compares your answer with the library's own computation and prints `correct`, `not "
    "yet:` with a hint, or `not answered yet` (an assertion then fails: that is the grade saying "
    '"not yet", not a bug); it never shows the expected answer. Explanations go into the answer '
    "cells below the exercises. The text and the chapter's own code cells are read-only."
)

CONFIG = '''\
"""nbgrader's configuration for the course written by `make nbgrader` (tools/make_nbgrader.py).

Run nbgrader from this folder. Each chapter is an assignment named after it.
"""
c = get_config()  # noqa: F821 (nbgrader defines it)

# Your course's name on your JupyterHub (nbgrader's exchange files assignments under it).
c.CourseDirectory.course_id = "regularization-book"

# What a released notebook shows in place of a solution: the answer cell keeps the stub above
# the solution region (the inputs, and every answer set to `...`), so that Run All goes through
# an untouched notebook and its checks score 0 without any other error.
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}
c.ClearSolutions.text_stub = {text_stub!r}

# A chapter trains small networks: some cells take a minute on one core (nbgrader's default
# allows 30 s per cell).
c.Execute.timeout = 900

# nbclient (0.10, 0.11) can miss the kernel's reply to a cell that displays widgets, and then
# waits for it until the cell's timeout (jupyter/nbclient#312): a chapter's explorer cell could
# hold autograde for the 900 s above, with nothing wrong in the notebook. Asking for the reply in
# one-second slices finds it within a second; the timeout still counts the whole wait.
import jupyter_client.channels as _channels  # noqa: E402


async def _get_msg(self, timeout=None, _get_msg=_channels.AsyncZMQSocketChannel.get_msg):
    import time
    from queue import Empty

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return await _get_msg(self, 1.0 if left is None else min(1.0, left))
        except Empty:
            if left is not None and left <= 1.0:
                raise


_channels.AsyncZMQSocketChannel.get_msg = _get_msg

# The kernel comes from each notebook's metadata (Python 3). Where the kernel with reglab has
# another name, give it here or on the command line (--Execute.kernel_name=NAME):
# c.Execute.kernel_name = "python3"
'''


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"schema_version": 3, "grade_id": grade_id, "grade": grade, "solution": solution, "locked": locked}
    if grade:
        meta["points"] = points
    return meta


def test_source(ex, points: int) -> str:
    """The autograded test cell of exercise ``ex``: its own self-check, asserted."""
    args = ex.check_line().replace("\n    ", " ").removeprefix("check_exercise(").removesuffix(");")
    call = f"result = check_exercise({args})"
    if len(call) > 79:  # the notebooks' line length
        call = f"result = check_exercise(\n    {args}\n)"
    return (
        f"# Graded check ({points} points): your answer against the library's own computation.\n"
        f"from reglab import check_exercise\n\n{call}\nassert result.passed, result.message\n"
    )


def planted_source(ex) -> str:
    """Lines that replace the answers of ``ex`` by a deliberately wrong version (for the tests)."""
    answers = ", ".join(f"{n}={n}" for n in ex.names)
    return (
        "\n# Test only: a deliberately wrong answer in place of the right one.\n"
        "from reglab import planted_answer\n\n"
        f'globals().update(planted_answer("{ex.label}", {answers}))\n'
    )


def rejected_source(ex) -> str:
    """Lines asserting that the check of ``ex`` rejects a deliberately wrong version of the answer
    in the kernel (the right answer stays in place; for the tests)."""
    answers = ", ".join(f"{n}={n}" for n in ex.names)
    call = ex.check_line(f'**planted_answer("{ex.label}", {answers})').removesuffix(";")
    return (
        "\n# Test only: the check must reject a deliberately wrong answer (the right one stays).\n"
        "from reglab import check_exercise, planted_answer\n\n"
        f'assert not {call}.passed, "a planted error passed the check"\n'
    )


def _unfolded(text: str) -> str:
    """A solution's text without the folding of the Jupyter-native edition (``<details>``)."""
    folding = re.compile(r"^\s*(</?details>|<summary>.*</summary>)\s*$")
    return "\n".join(line for line in text.splitlines() if not folding.match(line)).strip("\n")


def course_notebook(path: Path) -> nbformat.NotebookNode:
    """The nbgrader source notebook of one chapter of the Jupyter-native edition."""
    native = nbformat.read(path, as_version=4)
    found = make_student.solutions(native)
    nb = make_student.student_notebook(path, fill=True)
    cells = []
    for i, cell in enumerate(nb.cells):
        tag = cell.metadata.get("reglab", {})
        role, label = tag.get("role"), tag.get("exercise")
        if role is None or role == "note":
            if role == "note":
                cell.source = NOTE
            cell.metadata["nbgrader"] = _meta(f"{path.stem}-{i}", locked=True)
            cells.append(cell)
            continue
        ex = make_student._definition(label)
        auto, written = points(label)
        if role == "stub":
            stub = make_student._stub(ex)
            if not cell.source.startswith(stub):
                stub = ""
            solution = cell.source[len(stub) :].strip("\n")
            cell.source = f"{stub}{BEGIN}\n{solution}\n{END}" if solution else f"{stub}{BEGIN}\n{END}"
            cell.metadata["nbgrader"] = _meta(f"{label}-answer", solution=True)
        elif role == "check":
            cell.source = test_source(ex, auto)
            cell.metadata["nbgrader"] = _meta(f"{label}-check", grade=True, locked=True, points=auto)
        elif role == "written":
            model = "\n\n".join(_unfolded(t) for t in found[label]["text"])
            cell.source = f"{cell.source}\n\n{BEGIN}\n\n{model}\n\n{END}"
            cell.metadata["nbgrader"] = _meta(f"{label}-written", grade=True, solution=True, points=written)
        else:
            raise ValueError(f"{path.name}: a cell of unknown role {role!r}")
        cells.append(cell)
    nb.cells = cells
    nb.metadata["reglab"] = {**nb.metadata.get("reglab", {}), "edition": "nbgrader"}
    return nb


def points(label: str) -> tuple[int, int]:
    """The (autograded, written) points of an exercise, from :data:`POINTS`."""
    if label not in POINTS:
        raise ValueError(
            f"label must be an exercise listed in tools/make_nbgrader.py's POINTS, but got {label!r}"
        )
    return POINTS[label]


def write_course(out: Path = OUT, *, native: Path = make_student.NATIVE) -> list[Path]:
    """Write the course into ``out``; return the source notebooks written."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG.format(code_stub=CODE_STUB, text_stub=TEXT_STUB))
    written = []
    for path in make_student.native_chapters(native):
        target = out / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(course_notebook(path), target)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="the course folder")
    parser.add_argument("--native", type=Path, default=make_student.NATIVE, help="the Jupyter-native edition")
    args = parser.parse_args(argv)
    paths = write_course(args.out, native=args.native)
    print(f"nbgrader course in {args.out}: {len(paths)} assignments (source/<chapter>/<chapter>.ipynb)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
