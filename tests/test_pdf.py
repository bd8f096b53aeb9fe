"""The book as one PDF (run after `make pdf`; `make test-pdf` does both).

Reads the PDF's text with poppler's pdftotext and requires: a sane page count, every chapter's
title (each page of _toc.yml, by its first heading), no unresolved reference ("??"), no widget
or display-object repr in place of a figure, every exercise with its solution (the PDF is the
instructor's edition), at least as many images as the chapters have figures, and the
bibliography with every entry of book/references.bib. One site test checks that the built site
links the PDF and serves it.

And, by count (each printed at the end under "PDF counts"): words beyond the page's edge and
words past the text block into the right margin (from the words' boxes, ``pdftotext
-bbox-layout``); result IDs of the registry (``reglab.derivations.ledger()``, derivations and
experiments) missing from the ledger's chapter and lecture slips (``errata()``) whose IDs are
missing from the errata's chapter; rows of the lecture coverage table missing; chapters with
nothing in them; bibliographies (one); citations in the text whose form is not a label of the
bibliography; explorers printed as slider code instead of their sentence.

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


@functools.cache
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
    match = re.search(r"^# (.+)$", text, re.MULTILINE)
    assert match, f"{entry} has no level-1 heading"
    # Markdown markup does not reach the PDF's text: `code`, *emphasis*, {role}`x`.
    title = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", match.group(1))
    return _normalize(re.sub(r"[`*_]", "", title))


def _notebook_cells():
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        if (
            ".ipynb_checkpoints" in path.parts
            or path.relative_to(ROOT).with_suffix("").as_posix() not in TOC_FILES
        ):
            continue
        for cell in json.loads(path.read_text())["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if "remove-cell" not in tags:
                yield cell, tags


def test_page_count_is_sane():
    info = _poppler("pdfinfo", str(PDF))
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    assert MIN_PAGES <= pages <= MAX_PAGES, f"{PDF.name} has {pages} pages"


def test_title_and_author_from_the_configuration():
    info = _poppler("pdfinfo", str(PDF))
    assert re.search(rf"^Title:\s+{re.escape(CONFIG['title'])}\s*$", info, re.MULTILINE), info
    assert re.search(rf"^Author:\s+{re.escape(CONFIG['author'])}\s*$", info, re.MULTILINE), info


@pytest.mark.parametrize("entry", TOC_FILES)
def test_every_chapter_is_in_the_pdf(entry):
    title = _title(entry)
    # The root page opens the book under the book's own title (the title page).
    wanted = CONFIG["title"] if entry == TOC["root"] and title not in pdf_text() else title
    assert wanted in pdf_text(), f"{entry}: title {wanted!r} not in {PDF.name}"


def test_no_unresolved_references():
    text = pdf_text()
    at = text.find("??")
    assert at < 0, f"unresolved reference in {PDF.name}: ...{text[max(0, at - 80) : at + 20]}..."


@pytest.mark.parametrize(
    "repr_text",
    ["interactive(children", "<IPython.core.display", "<Figure size", "<matplotlib.", "Output()"],
)
def test_no_widget_or_object_repr(repr_text):
    text = pdf_text()
    at = text.find(repr_text)
    assert at < 0, f"{repr_text!r} printed in {PDF.name}: ...{text[max(0, at - 80) : at + 80]}..."


def test_every_exercise_with_its_solution():
    exercises = sum(
        len(re.findall(r"^(?::::+|```+)\{exercise\}", "".join(c["source"]), re.MULTILINE))
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
    bibliography = text[start : end if end > 0 else None]
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


# ---- counted on the PDF ------------------------------------------------------------------------

COUNTS: dict[str, str] = {}
MARGIN_PT = 2.0  # a word may overhang the text block by this much (italic correction, kerning)


@functools.cache
def _words() -> tuple[tuple[int, float, float, float, str, float, float], ...]:
    """(page, xMin, xMax, page width, word, yMin, yMax) of every word (``pdftotext -bbox-layout``)."""
    html = _poppler("pdftotext", "-bbox-layout", str(PDF), "-")
    page_re = re.compile(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', re.DOTALL)
    word_re = re.compile(
        r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>'
    )
    out = []
    for number, (width, body) in enumerate(page_re.findall(html), 1):
        out += [
            (number, float(m[1]), float(m[3]), float(width), m[5], float(m[2]), float(m[4]))
            for m in word_re.finditer(body)
        ]
    return tuple(out)


def _right_edges() -> dict[int, float]:
    """The text block's right edge on odd and on even pages: where most lines end (justified
    text ends every full line there)."""
    from collections import Counter

    edges = {}
    for parity in (0, 1):
        ends = Counter(round(w[2]) for w in _words() if w[0] % 2 == parity and w[2] > w[3] / 2)
        edges[parity] = float(ends.most_common(1)[0][0])
    return edges


@functools.cache
def _chapters(layout: bool = False) -> tuple[tuple[str, str], ...]:
    """(TITLE, text) of every chapter in order, then of the bibliography and the indices.

    A chapter opens a page with "CHAPTER", its number in words and its title in capitals (the
    book's LaTeX style); the bibliography and the indices open a page with their title alone.
    With ``layout`` the text keeps the lines as laid out on the page (a table's rows).
    """
    raw = _poppler("pdftotext", "-enc", "UTF-8", str(PDF), "-").split("\f")
    pages = _poppler("pdftotext", "-layout", "-enc", "UTF-8", str(PDF), "-").split("\f") if layout else raw
    found: list[list] = []
    for page, text in zip(raw, pages):
        blocks = [b.strip() for b in page.strip().split("\n\n") if b.strip()]
        if len(blocks) >= 3 and blocks[0] == "CHAPTER":
            title, body = _normalize(blocks[2]), "\n\n".join(blocks[3:])
        elif blocks and blocks[0] in ("BIBLIOGRAPHY", "PYTHON MODULE INDEX", "INDEX"):
            title, body = blocks[0], "\n\n".join(blocks[1:])
        elif found:
            found[-1][1].append(text if layout else _normalize(text))
            continue
        else:
            continue
        found.append([title, [text if layout else _normalize(body)]])
    return tuple((title, ("\n" if layout else " ").join(texts)) for title, texts in found)


def _chapter(entry: str, layout: bool = False) -> str:
    """The PDF text of the chapter made from the page ``entry`` of _toc.yml."""
    title = _title(entry).upper()
    for name, text in _chapters(layout):
        if name == title:
            return text
    pytest.fail(f"no chapter {title!r} in {PDF.name}: its chapters are {[n for n, _ in _chapters()]}")


def test_no_word_beyond_the_page_edge():
    beyond = [(page, word) for page, x0, x1, width, word, *_ in _words() if x1 > width + 0.5 or x0 < -0.5]
    COUNTS["words beyond the page edge"] = f"{len(beyond)} (budget 0)"
    assert not beyond, f"words beyond the page edge (page, word): {beyond[:20]}"


def test_no_line_runs_into_the_margin():
    edges = _right_edges()
    into = [(page, word[:60]) for page, _, x1, _, word, *_ in _words() if x1 > edges[page % 2] + MARGIN_PT]
    COUNTS[f"words past the text block (right edge {edges[1]:.0f}/{edges[0]:.0f} pt) into the margin"] = (
        f"{len(into)} (budget 0)"
    )
    assert not into, f"{len(into)} words run into the right margin (page, word): {into[:20]}"


def test_no_line_runs_over_the_footer():
    """A table that does not break across pages prints its last rows over the footer and off the
    page. The footer is the lowest line of most pages; the text block ends where most pages'
    text ends above it. Words between the two, or below the footer, have run over."""
    from collections import Counter

    by_page: dict[int, list] = {}
    for page, _, _, _, word, y0, y1 in _words():
        by_page.setdefault(page, []).append((y0, y1, word))
    footer = Counter(round(max(ws)[0]) for ws in by_page.values()).most_common(1)[0][0]
    bottom = Counter(
        round(max(y1 for y0, y1, _ in ws if y0 < footer - 3))
        for ws in by_page.values()
        if any(y0 < footer - 3 for y0, _, _ in ws)
    ).most_common(1)[0][0]
    over = [
        (page, word[:40])
        for page, ws in sorted(by_page.items())
        for y0, y1, word in ws
        if (y1 > bottom + 6 and y0 < footer - 3) or y0 > footer + 12
    ]
    COUNTS[f"words run over the footer (text ends at {bottom} pt, footer at {footer} pt)"] = (
        f"{len(over)} (budget 0)"
    )
    assert not over, f"{len(over)} words run below the text block (page, word): {over[:20]}"


def _occurrences(result_id: str, text: str) -> int:
    return len(re.findall(rf"(?<![\w-]){re.escape(result_id)}(?![\w-]|\.\d)", text))


def test_every_ledger_and_errata_id_is_in_its_chapter():
    import reglab  # noqa: F401  (imports every chapter's derivations and experiments: they register)
    from reglab.derivations import ledger
    from reglab.derivations.registry import errata

    ids = [r.id for r in ledger()]
    slips = [r.id for r, _ in errata()]
    assert len(ids) > 10 and slips, "the registry holds no results or no lecture slips"
    ledger_text, errata_text = _chapter("book/appendix/ledger"), _chapter("book/appendix/errata")
    missing = [f"{i} (ledger)" for i in ids if not _occurrences(i, ledger_text)]
    missing += [f"{i} (errata)" for i in dict.fromkeys(slips) if not _occurrences(i, errata_text)]
    COUNTS["ledger and errata IDs missing from their PDF chapters"] = (
        f"{len(missing)} of {len(ids)} results and {len(set(slips))} slip IDs (budget 0)"
    )
    assert not missing, f"missing from the PDF: {missing}"


def test_every_lecture_coverage_row_is_in_the_pdf():
    page = (ROOT / "book" / "appendix" / "lecture_coverage.md").read_text()
    rows = re.findall(r"^\| *(\d+) *\| *([^|]+?) *\|", page, re.MULTILINE)
    assert len(rows) > 5, "no rows in the lecture coverage table"
    text = _chapter("book/appendix/lecture_coverage", layout=True)
    missing = []
    for number, part in rows:
        first = re.sub(r"\W", "", part.split()[0])
        # the row as laid out: its number first on a line, the first word of its part beside it
        if not re.search(rf"^\s*{number}\s+{re.escape(first)}", text, re.MULTILINE):
            missing.append(f"row {number} ({part})")
    COUNTS["lecture coverage rows missing from the PDF"] = f"{len(missing)} of {len(rows)} (budget 0)"
    assert not missing, f"coverage rows missing from the PDF: {missing}"


def test_no_empty_chapter():
    running_heads = re.escape(CONFIG["title"])
    empty = [
        title
        for title, text in _chapters()
        if len(re.sub(rf"\b\d+\b|{running_heads}|{re.escape(title)}", " ", text, flags=re.IGNORECASE).split())
        < 5
    ]
    COUNTS["empty chapters"] = f"{len(empty)} (budget 0)"
    assert not empty, f"chapters with nothing in them: {empty}"


def test_one_bibliography():
    titles = [title for title, _ in _chapters() if "BIBLIOGRAPHY" in title]
    COUNTS["bibliographies"] = f"{len(titles)} (budget 1)"
    assert len(titles) == 1, f"{len(titles)} chapters titled Bibliography: {titles}"


def test_citations_in_the_text_are_labels_of_the_bibliography():
    chapters = _chapters(layout=True)
    bibliography = "\n".join(text for title, text in chapters if title == "BIBLIOGRAPHY")
    labels = set(re.findall(r"^\s*\[([^\]\n]+)\]", bibliography, re.MULTILINE))
    assert len(labels) > 10, f"no labelled entries in the bibliography: {sorted(labels)[:5]}"
    body = _normalize(" ".join(text for title, text in chapters if title != "BIBLIOGRAPHY"))
    # A parenthetical citation: brackets holding one or more author-year items, or the labels
    # of another style ([HSK+12]). A textual one ("Hinton et al. [2012]") brackets a year only.
    cited = []
    author_year = re.compile(r"[^\W\d][^\[\];]*, \d{4}[a-z]?")
    alpha = re.compile(r"[A-Z][A-Za-z+]{0,6}\d{2}[a-z]?")
    for group in re.findall(r"\[([^\[\]]{2,300})\]", body):
        group = re.sub(r"(?<=[a-z])- (?=[a-z])", "", group)  # a name hyphenated at a line's end
        items = [item.strip() for item in group.split(";")]
        if all(author_year.fullmatch(i) or alpha.fullmatch(i) for i in items):
            cited += items
    assert cited, "no parenthetical citation found in the PDF's text"
    unknown = sorted({c for c in cited if c not in labels})
    COUNTS["citations whose form is not a bibliography label"] = (
        f"{len(unknown)} of {len(set(cited))} (budget 0)"
    )
    assert not unknown, (
        f"cited in the text, but no such label in the bibliography: {unknown[:10]}; labels: {sorted(labels)[:5]}"
    )


def test_explorers_are_their_sentence_not_slider_code():
    import importlib.util

    spec = importlib.util.spec_from_file_location("reglab_pdf", ROOT / "_ext" / "reglab_pdf.py")
    reglab_pdf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reglab_pdf)
    explorers = [c for c, tags in _notebook_cells() if reglab_pdf.EXPLORER_TAG in tags]
    widget = "application/vnd.jupyter.widget-view+json"
    untagged = [
        "".join(c["source"])[:60]
        for c, tags in _notebook_cells()
        if reglab_pdf.EXPLORER_TAG not in tags
        and any(widget in o.get("data", {}) for o in c.get("outputs", []))
    ]
    assert not untagged, (
        f"cells with a widget output that are not tagged {reglab_pdf.EXPLORER_TAG!r}: {untagged}"
    )
    letters = re.sub(r"[^a-z]", "", pdf_text().lower())  # words broken at a line's end join again
    code = len(re.findall(r"\binteract\(|\b(?:Float|Int|FloatLog)Slider\(", pdf_text()))
    sentences = sum(
        letters.count(re.sub(r"[^a-z]", "", reglab_pdf.explorer_sentence(c["metadata"]).lower()))
        for c in explorers
    )
    COUNTS["explorers printed as slider code"] = f"{code} (budget 0)"
    COUNTS["explorers printed as their sentence"] = f"{sentences} of {len(explorers)}"
    assert explorers, "no explorer cells found in the notebooks"
    assert not code, "slider code (interact, ...Slider) printed in the PDF"
    assert sentences == len(explorers), f"{sentences} of {len(explorers)} explorers printed as their sentence"


@pytest.fixture(scope="module", autouse=True)
def _print_pdf_counts(request):
    """Each count above, printed when the module's tests are done, passing or not."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and COUNTS:
        with capture.global_and_fixture_disabled():
            reporter.write_sep("-", f"PDF counts ({PDF.name})")
            for name, value in COUNTS.items():
                reporter.write_line(f"{name}: {value}")
