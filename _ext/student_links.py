"""Student notebooks on the site: a line at the top of every chapter page, and the files behind it.

Each chapter page (every notebook that tools/make_student.py turns into a student notebook)
starts with one line: download the student notebook (the exercises' solutions removed, each
answer checked by the library when the student runs it), or open the chapter in Colab. At the
end of the HTML build the student notebooks are written into ``_build/html/_student/`` by the
same function as ``make student``, so the download is always the chapter as built and
``make book`` needs nothing run before it.

Colab opens notebooks from GitHub, and the student notebooks are build products, not files of
the repository. So the Colab link opens the chapter's own notebook there (the edition with
solutions, from the repository and branch named in _config.yml's REPOSITORY block, as the
launch button does), and the line says how to work on the student notebook in Colab instead:
upload the downloaded file (File > Upload notebook).
"""
from __future__ import annotations

from pathlib import Path

from docutils import nodes

STUDENT_DIR = "_student"


def _make_student(app):
    # The book's root is on sys.path (_config.yml loads the extensions as _ext.<name> from it),
    # so the tools package imports normally.
    from tools import make_student

    return make_student


def _chapters(app) -> dict[str, str]:
    """docname -> notebook name, for every chapter that has a student notebook."""
    root = Path(app.srcdir)
    return {p.relative_to(root).with_suffix("").as_posix(): p.stem for p in _make_student(app).chapters(root)}


def _colab_url(app, docname: str) -> str | None:
    theme = app.config.html_theme_options or {}
    launch = theme.get("launch_buttons", {}) or {}
    colab, repo = launch.get("colab_url", "").strip("/"), theme.get("repository_url", "").strip("/")
    if not colab or not repo.startswith("https://github.com/"):
        return None
    book = theme.get("path_to_docs", "").strip("/")
    path = f"{book}/{docname}.ipynb" if book else f"{docname}.ipynb"
    org_repo = repo[len("https://github.com/"):]
    return f"{colab}/github/{org_repo}/blob/{theme.get('repository_branch', 'main') or 'main'}/{path}"


def _insert_line(app, doctree, docname):
    if app.builder.format != "html":
        return
    name = _chapters(app).get(docname)
    sections = list(doctree.findall(nodes.section))
    if name is None or not sections:
        return
    download = "../" * docname.count("/") + f"{STUDENT_DIR}/{name}.ipynb"
    colab = _colab_url(app, docname)
    html = (f'<p class="reglab-student"><strong>Exercises.</strong> '
            f'<a href="{download}" download>Download the student notebook</a> (without the solutions; '
            f"each answer is checked when you run it)")
    if colab:
        html += (f' · <a href="{colab}">open this chapter in Colab</a> (with the solutions; to use the '
                 f"student notebook in Colab, upload it with <em>File › Upload notebook</em>)")
    html += ".</p>"
    title = sections[0].next_node(nodes.title)
    position = sections[0].index(title) + 1 if title is not None and title.parent is sections[0] else 0
    sections[0].insert(position, nodes.raw("", html, format="html"))


def _write_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    _make_student(app).write_student_notebooks(Path(app.outdir) / STUDENT_DIR, root=Path(app.srcdir))


def setup(app):
    app.connect("doctree-resolved", _insert_line)
    app.connect("build-finished", _write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
