"""The book as one PDF (`make pdf`) and the site's link to it.

`make pdf` runs Jupyter Book's ``pdflatex`` builder in its own build directory and puts the
result at ``_build/<name>.pdf``, where ``<name>`` is ``latex.latex_documents.targetname`` of
_config.yml with ``.pdf`` for ``.tex``. The HTML build then

1. copies that file into the site (``_build/html/<name>.pdf``) when the build finishes, and
2. turns the role ``{pdf-link}`text``` into a link to the copy, on the pages that use it
   (the intro page). Without a built PDF the text stays plain, so the site never links a
   missing file; when the PDF appears or disappears, those pages are rebuilt.

In the PDF itself (the LaTeX builder) the role is plain text, and (see below)

3. exercises are numbered as on the site;
4. every table fits the width of the text (each column a share of the line, at least as wide as
   its longest word; result IDs such as REG-2 never broken) and a table in the text's flow is a
   ``longtable``, which breaks across pages without losing a row;
5. an explorer (a code cell tagged ``explorer``: sliders that need a live kernel) is one
   sentence pointing to its static figure and to the online page, instead of its code; the
   code of a cell folded on the site (``hide-input``) is left out, its output kept;
6. a chapter with nothing of its own (the bibliography page, whose entries LaTeX gathers into
   the one bibliography at the end of the book) is removed.

The LaTeX-only output choices (widgets and HTML animations dropped in favour of the static
figures beside them) are set in _config.yml (``nb_mime_priority_overrides``). Nothing here
changes an HTML page other than the role's own link.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
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


# ---- LaTeX only: tables, explorers, folded code and empty chapters --------------------------


def _is_latex(app) -> bool:
    return getattr(app.builder, "format", "") == "latex"


# Tables. Sphinx sets a table of 30 rows or fewer in `tabulary`, which never breaks across
# pages (the rows that do not fit are printed over the footer and lost), and a longer one in
# `longtable` with `l` columns, which never wrap (the results ledger ran 2,891 pt past the
# page). Every table in the page's flow becomes a `longtable`, and every table gets column
# widths (a share of the line each, as MyST's `list-table :widths:` gives them), so that its
# columns wrap inside the text width. A column gets at least its longest word, the rest of the
# line goes by how much text each column holds. A table inside a box (an admonition, an
# exercise, a solution) stays a tabular: longtable cannot break inside one.
_FLOW = (nodes.section, nodes.document, nodes.container, nodes.compound, addnodes.start_of_file)
_LINE_PT = 360.0  # the text width of the book's LaTeX class (letter paper), in points
_CHAR_PT = 5.0  # a character of the table font (\small), on average
_PAD_PT = 12.0  # a column's padding
_MIN_SHARE = 6  # percent of the line: "#", "ID", "yes"
# A result ID (REG-2, WD-10, BAG-4a, AT-1): breaking it at its hyphen prints "REG-" and "2".
RESULT_ID = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]{0,5}-\d+[a-z]?(?![\w-])")


def _column_texts(table: nodes.table) -> list[list[str]]:
    group = next(iter(table.findall(nodes.tgroup)), None)
    if group is None:
        return []
    columns = len([c for c in group.children if isinstance(c, nodes.colspec)])
    text: list[list[str]] = [[] for _ in range(columns)]
    for row in group.findall(nodes.row):
        for j, entry in enumerate(e for e in row.children if isinstance(e, nodes.entry)):
            if j < columns:
                text[j].append(_visible_text(entry))
    return text


def _visible_text(node: nodes.Node) -> str:
    """The entry's text as printed, roughly: a formula counts by its length over three (its
    TeX source is longer than what it prints, and it does not break)."""
    parts = []
    for child in node.findall(nodes.Text):
        if isinstance(child.parent, nodes.math):
            parts.append("x" * max(1, len(child) // 3))
        else:
            parts.append(str(child))
    return " ".join(parts)


def column_widths(text: list[list[str]]) -> list[int]:
    """Shares of the line (percent, summing to 100) for columns holding ``text`` (a list of
    cells per column): each column at least as wide as its longest word, the rest of the line
    shared by how much text each column holds beyond that."""
    if not text or not all(isinstance(col, list) for col in text):
        raise ValueError(f"text must be a non-empty list of columns (lists of cells), got {text!r}")
    longest = [max((len(w) for t in col for w in t.split()), default=1) for col in text]
    floors = [max(_MIN_SHARE, 100 * (w * _CHAR_PT + _PAD_PT) / _LINE_PT) for w in longest]
    if sum(floors) >= 100:  # no room to share: the floors, scaled to the line
        shares = [f * 100 / sum(floors) for f in floors]
    else:
        bulk = [sum(len(t) for t in col) / max(len(col), 1) for col in text]
        extra = [max(b - w, 0.0) for b, w in zip(bulk, longest)]
        spare = 100 - sum(floors)
        total = sum(extra)
        shares = [f + spare * (e / total if total else 1 / len(floors)) for f, e in zip(floors, extra)]
    out = [max(1, int(s)) for s in shares]
    out[out.index(max(out))] += 100 - sum(out)
    return out


def _in_flow(table: nodes.table) -> bool:
    parent = table.parent
    while parent is not None and not isinstance(parent, nodes.document):
        if not isinstance(parent, _FLOW) or "admonition" in parent.get("classes", []):
            return False
        parent = parent.parent
    return True


def _unbreakable_ids(entry: nodes.entry) -> None:
    for text in list(entry.findall(nodes.Text)):
        if isinstance(text.parent, (nodes.literal, nodes.math, nodes.raw, nodes.literal_block)):
            continue
        pieces, at = [], 0
        for match in RESULT_ID.finditer(str(text)):
            pieces += [
                nodes.Text(str(text)[at : match.start()]),
                nodes.raw("", rf"\mbox{{{match.group(0)}}}", format="latex"),
            ]
            at = match.end()
        if pieces:
            pieces.append(nodes.Text(str(text)[at:]))
            text.parent.replace(text, [p for p in pieces if not isinstance(p, nodes.Text) or str(p)])


def _latex_tables(app, doctree, docname):
    if not _is_latex(app):
        return
    for table in list(doctree.findall(nodes.table)):
        if _in_flow(table) and "longtable" not in table["classes"]:
            table["classes"].append("longtable")
        colspecs = list(table.findall(nodes.colspec))
        if not colspecs:
            continue
        if "colwidths-given" not in table["classes"]:
            for colspec, share in zip(colspecs, column_widths(_column_texts(table))):
                colspec["colwidth"] = share
            table["classes"] = [c for c in table["classes"] if c != "colwidths-auto"] + ["colwidths-given"]
        for entry in table.findall(nodes.entry):
            _unbreakable_ids(entry)
        # Columns are set ragged right: justified, a narrow column stretches its spaces.
        widths = [int(c.get("colwidth", 1)) for c in colspecs]
        spec = "".join(rf">{{\raggedright\arraybackslash}}\X{{{w}}}{{{sum(widths)}}}" for w in widths)
        table.parent.insert(table.parent.index(table), addnodes.tabular_col_spec(spec=spec))


# Chapters with nothing of their own. LaTeX gathers every citation into one bibliography at
# the end of the book; the page that holds the `bibliography` directive on the site
# (book/appendix/bibliography) would print as an empty chapter "Bibliography", a blank page
# and then the real one. A section that holds nothing but its title, targets, index entries
# and citations is replaced by its citations (which Sphinx then moves to the bibliography).
_NOTHING = (nodes.title, nodes.target, nodes.comment, nodes.substitution_definition, addnodes.index)


def _only_citations(node: nodes.Node) -> bool:
    if isinstance(node, (nodes.citation, *_NOTHING)):
        return True
    if isinstance(node, nodes.container):
        return all(_only_citations(c) for c in node.children)
    return not node.astext().strip() and not list(node.findall(nodes.image))


def _drop_empty_sections(app, doctree, docname):
    if not _is_latex(app):
        return
    for section in list(doctree.findall(nodes.section)):
        if section.parent is None or not all(_only_citations(c) for c in section.children):
            continue
        # its labels stay, so that a reference to the page still lands (on what follows)
        ids = list(section["ids"]) + [i for t in section.findall(nodes.target) for i in t["ids"]]
        keep: list[nodes.Node] = [nodes.target("", "", ids=ids)] if ids else []
        keep += list(section.findall(nodes.citation))
        for citation in keep[1:] if ids else keep:
            citation.parent.remove(citation)
        section.replace_self(keep)


# Explorers and folded code. An explorer (ipywidgets sliders) needs a live kernel: in print its
# cell would be slider code with nothing under it. A code cell tagged `explorer` becomes one
# sentence: its metadata `reglab.print` (which names the static figure beside it), then where
# the live version is. The input of a cell tagged `hide-input` (plotting and set-up code,
# folded on the site) is left out and its output kept; the site shows both.
EXPLORER_TAG = "explorer"
LIVE = "On a live kernel (the chapter's notebook in Binder or Colab) the sliders move."


def explorer_sentence(metadata: dict) -> str:
    """What stands for an explorer cell in print, from the cell's metadata: its
    ``reglab.print`` sentence (which names the static figure beside it), then where it runs."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a cell's metadata (dict), got {type(metadata).__name__}")
    own = metadata.get("reglab", {}).get("print", "")
    if not isinstance(own, str):
        raise TypeError(f"metadata reglab.print must be a sentence (str), got {own!r}")
    own = own.strip() or "An explorer with sliders stands here in the notebook."
    return f"{own} {LIVE}"


def _print_cells(app, doctree):
    if not _is_latex(app):
        return
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code":
            continue
        metadata = cell.get("cell_metadata") or {}
        tags = metadata.get("tags", [])
        if EXPLORER_TAG in tags:
            text = nodes.emphasis("", explorer_sentence(metadata))
            cell.replace_self(nodes.paragraph("", "", text, classes=["reglab-explorer"]))
        elif "hide-input" in tags:
            for part in list(cell.children):
                if isinstance(part, nodes.container) and part.get("nb_element") == "cell_code_source":
                    cell.remove(part)


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
    app.connect("doctree-read", _print_cells)
    app.connect("doctree-resolved", _latex_tables)
    app.connect("doctree-resolved", _drop_empty_sections)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
