"""Self-checks of the exercises of ``book/early_stopping.ipynb``.

Chapter: *Early stopping*. Each judge computes its reference by a route of its own and returns,
per answer, ``(passed, detail)``; the exercises register on import, in the chapter's order (see
:mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import numpy as np

from ._judging import _agree, _exact, _int_or_none, _NotYet, _real_input
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []

_LOSSES = (1.0, 0.9, 0.85, 0.84, 0.835, 0.80, 0.79, 0.70)  # the statement's validation losses
_PATIENCE = 2  # the statement's patience
_EPS, _LAMBDA = 0.05, 0.02  # Exercise 4.2's step size and eigenvalue


@_define("ex-early_stopping-1", chapter="early_stopping",
         inputs=(I("min_delta", "0.02", "the run you report: min_delta = 0.02 or 0 (the statement's two)"),),
         answers=(A("stopped_at", "the evaluation (0, 1, ...) at which EarlyStopping(patience=2, min_delta) stops "
                    "on the statement's losses; None if it never stops", "an evaluation counts only if it beats the "
                    "best so far by more than min_delta", "exact"),
                  A("best_step", "the evaluation whose parameters it restores (stopper.best_step)", "the best "
                    "evaluation is the last one that counted as an improvement", "exact", source="stopper.best_step")),
         reference="the patience rule replayed in plain Python on the statement's losses")
def _early_stopping_1(stopped_at, best_step, *, min_delta):
    min_delta = _real_input("min_delta", min_delta)
    if min_delta < 0:
        raise _NotYet(f"min_delta must be >= 0, but it is {min_delta:g}")
    best, best_t, bad, stop = math.inf, None, 0, None
    for t, loss in enumerate(_LOSSES):
        if loss < best - min_delta:
            best, best_t, bad = loss, t, 0
        else:
            bad += 1
        if bad >= _PATIENCE:
            stop = t
            break
    return {"stopped_at": _exact(_int_or_none(stopped_at), stop), "best_step": _exact(_int_or_none(best_step), best_t)}


@_define("ex-early_stopping-2", chapter="early_stopping",
         answers=(A("tau_half", "the number of gradient steps (an integer) that recover half of w* along the "
                    "eigen-direction, at eps = 0.05 and lambda = 0.02", "find the smallest tau with "
                    "1 - (1 - eps lambda)^tau >= 1/2", "exact"),),
         reference="gradient descent on the one-dimensional quadratic, step by step from 0, until it reaches w*/2")
def _early_stopping_2(tau_half):
    w, t = 0.0, 0
    while w < 0.5:
        w, t = w + _EPS * _LAMBDA * (1.0 - w), t + 1
    return {"tau_half": _exact(_int_or_none(tau_half), t)}


@_define("ex-early_stopping-3", chapter="early_stopping",
         inputs=(I("lr", "2.5", "the step size eps of the run you report (eps lambda = eps along the eigenvalue-1 "
                   "direction): 2.5 or 1.5, or another"),),
         answers=(A("stiff", "(13,) the factors q_1^T w_t / q_1^T w* along the eigenvalue-1 direction, t = 0..12",
                    "project gd_trajectory(H2, w2, lr, 12) on the eigenvector of eigenvalue 1 and divide by w*'s "
                    "component", "rtol 1e-5 (float32 arithmetic is close enough)"),),
         reference="the closed form 1 - (1 - eps lambda)^t with lambda = 1")
def _early_stopping_3(stiff, *, lr):
    lr = _real_input("lr", lr)
    if lr <= 0:
        raise _NotYet(f"lr must be > 0, but it is {lr:g}")
    factors = 1 - (1 - lr) ** np.arange(13)
    return {"stiff": _agree(stiff, factors, rtol=1e-5, atol=1e-6 * np.abs(factors).max())}
