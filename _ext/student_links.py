"""The chapters' notebooks on the site: a line at the top of every chapter page, and the files.

Each chapter page starts with one line offering its two notebooks, each as a download and in
Colab:

* the **Jupyter-native edition** (``make notebooks``, ``_build/jupyter``): the chapter as a plain
  Jupyter, JupyterLab or Colab shows it, glued numbers and references resolved, solutions folded;
* the **student notebook** (``make student``, ``_build/student``): the same without the solutions,
  each answer checked by the library when the student runs it.

At the end of the HTML build both editions are copied into ``_build/html/_notebooks/jupyter`` and
``_build/html/_notebooks/student`` (``make book`` builds them first). Colab opens notebooks from
GitHub: the Pages workflow publishes both editions to the branch named ``notebooks_branch`` in
_config.yml's REPOSITORY block (folders ``jupyter/`` and ``student/``), and the Colab links open
them there.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from docutils import nodes

SITE_DIR = "_notebooks"
EDITIONS = {"jupyter": "jupyter", "student": "student"}  # folder in _build -> folder on the site


def _chapters(app) -> dict[str, str]:
    """docname -> notebook name, for every chapter of _toc.yml (appendix pages left out)."""
    from tools.make_student import chapters  # the book's root is on sys.path (see _config.yml)

    root = Path(app.srcdir)
    return {p.relative_to(root).with_suffix("").as_posix(): p.stem for p in chapters(root)}


def _repository(app) -> dict:
    return yaml.safe_load((Path(app.srcdir) / "_config.yml").read_text())["repository"]


def colab_url(repository: dict, edition: str, name: str) -> str | None:
    """Colab's address of one chapter's notebook of an edition, on the published branch."""
    url = repository["url"].rstrip("/")
    branch = repository.get("notebooks_branch")
    if not url.startswith("https://github.com/") or not branch:
        return None
    return (f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}"
            f"/blob/{branch}/{EDITIONS[edition]}/{name}.ipynb")


def _insert_line(app, doctree, docname):
    if app.builder.format != "html":
        return
    name = _chapters(app).get(docname)
    sections = list(doctree.findall(nodes.section))
    if name is None or not sections:
        return
    up = "../" * docname.count("/")
    repo = _repository(app)
    links = []
    for edition, what in (("jupyter", "Jupyter notebook"), ("student", "student notebook")):
        link = f'<a href="{up}{SITE_DIR}/{EDITIONS[edition]}/{name}.ipynb" download>{what}</a>'
        colab = colab_url(repo, edition, name)
        if colab:
            link += f' (<a href="{colab}">open in Colab</a>)'
        links.append(link)
    html = (f'<p class="reglab-student"><strong>Run this chapter.</strong> {links[0]}: the chapter as '
            f"Jupyter and Colab show it. {links[1]}: the exercises without their solutions, each answer "
            f"checked when you run it.</p>")
    title = sections[0].next_node(nodes.title)
    position = sections[0].index(title) + 1 if title is not None and title.parent is sections[0] else 0
    sections[0].insert(position, nodes.raw("", html, format="html"))


def _copy_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    root = Path(app.srcdir)
    for built, folder in EDITIONS.items():
        source = root / "_build" / built
        names = [f"{n}.ipynb" for n in _chapters(app).values()]
        missing = [n for n in names if not (source / n).exists()]
        if missing:
            raise FileNotFoundError(f"{source / missing[0]} is not built: run `make notebooks student` "
                                    "before the site (make book does)")
        target = Path(app.outdir) / SITE_DIR / folder
        target.mkdir(parents=True, exist_ok=True)
        for n in names:
            shutil.copy(source / n, target / n)


def setup(app):
    app.connect("doctree-resolved", _insert_line)
    app.connect("build-finished", _copy_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
