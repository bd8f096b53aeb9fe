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
from ._math import _lstsq, _ridge
from .core import Answer as A
from .core import _agree, _define, _np, _real_input

__all__: list[str] = []


def _dropout_mistake(ours):
    return {"ours": Dropout(0.1)}


@_define("ex-dropout-1", chapter="dropout", mistake=_dropout_mistake,
         answers=(A("ours", "the reglab Dropout layer that behaves as torch.nn.Dropout(p=0.1)", "torch's p and "
                    "reglab's argument are different probabilities: which one does each name?", "identical outputs"),),
         reference="torch.nn.Dropout(p=0.1) itself, run with the same seeds on the same input, in training and eval mode")
def _dropout_1(ours):
    if not isinstance(ours, torch.nn.Module):
        return {"ours": (False, f"it should be a layer (an nn.Module), but it is a {type(ours).__name__}")}
    layer, theirs = copy.deepcopy(ours), torch.nn.Dropout(p=0.1)
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
        same = same and torch.equal(layer.eval()(x), theirs.eval()(x))
    finally:
        torch.random.set_rng_state(state)
    return {"ours": (bool(same), "")}


def _dropout_weights(X, y, p):
    """Training weights minimising ||y - pXw||^2 + p(1-p)||Gamma w||^2 (augmented least squares)."""
    gamma = np.diag(np.sqrt((X**2).sum(0)))
    return _lstsq(np.vstack([p * X, math.sqrt(p * (1 - p)) * gamma]), np.concatenate([y, np.zeros(X.shape[1])]))


@_define("ex-dropout-2", chapter="dropout", inputs={"X": "X_reg", "y": "y_reg", "p": "p"},
         answers=(A("dropout_ratio", "new / old dropout weights, entry by entry, after column 1 of X_reg is multiplied "
                    "by 100 (keep probability p)", "solve the dropout objective for both designs and divide",
                    "rtol 1e-6"),
                  A("ridge_ratio", "the same ratio for ridge regression with alpha = (1-p)/p mean_j Gamma_jj^2 of X_reg",
                    "use one alpha, computed from the original X_reg, for both designs", "rtol 1e-6")),
         reference="both objectives minimised as augmented least-squares problems (lstsq)")
def _dropout_2(dropout_ratio, ridge_ratio, *, X, y, p):
    X, y, p = _np("X", X, ndim=2), _np("y", y, ndim=1), _real_input("p", p)
    big = X.copy()
    big[:, 0] *= 100
    alpha = (1 - p) / p * (X**2).sum(0).mean()
    return {"dropout_ratio": _agree(dropout_ratio, _dropout_weights(big, y, p) / _dropout_weights(X, y, p), rtol=1e-6),
            "ridge_ratio": _agree(ridge_ratio, _ridge(big, y, alpha) / _ridge(X, y, alpha), rtol=1e-6)}


@_define("ex-dropout-3", chapter="dropout", inputs={"X": "X_reg", "y": "y_reg"},
         answers=(A("alone", "the limit of w* as p -> 0 (one weight per input)", "let p -> 0 in "
                    "p X^T X + (1-p) Gamma^2: what is left of the matrix?", "rtol 1e-6"),),
         reference="the dropout training weights at p = 1e-9 from the normal equations of the dropout objective")
def _dropout_3(alone, *, X, y):
    X, y, p = _np("X", X, ndim=2), _np("y", y, ndim=1), 1e-9
    w = np.linalg.solve(p * X.T @ X + (1 - p) * np.diag((X**2).sum(0)), X.T @ y)
    return {"alone": _agree(alone, w, rtol=1e-6, atol=1e-9)}


@_define("ex-dropout-4", chapter="dropout",
         inputs={"x": "x4", "W1": "W1", "b1": "b1", "W2": "W2", "b2": "b2", "keep_prob": "p"},
         answers=(A("gap", "the largest |ensemble mean - weight-scaled output| with the inputs masked too (the last case "
                    "of your loop)", "mask the 3 inputs and the 8 hidden units, enumerate all 2^11 masks",
                    "rtol 1e-6"),),
         reference="all 2^11 masks enumerated in NumPy, each weighted p^kept (1 - p)^dropped")
def _dropout_4(gap, *, x, W1, b1, W2, b2, keep_prob):
    x, W1, b1, W2, b2 = (_np(n, v) for n, v in (("x", x), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)))
    p = _real_input("keep_prob", keep_prob)

    def net(r):
        return np.maximum((x * r[:3]) @ W1.T + b1, 0) * r[3:] @ W2.T + b2

    mean = sum(p ** sum(r) * (1 - p) ** (11 - sum(r)) * net(np.array(r, float))
               for r in itertools.product((0, 1), repeat=11))
    return {"gap": _agree(gap, np.abs(mean - net(np.full(11, p))).max(), rtol=1e-6)}
