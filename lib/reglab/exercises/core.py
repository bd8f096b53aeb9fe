"""The exercises' records, their registry and :func:`check_exercise`.

An :class:`Exercise` names its answers (:class:`Answer`), its inputs (:class:`Input`: what the
reference is computed from, each declared by the student notebook's stub) and a *judge*: a
function of the answers and inputs that computes the reference by a route of its own and
returns, per answer, ``(passed, detail)``. The chapter modules of this package define the judges
with ``_define`` and the helpers of ``reglab.exercises._judging``. This module imports no
chapter module: the package imports them all, so that every exercise is registered before
:func:`exercise` is asked for one.

>>> exercise("ex-label_smoothing-1").names
('y_hat',)
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ._cells import check_source, stub_source
from ._judging import _NotYet

__all__ = [
    "Answer",
    "Exercise",
    "ExerciseResult",
    "Input",
    "check_call",
    "check_exercise",
    "exercise",
    "exercises",
    "planted_answer",
]


def _identifier(kind: str, name) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python identifier ({kind}), but got {name!r}")


@dataclass(frozen=True)
class Answer:
    """One variable of an exercise's answer.

    Attributes
    ----------
    name : str
        The notebook variable holding it, and the keyword of :func:`check_exercise`.
    what : str
        What it is and its shape, in one line (the stub's comment).
    hint : str
        Shown when the answer is not yet right; it does not contain the answer.
    tolerance : str
        How close to the reference the answer must be, in words (``"rtol 1e-6"``).
    source : str
        Where the book's own solution keeps it, if not in ``name`` (``"stopper.best_step"``):
        the filled edition of the tests assigns ``name`` from it after the solution code.
    """

    name: str
    what: str
    hint: str
    tolerance: str
    source: str = ""

    def __post_init__(self):
        _identifier("the check's keyword", self.name)


@dataclass(frozen=True)
class Input:
    """One input of an exercise's check, declared by the stub with its meaning and shape.

    Attributes
    ----------
    name : str
        The notebook variable the stub assigns, and the keyword of :func:`check_exercise`.
    value : str
        The stub's right-hand side: an expression of the chapter's data (``"X_reg"``), a value
        (``"0.5"``), or ``"..."`` where the statement lets the student choose.
    what : str
        Its meaning and shape, in one line (the stub's comment), e.g. ``"(60, 4) inputs of the
        ridge example"``.
    source : str
        Where the book's own solution keeps it, if the solution does not assign ``name``
        itself (the filled edition of the tests assigns ``name`` from it).
    """

    name: str
    value: str
    what: str
    source: str = ""

    def __post_init__(self):
        _identifier("the stub's variable", self.name)
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError(f"value must be the stub's right-hand side (a non-empty string), but got {self.value!r}")


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
    inputs : tuple of Input
        The check's other keywords: the data the reference is computed from.
    reference : str
        How the library computes the reference, in one sentence.
    written : str
        For an exercise answered in words: why there is no self-check.
    """

    label: str
    chapter: str
    answers: tuple[Answer, ...]
    inputs: tuple[Input, ...]
    reference: str
    judge: Callable[..., dict] | None = field(default=None, repr=False)
    mistake: Callable[..., dict] | None = field(default=None, repr=False)
    written: str = ""

    def __post_init__(self):
        if not isinstance(self.label, str) or not self.label.startswith("ex-"):
            raise ValueError(f"label must be an exercise label such as 'ex-dropout-2', but got {self.label!r}")
        if self.answers and self.judge is None:
            raise ValueError(f"exercise {self.label!r} has answers but no judge to check them")
        names = [a.name for a in self.answers] + [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"exercise {self.label!r} names a variable twice: {names}")

    @property
    def names(self) -> tuple[str, ...]:
        """The keywords of the answers."""
        return tuple(a.name for a in self.answers)

    @property
    def input_names(self) -> tuple[str, ...]:
        """The keywords of the inputs."""
        return tuple(i.name for i in self.inputs)

    def stub(self) -> str:
        """The student notebook's stub cell: the inputs and the answers' placeholders, explained.

        >>> exercise("ex-dropout-3").stub().splitlines()[-1]
        'alone = ...  # (4,) the limit of the trained weights w* as p -> 0'
        """
        if not self.answers:
            raise ValueError(f"exercise {self.label!r} is answered in words and has no self-check")
        return stub_source(self)

    def check_line(self, answers: str | None = None) -> str:
        """The student notebook's check: ``check_exercise(label, ...)`` on the stub's names.

        Wrapped at the notebooks' line length. ``answers``, if given, replaces the answers'
        keywords (the tests pass ``**planted_answer(...)`` there).
        """
        if not self.answers:
            raise ValueError(f"exercise {self.label!r} is answered in words and has no self-check")
        return check_source(self, answers)


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
        ``"correct"``, ``"not yet: <answer>: <hint>"`` or ``"not answered yet (...)"``: what the
        check printed.
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
    """The line of Python that checks exercise ``label`` in a notebook (after its stub).

    >>> check_call("ex-dropout-3")
    'check_exercise("ex-dropout-3", alone=alone, X_ridge=X_ridge, y_ridge=y_ridge);'
    """
    return exercise(label).check_line().replace("\n    ", " ")


def _split(ex: Exercise, values: dict) -> tuple[dict, dict]:
    expected = ex.names + ex.input_names
    unexpected = sorted(set(values) - set(expected))
    if unexpected:
        raise TypeError(f"check_exercise({ex.label!r}) got unexpected keyword(s) {', '.join(unexpected)}; "
                        f"it takes {', '.join(expected)}")
    missing = [k for k in expected if k not in values]
    if missing:
        raise TypeError(f"check_exercise({ex.label!r}) needs the keyword(s) {', '.join(missing)}")
    return {k: values[k] for k in ex.names}, {k: values[k] for k in ex.input_names}


def _verdict(ex: Exercise, answers: dict, inputs: dict) -> tuple[tuple[str, ...], str]:
    """The answers that are not (yet) right and the message saying so."""
    pending = [a.name for a in ex.answers if answers[a.name] is Ellipsis]
    if len(pending) == len(ex.answers):
        are = "is" if len(pending) == 1 else "are"
        return ex.names, f"not answered yet ({', '.join(pending)} {are} still `...`)"
    if pending:
        return tuple(pending), "not yet: " + "; ".join(f"{n}: not answered yet (still `...`)" for n in pending)
    unset = [k for k, v in inputs.items() if v is Ellipsis]
    if unset:  # an input the student chooses, still the stub's placeholder
        return ex.names, f"not yet: define {', '.join(unset)} first (still `...`)"
    try:
        verdicts = ex.judge(**answers, **inputs)
    except _NotYet as reason:
        return ex.names, f"not yet: {reason}"
    failed = [a for a in ex.answers if not verdicts[a.name][0]]
    if not failed:
        return (), "correct"
    parts = [f"{a.name}: {a.hint}" + (f" ({verdicts[a.name][1]})" if verdicts[a.name][1] else "") for a in failed]
    return tuple(a.name for a in failed), "not yet: " + "; ".join(parts)


def check_exercise(label: str, /, **values) -> ExerciseResult:
    """Check an exercise's answer against the library's own computation; print the verdict.

    Prints ``correct`` when every answer agrees with the reference within its stated tolerance,
    ``not answered yet`` while every answer is still the stub's ``...``, otherwise ``not yet:``
    and a hint for each answer that does not agree. The reference itself is never printed.

    Parameters
    ----------
    label : str
        The exercise's label, e.g. ``"ex-dropout-2"``.
    **values
        The answer's variables and the exercise's inputs, by keyword: exactly the names the
        student notebook's stub declares (:func:`check_call` writes the line).

    Returns
    -------
    ExerciseResult

    Raises
    ------
    ValueError, TypeError
        For a mistake in *calling* the check (an unknown label, a missing or unexpected keyword,
        an input of the wrong kind), naming it. A wrong answer is never an error: it is "not yet".

    Examples
    --------
    The untouched stub, and a wrong answer:

    >>> result = check_exercise("ex-early_stopping-2", tau_half=...)
    not answered yet (tau_half is still `...`)
    >>> result.passed, result.not_yet
    (False, ('tau_half',))
    >>> check_exercise("ex-early_stopping-2", tau_half=1).passed
    not yet: tau_half: find the smallest tau with 1 - (1 - eps lambda)^tau >= 1/2
    False
    """
    ex = exercise(label)
    if ex.judge is None:
        raise ValueError(f"exercise {label!r} is answered in words and has no self-check")
    answers, inputs = _split(ex, values)
    not_yet, message = _verdict(ex, answers, inputs)
    print(message)
    return ExerciseResult(label=label, passed=not not_yet, not_yet=not_yet, message=message)


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


def _define(label: str, *, chapter: str, answers=(), inputs=(), reference: str, mistake=None):
    """Register the check of exercise ``label``: decorates its judge ``(**answers, **inputs) -> verdicts``."""

    def decorate(judge):
        _register(Exercise(label=label, chapter=chapter, answers=tuple(answers), inputs=tuple(inputs),
                           reference=reference, judge=judge, mistake=mistake))
        return judge

    return decorate


def _define_written(label: str, *, chapter: str, written: str) -> None:
    """Register an exercise answered in words (no self-check)."""
    _register(Exercise(label=label, chapter=chapter, answers=(), inputs=(), reference="", written=written))
