"""Self-checks of the exercises of ``book/bagging.ipynb``.

Chapter: *Bagging and ensembles*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ._judging import _agree, _as_array, _int_or_none, _labels_input, _NotYet, _real_input, _tensor_input
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []


@_define("ex-bagging-1", chapter="bagging",
         inputs=(I("v_ex", "2.0", "the variance v of each member's error (any v > 0)"),
                 I("k_ex", "5", "the number of members k (any integer k >= 2)")),
         answers=(A("c_ex", "the most negative c for which the k x k matrix (v on the diagonal, c elsewhere) is a "
                    "covariance matrix (a number)", "both eigenvalues, v - c and v + (k-1)c, must be >= 0",
                    "atol 1e-8 v"),),
         reference="bisection on c for the smallest value at which the matrix's smallest eigenvalue (eigvalsh) is >= 0")
def _bagging_1(c_ex, *, v_ex, k_ex):
    v, k = _real_input("v_ex", v_ex), _int_or_none(k_ex)
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise _NotYet(f"k_ex must be an integer >= 2 (with one member there is no correlation), but it is {k_ex!r}")
    if v <= 0:
        raise _NotYet(f"v_ex must be > 0, but it is {v:g}")
    lo, hi = -2 * v, v  # not PSD at lo (k >= 2), PSD at hi
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        S = np.full((k, k), mid) + (v - mid) * np.eye(k)
        lo, hi = (lo, mid) if np.linalg.eigvalsh(S)[0] >= -1e-13 * v else (mid, hi)
    return {"c_ex": _agree(c_ex, hi, atol=1e-8 * v)}


def _right(probs, labels):
    """Per member and example: is the label's probability strictly the largest?"""
    p = np.take_along_axis(probs, labels[None, :, None], axis=-1)[..., 0]
    others = np.where(np.arange(probs.shape[-1]) == labels[None, :, None], -np.inf, probs).max(-1)
    return p > others


def _pair_verdict(pair):
    Q = _as_array(pair)
    if Q is None or Q.ndim == 0 or Q.shape[0] != 2 or not np.isfinite(Q).all():
        return False, "it should hold two members' predictions, one row each"
    Q = Q.reshape(2, -1)
    return bool((Q**2).sum(1).min() < (Q.mean(0) ** 2).sum()), ""


@_define("ex-bagging-2", chapter="bagging",
         answers=(A("member_probs", "(3 members, 5 examples, 2 classes) class probabilities of your three classifiers",
                    "the members' accuracies must average 60 %, their averaged probabilities be right on only 2 of "
                    "the 5 examples (and each row a probability vector)", "exact counts"),
                  A("labels", "(5,) the true classes, 0 or 1", "one label per example, 0 or 1", "exact"),
                  A("pair", "(2, 1) predictions of two members for the target 0, one of which beats their average",
                    "one member's squared error must be below that of the two members' average", "exact")),
         reference="accuracies recomputed (right = the label's probability strictly largest), Brier scores and squared "
                   "errors in NumPy")
def _bagging_2(member_probs, labels, pair):
    P, y = _as_array(member_probs), _as_array(labels)
    verdict = {"pair": _pair_verdict(pair)}
    labels_ok = (y is not None and y.shape == (5,) and bool(np.isin(y, (0, 1)).all()))
    verdict["labels"] = (labels_ok, "" if labels_ok else "it should be 5 labels, each 0 or 1")
    if P is None or P.shape != (3, 5, 2) or not np.isfinite(P).all():
        verdict["member_probs"] = (False, "it should have shape (3, 5, 2)")
    elif not labels_ok:
        verdict["member_probs"] = (False, "it is judged against labels, which are not right yet")
    elif not ((P >= 0).all() and np.allclose(P.sum(-1), 1, atol=1e-9)):
        verdict["member_probs"] = (False, "each member's row for an example must be a probability vector")
    else:
        y = y.astype(int)
        members = _right(P, y).mean(1)
        ensemble = _right(P.mean(0, keepdims=True), y).mean()
        onehot = np.eye(2)[y]
        brier_ok = ((P.mean(0) - onehot) ** 2).sum(-1).mean() <= ((P - onehot) ** 2).sum(-1).mean() + 1e-12
        verdict["member_probs"] = (bool(np.isclose(members.mean(), 0.6) and np.isclose(ensemble, 0.4) and brier_ok), "")
    return verdict


def _bag_parts(name, bag):
    """A bag's training indices (M, n) and its outputs function; TypeError naming it otherwise."""
    indices, outputs = getattr(bag, "indices", None), getattr(bag, "outputs", None)
    if not isinstance(indices, torch.Tensor) or indices.dim() != 2 or not callable(outputs):
        raise TypeError(f"{name} must be what fit_bagged returns (with .indices and .outputs), but got {type(bag).__name__}")
    return indices, outputs


@_define("ex-bagging-3", chapter="bagging",
         inputs=(I("bagged", "bag", "the 40-member bag above (bagged.indices: (40, 4000) bootstrap samples)"),
                 I("x_train", "data.x_train", "(4000, 40) its training signals"),
                 I("y_train", "data.y_train", "(4000,) their labels")),
         answers=(A("oob_acc", "the out-of-bag accuracy on the training set (a fraction between 0 and 1)",
                    "predict each training example with only the members whose bootstrap sample does not contain it, "
                    "averaging their probabilities", "atol 0.005 (averaging logits instead is within it)"),),
         reference="out-of-bag members found by scanning bagged.indices, their softmax probabilities averaged per example")
def _bagging_3(oob_acc, *, bagged, x_train, y_train):
    indices, outputs = _bag_parts("bagged", bagged)
    x, y = _tensor_input("x_train", x_train, ndim=2), _labels_input("y_train", y_train)
    seen = np.zeros((indices.shape[0], x.shape[0]), dtype=bool)
    for m, row in enumerate(indices.numpy()):
        seen[m, row] = True
    with torch.no_grad():  # the bag's own dtype: x_train as given
        probs = torch.softmax(outputs(x_train if isinstance(x_train, torch.Tensor) else x), dim=-1).double().numpy()
    weights = (~seen).astype(float)[..., None]
    covered = weights.sum(0)[:, 0] > 0
    pooled = (probs * weights).sum(0)[covered]
    return {"oob_acc": _agree(oob_acc, (pooled.argmax(-1) == y.numpy()[covered]).mean(), atol=0.005)}


def _moments_mistake(full, mf):
    return {"full": full, "mf": replace(mf, matrix=mf.matrix * 1.1)}


@_define("ex-bagging-4", chapter="bagging", mistake=_moments_mistake,
         inputs=(I("x_test", "data.x_test", "(1000, 40) the test signals"),
                 I("test_labels", "data.y_test", "(1000,) their labels")),
         answers=(A("full", "8 members trained on the full training set: what fit_bagged(..., num_members=8, "
                    "bootstrap=False) returns", "train 8 members with bootstrap=False", "every member saw every "
                    "example once"),
                  A("mf", "error_moments of their test probabilities against the one-hot test labels",
                    "measure the members' errors on the test set as for the bootstrap bags", "v and c, rtol 1e-9")),
         reference="training indices inspected; v (mean Brier score of a member) and c (mean product of two different "
                   "members' errors) recomputed from the members' test probabilities")
def _bagging_4(full, mf, *, x_test, test_labels):
    x, y = _tensor_input("x_test", x_test, ndim=2), _labels_input("test_labels", test_labels)
    indices, outputs = getattr(full, "indices", None), getattr(full, "outputs", None)
    if not isinstance(indices, torch.Tensor) or indices.dim() != 2 or not callable(outputs):
        return {"full": (False, "it should be what fit_bagged returns"), "mf": (False, "it is judged on full's members")}
    idx = indices.numpy()
    full_ok = idx.shape[0] == 8 and bool((np.sort(idx, axis=1) == np.arange(idx.shape[1])).all())
    with torch.no_grad():  # the bag's own dtype: x_test as given
        probs = torch.softmax(outputs(x_test if isinstance(x_test, torch.Tensor) else x), dim=-1).double().numpy()
    if probs.ndim != 3 or probs.shape[1] != len(y) or y.max() >= probs.shape[-1]:
        raise ValueError(f"test_labels must hold one label 0 .. {probs.shape[-1] - 1} per row of x_test")
    if not (hasattr(mf, "v") and hasattr(mf, "c")):
        return {"full": (full_ok, ""), "mf": (False, "it should be what error_moments returns")}
    if probs.shape[0] < 2:
        return {"full": (full_ok, ""), "mf": (False, "c needs at least two members")}
    e = probs - np.eye(probs.shape[-1])[y.numpy()]
    M = np.einsum("mnk,lnk->ml", e, e) / e.shape[1]
    k = M.shape[0]
    v, c = np.trace(M) / k, (M.sum() - np.trace(M)) / (k * (k - 1))
    return {"full": (full_ok, ""), "mf": _agree([mf.v, mf.c], [v, c], rtol=1e-9)}
