"""Invariants of the book's notebooks, table of contents and configuration.

These are quick static checks; nbval (`make test-notebooks`) re-executes the notebooks.
"""
import ast
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
from tools.new_chapter import install_cell_source, repository

TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [TOC["root"]] + [entry["file"] for part in TOC["parts"] for entry in part["chapters"]]
NOTEBOOKS = sorted(
    p for p in (ROOT / "book").rglob("*.ipynb") if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
)
CHAPTERS = [p for p in NOTEBOOKS if p.parent == ROOT / "book"]


def _load(path):
    return json.loads(path.read_text())


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def _source(cell):
    return "".join(cell["source"])


def test_every_toc_entry_exists():
    for entry in TOC_FILES:
        matches = [ROOT / f"{entry}{ext}" for ext in (".ipynb", ".md")]
        assert any(m.exists() for m in matches), f"{entry} is in _toc.yml but has no .ipynb or .md file"


def test_every_notebook_is_in_the_toc():
    listed = set(TOC_FILES)
    for nb in NOTEBOOKS:
        assert nb.relative_to(ROOT).with_suffix("").as_posix() in listed, f"{nb} is not in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_the_install_cell_for_the_configured_repository(path):
    first = _code_cells(_load(path))[0]
    assert _source(first) == install_cell_source(), (
        f"{path.name}: the first code cell must be tools/new_chapter.py's install cell for "
        f"{repository()} (re-create it after changing _config.yml)"
    )
    assert first["outputs"] == [], "the install cell must print nothing where reglab is installed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executed_once_top_to_bottom_without_errors(path):
    cells = _code_cells(_load(path))
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: run `make outputs NB={path.relative_to(ROOT)}`"
    for cell in cells:
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: stored error output"
            assert out.get("name") != "stderr", f"{path.name}: stored stderr output: {''.join(out.get('text', ''))[:200]}"
            assert "image/svg+xml" not in out.get("data", {}), f"{path.name}: SVG figure (nbval would compare it)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ignored_outputs_are_tagged_and_say_why(path):
    """An ignored output is marked with the cell tag, never a comment the reader must read past,
    and its reason is in the cell's metadata (``nbval_ignore_reason``): tools/tidy_notebooks.py
    turns marker comments into tags.
    """
    for cell in _code_cells(_load(path)):
        source = _source(cell)
        assert "NBVAL_SKIP" not in source, f"{path.name}: NBVAL_SKIP hides a cell from the tests"
        assert "NBVAL_IGNORE_OUTPUT" not in source, (
            f"{path.name}: an nbval marker comment; run tools/tidy_notebooks.py to make it a tag"
        )
        metadata = cell.get("metadata", {})
        if "nbval-ignore-output" in metadata.get("tags", []):
            reason = metadata.get("nbval_ignore_reason", "")
            assert len(reason.split()) >= 4, (
                f"{path.name}: a cell tagged nbval-ignore-output must say why in its metadata (nbval_ignore_reason)"
            )


def test_notebook_code_is_formatted_for_the_page():
    # ruff at 79 columns, and no marker comments (tools/tidy_notebooks.py --check).
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "tools" / "tidy_notebooks.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"run `python tools/tidy_notebooks.py`:\n{result.stdout}{result.stderr}"


def test_nbval_runs_in_strict_mode():
    makefile = (ROOT / "Makefile").read_text()
    assert "--nbval " in makefile and "--nbval-lax" not in makefile


def test_site_uses_stored_outputs():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["sphinx"]["recursive_update"] is True
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]


def test_lecture_coverage_page_maps_every_registered_result():
    from reglab.derivations import ledger

    page = (ROOT / "book" / "appendix" / "lecture_coverage.md").read_text()
    missing = [r.id for r in ledger() if not re.search(rf"\b{re.escape(r.id)}\b", page)]
    assert not missing, f"results not mapped to any lecture part on the coverage page: {missing}"
    for chapter in [p.stem for p in CHAPTERS]:
        assert f"../{chapter}" in page, f"chapter {chapter} is not on the lecture coverage page"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_alt_text(path):
    for cell in _code_cells(_load(path)):
        if not any("image/png" in out.get("data", {}) for out in cell["outputs"]):
            continue
        meta = cell.get("metadata", {}).get("mystnb", {})
        caption = meta.get("figure", {}).get("caption", "")
        alt = meta.get("image", {}).get("alt", "")
        first = _source(cell).splitlines()[0][:60]
        assert caption.strip() and alt.strip(), f"{path.name}: figure cell '{first}' needs mystnb figure caption and image alt"


def test_binder_takes_the_cpu_wheel_and_the_same_pins():
    # Binder reads binder/ instead of the root: its requirements must take the pins from
    # requirements.txt (one place) and PyTorch from the CPU-only index, and its runtime agree.
    binder = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    lines = [line.strip() for line in binder if line.strip() and not line.startswith("#")]
    assert "-r ../requirements.txt" in lines, "binder/requirements.txt must include ../requirements.txt"
    assert not [line for line in lines if "==" in line], "pins belong in requirements.txt only"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert (ROOT / "binder" / "runtime.txt").read_text() == (ROOT / "runtime.txt").read_text()
    pins = (ROOT / "requirements.txt").read_text()
    assert "torch==" in pins
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "binder/requirements.txt" in workflow, "the Pages workflow installs what Binder installs"
    assert "setup-node" not in workflow and "npm" not in workflow, "the site needs no npm"


def _defined_functions(nb) -> set[str]:
    names = set()
    for cell in _code_cells(nb):
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:  # IPython magics: none of ours define functions
            continue
        names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return names


def test_no_chapter_defines_a_helper_another_chapter_defines_too():
    """Page plumbing lives in reglab.book; a chapter's own explorer (explore) aside."""
    seen: dict[str, str] = {}
    clashes = []
    for path in CHAPTERS:
        for name in sorted(_defined_functions(_load(path)) - {"explore"}):
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {path.name}")
            seen.setdefault(name, path.name)
    assert not clashes, clashes


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_the_build_stack(path):
    """No chapter imports MyST-NB or Sphinx: it runs where only reglab is installed (Colab)."""
    for cell in _code_cells(_load(path)):
        src = "".join(cell["source"])
        assert not re.search(r"^\s*(from|import)\s+(myst_nb|sphinx|jupyter_book)\b", src, re.M), (
            f"{path.name} imports the book's build stack:\n{src[:300]}"
        )


def test_binder_opens_the_jupyter_native_edition():
    """Binder's image replaces the MyST chapters by the Jupyter-native edition (no raw MyST)."""
    post = (ROOT / "binder" / "postBuild").read_text()
    lines = [line for line in post.splitlines() if line and not line.startswith("#")]
    assert "python -m tools.make_notebooks --out _build/jupyter" in lines
    assert "cp _build/jupyter/*.ipynb book/" in lines
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_teaching_cells_do_not_glue(path):
    """Copying numbers into the prose is folded out of sight (BOOK_SPEC 13): a visible code cell
    teaches; its glue calls live in a folded cell after it (`python -m tools.fold_glue`)."""
    from tools.fold_glue import visible_glue_cells

    assert visible_glue_cells(path) == [], f"{path.name}: run `python -m tools.fold_glue`, then `make outputs`"


def test_glue_folding_keeps_what_the_cell_computes():
    from tools.fold_glue import split_glue

    teaching, glue = split_glue("x = 2\nfor i in range(3):\n    glue(f'x{i}', x * i)\nprint(x)")
    assert (teaching, glue) == ("x = 2\nprint(x)", "for i in range(3):\n    glue(f'x{i}', x * i)")
    assert split_glue("x = 2\nglue('x', x)\nx = 3") is None  # it would glue 3
    assert split_glue("for i in range(2):\n    glue('i', i)\nprint(i)") is None  # i would differ
    assert split_glue("glue('x', 1)\nfig") is None  # fig would be displayed
    assert split_glue("for i in range(2):\n    print(i)\n    glue('i', i)") is None  # mixed loop


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_cells_printed_text_is_one_output_box(path):
    """Glue outputs wait for the end of their cell (reglab.book): nothing splits what a cell
    prints into several boxes (BOOK_SPEC 13)."""
    split = []
    for i, cell in enumerate(_code_cells(_load(path))):
        kinds = [o.get("name") if o["output_type"] == "stream" else None for o in cell["outputs"]]
        runs = [k for j, k in enumerate(kinds) if k and (j == 0 or kinds[j - 1] != k)]
        if len(runs) != len(set(runs)):
            split.append(f"code cell {i + 1}: {kinds}")
    assert not split, f"{path.name}: printed text split by other outputs: {split}"
