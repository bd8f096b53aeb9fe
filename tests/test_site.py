"""The built site as readers meet it (run after `make book`; `make test-site` does both).

Static checks read the HTML files; browser checks open every page in Debian's chromium driven
by Playwright, served from 127.0.0.1 with every request to another host blocked, and require:
no console errors, no failed requests, every image loaded, every math element typeset by the
site's own MathJax, alt text on every figure, no broken internal link or anchor, launch buttons pointing at the
configured repository, branch and notebook, and a working search.

Without chromium the browser checks skip with a message; with REGLAB_REQUIRE_BROWSER=1 (set by
.ci/run) they fail instead. On failure a screenshot goes to _build/browser-failures/.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("REGLAB_SITE_DIR", ROOT / "_build" / "html"))
CHROMIUM = os.environ.get("REGLAB_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REGLAB_REQUIRE_BROWSER") == "1"
FAILURES = ROOT / "_build" / "browser-failures"

pytestmark = pytest.mark.site

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [TOC["root"]] + [e["file"] for part in TOC["parts"] for e in part["chapters"]]
NOTEBOOK_PAGES = [f for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]


def _pages() -> list[str]:
    if not HTML.exists():
        return []
    skip = {"_static", "_sources", "_images", "browser-failures"}
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not skip.intersection(p.relative_to(HTML).parts)
    )


PAGES = _pages()


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        for key in ("src",):
            if a.get(key):
                self.resources.append(a[key])
        if tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "preload", "icon"):
            self.resources.append(a["href"])


@functools.lru_cache(maxsize=None)
def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed((HTML / page).read_text(encoding="utf-8"))
    return c


def test_site_was_built():
    assert HTML.exists(), "no _build/html: run `make book` first"
    for entry in TOC_FILES:
        assert (HTML / f"{entry}.html").exists(), f"{entry} has no page in the built site"


@pytest.mark.parametrize("page", PAGES)
def test_page_needs_no_third_party_host(page):
    for url in _parse(page).resources:
        host = urlparse(url).netloc
        assert not host, f"{page} loads {url} from another host at read time"


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_and_anchors_resolve(page):
    for href in _parse(page).links:
        if urlparse(href).scheme or href.startswith(("mailto:", "javascript:")):
            continue
        target, anchor = urldefrag(href)
        path = (HTML / page).parent / unquote(target) if target else HTML / page
        path = path.resolve()
        if path.is_dir():
            path = path / "index.html"
        assert path.exists(), f"{page}: broken link {href}"
        if anchor and path.suffix == ".html":
            ids = _parse(path.relative_to(HTML.resolve()).as_posix()).ids
            assert unquote(anchor) in ids, f"{page}: link {href} names a missing anchor"


@pytest.mark.parametrize("entry", NOTEBOOK_PAGES)
def test_launch_buttons_point_at_the_configured_repository(entry):
    url = CONFIG["repository"]["url"].rstrip("/")
    branch = CONFIG["repository"]["branch"]
    owner_repo = "/".join(url.split("/")[-2:])
    links = _parse(f"{entry}.html").links
    binder = f"mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{entry}.ipynb"
    colab = f"colab.research.google.com/github/{owner_repo}/blob/{branch}/{entry}.ipynb"
    assert any(binder in href for href in links), f"{entry}: no Binder button to {binder}"
    assert any(colab in href for href in links), f"{entry}: no Colab button to {colab}"
    assert "btn-launch-thebe" in (HTML / f"{entry}.html").read_text(), f"{entry}: no live-code button"


# --- in a real browser --------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
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
        b = p.chromium.launch(
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
        yield b
        b.close()


def _open(browser, server, page_path: str):
    """Open a page with other hosts blocked; return (page, problems list)."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []

    def route(r):
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            problems.append(f"request to another host: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(f"{server}/{page_path}", wait_until="load")
    return context, page, problems


def _screenshot(page, page_path: str):
    FAILURES.mkdir(parents=True, exist_ok=True)
    target = FAILURES / (re.sub(r"[^\w.-]", "_", page_path) + ".png")
    page.screenshot(path=str(target), full_page=True)
    return target


@pytest.mark.browser
@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_in_a_browser(browser, server, page_path):
    context, page, problems = _open(browser, server, page_path)
    try:
        refresh = re.search(r'http-equiv="refresh" content="\d+; ?url=([^"]+)"', (HTML / page_path).read_text(), re.I)
        if refresh:  # the site's index.html forwards to the first page
            page.wait_for_url(f"**/{refresh.group(1).lstrip('./')}", timeout=10000)
            page.wait_for_load_state("load")
        has_math = page.evaluate("() => document.querySelectorAll('.math').length") > 0
        if has_math:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
            page.evaluate("() => MathJax.startup.promise")
            untypeset = page.evaluate(
                "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')"
                " && !e.closest('mjx-container')).map(e => e.textContent.slice(0, 60))"
            )
            errors = page.evaluate("() => [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)")
            problems += [f"math not typeset: {t}" for t in untypeset]
            problems += [f"MathJax error: {t}" for t in errors]
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        broken = page.evaluate(
            "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        problems += [f"image not loaded: {src}" for src in broken]
        no_alt = page.evaluate(
            "() => [...document.querySelectorAll('main img')].filter(i => !(i.getAttribute('alt') || '').trim())"
            ".map(i => i.src.slice(-60))"
        )
        problems += [f"image without alt text: {src}" for src in no_alt]
        if problems:
            shot = _screenshot(page, page_path)
            pytest.fail(f"{page_path} ({shot}):\n" + "\n".join(problems))
    finally:
        context.close()


@pytest.mark.browser
def test_search_finds_dropout(browser, server):
    context, page, problems = _open(browser, server, "search.html?q=dropout")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=20000)
        hits = page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
        if not any("dropout" in h for h in hits) or problems:
            shot = _screenshot(page, "search.html")
            pytest.fail(f"search for 'dropout' ({shot}): hits {hits[:5]}; problems {problems}")
    finally:
        context.close()
