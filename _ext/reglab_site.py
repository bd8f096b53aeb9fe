"""Small fixes to the pages that the Sphinx themes and extensions produce.

1. sphinx-thebe registers its configuration script on every ``env-before-read-docs``; under
   Jupyter Book that event fires twice (the copies differ only in a filename of None or ""), so each page declared ``const THEBE_JS_URL`` twice and the
   browser reported "Identifier 'THEBE_JS_URL' has already been declared". Identical scripts are
   kept once.
2. sphinx-book-theme sets ``data-mode`` from localStorage, which is empty on a reader's first
   visit, and pydata-sphinx-theme then logs "Got invalid theme mode" as a console error. An
   empty mode is set to "auto" (the theme's own default) before the theme reads it.
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


def _add_static(app, config):
    from pathlib import Path

    config.html_static_path = [*config.html_static_path, str(Path(__file__).parent / "static")]


def setup(app):
    app.add_js_file(None, body=_MODE_FIX, priority=1)
    app.add_js_file(None, body=_SUMMARY_NAMES)
    # 3. The book's own CSS overrides (_ext/static/reglab.css), each explained there.
    app.connect("config-inited", _add_static)
    app.add_css_file("reglab.css", priority=900)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
