"""Check results, the one comparison path, planted errors and the registry behind the ledger.

Every analytic result of the lecture has an ID (``"WD-3"``) and is registered here by the
derivations module of its chapter.

* A *derivation* registers one or more checker functions (its *parts*: brute force, ISTA,
  SymPy ...). Each computes the quantity twice, independently, and returns a :class:`Check`
  built by :func:`compare` or :func:`~reglab.derivations.core.compare_mc`, the only places where two computations are
  compared. Each part declares at least one *planted error*: a named, plausible mistake that
  the checker can be asked to make (``checker(planted=name)``) and must then reject.
* An *experiment* is measured in its chapter over several seeds. It states the direction it
  expects; the chapter records the measured effect with :func:`record_outcome`, and the verdict
  follows from the 95 % interval.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import math
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from scipy import stats as _stats

__all__ = [
    "Check",
    "CheckFailed",
    "Outcome",
    "Part",
    "Planted",
    "Result",
    "compare",
    "compare_mc",
    "bonferroni_z",
    "derivation",
    "subcheck",
    "experiment",
    "record_outcome",
    "ledger",
    "get_result",
    "format_number",
    "run_ledger",
    "ledger_markdown",
    "run_planted",
    "outcomes_markdown",
    "errata",
    "errata_markdown",
]

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

    @property
    def ratio(self) -> float:
        """Difference over allowed difference at the deciding entry (passes if <= 1)."""
        if self.tolerance == 0:
            return 0.0 if self.error == 0 else math.inf
        return self.error / self.tolerance

    def error_text(self) -> str:
        """The difference as printed: a bound at rounding level, else two significant digits."""
        if self.passed and self.rounding:
            return f"agree to rounding (below {self.tolerance:.1e})"
        return f"max diff {self.error:.2g} (tolerance {self.tolerance:.1e})"

    def __str__(self) -> str:
        status = "agree" if self.passed else "DISAGREE"
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

    def assert_passed(self) -> "Check":
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
                      else f"{self.error:.2g}"),
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
        For Monte Carlo estimates use :func:`~reglab.derivations.core.compare_mc`.
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
    return float(_stats.norm.ppf(1.0 - (1.0 - confidence) / (2 * entries)))


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


# ---- planted errors, parts and results -------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """A named, plausible mistake that a checker can be asked to make, and must then reject.

    Attributes
    ----------
    name : str
        Short name, passed as ``checker(planted=name)``.
    description : str
        What the mistake computes instead.
    slip : str
        If the mistake is the lecture's own: where it stands in the lecture (else empty).
    correct : str
        For a slip of the lecture, the correct statement.
    """

    name: str
    description: str
    slip: str = ""
    correct: str = ""

    def __post_init__(self):
        for attr in ("name", "description"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"a planted error needs a non-empty {attr}, but got {value!r}")
        if bool(self.slip) != bool(self.correct):
            raise ValueError(f"planted error {self.name!r}: a lecture slip needs both where it stands and the correct statement")


def _as_planted(planted) -> tuple[Planted, ...]:
    if planted is None:
        return ()
    if isinstance(planted, Planted):
        planted = (planted,)
    if isinstance(planted, Mapping):
        planted = tuple(p if isinstance(p, Planted) else Planted(name, p) for name, p in planted.items())
    out = tuple(planted)
    for p in out:
        if not isinstance(p, Planted):
            raise TypeError(f"planted errors must be Planted objects or a {{name: description}} dict, but got {p!r}")
    return out


@dataclass(frozen=True)
class Part:
    """One independent way of checking a result, with the mistakes it rejects."""

    label: str
    checker: Callable[..., Check] = field(repr=False, compare=False)
    planted: tuple[Planted, ...] = ()

    def run(self, id: str, planted: str | None = None) -> Check:
        result = self.checker() if planted is None else self.checker(planted=planted)
        if not isinstance(result, Check) or result.id != id:
            raise TypeError(f"the checker {self.checker.__name__} of {id} must return a Check with id {id!r}")
        if result.label != self.label:
            result = _relabel(result, self.label)
        return result


def _relabel(check: Check, label: str) -> Check:
    from dataclasses import replace

    return replace(check, label=label)


EXPECTED = ("increase", "decrease")
VERDICTS = ("supported", "not shown", "contradicted")


@dataclass(frozen=True)
class Outcome:
    """A measured experiment: effect, 95 % interval, seeds, unit and the verdict they imply.

    The verdict is *supported* if the interval excludes 0 in the expected direction, *not shown*
    if it includes 0, *contradicted* if it excludes 0 the other way.
    """

    id: str
    effect: float
    low: float
    high: float
    seeds: int
    unit: str
    expected: str
    measures: str = ""

    @property
    def verdict(self) -> str:
        if self.low <= 0 <= self.high:
            return "not shown"
        positive = self.low > 0
        return "supported" if positive == (self.expected == "increase") else "contradicted"

    def text(self, width: int = 80) -> str:
        """The outcome in words, wrapped to ``width`` columns."""
        import textwrap

        unit = f" {self.unit}" if self.unit else ""
        sentence = (f"{self.id}: {self.measures + ' = ' if self.measures else ''}{self.effect:+.3g}{unit}, "
                    f"95 % interval [{self.low:+.3g}, {self.high:+.3g}] over {self.seeds} seeds "
                    f"(expected: {self.expected}): {self.verdict}")
        return "\n".join(textwrap.wrap(sentence, width, subsequent_indent="    "))

    def __str__(self) -> str:
        return self.text()

    def as_dict(self) -> dict:
        return {"id": self.id, "effect": self.effect, "low": self.low, "high": self.high,
                "seeds": self.seeds, "unit": self.unit, "expected": self.expected,
                "measures": self.measures, "verdict": self.verdict}


@dataclass(frozen=True)
class Result:
    """One entry of the results ledger.

    Attributes
    ----------
    id, chapter, claim : str
        The result's ID, the chapter that teaches it, and the one sentence it asserts.
    kind : str
        ``"derivation"`` (fast checks in ``parts``) or ``"experiment"`` (measured in its chapter).
    parts : tuple of Part
        The derivation's checks, each with the planted errors it rejects.
    expected, measures, unit : str
        For an experiment: the direction expected of the measured effect, what the effect is,
        and its unit.
    """

    id: str
    chapter: str
    claim: str
    kind: str  # "derivation" or "experiment"
    parts: tuple[Part, ...] = ()
    expected: str = ""
    measures: str = ""
    unit: str = ""

    @property
    def planted(self) -> tuple[str, ...]:
        """Names of every planted error this result's checks declare."""
        return tuple(p.name for part in self.parts for p in part.planted)

    def planted_errors(self) -> tuple[Planted, ...]:
        return tuple(p for part in self.parts for p in part.planted)

    def _require_derivation(self) -> None:
        if self.kind != "derivation":
            raise ValueError(f"{self.id} is an experiment, measured in the chapter '{self.chapter}'; it has no fast check")

    def checks(self) -> tuple[Check, ...]:
        """Run every part of the derivation; one Check each."""
        self._require_derivation()
        return tuple(part.run(self.id) for part in self.parts)

    def check(self, planted: str | None = None) -> Check:
        """Run the derivation (every part), or one part with a planted error.

        Without ``planted``: every part runs, and the deciding Check is returned (the first
        that fails, else the one closest to its tolerance). With ``planted=name``: the part that
        declares that mistake runs with it made; its Check is returned (it should fail).
        """
        self._require_derivation()
        if planted is None:
            checks = self.checks()
            failed = [c for c in checks if not c.passed]
            return failed[0] if failed else max(checks, key=lambda c: c.ratio)
        for part in self.parts:
            if planted in (p.name for p in part.planted):
                return part.run(self.id, planted)
        raise ValueError(f"{self.id} declares no planted error {planted!r}; it declares {list(self.planted)}")

    def outcome(self, book_dir: str | os.PathLike | None = None) -> Outcome:
        """The outcome recorded in the chapter's stored outputs (by :func:`record_outcome`)."""
        if self.kind != "experiment":
            raise ValueError(f"{self.id} is a derivation: it has checks, not a measured outcome")
        path = _book_dir(book_dir) / f"{self.chapter}.ipynb"
        if not path.exists():
            raise FileNotFoundError(f"the chapter notebook {path} is not there; pass book_dir=")
        nb = json.loads(path.read_text(encoding="utf-8"))
        key = f"{self.id}:outcome"
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                scrap = out.get("metadata", {}).get("scrapbook", {})
                if scrap.get("name") == key:
                    text = out["data"][scrap.get("mime_prefix", "") + "text/plain"]
                    text = "".join(text) if isinstance(text, list) else text
                    data = json.loads(ast.literal_eval(text))
                    return Outcome(**{k: data[k] for k in ("id", "effect", "low", "high", "seeds", "unit", "expected", "measures")})
        raise LookupError(f"{path.name} has no stored outcome of {self.id}: run record_outcome({self.id!r}, ...) in it")


def _book_dir(book_dir=None) -> Path:
    if book_dir is not None:
        return Path(book_dir)
    if os.environ.get("REGLAB_BOOK"):
        return Path(os.environ["REGLAB_BOOK"])
    # lib/reglab/derivations/core.py -> the repository's book/ folder
    here = Path(__file__).resolve().parents[3] / "book"
    if here.is_dir():
        return here
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "book").is_dir() and (folder / "_toc.yml").exists():
            return folder / "book"
        if (folder / "_toc.yml").exists() or folder.name == "book":
            return folder if folder.name == "book" else folder / "book"
    raise FileNotFoundError("cannot find the book's folder; set REGLAB_BOOK or pass book_dir=")


_REGISTRY: dict[str, Result] = {}


def _register(result: Result) -> None:
    if result.id in _REGISTRY:
        raise ValueError(f"result ID {result.id} is registered twice (chapter {_REGISTRY[result.id].chapter!r} "
                         f"and {result.chapter!r}); add further checks of one result with subcheck()")
    _REGISTRY[result.id] = result


def _check_planted_signature(fn, planted: tuple[Planted, ...]) -> None:
    if planted and "planted" not in inspect.signature(fn).parameters:
        raise TypeError(f"{fn.__name__} declares planted errors, so it must take a keyword argument 'planted'")
    names = [p.name for p in planted]
    if len(set(names)) != len(names):
        raise ValueError(f"{fn.__name__} declares a planted error twice: {names}")


def derivation(id: str, *, chapter: str, claim: str, label: str = "", planted=None):
    """Register a checker (returning a :class:`Check`) as result ``id``; its first part.

    Parameters
    ----------
    label : str
        How this part checks the claim (``"brute force"``); shown in the ledger.
    planted : dict of {name: description}, Planted or tuple of Planted
        The mistakes this checker rejects; it is called as ``checker(planted=name)``.

    >>> @derivation("EX-2", chapter="_example", claim="1 + 1 = 2.", planted={"1 + 2": "adds 2"})
    ... def check_ex2(*, planted=None):
    ...     return compare("EX-2", 2.0, 1.0 + (2.0 if planted else 1.0), atol=1e-12)
    >>> get_result("EX-2").check(planted="1 + 2").passed
    False
    """
    _check_id(id)
    planted = _as_planted(planted)

    def decorate(fn: Callable[..., Check]) -> Callable[..., Check]:
        _check_planted_signature(fn, planted)
        part = Part(label=label or "check", checker=fn, planted=planted)
        _register(Result(id=id, chapter=chapter, claim=claim, kind="derivation", parts=(part,)))
        return fn

    return decorate


def subcheck(id: str, *, label: str, planted=None):
    """Register a further, independent check of the already registered result ``id``.

    >>> @subcheck("EX-2", label="as a product", planted={"2 * 2": "squares"})
    ... def check_ex2_product(*, planted=None):
    ...     return compare("EX-2", 2.0, 2.0 * (2.0 if planted else 1.0), atol=1e-12)
    >>> [c.label for c in get_result("EX-2").checks()]
    ['check', 'as a product']
    """
    _check_id(id)
    planted = _as_planted(planted)
    if not isinstance(label, str) or not label:
        raise ValueError(f"a subcheck of {id} needs a non-empty label, but got {label!r}")

    def decorate(fn: Callable[..., Check]) -> Callable[..., Check]:
        _check_planted_signature(fn, planted)
        known = _REGISTRY.get(id)
        if known is None or known.kind != "derivation":
            raise ValueError(f"subcheck({id!r}) needs the derivation {id} registered first")
        if label in (p.label for p in known.parts):
            raise ValueError(f"{id} already has a check labelled {label!r}")
        clash = set(known.planted) & {p.name for p in planted}
        if clash:
            raise ValueError(f"{id} already declares the planted errors {sorted(clash)}")
        from dataclasses import replace

        _REGISTRY[id] = replace(known, parts=known.parts + (Part(label=label, checker=fn, planted=planted),))
        return fn

    return decorate


def experiment(id: str, *, chapter: str, claim: str, expected: str = "", measures: str = "", unit: str = "") -> Result:
    """Register result ``id`` as an experiment measured in its chapter.

    Parameters
    ----------
    expected : {"increase", "decrease"}
        The sign the claim predicts for the measured effect.
    measures : str
        What the effect is (``"test accuracy with dropout minus without"``).
    unit : str
        Its unit (``"points"``).
    """
    _check_id(id)
    if expected and expected not in EXPECTED:
        raise ValueError(f"expected must be one of {EXPECTED}, but got {expected!r}")
    result = Result(id=id, chapter=chapter, claim=claim, kind="experiment", expected=expected,
                    measures=measures, unit=unit)
    _register(result)
    return result


def _round(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def record_outcome(id: str, *, per_seed=None, effect=None, low=None, high=None, seeds=None, display: bool = True) -> Outcome:
    """Record the measured effect of experiment ``id`` in its chapter (stored output + glue).

    Give either ``per_seed`` (one effect per seed; the mean and 95 % Student-t interval are
    computed) or ``effect``, ``low``, ``high`` and ``seeds``. The numbers are rounded to 4
    significant digits. Glue keys for the prose: ``"<id>:effect"``, ``"<id>:low"``,
    ``"<id>:high"``, ``"<id>:seeds"``, ``"<id>:verdict"``; ``"<id>:outcome"`` holds the record
    that :meth:`Result.outcome` reads back.
    """
    result = get_result(id)
    if result.kind != "experiment":
        raise ValueError(f"{id} is a derivation; only experiments record an outcome")
    if not result.expected:
        raise ValueError(f"{id} was registered without an expected direction (expected='increase' or 'decrease')")
    if per_seed is not None:
        if any(v is not None for v in (effect, low, high, seeds)):
            raise ValueError("give either per_seed or effect/low/high/seeds, not both")
        from ..stats import mean_ci

        values = np.asarray(per_seed.detach().cpu() if hasattr(per_seed, "detach") else per_seed, dtype=np.float64).reshape(-1)
        mean, half = mean_ci(values)
        effect, low, high, seeds = mean, mean - half, mean + half, values.size
    else:
        if any(v is None for v in (effect, low, high, seeds)):
            raise ValueError("give per_seed, or all of effect, low, high and seeds")
        for name, v in (("effect", effect), ("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, but got {v!r}")
        if not low <= effect <= high:
            raise ValueError(f"the interval must hold the effect: low <= effect <= high, but got {low}, {effect}, {high}")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 5:
        raise ValueError(f"an experiment needs at least 5 seeds, but got seeds={seeds!r}")
    outcome = Outcome(id=id, effect=_round(effect), low=_round(low), high=_round(high), seeds=int(seeds),
                      unit=result.unit, expected=result.expected, measures=result.measures)
    try:
        from myst_nb import glue
    except ImportError:  # the library works without the book's tools
        glue = None
    if glue is not None:
        # The record is a JSON string (a glued text/plain value): notebook formats accept it under
        # MyST-NB's record prefix, and Result.outcome() parses it back.
        glue(f"{id}:outcome", json.dumps(outcome.as_dict(), sort_keys=True), display=False)
        for key in ("effect", "low", "high"):
            glue(f"{id}:{key}", getattr(outcome, key), display=False)
        glue(f"{id}:seeds", outcome.seeds, display=False)
        glue(f"{id}:verdict", outcome.verdict, display=False)
    if display:
        print(outcome.text())
    return outcome


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
    return sorted((r for r in _REGISTRY.values() if not r.chapter.startswith("_")),
                  key=lambda r: (r.chapter, _id_key(r.id)))


def get_result(id: str) -> Result:
    """The registered result with this ID (raises ``KeyError`` naming the known IDs)."""
    if id not in _REGISTRY:
        ledger()
    if id not in _REGISTRY:
        raise KeyError(f"no result registered as {id!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[id]


def run_ledger(chapter_order: list[str] | None = None) -> list[tuple[Result, tuple[Check, ...]]]:
    """Run every check of every registered derivation; experiments come with no checks.

    Parameters
    ----------
    chapter_order : list of str, optional
        Chapters in reading order (from ``_toc.yml``); unknown chapters go last.
    """
    results = ledger()
    if chapter_order is not None:
        rank = {c: i for i, c in enumerate(chapter_order)}
        results = sorted(results, key=lambda r: (rank.get(r.chapter, len(rank)), _id_key(r.id)))
    return [(r, r.checks() if r.kind == "derivation" else ()) for r in results]


def _cell(text) -> str:
    """Text for a Markdown table cell: pipes escaped, and *, _ and backticks shown as written."""
    text = str(text).replace("\n", " ")
    for ch in ("\\", "|", "*", "_", "`", "<", "[", "]", "$"):
        text = text.replace(ch, "\\" + ch)
    return text


def ledger_markdown(rows: list[tuple[Result, tuple[Check, ...]]], rejected: Mapping | None = None) -> str:
    """The derivations of the ledger as a Markdown table: one row per check of every ID.

    Parameters
    ----------
    rows : output of :func:`run_ledger`
    rejected : dict of {(id, planted name): bool}, optional
        Whether each planted error was seen to fail (from :func:`run_planted`); shown beside it.
    """
    lines = [
        "| ID | claim | check | the two computations | rejects |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result, checks in rows:
        if result.kind != "derivation":
            continue
        for i, (part, check) in enumerate(zip(result.parts, checks)):
            s = check.summary()
            first = i == 0
            claim = f"{_cell(result.claim)} ({{doc}}`{result.chapter} <../{result.chapter}>`)" if first else ""
            verdict = "agree" if s["passed"] else "**DISAGREE**"
            numbers = (f"{_cell(check.analytic_label)}: {_cell(s['analytic'])}; {_cell(check.empirical_label)}: "
                       f"{_cell(s['empirical'])}; difference {_cell(s['error'])}, tolerance {s['tolerance']}: {verdict}")
            names = []
            for p in part.planted:
                mark = ""
                if rejected is not None:
                    mark = " (rejected)" if rejected.get((result.id, p.name)) else " (**NOT rejected**)"
                names.append(_cell(p.name) + (", a lecture slip" if p.slip else "") + mark)
            lines.append(f"| {result.id if first else ''} | {claim} | {_cell(part.label)} | {numbers} "
                         f"| {'; '.join(names) or 'nothing declared'} |")
    return "\n".join(lines)


def run_planted(rows: list[tuple[Result, tuple[Check, ...]]]) -> dict[tuple[str, str], bool]:
    """Run every planted error of every derivation: ``{(id, name): rejected}``."""
    return {(r.id, name): not r.check(planted=name).passed
            for r, _ in rows if r.kind == "derivation" for name in r.planted}


def outcomes_markdown(results: list[Result], book_dir=None, *, glued: bool = True) -> str:
    """The experiments of the ledger as a Markdown table, from the chapters' stored outputs.

    With ``glued`` the numbers are MyST-NB glue roles (``{glue:text}`` with ``path::key``) that
    paste them from the chapter at build time; every outcome is read once here all the same, so
    a chapter without a recorded outcome is an error.
    """
    lines = [
        "| ID | claim | measured effect | 95 % interval | seeds | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        if result.kind != "experiment":
            continue
        o = result.outcome(book_dir)
        unit = f" {_cell(o.unit)}" if o.unit else ""
        if glued:
            def g(key, fmt):
                return f"{{glue:text}}`../{result.chapter}.ipynb::{result.id}:{key}:{fmt}`"
            effect, low, high, seeds, verdict = (g("effect", "+.3g"), g("low", "+.3g"), g("high", "+.3g"),
                                                 g("seeds", "d"), g("verdict", "s"))
        else:
            effect, low, high, seeds, verdict = (f"{o.effect:+.3g}", f"{o.low:+.3g}", f"{o.high:+.3g}",
                                                 str(o.seeds), o.verdict)
        lines.append(
            f"| {result.id} | {_cell(result.claim)} ({{doc}}`{result.chapter} <../{result.chapter}>`) "
            f"| {_cell(o.measures)}: {effect}{unit} | [{low}, {high}] | {seeds} | {verdict} |"
        )
    return "\n".join(lines)


def errata() -> list[tuple[Result, Planted]]:
    """Every planted error that is a slip of the lecture itself, with its result."""
    return [(r, p) for r in ledger() for p in r.planted_errors() if p.slip]


def errata_markdown() -> str:
    """The lecture's own slips, each with where it stands, the correct statement and its check.

    Every slip is run as a planted error; the table shows what the check prints with it.
    """
    parts = []
    for result, planted in errata():
        check = result.check(planted=planted.name)
        part = next(p for p in result.parts if planted in p.planted)
        status = "rejected" if not check.passed else "**NOT rejected**"
        parts.append(
            f"| {result.id} ({{doc}}`{result.chapter} <../{result.chapter}>`) | {_cell(planted.slip)} "
            f"| {_cell(planted.description)} | {_cell(planted.correct)} "
            f"| {_cell(part.label)}: {check.error_text()}, {status} |"
        )
    head = ["| result | where in the lecture | the slip | the correct statement | the check, with the slip made |",
            "| --- | --- | --- | --- | --- |"]
    return "\n".join(head + parts)
