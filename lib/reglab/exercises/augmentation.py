"""Self-checks of the exercises of ``book/augmentation.ipynb``.

Chapter: *Dataset augmentation and input noise*. Each judge computes its reference by a route of
its own and returns, per answer, ``(passed, detail)``; the exercises register on import, in the
chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from ._math import _quadratic_expectation, _ridge
from .core import Answer as A
from .core import _agree, _define, _np, _real_input, _tensor_input

__all__: list[str] = []


@_define("ex-augmentation-1", chapter="augmentation", inputs={"X": "X", "y": "y", "w": "w", "Sigma": "Sigma"},
         setup="X, y, w and Sigma (the noise covariance) are yours to choose",
         answers=(A("formula", "your closed form for E||y - (X + E)w||^2, rows of E ~ N(0, Sigma), at X, y, w, Sigma",
                    "the cross term vanishes; what is E[(e_n^T w)^2] for e_n ~ N(0, Sigma), and how many rows are there?",
                    "rtol 1e-9"),),
         reference="the expectation computed by Gauss-Hermite quadrature over the noise (exact for this quadratic)")
def _augmentation_1(formula, *, X, y, w, Sigma):
    X, y, w, S = _np("X", X, ndim=2), _np("y", y, ndim=1), _np("w", w, ndim=1), _np("Sigma", Sigma, ndim=2)
    lam, V = np.linalg.eigh(0.5 * (S + S.T))
    L = V * np.sqrt(np.clip(lam, 0, None))  # L L^T = Sigma, also for a singular Sigma
    r = y - X @ w
    per_row = _quadratic_expectation(lambda z: float(np.mean((r - (L @ z) @ w) ** 2)), len(S), 1.0)
    return {"formula": _agree(formula, per_row * len(r), rtol=1e-9)}


@_define("ex-augmentation-2", chapter="augmentation", inputs={"x": "digit_data.x_train", "y": "digit_data.y_train"},
         answers=(A("dist", "(10, 10) distances: row c = mirrored mean image of class c, column c' = mean image of c'",
                    "mirror left to right: reverse the column order of each 8 x 8 image, rows unchanged", "rtol 1e-9"),),
         reference="class means mirrored with numpy.fliplr and compared by scipy's cdist")
def _augmentation_2(dist, *, x, y):
    x, y = _np("x", x, ndim=2), _tensor_input("y", y).numpy().astype(int)
    means = np.stack([x[y == c].mean(0) for c in range(10)])
    mirrored = np.stack([np.fliplr(m.reshape(8, 8)).reshape(64) for m in means])
    return {"dist": _agree(dist, cdist(mirrored, means), rtol=1e-9, atol=1e-12)}


@_define("ex-augmentation-3", chapter="augmentation", inputs={"X": "X", "y": "y", "sigma": "sigma"},
         answers=(A("sk", "the coefficients of sklearn's Ridge (fit_intercept=False) with the penalty weight that matches "
                    "input noise of standard deviation sigma", "Ridge minimises a sum of squared errors, not a mean: "
                    "write the noisy-input identity in that form before reading off the weight", "rtol 1e-6"),),
         reference="the minimiser of the expected noisy-input loss, ||y - Xw||^2 + N sigma^2 ||w||^2, by augmented "
                   "least squares")
def _augmentation_3(sk, *, X, y, sigma):
    X, y, sigma = _np("X", X, ndim=2), _np("y", y, ndim=1), _real_input("sigma", sigma)
    return {"sk": _agree(sk, _ridge(X, y, len(y) * sigma**2), rtol=1e-6, atol=1e-9)}
