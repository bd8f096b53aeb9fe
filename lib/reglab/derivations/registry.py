"""The registry behind the ledger: results, their parts, planted errors and experiments.

Every analytic result of the lecture has an ID (``"WD-3"``).

* A *derivation* registers one or more checker functions (its *parts*: brute force, ISTA,
  SymPy ...), each in the derivations module of its chapter. A checker computes the quantity
  twice, independently, and returns a :class:`~reglab.derivations.compare.Check`. Each part
  declares at least one *planted error*: a named, plausible mistake that the checker can be asked
  to make (``checker(planted=name)``) and must then reject. The wrong computations stand beside
  the right one in a small table that the checker looks up with :func:`choose`.
* An *experiment* is registered, with the direction it expects, in the experiments module of its
  chapter; the chapter records what it measured (:func:`reglab.book.record`) and the verdict
  follows from the 95 % interval.
"""
from __future__ import annotations

import ast
import inspect
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .compare import Check, _check_id

__all__ = [
    "EXPECTED",
    "PLANTED_KINDS",
    "VERDICTS",
    "Outcome",
    "Part",
    "Planted",
    "Result",
    "choose",
    "derivation",
    "errata",
    "experiment",
    "get_result",
    "ledger",
    "outcome_from",
    "subcheck",
]


def choose(planted: str | None, right, wrong: Mapping):
    """The computation a checker uses: ``right``, or the planted mistake ``wrong[planted]``.

    Parameters
    ----------
    planted : str or None
        The planted error the checker was asked to make (None: none).
    right : object
        The correct computation (a function, a value).
    wrong : dict of {name: object}
        The plausible mistakes, each standing beside the right one under its name.

    >>> choose(None, "v/k", {"v/k^2": "v/k^2"})
    'v/k'
    >>> choose("v/k^2", "v/k", {"v/k^2": "v/k^2"})
    'v/k^2'
    """
    if planted is None:
        return right
    if planted not in wrong:
        raise ValueError(f"no planted error {planted!r} here; this computation knows {sorted(wrong)}")
    return wrong[planted]


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
    kind : {"student", "library", "control"}
        Who makes the mistake: a student (a missing factor, a sign, a transposed formula),
        another library's convention, or a *control* that removes the mechanism under test
        (shown to be rejected, but no proof that the check is sharp: every check also needs a
        plausible mistake). A lecture slip is of kind "slide" and needs no kind given.
    """

    name: str
    description: str
    slip: str = ""
    correct: str = ""
    kind: str = ""

    def __post_init__(self):
        for attr in ("name", "description"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"a planted error needs a non-empty {attr}, but got {value!r}")
        if bool(self.slip) != bool(self.correct):
            raise ValueError(f"planted error {self.name!r}: a lecture slip needs both where it stands and the correct statement")
        if self.kind not in PLANTED_KINDS:
            raise ValueError(f"planted error {self.name!r}: kind must be one of {PLANTED_KINDS}, but got {self.kind!r}")
        if self.slip and self.kind not in ("", "slide"):
            raise ValueError(f"planted error {self.name!r} is a lecture slip: its kind is 'slide'")

    @property
    def category(self) -> str:
        """``"slide"`` for a lecture slip, else the kind (``"unclassified"`` if none was given)."""
        return "slide" if self.slip else (self.kind or "unclassified")


#: Who makes a planted mistake ("" = not said; "slide" is implied by a lecture slip).
PLANTED_KINDS = ("", "slide", "student", "library", "control")


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

    def _ipython_display_(self) -> None:
        # record() prints the outcome; a cell that ends with record(...) shows it once.
        return None

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
    claim_tex : str
        The same sentence for the appendix pages: MyST Markdown with its math typeset as
        ``$...$`` (a derivation's; the chapters print ``claim`` as it is).
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
    claim_tex: str = ""

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

    def outcome(self, book_dir: str | os.PathLike) -> Outcome:
        """The outcome recorded in the chapter's stored outputs (by :func:`reglab.book.record`).

        Parameters
        ----------
        book_dir : path
            The folder holding the chapter notebooks (the repository's ``book/``).
        """
        if self.kind != "experiment":
            raise ValueError(f"{self.id} is a derivation: it has checks, not a measured outcome")
        if not isinstance(book_dir, (str, os.PathLike)):
            raise TypeError(f"book_dir must be the path of the book's folder, but got {book_dir!r}")
        path = Path(book_dir) / f"{self.chapter}.ipynb"
        if not path.exists():
            raise FileNotFoundError(f"the chapter notebook {path} is not there; pass the book's folder as book_dir")
        data = _stored_record(json.loads(path.read_text(encoding="utf-8")), f"{self.id}:outcome")
        if data is None:
            raise LookupError(f"{path.name} has no stored outcome of {self.id}: run record({self.id!r}, ...) in it")
        return Outcome(**{k: data[k] for k in ("id", "effect", "low", "high", "seeds", "unit", "expected", "measures")})


def _stored_record(nb: dict, key: str):
    """The JSON record glued under ``key`` in a stored notebook (MyST-NB's or reglab.book's form)."""
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {})
            scrap = meta.get("scrapbook", {})
            if scrap.get("name") == key:
                text = out["data"][scrap.get("mime_prefix", "") + "text/plain"]
                text = "".join(text) if isinstance(text, list) else text
                return json.loads(ast.literal_eval(text))
            if meta.get("reglab", {}).get("glue") == key:
                return json.loads(meta["reglab"]["value"])
    return None


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


def derivation(id: str, *, chapter: str, claim: str, claim_tex: str = "", label: str = "", planted=None):
    """Register a checker (returning a :class:`Check`) as result ``id``; its first part.

    Parameters
    ----------
    claim_tex : str
        The claim as the appendix pages show it: MyST Markdown, its math as ``$...$``.
    label : str
        How this part checks the claim (``"brute force"``); shown in the ledger.
    planted : dict of {name: description}, Planted or tuple of Planted
        The mistakes this checker rejects; it is called as ``checker(planted=name)``.

    >>> from reglab.derivations.compare import compare
    >>> @derivation("EX-2", chapter="_example", claim="1 + 1 = 2.", planted={"1 + 2": "adds 2"})
    ... def check_ex2(*, planted=None):
    ...     return compare("EX-2", 2.0, 1.0 + (2.0 if planted else 1.0), atol=1e-12)
    >>> get_result("EX-2").check(planted="1 + 2").passed
    False
    """
    _check_id(id)
    if not isinstance(claim_tex, str):
        raise TypeError(f"claim_tex of {id} must be a string (MyST with $...$ math), but got {claim_tex!r}")
    planted = _as_planted(planted)

    def decorate(fn: Callable[..., Check]) -> Callable[..., Check]:
        _check_planted_signature(fn, planted)
        part = Part(label=label or "check", checker=fn, planted=planted)
        _register(Result(id=id, chapter=chapter, claim=claim, kind="derivation", parts=(part,),
                         claim_tex=claim_tex))
        return fn

    return decorate


def subcheck(id: str, *, label: str, planted=None):
    """Register a further, independent check of the already registered result ``id``.

    >>> from reglab.derivations.compare import compare
    >>> @derivation("EX-3", chapter="_example", claim="2 = 2.", planted={"2 + 1": "adds 1"})
    ... def check_ex3(*, planted=None):
    ...     return compare("EX-3", 2.0, 2.0 + (1.0 if planted else 0.0), atol=1e-12)
    >>> @subcheck("EX-3", label="as a product", planted={"2 * 2": "squares"})
    ... def check_ex3_product(*, planted=None):
    ...     return compare("EX-3", 2.0, 2.0 * (2.0 if planted else 1.0), atol=1e-12)
    >>> [c.label for c in get_result("EX-3").checks()]
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


def outcome_from(id: str, *, per_seed=None, effect=None, low=None, high=None, seeds=None) -> Outcome:
    """The :class:`Outcome` of experiment ``id`` from its per-seed effects or its summary.

    Give either ``per_seed`` (one effect per seed; the mean and 95 % Student-t interval are
    computed) or ``effect``, ``low``, ``high`` and ``seeds``. The numbers are rounded to 4
    significant digits (what the page shows, and what survives another CPU).
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

        values = np.asarray(per_seed.detach().cpu() if hasattr(per_seed, "detach") else per_seed,
                            dtype=np.float64).reshape(-1)
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
    return Outcome(id=id, effect=_round(effect), low=_round(low), high=_round(high), seeds=int(seeds),
                   unit=result.unit, expected=result.expected, measures=result.measures)


def _id_key(id: str):
    prefix, _, number = id.rpartition("-")
    return (prefix, int(number) if number.isdigit() else number)


def ledger() -> list[Result]:
    """Every registered result (of chapters, not examples), grouped by chapter and ordered by ID.

    The chapter modules of ``reglab.derivations`` and ``reglab.experiments`` register their
    results when they are imported; ``import reglab`` imports them all.
    """
    return sorted((r for r in _REGISTRY.values() if not r.chapter.startswith("_")),
                  key=lambda r: (r.chapter, _id_key(r.id)))


def get_result(id: str) -> Result:
    """The registered result with this ID (raises ``KeyError`` naming the known IDs)."""
    if id not in _REGISTRY:
        raise KeyError(f"no result registered as {id!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[id]


def errata() -> list[tuple[Result, Planted]]:
    """Every planted error that is a slip of the lecture itself, with its result."""
    return [(r, p) for r in ledger() for p in r.planted_errors() if p.slip]
