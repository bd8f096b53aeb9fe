"""The site as a reader sees it at 1280 x 900 in chromium: measured, with the budget beside it.

Every page of the built site is opened once (light mode, then dark mode for the accessibility
check) and measured:

* raw Markdown in rendered text (``| --- |`` table rows, ``**bold**``, ``$$``): budget 0;
* tables and figures that run past the article's right edge, or sit in a box that scrolls them
  out of sight: budget 0;
* code and output blocks that scroll sideways: budget at most 5 % of all blocks;
* figures shown below 75 % of their natural size (their text falls under ~9 px): budget 0;
* axe-core violations of impact "critical" or "serious", in light and in dark mode: budget 0.

Each figure is printed in the test summary ("site budgets") whether it passes or not.
"""
from __future__ import annotations

import pytest

from test_site import HTML, PAGES, browser, server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.site, pytest.mark.browser]

WIDTH, HEIGHT = 1280, 900
# Pages a reader reads: not the site's index.html, which only forwards to the first chapter.
READ_PAGES = [p for p in PAGES if 'http-equiv="refresh"' not in (HTML / p).read_text(encoding="utf-8")[:3000].lower()]
SCROLL_BUDGET = 0.05
FIGURE_SCALE = 0.75
MEASURED: dict[str, str] = {}

_MEASURE = """() => {
  const article = document.querySelector('main article') || document.querySelector('main');
  const edge = article.getBoundingClientRect().right + 1;
  const rawText = [];
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const rawPattern = /\\|\\s*-{3,}\\s*\\||\\*\\*[A-Za-z][^*\\n]*\\*\\*|\\$\\$/;
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (n.parentElement.closest('pre, code, .highlight, mjx-container, .math, script, style')) continue;
    if (rawPattern.test(n.textContent)) rawText.push(n.textContent.trim().slice(0, 80));
  }
  const clipped = [];
  const hiddenBy = (el) => {
    for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
      if (a.scrollWidth > a.clientWidth + 1 && getComputedStyle(a).overflowX !== 'visible') return a;
    }
    return null;
  };
  for (const el of article.querySelectorAll('table, img, figure')) {
    if (el.closest('.toggle-hidden, details:not([open]), .dropdown:not(.toggle-shown) .admonition-content')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const box = el.tagName === 'TABLE' ? hiddenBy(el) : null;
    if (r.right > edge || box) clipped.push(el.tagName.toLowerCase() + ': ' + (el.id || el.className || el.getAttribute('src') || '').toString().slice(0, 50));
  }
  const blocks = [...article.querySelectorAll('div.highlight pre, div.cell_output pre, div.output pre')]
    .filter(p => p.getBoundingClientRect().width > 0);
  const scrolling = blocks.filter(p => p.scrollWidth > p.clientWidth + 1)
    .map(p => p.textContent.split('\\n').reduce((a, b) => a.length > b.length ? a : b, '').slice(0, 60));
  const small = [...article.querySelectorAll('img')]
    .filter(i => i.naturalWidth > 0 && i.getBoundingClientRect().width > 0)
    .filter(i => i.getBoundingClientRect().width < 0.75 * Math.min(i.naturalWidth, 10000))
    .map(i => (i.getAttribute('src') || '').slice(-40) + ' at ' + Math.round(100 * i.getBoundingClientRect().width / i.naturalWidth) + ' %');
  return {rawText, clipped, blocks: blocks.length, scrolling, small};
}"""


def _ready(page):
    page.wait_for_load_state("load")
    if page.evaluate("() => !!window.MathJax && !!MathJax.startup"):
        page.evaluate("() => MathJax.startup.promise")


def _open_sized(browser, server, path, dark=False):  # noqa: F811
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, color_scheme="dark" if dark else "light")
    if dark:
        context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
    page.goto(f"{server}/{path}", wait_until="load")
    _ready(page)
    return context, page


def _axe(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    # MathJax renders each formula as hundreds of nested elements whose text takes the colour of
    # the paragraph around it (checked there); scanning them would take most of the run.
    violations = Axe().run(page, context={"exclude": [["mjx-container"]]}).response["violations"]
    return [f"{v['impact']}: {v['id']} ({len(v['nodes'])} elements, e.g. {v['nodes'][0]['target']})"
            for v in violations if v["impact"] in ("critical", "serious")]


@pytest.fixture(scope="module")
def measurements(browser, server):  # noqa: F811
    """Every page once in light mode (layout and axe) and once in dark mode (axe)."""
    results = {}
    for path in READ_PAGES:
        context, page = _open_sized(browser, server, path)
        try:
            results[path] = page.evaluate(_MEASURE)
            results[path]["axe light"] = _axe(page)
        finally:
            context.close()
        context, page = _open_sized(browser, server, path, dark=True)
        try:
            theme = page.evaluate("document.documentElement.dataset.theme")
            results[path]["axe dark"] = _axe(page) + ([] if theme == "dark" else [f"page not in dark mode ({theme})"])
        finally:
            context.close()
    return results


def _record(name: str, value: str) -> None:
    MEASURED[name] = value


def test_no_raw_markdown_in_rendered_text(measurements):
    raw = {p: m["rawText"] for p, m in measurements.items() if m["rawText"]}
    _record("raw Markdown blocks", f"{sum(map(len, raw.values()))} (budget 0)")
    assert not raw, f"raw Markdown in rendered text: {raw}"


def test_no_table_or_figure_past_the_article_edge(measurements):
    clipped = {p: m["clipped"] for p, m in measurements.items() if m["clipped"]}
    _record("tables/figures past the article edge", f"{sum(map(len, clipped.values()))} (budget 0)")
    assert not clipped, f"clipped: {clipped}"


def test_few_code_and_output_blocks_scroll_sideways(measurements):
    total = sum(m["blocks"] for m in measurements.values())
    scrolling = {p: m["scrolling"] for p, m in measurements.items() if m["scrolling"]}
    n = sum(map(len, scrolling.values()))
    share = n / total if total else 0.0
    _record("code/output blocks scrolling sideways",
            f"{n} of {total} = {100 * share:.1f} % (budget {100 * SCROLL_BUDGET:.0f} %)")
    assert share <= SCROLL_BUDGET, f"{n} of {total} blocks scroll sideways: {scrolling}"


def test_figures_shown_at_readable_size(measurements):
    small = {p: m["small"] for p, m in measurements.items() if m["small"]}
    _record(f"figures below {100 * FIGURE_SCALE:.0f} % of natural size", f"{sum(map(len, small.values()))} (budget 0)")
    assert not small, f"figures shown too small: {small}"


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_no_serious_accessibility_violations(measurements, mode):
    found = {p: m[f"axe {mode}"] for p, m in measurements.items() if m[f"axe {mode}"]}
    _record(f"axe critical+serious violations ({mode})", f"{sum(map(len, found.values()))} (budget 0)")
    assert not found, f"axe-core, {mode} mode: {found}"
