"""Check results, comparisons and the registry behind the results ledger.

Every analytic result of the lecture has an ID (``"WD-3"``) and is registered here by the
derivations module of its chapter. A *derivation* registers a zero-argument function that
computes the quantity twice, independently (closed form vs solver, enumeration, autograd,
Monte Carlo or SymPy), and returns a :class:`Check`. An *experiment* is measured in its
chapter and only listed.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = [
    "Check",
    "Result",
    "CheckFailed",
    "compare",
    "derivation",
    "experiment",
    "ledger",
    "get_result",
    "format_number",
    "run_ledger",
    "ledger_markdown",
]


class CheckFailed(AssertionError):
    """A derivation check whose two computations disagree beyond the tolerance."""


def format_number(x: float, digits: int = 6) -> str:
    """Format ``x`` with ``digits`` significant digits; ``-0`` is printed as ``0``.

    >>> format_number(3.14159265, 4)
    '3.142'
    """
    if not math.isfinite(x):
        return str(x)
    s = f"{x:.{digits}g}"
    return "0" if s in ("-0", "-0.0") else s


def _format_values(a: np.ndarray, digits: int) -> str:
    if a.size == 1:
        return format_number(float(a.reshape(())), digits)
    shown = ", ".join(format_number(float(v), digits) for v in a.reshape(-1)[:4])
    more = f", ... ({a.size} values)" if a.size > 4 else ""
    return f"[{shown}{more}]"


def _format_error(error: float, tolerance: float) -> str:
    # Errors far below the tolerance are rounding noise whose digits change with the number
    # of threads; print only the bound so that stored outputs stay reproducible.
    floor = tolerance * 1e-3
    if error < floor or error == 0.0:
        return f"< {floor:.0e}"
    return f"{error:.2g}"


@dataclass(frozen=True)
class Check:
    """Two independent computations of one quantity, and whether they agree.

    Attributes
    ----------
    id : str
        Result ID, e.g. ``"WD-3"``.
    analytic, empirical : numpy.ndarray
        The closed-form value and the independently computed one (float64, any shape).
    analytic_label, empirical_label : str
        How each was computed (``"closed form"``, ``"autograd"``, ``"Monte Carlo"`` ...).
    error : float
        Largest absolute difference.
    tolerance : float
        Largest allowed difference (``atol + rtol * |analytic|``, at the worst entry).
    passed : bool
        Whether every entry agrees within its tolerance.
    digits : int
        Significant digits used when printing the values.
    """

    id: str
    analytic: np.ndarray
    empirical: np.ndarray
    analytic_label: str
    empirical_label: str
    error: float
    tolerance: float
    passed: bool
    digits: int = 6
    note: str = ""

    def __str__(self) -> str:
        status = "agree" if self.passed else "DISAGREE"
        text = (
            f"{self.id}: {self.analytic_label} = {_format_values(self.analytic, self.digits)}"
            f" | {self.empirical_label} = {_format_values(self.empirical, self.digits)}"
            f" | max diff {_format_error(self.error, self.tolerance)}"
            f" (tolerance {self.tolerance:.1e}): {status}"
        )
        return text + (f"\n    {self.note}" if self.note else "")

    def __repr__(self) -> str:
        return str(self)

    def assert_passed(self) -> "Check":
        """Raise :class:`CheckFailed` (with both numbers and the tolerance) unless passed."""
        if not self.passed:
            raise CheckFailed(str(self))
        return self

    def summary(self) -> dict:
        """Plain-text fields for tables (analytic and empirical printed, not raw)."""
        return {
            "analytic": _format_values(self.analytic, self.digits),
            "empirical": _format_values(self.empirical, self.digits),
            "error": _format_error(self.error, self.tolerance),
            "tolerance": f"{self.tolerance:.1e}",
            "passed": self.passed,
        }


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def compare(
    id: str,
    analytic,
    empirical,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    analytic_label: str = "closed form",
    empirical_label: str = "computed",
    digits: int = 6,
    note: str = "",
) -> Check:
    """Compare two independent computations entry by entry, like ``numpy.allclose``.

    Parameters
    ----------
    id : str
        The result ID being checked.
    analytic, empirical : float, array or Tensor
        The two computations; they must have the same shape.
    atol, rtol : float
        Absolute and relative tolerance: entry ``i`` passes if
        ``|analytic_i - empirical_i| <= atol + rtol * |analytic_i|``. For a Monte Carlo
        estimate, ``atol`` should come from a confidence interval (say so in ``note``).
    analytic_label, empirical_label : str
        How each number was obtained; printed beside it.
    digits : int
        Significant digits printed.

    Returns
    -------
    Check

    Examples
    --------
    >>> compare("EX-1", 1.0, 1.0 + 1e-12, atol=1e-9).passed
    True
    """
    if not isinstance(id, str) or not id:
        raise TypeError(f"id must be a non-empty string such as 'WD-3', but got {id!r}")
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol < 0:
            raise ValueError(f"{name} must be a finite number >= 0, but got {tol!r}")
    if atol == 0 and rtol == 0:
        raise ValueError("atol and rtol cannot both be 0: a check needs a stated tolerance")
    a, e = _as_array(analytic), _as_array(empirical)
    if a.shape != e.shape:
        raise ValueError(
            f"analytic and empirical must have the same shape, but got {a.shape} and {e.shape}"
        )
    diff = np.abs(a - e)
    allowed = atol + rtol * np.abs(a)
    finite = np.isfinite(a).all() and np.isfinite(e).all()
    passed = bool(finite and (diff <= allowed).all())
    error = float(diff.max()) if diff.size else 0.0
    if not finite:
        error = float("nan")
    # Report the tolerance at the entry that came closest to failing.
    worst = int(np.argmax(diff - allowed)) if diff.size else 0
    tolerance = float(allowed.reshape(-1)[worst]) if diff.size else float(atol)
    return Check(
        id=id,
        analytic=a,
        empirical=e,
        analytic_label=analytic_label,
        empirical_label=empirical_label,
        error=error,
        tolerance=tolerance,
        passed=passed,
        digits=digits,
        note=note,
    )


@dataclass(frozen=True)
class Result:
    """One entry of the results ledger."""

    id: str
    chapter: str
    claim: str
    kind: str  # "derivation" or "experiment"
    checker: Callable[[], Check] | None = field(default=None, repr=False, compare=False)

    def check(self) -> Check:
        """Run the derivation check (experiments are measured in their chapter)."""
        if self.checker is None:
            raise ValueError(
                f"{self.id} is an experiment, measured in the chapter '{self.chapter}'; "
                "it has no fast check"
            )
        result = self.checker()
        if not isinstance(result, Check) or result.id != self.id:
            raise TypeError(f"the checker of {self.id} must return a Check with id {self.id!r}")
        return result


_REGISTRY: dict[str, Result] = {}


def _register(result: Result) -> None:
    known = _REGISTRY.get(result.id)
    if known is not None and (known.chapter, known.claim) != (result.chapter, result.claim):
        raise ValueError(f"result ID {result.id} is registered twice with different claims")
    _REGISTRY[result.id] = result


def derivation(id: str, *, chapter: str, claim: str):
    """Register a zero-argument function returning a :class:`Check` as result ``id``.

    >>> @derivation("EX-2", chapter="example", claim="1 + 1 = 2.")
    ... def check_ex2():
    ...     return compare("EX-2", 2.0, 1.0 + 1.0, atol=1e-12)
    """

    def decorate(fn: Callable[[], Check]) -> Callable[[], Check]:
        _register(Result(id=id, chapter=chapter, claim=claim, kind="derivation", checker=fn))
        return fn

    return decorate


def experiment(id: str, *, chapter: str, claim: str) -> Result:
    """Register result ``id`` as an experiment measured in its chapter."""
    result = Result(id=id, chapter=chapter, claim=claim, kind="experiment")
    _register(result)
    return result


def _id_key(id: str):
    prefix, _, number = id.rpartition("-")
    return (prefix, int(number) if number.isdigit() else number)


def ledger() -> list[Result]:
    """Every registered result, grouped by chapter and ordered by ID.

    Imports every module of ``reglab.derivations``, so each registers its results.
    """
    import reglab.derivations as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "core":
            importlib.import_module(f"{package.__name__}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda r: (r.chapter, _id_key(r.id)))


def get_result(id: str) -> Result:
    """The registered result with this ID (raises ``KeyError`` naming the known IDs)."""
    ledger()
    if id not in _REGISTRY:
        raise KeyError(f"no result registered as {id!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[id]


def run_ledger(chapter_order: list[str] | None = None) -> list[tuple[Result, Check | None]]:
    """Run every registered derivation check; experiments are listed with no check.

    Parameters
    ----------
    chapter_order : list of str, optional
        Chapters in reading order (from ``_toc.yml``); unknown chapters go last.
    """
    results = ledger()
    if chapter_order is not None:
        rank = {c: i for i, c in enumerate(chapter_order)}
        results = sorted(results, key=lambda r: (rank.get(r.chapter, len(rank)), _id_key(r.id)))
    return [(r, r.check() if r.kind == "derivation" else None) for r in results]


def ledger_markdown(rows: list[tuple[Result, Check | None]]) -> str:
    """The results ledger as a Markdown table (ID, claim, chapter, numbers, tolerance, pass)."""

    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| ID | claim | chapter | analytic | empirical | max diff | tolerance | pass |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result, check in rows:
        # A link in a rendered output is not resolved by Sphinx: point at the built page.
        chapter = f"[{result.chapter}](../{result.chapter}.html)"
        if check is None:
            lines.append(f"| {result.id} | {cell(result.claim)} | {chapter} | experiment, measured in the chapter | | | | |")
            continue
        s = check.summary()
        lines.append(
            f"| {result.id} | {cell(result.claim)} | {chapter} | {cell(check.analytic_label)}: {cell(s['analytic'])} "
            f"| {cell(check.empirical_label)}: {cell(s['empirical'])} | {s['error']} | {s['tolerance']} "
            f"| {'yes' if s['passed'] else '**NO**'} |"
        )
    return "\n".join(lines)
