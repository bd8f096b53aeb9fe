"""The book as one PDF (run after `make pdf`; `make test-pdf` does both).

Reads the PDF's text with poppler's pdftotext and requires: a sane page count, every chapter's
title (each page of _toc.yml, by its first heading), no unresolved reference ("??"), no widget
or display-object repr in place of a figure, every exercise with its solution (the PDF is the
instructor's edition), at least as many images as the chapters have figures, and the
bibliography with every entry of book/references.bib. One site test checks that the built site
links the PDF and serves it.

The PDF is _build/<latex_documents.targetname>.pdf (REGLAB_PDF overrides the path). Without it
the tests fail and say to run `make pdf`; the site test skips, unless REGLAB_REQUIRE_PDF=1
(set by .ci/run), which makes a missing PDF an error there too.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [TOC["root"]] + [e["file"] for part in TOC["parts"] for e in part["chapters"]]
PDF_NAME = Path(CONFIG["latex"]["latex_documents"]["targetname"]).with_suffix(".pdf").name
PDF = Path(os.environ.get("REGLAB_PDF", ROOT / "_build" / PDF_NAME))
SITE = Path(os.environ.get("REGLAB_SITE_DIR", ROOT / "_build" / "html"))
REQUIRE_PDF = os.environ.get("REGLAB_REQUIRE_PDF") == "1"
MIN_PAGES, MAX_PAGES = 150, 1000  # 20 pages of text, figures and code per chapter, roughly

pytestmark = pytest.mark.pdf


def _poppler(tool: str, *args: str) -> str:
    if not PDF.is_file():
        pytest.fail(f"no PDF at {PDF}: build it with `make pdf`")
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: install Debian's poppler-utils")
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True).stdout


def _normalize(text: str) -> str:
    """One line, single spaces, straight quotes, no soft hyphens or ligatures."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate({0x2019: "'", 0x2018: "'", 0x201C: '"', 0x201D: '"', 0xAD: None})
    return " ".join(text.split())


@functools.lru_cache(maxsize=None)
def pdf_text() -> str:
    return _normalize(_poppler("pdftotext", "-enc", "UTF-8", str(PDF), "-"))


def _title(entry: str) -> str:
    """The first level-1 heading of a page of _toc.yml (notebook or Markdown)."""
    path = ROOT / f"{entry}.ipynb"
    if path.exists():
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = (ROOT / f"{entry}.md").read_text()
    match = re.search(r"^# (.+)$", text, re.M)
    assert match, f"{entry} has no level-1 heading"
    # Markdown markup does not reach the PDF's text: `code`, *emphasis*, {role}`x`.
    title = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", match.group(1))
    return _normalize(re.sub(r"[`*_]", "", title))


def _notebook_cells():
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or path.relative_to(ROOT).with_suffix("").as_posix() not in TOC_FILES:
            continue
        for cell in json.loads(path.read_text())["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if "remove-cell" not in tags:
                yield cell, tags


def test_page_count_is_sane():
    info = _poppler("pdfinfo", str(PDF))
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert MIN_PAGES <= pages <= MAX_PAGES, f"{PDF.name} has {pages} pages"


def test_title_and_author_from_the_configuration():
    info = _poppler("pdfinfo", str(PDF))
    assert re.search(rf"^Title:\s+{re.escape(CONFIG['title'])}\s*$", info, re.M), info
    assert re.search(rf"^Author:\s+{re.escape(CONFIG['author'])}\s*$", info, re.M), info


@pytest.mark.parametrize("entry", TOC_FILES)
def test_every_chapter_is_in_the_pdf(entry):
    title = _title(entry)
    # The root page opens the book under the book's own title (the title page).
    wanted = CONFIG["title"] if entry == TOC["root"] and title not in pdf_text() else title
    assert wanted in pdf_text(), f"{entry}: title {wanted!r} not in {PDF.name}"


def test_no_unresolved_references():
    text = pdf_text()
    at = text.find("??")
    assert at < 0, f"unresolved reference in {PDF.name}: ...{text[max(0, at - 80):at + 20]}..."


@pytest.mark.parametrize(
    "repr_text",
    ["interactive(children", "<IPython.core.display", "<Figure size", "<matplotlib.", "Output()"],
)
def test_no_widget_or_object_repr(repr_text):
    text = pdf_text()
    at = text.find(repr_text)
    assert at < 0, f"{repr_text!r} printed in {PDF.name}: ...{text[max(0, at - 80):at + 80]}..."


def test_every_exercise_with_its_solution():
    exercises = sum(
        len(re.findall(r"^(?::::+|```+)\{exercise\}", "".join(c["source"]), re.M))
        for c, _ in _notebook_cells()
        if c["cell_type"] == "markdown"
    )
    assert exercises, "no exercises found in the notebooks"
    text = pdf_text()
    # numbered as on the site: chapter.exercise ("Exercise 2.3", not "2.7.3")
    solutions = len(re.findall(r"Solution to Exercise \d+\.\d+(?![.\d])", text))
    assert solutions == exercises, f"{exercises} exercises in the notebooks, {solutions} solutions in the PDF"


def test_figures_are_in_the_pdf():
    figures = sum(
        1
        for c, tags in _notebook_cells()
        if "remove-output" not in tags
        for out in c.get("outputs", [])
        if "image/png" in out.get("data", {})
    )
    listing = _poppler("pdfimages", "-list", str(PDF)).splitlines()[2:]
    images = sum(1 for line in listing if line.split()[2:3] == ["image"])
    assert images >= figures, f"{figures} figures in the notebooks, {images} images in {PDF.name}"


def test_equations_are_numbered():
    assert re.search(r"\(1\.1\)", pdf_text()), "no equation number (1.1) in the PDF"


def test_bibliography_lists_every_reference():
    import codecs

    import latexcodec  # noqa: F401  (registers the "ulatex" codec; a dependency of pybtex)
    from pybtex.database import parse_file

    text = pdf_text()
    # The bibliography is the last chapter-style heading before the indices (fncychap sets
    # headings in capitals; running heads are not).
    start = text.rfind("BIBLIOGRAPHY")
    assert start >= 0, "no bibliography in the PDF"
    end = text.find("Python Module Index", start)
    bibliography = text[start:end if end > 0 else None]
    missing = []
    for key, entry in parse_file(str(ROOT / "book" / "references.bib")).entries.items():
        year = entry.fields.get("year", "")
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        surname = codecs.decode(" ".join(people[0].last_names), "ulatex") if people else ""
        surname = _normalize(re.sub(r"[{}]", "", surname))
        if f" {year}" not in bibliography or surname not in bibliography:
            missing.append(f"{key} ({surname} {year})")
    assert not missing, f"not in the PDF's bibliography: {missing}"


@pytest.mark.site
def test_site_links_the_pdf():
    if not PDF.is_file():
        message = f"no PDF at {PDF}: run `make pdf` before `make book` for the site to link it"
        if REQUIRE_PDF:
            pytest.fail(message)
        pytest.skip(message)
    copy = SITE / PDF_NAME
    assert copy.is_file() and copy.stat().st_size == PDF.stat().st_size, f"{copy} is not a copy of {PDF}"
    root_page = (SITE / f"{TOC['root']}.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]*' + re.escape(PDF_NAME) + r')"', root_page)
    assert hrefs, f"{TOC['root']}.html does not link {PDF_NAME}"
    for href in hrefs:
        assert (SITE / TOC["root"]).parent.joinpath(href).resolve() == copy.resolve(), href
