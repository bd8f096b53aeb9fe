"""Self-checks of the exercises of ``book/regimes.ipynb``.

Chapter: *Capacity, regimes and the regularized objective*. Each judge computes its reference by
a route of its own and returns, per answer, ``(passed, detail)``; the exercises register on
import, in the chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
import torch

from ._math import _ridge
from .core import Answer as A
from .core import _agree, _as_array, _define, _np, _real_input, _tensor_input

__all__: list[str] = []


@_define("ex-regimes-1", chapter="regimes", inputs={"x": "data.x_train", "y": "data.y_train", "alphas": "ALPHAS"},
         answers=(A("penalised_norms", "for each alpha in ALPHAS, the norm of the penalised coefficients w_1..w_12 of "
                    "the degree-12 fit whose constant is not penalised", "penalise every coefficient except the constant "
                    "(D = diag(0, 1, ..., 1)) and take the norm of the penalised ones only", "rtol 1e-6"),
                  A("w_big", "the 13 coefficients of that fit at alpha = 1e8", "solve (X^T X + alpha D) w = X^T y at alpha = "
                    "1e8 with the constant left out of the penalty; what is left for the data to decide?",
                    "atol 1e-4 from the limit alpha -> infinity")),
         reference="penalised least squares as an augmented least-squares problem (NumPy's Legendre basis and lstsq); "
                   "the limit alpha -> infinity: penalised coefficients 0, the constant fitted alone")
def _regimes_1(penalised_norms, w_big, *, x, y, alphas):
    x, y = _np("x", x).reshape(-1), _np("y", y).reshape(-1)
    X = np.polynomial.legendre.legvander(x, 12)
    D = np.diag([0.0] + [1.0] * 12)
    norms = [np.linalg.norm(_ridge(X, y, float(a), D)[1:]) for a in np.asarray(alphas, dtype=float)]
    limit = np.concatenate([[np.linalg.lstsq(X[:, :1], y, rcond=None)[0][0]], np.zeros(12)])
    return {"penalised_norms": _agree(penalised_norms, norms, rtol=1e-6), "w_big": _agree(w_big, limit, atol=1e-4)}


@_define("ex-regimes-2", chapter="regimes",
         answers=(A("more_summary", "array of shape (13, 3): per degree 0..12, the geometric mean of the test MSE over the "
                    "20 data sets of 200 points (column 0) and its 95 % interval, as geometric_ci returns them",
                    "train on 200 points per data set (n_train=200, noise 0.3) and summarise each degree's test MSE",
                    "rtol 5 % for degrees 3..12"),),
         reference="the prediction risk of least squares with p coefficients and no bias, sigma^2 (1 + p/n), for the "
                   "degrees >= 3 of the cubic generator (first order in p/n; the 95 % intervals are about 2 % wide)")
def _regimes_2(more_summary):
    a = _as_array(more_summary)
    if a is not None and a.ndim == 2:
        a = a[:, 0]
    if a is None or a.shape != (13,):
        return {"more_summary": (False, "it should have one row per degree 0..12")}
    degrees = np.arange(3, 13)
    return {"more_summary": _agree(a[3:], 0.3**2 * (1 + (degrees + 1) / 200), rtol=0.05)}


@_define("ex-regimes-3", chapter="regimes", inputs={"X": "X8", "y": "data.y_train", "alpha": "alpha"},
         setup="X8 (a polynomial design matrix) and alpha (a penalty weight > 0) are yours to choose",
         answers=(A("formula", "your formula for d||w(alpha)||^2 / d alpha, evaluated at alpha", "differentiate "
                    "(X^T X + alpha I) w = X^T y with respect to alpha, then d||w||^2/d alpha = 2 w^T dw/d alpha",
                    "rtol 1e-6"),
                  A("svd_norm2", "||w(alpha)||^2 computed from the SVD of X8 (eq-ridge-norm)", "write w in the basis of "
                    "the right singular vectors: each component is s_i u_i^T y / (s_i^2 + alpha)", "rtol 1e-8")),
         reference="autograd: the derivative of ||solve(X^T X + alpha I, X^T y)||^2 with respect to alpha, differentiated "
                   "through the solve; ||w||^2 from an augmented least-squares problem")
def _regimes_3(formula, svd_norm2, *, X, y, alpha):
    X, y, alpha = _tensor_input("X", X, ndim=2), _tensor_input("y", y).reshape(-1), _real_input("alpha", alpha)
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    w = torch.linalg.solve(X.T @ X + a * torch.eye(X.shape[1], dtype=torch.float64), X.T @ y)
    (derivative,) = torch.autograd.grad(w.pow(2).sum(), a)
    norm2 = float(np.sum(_ridge(X.numpy(), y.numpy(), alpha) ** 2))
    return {"formula": _agree(formula, derivative.item(), rtol=1e-6), "svd_norm2": _agree(svd_norm2, norm2, rtol=1e-8)}
