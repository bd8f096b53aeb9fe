"""Self-checks of the exercises of ``book/bagging.ipynb``.

Chapter: *Bagging and ensembles*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from .core import Answer as A
from .core import _agree, _as_array, _define, _real_input

__all__: list[str] = []


@_define("ex-bagging-1", chapter="bagging", inputs={"v": "v_ex", "k": "k_ex"},
         answers=(A("c_ex", "the most negative c for which the k x k matrix (v on the diagonal, c elsewhere) is a "
                    "covariance matrix", "both eigenvalues, v - c and v + (k-1)c, must be >= 0", "atol 1e-8"),),
         reference="bisection on c for the smallest value at which the matrix's smallest eigenvalue (eigvalsh) is >= 0")
def _bagging_1(c_ex, *, v, k):
    v, k = _real_input("v", v), int(k)
    lo, hi = -v, v  # PSD at hi, not at lo (for k > 2)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        S = np.full((k, k), mid) + (v - mid) * np.eye(k)
        lo, hi = (lo, mid) if np.linalg.eigvalsh(S)[0] >= -1e-13 * v else (mid, hi)
    return {"c_ex": _agree(c_ex, hi, atol=1e-8)}


def _right(probs, labels):
    """Per member and example: is the label's probability strictly the largest?"""
    p = np.take_along_axis(probs, labels[None, :, None], axis=-1)[..., 0]
    others = np.where(np.arange(probs.shape[-1]) == labels[None, :, None], -np.inf, probs).max(-1)
    return p > others


@_define("ex-bagging-2", chapter="bagging",
         answers=(A("member_probs", "(3 members, 5 examples, 2 classes) class probabilities of your three classifiers",
                    "each member must be right on 3 of the 5 examples, their average on only 2 (and each row a "
                    "probability vector)", "exact counts"),
                  A("labels", "the (5,) true classes", "one label per example", "exact"),
                  A("pair", "(2, 1) predictions of two members for the target 0, one of which beats the ensemble",
                    "one member's squared error must be below that of the two members' average", "exact")),
         reference="accuracies recomputed (right = the label's probability strictly largest), Brier scores and squared "
                   "errors in NumPy")
def _bagging_2(member_probs, labels, pair):
    P, y = _as_array(member_probs), _as_array(labels)
    verdict = {"labels": (y is not None and y.shape == (5,) and bool(np.all(y == np.round(y))), "")}
    if P is None or P.shape != (3, 5, 2) or not verdict["labels"][0]:
        verdict["member_probs"] = (False, "it should have shape (3, 5, 2), with labels of shape (5,)")
    else:
        y = y.astype(int)
        valid = bool((P >= 0).all() and np.allclose(P.sum(-1), 1, atol=1e-9))
        members = _right(P, y).mean(1)
        ensemble = _right(P.mean(0, keepdims=True), y).mean()
        onehot = np.eye(2)[y]
        brier_ok = ((P.mean(0) - onehot) ** 2).sum(-1).mean() <= ((P - onehot) ** 2).sum(-1).mean() + 1e-12
        verdict["member_probs"] = (valid and np.allclose(members, 0.6) and math.isclose(ensemble, 0.4) and brier_ok, "")
    Q = _as_array(pair)
    if Q is None or Q.ndim == 0 or Q.shape[0] != 2:
        verdict["pair"] = (False, "it should hold two members' predictions")
    else:
        members = (Q.reshape(2, -1) ** 2).sum(1)
        verdict["pair"] = (bool(members.min() < (Q.reshape(2, -1).mean(0) ** 2).sum()), "")
    return verdict


@_define("ex-bagging-3", chapter="bagging", inputs={"bag": "bag", "x": "data.x_train", "y": "data.y_train"},
         answers=(A("oob_acc", "the out-of-bag accuracy on the training set (a fraction between 0 and 1)",
                    "predict each training example with only the members whose bootstrap sample does not contain it, "
                    "averaging their probabilities", "atol 0.005 (averaging logits instead is within it)"),),
         reference="out-of-bag members found by scanning bag.indices, their softmax probabilities averaged per example")
def _bagging_3(oob_acc, *, bag, x, y):
    indices = bag.indices.numpy()
    seen = np.zeros((indices.shape[0], x.shape[0]), dtype=bool)
    for m, row in enumerate(indices):
        seen[m, row] = True
    with torch.no_grad():
        probs = torch.softmax(bag.outputs(x), dim=-1).double().numpy()
    weights = (~seen).astype(float)[..., None]
    covered = weights.sum(0)[:, 0] > 0
    pooled = (probs * weights).sum(0)[covered]
    return {"oob_acc": _agree(oob_acc, (pooled.argmax(-1) == y.numpy()[covered]).mean(), atol=0.005)}


def _moments_mistake(full, mf):
    return {"full": full, "mf": replace(mf, matrix=mf.matrix * 1.1)}


@_define("ex-bagging-4", chapter="bagging", inputs={"x": "data.x_test", "y": "data.y_test"}, mistake=_moments_mistake,
         answers=(A("full", "the 8 members trained on the full training set (what fit_bagged(..., bootstrap=False) returns)",
                    "train 8 members with bootstrap=False", "every member saw every example once"),
                  A("mf", "error_moments of their test probabilities against the one-hot test labels",
                    "measure the members' errors on the test set as for the bootstrap bags", "v and c, rtol 1e-9")),
         reference="training indices inspected; v (mean Brier score of a member) and c (mean product of two different "
                   "members' errors) recomputed from the members' test probabilities")
def _bagging_4(full, mf, *, x, y):
    indices = getattr(full, "indices", None)
    n = None if indices is None else indices.shape[1]
    full_ok = indices is not None and indices.shape[0] == 8 and bool(
        (np.sort(indices.numpy(), axis=1) == np.arange(n)).all())
    with torch.no_grad():
        probs = torch.softmax(full.outputs(x), dim=-1).double().numpy() if hasattr(full, "outputs") else None
    if probs is None or not hasattr(mf, "v"):
        return {"full": (full_ok, ""), "mf": (False, "it should be what error_moments returns")}
    e = probs - np.eye(probs.shape[-1])[y.numpy()]
    M = np.einsum("mnk,lnk->ml", e, e) / e.shape[1]
    k = M.shape[0]
    v, c = np.trace(M) / k, (M.sum() - np.trace(M)) / (k * (k - 1))
    return {"full": (full_ok, ""), "mf": _agree([mf.v, mf.c], [v, c], rtol=1e-9)}
