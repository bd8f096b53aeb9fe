"""The site on a 390 x 844 phone and a 1280 x 900 laptop, in chromium: counted, budget 0 each.

Every count is printed in the test summary ("site budgets") whether it passes or not:

* dead navigation toggles: on a page of each kind, at both widths, the sidebar toggle and the
  page-contents toggle must open their panel (visible, on the screen) and close it again; and
  a page shows one search bar, not two (a second header of the theme brings a second one);
* numbered equations cut at 1280 px (every page): the typeset formula runs under its number or
  past the edge of its box;
* rendered TeX at both widths (every page): a ``$`` or a control word (``\\mathbf``) in the text a
  reader sees, outside code and typeset math;
* sidebar entries whose title is cut (every page, 1280 px);
* on the phone (every page): pages wider than the phone; figures neither readable (shown at
  >= 60 % of their natural size) nor a link to their full-size image; tables and formulas that
  scroll sideways without a visible cue (the fading edge of _ext/static/reglab.js and
  reglab.css); words broken inside table cells ("probabilit y");
* the site's weight: its size on disk and the median of the bytes a page fetches when it loads.

The per-page counts come from the one pass over the site (tests/conftest.py: site_pass).
"""

from __future__ import annotations

import statistics

import pytest
from conftest import HTML, LAPTOP, MEASURED, PHONE, PHONE_FIGURE_SCALE, open_page, screenshot, wait_typeset

pytestmark = [pytest.mark.site, pytest.mark.browser]

# A page of each kind: the intro (Markdown), a chapter (notebook), an appendix page, a reference
# page (autodoc) and the search page.
NAV_PAGES = [
    "book/intro.html",
    "book/dropout.html",
    "book/appendix/ledger.html",
    "book/appendix/reference/dropout.html",
    "search.html",
]
# The site on disk, and a page's median weight, may not grow back past these: MathJax trimmed to
# the files the pages load (the whole distribution was 24 MB of a 47 MB site).
MATHJAX_BUDGET_MB = 4
PAGE_WEIGHT_BUDGET_MB = 3.0

_PANEL = """(which) => {
  const sel = which === 'primary' ? '.bd-sidebar-primary' : '.bd-sidebar-secondary';
  const vw = window.innerWidth, vh = window.innerHeight;
  return [...document.querySelectorAll(sel)].some(e => {
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return cs.visibility !== 'hidden' && cs.display !== 'none' && r.width > 50 && r.height > 50
      && r.left >= -1 && r.right <= vw + 1 && r.top < vh && r.bottom > 0;
  });
}"""

_HAS_PANEL = """(which) => {
  const sel = which === 'primary' ? '.bd-sidebar-primary' : '.bd-sidebar-secondary';
  return [...document.querySelectorAll(sel)].some(e => e.querySelector('a[href]'));
}"""

# Search fields and search buttons a reader sees (one of them opens the other: counted once).
_SEARCH_BARS = """() => [...document.querySelectorAll('.search-button__button, form.bd-search, .search-button-field')]
  .filter(e => { const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && r.right > 0 && r.left < window.innerWidth
      && !e.closest('dialog:not([open]), .search-button__wrapper:not(.show), .bd-article, .bd-search-container'); })
  .filter((e, i, all) => !all.some(o => o !== e && o.contains(e))).length"""


def _visible_toggle(page, which):
    toggles = page.locator(f"button.{which}-toggle, label.{which}-toggle")
    for i in range(toggles.count()):
        if toggles.nth(i).is_visible():
            return toggles.nth(i)
    return None


# The panels slide in and out (CSS transitions of 0.2-0.3 s): two frames for the click's style
# to start them, then until every transition or animation that ends has ended (2 s at most).
_SETTLED = """async () => {
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const ending = document.getAnimations()
    .filter(a => Number.isFinite(a.effect ? a.effect.getComputedTiming().endTime : Infinity));
  await Promise.race([
    Promise.all(ending.map(a => a.finished.catch(() => null))),
    new Promise(done => setTimeout(done, 2000)),
  ]);
}"""


def _settle(page):
    page.evaluate(_SETTLED)


def _close(page, toggle):
    """Close an open panel the way a reader would: Escape for a dialog, else the toggle again."""
    if page.evaluate("() => !!document.querySelector('dialog[open]')"):
        page.keyboard.press("Escape")
    else:
        toggle.click()
    _settle(page)


def _try_toggle(page, which) -> str:
    """ "" when the panel's toggle works (or the panel is always shown), else what is wrong."""
    was_open = page.evaluate(_PANEL, which)
    toggle = _visible_toggle(page, which)
    if toggle is None:
        # No toggle is right only where the panel is always shown (the page contents beside the
        # article on a wide screen) or the page has none (the search page has no contents).
        return (
            "" if was_open or not page.evaluate(_HAS_PANEL, which) else "no visible toggle, panel not shown"
        )
    if was_open:  # a wide screen shows the sidebar: its toggle hides it first
        toggle.click()
        _settle(page)
        if page.evaluate(_PANEL, which):
            return "the toggle does not hide the open panel"
    toggle.click()
    _settle(page)
    if not page.evaluate(_PANEL, which):
        return "the toggle does not open the panel on the screen"
    if not was_open:
        _close(page, toggle)
        if page.evaluate(_PANEL, which):
            return "the panel does not close again"
    return ""


@pytest.fixture(scope="module")
def navigation(browser, server):
    """({(page, width, toggle): problem or ""}, {(page, width): search bars shown})."""
    dead, search = {}, {}
    for path in NAV_PAGES:
        for viewport in (PHONE, LAPTOP):
            context, page, _ = open_page(browser, server, path, viewport)
            try:
                wait_typeset(page)
                search[(path, viewport["width"])] = page.evaluate(_SEARCH_BARS)
                for which in ("primary", "secondary"):
                    dead[(path, viewport["width"], which)] = problem = _try_toggle(page, which)
                    if problem:
                        screenshot(page, f"{path}-{viewport['width']}-{which}")
                        page.reload(wait_until="load")
                        wait_typeset(page)
            finally:
                context.close()
    return dead, search


def test_navigation_toggles_open_and_close(navigation):
    dead = {k: v for k, v in navigation[0].items() if v}
    MEASURED["dead navigation toggles (390 and 1280 px)"] = f"{len(dead)} of {len(navigation[0])} (budget 0)"
    assert not dead, f"dead toggles: {dead}"


def test_one_search_bar(navigation):
    doubled = {k: v for k, v in navigation[1].items() if v != 1}
    MEASURED["pages without exactly one search bar"] = f"{len(doubled)} of {len(navigation[1])} (budget 0)"
    assert not doubled, f"search bars shown (expected one): {doubled}"


def _count(found: dict) -> int:
    return sum(map(len, found.values()))


@pytest.fixture(scope="module")
def readers(site_pass):
    return {p: m for p, m in site_pass.items() if m["reader"]}


def test_no_numbered_equation_is_cut(readers):
    cut = {p: m["equations"] for p, m in readers.items() if m["equations"]}
    MEASURED["numbered equations cut at 1280 px"] = f"{_count(cut)} (budget 0)"
    assert not cut, f"numbered equations cut under their number or at their box's edge: {cut}"


def test_no_rendered_text_shows_tex(readers):
    found = {
        f"{p} ({w})": t
        for p, m in readers.items()
        for w, t in (("1280", m["tex"]), ("390", m["phone"]["tex"]))
        if t
    }
    MEASURED["rendered TeX (text outside code and math, both widths)"] = f"{_count(found)} (budget 0)"
    assert not found, f"TeX shown as text (a $ or a control word outside math): {found}"


def test_sidebar_titles_fit(readers):
    cut = sorted({t for m in readers.values() for t in m["sidebar"]})
    MEASURED["sidebar entries cut (1280 px)"] = f"{len(cut)} (budget 0)"
    assert not cut, f"sidebar entries whose title is cut: {cut}"


def test_no_page_wider_than_a_phone(readers):
    wide = {p: m["phone"]["wide"] for p, m in readers.items() if m["phone"]["wide"]}
    MEASURED["pages wider than a 390 px phone"] = f"{_count(wide)} (budget 0)"
    assert not wide, f"pages that scroll sideways on a phone: {wide}"


def test_phone_figures_readable_or_linked(readers):
    bad = {p: m["phone"]["figures"] for p, m in readers.items() if m["phone"]["figures"]}
    MEASURED[f"phone figures below {100 * PHONE_FIGURE_SCALE:.0f} % and not linked"] = (
        f"{_count(bad)} (budget 0)"
    )
    assert not bad, f"figures a phone reader can neither read nor open full size: {bad}"


def test_phone_tables_and_formulas_fit_or_scroll_with_a_cue(readers):
    bad = {p: m["phone"]["uncued"] for p, m in readers.items() if m["phone"]["uncued"]}
    MEASURED["phone tables/formulas scrolling without a cue"] = f"{_count(bad)} (budget 0)"
    assert not bad, f"boxes that scroll sideways on a phone without a visible cue: {bad}"


def test_phone_table_cells_do_not_break_words(readers):
    bad = {p: m["phone"]["broken"] for p, m in readers.items() if m["phone"]["broken"]}
    MEASURED["words broken inside table cells (390 px)"] = f"{_count(bad)} (budget 0)"
    assert not bad, f"words broken across lines inside table cells: {bad}"


def test_site_weight(site_pass):
    def size(path):
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6

    mathjax = size(HTML / "_static" / "mathjax")
    median = statistics.median(m["weight"] for m in site_pass.values()) / 1e6
    MEASURED["site size"] = f"{size(HTML):.1f} MB, MathJax {mathjax:.1f} MB (budget {MATHJAX_BUDGET_MB} MB)"
    MEASURED["median page weight at load"] = f"{median:.2f} MB (budget {PAGE_WEIGHT_BUDGET_MB} MB)"
    assert mathjax <= MATHJAX_BUDGET_MB, f"the site carries {mathjax:.1f} MB of MathJax"
    assert median <= PAGE_WEIGHT_BUDGET_MB, f"a page fetches {median:.2f} MB when it loads (median)"
