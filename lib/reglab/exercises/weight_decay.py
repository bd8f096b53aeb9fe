"""Self-checks of the exercises of ``book/weight_decay.ipynb``.

Chapter: *Weight decay (L2 penalty)*. Each judge computes its reference by a route of its own
and returns, per answer, ``(passed, detail)``; the exercises register on import, in the
chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import torch
from scipy import optimize

from ._math import _lstsq
from .core import Answer as A
from .core import _agree, _define, _exact, _int_or_none, _real_input, _tensor_input

__all__: list[str] = []


@_define("ex-weight_decay-1", chapter="weight_decay", inputs={"lr": "lr", "alpha": "alpha_value"},
         setup="lr and alpha_value: the learning rate and the penalty weight of your last run",
         answers=(A("exact", "the exact number t (a real number) of decay steps after which a weight is halved",
                    "solve (1 - lr alpha)^t = 1/2 for t without approximating the logarithm", "rtol 1e-9"),
                  A("steps", "the first step count at which weight_decay_step has taken w = 1 to 1/2 or below",
                    "count every call of weight_decay_step, stopping as soon as w <= 1/2", "exact")),
         reference="the root of (1 - lr alpha)^t - 1/2 by Brent's method, and the smallest integer not below it")
def _weight_decay_1(exact, steps, *, lr, alpha):
    q = 1 - _real_input("lr", lr) * _real_input("alpha", alpha)
    if not 0 < q < 1:
        raise ValueError(f"lr * alpha must be in (0, 1), but got {1 - q}")
    hi = 1.0
    while q**hi > 0.5:
        hi *= 2
    root = optimize.brentq(lambda t: q**t - 0.5, 0.0, hi, xtol=1e-14, rtol=1e-15)
    return {"exact": _agree(exact, root, rtol=1e-9), "steps": _exact(_int_or_none(steps), math.ceil(root - 1e-9))}


@_define("ex-weight_decay-2", chapter="weight_decay", inputs={"X": "X", "y": "points.y_train"},
         answers=(A("H_ls", "the Hessian H of J(w) = 1/2 ||Xw - y||^2", "differentiate J twice", "rtol 1e-9"),
                  A("w_ls", "the unpenalised minimiser w* of J", "minimise J without a penalty (least squares)",
                    "atol 1e-8")),
         reference="the Hessian of J by torch.autograd.functional.hessian; w* by NumPy's lstsq")
def _weight_decay_2(H_ls, w_ls, *, X, y):
    X, y = _tensor_input("X", X, ndim=2), _tensor_input("y", y).reshape(-1)
    H = torch.autograd.functional.hessian(lambda w: 0.5 * (X @ w - y).pow(2).sum(), torch.zeros(X.shape[1], dtype=torch.float64))
    return {"H_ls": _agree(H_ls, H, rtol=1e-9, atol=1e-9), "w_ls": _agree(w_ls, _lstsq(X.numpy(), y.numpy()), atol=1e-8)}


@_define("ex-weight_decay-3", chapter="weight_decay",
         inputs={"eigvals": "prediction.eigvals", "eigvecs": "prediction.eigvecs"},
         answers=(A("effective", "dict: k -> the effective number of parameters of the output layer at alpha = 10^-k, "
                    "for k = 1, 2, 3", "sum the shrink factors lambda_i / (lambda_i + alpha) over the Hessian's "
                    "eigenvalues", "atol 0.05 each"),),
         reference="tr(H (H + alpha I)^-1) by a linear solve, with H = Q diag(lambda) Q^T rebuilt from the eigenvectors")
def _weight_decay_3(effective, *, eigvals, eigvecs):
    lam, Q = _tensor_input("eigvals", eigvals, ndim=1), _tensor_input("eigvecs", eigvecs, ndim=2)
    H = Q @ torch.diag(lam) @ Q.T
    eye = torch.eye(len(lam), dtype=torch.float64)
    ref = [torch.linalg.solve(H + 10.0**-k * eye, H).trace().item() for k in (1, 2, 3)]
    try:
        got = [effective[k] for k in (1, 2, 3)]
    except (TypeError, KeyError, IndexError):
        return {"effective": (False, "it should be a dict with the keys 1, 2 and 3")}
    return {"effective": _agree(got, ref, atol=0.05)}
