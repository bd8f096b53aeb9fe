"""Self-checks of the exercises of ``book/early_stopping.ipynb``.

Chapter: *Early stopping*. Each judge computes its reference by a route of its own and returns,
per answer, ``(passed, detail)``; the exercises register on import, in the chapter's order (see
:mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import numpy as np

from .core import Answer as A
from .core import _agree, _define, _exact, _int_or_none, _real_input

__all__: list[str] = []


@_define("ex-early_stopping-1", chapter="early_stopping",
         inputs={"losses": "sequence", "min_delta": "min_delta", "patience": "2"},
         setup="sequence: the eight validation losses; min_delta and stopper: the last run of your loop",
         answers=(A("stopped_at", "the evaluation at which EarlyStopping(patience=2, min_delta) stopped, None if never",
                    "an evaluation counts only if it beats the best so far by more than min_delta", "exact"),
                  A("best_step", "the evaluation whose parameters it restores", "the best evaluation is the last one "
                    "that counted as an improvement", "exact", source="stopper.best_step")),
         reference="the patience rule replayed in plain Python")
def _early_stopping_1(stopped_at, best_step, *, losses, min_delta, patience):
    best, best_t, bad, stop = math.inf, None, 0, None
    for t, loss in enumerate(float(v) for v in losses):
        if loss < best - _real_input("min_delta", min_delta):
            best, best_t, bad = loss, t, 0
        else:
            bad += 1
        if bad >= patience:
            stop = t
            break
    return {"stopped_at": _exact(_int_or_none(stopped_at), stop), "best_step": _exact(_int_or_none(best_step), best_t)}


@_define("ex-early_stopping-2", chapter="early_stopping", inputs={"lr": "eps_one", "lam": "lam_one"},
         answers=(A("tau_half", "the number of gradient steps that recover half of w* along the eigen-direction",
                    "find the smallest tau with 1 - (1 - eps lambda)^tau >= 1/2", "exact"),),
         reference="gradient descent on the one-dimensional quadratic, step by step from 0, until it reaches w*/2")
def _early_stopping_2(tau_half, *, lr, lam):
    lr, lam = _real_input("lr", lr), _real_input("lam", lam)
    w, t = 0.0, 0
    while w < 0.5:
        w, t = w + lr * lam * (1.0 - w), t + 1
    return {"tau_half": _exact(_int_or_none(tau_half), t)}


@_define("ex-early_stopping-3", chapter="early_stopping", inputs={"lr": "lr"},
         setup="lr: the last step size of your loop (on the problem H2, w2 above)",
         answers=(A("stiff", "the factors q_1^T w_t / q_1^T w* along the eigenvalue-1 direction, for t = 0..12",
                    "project gd_trajectory(H2, w2, lr, 12) on the eigenvector of eigenvalue 1 and divide by w*'s component",
                    "rtol 1e-9"),),
         reference="the closed form 1 - (1 - eps lambda)^t with lambda = 1")
def _early_stopping_3(stiff, *, lr):
    lr = _real_input("lr", lr)
    return {"stiff": _agree(stiff, 1 - (1 - lr) ** np.arange(13), rtol=1e-9, atol=1e-12)}
