"""Self-checks of the exercises of ``book/dropout.ipynb``.

Chapter: *Dropout*. Each judge computes its reference by a route of its own and returns, per
answer, ``(passed, detail)``; the exercises register on import, in the chapter's order (see
:mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import torch

from ..dropout import Dropout
from ._judging import _agree, _NotYet, _np, _real_input
from ._math import _lstsq, _ridge
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []

_P_RESCALE = 0.5  # Exercise 6.2's keep probability
_MAX_MASKED_INPUTS = 16  # the check enumerates the 2^d masks of the inputs


def _dropout_mistake(ours):
    return {"ours": Dropout(0.1)}


def _same_outputs(layer, theirs) -> bool:
    """Training mode with three seeds, and eval mode: identical outputs (the global RNG restored)."""
    x = torch.linspace(-1, 1, 60, dtype=torch.float64).reshape(6, 10)
    state = torch.random.get_rng_state()
    try:
        same = True
        for seed in (0, 1, 2):
            outs = []
            for module in (layer.train(), theirs.train()):
                torch.manual_seed(seed)
                outs.append(module(x))
            same = same and torch.equal(*outs)
        return same and torch.equal(layer.eval()(x), theirs.eval()(x))
    finally:
        torch.random.set_rng_state(state)


@_define("ex-dropout-1", chapter="dropout", mistake=_dropout_mistake,
         answers=(A("ours", "the reglab Dropout layer equivalent to torch.nn.Dropout(p=0.1)", "torch's p and "
                    "reglab's argument are different probabilities: which one does each name?", "identical outputs"),),
         reference="torch.nn.Dropout(p=0.1) itself, run with the same seeds on the same input, in training and eval mode")
def _dropout_1(ours):
    if isinstance(ours, torch.nn.Dropout):
        return {"ours": (False, "that is torch's own layer; the exercise asks for reglab's Dropout")}
    if not isinstance(ours, Dropout):
        return {"ours": (False, f"it should be a reglab Dropout layer, but it is a {type(ours).__name__}")}
    return {"ours": (_same_outputs(copy.deepcopy(ours), torch.nn.Dropout(p=0.1)), "")}


def _dropout_weights(X, y, p):
    """Training weights minimising ||y - pXw||^2 + p(1-p)||Gamma w||^2 (augmented least squares)."""
    gamma = np.diag(np.sqrt((X**2).sum(0)))
    return _lstsq(np.vstack([p * X, math.sqrt(p * (1 - p)) * gamma]), np.concatenate([y, np.zeros(X.shape[1])]))


def _design(X, y):
    X, y = _np("X_ridge", X, ndim=2), _np("y_ridge", y, ndim=1)
    if X.shape[0] != len(y):
        raise ValueError(f"X_ridge must have one row per entry of y_ridge, but got {X.shape[0]} rows and {len(y)}")
    return X, y


@_define("ex-dropout-2", chapter="dropout",
         inputs=(I("X_ridge", "X_reg", "(60, 4) inputs of the ridge example"),
                 I("y_ridge", "y_reg", "(60,) its targets")),
         answers=(A("dropout_ratio", "(4,) new / old test-time dropout weights, entry by entry, at p = 0.5, after "
                    "column 1 of X_ridge is multiplied by 100", "solve the dropout objective at p = 0.5 for both "
                    "designs and divide", "rtol 1e-6"),
                  A("ridge_ratio", "(4,) the same ratio for ridge regression, alpha = (1-p)/p mean_j Gamma_jj^2 of "
                    "the original X_ridge", "use one alpha, computed from the original X_ridge, for both designs",
                    "rtol 1e-6")),
         reference="both objectives minimised as augmented least-squares problems (lstsq), at the statement's p = 0.5")
def _dropout_2(dropout_ratio, ridge_ratio, *, X_ridge, y_ridge):
    X, y = _design(X_ridge, y_ridge)
    p = _P_RESCALE
    big = X.copy()
    big[:, 0] *= 100
    alpha = (1 - p) / p * (X**2).sum(0).mean()
    return {"dropout_ratio": _agree(dropout_ratio, _dropout_weights(big, y, p) / _dropout_weights(X, y, p), rtol=1e-6),
            "ridge_ratio": _agree(ridge_ratio, _ridge(big, y, alpha) / _ridge(X, y, alpha), rtol=1e-6)}


@_define("ex-dropout-3", chapter="dropout",
         inputs=(I("X_ridge", "X_reg", "(60, 4) inputs of the ridge example"),
                 I("y_ridge", "y_reg", "(60,) its targets")),
         answers=(A("alone", "(4,) the limit of the trained weights w* as p -> 0", "let p -> 0 in "
                    "p X^T X + (1-p) Gamma^2: what is left of the matrix?", "rtol 1e-6"),),
         reference="the dropout training weights at p = 1e-9 from the normal equations of the dropout objective")
def _dropout_3(alone, *, X_ridge, y_ridge):
    X, y = _design(X_ridge, y_ridge)
    p = 1e-9
    w = np.linalg.solve(p * X.T @ X + (1 - p) * np.diag((X**2).sum(0)), X.T @ y)
    return {"alone": _agree(alone, w, rtol=1e-6, atol=1e-9)}


def _network(x4, W1, b1, W2, b2):
    """The statement's network o = W2 (r * relu(W1 x + b1)) + b2, its sizes checked against each other."""
    x, W1 = np.atleast_2d(_np("x4", x4)), np.atleast_2d(_np("W1", W1))
    b1, W2, b2 = _np("b1", b1).reshape(-1), np.atleast_2d(_np("W2", W2)), _np("b2", b2).reshape(-1)
    h, d = W1.shape
    if x.ndim != 2 or x.shape[1] != d or b1.shape != (h,) or W2.shape[1] != h or b2.shape not in ((W2.shape[0],), (1,)):
        raise ValueError(f"the network's sizes must fit together: x4 (n, d), W1 (h, d), b1 (h,), W2 (k, h), b2 (k,); "
                         f"got x4 {x.shape}, W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}")
    if d > _MAX_MASKED_INPUTS:
        raise ValueError(f"the check enumerates the 2^d masks of the inputs: x4 must have at most "
                         f"{_MAX_MASKED_INPUTS} columns, but has {d}")
    return x, W1, b1, W2, b2


@_define("ex-dropout-4", chapter="dropout",
         inputs=(I("x4", "...", "(n, d) the inputs you evaluate at (yours: any n, d <= 16)"),
                 I("W1", "...", "(h, d) hidden weights of your network (any h)"),
                 I("b1", "...", "(h,) hidden biases"),
                 I("W2", "...", "(k, h) output weights (any k)"),
                 I("b2", "...", "(k,) output biases"),
                 I("keep_prob", "0.5", "the keep probability p of every input and hidden unit")),
         answers=(A("gap", "the largest |ensemble mean - weight-scaled output| over the n inputs and k outputs, with "
                    "the inputs masked too (a number)", "mask the d inputs and the h hidden units, and average over "
                    "all 2^(d+h) masks", "rtol 1e-6"),),
         reference="the 2^d input masks enumerated in NumPy, each weighted p^kept (1 - p)^dropped; the hidden masks "
                   "averaged exactly, since the output is linear in them")
def _dropout_4(gap, *, x4, W1, b1, W2, b2, keep_prob):
    x, W1, b1, W2, b2 = _network(x4, W1, b1, W2, b2)
    p = _real_input("keep_prob", keep_prob)
    if not 0 < p <= 1:
        raise _NotYet(f"keep_prob must be in (0, 1], but it is {p:g}")
    d = x.shape[1]

    def expected_over_hidden(x_in, scale):  # E over the hidden masks: each unit kept with probability p
        return (scale * np.maximum(x_in @ W1.T + b1, 0)) @ W2.T + b2

    mean = sum(p ** sum(r) * (1 - p) ** (d - sum(r)) * expected_over_hidden(x * np.array(r, float), p)
               for r in itertools.product((0, 1), repeat=d))
    return {"gap": _agree(gap, np.abs(mean - expected_over_hidden(p * x, p)).max(), rtol=1e-6, atol=1e-12)}
