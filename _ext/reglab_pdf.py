"""The book as one PDF (`make pdf`) and the site's link to it.

`make pdf` runs Jupyter Book's ``pdflatex`` builder in its own build directory and puts the
result at ``_build/<name>.pdf``, where ``<name>`` is ``latex.latex_documents.targetname`` of
_config.yml with ``.pdf`` for ``.tex``. The HTML build then

1. copies that file into the site (``_build/html/<name>.pdf``) when the build finishes, and
2. turns the role ``{pdf-link}`text``` into a link to the copy, on the pages that use it
   (the intro page). Without a built PDF the text stays plain, so the site never links a
   missing file; when the PDF appears or disappears, those pages are rebuilt.

`make book-pdf` builds the site while `make pdf` runs (each build is mostly single-threaded);
it sets ``REGLAB_PDF_PENDING=1`` for the site's build, which then links the PDF (and sets the
tag ``reglab_pdf``, _ext/reglab_site.py) as if it were built, and leaves the copy to make,
which puts the PDF into the site when both builds have succeeded (and builds the site again
without the variable when the PDF's build failed, so that the site links no missing file).

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

import os
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
    # The book's configuration names it (latex.latex_documents.targetname); jupyter-book passes
    # that on to Sphinx for its PDF builds only, and the site's Sphinx has its default
    # ("projectnamenotset.tex") instead.
    import yaml

    config = yaml.safe_load((Path(app.srcdir) / "_config.yml").read_text(encoding="utf-8")) or {}
    target = ((config.get("latex") or {}).get("latex_documents") or {}).get("targetname")
    if not target:
        documents = app.config.latex_documents or []
        target = documents[0][1] if documents else "book.tex"
    return Path(target).with_suffix(".pdf").name


def built_pdf(app) -> Path:
    """Where `make pdf` leaves the PDF: next to the HTML output directory (_build/)."""
    return Path(app.outdir).parent / pdf_name(app)


def _is_html(app) -> bool:
    return getattr(app.builder, "format", "") == "html"


# Set by `make book-pdf` for the site's build: the PDF is being built at the same time.
PENDING = "REGLAB_PDF_PENDING"


def _pending(app) -> bool:
    return _is_html(app) and os.environ.get(PENDING) == "1"


def _links_pdf(app) -> bool:
    """Whether the site links the PDF: it is built, or being built at the same time."""
    return _is_html(app) and (_pending(app) or built_pdf(app).is_file())


def _pdf_state(app):
    if _pending(app):
        return "pending"
    pdf = built_pdf(app)
    return pdf.stat().st_mtime_ns if pdf.is_file() else None


def _tag_pending(app):
    # _ext/reglab_site.py sets the tag where the PDF's file exists; while it is being built, here.
    if _pending(app):
        app.tags.add("reglab_pdf")


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
    link = _links_pdf(app)
    for node in list(doctree.findall(pdf_link)):
        if link:
            uri = relative_uri(app.builder.get_target_uri(docname), pdf_name(app))
            new = nodes.reference("", "", *node.children, refuri=uri, classes=["reglab-pdf-link"])
        else:
            new = nodes.inline("", "", *node.children)
        node.replace_self(new)


def _copy_into_site(app, exception):
    # While the PDF is being built (REGLAB_PDF_PENDING), make copies it when both builds are done.
    if exception is None and _is_html(app) and not _pending(app) and built_pdf(app).is_file():
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
# Where a longtable cannot stand: in a box (an admonition, an exercise or its solution, a
# sidebar, a footnote) or in another table. Anything else (sections, containers, a notebook
# cell's output, which the book's LaTeX class only indents) is the page's flow.
_BOXES = (nodes.Admonition, nodes.topic, nodes.sidebar, nodes.footnote, nodes.table, nodes.citation)
_BOX_NAMES = ("exercise", "solution", "proof", "dropdown", "toggle", "admonition")
_LINE_PT = 450.0  # the text width (468 pt on letter paper), less a cell output's indent
_PAD_PT = 14.0  # a column's padding and rule
_MIN_SHARE = 5  # percent of the line: "#", "yes"
# The width of a character in points, roughly (10 pt text; typewriter 5.25 pt a character)
_CHAR_PT = {"upper": 7.0, "digit": 5.0, "other": 4.7, "code": 5.25}
# A result ID (REG-2, WD-10, BAG-4a): breaking it at its hyphen prints "REG-" and "2".
RESULT_ID = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]{0,5}-\d+[a-z]?(?![\w-])")
# Where a long word (a name in code, Adam(weight_decay)) may break: after these characters.
_CODE_BREAKS = re.compile(r"(?<=[._(,/=])(?=.)")
_LONG_WORD = 12


def _visible_words(node: nodes.Node) -> list[tuple[str, bool]]:
    """The entry's words as printed, each with whether it is code. A formula counts as a third
    of its TeX source (which is longer than what it prints); it does not break."""
    words = []
    for child in node.findall(nodes.Text):
        code = isinstance(child.parent, (nodes.literal, addnodes.literal_emphasis, addnodes.literal_strong))
        if isinstance(child.parent, nodes.math):
            words.append(("x" * max(1, len(child) // 3), False))
        else:
            words += [(piece, code) for w in str(child).split() for piece in _pieces(w)]
    return words


def _pieces(word: str) -> list[str]:
    """A word as it may break: a long one after its dots, underscores, brackets ... (a result ID
    never)."""
    if len(word) < _LONG_WORD or RESULT_ID.fullmatch(word):
        return [word]
    return [p for p in _CODE_BREAKS.split(word) if p]


def _latex_breakable(text: str, engine: str) -> str:
    """``text`` as LaTeX: result IDs in an unbreakable box, long words breakable (_pieces)."""

    out, at = [], 0
    for match in RESULT_ID.finditer(text):
        out += [_latex_words(text[at : match.start()], engine), rf"\mbox{{{match.group(0)}}}"]
        at = match.end()
    out.append(_latex_words(text[at:], engine))
    return "".join(out)


def _latex_words(text: str, engine: str) -> str:
    from sphinx.util.texescape import escape

    parts = re.split(r"(\s+)", text)
    return "".join(
        part if part.isspace() else r"\allowbreak{}".join(escape(p, engine) for p in _pieces(part))
        for part in parts
    )


def _word_pt(word: str, code: bool) -> float:
    if code:
        return len(word) * _CHAR_PT["code"]
    kinds = ("upper" if c.isupper() else "digit" if c.isdigit() else "other" for c in word)
    return sum(_CHAR_PT[k] for k in kinds)


def _column_words(table: nodes.table) -> list[list[list[tuple[str, bool]]]]:
    group = next(iter(table.findall(nodes.tgroup)), None)
    if group is None:
        return []
    columns = len([c for c in group.children if isinstance(c, nodes.colspec)])
    cells: list[list] = [[] for _ in range(columns)]
    for row in group.findall(nodes.row):
        for j, entry in enumerate(e for e in row.children if isinstance(e, nodes.entry)):
            if j < columns:
                cells[j].append(_visible_words(entry))
    return cells


def column_widths(cells: list[list[list[tuple[str, bool]]]]) -> list[int]:
    """Shares of the line (percent, summing to 100) for the columns of a table, given each
    column's cells as lists of (word, is code): each column at least as wide as its widest word,
    the rest of the line shared by how much text each column holds beyond that."""
    if not cells or not all(isinstance(col, list) for col in cells):
        raise ValueError(f"cells must be a non-empty list of columns (lists of cells), got {cells!r}")
    widest = [max((_word_pt(w, c) for cell in col for w, c in cell), default=0.0) for col in cells]
    floors = [max(_MIN_SHARE, 100 * (w + _PAD_PT) / _LINE_PT) for w in widest]
    if sum(floors) >= 100:  # no room to share: the floors, scaled to the line
        shares = [f * 100 / sum(floors) for f in floors]
    else:
        bulk = [
            sum(_word_pt(w, c) + 2.5 for cell in col for w, c in cell) / max(len(col), 1) for col in cells
        ]
        extra = [max(b - w, 0.0) for b, w in zip(bulk, widest)]
        spare, total = 100 - sum(floors), sum(extra)
        shares = [f + spare * (e / total if total else 1 / len(floors)) for f, e in zip(floors, extra)]
    out = [max(1, int(s)) for s in shares]
    out[out.index(max(out))] += 100 - sum(out)
    return out


def _in_flow(table: nodes.table) -> bool:
    parent = table.parent
    while parent is not None and not isinstance(parent, nodes.document):
        name = type(parent).__name__.lower()
        classes = " ".join(parent.get("classes", []))
        if isinstance(parent, _BOXES) or any(b in name or b in classes for b in _BOX_NAMES):
            return False
        parent = parent.parent
    return True


def _breakable_entry(entry: nodes.entry, engine: str) -> None:
    for text in list(entry.findall(nodes.Text)):
        if isinstance(text.parent, (nodes.math, nodes.raw, nodes.literal_block, nodes.math_block)):
            continue
        source = str(text)
        if RESULT_ID.search(source) or any(len(_pieces(w)) > 1 for w in source.split()):
            text.parent.replace(text, nodes.raw("", _latex_breakable(source, engine), format="latex"))


# The ledger's and errata's checks, folded under each row on the site, are a nested list in the
# row's cell in print; a row cannot break across pages, so a result with many checks ran into the
# footer. In print the lists follow the table instead, each under its result's ID.
def _checks_after_tables(app, doctree, docname):
    if not _is_latex(app):
        return
    for table in list(doctree.findall(nodes.table)):
        if not {"reglab-ledger", "reglab-errata"} & set(table["classes"]):
            continue
        moved = []
        for row in table.findall(nodes.row):
            entries = list(row.findall(nodes.entry))
            lists = [b for e in entries[1:] for b in e.findall(nodes.bullet_list)
                     if not isinstance(b.parent, nodes.list_item)]
            if not lists:
                continue
            label = "".join(t.astext() for t in entries[0].findall(nodes.Text)
                            if not isinstance(t.parent, nodes.raw)).strip()
            for b in lists:
                b.parent.remove(b)
            moved.append(nodes.paragraph("", "", nodes.strong("", f"{label}: checks")))
            moved.extend(lists)
        if moved:
            parent = table.parent
            parent.insert(parent.index(table) + 1, moved)


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
            for colspec, share in zip(colspecs, column_widths(_column_words(table))):
                colspec["colwidth"] = share
            table["classes"] = [c for c in table["classes"] if c != "colwidths-auto"] + ["colwidths-given"]
        for entry in table.findall(nodes.entry):
            _breakable_entry(entry, app.config.latex_engine)
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


def code_cells(doctree):
    """``(cell, its metadata)`` for every notebook code cell of a document (a list: callers
    replace cells as they go)."""
    return [
        (cell, cell.get("cell_metadata") or {})
        for cell in doctree.findall(nodes.container)
        if cell.get("nb_element") == "cell_code"
    ]


def _print_cells(app, doctree):
    if not _is_latex(app):
        return
    for cell, metadata in code_cells(doctree):
        tags = metadata.get("tags", [])
        if EXPLORER_TAG in tags:
            text = nodes.emphasis("", explorer_sentence(metadata))
            cell.replace_self(nodes.paragraph("", "", text, classes=["reglab-explorer"]))
        elif "hide-input" in tags:
            for part in list(cell.children):
                if isinstance(part, nodes.container) and part.get("nb_element") == "cell_code_source":
                    cell.remove(part)


# Signatures of the library reference are set in one box each, which cannot break: a name such
# as reglab.derivations.sparse_representations.greedy_trap_residuals runs into the margin. In
# the PDF the module's name is left out of them (the page's title names the module). (Inline
# code needs nothing: Sphinx's LaTeX breaks it after dots and before underscores.)
def _short_signatures(app):
    if _is_latex(app):
        app.config.add_module_names = False


# A reference to an exercise of another chapter: Sphinx resolves it as a numbered reference to
# the label "<chapter>:<label>", which sphinx-exercise's LaTeX does not define (it prints
# "Exercise ??"); its own label is "exercise:<label>". The text, "Exercise 1.1", is right.
def _exercise_references(app, doctree, docname):
    if not _is_latex(app):
        return
    registry = getattr(app.env, "sphinx_exercise_registry", {})
    for ref in list(doctree.findall(addnodes.number_reference)):
        target = ref.get("refid") or ref.get("refuri", "").rpartition("#")[2]
        if target in registry:
            ref.replace_self(
                nodes.raw("", rf"\hyperref[exercise:{target}]{{{ref.astext()}}}", format="latex")
            )


def setup(app):
    writers = ("html", "latex", "text", "man", "texinfo")
    app.add_node(pdf_link, **{w: (_pass, _pass) for w in writers})
    app.add_role("pdf-link", PdfLinkRole())
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-resolved", _resolve)
    app.connect("build-finished", _copy_into_site)
    app.connect("builder-inited", _tag_pending)
    # builder-inited: after sphinx-jupyterbook-latex's own
    app.connect("config-inited", _remember_site_depth)
    app.connect("builder-inited", _site_depth_for_sphinx_numbers, priority=900)
    app.connect("doctree-resolved", _latex_depth_for_writing)
    app.connect("doctree-read", _print_cells)
    app.connect("doctree-resolved", _checks_after_tables)
    app.connect("doctree-resolved", _latex_tables)
    app.connect("doctree-resolved", _exercise_references)
    app.connect("builder-inited", _short_signatures)
    app.connect("doctree-resolved", _drop_empty_sections)
    # env_version: documents read by an older version of this extension are read again.
    return {"env_version": 3, "parallel_read_safe": True, "parallel_write_safe": True}
