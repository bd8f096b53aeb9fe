"""The exercises' records, their registry, :func:`check_exercise` and the judges' helpers.

An :class:`Exercise` names its answers (:class:`Answer`), the notebook expressions of its inputs
and a *judge*: a function of the answers and inputs that computes the reference by a route of its
own and returns, per answer, ``(passed, detail)``. The chapter modules of this package define the
judges with :func:`_define` and the helpers below (:func:`_agree`, :func:`_exact`, the input
converters). This module imports no chapter module: the package imports them all, so that every
exercise is registered before :func:`exercise` is asked for one.

>>> exercise("ex-label_smoothing-1").names
('y_hat',)
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_real, check_tensor
from ..derivations.compare import compare

__all__ = [
    "Answer",
    "Exercise",
    "ExerciseResult",
    "check_call",
    "check_exercise",
    "exercise",
    "exercises",
    "planted_answer",
]


@dataclass(frozen=True)
class Answer:
    """One variable of an exercise's answer.

    Attributes
    ----------
    name : str
        The keyword of :func:`check_exercise` (and the notebook variable holding it).
    what : str
        What it is, in one line (the student notebook's stub says it).
    hint : str
        Shown when the answer is not yet right; it does not contain the answer.
    tolerance : str
        How close to the reference the answer must be, in words (``"rtol 1e-6"``).
    source : str
        The notebook expression passed for it, when it is not simply ``name``
        (e.g. ``"stopper.best_step"``).
    """

    name: str
    what: str
    hint: str
    tolerance: str
    source: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier (the check's keyword), but got {self.name!r}")

    @property
    def expression(self) -> str:
        """The notebook expression whose value is this answer."""
        return self.source or self.name


@dataclass(frozen=True)
class Exercise:
    """What :func:`check_exercise` knows about one exercise.

    Attributes
    ----------
    label : str
        The exercise's label in the book, e.g. ``"ex-dropout-2"``.
    chapter : str
        The chapter (notebook name) it belongs to.
    answers : tuple of Answer
        The answer's variables; empty for an exercise answered in words only.
    inputs : mapping of str to str
        Further keywords of the check and the notebook expression passed for each: the data
        the reference is computed from (``{"X": "X_reg"}``).
    reference : str
        How the library computes the reference, in one sentence.
    setup : str
        What else the student defines for the check (one line for the stub), if anything.
    written : str
        For an exercise answered in words: why there is no self-check.
    """

    label: str
    chapter: str
    answers: tuple[Answer, ...]
    inputs: Mapping[str, str]
    reference: str
    judge: Callable[..., dict] | None = field(default=None, repr=False)
    mistake: Callable[..., dict] | None = field(default=None, repr=False)
    setup: str = ""
    written: str = ""

    def __post_init__(self):
        if not isinstance(self.label, str) or not self.label.startswith("ex-"):
            raise ValueError(f"label must be an exercise label such as 'ex-dropout-2', but got {self.label!r}")
        if self.answers and self.judge is None:
            raise ValueError(f"exercise {self.label!r} has answers but no judge to check them")

    @property
    def names(self) -> tuple[str, ...]:
        """The keywords of the answers."""
        return tuple(a.name for a in self.answers)


@dataclass(frozen=True)
class ExerciseResult:
    """The verdict of :func:`check_exercise`.

    Attributes
    ----------
    label : str
    passed : bool
        Every answer agrees with the reference within its tolerance.
    not_yet : tuple of str
        The answers that do not (yet).
    message : str
        ``"correct"`` or ``"not yet: <answer>: <hint>"``: what the check printed.
    """

    label: str
    passed: bool
    not_yet: tuple[str, ...] = ()
    message: str = ""

    def __post_init__(self):
        if not isinstance(self.passed, bool):
            raise TypeError(f"passed must be True or False, but got {self.passed!r}")

    def __str__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"ExerciseResult(label={self.label!r}, passed={self.passed})"


_REGISTRY: dict[str, Exercise] = {}


def _register(ex: Exercise) -> Exercise:
    if ex.label in _REGISTRY:
        raise ValueError(f"exercise {ex.label!r} is defined twice")
    _REGISTRY[ex.label] = ex
    return ex


def exercises() -> tuple[Exercise, ...]:
    """Every exercise of the book, in chapter order.

    >>> len(exercises()) > 40
    True
    """
    return tuple(_REGISTRY.values())


def exercise(label: str) -> Exercise:
    """The definition of one exercise.

    Parameters
    ----------
    label : str
        The exercise's label in the book, e.g. ``"ex-dropout-2"``.

    >>> exercise("ex-dropout-2").names
    ('dropout_ratio', 'ridge_ratio')
    """
    if not isinstance(label, str):
        raise TypeError(f"label must be a string such as 'ex-dropout-2', but got {type(label).__name__}")
    if label not in _REGISTRY:
        raise ValueError(f"label must be the label of one of the book's exercises, such as 'ex-dropout-2', but got {label!r}")
    return _REGISTRY[label]


def check_call(label: str) -> str:
    """The line of Python that checks exercise ``label`` in a notebook.

    >>> check_call("ex-early_stopping-2")
    'check_exercise("ex-early_stopping-2", tau_half=tau_half, lr=eps_one, lam=lam_one);'
    """
    ex = exercise(label)
    if not ex.answers:
        raise ValueError(f"exercise {label!r} is answered in words and has no self-check")
    args = [f"{a.name}={a.expression}" for a in ex.answers] + [f"{k}={v}" for k, v in ex.inputs.items()]
    return f'check_exercise("{label}", {", ".join(args)});'


def _split(ex: Exercise, values: Mapping) -> tuple[dict, dict]:
    expected = set(ex.names) | set(ex.inputs)
    unexpected = sorted(set(values) - expected)
    if unexpected:
        raise TypeError(
            f"check_exercise({ex.label!r}) got unexpected keyword(s) {', '.join(unexpected)}; "
            f"it takes {', '.join(ex.names + tuple(ex.inputs))}"
        )
    missing = [k for k in ex.names + tuple(ex.inputs) if k not in values]
    if missing:
        raise TypeError(f"check_exercise({ex.label!r}) needs the keyword(s) {', '.join(missing)}")
    return {k: values[k] for k in ex.names}, {k: values[k] for k in ex.inputs}


def check_exercise(label: str, /, **values) -> ExerciseResult:
    """Check an exercise's answer against the library's own computation; print the verdict.

    Prints ``correct`` when every answer agrees with the reference within its stated tolerance,
    otherwise ``not yet:`` and a hint for each answer that does not. The reference itself is
    never printed.

    Parameters
    ----------
    label : str
        The exercise's label, e.g. ``"ex-dropout-2"``.
    **values
        The answer's variables and the exercise's inputs, by keyword (the student notebook's
        check cell passes them; :func:`check_call` writes that line). An answer or input still
        set to ``...`` (as the student notebook's stub leaves them) counts as not given yet.

    Returns
    -------
    ExerciseResult

    Examples
    --------
    An answer still left as the stub's ``...``, and a wrong one:

    >>> result = check_exercise("ex-early_stopping-2", tau_half=..., lr=0.05, lam=0.02)
    not yet: tau_half: not given yet (it is still `...`)
    >>> result.passed, result.not_yet
    (False, ('tau_half',))
    >>> check_exercise("ex-early_stopping-2", tau_half=1, lr=0.05, lam=0.02).passed
    not yet: tau_half: find the smallest tau with 1 - (1 - eps lambda)^tau >= 1/2
    False
    """
    ex = exercise(label)
    if ex.judge is None:
        raise ValueError(f"exercise {label!r} is answered in words and has no self-check")
    answers, inputs = _split(ex, values)
    unset = [k for k, v in inputs.items() if v is Ellipsis]
    if unset:  # the stub also sets what the exercise asks the student to choose
        message = f"not yet: define {', '.join(ex.inputs[k] for k in unset)} first (still `...`)"
        print(message)
        return ExerciseResult(label=label, passed=False, not_yet=ex.names, message=message)
    pending = [a for a in ex.answers if answers[a.name] is Ellipsis]
    if pending:
        verdicts = {a.name: (False, "not given yet (it is still `...`)") for a in pending}
    else:
        verdicts = ex.judge(**answers, **inputs)
    failed = [a for a in ex.answers if not verdicts[a.name][0]]
    if not failed:
        message = "correct"
    else:
        parts = []
        for a in failed:
            detail = verdicts[a.name][1]
            parts.append(f"{a.name}: {detail}" if a in pending else f"{a.name}: {a.hint}" + (f" ({detail})" if detail else ""))
        message = "not yet: " + "; ".join(parts)
    print(message)
    return ExerciseResult(label=label, passed=not failed, not_yet=tuple(a.name for a in failed), message=message)


def planted_answer(label: str, /, **answers) -> dict:
    """A deliberately wrong version of an answer, which the check must reject.

    Each exercise may name a plausible mistake (the keep probability read as a drop
    probability, two arms swapped); otherwise every number of the answer is changed by 10 %
    plus 0.1 (integers by 1, booleans negated, functions wrapped the same way). The tests run
    each self-check on it and expect "not yet".

    Parameters
    ----------
    label : str
        The exercise's label.
    **answers
        The right answer's variables, by keyword (all of them).

    Returns
    -------
    dict
        The same keywords, wrong values.

    >>> planted_answer("ex-early_stopping-2", tau_half=100)
    {'tau_half': 101}
    """
    ex = exercise(label)
    if not ex.answers:
        raise ValueError(f"exercise {label!r} is answered in words and has no self-check")
    if set(answers) != set(ex.names):
        raise TypeError(f"planted_answer({label!r}) needs exactly the answer keyword(s) {', '.join(ex.names)}, "
                        f"but got {', '.join(sorted(answers)) or 'none'}")
    if ex.mistake is not None:
        return ex.mistake(**answers)
    return {k: _perturb(v) for k, v in answers.items()}


def _perturb(value):
    if value is None:  # "never" (e.g. a run that did not stop) becomes "at the first step"
        return 0
    if isinstance(value, bool):
        return not value
    if isinstance(value, numbers.Integral):
        return value + 1
    if isinstance(value, numbers.Real):
        return value * 1.1 + 0.1
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool:
            return ~value
        return value + 1 if not value.is_floating_point() else value * 1.1 + 0.1
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return ~value
        return value + 1 if np.issubdtype(value.dtype, np.integer) else value * 1.1 + 0.1
    if isinstance(value, dict):
        return {k: _perturb(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_perturb(v) for v in value)
    if callable(value):
        return lambda *args, **kwargs: _perturb(value(*args, **kwargs))
    raise TypeError(f"planted_answer cannot change a {type(value).__name__}; give the exercise a named mistake")


# ---- helpers for the judges of the chapter modules ----------------------------------------

_Verdict = tuple  # (passed: bool, detail: str): detail never contains the reference


def _as_array(value) -> np.ndarray | None:
    """A student's answer as a float64 array, or None if it is not numbers."""
    if isinstance(value, (str, bytes)) or value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a


def _agree(value, reference, *, rtol=0.0, atol=0.0) -> _Verdict:
    """Whether a student's answer agrees with a reference, entry by entry (via :func:`compare`)."""
    a = _as_array(value)
    if a is None:
        return False, f"it should be numbers, but it is a {type(value).__name__}"
    r = np.asarray(reference, dtype=np.float64)
    if a.size == 1 and r.size == 1:
        a, r = a.reshape(()), r.reshape(())
    if a.shape != r.shape:
        return False, f"it has shape {a.shape}, but the check expects shape {r.shape}"
    if not np.isfinite(a).all():
        return False, "it contains NaN or inf"
    return compare("exercise", r, a, rtol=rtol, atol=atol).passed, ""


def _exact(value, reference) -> _Verdict:
    """Whether a student's answer equals a reference exactly (integers, None, labels)."""
    if value is None or reference is None:
        return value is reference, ""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        v, r = np.asarray(value), np.asarray(reference)
        if v.shape != r.shape:
            return False, f"it has shape {v.shape}, but the check expects shape {r.shape}"
        return bool((v == r).all()), ""
    except (TypeError, ValueError):
        return False, f"it cannot be compared: it is a {type(value).__name__}"


def _tensor_input(name: str, value, *, ndim=None) -> torch.Tensor:
    """An input of a check as a float64 tensor; TypeError/ValueError naming it otherwise."""
    if isinstance(value, (np.ndarray, list, tuple)):
        value = torch.as_tensor(np.asarray(value, dtype=np.float64))
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor (or an array), but got {type(value).__name__}")
    value = check_tensor(name, value, ndim=ndim).detach().to(torch.float64)
    return check_tensor(name, value, finite=True)


def _np(name: str, value, ndim=None) -> np.ndarray:
    """An input of a check as a float64 NumPy array (see :func:`_tensor_input`)."""
    return _tensor_input(name, value, ndim=ndim).numpy()


def _real_input(name: str, value) -> float:
    """An input of a check as a finite float; TypeError/ValueError naming it otherwise."""
    return check_real(name, value)


def _int_or_none(v):
    """An integer answer (a whole float or a one-number tensor included) as an int; anything else as it is."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        v = v.item()
    return int(v) if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()) else v


def _define(label: str, *, chapter: str, answers=(), inputs=None, reference: str, setup: str = "",
           mistake=None, written: str = ""):
    """Register the check of exercise ``label``: decorates its judge ``(**answers, **inputs) -> verdicts``."""

    def decorate(judge):
        _register(Exercise(label=label, chapter=chapter, answers=tuple(answers), inputs=dict(inputs or {}),
                           reference=reference, judge=judge, mistake=mistake, setup=setup, written=written))
        return judge

    return decorate


def _define_written(label: str, *, chapter: str, written: str) -> None:
    """Register an exercise answered in words (no self-check)."""
    _register(Exercise(label=label, chapter=chapter, answers=(), inputs={}, reference="", written=written))
