"""Compare the stored outputs of notebooks with those of an earlier commit: did a number change?

Usage: python -m tools.compare_outputs [--before REF] [PATH ...]   (files or folders; default: book)

For each notebook, against the same notebook at git revision REF (default: the tag
``house-before``, the book before its page plumbing moved into ``reglab.book``):

* printed text: every code cell's stream output and text/plain result, concatenated over the
  notebook with the set-up cells left out, compared with whitespace (line wrapping, indents,
  no-break spaces) normalised. Reported: identical, or each differing stretch.
* numbers in the prose: every ``{glue:text}`key:format``` of the Markdown cells, formatted from
  the stored glue values before and after. Reported: each key whose printed text differs.

Exit status 1 if anything differs, so the tool can gate a refactoring that must not change what
the book prints.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`]+)`")
SETUP_TAGS = {"remove-cell"}


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _is_setup(cell) -> bool:
    src = _text(cell["source"])
    tags = set(cell.get("metadata", {}).get("tags", []))
    return bool(tags & SETUP_TAGS) or "seed_everything(0)" in src


def _glued(out) -> tuple[str, object] | None:
    meta = out.get("metadata", {})
    scrap = meta.get("scrapbook", {})
    if scrap.get("name"):
        raw = out["data"][scrap.get("mime_prefix", "") + "text/plain"]
        return scrap["name"], ast.literal_eval(_text(raw))
    if "reglab" in meta and "glue" in meta["reglab"]:
        return meta["reglab"]["glue"], meta["reglab"]["value"]
    return None


def read(nb: dict) -> tuple[str, dict]:
    """(printed text of the non-set-up code cells, {glue name: value})."""
    printed, glued = [], {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            g = _glued(out)
            if g is not None:
                glued[g[0]] = g[1]
                continue
            if _is_setup(cell):
                continue
            if out["output_type"] == "stream":
                printed.append(_text(out["text"]))
            elif "text/plain" in out.get("data", {}) and "image/png" not in out["data"]:
                printed.append(_text(out["data"]["text/plain"]))
    return "\n".join(printed), glued


def _words(text: str) -> list[str]:
    return text.replace("\u00a0", " ").split()


def _format(value, spec: str) -> str:
    try:
        return format(value, spec) if spec else str(value)
    except (TypeError, ValueError) as err:
        return f"<cannot format {value!r} with {spec!r}: {err}>"


def prose_numbers(nb: dict, glued: dict) -> dict[str, str]:
    """Every glue role of the notebook's Markdown, as the page prints it."""
    shown = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for role in GLUE_ROLE.findall(_text(cell["source"])):
            if "::" in role:  # pasted from another notebook: checked there
                continue
            key, spec = (role, "") if role in glued or ":" not in role else role.rsplit(":", 1)
            shown[role] = _format(glued[key], spec) if key in glued else "<missing>"
    return shown


def compare(before: dict, after: dict) -> list[str]:
    """What differs between two versions of one notebook, one line per difference."""
    problems = []
    text_b, glue_b = read(before)
    text_a, glue_a = read(after)
    wb, wa = _words(text_b), _words(text_a)
    if wb != wa:
        sm = difflib.SequenceMatcher(a=wb, b=wa, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op != "equal":
                problems.append(f"printed: {' '.join(wb[i1:i2])!r} -> {' '.join(wa[j1:j2])!r}")
    shown_b, shown_a = prose_numbers(before, glue_b), prose_numbers(after, glue_a)
    for role in sorted(set(shown_b) | set(shown_a)):
        if shown_b.get(role) != shown_a.get(role):
            problems.append(f"prose {{glue:text}}`{role}`: {shown_b.get(role)!r} -> {shown_a.get(role)!r}")
    return problems


def _at_revision(ref: str, path: Path) -> dict | None:
    rel = path.resolve().relative_to(ROOT).as_posix()
    run = subprocess.run(["git", "show", f"{ref}:{rel}"], cwd=ROOT, capture_output=True, text=True, check=False)
    return json.loads(run.stdout) if run.returncode == 0 else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="house-before", help="git revision to compare with")
    parser.add_argument("paths", nargs="*", default=["book"])
    args = parser.parse_args(argv)
    notebooks = []
    for p in map(Path, args.paths):
        notebooks += [p] if p.suffix == ".ipynb" else sorted(p.glob("*.ipynb"))
    differing = 0
    for path in notebooks:
        before = _at_revision(args.before, path)
        if before is None:
            print(f"{path}: new (nothing to compare with)")
            continue
        problems = compare(before, json.loads(path.read_text(encoding="utf-8")))
        differing += bool(problems)
        print(f"{path}: {'identical' if not problems else f'{len(problems)} differences'}")
        for line in problems:
            print("    " + line[:300])
    print(f"{len(notebooks)} notebooks, {differing} with differences")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
