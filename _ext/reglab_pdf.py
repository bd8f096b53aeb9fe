"""The book as one PDF (`make pdf`) and the site's link to it.

`make pdf` runs Jupyter Book's ``pdflatex`` builder in its own build directory and puts the
result at ``_build/<name>.pdf``, where ``<name>`` is ``latex.latex_documents.targetname`` of
_config.yml with ``.pdf`` for ``.tex``. The HTML build then

1. copies that file into the site (``_build/html/<name>.pdf``) when the build finishes, and
2. turns the role ``{pdf-link}`text``` into a link to the copy, on the pages that use it
   (the intro page). Without a built PDF the text stays plain, so the site never links a
   missing file; when the PDF appears or disappears, those pages are rebuilt.

In the PDF itself (the LaTeX builder) the role is plain text, and exercises are numbered as on
the site (see below). The LaTeX-only output choices (widgets and HTML animations dropped in
favour of the static figures beside them) are set in _config.yml
(``nb_mime_priority_overrides``), not here. Nothing here changes an HTML page other than the
role's own link.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxRole
from sphinx.util.osutil import relative_uri


class pdf_link(nodes.Inline, nodes.TextElement):
    """Placeholder for the link to the PDF; resolved when a page is written."""


class PdfLinkRole(SphinxRole):
    def run(self):
        docs = getattr(self.env, "reglab_pdf_link_docs", set())
        docs.add(self.env.docname)
        self.env.reglab_pdf_link_docs = docs
        return [pdf_link(self.rawtext, self.text)], []


def pdf_name(app) -> str:
    """File name of the PDF: the LaTeX target name of the book with .pdf for .tex."""
    documents = app.config.latex_documents or []
    target = documents[0][1] if documents else "book.tex"
    return Path(target).with_suffix(".pdf").name


def built_pdf(app) -> Path:
    """Where `make pdf` leaves the PDF: next to the HTML output directory (_build/)."""
    return Path(app.outdir).parent / pdf_name(app)


def _is_html(app) -> bool:
    return getattr(app.builder, "format", "") == "html"


def _pdf_state(app):
    pdf = built_pdf(app)
    return pdf.stat().st_mtime_ns if pdf.is_file() else None


def _outdated(app, env, added, changed, removed):
    # The link's presence depends on a file outside the sources: re-read the pages that use
    # the role when that file appeared, changed or disappeared since the last HTML build.
    if not _is_html(app):
        return []
    state = _pdf_state(app)
    if getattr(env, "reglab_pdf_state", "unset") == state:
        return []
    env.reglab_pdf_state = state
    return sorted(getattr(env, "reglab_pdf_link_docs", set()))


def _resolve(app, doctree, docname):
    link = _is_html(app) and built_pdf(app).is_file()
    for node in list(doctree.findall(pdf_link)):
        if link:
            uri = relative_uri(app.builder.get_target_uri(docname), pdf_name(app))
            new = nodes.reference("", "", *node.children, refuri=uri, classes=["reglab-pdf-link"])
        else:
            new = nodes.inline("", "", *node.children)
        node.replace_self(new)


def _copy_into_site(app, exception):
    if exception is None and _is_html(app) and built_pdf(app).is_file():
        shutil.copy2(built_pdf(app), Path(app.outdir) / pdf_name(app))


def _purge(app, env, docname):
    getattr(env, "reglab_pdf_link_docs", set()).discard(docname)


def _merge(app, env, docnames, other):
    docs = getattr(env, "reglab_pdf_link_docs", set())
    docs.update(getattr(other, "reglab_pdf_link_docs", set()))
    env.reglab_pdf_link_docs = docs


def _pass(self, node):
    pass


# ---- LaTeX only: exercise numbers as on the site --------------------------------------------
# sphinx-jupyterbook-latex sets numfig_secnum_depth to 2 for the LaTeX builder, so that LaTeX,
# whose top level is the part, numbers figures and equations per chapter ("Fig. 2.1", as on the
# site). Sphinx itself numbers the exercises with the same setting, and would print "Exercise
# 2.7.1" (chapter, section, exercise) where the site says "Exercise 2.1". Sphinx assigns its
# numbers with the site's depth while it reads (and pickles that setting, so the next build
# need not re-read everything); the LaTeX writer gets depth 2 back once the book's doctree is
# assembled (doctree-resolved; the LaTeX builder emits no write-started).


def _remember_site_depth(app, config):
    app.reglab_site_secnum_depth = config.numfig_secnum_depth


def _site_depth_for_sphinx_numbers(app):
    if getattr(app.builder, "format", "") == "latex":
        app.reglab_latex_secnum_depth = app.config.numfig_secnum_depth
        app.config.numfig_secnum_depth = app.reglab_site_secnum_depth


def _latex_depth_for_writing(app, doctree, docname):
    if hasattr(app, "reglab_latex_secnum_depth"):
        app.config.numfig_secnum_depth = app.reglab_latex_secnum_depth


def setup(app):
    writers = ("html", "latex", "text", "man", "texinfo")
    app.add_node(pdf_link, **{w: (_pass, _pass) for w in writers})
    app.add_role("pdf-link", PdfLinkRole())
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-resolved", _resolve)
    app.connect("build-finished", _copy_into_site)
    # builder-inited: after sphinx-jupyterbook-latex's own
    app.connect("config-inited", _remember_site_depth)
    app.connect("builder-inited", _site_depth_for_sphinx_numbers, priority=900)
    app.connect("doctree-resolved", _latex_depth_for_writing)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
