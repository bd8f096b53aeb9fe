"""Self-checks for the book's exercises: is an answer right? (They never say what it is.)

Every exercise of the book has a label (``"ex-dropout-2"``). For each one whose answer is a
number, an array or a piece of code, this package knows which variable(s) hold the answer,
which inputs the answer is judged on (each declared, with its meaning and shape, by the stub
of the student notebook: data of the chapter, a value the statement fixes, or the student's own
choice), how to compute the reference *itself* (by another route than the chapter's solution: a
solver instead of a closed form, a simulation instead of an expectation, torch's own
implementation instead of ours ...), within which tolerance the two must agree, and a hint that
points to the mistake without giving the answer away.

>>> from reglab import check_exercise
>>> check_exercise("ex-label_smoothing-1", y_hat=[0.1] * 10)  # doctest: +ELLIPSIS
not yet: y_hat: ...
ExerciseResult(label='ex-label_smoothing-1', passed=False)

The student notebooks (``make student``) end every exercise with such a call, on exactly the
names the stub declares (:meth:`Exercise.stub`, :func:`check_call`); nothing else is read from
the notebook. An answer still ``...`` is "not answered yet"; a wrong answer, of any shape or
kind, is "not yet" with a hint, never an exception. Mistakes in *calling* the check (an unknown
label, a missing or unexpected keyword, an input of the wrong kind) raise ``ValueError`` or
``TypeError`` naming the argument. Exercises whose answer is an explanation have no check;
:func:`exercise` tells which (``written``).

The package is laid out like ``reglab.derivations`` and ``reglab.experiments``:
:mod:`~reglab.exercises.core` holds the records (:class:`Answer`, :class:`Exercise`,
:class:`ExerciseResult`), the registry and :func:`check_exercise`; one module per chapter
(:mod:`reglab.exercises.dropout`, ...) holds that chapter's judges. Importing the package
imports every chapter module, in the order of ``_toc.yml``, so every exercise is registered.
"""
from .core import (
    Answer,
    Exercise,
    ExerciseResult,
    check_call,
    check_exercise,
    exercise,
    exercises,
    planted_answer,
)

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

# Each chapter module registers its exercises on import; the order is the book's (_toc.yml).
from . import regimes  # noqa: F401,I001  (book order, not alphabetical)
from . import weight_decay  # noqa: F401
from . import l1_penalty  # noqa: F401
from . import early_stopping  # noqa: F401
from . import bagging  # noqa: F401
from . import dropout  # noqa: F401
from . import augmentation  # noqa: F401
from . import weight_noise  # noqa: F401
from . import label_smoothing  # noqa: F401
from . import multitask  # noqa: F401
from . import parameter_sharing  # noqa: F401
from . import sparse_representations  # noqa: F401
from . import adversarial_training  # noqa: F401
