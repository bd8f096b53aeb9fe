"""The results ledger and the errata as a reader revising from them sees them, in chromium.

BOOK_SPEC 13: grouped by chapter, claims typeset, one row per result with its checks folded,
IDs and verdicts never broken across lines, no page that scrolls sideways on a phone. Measured
at 1280 x 900 and 390 x 844 on the built site (`make book` first).

The ledger's height at 1280 px was 22,759 px when it had one row per check (77 rows, two of its
columns wrapping to a few letters); with a row per result it is about a third of that.
"""
from __future__ import annotations

import pytest
from conftest import HTML

pytestmark = [pytest.mark.site, pytest.mark.browser]

PAGES = ["book/appendix/ledger.html", "book/appendix/errata.html"]
SIZES = {"laptop": (1280, 900), "phone": (390, 844)}
LEDGER_MAX_HEIGHT = 12_000  # px at 1280: a row per result, the checks folded

_MEASURE = """() => {
  const article = document.querySelector('main article') || document.querySelector('main');
  const broken = [];
  for (const el of article.querySelectorAll('.reglab-id, .reglab-verdict, .reglab-nowrap')) {
    if (el.closest('details:not([open])')) continue;
    const lines = new Set([...el.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (lines.size > 1) broken.push(el.textContent.trim());
  }
  const edge = article.getBoundingClientRect().right + 1;
  const wide = [...article.querySelectorAll('table')]
    .filter(t => t.getBoundingClientRect().right > edge)
    .map(t => t.className);
  const sections = [...article.querySelectorAll('section section')]
    .map(s => (s.querySelector('h2') || {}).textContent || '');
  return {
    broken, wide, sections,
    height: document.documentElement.scrollHeight,
    pageWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    ids: [...article.querySelectorAll('.reglab-id')].map(e => e.textContent.trim()),
    folds: article.querySelectorAll('details.reglab-fold').length,
    math: article.querySelectorAll('td mjx-container').length,
    rawTex: (article.innerText.match(/\\\\(lVert|alpha|frac|top)\\b/g) || []).length,
  };
}"""


def _measure(browser, server, page_path, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{server}/{page_path}", wait_until="load")
    page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise")
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    got = page.evaluate(_MEASURE)
    context.close()
    return got


@pytest.fixture(scope="module")
def measured(browser, server):
    if not all((HTML / p).exists() for p in PAGES):
        pytest.fail("the ledger or errata page is not built: run `make book` first")
    return {(p, s): _measure(browser, server, p, s) for p in PAGES for s in SIZES}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("page_path", PAGES)
def test_no_id_verdict_or_interval_is_broken_across_lines(measured, page_path, size):
    got = measured[(page_path, size)]
    assert got["ids"], f"{page_path}: no result ID marked as one (class reglab-id)"
    assert not got["broken"], f"{page_path} at {size} width breaks across lines: {got['broken'][:5]}"


@pytest.mark.parametrize("page_path", PAGES)
def test_no_table_runs_past_the_column_and_no_page_scrolls_sideways_on_a_phone(measured, page_path):
    for size in SIZES:
        got = measured[(page_path, size)]
        assert not got["wide"], f"{page_path} at {size} width: tables past the column: {got['wide']}"
    phone = measured[(page_path, "phone")]
    assert phone["pageWidth"] <= phone["viewport"], (
        f"{page_path} scrolls sideways on a phone: {phone['pageWidth']} px in a {phone['viewport']} px window")


def test_the_ledger_is_a_row_per_result_grouped_by_chapter_and_short(measured):
    import reglab  # noqa: F401  (registers every result)
    from reglab.derivations import ledger

    got = measured[("book/appendix/ledger.html", "laptop")]
    results = ledger()
    assert sorted(got["ids"]) == sorted(r.id for r in results), "each result once, and only results"
    assert got["folds"] == sum(r.kind == "derivation" for r in results), "one fold of checks per derivation"
    assert len(got["sections"]) == len({r.chapter for r in results}), f"a section per chapter: {got['sections']}"
    assert got["math"] >= 30 and got["rawTex"] == 0, "claims typeset, no TeX left as text"
    print(f"ledger height at 1280 px: {got['height']} px (budget {LEDGER_MAX_HEIGHT}, before: 22,759)")
    assert got["height"] <= LEDGER_MAX_HEIGHT, f"the ledger is {got['height']} px tall at 1280 px"
