r"""The appendix pages a student revises from: the results ledger and the errata of the lecture.

Both are rendered from the registry (:mod:`reglab.derivations.registry`) as MyST Markdown, one
table per chapter (the page puts the chapter's heading above it), which the appendix notebooks
display:

* :func:`run_ledger` runs every check of every derivation and :func:`run_planted` every planted
  error; :func:`ledger_markdown` shows a chapter's results, one row per result: its ID (a link
  to the chapter), its claim with the math typeset (``claim_tex``) and, folded beneath it, each
  check with its two numbers, tolerance and the planted mistakes it rejects; an experiment's row
  shows what its chapter measured. The last column is the verdict.
* :func:`errata_markdown` shows the lecture's own slips in a chapter, one row per slip, the check
  that rejects it folded beneath.

The folds are HTML ``<details>`` around Markdown: on the site they open on a click; in the PDF,
where raw HTML is dropped, their content is a plain nested list under the result. IDs, verdicts
and intervals carry CSS classes that keep them on one line (``_ext/static/reglab-ledger.css``).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from .derivations import ledger
from .derivations.compare import Check
from .derivations.registry import Result, _id_key, errata

__all__ = ["chapters_in_order", "errata_markdown", "ledger_markdown", "run_ledger", "run_planted"]


def _ranked(items, key, chapter_order):
    if chapter_order is None:
        return list(items)
    if isinstance(chapter_order, str) or not all(isinstance(c, str) for c in chapter_order):
        raise TypeError(f"chapter_order must be a list of chapter names, but got {chapter_order!r}")
    rank = {c: i for i, c in enumerate(chapter_order)}
    return sorted(items, key=lambda item: (rank.get(key(item).chapter, len(rank)), _id_key(key(item).id)))


def run_ledger(chapter_order: list[str] | None = None) -> list[tuple[Result, tuple[Check, ...]]]:
    """Run every check of every registered derivation; experiments come with no checks.

    Parameters
    ----------
    chapter_order : list of str, optional
        Chapters in reading order (from ``_toc.yml``); unknown chapters go last.
    """
    results = _ranked(ledger(), lambda r: r, chapter_order)
    return [(r, r.checks() if r.kind == "derivation" else ()) for r in results]


def run_planted(rows: list[tuple[Result, tuple[Check, ...]]]) -> dict[tuple[str, str], bool]:
    """Run every planted error of every derivation: ``{(id, name): rejected}``."""
    return {(r.id, name): not r.check(planted=name).passed
            for r, _ in rows if r.kind == "derivation" for name in r.planted}


def chapters_in_order(rows) -> list[str]:
    """The chapters of ``rows`` (results, or ``(result, ...)`` pairs) in the order they come."""
    seen = []
    for row in rows:
        result = row[0] if isinstance(row, tuple) else row
        if not isinstance(result, Result):
            raise TypeError(f"rows must hold results or (result, ...) pairs, but got {row!r}")
        if result.chapter not in seen:
            seen.append(result.chapter)
    return seen


_MATH = re.compile(r"(\$[^$\n]+\$|`[^`\n]+`)")


def _cell(text) -> str:
    r"""Plain text for the page's Markdown: *, _, backticks, pipes and brackets shown as written.

    >>> print(_cell("alpha*w | (X^T X)_ii"))
    alpha\*w \| (X^T X)\_ii
    """
    text = str(text).replace("\n", " ")
    for ch in ("\\", "|", "*", "_", "`", "<", "[", "]", "$"):
        text = text.replace(ch, "\\" + ch)
    return text


def _nowrap(text: str, css: str = "reglab-nowrap") -> str:
    return f'<span class="{css}">{text}</span>'


def _id(result: Result) -> str:
    """The result's ID on one line, a link to its chapter."""
    return _nowrap(f"{{doc}}`{result.id} <../{result.chapter}>`", "reglab-id")


def _list_table(header: list[str], rows: list[list[str]], widths: list[int], css: str) -> str:
    """A MyST list-table: on the site a table (``css`` styles it); in the PDF a long table whose
    columns take ``widths`` percent of the line."""
    lines = [":::{list-table}", ":header-rows: 1", f":class: {css} longtable",
             f":widths: {' '.join(map(str, widths))}", ""]
    for row in [header, *rows]:
        for j, cell in enumerate(row):
            first, *rest = cell.split("\n")
            lines.append(("* - " if j == 0 else "  - ") + first)
            lines += [f"    {line}" if line else "" for line in rest]
    return "\n".join([*lines, ":::"])


def _folded(summary: str, items: list[str]) -> str:
    """``items`` (Markdown list items) folded under ``summary`` on the site; in the PDF, where raw
    HTML is dropped, a plain list."""
    return "\n".join(["", f'<details class="reglab-fold"><summary>{summary}</summary>', "", *items, "",
                      "</details>"])


NBSP = "\u00a0"
_FAIL = '<span class="reglab-fail">{}</span>'


def _check_item(result: Result, part, check: Check, rejected: Mapping | None) -> tuple[str, int, int]:
    s = check.summary()
    if s["passed"] and check.rounding:
        verdict = f"agree to rounding (below {s['tolerance']})"
    else:
        verdict = (f"difference {_cell(s['error'])}, tolerance {s['tolerance']}: "
                   + ("agree" if s["passed"] else _FAIL.format("DISAGREE")))
    lines = [f"- **{_cell(part.label)}**", f"  - {_cell(check.analytic_label)}: {_cell(s['analytic'])}",
             f"  - {_cell(check.empirical_label)}: {_cell(s['empirical'])}", f"  - {verdict}"]
    total = ok = 0
    for p in part.planted:
        total += 1
        seen = rejected is None or bool(rejected.get((result.id, p.name)))
        ok += seen
        mark = "" if rejected is None else (" (rejected)" if seen else f" ({_FAIL.format('NOT rejected')})")
        slip = ", a slip of the lecture" if p.slip else ""
        lines.append(f"  - planted: *{_cell(p.name)}* ({_cell(p.description)}{slip}){mark}")
    if not part.planted:
        lines.append("  - declares no planted mistake")
    return "\n".join(lines), total, ok


def _derivation_row(result: Result, checks: tuple[Check, ...], rejected: Mapping | None) -> list[str]:
    if len(checks) != len(result.parts):
        raise ValueError(f"{result.id} has {len(result.parts)} checks but {len(checks)} results were given")
    items, total, ok = [], 0, 0
    for part, check in zip(result.parts, checks):
        item, t, k = _check_item(result, part, check, rejected)
        items.append(item)
        total, ok = total + t, ok + k
    agree, n = sum(c.passed for c in checks), len(checks)
    summary = (f"{n} check{'s' * (n != 1)}, " + ("all agree" if agree == n else f"{agree} agree")
               + (f"; {ok} of {total} planted mistake{'s' * (total != 1)} rejected" if total else ""))
    verdict = "confirmed" if agree == n and ok == total else _FAIL.format("not confirmed")
    claim = result.claim_tex or _cell(result.claim)
    return [_id(result), claim + "\n" + _folded(summary, items), _nowrap(verdict, "reglab-verdict")]


def _experiment_row(result: Result, book_dir, glued: bool) -> list[str]:
    o = result.outcome(Path(book_dir))  # read even when glued: a missing record is an error here
    if glued:
        def g(key, fmt):
            return f"{{glue:text}}`../{result.chapter}.ipynb::{result.id}:{key}:{fmt}`"
        effect, low, high, seeds, verdict = (g("effect", "+.3g"), g("low", "+.3g"), g("high", "+.3g"),
                                             g("seeds", "d"), g("verdict", "s"))
    else:
        effect, low, high, seeds, verdict = (f"{o.effect:+.3g}", f"{o.low:+.3g}", f"{o.high:+.3g}", str(o.seeds),
                                             o.verdict)
    unit = f" {_cell(o.unit)}" if o.unit else ""
    interval = _nowrap(f"95{NBSP}% interval [{low}, {high}]")
    measured = (f"*Measured* ({_cell(o.measures)}, expected to {_cell(o.expected)}): "
                f"{_nowrap(effect + unit)}, {interval} over {seeds} seeds.")
    claim = result.claim_tex or _cell(result.claim)
    return [_id(result), f"{claim}\n\n{measured}", _nowrap(verdict, "reglab-verdict")]


def ledger_markdown(rows: list[tuple[Result, tuple[Check, ...]]], rejected: Mapping | None = None, *,
                    chapter: str | None = None, book_dir=None, glued: bool = True) -> str:
    """The results of the ledger as a MyST table: one row per result, its checks folded beneath.

    A derivation's row holds its claim (``claim_tex``, its math typeset) and, folded under a
    one-line summary, each check: its label, the two computations' values, the difference and
    tolerance, and the planted mistakes it rejects. Its verdict is *confirmed* when every check
    agrees and every planted mistake is rejected. An experiment's row holds its claim and what was
    measured (effect, 95 % interval, seeds); its verdict is that of the interval.

    Parameters
    ----------
    rows : output of :func:`run_ledger`
    rejected : dict of {(id, planted name): bool}, optional
        Whether each planted error was seen to fail (from :func:`run_planted`); shown beside it.
    chapter : str, optional
        Only this chapter's results (the ledger page has a section per chapter).
    book_dir : path, optional
        The folder of the chapter notebooks, whose stored outputs hold the experiments' outcomes;
        needed when ``rows`` hold an experiment.
    glued : bool
        An experiment's numbers as MyST-NB glue roles (``{glue:text}`` with ``path::key``) that
        paste them from the chapter when the book is built; they are read here all the same, so
        a chapter without a recorded outcome is an error.

    Returns
    -------
    str
        MyST Markdown (a ``list-table``), for ``IPython.display.Markdown``.
    """
    if rejected is not None and not isinstance(rejected, Mapping):
        raise TypeError(f"rejected must be a dict of {{(id, planted name): bool}}, but got {rejected!r}")
    chosen = [(r, checks) for r, checks in rows if chapter is None or r.chapter == chapter]
    if not chosen:
        raise ValueError(f"no registered result in the chapter {chapter!r}; chapters: {chapters_in_order(rows)}")
    if book_dir is None and any(r.kind == "experiment" for r, _ in chosen):
        raise ValueError("book_dir must be the folder of the chapter notebooks when rows hold an experiment")
    table = [_derivation_row(r, checks, rejected) if r.kind == "derivation" else _experiment_row(r, book_dir, glued)
             for r, checks in chosen]
    return _list_table(["ID", "result", "verdict"], table, [12, 70, 18], "reglab-ledger")


def errata_markdown(chapter_order: list[str] | None = None, *, chapter: str | None = None) -> str:
    """The lecture's own slips as a MyST table, in the order of the chapters: one row per slip.

    Each row names the result that confirms the correct statement (a link to its chapter), what
    the lecture says and where, and what is correct instead; folded beneath, the check run with
    the slip made, which must fail (its difference shown).

    Parameters
    ----------
    chapter_order : list of str, optional
        Chapters in reading order (from ``_toc.yml``); unknown chapters go last.
    chapter : str, optional
        Only this chapter's slips (the errata page has a section per chapter).
    """
    slips = [(r, p) for r, p in _ranked(errata(), lambda rp: rp[0], chapter_order)
             if chapter is None or r.chapter == chapter]
    if not slips:
        raise ValueError(f"no slip of the lecture in the chapter {chapter!r}")
    rows = []
    for result, planted in slips:
        check = result.check(planted=planted.name)
        part = next(p for p in result.parts if planted in p.planted)
        status = "rejected" if not check.passed else _FAIL.format("NOT rejected")
        fold = _folded(f"the check, with the slip made: {status}",
                       [(f"- **{_cell(part.label)}**, computed with the slip ({_cell(planted.description)}): "
                         f"{_cell(check.error_text())}, {status}")])
        rows.append([_id(result), _cell(planted.slip), _cell(planted.correct) + "\n" + fold])
    return _list_table(["ID", "the lecture says", "correct instead"], rows, [12, 44, 44], "reglab-errata")
