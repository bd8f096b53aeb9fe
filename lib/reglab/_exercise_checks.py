"""The checks of the book's exercises, one per label, in chapter order (private).

Each judge computes its reference by a route of its own (a solver, a simulation, quadrature,
torch's implementation, a brute-force enumeration) and returns, per answer, ``(passed,
detail)``. Registered on import by :mod:`reglab.exercises`.
"""
from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import optimize, stats
from scipy.fft import dct
from scipy.spatial.distance import cdist

from .exercises import Answer as A
from .exercises import _agree, _as_array, _define, _define_written, _exact, _real_input, _tensor_input

__all__: list[str] = []


def _lstsq(A_, b):
    return np.linalg.lstsq(A_, b, rcond=None)[0]


def _ridge(X, y, alpha, D=None):
    """argmin ||y - Xw||^2 + alpha ||D w||^2 as an augmented least-squares problem."""
    D = np.eye(X.shape[1]) if D is None else D
    return _lstsq(np.vstack([X, math.sqrt(alpha) * D]), np.concatenate([y, np.zeros(D.shape[0])]))


def _np(name, value, ndim=None):
    return _tensor_input(name, value, ndim=ndim).numpy()


def _quadratic_expectation(fn, dim, scale):
    """E[fn(z)] for z ~ N(0, scale^2 I_dim) and fn a polynomial of degree <= 3 (Gauss-Hermite, 2 nodes)."""
    if dim > 16:
        raise ValueError(f"the check handles up to 16 noisy coordinates, but got {dim}")
    nodes = np.array(list(itertools.product((-1.0, 1.0), repeat=dim))) * scale  # weights 2^-dim each
    return float(np.mean([fn(z) for z in nodes]))


# ---- regimes -------------------------------------------------------------------------------

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


# ---- weight_decay --------------------------------------------------------------------------

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


def _int_or_none(v):
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        v = v.item()
    return int(v) if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()) else v


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


# ---- l1_penalty ----------------------------------------------------------------------------

_ELASTIC_CASES = [(1.5, 1.0, 0.5, 0.5), (-2.0, 3.0, 1.0, 2.0), (0.3, 2.0, 1.0, 0.1), (2.5, 0.5, 0.2, 1.0),
                  (-0.2, 1.0, 0.5, 3.0), (4.0, 0.25, 0.1, 0.05), (-3.0, 2.0, 0.7, 0.0)]


def _elastic_minimum(w_star, h, a1, a2):
    f = lambda w: 0.5 * h * (w - w_star) ** 2 + a1 * abs(w) + 0.5 * a2 * w**2
    r = abs(w_star) + 1
    best = optimize.minimize_scalar(f, bounds=(-r, r), method="bounded", options={"xatol": 1e-12}).x
    return 0.0 if f(0.0) <= f(best) else best


@_define("ex-l1_penalty-1", chapter="l1_penalty",
         answers=(A("elastic_net", "a function elastic_net(w_star, h, alpha1, alpha2) returning the minimiser (a float)",
                    "on each side of 0 set f'(w) = 0, keep the point if it lies on that side, otherwise the kink w = 0",
                    "atol 1e-6 on 7 problems (both signs of w*, inside and outside the threshold)"),),
         reference="f minimised numerically (bounded Brent, xatol 1e-12) and compared with f(0)")
def _l1_penalty_1(elastic_net):
    if not callable(elastic_net):
        return {"elastic_net": (False, f"it should be a function, but it is a {type(elastic_net).__name__}")}
    try:
        got = [float(elastic_net(*case)) for case in _ELASTIC_CASES]
    except Exception as err:  # noqa: BLE001 (a student's function may fail in any way: report it)
        return {"elastic_net": (False, f"calling it raised {type(err).__name__}: {err}")}
    return {"elastic_net": _agree(got, [_elastic_minimum(*c) for c in _ELASTIC_CASES], atol=1e-6)}


@_define("ex-l1_penalty-2", chapter="l1_penalty",
         answers=(A("naive", "l1_solution(w_star, diag(H), alpha): the soft threshold, coordinate by coordinate",
                    "soft-threshold each w*_i at alpha / H_ii", "atol 1e-9"),
                  A("exact", "the exact minimiser of 1/2 (w - w*)^T H (w - w*) + alpha ||w||_1", "minimise the full "
                    "objective, with the off-diagonal entries of H", "atol 1e-6")),
         reference="soft threshold in NumPy; the exact minimiser as a smooth problem in (u, v) >= 0 with w = u - v, "
                   "solved by L-BFGS-B")
def _l1_penalty_2(naive, exact):
    H, w_star, alpha = np.array([[1.0, 0.8], [0.8, 1.0]]), np.array([1.0, 0.3]), 0.3
    soft = np.sign(w_star) * np.maximum(np.abs(w_star) - alpha / np.diag(H), 0)

    def f(uv):
        u, v = uv[:2], uv[2:]
        d = u - v - w_star
        g = H @ d
        return 0.5 * d @ g + alpha * (u + v).sum(), np.concatenate([g + alpha, -g + alpha])

    res = optimize.minimize(f, np.zeros(4), jac=True, method="L-BFGS-B", bounds=[(0, None)] * 4,
                            options={"ftol": 1e-15, "gtol": 1e-12})
    return {"naive": _agree(naive, soft, atol=1e-9), "exact": _agree(exact, res.x[:2] - res.x[2:], atol=1e-6)}


def _subgradient_path(h, w_star, alpha, lr, steps):
    w, path = w_star.copy(), [w_star.copy()]
    for _ in range(steps):
        w = w - lr * (h @ (w - w_star) + alpha * np.sign(w))
        path.append(w)
    return np.array(path)


@_define("ex-l1_penalty-3", chapter="l1_penalty", inputs={"lr": "lr_value", "h": "h1", "w_star": "w1", "alpha": "0.5"},
         setup="h1 (a 1 x 1 Hessian) and w1 (w*, with |w*| < alpha / H for alpha = 0.5); lr_value: your last step size",
         answers=(A("band", "the band eps (alpha + H |w*|) for the last step size", "the largest step of eq-l1-update "
                    "near 0 is eps times the size of the bracket", "rtol 1e-12"),
                  A("late", "the largest |w| over the last 2000 of 5000 subgradient steps from w0 = w*, last step size",
                    "run l1.subgradient_descent for 5000 steps from w0 = w* and look at the last 2000", "rtol 1e-6")),
         reference="the subgradient iteration replayed in NumPy")
def _l1_penalty_3(band, late, *, lr, h, w_star, alpha):
    lr, alpha = _real_input("lr", lr), _real_input("alpha", alpha)
    h, w_star = _np("h", h, ndim=2), _np("w_star", w_star, ndim=1)
    path = _subgradient_path(h, w_star, alpha, lr, 5000)
    ref_band = lr * (alpha + float(np.abs(h).max()) * float(np.abs(w_star).max()))
    return {"band": _agree(band, ref_band, rtol=1e-12), "late": _agree(late, np.abs(path[-2000:]).max(), rtol=1e-6)}


# ---- early_stopping ------------------------------------------------------------------------

@_define("ex-early_stopping-1", chapter="early_stopping",
         inputs={"losses": "sequence", "min_delta": "min_delta", "patience": "2"},
         setup="sequence: the eight validation losses; min_delta and stopper: the last run of your loop",
         answers=(A("stopped_at", "the evaluation at which EarlyStopping(patience=2, min_delta) stopped, None if never",
                    "an evaluation counts only if it beats the best so far by more than min_delta", "exact"),
                  A("best_step", "the evaluation whose parameters it restores", "the best evaluation is the last one "
                    "that counted as an improvement", "exact", source="stopper.best_step")),
         reference="the patience rule replayed in plain Python")
def _early_stopping_1(stopped_at, best_step, *, losses, min_delta, patience):
    best, best_t, bad, stop = math.inf, None, 0, None
    for t, loss in enumerate(float(v) for v in losses):
        if loss < best - _real_input("min_delta", min_delta):
            best, best_t, bad = loss, t, 0
        else:
            bad += 1
        if bad >= patience:
            stop = t
            break
    return {"stopped_at": _exact(_int_or_none(stopped_at), stop), "best_step": _exact(_int_or_none(best_step), best_t)}


@_define("ex-early_stopping-2", chapter="early_stopping", inputs={"lr": "eps_one", "lam": "lam_one"},
         answers=(A("tau_half", "the number of gradient steps that recover half of w* along the eigen-direction",
                    "find the smallest tau with 1 - (1 - eps lambda)^tau >= 1/2", "exact"),),
         reference="gradient descent on the one-dimensional quadratic, step by step from 0, until it reaches w*/2")
def _early_stopping_2(tau_half, *, lr, lam):
    lr, lam = _real_input("lr", lr), _real_input("lam", lam)
    w, t = 0.0, 0
    while w < 0.5:
        w, t = w + lr * lam * (1.0 - w), t + 1
    return {"tau_half": _exact(_int_or_none(tau_half), t)}


@_define("ex-early_stopping-3", chapter="early_stopping", inputs={"lr": "lr"},
         setup="lr: the last step size of your loop (on the problem H2, w2 above)",
         answers=(A("stiff", "the factors q_1^T w_t / q_1^T w* along the eigenvalue-1 direction, for t = 0..12",
                    "project gd_trajectory(H2, w2, lr, 12) on the eigenvector of eigenvalue 1 and divide by w*'s component",
                    "rtol 1e-9"),),
         reference="the closed form 1 - (1 - eps lambda)^t with lambda = 1")
def _early_stopping_3(stiff, *, lr):
    lr = _real_input("lr", lr)
    return {"stiff": _agree(stiff, 1 - (1 - lr) ** np.arange(13), rtol=1e-9, atol=1e-12)}


# ---- bagging -------------------------------------------------------------------------------

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
    from dataclasses import replace

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


# ---- dropout -------------------------------------------------------------------------------

def _dropout_mistake(ours):
    from .dropout import Dropout

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


# ---- augmentation --------------------------------------------------------------------------

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


# ---- weight_noise --------------------------------------------------------------------------

@_define("ex-weight_noise-1", chapter="weight_noise", inputs={"X": "X", "y": "y", "w": "w", "b": "b", "eta": "0.2"},
         setup="b: the bias; eta = 0.2 is the variance of the noise on w and on b",
         answers=(A("formula", "your exact expected squared error, averaged over the n points of X, with w and b perturbed "
                    "by independent N(0, eta) noise", "treat the bias as the weight of a constant input", "rtol 1e-9"),),
         reference="the expectation over the d + 1 perturbations by Gauss-Hermite quadrature (exact for this quadratic)")
def _weight_noise_1(formula, *, X, y, w, b, eta):
    X, y, w = _np("X", X, ndim=2), _np("y", y, ndim=1), _np("w", w, ndim=1)
    b, eta = _real_input("b", b), _real_input("eta", eta)
    d = len(w)
    value = _quadratic_expectation(lambda e: float(np.mean((X @ (w + e[:d]) + b + e[d] - y) ** 2)), d + 1, math.sqrt(eta))
    return {"formula": _agree(formula, value, rtol=1e-9)}


def _tanh_net(net):
    layers = list(net) if isinstance(net, torch.nn.Sequential) else []
    if len(layers) != 3 or not isinstance(layers[1], torch.nn.Tanh) or layers[2].out_features != 1:
        raise TypeError("net must be the chapter's tiny network, nn.Sequential(Linear, Tanh, Linear(h, 1))")
    return [t.detach().double().numpy() for t in (layers[0].weight, layers[0].bias, layers[2].weight[0], layers[2].bias)]


@_define("ex-weight_noise-2", chapter="weight_noise", inputs={"net": "net", "x": "X_many"},
         answers=(A("trace", "the trace of the Hessian of y^(x) with respect to all weights and biases, at each input",
                    "differentiate twice with respect to every parameter (torch.func.hessian) and sum the diagonal",
                    "rtol 1e-9"),),
         reference="the closed form for y = W2 tanh(W1 x + b1) + b2: tr H = sum_j W2_j tanh''(z_j) (1 + ||x||^2)")
def _weight_noise_2(trace, *, net, x):
    W1, b1, W2, _ = _tanh_net(net)
    x = _np("x", x, ndim=2)
    t = np.tanh(x @ W1.T + b1)
    return {"trace": _agree(trace, (W2 * -2 * t * (1 - t**2)).sum(-1) * (1 + (x**2).sum(-1)), rtol=1e-9, atol=1e-12)}


def _noisy_outputs(params, x, eta, draws, shared, rng):
    W1, b1, W2, b2 = params
    shape = (draws,) if shared else (draws, len(x))
    s = math.sqrt(eta)
    E1 = s * rng.standard_normal(shape + W1.shape)
    e1 = s * rng.standard_normal(shape + b1.shape)
    E2 = s * rng.standard_normal(shape + W2.shape)
    e2 = s * rng.standard_normal(shape)
    if shared:
        z = np.einsum("dhi,ni->dnh", W1 + E1, x) + (b1 + e1)[:, None, :]
        return np.einsum("dnh,dh->dn", np.tanh(z), W2 + E2) + (b2 + e2)[:, None]
    z = np.einsum("dnhi,ni->dnh", W1 + E1, x) + b1 + e1
    return np.einsum("dnh,dnh->dn", np.tanh(z), W2 + E2) + b2 + e2


@_define("ex-weight_noise-3", chapter="weight_noise", inputs={"net": "net", "x": "X_tiny", "y": "y_tiny", "eta": "eta_ex"},
         answers=(A("shared", "(draws, 4) outputs at the four points, one weight perturbation per row (per minibatch)",
                    "one call of perturbed_outputs on all four points draws one perturbation for the minibatch",
                    "mean loss within 4.5 standard errors, its standard deviation within 3 %"),
                  A("per_example", "(draws, 4) outputs with an independent perturbation for every point",
                    "draw each point's perturbations separately", "as for shared")),
         reference="both schemes simulated in NumPy (100,000 perturbations of the tiny network, seeded): the minibatch "
                   "loss's mean and standard deviation")
def _weight_noise_3(shared, per_example, *, net, x, y, eta):
    params, x, y, eta = _tanh_net(net), _np("x", x, ndim=2), _np("y", y, ndim=1), _real_input("eta", eta)
    rng = np.random.default_rng(20240607)
    verdict = {}
    for name, value, is_shared in (("shared", shared, True), ("per_example", per_example, False)):
        out = _as_array(value)
        if out is None or out.ndim != 2 or out.shape[1] != len(y) or out.shape[0] < 1000:
            verdict[name] = (False, f"it should have shape (draws, {len(y)}) with at least 1000 draws")
            continue
        ref = ((_noisy_outputs(params, x, eta, 100_000, is_shared, rng) - y) ** 2).mean(-1)
        got = ((out - y) ** 2).mean(-1)
        se = math.sqrt(got.var() / len(got) + ref.var() / len(ref))
        ok = abs(got.mean() - ref.mean()) <= 4.5 * se and abs(got.std() / ref.std() - 1) <= 0.03
        verdict[name] = (bool(ok), "")
    return verdict


# ---- label_smoothing -----------------------------------------------------------------------

_SLIDE_PREDICTION = (0.05, 0.0, 0.02, 0.08, 0.05, 0.8, 0.0, 0.0)  # the lecture's y^ for a 6: 8 entries, 0.8 at index 5


@_define("ex-label_smoothing-1", chapter="label_smoothing",
         answers=(A("y_hat", "the lecture's prediction vector completed to 10 entries (digits 0 to 9)",
                    "keep the slide's first five entries, put its 0.8 at digit 6 and zeros for the digits it lacks",
                    "atol 1e-6"),),
         reference="the slide's eight entries, rearranged")
def _label_smoothing_1(y_hat):
    ref = list(_SLIDE_PREDICTION[:5]) + [0.0, _SLIDE_PREDICTION[5]] + list(_SLIDE_PREDICTION[6:]) + [0.0]
    return {"y_hat": _agree(y_hat, ref, atol=1e-6)}


@_define("ex-label_smoothing-2", chapter="label_smoothing", inputs={"k": "k", "e": "e"},
         answers=(A("numeric", "the logit gap z_y - mean of the other logits at the minimum of "
                    "F.cross_entropy(z, y, label_smoothing=e), found numerically", "minimise over the logits of one "
                    "example until the gradient vanishes, then take the gap", "rtol 1e-6"),),
         reference="PyTorch's target read off its own gradient at z = 0 (softmax minus target); at the optimum the "
                   "softmax equals it, so the gap is the log-ratio of its entries")
def _label_smoothing_2(numeric, *, k, e):
    k, e = int(k), _real_input("e", e)
    z = torch.zeros(1, k, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.cross_entropy(z, torch.tensor([0]), label_smoothing=e), z)
    q = (1.0 / k - g[0]).numpy()
    return {"numeric": _agree(numeric, math.log(q[0] / q[1]), rtol=1e-6)}


@_define("ex-label_smoothing-3", chapter="label_smoothing", inputs={"logits": "z", "labels": "y", "eps": "eps"},
         answers=(A("penalty_form", "(1 - e)(-log p_y) + e (log k + KL(u || p)) per example, on the logits z and labels y",
                    "write the smoothed target as (1 - e) one-hot + e uniform, with e = eps k / (k - 1)", "rtol 1e-10"),),
         reference="torch's F.cross_entropy(z, y, label_smoothing=eps k / (k - 1), reduction='none')")
def _label_smoothing_3(penalty_form, *, logits, labels, eps):
    z, eps = _tensor_input("logits", logits, ndim=2), _real_input("eps", eps)
    k = z.shape[1]
    ref = F.cross_entropy(z, labels, label_smoothing=eps * k / (k - 1), reduction="none")
    return {"penalty_form": _agree(penalty_form, ref, rtol=1e-10)}


# ---- multitask -----------------------------------------------------------------------------

_COUNT_CASES = [(64, 32, 2, 10), (16, 4, 1, 16), (7, 5, 3, 4), (1, 1, 1, 1), (100, 7, 9, 3)]


def _count(module_list):
    return sum(p.numel() for m in module_list for p in m.parameters())


@_define("ex-multitask-1", chapter="multitask",
         answers=(A("separate_count", "a function separate_count(d, h, k, T): parameters of T separate networks",
                    "each network has two layers, each with a weight matrix and a bias", "exact on 5 shapes"),
                  A("shared_count", "a function shared_count(d, h, k, T): one trunk and T linear heads",
                    "the trunk is paid for once, the heads T times", "exact on 5 shapes")),
         reference="the parameters of torch.nn.Linear layers of those shapes, counted")
def _multitask_1(separate_count, shared_count):
    lin = torch.nn.Linear
    verdict = {}
    for name, fn, build in (("separate_count", separate_count, lambda d, h, k, T: [lin(d, h), lin(h, k)] * T),
                            ("shared_count", shared_count, lambda d, h, k, T: [lin(d, h)] + [lin(h, k)] * T)):
        if not callable(fn):
            verdict[name] = (False, "it should be a function")
            continue
        try:
            verdict[name] = _exact([int(fn(*c)) for c in _COUNT_CASES], [_count(build(*c)) for c in _COUNT_CASES])
        except Exception as err:  # noqa: BLE001 (a student's function may fail in any way: report it)
            verdict[name] = (False, f"calling it raised {type(err).__name__}: {err}")
    return verdict


@_define("ex-multitask-2", chapter="multitask", inputs={"problem": "problem"},
         answers=(A("target", "the limit of lambda (w_A - w_B) as lambda -> infinity (a vector)",
                    "the first block row gives lambda (w_A - w_B); where does w_A go as lambda grows?", "atol 1e-5"),),
         reference="the soft-sharing minimiser solved as one block linear system at lambda = 1e4 and 2e4, "
                   "extrapolated to lambda = infinity (Richardson)")
def _multitask_2(target, *, problem):
    XA, yA, XB, yB = (_np(n, v) for n, v in zip(("XA", "yA", "XB", "yB"), problem))
    p = XA.shape[1]

    def gap(lam):
        K = np.block([[XA.T @ XA + lam * np.eye(p), -lam * np.eye(p)], [-lam * np.eye(p), XB.T @ XB + lam * np.eye(p)]])
        w = np.linalg.solve(K, np.concatenate([XA.T @ yA, XB.T @ yB]))
        return lam * (w[:p] - w[p:])

    return {"target": _agree(target, 2 * gap(2e4) - gap(1e4), atol=1e-5)}


def _swap_arms(res):
    if isinstance(res, dict) and {"shared", "separate"} <= set(res):
        return {"res": {**res, "shared": res["separate"], "separate": res["shared"]}}
    return {"res": res}


@_define("ex-multitask-3", chapter="multitask", mistake=_swap_arms,
         answers=(A("res", "what shared_vs_separate returns for the unrelated tasks at 40 examples per task",
                    "give every task its own teacher (num_tasks=1, a different seed each) before stacking them",
                    "the paired 95 % interval of shared - separate above 0"),),
         reference="the expected direction, measured on the answer's own per-seed errors: with unrelated tasks the "
                   "shared trunk is worse (paired Student-t interval)")
def _multitask_3(res):
    try:
        diff = np.asarray(res["shared"], float) - np.asarray(res["separate"], float)
    except (TypeError, KeyError, IndexError, ValueError):
        return {"res": (False, "it should be the dict that shared_vs_separate returns")}
    if diff.size < 2:
        return {"res": (False, "it needs at least two seeds")}
    half = stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / math.sqrt(diff.size)
    return {"res": (bool(diff.mean() - half > 0), "")}


# ---- parameter_sharing ---------------------------------------------------------------------

@_define("ex-parameter_sharing-1", chapter="parameter_sharing", inputs={"kernel": "w3"},
         answers=(A("M_strided", "the (20, 40) matrix of the stride-2 convolution with padding 1 on signals of length 40",
                    "keep every second row of the stride-1 matrix with 'same' padding, starting with row 0",
                    "atol 1e-12"),),
         reference="F.conv1d(e_j, kernel, stride=2, padding=1) of every unit vector e_j: the matrix column by column")
def _parameter_sharing_1(M_strided, *, kernel):
    w = _tensor_input("kernel", kernel, ndim=1)
    columns = F.conv1d(torch.eye(40, dtype=torch.float64)[:, None], w.view(1, 1, -1), stride=2, padding=1)[:, 0]
    return {"M_strided": _agree(M_strided, columns.T, atol=1e-12)}


def _pooled(signal, kernels, circular):
    pad = kernels.shape[-1] // 2
    padded = F.pad(signal, (pad, pad), mode="circular" if circular else "constant")
    return torch.relu(F.conv1d(padded, kernels)).mean(-1)


def _zero_shift(x, s):
    out = torch.zeros_like(x)
    L = x.shape[-1]
    if s >= 0:
        out[..., s:] = x[..., : L - s]
    else:
        out[..., : L + s] = x[..., -s:]
    return out


@_define("ex-parameter_sharing-2", chapter="parameter_sharing", inputs={"kernels": "kernels", "signal": "signal"},
         answers=(A("circular_change", "largest change of the pooled features over all circular shifts",
                    "circular padding, circular shifts, ReLU, then the mean over positions", "atol 1e-10"),
                  A("zero_change", "the same with zero padding ('same') and zero-filling shifts of -10..10",
                    "zero padding and shifts that let zeros in", "rtol 1e-9")),
         reference="the features recomputed with F.pad + F.conv1d, shifts by torch.roll and by zero-filling")
def _parameter_sharing_2(circular_change, zero_change, *, kernels, signal):
    k, x = _tensor_input("kernels", kernels, ndim=3), _tensor_input("signal", signal, ndim=3)
    base_c, base_z = _pooled(x, k, True), _pooled(x, k, False)
    L = x.shape[-1]
    circ = max(float((_pooled(torch.roll(x, s, -1), k, True) - base_c).abs().max()) for s in range(-L + 1, L))
    zero = max(float((_pooled(_zero_shift(x, s), k, False) - base_z).abs().max()) for s in range(-10, 11))
    return {"circular_change": _agree(circular_change, circ, atol=1e-10), "zero_change": _agree(zero_change, zero, rtol=1e-9)}


_define_written("ex-parameter_sharing-3", chapter="parameter_sharing",
                written="the answer is a prediction and an explanation (which model should suffer, and why); the "
                        "training runs support it but their accuracies are measurements, not values to match")


# ---- sparse_representations ----------------------------------------------------------------

@_define("ex-sparse_representations-1", chapter="sparse_representations", inputs={"trials": "200"},
         answers=(A("right_rule", "on how many of the 200 signals your corrected rule found the optimal support",
                    "rank the atoms by how much of the squared error each removes on its own", "all of them"),
                  A("wrong_rule", "on how many the rule 'k largest |w_j^T x|' did", "rank by |w_j^T x| as the slide "
                    "does", "fewer than all")),
         reference="what the counts must be: the corrected rule is exact, so it finds the optimal support on every "
                   "trial; the slide's rule misses on some when the atoms' lengths differ (a weak check: counts only)")
def _sparse_representations_1(right_rule, wrong_rule, *, trials):
    return {"right_rule": _exact(_int_or_none(right_rule), int(trials)),
            "wrong_rule": (isinstance(_int_or_none(wrong_rule), int) and 0 <= _int_or_none(wrong_rule) < int(trials), "")}


@_define("ex-sparse_representations-2", chapter="sparse_representations",
         answers=(A("mu", "the coherence of W = [I C]: the largest |w_i^T w_j| over pairs of different atoms",
                    "take the largest absolute off-diagonal entry of W^T W", "rtol 1e-9"),),
         reference="the orthonormal DCT-II matrix from scipy.fft.dct beside the identity; largest off-diagonal |Gram| entry")
def _sparse_representations_2(mu):
    W = np.hstack([np.eye(40), dct(np.eye(40), norm="ortho", axis=0).T])
    G = np.abs(W.T @ W) - np.eye(80)
    return {"mu": _agree(mu, G.max(), rtol=1e-9)}


@_define("ex-sparse_representations-3", chapter="sparse_representations",
         inputs={"hidden": 'sweep["hidden"]', "seeds": "config.seeds"},
         answers=(A("among_alive", "per alpha (rows) and seed (columns), the fraction of inactive (example, unit) pairs "
                    "among the units active on at least one test example", "count only the living units: the "
                    "denominator is their number times the number of examples", "rtol 1e-9"),),
         reference="NumPy, member by member, over the concatenated hidden layers")
def _sparse_representations_3(among_alive, *, hidden, seeds):
    h = np.concatenate([_np(f"hidden[{i}]", t, ndim=3) for i, t in enumerate(hidden)], axis=-1)
    ref = []
    for member in h:
        alive = (member > 0).any(0)
        ref.append((member[:, alive] == 0).mean())
    return {"among_alive": _agree(among_alive, np.reshape(ref, (-1, int(seeds))), rtol=1e-9)}


@_define("ex-sparse_representations-4", chapter="sparse_representations",
         inputs={"strong": "strong", "sweep": "sweep", "x": "data.x_train", "y": "data.y_train",
                 "seeds": "config.seeds"},
         answers=(A("objective_parts", "a function objective_parts(result) -> (mean training cross-entropy, mean "
                    "||h||_1 of the training activations) over a sweep's networks of its last alpha",
                    "both terms on the training set, where the objective is defined: each network's mean "
                    "cross-entropy and the L1 norm of its hidden activations per example, averaged over the networks",
                    "rtol 1e-6, on both sweeps"),),
         reference="the networks run on the training set: their logits through torch's F.cross_entropy member by "
                   "member, ||h||_1 from the hidden activations of that run")
def _sparse_representations_4(objective_parts, *, strong, sweep, x, y, seeds):
    if not callable(objective_parts):
        return {"objective_parts": (False, "it should be a function")}
    got, ref = [], []
    for result in (strong, sweep):
        model = result["model"]
        members = range(len(result["alphas"]) * seeds - seeds, len(result["alphas"]) * seeds)
        with torch.no_grad():
            logits = model(x)
        h = torch.cat(model.hidden, dim=-1)
        ref.append([np.mean([F.cross_entropy(logits[m], y).item() for m in members]),
                    np.mean([h[m].abs().sum(-1).mean().item() for m in members])])
        try:
            got.append([float(v) for v in objective_parts(result)])
        except Exception as err:  # noqa: BLE001 (a student's function may fail in any way: report it)
            return {"objective_parts": (False, f"calling it raised {type(err).__name__}: {err}")}
    return {"objective_parts": _agree(got, ref, rtol=1e-6)}


# ---- adversarial_training ------------------------------------------------------------------

def _targeted_pgd(model, x, goals, eps, steps=30):
    x0 = x.expand(len(goals), -1)
    xa = x0.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xa), goals, reduction="sum"), xa)
        with torch.no_grad():
            xa = (xa - eps / 8 * g.sign()).clamp(x0 - eps, x0 + eps).clamp(0, 1)
    with torch.no_grad():
        return model(xa).argmax(-1) == goals


@_define("ex-adversarial_training-1", chapter="adversarial_training",
         inputs={"model": "seed0", "x": "X_test[INDEX]", "label": "y_test[INDEX]"},
         answers=(A("smallest", "dict: goal class -> the smallest eps on the grid 0.02, 0.04, ..., 0.4 at which targeted "
                    "PGD reaches it (goals never reached left out)", "PGD ascends its loss: to reach a goal, make the "
                    "goal's cross-entropy fall", "within two grid steps (0.04) per goal"),),
         reference="the library's own targeted PGD (30 signed steps of eps/8 from the clean image, no random start, "
                   "projected on the eps-box and [0, 1]) on the same grid")
def _adversarial_training_1(smallest, *, model, x, label):
    if not isinstance(smallest, dict):
        return {"smallest": (False, "it should be a dict from goal class to eps")}
    x = _tensor_input("x", x, ndim=1)
    goals = torch.tensor([g for g in range(10) if g != int(label)])
    ref = {}
    for eps in np.round(np.arange(0.02, 0.4001, 0.02), 2):
        for g, ok in zip(goals.tolist(), _targeted_pgd(model, x, goals, float(eps)).tolist()):
            if ok and g not in ref:
                ref[g] = float(eps)
    beyond = 0.42  # a goal not reached on the grid
    try:
        got = [float(smallest.get(g, beyond)) for g in goals.tolist()]
    except (TypeError, ValueError):
        return {"smallest": (False, "its values should be numbers")}
    return {"smallest": _agree(got, [ref.get(g, beyond) for g in goals.tolist()], atol=0.04 + 1e-9)}


@_define("ex-adversarial_training-2", chapter="adversarial_training", inputs={"model": "seed0", "x": "X_test", "y": "y_test"},
         answers=(A("l1_over_l2", "(n,) ||g||_1 / ||g||_2 of each test image's input gradient g of the cross-entropy",
                    "one gradient per image: differentiate the summed loss with respect to the images", "rtol 1e-8"),
                  A("predicted", "(n,) the first-order prediction of FGSM's loss gain over a random sign vector's change",
                    "compare eps ||g||_1 with the mean size of eps |g^T s| for random signs s", "rtol 1e-8")),
         reference="input gradients by autograd of the summed cross-entropy (an MLP treats the images independently, "
                   "so row i is image i's own gradient); the ratio of ||g||_1 to sqrt(2/pi) ||g||_2")
def _adversarial_training_2(l1_over_l2, predicted, *, model, x, y):
    x = _tensor_input("x", x, ndim=2)
    xs = x.clone().requires_grad_(True)
    (grads,) = torch.autograd.grad(F.cross_entropy(model(xs), y, reduction="sum"), xs)
    ratio = (grads.abs().sum(1) / grads.norm(dim=1)).numpy()
    return {"l1_over_l2": _agree(l1_over_l2, ratio, rtol=1e-8), "predicted": _agree(predicted, ratio / math.sqrt(2 / math.pi), rtol=1e-8)}


@_define("ex-adversarial_training-3", chapter="adversarial_training",
         inputs={"model": "robust", "x": "X_test", "y": "y_test", "eps": "EPS"},
         answers=(A("acc_true", "(SEEDS,) FGSM accuracy of each adversarially trained network, attack built from the "
                    "true labels", "FGSM at eps with the true labels, then accuracy against the true labels", "atol 0.005"),
                  A("acc_pred", "(SEEDS,) the same with the attack built from each network's own predictions",
                    "build each network's attack from its own clean predictions; score against the true labels",
                    "atol 0.005")),
         reference="the library's own FGSM: autograd of each member's summed cross-entropy on its own copy of the test "
                   "set, one signed step of eps, clipped to [0, 1]")
def _adversarial_training_3(acc_true, acc_pred, *, model, x, y, eps):
    x, eps = _tensor_input("x", x, ndim=2), _real_input("eps", eps)
    with torch.no_grad():
        members = model(x).shape[0]
        own = model(x).argmax(-1)
    ref = {}
    for name, labels in (("acc_true", y.expand(members, -1)), ("acc_pred", own)):
        xs = x.expand(members, -1, -1).clone().requires_grad_(True)
        logits = model(xs)
        (g,) = torch.autograd.grad(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum"), xs)
        with torch.no_grad():
            ref[name] = (model((xs + eps * g.sign()).clamp(0, 1)).argmax(-1) == y).double().mean(1).numpy()
    return {"acc_true": _agree(acc_true, ref["acc_true"], atol=0.005), "acc_pred": _agree(acc_pred, ref["acc_pred"], atol=0.005)}
