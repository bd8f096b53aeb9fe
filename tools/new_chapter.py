"""Create a chapter notebook with the book's standard opening cells.

Usage: python tools/new_chapter.py NAME "Title"      -> book/NAME.ipynb

The notebook starts with (1) the install cell, which installs reglab from the repository
named in _config.yml when the chapter is opened alone (Colab) and does nothing otherwise,
(2) the title, (3) imports, seeding and the figure style. Add the chapter to _toc.yml, write
it, then run `make outputs NB=book/NAME.ipynb`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def repository() -> tuple[str, str]:
    """The repository URL and branch from the marked block of _config.yml."""
    text = (ROOT / "_config.yml").read_text()
    url = re.search(r"^\s+url:\s*(\S+)", text, re.M).group(1)
    branch = re.search(r"^\s+branch:\s*(\S+)", text, re.M).group(1)
    return url, branch


def install_cell_source() -> str:
    # Formatted as ruff formats it at 79 columns (tools/tidy_notebooks.py leaves it unchanged).
    url, branch = repository()
    return (
        "# Opened on its own (Colab, a download)? Install the book's library first.\n"
        "# Where reglab is installed already (the book's environment, Binder), this\n"
        "# cell does nothing.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("reglab") is None:\n'
        f'    url = "git+{url}@{branch}"\n'
        "    subprocess.check_call(\n"
        '        [sys.executable, "-m", "pip", "install", "--quiet", f"reglab @ {url}"]\n'
        "    )"
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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(new_chapter(sys.argv[1], sys.argv[2]))
