"""Write the Jupyter-native edition: each chapter as Jupyter, JupyterLab and Colab render it.

    python -m tools.make_notebooks [--out _build/jupyter]

The chapters are MyST notebooks written for the site; a plain Jupyter shows their roles and
directives as raw text. This edition is made from the resolved documents, not the sources:

1. Sphinx reads the book as for the site and QuantEcon's sphinx-tojupyter (builder ``jupyter``)
   writes every page's resolved document tree as Markdown: glued values pasted, equations and
   exercises numbered as on the site, citations author-year, directives gone
   (``_build/jupyter-raw``).
2. Each chapter's code cells come back from its stored notebook, in order, with their outputs and
   tags (the converter writes them as Markdown code blocks); MyST-NB's glue records are dropped
   (their values are in the text). Folded cells stay folded (``jupyter.source_hidden``, Colab's
   form view). The install cell comes first.
3. Citations link to a *References* list at the end of the notebook; links to the book's other
   chapters point at their notebooks, links to the appendix at the site (or become plain text).
4. Each solution's text is folded in a ``<details>`` block. Exercise and solution cells carry
   ``metadata.reglab`` (``{"statement": label}`` / ``{"solution": label}``), which
   ``tools.make_student`` reads to build the student notebooks from this edition.

:func:`myst_leftovers` finds raw MyST in a notebook; the tests fail on any.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "_build" / "jupyter-raw"
OUT = ROOT / "_build" / "jupyter"

FENCE = re.compile(r"^```python[ \t]*\n.*?^```[ \t]*$\n?", re.M | re.S)
CITATION = re.compile(r"\[\[([^\]]+?)\]\(appendix/bibliography\.ipynb#(id\d+)\)\]")
LINK = re.compile(r"\]\(((?:appendix/)?[\w-]+)\.ipynb(#[^)]*)?\)")
SOLUTION = re.compile(r"^(#+) Solution to\[ (Exercise [\d.]+)\]\(#([\w-]+)\)", re.M)
EXERCISE = re.compile(r"^#+ (Exercise [\d.]+)\s*$", re.M)
BIB_ENTRY = re.compile(r"<a id='(id\d+)'></a>\s*\n\\\[[^\]]*\\\] (.+)")

#: What a plain Jupyter would show as raw MyST: roles, directive fences, targets, options.
LEFTOVERS = {
    "role": re.compile(r"\{[a-z][\w:-]*\}`"),
    "directive fence": re.compile(r"^\s*(`{3,}|:{3,})\s*\{[a-z]", re.M),
    "colon fence": re.compile(r"^:{3,}", re.M),
    "label target": re.compile(r"^\([\w.-]+\)=\s*$", re.M),
    "equation label": re.compile(r"\$\$[ \t]*\([\w.-]+\)[ \t]*$", re.M),
    "directive option": re.compile(r"^:(label|class|name|nonumber|tags|width|align|dropdown|class-container):", re.M),
}


def myst_leftovers(nb) -> dict[str, int]:
    """How many raw MyST constructs each kind the Markdown cells of ``nb`` show (0 everywhere is right)."""
    text = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                     for c in nb["cells"] if c["cell_type"] == "markdown")
    return {kind: len(pattern.findall(text)) for kind, pattern in LEFTOVERS.items()}


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks listed in _toc.yml, in its order (appendix pages left out)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [root / f"{f}.ipynb" for f in files if not f.startswith("book/appendix/") and (root / f"{f}.ipynb").exists()]


def site_url(root: Path = ROOT) -> str:
    """The published site's address from _config.yml (``html.baseurl``), or "" if none is set."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return (config.get("html", {}) or {}).get("baseurl", "").rstrip("/")


def build_raw(root: Path = ROOT, raw: Path = RAW) -> Path:
    """Run Sphinx with sphinx-tojupyter over the book; the folder of the raw notebooks."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    sphinx = config.setdefault("sphinx", {})
    # The extensions load from the book's root; this copy of the config lives elsewhere.
    sphinx["local_extensions"] = {name: str(root) for name in sphinx.get("local_extensions", {})}
    sphinx["extra_extensions"] = [*sphinx.get("extra_extensions", []), "sphinx_tojupyter"]
    sphinx.setdefault("config", {}).update(tojupyter_drop_solutions=False, tojupyter_drop_tests=True)
    raw.mkdir(parents=True, exist_ok=True)
    derived = raw / "_config.yml"
    derived.write_text(yaml.safe_dump(config, sort_keys=False))
    log = raw / "build.log"
    with log.open("w") as out:
        run = subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
                              "build", str(root), "--config", str(derived),
                              "--builder", "custom", "--custom-builder", "jupyter", "--path-output", str(raw)],
                             stdout=out, stderr=subprocess.STDOUT, check=False)
    built = raw / "_build" / "jupyter"
    if run.returncode != 0 or not (built / "book").is_dir():
        raise RuntimeError(f"sphinx-tojupyter failed; see {log}:\n" + "\n".join(log.read_text().splitlines()[-20:]))
    return built


def bibliography(raw_dir: Path) -> dict[str, str]:
    """``{id: formatted entry}`` from the converter's bibliography page."""
    nb = json.loads((raw_dir / "book" / "appendix" / "bibliography.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    return dict(BIB_ENTRY.findall(text))


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _visible_code(nb) -> list:
    """The code cells the site shows (the converter keeps exactly these), in order."""
    return [c for c in nb.cells if c.cell_type == "code"
            and not {"remove-cell", "remove-input"} & set(c.metadata.get("tags", []))]


def _code_cell(cell) -> nbformat.NotebookNode:
    cell = copy.deepcopy(cell)
    cell.outputs = [o for o in cell.get("outputs", [])
                    if not any(k.startswith("application/papermill.record/") for k in o.get("data", {}))]
    tags = set(cell.metadata.get("tags", []))
    if tags & {"hide-input", "hide-cell"}:
        cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        cell.metadata["cellView"] = "form"  # Colab: the code folded under its title
        if not cell.source.startswith("# @title"):
            cell.source = "# @title Folded code (double-click to show it)\n" + cell.source
    return cell


def _fix_links(text: str, cited: dict[str, str], bib: dict[str, str], url: str) -> str:
    def citation(m):
        label, key = m.group(1), m.group(2)
        cited.setdefault(key, label)
        return f"[[{label}](#ref-{key})]"

    def link(m):
        page, anchor = m.group(1), m.group(2) or ""
        if page.startswith("appendix/"):
            return f"]({url}/book/{page}.html{anchor})" if url else "]()"
        return f"]({page}.ipynb{anchor})"

    text = CITATION.sub(citation, text)
    text = LINK.sub(link, text)
    return re.sub(r"\[([^\]]*)\]\(\)", r"\1", text)  # links with nowhere to go: their text


def _markdown(text: str, **reglab) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
    if reglab:
        cell.metadata["reglab"] = reglab
    return cell


def native_notebook(source: Path, raw_nb: dict, bib: dict[str, str], url: str = "") -> nbformat.NotebookNode:
    """One chapter's Jupyter-native notebook from its source and the converter's Markdown."""
    src = nbformat.read(source, as_version=4)
    code = iter(_visible_code(src))
    first = src.cells[0]
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(src.metadata))
    if first.cell_type == "code" and "remove-cell" in first.metadata.get("tags", []):
        install = copy.deepcopy(first)
        install.outputs = []
        nb.cells.append(install)  # the install cell: first, visible, as in the book's notebook
    cited: dict[str, str] = {}
    role: dict = {}
    for cell in raw_nb["cells"]:
        text = _source(cell)
        pos = 0
        pieces = []
        for m in FENCE.finditer(text):
            pieces.append(("markdown", text[pos:m.start()]))
            pieces.append(("code", None))
            pos = m.end()
        pieces.append(("markdown", text[pos:]))
        for kind, piece in pieces:
            if kind == "code":
                try:
                    cell_out = _code_cell(next(code))
                except StopIteration:
                    raise ValueError(f"{source.name}: the converter shows more code cells than the notebook has") from None
                if role:
                    cell_out.metadata["reglab"] = dict(role)
                nb.cells.append(cell_out)
                continue
            piece = _fix_links(piece, cited, bib, url)
            if not piece.strip() or re.fullmatch(r"\s*(<a id='[^']*'></a>\s*)+", piece):
                if piece.strip():  # an anchor alone: keep it with the next cell
                    nb.cells.append(_markdown(piece))
                continue
            sol = SOLUTION.search(piece)
            ex = EXERCISE.search(piece)
            if sol:
                role = {"solution": sol.group(3)}
                piece = SOLUTION.sub(r"\1 Solution to \2", piece)
                head, _, body = piece.partition("\n")
                piece = (f"{head}\n\n<details>\n<summary>Show the solution</summary>\n\n{body.strip()}\n\n"
                         "</details>")
            elif ex or re.match(r"^#+ ", piece.lstrip()):
                role = {"statement": _exercise_label(ex.group(1), raw_nb)} if ex else {}
            nb.cells.append(_markdown(piece, **role))
    left = sum(1 for _ in code)
    if left:
        raise ValueError(f"{source.name}: {left} code cells of the notebook do not appear in the converter's output")
    if cited:
        refs = "\n".join(f"- <a id='ref-{key}'></a>**{label}.** {bib.get(key, '').strip()}" for key, label in
                         sorted(cited.items(), key=lambda kv: kv[1]))
        nb.cells.append(_markdown(f"## References\n\n{refs}"))
    _merge_anchor_cells(nb)
    nb.metadata.setdefault("reglab", {})["edition"] = "jupyter"
    return nb


def _exercise_label(number: str, raw_nb: dict) -> str:
    text = "\n".join(_source(c) for c in raw_nb["cells"])
    m = re.search(rf"Solution to\[ {re.escape(number)}\]\(#([\w-]+)\)", text)
    return m.group(1) if m else number


def _merge_anchor_cells(nb) -> None:
    """An anchor-only Markdown cell joins the cell after it."""
    cells = []
    carry = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.fullmatch(r"\s*(<a id='[^']*'></a>\s*)+", cell.source):
            carry += cell.source.strip() + "\n"
            continue
        if carry and cell.cell_type == "markdown":
            cell.source = carry + cell.source
        elif carry:
            cells.append(_markdown(carry))
        carry = ""
        cells.append(cell)
    if carry:
        cells.append(_markdown(carry))
    nb.cells = cells


def write_notebooks(out: Path = OUT, *, root: Path = ROOT, raw_dir: Path | None = None) -> list[Path]:
    """Write every chapter's Jupyter-native notebook into ``out``; the paths written."""
    raw_dir = raw_dir or build_raw(root)
    bib = bibliography(raw_dir)
    url = site_url(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in chapters(root):
        raw_nb = json.loads((raw_dir / "book" / source.name).read_text())
        nb = native_notebook(source, raw_nb, bib, url)
        found = {k: v for k, v in myst_leftovers(nb).items() if v}
        if found:
            raise ValueError(f"{source.name}: raw MyST left in the Jupyter edition: {found}")
        nbformat.validate(nb)
        path = out / source.name
        nbformat.write(nb, path)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--raw", type=Path, default=None, help="use converter output already built here")
    args = parser.parse_args(argv)
    written = write_notebooks(args.out, raw_dir=args.raw)
    print(f"{len(written)} Jupyter-native notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
