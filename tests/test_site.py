"""The built site as readers meet it (run after `make book`; `make test-site` does both).

Static checks read the HTML files; browser checks open every page in Debian's chromium driven
by Playwright, served from 127.0.0.1 with every request to another host blocked, and require:
no console errors, no failed requests, every image loaded, every math element typeset by the
site's own MathJax, alt text on every figure, no broken internal link or anchor, launch buttons pointing at the
configured repository, branch and notebook, and a working search.

The browser checks read one pass over the pages (tests/conftest.py: site_pass).
Without chromium the browser checks skip with a message; with REGLAB_REQUIRE_BROWSER=1 (set by
.ci/run) they fail instead. On failure a screenshot goes to _build/browser-failures/.
"""
from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml
from conftest import HTML, ROOT, open_page, screenshot, site_pages

pytestmark = pytest.mark.site

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [TOC["root"]] + [e["file"] for part in TOC["parts"] for e in part["chapters"]]
NOTEBOOK_PAGES = [f for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]


PAGES = site_pages()


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


@functools.cache
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


# --- in a real browser (the pass over every page: tests/conftest.py) ---------------------------


@pytest.mark.browser
@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_in_a_browser(site_pass, page_path):
    m = site_pass[page_path]
    if m["problems"]:
        pytest.fail(f"{page_path} ({m.get('screenshot')}):\n" + "\n".join(m["problems"]))


@pytest.mark.browser
def test_search_finds_dropout(browser, server):
    context, page, problems = open_page(browser, server, "search.html?q=dropout")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=20000)
        hits = page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
        if not any("dropout" in h for h in hits) or problems:
            shot = screenshot(page, "search.html")
            pytest.fail(f"search for 'dropout' ({shot}): hits {hits[:5]}; problems {problems}")
    finally:
        context.close()


def test_intro_links_the_pdf_exactly_when_the_site_has_it():
    """The intro offers the PDF for download only where the site carries it (`make pdf` first)."""
    intro = (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    pdf = CONFIG["latex"]["latex_documents"]["targetname"].removesuffix(".tex") + ".pdf"
    linked = any(urlparse(h).path.endswith(pdf) for h in _parse("book/intro.html").links)
    if (HTML / pdf).exists():
        assert linked, f"the site carries {pdf} but the intro does not link it"
    else:
        assert not linked and "download the PDF" not in intro, f"the intro offers {pdf}, which the site lacks"
    assert "make pdf" in re.sub(r"<[^>]+>", "", intro), "the intro no longer says how to build the PDF"


# PyTorch's docstrings of nn.Module.forward and extra_repr, which say nothing about the book's
# modules (_ext/reglab_site.py leaves them out of the reference pages).
STOCK_DOCSTRINGS = ("Define the computation performed at every call", "Return the extra representation of the module")


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("book/appendix/reference/")])
def test_reference_pages_show_no_pytorch_stock_docstrings(page):
    text = (HTML / page).read_text(encoding="utf-8")
    found = [s for s in STOCK_DOCSTRINGS if s in text]
    assert not found, f"{page} shows PyTorch's stock docstring: {found}"


def test_every_explorer_says_where_its_sliders_move_and_folds_its_code():
    """On the static site an explorer's sliders are dead: a sentence says where they run, and
    its code is folded (BOOK_SPEC 13); in print _ext/reglab_pdf.py replaces the cell."""
    import json

    missing = []
    for chapter in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(chapter.read_text())["cells"]
        explorers = sum("explorer" in c["metadata"].get("tags", []) for c in cells)
        if not explorers:
            continue
        page = (HTML / "book" / f"{chapter.stem}.html").read_text()
        notes = page.count('class="reglab-explorer"')
        folded = len(re.findall(r'class="[^"]*tag_explorer[^"]*tag_hide-input|tag_hide-input[^"]*tag_explorer', page))
        if notes != explorers or folded != explorers:
            missing.append(f"{chapter.stem}: {explorers} explorers, {notes} notes, {folded} folded")
    assert not missing, missing
