"""Self-checks of the exercises of ``book/augmentation.ipynb``.

Chapter: *Dataset augmentation and input noise*. Each judge computes its reference by a route of
its own and returns, per answer, ``(passed, detail)``; the exercises register on import, in the
chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np

from ._judging import _agree, _labels_input, _NotYet, _np, _real_input
from ._math import _quadratic_expectation, _ridge
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []


def _regression(X, y, X_name="X", y_name="y"):
    X, y = _np(X_name, X, ndim=2), _np(y_name, y).reshape(-1)
    if X.shape[0] != len(y):
        raise ValueError(f"{X_name} must have one row per entry of {y_name}, but got {X.shape[0]} rows and {len(y)}")
    return X, y


@_define("ex-augmentation-1", chapter="augmentation",
         inputs=(I("X", "...", "(N, d) inputs of your choice"),
                 I("y", "...", "(N,) targets"),
                 I("w", "...", "(d,) weights"),
                 I("Sigma", "...", "(d, d) the noise covariance of each row of E (yours: d <= 16)")),
         answers=(A("formula", "your closed form for E||y - (X + E) w||^2, rows of E ~ N(0, Sigma), at X, y, w, Sigma "
                    "(a number)", "the cross term vanishes; what is E[(e_n^T w)^2] for e_n ~ N(0, Sigma), and how "
                    "many rows are there?", "rtol 1e-9"),),
         reference="the expectation computed by Gauss-Hermite quadrature over the noise (exact for this quadratic)")
def _augmentation_1(formula, *, X, y, w, Sigma):
    X, y = _regression(X, y)
    w, S = _np("w", w).reshape(-1), _np("Sigma", Sigma, ndim=2)
    if len(w) != X.shape[1] or S.shape != (len(w), len(w)):
        raise ValueError(f"w and Sigma must fit X's {X.shape[1]} columns, but got w {w.shape} and Sigma {S.shape}")
    if len(w) > 16:
        raise ValueError(f"the check's quadrature handles up to 16 columns, but X has {len(w)}")
    lam, V = np.linalg.eigh(0.5 * (S + S.T))
    if not np.allclose(S, S.T, atol=1e-12 * max(1.0, np.abs(S).max())) or lam.min() < -1e-12 * max(1.0, lam.max()):
        raise _NotYet("Sigma must be a covariance matrix: symmetric, with no negative eigenvalue")
    L = V * np.sqrt(np.clip(lam, 0, None))  # L L^T = Sigma, also for a singular Sigma
    r = y - X @ w
    per_row = _quadratic_expectation(lambda z: float(np.mean((r - (L @ z) @ w) ** 2)), len(S), 1.0)
    return {"formula": _agree(formula, per_row * len(r), rtol=1e-9)}


@_define("ex-augmentation-2", chapter="augmentation",
         inputs=(I("x_digits", "digit_data.x_train", "(1347, 64) training digits, 8 x 8 images flattened by rows"),
                 I("y_digits", "digit_data.y_train", "(1347,) their classes 0..9")),
         answers=(A("dist", "(10, 10) distances: row c = mirrored mean image of class c, column c' = mean image of c'",
                    "mirror left to right: reverse the column order of each 8 x 8 image, rows unchanged", "rtol 1e-9"),),
         reference="class means mirrored with numpy.fliplr and compared by scipy's cdist")
def _augmentation_2(dist, *, x_digits, y_digits):
    x, y = _np("x_digits", x_digits, ndim=2), _labels_input("y_digits", y_digits, classes=10).numpy()
    if x.shape[1] != 64 or len(y) != len(x) or len(np.unique(y)) != 10:
        raise ValueError("x_digits must hold 8 x 8 images (64 columns), one label of y_digits each, every class present")
    means = np.stack([x[y == c].mean(0) for c in range(10)])
    mirrored = np.stack([np.fliplr(m.reshape(8, 8)).reshape(64) for m in means])
    from scipy.spatial.distance import cdist  # here: scipy.spatial takes most of a second to import

    return {"dist": _agree(dist, cdist(mirrored, means), rtol=1e-9, atol=1e-12)}


@_define("ex-augmentation-3", chapter="augmentation",
         inputs=(I("X_fit", "...", "(N, d) inputs of your choice (your X of Exercise 7.1, say)", source="X"),
                 I("y_fit", "...", "(N,) their targets", source="y"),
                 I("sigma", "0.7", "the standard deviation of the input noise (any sigma > 0)")),
         answers=(A("sk", "(d,) the coefficients of sklearn's Ridge (fit_intercept=False) fitted to X_fit, y_fit with "
                    "the penalty weight that matches input noise of standard deviation sigma", "Ridge minimises a sum "
                    "of squared errors, not a mean: write the noisy-input identity in that form before reading off "
                    "the weight", "rtol 1e-6"),),
         reference="the minimiser of the expected noisy-input loss, ||y - Xw||^2 + N sigma^2 ||w||^2, by augmented "
                   "least squares")
def _augmentation_3(sk, *, X_fit, y_fit, sigma):
    X, y = _regression(X_fit, y_fit, "X_fit", "y_fit")
    sigma = _real_input("sigma", sigma)
    if sigma <= 0:
        raise _NotYet(f"sigma must be > 0, but it is {sigma:g}")
    return {"sk": _agree(sk, _ridge(X, y, len(y) * sigma**2), rtol=1e-6, atol=1e-9)}
