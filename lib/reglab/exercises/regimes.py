"""Self-checks of the exercises of ``book/regimes.ipynb``.

Chapter: *Capacity, regimes and the regularized objective*. Each judge computes its reference by
a route of its own and returns, per answer, ``(passed, detail)``; the exercises register on
import, in the chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
import torch

from ._judging import _agree, _as_array, _NotYet, _np, _real_input, _tensor_input
from ._math import _ridge
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []


@_define("ex-regimes-1", chapter="regimes",
         inputs=(I("x_train", "data.x_train", "(20, 1) training inputs of REG-2, in [-1, 1]"),
                 I("y_train", "data.y_train", "(20,) their targets"),
                 I("alphas", "ALPHAS", "(41,) the penalty weights of the ridge sweep above")),
         answers=(A("penalised_norms", "(41,) per alpha of alphas: the norm of w_1..w_12 of the degree-12 fit "
                    "with the constant unpenalised", "penalise every coefficient except the constant "
                    "(D = diag(0, 1, ..., 1)) and take the norm of the penalised ones only", "rtol 1e-6"),
                  A("w_big", "(13,) the coefficients of that fit at alpha = 1e8", "solve (X^T X + alpha D) w = X^T y "
                    "at alpha = 1e8 with the constant left out of the penalty; what is left for the data to decide?",
                    "atol 1e-4 from the limit alpha -> infinity")),
         reference="penalised least squares as an augmented least-squares problem (NumPy's Legendre basis and lstsq); "
                   "the limit alpha -> infinity: penalised coefficients 0, the constant fitted alone")
def _regimes_1(penalised_norms, w_big, *, x_train, y_train, alphas):
    x, y = _np("x_train", x_train).reshape(-1), _np("y_train", y_train).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x_train and y_train must have as many entries, but got {len(x)} and {len(y)}")
    X = np.polynomial.legendre.legvander(x, 12)
    D = np.diag([0.0] + [1.0] * 12)
    norms = [np.linalg.norm(_ridge(X, y, float(a), D)[1:]) for a in _np("alphas", alphas, ndim=1)]
    limit = np.concatenate([[np.linalg.lstsq(X[:, :1], y, rcond=None)[0][0]], np.zeros(12)])
    return {"penalised_norms": _agree(penalised_norms, norms, rtol=1e-6), "w_big": _agree(w_big, limit, atol=1e-4)}


@_define("ex-regimes-2", chapter="regimes",
         answers=(A("more_summary", "(13, 3) per degree 0..12: the geometric mean of the test MSE over the 20 data "
                    "sets of 200 points and its 95 % interval (what geometric_ci returns)",
                    "train on 200 points per data set (n_train=200, noise 0.3) and summarise each degree's test MSE",
                    "rtol 5 % for degrees 3..12"),),
         reference="the prediction risk of least squares with p coefficients and no bias, sigma^2 (1 + p/n), for the "
                   "degrees >= 3 of the cubic generator (first order in p/n; the 95 % intervals are about 2 % wide)")
def _regimes_2(more_summary):
    a = _as_array(more_summary)
    if a is not None and a.ndim == 2 and a.shape[0] == 13:
        a = a[:, 0]
    if a is None or a.shape != (13,):
        return {"more_summary": (False, "it should have one row per degree 0..12")}
    degrees = np.arange(3, 13)
    return {"more_summary": _agree(a[3:], 0.3**2 * (1 + (degrees + 1) / 200), rtol=0.05)}


@_define("ex-regimes-3", chapter="regimes",
         inputs=(I("X8", "polynomial_features(data.x_train, 8)", "(20, 9) degree-8 design (you may choose another)"),
                 I("y_train", "data.y_train", "(20,) its targets"),
                 I("alpha", "0.05", "the penalty weight (any alpha > 0)")),
         answers=(A("formula", "your formula for d||w(alpha)||^2 / d alpha at X8, y_train, alpha (a number)",
                    "differentiate (X^T X + alpha I) w = X^T y with respect to alpha, then d||w||^2/d alpha = "
                    "2 w^T dw/d alpha", "rtol 1e-6"),
                  A("svd_norm2", "||w(alpha)||^2 from the SVD of X8, eq. (1.3) (a number)", "write w in the basis "
                    "of the right singular vectors: each component is s_i u_i^T y / (s_i^2 + alpha)", "rtol 1e-8")),
         reference="autograd: the derivative of ||solve(X^T X + alpha I, X^T y)||^2 with respect to alpha, differentiated "
                   "through the solve; ||w||^2 from an augmented least-squares problem")
def _regimes_3(formula, svd_norm2, *, X8, y_train, alpha):
    X, y = _tensor_input("X8", X8, ndim=2), _tensor_input("y_train", y_train).reshape(-1)
    if X.shape[0] != len(y):
        raise ValueError(f"X8 must have one row per entry of y_train, but got {X.shape[0]} rows and {len(y)} targets")
    alpha = _real_input("alpha", alpha)
    if alpha <= 0:
        raise _NotYet(f"alpha must be > 0, but it is {alpha:g}")
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    w = torch.linalg.solve(X.T @ X + a * torch.eye(X.shape[1], dtype=torch.float64), X.T @ y)
    (derivative,) = torch.autograd.grad(w.pow(2).sum(), a)
    norm2 = float(np.sum(_ridge(X.numpy(), y.numpy(), alpha) ** 2))
    return {"formula": _agree(formula, derivative.item(), rtol=1e-6), "svd_norm2": _agree(svd_norm2, norm2, rtol=1e-8)}
