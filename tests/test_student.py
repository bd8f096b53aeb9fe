"""`make student`: student notebooks without solutions, whose self-checks tell right from wrong.

The fast tests build the student notebooks and look at them: one per chapter, no solution text or
code left, a stub and a check for every exercise with an answer. The tests marked ``student``
execute each chapter's student notebook once, with the chapter's own solution code in place of
every stub, and after every self-check a test-only cell that runs the same check on a
deliberately wrong answer (:func:`reglab.planted_answer`): the first must print "correct", the
second "not yet". They take minutes (every chapter runs once): ``pytest tests -m student``.
"""
from __future__ import annotations

import ast
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from reglab import exercise, exercises

from tools import make_student

ROOT = Path(__file__).resolve().parent.parent

CHAPTERS = make_student.chapters()
TIMEOUT = 900  # seconds per cell; a chapter runs 10-60 s on a quiet 2-core machine
NATIVE = ROOT / "_build" / "jupyter"  # make notebooks
STUDENT = ROOT / "_build" / "student"  # make student
# The kernel the student notebooks run in: `make test-student` names a Colab-like one (a venv
# with reglab and a kernel only); elsewhere the current environment's.
KERNEL = os.environ.get("REGLAB_KERNEL", "python3")


def _native(path: Path):
    built = NATIVE / path.name
    if not built.exists():
        pytest.fail(f"{built} is not there: run `make notebooks` (make test-student does)")
    return nbformat.read(built, as_version=4)


def _trivial(line: str) -> bool:
    s = line.strip()
    return len(s) < 12 or s.startswith(("import ", "from ", "```", ":::")) or not re.search(r"[A-Za-z]{3}", s)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    make_student.write_student_notebooks(out, native=NATIVE)
    return out


@pytest.mark.student
def test_one_student_notebook_per_chapter(written):
    assert sorted(p.name for p in written.glob("*.ipynb")) == sorted(p.name for p in CHAPTERS)
    assert CHAPTERS, "_toc.yml lists no chapter notebook"


def test_every_exercise_of_the_book_is_defined():
    labels = set()
    for path in CHAPTERS:
        labels |= set(make_student.solutions(nbformat.read(path, as_version=4)))
    missing = labels - {e.label for e in exercises()}
    assert not missing, f"exercises without a self-check definition in reglab: {sorted(missing)}"
    for label in labels:
        assert exercise(label).chapter == label[3:].rsplit("-", 1)[0]


def _around(nb) -> dict[str, tuple[list[str], list[str]]]:
    """Per exercise: the chapter's code cells before it and after it (solutions left out)."""
    items = list(make_student._walk(nb))

    def code(part):
        return [item.source for kind, item, _ in part if kind == "keep" and item.cell_type == "code"]

    return {label: (code(items[:i]), code(items[i:])) for i, (kind, _, label) in enumerate(items) if kind == "end"}


def _reads(source: str) -> set[str]:
    """The names a cell reads that it does not assign itself first (roughly: loads minus stores)."""
    tree = ast.parse(source)
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loads - make_student._assigned([source])


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_name_a_stub_reads_is_defined_by_the_chapter_before_it(path):
    # Fast: catches a renamed variable without running the chapter. The stub runs where the
    # solution was, so it may read only what the chapter defined before it.
    import builtins

    for label, (before, _) in _around(nbformat.read(path, as_version=4)).items():
        ex = exercise(label)
        if not ex.answers:
            continue
        missing = _reads(ex.stub()) - make_student._assigned(before) - set(dir(builtins))
        assert not missing, f"{label}: its stub reads {sorted(missing)}, which the chapter does not define before it"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_a_stub_replaces_no_name_the_chapter_still_needs(path):
    # A stub sets its inputs and answers. A name the chapter also uses may be set only where the
    # book's own solution sets it too, and no later cell of the chapter may read it.
    nb = nbformat.read(path, as_version=4)
    found = make_student.solutions(nb)
    for label, (before, after) in _around(nb).items():
        ex = exercise(label)
        stub_names = set(ex.input_names + ex.names)
        chapter_names = make_student._assigned(before + after)
        own = make_student._assigned(found[label]["code"])
        clobbered = sorted((stub_names & chapter_names) - own)
        assert not clobbered, f"{label}: its stub replaces the chapter's {clobbered}, which its solution leaves alone"
        read_later = set().union(set(), *(_reads(src) for src in after))
        assert not stub_names & read_later, f"{label}: later cells read {sorted(stub_names & read_later)}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_filled_edition_keeps_the_stub_above_the_solution(path):
    nb = make_student.student_notebook(NATIVE / path.name, fill=True) if (NATIVE / path.name).exists() else None
    if nb is None:
        pytest.skip("the Jupyter-native edition is not built (make notebooks)")
    for cell in nb.cells:
        tag = cell.metadata.get("reglab", {})
        if tag.get("role") == "stub" and exercise(tag["exercise"]).answers:
            ex = exercise(tag["exercise"])
            assert cell.source.startswith(ex.stub()), tag["exercise"]
            for v in (*ex.inputs, *ex.answers):
                if v.source:
                    assert cell.source.rstrip().endswith(f"{v.name} = {v.source}") or f"\n{v.name} = {v.source}\n" in cell.source


def _leaked(original, student) -> list[str]:
    """Lines of the original's solutions (beyond trivial ones, or ones the chapter has elsewhere) in student.

    An input the stub declares (``X8 = polynomial_features(data.x_train, 8)``) is given to the
    student, whether or not the solution has the same line: such lines do not count.
    """
    kept = [item.source for kind, item, _ in make_student._walk(original) if kind == "keep"]
    kept_lines = {line.strip() for src in kept for line in src.splitlines()}
    kept_lines |= {f"{i.name} = {i.value}" for ex in exercises() for i in ex.inputs}
    student_lines = {line.strip() for c in student.cells for line in c.source.splitlines()}
    return [f"{label}: {line.strip()!r}" for label, parts in make_student.solutions(original).items()
            for src in parts["text"] + parts["code"] for line in src.splitlines()
            if not _trivial(line) and line.strip() not in kept_lines and line.strip() in student_lines]


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_solution_leaks_into_the_student_notebook(path, written):
    original = _native(path)
    student = nbformat.read(written / path.name, as_version=4)
    assert not _leaked(original, student), f"{path.stem}: solution lines left in the student notebook"
    assert _leaked(original, original), "the leak test must find the solutions in the chapter itself"
    text = "\n".join(c.source for c in student.cells)
    assert "solution-start" not in text and "solution-end" not in text
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert student.cells[0].source == original.cells[0].source, "the first cell (it installs reglab) must stay"


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_exercise_has_a_stub_and_a_check(path, written):
    student = nbformat.read(written / path.name, as_version=4)
    roles: dict[str, list[str]] = {}
    for cell in student.cells:
        tag = cell.metadata.get("reglab", {})
        if tag.get("exercise"):
            roles.setdefault(tag["exercise"], []).append(tag["role"])
    for label in make_student.solutions(nbformat.read(path, as_version=4)):
        ex = exercise(label)
        assert "stub" in roles[label]
        assert ("check" in roles[label]) == bool(ex.answers), label
        if not ex.answers:
            assert "written" in roles[label], f"{label} is answered in words: it needs a written-answer cell"


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_self_checks_accept_the_solutions_and_reject_planted_errors(path, monkeypatch):
    import nbformat.v4.nbbase
    from nbclient import NotebookClient

    # Only the check cells' printed text matters here and the notebook is never saved: outputs
    # are not validated against the nbformat schema (a glued JSON record is not valid there).
    monkeypatch.setattr(nbformat.v4.nbbase, "validate", lambda *args, **kwargs: None)
    monkeypatch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    nb = make_student.student_notebook(NATIVE / path.name, fill=True, planted=True)
    start = time.perf_counter()
    workdir = ROOT / "_build" / "student-run"  # as in Colab: not beside the book's sources
    workdir.mkdir(parents=True, exist_ok=True)
    NotebookClient(nb, timeout=TIMEOUT, kernel_name=KERNEL,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    print(f"{path.stem}: executed in {time.perf_counter() - start:.0f} s (kernel {KERNEL})")
    checked = 0
    for cell in nb.cells:
        tag = cell.metadata.get("reglab", {})
        out = _stdout(cell)
        if tag.get("role") == "check":
            assert out.strip() == "correct", f"{tag['exercise']}: the solution gets {out.strip()!r}"
            checked += 1
        elif tag.get("role") == "planted":
            assert out.startswith("not yet:"), f"{tag['exercise']}: a planted error gets {out.strip()!r}"
    assert checked == sum(1 for e in exercises() if e.chapter == path.stem and e.answers)


@pytest.mark.site
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_page_links_both_notebooks_as_downloads_and_in_colab(path):
    import yaml

    from _ext.student_links import colab_url

    site = ROOT / "_build" / "html"
    page = site / "book" / f"{path.stem}.html"
    if not page.exists():
        pytest.skip("the site is not built (make book)")
    html = page.read_text()
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    for edition in ("jupyter", "student"):
        assert f'href="../_notebooks/{edition}/{path.stem}.ipynb" download' in html, edition
        notebook = nbformat.read(site / "_notebooks" / edition / path.name, as_version=4)
        assert notebook.metadata["reglab"]["edition"] == "jupyter"
        colab = colab_url(repo, edition, path.stem)
        assert colab and f'href="{colab}"' in html, edition
        assert colab.endswith(f"/blob/{repo['notebooks_branch']}/{edition}/{path.name}")


@pytest.mark.student
@pytest.mark.parametrize("edition", [NATIVE, STUDENT], ids=["jupyter", "student"])
def test_no_raw_myst_where_students_open_the_notebooks(edition):
    from tools.make_notebooks import myst_leftovers

    paths = sorted(edition.glob("*.ipynb"))
    assert sorted(p.name for p in paths) == sorted(p.name for p in CHAPTERS), f"build {edition} first"
    found = {p.name: {k: v for k, v in myst_leftovers(nbformat.read(p, as_version=4)).items() if v} for p in paths}
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_the_myst_scan_finds_raw_myst_in_the_sources():
    from tools.make_notebooks import myst_leftovers

    counts = myst_leftovers(nbformat.read(ROOT / "book" / "dropout.ipynb", as_version=4))
    assert counts["role"] > 10 and counts["directive fence"] > 0 and counts["equation label"] > 0
