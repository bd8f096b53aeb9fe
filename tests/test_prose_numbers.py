"""Numbers in chapter prose are pasted from the code (glue), not typed by hand.

A decimal, a number with a thousands separator or a percentage in a chapter's prose is an error
unless it is glued (``{glue:text}``), stands in a sentence that cites its source (``{cite}``), is a
confidence level (95 %, 99.9 % ...), or stands in an exercise's statement (its given data).
"""
import json
import re

import pytest

from conftest import ROOT

CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.ipynb"))
CONFIDENCE = re.compile(r"\b(90|95|99|99\.9|99\.99)\s?%")
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?\s?%|\d+\.\d+|\d{1,3}(?:,\d{3})+)")
ROLE = re.compile(r"\{[a-z][\w:-]*\}`[^`]*`")
FENCE = re.compile(r"^(```+|:::+)\s*(\{?[\w-]*\}?)(.*)$")


def _prose_lines(text: str):
    """The lines of a markdown cell that are prose, with the kind of block each stands in."""
    stack = []
    for line in text.splitlines():
        m = FENCE.match(line.strip())
        if m:
            fence, name = m.group(1), m.group(2)
            if stack and stack[-1][0] == fence and not name:
                stack.pop()
                continue
            if name:
                stack.append((fence, name))
                continue
        if stack and not stack[-1][1].startswith("{"):
            continue  # a code block
        if stack and line.strip().startswith(":") and re.match(r"^:\w[\w-]*:", line.strip()):
            continue  # a directive option
        yield line, [name for _, name in stack]


def offending_numbers(text: str) -> list[str]:
    """Typed numbers in ``text`` (a markdown cell) that the prose rule does not allow."""
    found = []
    lines = [(line, blocks) for line, blocks in _prose_lines(text) if "{exercise}" not in blocks]
    prose = "\n".join(line for line, _ in lines)
    prose = re.sub(r"\$\$.*?\$\$", " ", prose, flags=re.S)  # display math: formulas, not results
    prose = re.sub(r"^\(.*\)=$", " ", prose, flags=re.M)  # labels
    prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z(*])|\n\s*\n", prose):
        if "{cite" in sentence:
            continue
        s = ROLE.sub(" ", sentence)
        s = re.sub(r"``?[^`]*``?", " ", s)  # inline code
        s = CONFIDENCE.sub(" ", s)
        found += [m.group(1) for m in NUMBER.finditer(s.replace("$", " "))]
    return found


def test_rule_finds_typed_numbers_and_spares_glued_cited_and_given_ones():
    assert offending_numbers("The gain is 1.7 points.") == ["1.7"]
    assert offending_numbers("It costs 5.5 % on digits.") == ["5.5 %"]
    assert offending_numbers("We train 4,736 weights.") == ["4,736"]
    assert offending_numbers("The gain is {glue:text}`gain:.1f` points, with a 95 % interval.") == []
    assert offending_numbers("Dropout gave 1.2 % on SVHN {cite}`srivastava2014`. We measure.") == []
    assert offending_numbers("```{exercise}\n:label: ex-1\nTake $p = 0.5$.\n```") == []
    assert offending_numbers("```python\nx = 0.5\n```") == []
    assert offending_numbers("a factor $0.67$ at last") == ["0.67"]
    assert offending_numbers("$$\nw = 0.5 x\n$$ (eq-a)") == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_typed_number_in_chapter_prose(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            problems += [f"cell {i}: {n!r}" for n in offending_numbers(text)]
    assert not problems, (
        f"{path.name}: numbers typed in prose (glue them from the cell that computes them, "
        f"or cite their source in the same sentence): {problems}"
    )


def _figure_texts(cell):
    """A code cell's figure caption and alt text (MyST-NB cell metadata), if any."""
    meta = cell.get("metadata", {}).get("mystnb", {})
    for kind, text in (("caption", meta.get("figure", {}).get("caption")), ("alt text", meta.get("image", {}).get("alt"))):
        if text:
            yield kind, text


def test_rule_reads_captions_and_alt_text():
    cell = {"metadata": {"mystnb": {"figure": {"caption": "Falls from 0.1 to 0.0001."},
                                    "image": {"alt": "Twenty dots."}}}}
    assert [(k, offending_numbers(t)) for k, t in _figure_texts(cell)] == [("caption", ["0.1", "0.0001"]),
                                                                           ("alt text", [])]


LITERAL = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:e-?\d+)?)")


def _as_float(text: str) -> float:
    return float(text.replace("%", "").replace(",", "").strip())


def _decimals(text: str) -> int:
    t = text.replace("%", "").replace(",", "").strip()
    return len(t.split(".")[1]) if "." in t else 0


def computed_values(nb) -> tuple[set[float], list[float]]:
    """(numbers written in the notebook's code: the parameters, glued values: what it computed)."""
    literals, glued = set(), []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        literals |= {float(m) for m in LITERAL.findall("".join(cell["source"]))}
        for out in cell.get("outputs", []):
            scrap = out.get("metadata", {}).get("scrapbook", {})
            if scrap.get("name"):
                raw = "".join(out["data"].get(scrap.get("mime_prefix", "") + "text/plain", ""))
                try:
                    glued.append(float(raw.strip("'\"")))
                except ValueError:
                    pass
    return literals, glued


def unexplained(number: str, literals: set[float], glued: list[float]) -> bool:
    """A typed number that is neither a parameter of the code nor a glued value at its precision."""
    value, places = _as_float(number), _decimals(number)
    if value in literals or (number.endswith("%") and value / 100 in literals):
        return False
    for v in glued:
        for candidate in (v, 100 * v):
            if f"{candidate:.{places}f}" == f"{value:.{places}f}":
                return False
    return True


def test_caption_rule_allows_parameters_and_glued_values():
    literals, glued = {0.1}, [0.3712, 0.0637]
    assert not unexplained("0.1", literals, glued)  # a parameter the code sets
    assert not unexplained("0.37", literals, glued) and not unexplained("37 %", literals, glued)
    assert unexplained("0.0001", literals, glued)  # typed: neither set nor computed


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_measured_value_typed_in_a_caption_or_alt_text(path):
    """A caption or alt text cannot paste a glued number; a number it types must be a parameter the
    code sets or a value the notebook glues (at the precision typed), or it cites its source."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    literals, glued = computed_values(nb)
    problems = [f"cell {i} {kind}: {n!r}" for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
                for kind, text in _figure_texts(cell) for n in offending_numbers(text)
                if unexplained(n, literals, glued)]
    assert not problems, (f"{path.name}: measured values typed in figure texts (glue them in the cell that "
                          f"computes them, or describe the figure without them): {problems}")
