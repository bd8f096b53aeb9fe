"""`make nbgrader`: the student kit as an nbgrader course, graded by nbgrader itself.

The fast tests look at the course notebooks (tools/make_nbgrader.py): every chapter cell locked,
an answer cell with a solution region and a graded check worth the exercise's points for every
exercise with a check, the written answers graded by hand, the points of every exercise set.

The tests marked ``nbgrader`` (``make test-nbgrader``) run nbgrader, installed in an environment
of its own (``_build/nbgrader-env``: nbgrader pins JupyterLab and Notebook, which the book's
environment does not hold), on one copy of the course per chapter: ``generate_assignment``, then
``autograde`` of one submission (nbgrader's API, in one process per chapter), executed in the
Colab-like kernel (``REGLAB_KERNEL``). The three submissions of BOOK_SPEC 12 take turns over the
chapters, in book order:

* ``reference``: every answer right (the source notebook's solutions), each answer cell also
  asserting that its check rejects a deliberately wrong answer (:func:`reglab.planted_answer`)
  while the right one stays: full marks;
* ``partial``: the graded exercises in turn answered right, answered wrong (the solution, then a
  planted wrong answer in its place) and left untouched: the right ones' points only;
* ``untouched``: the release as it was handed out: no autograded marks, and every written answer
  0 by itself.

There is no error but the failed assertions of the checks that score 0. Each chapter is executed
once, and each submission is graded in four or five chapters. Every exercise's reference answer
and planted errors are also judged, without the notebook around them, by
``tests/test_exercises.py``; ``make test-student`` runs every reference answer in its chapter.

The execution also stands for one of the other CPU code paths of BOOK_SPEC 9: chapters in even
places of the book run on the AVX2 path, the others on the baseline path, and every chapter
cell's outputs are held against the book's stored outputs as nbval holds them
(:mod:`tools.stored_outputs`). ``make test-notebooks`` runs nbval on this machine's own path;
``make reproducibility`` runs the full matrix (both paths for every notebook) with nbval.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from reglab import exercise, exercises

from tools import make_nbgrader, make_student, stored_outputs
from tools.heaviest_first import heaviest_first

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "_build" / "jupyter"  # make notebooks
COURSE = ROOT / "_build" / "nbgrader"  # make nbgrader
NBGRADER_ENV = Path(os.environ.get("REGLAB_NBGRADER_ENV", ROOT / "_build" / "nbgrader-env"))
KERNEL = os.environ.get("REGLAB_KERNEL", "python3")
CHAPTERS = make_student.chapters()
STUDENT = "student"
# The CPU code paths (BOOK_SPEC 9; the Makefile's repro-avx2 and repro-baseline use the same
# settings with nbval): a chapter's submission runs on the first in even places of the book.
CPU_PATHS = {
    "AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "baseline": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
}
# The submissions, one per chapter in turn, and how the partial one answers its k-th exercise.
SUBMISSIONS = ("reference", "partial", "untouched")
STATES = ("right", "wrong", "untouched")


def _graded(chapter: str) -> list[str]:
    return [e.label for e in exercises() if e.chapter == chapter and e.answers]


def _place(chapter: str) -> int:
    return [p.stem for p in CHAPTERS].index(chapter)


def _submission(chapter: str) -> str:
    return SUBMISSIONS[_place(chapter) % len(SUBMISSIONS)]


def _states(chapter: str) -> dict[str, str]:
    """How the chapter's submission answers each of its exercises: the partial one answers its
    graded exercises in turn right, wrong and untouched, and those answered in words only."""
    kind = _submission(chapter)
    graded = _graded(chapter)
    partial = {label: STATES[k % len(STATES)] for k, label in enumerate(graded)}
    return {
        e.label: {"reference": "right", "untouched": "untouched"}.get(kind, partial.get(e.label, "right"))
        for e in exercises()
        if e.chapter == chapter
    }


def _cpu_path(chapter: str) -> str:
    return tuple(CPU_PATHS)[_place(chapter) % len(CPU_PATHS)]


def test_every_submission_and_cpu_path_is_graded_in_several_chapters():
    for kind in SUBMISSIONS:
        assert sum(_submission(p.stem) == kind for p in CHAPTERS) >= 4, kind
    partial = [
        {label: state for label, state in _states(p.stem).items() if label in _graded(p.stem)}
        for p in CHAPTERS
        if _submission(p.stem) == "partial"
    ]
    assert set().union(*(s.values() for s in partial)) == set(STATES), partial
    assert all("right" in s.values() and len(set(s.values())) > 1 for s in partial), partial
    for cpu_path in CPU_PATHS:
        assert sum(_cpu_path(p.stem) == cpu_path for p in CHAPTERS) >= 6, cpu_path


def test_every_exercise_has_its_points():
    labels = {e.label for e in exercises()}
    assert set(make_nbgrader.POINTS) == labels, "POINTS must list every exercise once"
    for label, (auto, written) in make_nbgrader.POINTS.items():
        assert isinstance(auto, int) and isinstance(written, int), label
        assert (auto > 0) == bool(exercise(label).answers), (
            f"{label}: a check is worth points, and only a check"
        )
        assert written > 0, f"{label}: every exercise has a written answer"
    with pytest.raises(ValueError, match="label must be an exercise"):
        make_nbgrader.points("ex-nowhere-1")


def _course(path: Path):
    if not (NATIVE / path.name).exists():
        pytest.skip("the Jupyter-native edition is not built (make notebooks)")
    return make_nbgrader.course_notebook(NATIVE / path.name)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_course_notebook_cells(path):
    nb = _course(path)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert all(c.metadata["nbgrader"]["schema_version"] == 3 for c in nb.cells)
    by_id = {c.metadata["nbgrader"]["grade_id"]: (k, c) for k, c in enumerate(nb.cells)}
    chapter_cells = [c for c in nb.cells if c.metadata.get("reglab", {}).get("role") in (None, "note")]
    assert all(
        c.metadata["nbgrader"]
        == {
            "schema_version": 3,
            "grade_id": c.metadata["nbgrader"]["grade_id"],
            "grade": False,
            "solution": False,
            "locked": True,
        }
        for c in chapter_cells
    )
    assert chapter_cells[0].source == nbformat.read(NATIVE / path.name, as_version=4).cells[0].source
    total = 0
    for label in make_student.solutions(nbformat.read(path, as_version=4)):
        ex, (auto, written) = exercise(label), make_nbgrader.POINTS[label]
        k, answer = by_id[f"{label}-answer"]
        assert answer.cell_type == "code" and answer.metadata["nbgrader"]["solution"]
        body = answer.source.split(make_nbgrader.BEGIN + "\n")
        assert len(body) == 2 and body[1].rstrip().endswith(make_nbgrader.END), label
        if ex.answers:
            assert body[0] == ex.stub(), f"{label}: the answer cell starts with the student notebook's stub"
            check = nb.cells[k + 1]
            assert check.metadata["nbgrader"] == {
                "schema_version": 3,
                "grade_id": f"{label}-check",
                "grade": True,
                "solution": False,
                "locked": True,
                "points": auto,
            }
            assert (
                "result = check_exercise(" in check.source
                and f'"{label}", ' in check.source
                and "assert result.passed, result.message" in check.source
            )
            total += auto
        else:
            assert f"{label}-check" not in by_id
        _, text = by_id[f"{label}-written"]
        meta = text.metadata["nbgrader"]
        assert (
            text.cell_type == "markdown" and meta["grade"] and meta["solution"] and meta["points"] == written
        )
        assert make_nbgrader.BEGIN in text.source, f"{label}: the model answer is the written cell's solution"
        assert "<details>" not in text.source and "<summary>" not in text.source, (
            f"{label}: the model answer is folded"
        )
    assert total == sum(make_nbgrader.POINTS[label][0] for label in _graded(path.stem))


# --- nbgrader itself --------------------------------------------------------------------------


# One nbgrader process per chapter (nbgrader takes seconds to start): it releases the chapter
# through nbgrader's own API (what `nbgrader generate_assignment` and `nbgrader autograde` run,
# with the course's nbgrader_config.py), waits while the test writes the submission, then
# autogrades it and reads its grades from the gradebook. Each step prints its result as JSON.
SESSION = """
import json, sys
from traitlets.config.loader import PyFileConfigLoader
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI

root, chapter, student, kernel, timeout = sys.argv[1:6]
config = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
config.CourseDirectory.root = root
config.Execute.kernel_name = kernel
config.Execute.timeout = int(timeout)
api = NbGraderAPI(config=config)
print(json.dumps(api.generate_assignment(chapter, force=True)), flush=True)
if sys.stdin.readline().strip() == "autograde":
    done = api.autograde(chapter, student, force=True)
    if done["success"]:
        with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
            nb = gb.find_submission_notebook(chapter, chapter, student)
            done["grades"] = {
                g.name: {"auto": g.auto_score, "max": g.max_score, "manual": g.needs_manual_grade}
                for g in nb.grades
            }
    print(json.dumps(done), flush=True)
"""
# A chapter's longest cell takes well under a minute here; the course's own 900 s is for
# instructors' slower servers. Once, the kernel stalled after an explorer cell until the timeout
# interrupted it (no error, 15 minutes lost): 300 s bounds what such a stall costs.
CELL_TIMEOUT = 300


def _session(root: Path, chapter: str, cpu_path: dict) -> tuple[subprocess.Popen, Path]:
    """The chapter's nbgrader process, its kernels on ``cpu_path``; and the file of its log."""
    env = {
        **os.environ,
        **cpu_path,
        "PATH": f"{NBGRADER_ENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "MKL_NUM_THREADS": "1",
    }
    env.pop("PYTHONPATH", None)
    log = root / "nbgrader.log"
    process = subprocess.Popen(
        [
            str(NBGRADER_ENV / "bin" / "python"),
            "-c",
            SESSION,
            str(root),
            chapter,
            STUDENT,
            KERNEL,
            str(CELL_TIMEOUT),
        ],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    return process, log


def _step(result: dict, log: Path, step: str) -> dict:
    """An nbgrader step's result, asserted to have succeeded without an error in its log."""
    assert result["success"], f"{step}: {result.get('error', '')[-3000:]}\n{log.read_text()[-3000:]}"
    assert "[ERROR]" not in result.get("log", ""), f"{step}: {result['log'][-3000:]}"
    assert "ERROR" not in log.read_text(), f"{step}: {log.read_text()[-3000:]}"
    return result


def _errors(nb) -> dict[str, list[str]]:
    """Per cell (its grade id) that raised: the exception's name."""
    return {
        c.metadata.get("nbgrader", {}).get("grade_id", "?"): [
            o.ename for o in c.outputs if o.output_type == "error"
        ]
        for c in nb.cells
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)
    }


# The longest chapters first, so that the two workers of `make test-nbgrader` finish together.
BY_COST = heaviest_first(CHAPTERS)


@pytest.mark.nbgrader
@pytest.mark.parametrize("path", BY_COST, ids=[p.stem for p in BY_COST])
def test_nbgrader_grades_one_submission_per_chapter(path):
    chapter = path.stem
    if not (NBGRADER_ENV / "bin" / "nbgrader").exists():
        pytest.fail(f"no nbgrader in {NBGRADER_ENV}: run `make test-nbgrader`, which installs it")
    source = COURSE / "source" / chapter / path.name
    if not source.exists():
        pytest.fail(f"{source} is not there: run `make nbgrader`")
    root = ROOT / "_build" / "nbgrader-test" / chapter  # one course per chapter: chapters run in parallel
    shutil.rmtree(root, ignore_errors=True)
    (root / "source" / chapter).mkdir(parents=True)
    shutil.copy(COURSE / "nbgrader_config.py", root)
    shutil.copy(source, root / "source" / chapter)

    cpu_path = _cpu_path(chapter)
    kind, states = _submission(chapter), _states(chapter)
    process, log = _session(root, chapter, CPU_PATHS[cpu_path])
    try:
        _step(json.loads(process.stdout.readline() or '{"success": false}'), log, "generate_assignment")
        release = root / "release" / chapter / path.name
        released = nbformat.read(release, as_version=4)
        assert make_nbgrader.BEGIN not in "".join(c.source for c in released.cells), (
            "a solution region was released"
        )
        # What the student hands in: the release, each exercise answered right, answered wrong
        # (the solution, then a planted error in its place) or left untouched.
        answered = {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(source, as_version=4).cells}
        for k, cell in enumerate(released.cells):
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            label = grade_id.removesuffix("-answer").removesuffix("-written")
            if label not in states or grade_id == f"{label}-check" or states[label] == "untouched":
                continue  # a chapter cell, a check, or an exercise left as released
            released.cells[k] = answered[grade_id]
            if grade_id != f"{label}-answer" or not exercise(label).answers:
                continue  # a written answer, or the code of an exercise answered in words only
            if states[label] == "right":
                released.cells[k].source += make_nbgrader.rejected_source(exercise(label))
            else:
                released.cells[k].source += make_nbgrader.planted_source(exercise(label))
        folder = root / "submitted" / STUDENT / chapter
        folder.mkdir(parents=True)
        nbformat.write(released, folder / path.name)

        start = time.perf_counter()
        out, _ = process.communicate("autograde\n", timeout=3600)
        seconds = time.perf_counter() - start
    finally:
        process.kill()
    assert process.returncode == 0, log.read_text()[-3000:]
    grades = _step(json.loads(out.splitlines()[-1]), log, "autograde")["grades"]

    checks = {f"{label}-check": make_nbgrader.POINTS[label][0] for label in _graded(chapter)}
    expected = {
        name: points * (states[name.removesuffix("-check")] == "right") for name, points in checks.items()
    }
    auto = {name: g["auto"] for name, g in grades.items() if name in checks}
    assert auto == expected, f"{chapter}: autograded marks {auto}, expected {expected} ({states})"
    assert all(g["max"] == checks[name] for name, g in grades.items() if name in checks)
    written = {name: g for name, g in grades.items() if name.endswith("-written")}
    assert set(written) == {f"{e.label}-written" for e in exercises() if e.chapter == chapter}
    for name, g in written.items():  # by hand; an answer left as released scores 0 by itself
        untouched = states[name.removesuffix("-written")] == "untouched"
        assert (g["manual"], g["auto"]) == ((False, 0.0) if untouched else (True, None)), name

    # No error but the failed assertions of the checks that score 0. And every chapter cell
    # printed what the book stores, on the submission's CPU code path.
    done = nbformat.read(root / "autograded" / STUDENT / chapter / path.name, as_version=4)
    errors = _errors(done)
    assert set(errors) == {k for k, v in expected.items() if v == 0}, f"{chapter}: errors in {errors}"
    assert all(v == ["AssertionError"] for v in errors.values()), f"{chapter}: {errors}"
    same = stored_outputs.compare(done, nbformat.read(path, as_version=4))
    assert not same.differing, f"{chapter} on the {cpu_path} path: {same}\n" + "\n".join(same.differing)
    book_cells = sum(
        c.cell_type == "code" and not c.metadata.get("reglab", {}).get("solution")
        for c in nbformat.read(NATIVE / path.name, as_version=4).cells
    )
    assert same.compared + same.ignored == book_cells, f"{chapter}: {same} of {book_cells}"
    if kind == "reference":
        assert sum(auto.values()) == sum(checks.values()), f"{chapter}: not full marks"
    elif kind == "untouched":
        assert sum(auto.values()) == 0, f"{chapter}: marks for the untouched release"
    else:
        assert 0 < sum(auto.values()) < sum(checks.values()), f"{chapter}: not partial marks"
    print(
        f"{chapter}: {kind} submission autograded {sum(auto.values()):g}/{sum(checks.values())} "
        f"({', '.join(f'{label} {state}' for label, state in states.items())}); stored outputs "
        f"reproduced in {same.compared} cells on the {cpu_path} path; autograde {seconds:.0f} s "
        f"(kernel {KERNEL})"
    )
