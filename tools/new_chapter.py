"""Create a chapter notebook with the book's standard opening cells.

Usage: python -m tools.new_chapter NAME "Title"      -> book/NAME.ipynb
       python -m tools.new_chapter --install-cells  (every chapter's install cell re-created
                                                     from _config.yml's repository block)

The notebook starts with (1) the install cell, which installs reglab at the pinned release of
the repository named in _config.yml when the chapter is opened alone (Colab) and does nothing
otherwise (REGLAB_INSTALL_FROM, a pip URL, replaces the source: CI installs its checkout),
(2) the title, (3) imports, seeding and the figure style. Add the chapter to _toc.yml, write
it, then run `make outputs NB=book/NAME.ipynb`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent


def repository() -> tuple[str, str, str]:
    """The repository URL, branch and pinned release from the marked block of _config.yml."""
    block = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return block["url"], block["branch"], str(block["release"])


def install_cell_source() -> str:
    # Formatted as ruff formats it at 79 columns (tools/tidy_notebooks.py leaves it unchanged).
    url, _, release = repository()
    return (
        "# Opened on its own (Colab, a download)? Install the book's library first:\n"
        f"# release {release} of the book's repository. Where reglab is installed\n"
        "# already (the book's environment, Binder), this cell does nothing.\n"
        "import importlib.util\n"
        "import os\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("reglab") is None:\n'
        f'    source = "git+{url}@{release}"\n'
        "    # REGLAB_INSTALL_FROM (a pip URL) replaces it: CI installs its checkout.\n"
        '    source = os.environ.get("REGLAB_INSTALL_FROM", source)\n'
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]\n'
        '    subprocess.check_call([*pip, f"reglab @ {source}"])'

    )


def new_chapter(name: str, title: str) -> Path:
    path = ROOT / "book" / f"{name}.ipynb"
    if path.exists():
        raise SystemExit(f"{path} exists already")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    install = nbformat.v4.new_code_cell(install_cell_source())
    install.metadata["tags"] = ["remove-cell"]
    nb.cells = [
        install,
        nbformat.v4.new_markdown_cell(f"(chapter-{name})=\n# {title}"),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nimport torch\n\n"
            "from reglab import seed_everything, use_book_style\n\n"
            "seed_everything(0)\nuse_book_style()"
        ),
    ]
    nbformat.write(nb, path)
    return path


def write_install_cells(root: Path = ROOT) -> list[Path]:
    """Put the current install cell first in every chapter (after the repository block changed)."""
    changed = []
    for path in sorted((root / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        if first.cell_type == "code" and "remove-cell" in first.metadata.get("tags", []):
            if first.source != install_cell_source():
                first.source = install_cell_source()
                nbformat.write(nb, path)
                changed.append(path)
    return changed


if __name__ == "__main__":
    if sys.argv[1:] == ["--install-cells"]:
        for path in write_install_cells():
            print(f"{path}: install cell re-created")
    elif len(sys.argv) == 3:
        print(new_chapter(sys.argv[1], sys.argv[2]))
    else:
        raise SystemExit(__doc__)
