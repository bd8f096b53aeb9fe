"""Check: two independent computations of one quantity, compared on the one comparison path.

:func:`compare` (exact or deterministic values, per-entry ``atol``/``rtol``) and
:func:`compare_mc` (Monte Carlo estimates, each entry within its own standard error) are the only
places in the book where two computations are compared. Each returns a :class:`Check`, whose
``passed`` is decided by the same difference and tolerance that it prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._lazy import lazy_module

_special = lazy_module("scipy.special")

__all__ = ["ROUNDING", "Check", "CheckFailed", "bonferroni_z", "compare", "compare_mc", "format_number"]


# A difference this small relative to the values compared is floating-point rounding: its digits
# change from one CPU (or thread count) to the next, so it is printed as a bound, never raw.
ROUNDING = 1e-9


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


def _format_values(a: np.ndarray, digits: int, shown: int = 4) -> str:
    flat = a.reshape(-1)
    scale = float(np.abs(flat).max()) if flat.size else 0.0
    # Entries at rounding level relative to the largest one are zeros computed two ways.
    def one(v: float) -> str:
        return "0" if abs(v) <= ROUNDING * 1e-3 * scale else format_number(v, digits)

    if a.size == 1:
        return one(float(flat[0]))
    text = ", ".join(one(float(v)) for v in flat[:shown])
    more = f", ... ({a.size} values)" if a.size > shown else ""
    return f"[{text}{more}]"


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
        The absolute difference at the deciding entry: the entry with the largest ratio of
        difference to allowed difference.
    tolerance : float
        The allowed difference at that same entry.
    passed : bool
        Whether every entry agrees within its own tolerance.
    rounding : bool
        Whether the difference is at floating-point rounding level (then only a bound is printed).
    digits : int
        Significant digits used when printing the values.
    note : str
        How the tolerance was chosen, or what else the reader should know.
    label : str
        Which part of the result this is (``"ISTA"``), when a result is checked several ways.
    kind : {"agree", "bound"}
        ``"agree"`` (:func:`compare`, :func:`compare_mc`): passed exactly when ``error <=
        tolerance``. ``"bound"`` (``exceeds``): ``empirical`` must lie strictly above
        ``analytic`` everywhere; ``error`` is the worst shortfall (negative: the smallest margin),
        ``tolerance`` is 0, and it passed exactly when ``error < 0``.
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
    label: str = ""
    rounding: bool = False
    kind: str = "agree"

    @property
    def decided(self) -> bool:
        """The verdict that the printed difference and tolerance imply (equals ``passed``)."""
        return self.error < 0 if self.kind == "bound" else self.error <= self.tolerance

    @property
    def ratio(self) -> float:
        """Difference over allowed difference at the deciding entry (passes if <= 1)."""
        if self.kind == "bound":
            return 0.0 if self.passed else math.inf
        if self.tolerance == 0:
            return 0.0 if self.error == 0 else math.inf
        return self.error / self.tolerance

    def error_text(self) -> str:
        """The difference as printed: a bound at rounding level, else two significant digits."""
        if self.kind == "bound":
            return (f"smallest margin above the bound {-self.error:.2g}" if self.error < 0
                    else f"short of the bound by {self.error:.2g}")
        if self.passed and self.rounding:
            return f"agree to rounding (below {self.tolerance:.1e})"
        return f"max diff {self.error:.2g} (tolerance {self.tolerance:.1e})"

    def __str__(self) -> str:
        status = ("holds" if self.passed else "FAILS") if self.kind == "bound" else (
            "agree" if self.passed else "DISAGREE")
        name = f"{self.id} [{self.label}]" if self.label else self.id
        verdict = self.error_text() if self.passed and self.rounding else f"{self.error_text()}: {status}"
        text = (
            f"{name}: {self.analytic_label} = {_format_values(self.analytic, self.digits)}"
            f" | {self.empirical_label} = {_format_values(self.empirical, self.digits)}"
            f" | {verdict}"
        )
        return text + (f"\n    {self.note}" if self.note else "")

    def __repr__(self) -> str:
        return str(self)

    def assert_passed(self) -> Check:
        """Raise :class:`CheckFailed` (with both numbers and the tolerance) unless passed."""
        if not self.passed:
            raise CheckFailed(str(self))
        return self

    def summary(self, shown: int = 2) -> dict:
        """Plain-text fields for tables (values printed, not raw)."""
        return {
            "analytic": _format_values(self.analytic, min(self.digits, 4), shown),
            "empirical": _format_values(self.empirical, min(self.digits, 4), shown),
            "error": (f"rounding (< {self.tolerance:.0e})" if self.passed and self.rounding
                      else f"margin {-self.error:.2g}" if self.kind == "bound" else f"{self.error:.2g}"),
            "tolerance": f"{self.tolerance:.1e}",
            "passed": self.passed,
        }


def _as_array(name: str, x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, an array or a Tensor, but got {type(x).__name__}") from exc
    if a.size == 0:
        raise ValueError(f"{name} is empty: a check needs at least one value to compare")
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise ValueError(f"{name} must be finite, but {bad} of its {a.size} values are NaN or inf")
    return a


def _as_tolerance(name: str, tol, shape) -> np.ndarray:
    if hasattr(tol, "detach"):
        tol = tol.detach().cpu().double().numpy()
    if isinstance(tol, bool):
        raise TypeError(f"{name} must be a number or an array of numbers, but got {tol!r}")
    try:
        t = np.asarray(tol, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or an array of numbers, but got {tol!r}") from exc
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be a finite number >= 0 (or an array of them), but got {tol!r}")
    try:
        return np.broadcast_to(t, shape)
    except ValueError as exc:
        raise ValueError(f"{name} of shape {t.shape} does not broadcast to the values' shape {shape}") from exc


def _check_id(id) -> None:
    if not isinstance(id, str) or not id:
        raise TypeError(f"id must be a non-empty string such as 'WD-3', but got {id!r}")


def _decide(id, a, e, allowed, *, analytic_label, empirical_label, digits, note, label) -> Check:
    diff = np.abs(a - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(allowed > 0, diff / np.where(allowed > 0, allowed, 1.0), np.where(diff > 0, np.inf, 0.0))
    worst = int(np.argmax(ratio.reshape(-1)))
    error = float(diff.reshape(-1)[worst])
    tolerance = float(allowed.reshape(-1)[worst])
    passed = bool((diff <= allowed).all())
    scale = max(1.0, float(np.abs(a).max()), float(np.abs(e).max()))
    rounding = bool(float(diff.max()) <= ROUNDING * scale)
    return Check(
        id=id, analytic=a, empirical=e, analytic_label=analytic_label, empirical_label=empirical_label,
        error=error, tolerance=tolerance, passed=passed, digits=digits, note=note, label=label,
        rounding=rounding,
    )


def compare(
    id: str,
    analytic,
    empirical,
    *,
    atol=0.0,
    rtol=0.0,
    analytic_label: str = "closed form",
    empirical_label: str = "computed",
    digits: int = 6,
    note: str = "",
    label: str = "",
) -> Check:
    """Compare two independent computations entry by entry, each within its own tolerance.

    Parameters
    ----------
    id : str
        The result ID being checked.
    analytic, empirical : float, array or Tensor
        The two computations: the same shape, not empty, every value finite.
    atol, rtol : float or array broadcastable to the values
        Absolute and relative tolerance, per entry: entry ``i`` passes if
        ``|analytic_i - empirical_i| <= atol_i + rtol_i * |analytic_i|``.
        For Monte Carlo estimates use :func:`~reglab.derivations.compare.compare_mc`.
    analytic_label, empirical_label : str
        How each number was obtained; printed beside it.
    digits : int
        Significant digits printed.
    note, label : str
        A remark printed under the check; the name of this part of the result.

    Returns
    -------
    Check
        ``error`` and ``tolerance`` are those of the deciding entry (largest difference over
        allowed difference).

    Examples
    --------
    >>> compare("EX-1", 1.0, 1.0 + 1e-12, atol=1e-9).passed
    True
    >>> compare("EX-1", [1.0, 100.0], [1.5, 100.5], atol=[1.0, 0.1]).passed
    False
    """
    _check_id(id)
    a, e = _as_array("analytic", analytic), _as_array("empirical", empirical)
    if a.shape != e.shape:
        raise ValueError(f"analytic and empirical must have the same shape, but got {a.shape} and {e.shape}")
    at, rt = _as_tolerance("atol", atol, a.shape), _as_tolerance("rtol", rtol, a.shape)
    allowed = at + rt * np.abs(a)
    if not (allowed > 0).any():
        raise ValueError("atol and rtol cannot both be 0: a check needs a stated tolerance")
    return _decide(id, a, e, allowed, analytic_label=analytic_label, empirical_label=empirical_label,
                   digits=digits, note=note, label=label)


def bonferroni_z(entries: int, confidence: float) -> float:
    """Two-sided normal quantile that holds ``entries`` intervals jointly at ``confidence``."""
    return float(_special.ndtri(1.0 - (1.0 - confidence) / (2 * entries)))


def compare_mc(
    id: str,
    expected,
    estimate,
    stderr,
    *,
    confidence: float = 0.999,
    atol=0.0,
    analytic_label: str = "closed form",
    empirical_label: str = "Monte Carlo",
    digits: int = 6,
    note: str = "",
    label: str = "",
) -> Check:
    """Compare exact values with Monte Carlo estimates, each within its own standard error.

    Entry ``i`` passes if ``|expected_i - estimate_i| <= z * stderr_i + atol_i``, where ``z``
    makes the intervals hold jointly over all ``m`` entries at ``confidence`` (Bonferroni:
    each at ``1 - (1 - confidence)/m``). ``atol`` covers entries whose standard error is 0
    (rounding only).

    Parameters
    ----------
    expected : float, array or Tensor
        The exact (closed-form) values.
    estimate, stderr : same shape as ``expected`` (stderr may broadcast)
        The Monte Carlo means and their standard errors (sample sd / sqrt(draws)).
    confidence : float in (0, 1)
        Joint confidence of the intervals.

    Examples
    --------
    >>> compare_mc("EX-3", [0.5, 0.2], [0.501, 0.2005], [0.001, 0.0005]).passed
    True
    >>> compare_mc("EX-3", [0.5, 0.2], [0.501, 0.203], [0.001, 0.0005]).passed
    False
    """
    _check_id(id)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence!r}")
    a, e = _as_array("expected", expected), _as_array("estimate", estimate)
    if a.shape != e.shape:
        raise ValueError(f"expected and estimate must have the same shape, but got {a.shape} and {e.shape}")
    se = _as_tolerance("stderr", stderr, a.shape)
    at = _as_tolerance("atol", atol, a.shape)
    z = bonferroni_z(a.size, confidence)
    allowed = z * se + at
    if not (allowed > 0).any():
        raise ValueError("stderr and atol cannot both be 0: a Monte Carlo check needs a standard error")
    how = (f"each entry within {z:.2f} of its own standard error: joint {confidence:.4g} confidence "
           f"over {a.size} {'entry' if a.size == 1 else 'entries'} (Bonferroni)")
    return _decide(id, a, e, allowed, analytic_label=analytic_label, empirical_label=empirical_label,
                   digits=digits, note=f"{note}\n    {how}" if note else how, label=label)


def exceeds(
    id: str,
    value,
    bound,
    *,
    value_label: str = "measured",
    bound_label: str = "bound",
    digits: int = 6,
    note: str = "",
    label: str = "",
) -> Check:
    """Check a one-sided claim: every entry of ``value`` lies strictly above ``bound``.

    For claims that are inequalities ("the gap exceeds five times its tolerance", "the norm
    decreases strictly": pass the successive decreases and a bound of 0). The verdict is decided
    by the printed number: the smallest margin ``value - bound`` over the entries.

    >>> exceeds("EX-4", [0.3, 0.2], 0.0, value_label="decrease").passed
    True
    >>> print(exceeds("EX-4", [0.3, -0.1], 0.0, value_label="decrease").error_text())
    short of the bound by 0.1
    """
    _check_id(id)
    v = _as_array("value", value)
    b = _as_array("bound", bound)
    try:
        b = np.broadcast_to(b, v.shape)
    except ValueError as exc:
        raise ValueError(f"bound of shape {b.shape} does not broadcast to the values' shape {v.shape}") from exc
    margin = v - b
    worst = int(np.argmin(margin))
    error = float(-margin.reshape(-1)[worst])
    return Check(id=id, analytic=np.array(b), empirical=v, analytic_label=bound_label, empirical_label=value_label,
                 error=error, tolerance=0.0, passed=bool(error < 0), digits=digits, note=note, label=label,
                 kind="bound")
