"""Small fixes to the pages that the Sphinx themes and extensions produce.

1. sphinx-thebe registers its configuration script on every ``env-before-read-docs``; under
   Jupyter Book that event fires twice (the copies differ only in a filename of None or ""), so each page declared ``const THEBE_JS_URL`` twice and the
   browser reported "Identifier 'THEBE_JS_URL' has already been declared". Identical scripts are
   kept once.
2. sphinx-book-theme sets ``data-mode`` from localStorage, which is empty on a reader's first
   visit, and pydata-sphinx-theme then logs "Got invalid theme mode" as a console error. An
   empty mode is set to "auto" (the theme's own default) before the theme reads it.
3. The book's CSS and JavaScript (_ext/static: reglab.css, reglab.js): numbered equations that
   fit beside or above their number, boxes that scroll sideways with a visible cue, figures and
   tables that fit a phone, reference titles that wrap at their dots.
4., 5. Names and roles that axe-core asks for (below).
6. An nn.Module's ``forward`` and ``extra_repr`` without a docstring of their own are left out
   of the reference pages: autodoc would show PyTorch's stock text ("Define the computation
   performed at every call"), which says nothing about the book's modules.
7. Every figure of a page is a link to its full-size image: on a phone it is shown at half its
   natural size or less, and one tap opens it whole.
8. The site carries only the MathJax files its pages load (the whole distribution is 24 MB).
10. The sidebar's titles of the reference pages are modules' full names in code
   (reglab.derivations.weight_decay), which the theme never wraps: they may break after a dot
   (a <wbr>), so that each fits the sidebar on two lines instead of being cut at its edge.
11. pydata-sphinx-theme loads Font Awesome twice: its CSS holds every icon class and the web
   fonts, and every page also loads scripts/fontawesome.js (1.5 MB, the same icons as SVG, for
   custom icons the book does not use). The script is left out of the theme's macros; the icons
   come from the CSS and its fonts (300 kB).
9. The tag ``reglab_pdf`` is set when the book's PDF has been built (``make pdf``), so that a
   page can say "download the PDF" only where the link exists (``{only} reglab_pdf``).
"""

from __future__ import annotations

_MODE_FIX = 'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'
# 4. pydata-sphinx-theme's collapsible navigation has <summary> elements holding only an icon, so
#    screen readers announce nothing (axe-core: summary-name). They get a name.
_SUMMARY_NAMES = (
    'document.addEventListener("DOMContentLoaded", () => {'
    ' document.querySelectorAll("summary").forEach(s => {'
    ' if (!s.textContent.trim() && !s.getAttribute("aria-label"))'
    ' s.setAttribute("aria-label", "Show or hide the pages of this section"); });'
    # 5. sphinxcontrib-bibtex marks its citation list role="list" without list items (axe-core:
    #    aria-required-children), and matplotlib's animation player has an unlabelled frame
    #    slider (axe-core: label).
    ' document.querySelectorAll(".citation-list[role=list]").forEach(e => e.removeAttribute("role"));'
    ' document.querySelectorAll("input[type=range]:not([aria-label])").forEach(e =>'
    ' e.setAttribute("aria-label", "Animation frame")); });'
)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        # The same inline script arrives once with filename None and once with "".
        filename = getattr(script, "filename", str(script)) or ""
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique


# 10.
_DOTTED_NAME = None


def _break_at_dots(html):
    import re

    global _DOTTED_NAME
    if _DOTTED_NAME is None:
        _DOTTED_NAME = re.compile(r'(<span class="pre">)(reglab(?:\.\w+)+)(</span>)')
    out = _DOTTED_NAME.sub(lambda m: m[1] + m[2].replace(".", ".<wbr>") + m[3], str(html))
    if type(html) is str:
        return out
    from bs4 import BeautifulSoup

    if isinstance(html, BeautifulSoup):  # the theme's sidebar arrives parsed
        return BeautifulSoup(out, "html.parser")
    return type(html)(out)  # a jinja2 Markup stays one


def _wrap_sidebar_names(app, pagename, templatename, context, doctree):
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "reglab_wrapped", False):
        return

    def generate_toctree_html(*args, **kwargs):
        return _break_at_dots(generate(*args, **kwargs))

    generate_toctree_html.reglab_wrapped = True
    context["generate_toctree_html"] = generate_toctree_html


def _add_static(app, config):
    from pathlib import Path

    config.html_static_path = [*config.html_static_path, str(Path(__file__).parent / "static")]


def _templates_without_fontawesome_js(app, config):
    # 11. A copy of the theme's static/webpack-macros.html without the script, in a templates
    #     folder of the build that comes before the theme's own.
    from pathlib import Path

    import pydata_sphinx_theme

    source = (
        Path(pydata_sphinx_theme.__file__).parent
        / "theme"
        / "pydata_sphinx_theme"
        / "static"
        / "webpack-macros.html"
    )
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if "scripts/fontawesome.js" not in line]
    if len(kept) != len(lines) - 1:
        raise RuntimeError(f"{source}: expected one fontawesome.js script to leave out")
    target = Path(app.outdir).parent / "reglab-templates"
    (target / "static").mkdir(parents=True, exist_ok=True)
    out = target / "static" / "webpack-macros.html"
    if not out.exists() or out.read_text(encoding="utf-8") != "".join(kept):
        out.write_text("".join(kept), encoding="utf-8")
    config.templates_path = [*config.templates_path, str(target)]


def _tag_pdf(app):
    # 9. The PDF's file is looked up as _ext/reglab_pdf.py does; the pages that use the tag also
    #    use its pdf-link role, so they are read again when the PDF appears or disappears.
    from _ext.reglab_pdf import built_pdf

    if getattr(app.builder, "format", "") == "html" and built_pdf(app).is_file():
        app.tags.add("reglab_pdf")


# 6. PyTorch's stock members of an nn.Module.
_STOCK_MEMBERS = ("forward", "extra_repr")


def _skip_stock_members(app, what, name, obj, skip, options):
    if name not in _STOCK_MEMBERS:
        return None
    from torch import nn

    doc = getattr(obj, "__doc__", None)
    if not doc or doc == getattr(getattr(nn.Module, name, None), "__doc__", None):
        return True
    return None


# 7. Each image of a page that is not inside a link already becomes a link to its copy in
#    _images (as Sphinx does for the images it scales itself).
# An explorer (a code cell tagged `explorer`: ipywidgets sliders) needs a live kernel. On the
# static site its output is empty; its code is folded (the cell's `hide-input` tag) and a sentence
# in front of it says what it is and where it runs. (In print _ext/reglab_pdf.py replaces it.)
EXPLORER_NOTE = (
    "An explorer with sliders stands here. Its sliders move on a live kernel: open this "
    "chapter's notebook in Binder or Colab (the buttons at the top of the page). Its code is "
    "folded below."
)


def _explorer_notes(app, doctree, docname):
    if getattr(app.builder, "format", "") != "html":
        return
    from docutils import nodes

    from _ext.reglab_pdf import EXPLORER_TAG, code_cells

    for cell, metadata in code_cells(doctree):
        if EXPLORER_TAG not in metadata.get("tags", []):
            continue
        note = nodes.paragraph("", "", nodes.emphasis("", EXPLORER_NOTE), classes=["reglab-explorer"])
        cell.parent.insert(cell.parent.index(cell), note)


def _link_images(app, doctree, docname):
    if getattr(app.builder, "format", "") != "html":
        return
    import posixpath

    from docutils import nodes
    from sphinx.util.osutil import relative_uri

    base = relative_uri(app.builder.get_target_uri(docname), app.builder.imagedir)
    for image in list(doctree.findall(nodes.image)):
        if isinstance(image.parent, nodes.reference) or "no-scaled-link" in image["classes"]:
            continue
        candidates = image.get("candidates", {})
        uri = next(
            (candidates[t] for t in app.builder.supported_image_types if t in candidates),
            candidates.get("*", image["uri"]),
        )
        if uri not in app.env.images or "://" in uri:
            continue
        link = nodes.reference(
            "",
            "",
            internal=True,
            classes=["reglab-zoom"],
            refuri=posixpath.join(base, app.env.images[uri][1]),
        )
        image.replace_self(link)
        link.append(image)


# 8. The pages load one MathJax component, tex-chtml.js, which brings its fonts
#    (output/chtml/fonts) and, on demand, the TeX extensions a formula needs (autoload:
#    \boldsymbol ...). Kept besides: what the MathJax menu's accessibility options load (the
#    explorer, which needs the MathML input, with its English speech rules and Nemeth braille).
#    The copy replaces sphinx-mathjax-offline's, which is the whole distribution (24 MB: every
#    combined component, SVG output, speech rules in 13 languages).
MATHJAX_KEEP = (
    "tex-chtml.js",
    "output/chtml/",
    "input/tex/extensions/",
    "input/mml.js",
    "a11y/",
    "ui/safe.js",
    "sre/mathmaps/base.json",
    "sre/mathmaps/en.json",
    "sre/mathmaps/nemeth.json",
)


def mathjax_source():
    """The MathJax distribution that the pip package sphinx-mathjax-offline ships."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.origin:
        raise RuntimeError("sphinx-mathjax-offline is not installed (requirements.txt)")
    return Path(spec.origin).parent / "static" / "mathjax"


def _copy_mathjax(app, exception):
    import shutil
    from pathlib import Path

    if exception is not None or getattr(app.builder, "format", "") != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if not path.is_file() or not rel.startswith(MATHJAX_KEEP):
            continue
        out = target / rel
        if not out.exists() or out.stat().st_size != path.stat().st_size:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
    # Files left by an earlier build that copied more.
    for path in sorted(target.rglob("*"), reverse=True):
        rel = path.relative_to(target).as_posix()
        if path.is_file() and not rel.startswith(MATHJAX_KEEP):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def setup(app):
    app.add_js_file(None, body=_MODE_FIX, priority=1)
    app.add_js_file(None, body=_SUMMARY_NAMES)
    # 3. The book's own CSS overrides (_ext/static/reglab.css), each explained there.
    app.connect("config-inited", _add_static)
    app.connect("config-inited", _templates_without_fontawesome_js)
    app.add_css_file("reglab.css", priority=900)
    app.add_css_file("reglab-ledger.css", priority=901)
    app.add_js_file("reglab.js", priority=900)
    app.connect("autodoc-skip-member", _skip_stock_members)
    app.connect("doctree-resolved", _link_images)
    app.connect("doctree-resolved", _explorer_notes)
    # after sphinx-mathjax-offline's own copy of everything (build-finished, priority 500)
    app.connect("build-finished", _copy_mathjax, priority=900)
    app.connect("builder-inited", _tag_pdf)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _wrap_sidebar_names, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
