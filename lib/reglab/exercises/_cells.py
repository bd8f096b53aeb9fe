"""The two cells a student notebook gives each exercise: the stub and the self-check (private).

The stub declares every name the check reads, each with its meaning and shape in a comment:
first the inputs (data from the chapter, a value the statement fixes, or ``...`` where the
student chooses), then the answers, all ``...`` until the student replaces them. The check cell
passes exactly those names, so it judges only what the stub names.
"""
from __future__ import annotations

import textwrap

__all__: list[str] = []

WIDTH = 79  # the notebooks' line length (ruff format --line-length 79)


def _declare(name: str, value: str, what: str) -> list[str]:
    """``name = value  # what`` on one line if it fits, else the comment wrapped above it."""
    line = f"{name} = {value}  # {what}"
    if len(line) <= WIDTH:
        return [line]
    comment = textwrap.wrap(what, WIDTH, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)
    return comment + [f"{name} = {value}"]


def stub_source(ex) -> str:
    """The stub cell of exercise ``ex`` (an :class:`~reglab.exercises.core.Exercise` with answers)."""
    lines = ["# Your code here; then run the next cell, which checks your answer."]
    if any(i.value == "..." for i in ex.inputs):
        lines += ["# The inputs your answer is judged on: replace each ... by your own choice;",
                  "# keep the others unless a comment says you may change one."]
    elif ex.inputs:
        lines += ["# The inputs your answer is judged on (keep them unless a comment says you",
                  "# may change one):"]
    if ex.inputs:
        for i in ex.inputs:
            lines += _declare(i.name, i.value, i.what)
    lines.append("# Your answer: replace each ... by your result.")
    for a in ex.answers:
        lines += _declare(a.name, "...", a.what)
    return "\n".join(lines) + "\n"


def check_source(ex, answers: str | None = None) -> str:
    """The call ``check_exercise(label, <answers>, <inputs>);`` wrapped at the notebooks' width.

    ``answers`` replaces the answers' keywords (the tests pass a planted answer there).
    """
    parts = [f'"{ex.label}"'] + ([answers] if answers else [f"{a.name}={a.name}" for a in ex.answers])
    parts += [f"{i.name}={i.name}" for i in ex.inputs]
    lines, line = [], "check_exercise("
    for k, part in enumerate(parts):
        piece = part + (", " if k < len(parts) - 1 else ");")
        if len(line) + len(piece) > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = "    "
        line += piece
    return "\n".join(lines + [line])
