"""Shared pytest configuration, and the browser pass over the built site.

The site's browser tests (tests/test_site*.py, marker ``browser``) share one chromium, one local
server and one pass over the pages (:func:`site_pass`): each page is opened once at 1280 x 900,
checked and measured there in light and dark mode, then measured again at a phone's 390 x 844
in the same tab. The pass runs in two processes with a chromium each (the largest pages first,
each process taking the next page when it is done with one). The tests only read what the pass
recorded.
"""

from __future__ import annotations

import functools
import http.server
import multiprocessing
import multiprocessing.util
import os
import re
import shutil
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("REGLAB_SITE_DIR", ROOT / "_build" / "html"))
CHROMIUM = os.environ.get("REGLAB_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REGLAB_REQUIRE_BROWSER") == "1"
FAILURES = ROOT / "_build" / "browser-failures"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Budgets and measurements printed at the end of the run ("site budgets"), passing or not.
MEASURED: dict[str, str] = {}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_addoption(parser):
    parser.addoption(
        "--chapter",
        default=None,
        help="keep, of the tests run once per chapter, result or exercise, those of this chapter "
        "(its notebook's name without .ipynb); the book-wide tests all run (make test NB=...)",
    )


def item_chapters(item) -> set[str]:
    """The chapters a parametrized test is about: a result's or an exercise's chapter, a
    chapter notebook, or a ``chapter`` argument; empty for a test of the whole book."""
    from reglab import exercises

    labels = {e.label: e.chapter for e in exercises()}
    found = set()
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name, value in params.items():
        if isinstance(getattr(value, "chapter", None), str):  # a Result
            found.add(value.chapter)
        elif isinstance(value, Path) and value.suffix == ".ipynb":
            found.add(value.stem)
        elif isinstance(value, str) and value in labels:
            found.add(labels[value])
        elif name == "chapter" and isinstance(value, str):
            found.add(value)
    return found


def pytest_collection_modifyitems(config, items):
    chapter = config.getoption("--chapter")
    if not chapter:
        return
    keep, drop = [], []
    for item in items:
        chapters = item_chapters(item)
        (keep if not chapters or chapter in chapters else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    """Print the site's measured budgets (tests/test_site*.py), passing or not."""
    if MEASURED:
        terminalreporter.section("site budgets (chromium, 1280 x 900 and 390 x 844)")
        for name, value in MEASURED.items():
            terminalreporter.write_line(f"{name}: {value}")


def site_pages() -> list[str]:
    """Every HTML page of the built site, relative to its root."""
    if not HTML.exists():
        return []
    skip = {"_static", "_sources", "_images", "browser-failures"}
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not skip.intersection(p.relative_to(HTML).parts)
    )


def redirect_target(page: str) -> str | None:
    """Where a page that only forwards (the site's index.html) sends the reader."""
    head = (HTML / page).read_text(encoding="utf-8")[:3000]
    found = re.search(r'http-equiv="refresh" content="\d+; ?url=([^"]+)"', head, re.IGNORECASE)
    return found.group(1) if found else None


# --- the server and the browser -----------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def launch_chromium(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    )


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = (
            f"chromium not found at {CHROMIUM}: install it (apt-get install -y chromium) to run the "
            "browser tests, or set REGLAB_CHROMIUM to its path"
        )
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def open_page(browser, server, path: str, viewport=LAPTOP, pending: set | None = None):
    """Open a page with other hosts blocked; return (context, page, problems).

    ``problems`` collects, as they happen, console errors, page errors, failed requests, HTTP
    errors and every request to a host other than the local server (aborted). ``pending``, if
    given, holds the requests in flight (:func:`wait_loaded`).
    """
    context = browser.new_context(viewport=viewport, color_scheme="light")
    page = context.new_page()
    problems: list[str] = []
    if pending is not None:
        page.on("request", lambda r: pending.add(r))
        page.on("requestfinished", lambda r: pending.discard(r))
        page.on("requestfailed", lambda r: pending.discard(r))

    def route(r):
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            problems.append(f"request to another host: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(f"{server}/{path}", wait_until="load")
    target = redirect_target(path) if (HTML / path).is_file() else None
    if target:
        page.wait_for_url(f"**/{target.lstrip('./')}", timeout=10000)
        page.wait_for_load_state("load")
    return context, page, problems


def wait_typeset(page) -> None:
    """Until MathJax has typeset the page and reglab.js has laid it out."""
    if page.evaluate("() => document.querySelectorAll('.math').length > 0"):
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000
        )
        page.evaluate("() => MathJax.startup.promise")
    page.wait_for_function(
        "() => document.documentElement.dataset.reglabLayout === 'done'"
        " || !document.querySelector('script[src*=\"reglab.js\"]')",
        timeout=20000,
    )


# Images marked to load lazily load now (none waits for a scroll), and the page's fonts.
_EAGER = """async () => {
  document.querySelectorAll('img[loading="lazy"]').forEach(i => { i.loading = 'eager'; });
  await document.fonts.ready;
}"""
LOAD_TIMEOUT_MS = 20000


def wait_loaded(page, pending: set, problems: list[str]) -> None:
    """Until every image of the page has loaded or failed and no request is in flight, so that
    every failure is recorded before the page is measured (RENDER reports an image that has not
    loaded by then, ``problems`` a request still in flight)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(_EAGER)
    try:
        page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=LOAD_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass  # RENDER names the images that have not loaded
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while pending and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # the events that empty it arrive while playwright waits
    problems += [f"request still loading after {LOAD_TIMEOUT_MS // 1000} s: {r.url}" for r in pending]


def resize(page, viewport) -> None:
    """A new window size, and the page laid out again for it (reglab.js)."""
    page.evaluate("() => { document.documentElement.dataset.reglabLayout = 'pending'; }")
    page.set_viewport_size(viewport)
    page.wait_for_function(
        "() => document.documentElement.dataset.reglabLayout === 'done'"
        " || !document.querySelector('script[src*=\"reglab.js\"]')",
        timeout=20000,
    )


def screenshot(page, name: str) -> Path:
    FAILURES.mkdir(parents=True, exist_ok=True)
    target = FAILURES / (re.sub(r"[^\w.-]", "_", name) + ".png")
    page.screenshot(path=str(target), full_page=True)
    return target


# --- what is measured on each page -------------------------------------------------------------

# Where a page has math: formulas not typeset, MathJax errors. Then images: not loaded, no alt.
RENDER = """() => {
  const untypeset = [...document.querySelectorAll('.math')]
    .filter(e => !e.querySelector('mjx-container') && !e.closest('mjx-container'))
    .map(e => 'math not typeset: ' + e.textContent.slice(0, 60));
  const errors = [...document.querySelectorAll('mjx-merror')].map(e => 'MathJax error: ' + e.textContent);
  const broken = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => 'image not loaded: ' + i.src);
  const noAlt = [...document.querySelectorAll('main img')].filter(i => !(i.getAttribute('alt') || '').trim())
    .map(i => 'image without alt text: ' + i.src.slice(-60));
  return [...untypeset, ...errors, ...broken, ...noAlt];
}"""

# Bytes fetched for the page (the document and every resource so far; the local server does not
# compress, so encoded = transferred over a network without compression).
WEIGHT = """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
  .reduce((sum, e) => sum + (e.encodedBodySize || 0), 0)"""

# At 1280 px: raw Markdown, tables and figures past the article's edge, code blocks scrolling,
# figures below 75 % of their natural size (tests/test_site_layout.py).
LAYOUT = """(figureScale) => {
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
    .filter(i => i.getBoundingClientRect().width < figureScale * Math.min(i.naturalWidth, 10000))
    .map(i => (i.getAttribute('src') || '').slice(-40) + ' at ' + Math.round(100 * i.getBoundingClientRect().width / i.naturalWidth) + ' %');
  return {rawText, clipped, blocks: blocks.length, scrolling, small};
}"""

# TeX in the text a reader sees, outside code and typeset math: a "$" or a control word
# (\\mathbf). A source line of a formula that Markdown read as something else shows it.
TEX = r"""() => {
  const article = document.querySelector('main article') || document.querySelector('main');
  const found = [];
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (n.parentElement.closest('pre, code, kbd, samp, .highlight, mjx-container, .math, mjx-assistive-mml, script, style')) continue;
    if (/\$|\\[A-Za-z]{2,}/.test(n.textContent)) found.push(n.textContent.trim().slice(0, 80));
  }
  return found;
}"""

# Numbered display equations whose typeset formula runs under its number, or past the edge of
# its box (out of sight; a box that scrolls with a cue is measured on the phone).
EQUATIONS = """() => {
  const cut = [];
  for (const div of document.querySelectorAll('main div.math')) {
    const number = div.querySelector(':scope > span.eqno');
    const box = div.querySelector(':scope > mjx-container');
    const math = box && box.querySelector('mjx-math');
    if (!number || !math) continue;
    const m = math.getBoundingClientRect(), b = box.getBoundingClientRect(), n = number.getBoundingClientRect();
    const overlap = m.right > n.left + 1 && m.left < n.right - 1 && m.bottom > n.top + 1 && m.top < n.bottom - 1;
    const past = m.right > b.right + 1 || m.left < b.left - 1;
    if (overlap || past) cut.push(number.textContent.replace('#', '').trim() + (overlap ? ' under its number' : ' past its box'));
  }
  return cut;
}"""

# Entries of the primary sidebar whose title is cut (wider than its line, or ellipsed).
SIDEBAR = """() => [...document.querySelectorAll('.bd-sidebar-primary nav a')]
  .filter(a => a.getBoundingClientRect().width > 0)
  .filter(a => a.scrollWidth > a.clientWidth + 1 || [...a.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1
    && getComputedStyle(e).overflowX !== 'visible'))
  .map(a => a.textContent.trim())"""

# On a phone: the page wider than the window; figures neither readable (>= scale of their natural
# size) nor a link to their full-size image; tables and formulas that scroll sideways without a
# visible cue (reglab.js / reglab.css: a fading edge); words broken inside table cells.
PHONE_CHECKS = """(scale) => {
  const article = document.querySelector('main article') || document.querySelector('main');
  const edge = article.getBoundingClientRect().right + 1;
  const cue = (box) => {
    const cs = getComputedStyle(box);
    const mask = cs.maskImage || cs.webkitMaskImage || 'none';
    return box.hasAttribute('data-reglab-scroll') && mask !== 'none';
  };
  const scroller = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (a.scrollWidth > a.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) return a;
    }
    return null;
  };
  const doc = document.documentElement;
  const wide = doc.scrollWidth > window.innerWidth + 1 ? [`page ${doc.scrollWidth} px wide`] : [];
  const base = (u) => decodeURIComponent((u || '').split('#')[0].split('?')[0]).split('/').pop();
  const figures = [...article.querySelectorAll('img')]
    .filter(i => i.naturalWidth > 0 && i.getBoundingClientRect().width > 0)
    .filter(i => {
      const shown = i.getBoundingClientRect().width / i.naturalWidth;
      const link = i.closest('a[href]');
      return shown < scale && !(link && base(link.getAttribute('href')) === base(i.getAttribute('src')));
    })
    .map(i => (i.getAttribute('src') || '').slice(-40) + ' at ' + Math.round(100 * i.getBoundingClientRect().width / i.naturalWidth) + ' %');
  const uncued = [];
  for (const table of article.querySelectorAll('table')) {
    if (table.closest('details:not([open]), .toggle-hidden')) continue;
    const r = table.getBoundingClientRect();
    if (r.width === 0 || r.right <= edge) continue;
    const box = scroller(table);
    if (!box || !cue(box)) uncued.push('table: ' + table.textContent.trim().slice(0, 40));
  }
  for (const box of article.querySelectorAll('div.math > mjx-container, mjx-container.reglab-wide-inline')) {
    if (box.scrollWidth > box.clientWidth + 1 && !cue(box)) uncued.push('formula: ' + ((box.closest('div.math') || {}).id || box.textContent.slice(0, 30)));
  }
  const broken = [];
  for (const cell of article.querySelectorAll('td, th')) {
    if (cell.closest('details:not([open]), .toggle-hidden')) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const n = walker.currentNode;
      if (n.parentElement.closest('code, pre, mjx-container, .math')) continue;
      for (const m of n.textContent.matchAll(/[A-Za-z]{3,}/g)) {
        const range = document.createRange();
        range.setStart(n, m.index);
        range.setEnd(n, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(q => q.width > 0).map(q => Math.round(q.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return {wide, figures, uncued, broken};
}"""

LAYOUT_FIGURE_SCALE = 0.75
PHONE_FIGURE_SCALE = 0.6

# The results ledger and the errata, at both widths (tests/test_site_ledger.py): result IDs,
# verdicts and intervals broken across lines, tables past the column, the page's size, what the
# table holds.
LEDGER_PAGES = ("book/appendix/ledger.html", "book/appendix/errata.html")
LEDGER = """() => {
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


# Dark mode changes colours only: there the colour rules alone are run again.
COLOUR_RULES = {"type": "rule", "values": ["color-contrast", "link-in-text-block"]}


def _axe(page, run_only=None) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    # MathJax renders each formula as hundreds of nested elements whose text takes the colour of
    # the paragraph around it (checked there); scanning them would take most of the run.
    options = {"resultTypes": ["violations"], **({"runOnly": run_only} if run_only else {})}
    violations = (
        Axe().run(page, context={"exclude": [["mjx-container"]]}, options=options).response["violations"]
    )
    return [
        f"{v['impact']}: {v['id']} ({len(v['nodes'])} elements, e.g. {v['nodes'][0]['target']})"
        for v in violations
        if v["impact"] in ("critical", "serious")
    ]


def _dark(page, on: bool) -> str:
    """Switch the theme as its own button does (data-mode and data-theme); return the theme."""
    mode = "dark" if on else "light"
    # Colours are measured where they end, not halfway through the theme's transitions.
    page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
    return page.evaluate(
        "(m) => { const d = document.documentElement.dataset; d.mode = m; d.theme = m;"
        " localStorage.setItem('mode', m); localStorage.setItem('theme', m); return d.theme; }",
        mode,
    )


def measure_page(browser, server, path: str) -> dict:
    """One page's measurements (see :func:`site_pass`)."""
    pending: set = set()
    context, page, problems = open_page(browser, server, path, pending=pending)
    try:
        m: dict = {"reader": redirect_target(path) is None}  # a page a reader reads, not a forward
        wait_typeset(page)
        wait_loaded(page, pending, problems)
        m["problems"] = problems + page.evaluate(RENDER)  # axe-core's own requests come after
        m["weight"] = page.evaluate(WEIGHT)
        failing = bool(m["problems"])
        if m["reader"]:
            if path in LEDGER_PAGES:
                m["ledger"] = {"laptop": page.evaluate(LEDGER)}
            m["layout"] = page.evaluate(LAYOUT, LAYOUT_FIGURE_SCALE)
            m["equations"] = page.evaluate(EQUATIONS)
            m["tex"] = page.evaluate(TEX)
            m["sidebar"] = page.evaluate(SIDEBAR)
            m["axe light"] = _axe(page)
            theme = _dark(page, True)
            m["axe dark"] = _axe(page, COLOUR_RULES) + (
                [] if theme == "dark" else [f"page not in dark mode ({theme})"]
            )
            _dark(page, False)
            resize(page, PHONE)
            m["phone"] = page.evaluate(PHONE_CHECKS, PHONE_FIGURE_SCALE)
            m["phone"]["tex"] = page.evaluate(TEX)
            if path in LEDGER_PAGES:
                m["ledger"]["phone"] = page.evaluate(LEDGER)
            failing = failing or any(
                m["phone"][k] for k in ("wide", "figures", "uncued", "broken", "tex")
            )
        if failing:
            m["screenshot"] = str(screenshot(page, path))
        return m
    finally:
        context.close()


# The pass's processes (spawned: playwright's sync API does not survive a fork), a chromium each.
PASS_PROCESSES = 2
_PASS_BROWSER: list = []


def _pass_process_start() -> None:
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = launch_chromium(playwright)
    _PASS_BROWSER.append(browser)

    def stop():
        browser.close()
        playwright.stop()

    # Run when the process exits (multiprocessing runs no atexit handlers in its children).
    multiprocessing.util.Finalize(None, stop, exitpriority=10)


def _pass_process_measure(server: str, path: str) -> dict:
    return measure_page(_PASS_BROWSER[0], server, path)


def pass_order(pages: list[str]) -> list[str]:
    """The pages as the pass hands them out: the largest (the chapters, the ledger) first, so
    that the two processes share them and finish together on the small reference pages."""
    return sorted(pages, key=lambda p: (-(HTML / p).stat().st_size, p))


@pytest.fixture(scope="session")
def site_pass(browser, server):
    """{page: measurements}: every page of the site opened once and measured at both widths.

    At 1280 x 900: what went wrong while it loaded (console errors, failed requests, math not
    typeset, images), its weight, layout, equations, TeX in the text, the sidebar; axe-core in
    light and dark mode. Then at 390 x 844 in the same tab: the phone checks. On the ledger and
    the errata, their own measurements (LEDGER) at both widths.
    (``browser`` only for its check that chromium is there: the pass's processes launch their own.)
    """
    pages = site_pages()
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(PASS_PROCESSES, mp_context=spawn, initializer=_pass_process_start)
    try:
        futures = {path: pool.submit(_pass_process_measure, server, path) for path in pass_order(pages)}
        results = {path: futures[path].result() for path in pages}
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
