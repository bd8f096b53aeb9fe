"""Self-checks of the exercises of ``book/weight_decay.ipynb``.

Chapter: *Weight decay (L2 penalty)*. Each judge computes its reference by a route of its own
and returns, per answer, ``(passed, detail)``; the exercises register on import, in the
chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
import torch

from .._lazy import lazy_module
from ._judging import _agree, _as_array, _int_or_none, _NotYet, _real_input, _tensor_input
from ._math import _lstsq
from .core import Answer as A
from .core import Input as I
from .core import _define

optimize = lazy_module("scipy.optimize")

__all__: list[str] = []

_LR = 0.05  # the statement's epsilon


@_define("ex-weight_decay-1", chapter="weight_decay",
         inputs=(I("alpha_value", "1e-2", "the penalty weight of the run you report: 1e-3 or 1e-2"),),
         answers=(A("exact", "the exact number of decay steps t (a real number) that halve a weight, with the "
                    "statement's lr 0.05 and alpha_value", "solve (1 - lr alpha)^t = 1/2 for t without approximating the logarithm",
                    "rtol 1e-9"),
                  A("steps", "the first step count (an integer) at which weight_decay_step has taken w = 1 to 1/2 or "
                    "below", "count every call of weight_decay_step, stopping as soon as w <= 1/2",
                    "exact (in float64 or in float32 arithmetic)")),
         reference="the root of (1 - lr alpha)^t - 1/2 by Brent's method; the halving replayed step by step in float64 "
                   "and in float32")
def _weight_decay_1(exact, steps, *, alpha_value):
    alpha = _real_input("alpha_value", alpha_value)
    q = 1 - _LR * alpha
    if not 0 < q < 1:
        raise _NotYet(f"alpha_value must be in (0, {1 / _LR:g}) for a decay at lr = {_LR}, but it is {alpha:g}")
    hi = 1.0
    while q**hi > 0.5:
        hi *= 2
    root = optimize.brentq(lambda t: q**t - 0.5, 0.0, hi, xtol=1e-14, rtol=1e-15)
    counts = set()
    for dtype in (np.float64, np.float32):
        w, factor, t = dtype(1.0), dtype(q), 0
        while w > 0.5:
            w, t = dtype(factor * w), t + 1
        counts.add(t)
    got = _int_or_none(steps)
    return {"exact": _agree(exact, root, rtol=1e-9),
            "steps": (isinstance(got, int) and not isinstance(got, bool) and got in counts, "")}


@_define("ex-weight_decay-2", chapter="weight_decay",
         inputs=(I("X", "...", "(n, d) a polynomial design of your choice, full column rank"),
                 I("y", "...", "(n,) its targets", source="points.y_train")),
         answers=(A("H_ls", "(d, d) the Hessian H of J(w) = 1/2 ||Xw - y||^2", "differentiate J twice", "rtol 1e-9"),
                  A("w_ls", "(d,) the unpenalised minimiser w* of J", "minimise J without a penalty (least squares)",
                    "atol 1e-8")),
         reference="the Hessian of J by torch.autograd.functional.hessian; w* by NumPy's lstsq")
def _weight_decay_2(H_ls, w_ls, *, X, y):
    X, y = _tensor_input("X", X, ndim=2), _tensor_input("y", y).reshape(-1)
    if X.shape[0] != len(y):
        raise ValueError(f"X must have one row per entry of y, but got {X.shape[0]} rows and {len(y)} targets")
    H = torch.autograd.functional.hessian(lambda w: 0.5 * (X @ w - y).pow(2).sum(), torch.zeros(X.shape[1], dtype=torch.float64))
    w_star = _lstsq(X.numpy(), y.numpy())
    return {"H_ls": _agree(H_ls, H, rtol=1e-9, atol=1e-9 * float(H.abs().max())),
            "w_ls": _agree(w_ls, w_star, atol=1e-8 * max(1.0, float(np.abs(w_star).max())))}


@_define("ex-weight_decay-3", chapter="weight_decay",
         inputs=(I("eigvals", "prediction.eigvals", "(170,) eigenvalues of the output layer's Hessian (WD-5, seed 0)"),
                 I("eigvecs", "prediction.eigvecs", "(170, 170) its eigenvectors, one per column")),
         answers=(A("effective", "dict {1: ..., 2: ..., 3: ...}: the effective number of parameters at alpha = 10^-k",
                    "sum the shrink factors lambda_i / (lambda_i + alpha) over the Hessian's eigenvalues",
                    "atol 0.05 each"),),
         reference="tr(H (H + alpha I)^-1) by a linear solve, with H = Q diag(lambda) Q^T rebuilt from the eigenvectors")
def _weight_decay_3(effective, *, eigvals, eigvecs):
    lam, Q = _tensor_input("eigvals", eigvals, ndim=1), _tensor_input("eigvecs", eigvecs, ndim=2)
    if Q.shape != (len(lam), len(lam)):
        raise ValueError(f"eigvecs must have shape {(len(lam), len(lam))} for {len(lam)} eigenvalues, but got {tuple(Q.shape)}")
    H = Q @ torch.diag(lam) @ Q.T
    eye = torch.eye(len(lam), dtype=torch.float64)
    ref = [torch.linalg.solve(H + 10.0**-k * eye, H).trace().item() for k in (1, 2, 3)]
    if not isinstance(effective, dict) or not {1, 2, 3} <= set(effective):
        return {"effective": (False, "it should be a dict with the keys 1, 2 and 3")}
    got = [_as_array(effective[k]) for k in (1, 2, 3)]
    return {"effective": _agree(got if all(g is not None for g in got) else None, ref, atol=0.05)}
