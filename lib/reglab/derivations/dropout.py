"""Closed forms and derivation checks of the chapter *Dropout* (results DO-1 .. DO-6, DO-9).

The lecture's p is the probability of *keeping* a unit. Exact enumeration over all ``2**n``
masks (:func:`reglab.dropout.ensemble_mean`) is the independent computation for the claims about
expectations; Monte Carlo (with a confidence interval), SymPy, a least-squares solver and SGD
confirm the rest. Those computations live in :mod:`reglab.derivations._dropout_computations`, whose
public names this module imports. The experiments DO-7 and DO-8 live in
:mod:`reglab.experiments.dropout`.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch
from scipy import stats
from torch import Tensor

from .._validation import check_regression
from ..dropout import Dropout, dropout, ensemble_mean
from .compare import Check, bonferroni_z, compare, compare_mc
from ._dropout_computations import (
    _keep_prob,
    _masks,
    _nonlinear_mc,
    _problem,
    enumerated_objective,
    masked_relu_net,
    objective_symbolic,
    sgd_with_dropout,
    weight_scaling_gap,
)
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "GAP_FACTOR", "check_inverted_and_torch", "check_linear_layer", "check_masks_bernoulli",
    "check_nonlinear_gap", "check_nonlinear_gap_size", "check_objective", "check_objective_steps",
    "check_objective_symbolic", "check_ridge_minimiser", "check_ridge_sklearn",
    "check_softmax_geometric_mean", "check_torch_draw_for_draw", "check_torch_keep_frequency",
    "dropout_linear_objective", "dropout_ridge_solution", "enumerated_objective", "masked_relu_net",
    "objective_monte_carlo", "objective_steps", "objective_symbolic", "ridge_sgd", "sgd_with_dropout",
    "weight_scaling_gap",
]

CHAPTER = "dropout"
_F64 = torch.float64


# --------------------------------------------------------------------------- closed forms
def _objective_with(X, y, w, p, factor):
    """||y - pXw||^2 + factor ||Gamma w||^2: the closed form with a given penalty factor."""
    gamma_sq = (X.T @ X).diagonal()
    return (y - p * (X @ w)).pow(2).sum() + factor * (gamma_sq * w.pow(2)).sum()


def dropout_linear_objective(X: Tensor, y: Tensor, w: Tensor, keep_prob: float) -> Tensor:
    """Expected dropout loss of linear regression in closed form (right-hand side of DO-5).

    Parameters
    ----------
    X : Tensor of shape (N, D)
    y : Tensor of shape (N,)
    w : Tensor of shape (D,)
    keep_prob : float in (0, 1]
        The lecture's p: every input entry ``X_ij`` is kept with probability p.

    Returns
    -------
    Tensor, a scalar
        ``||y - p X w||^2 + p (1 - p) ||Gamma w||^2`` with ``Gamma = diag(X^T X)^(1/2)``.

    Notes
    -----
    Equals ``E_R ||y - (R * X) w||^2`` with ``R_ij ~ Bernoulli(p)`` independent (lecture,
    "Dropout for linear regression"; Srivastava et al. 2014, sec. 9.1).

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64); y = torch.ones(2, dtype=torch.float64)
    >>> float(dropout_linear_objective(X, y, torch.ones(2, dtype=torch.float64), 0.5))
    1.0
    """
    check_regression(X, y, w)
    p = _keep_prob(keep_prob)
    return _objective_with(X, y, w, p, p * (1 - p))


def dropout_ridge_solution(X: Tensor, y: Tensor, keep_prob: float) -> Tensor:
    """Minimiser of :func:`dropout_linear_objective` (DO-6).

    Parameters
    ----------
    X : Tensor of shape (N, D)
    y : Tensor of shape (N,)
    keep_prob : float in (0, 1]

    Returns
    -------
    Tensor of shape (D,)
        ``w* = (p X^T X + (1 - p) Gamma^2)^-1 X^T y``. The rescaled ``p w*`` minimises the
        generalised ridge objective ``||y - X v||^2 + ((1 - p)/p) ||Gamma v||^2``.

    Notes
    -----
    Setting the gradient ``-2p X^T (y - pXw) + 2p(1-p) Gamma^2 w`` to zero and dividing by p.
    For p = 1 this is ordinary least squares (X must then have full column rank).

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64); y = torch.ones(2, dtype=torch.float64)
    >>> dropout_ridge_solution(X, y, 0.5).tolist()  # (0.5 + 0.5)^-1 * 1
    [1.0, 1.0]
    """
    check_regression(X, y)
    p = _keep_prob(keep_prob)
    gram = X.T @ X
    return torch.linalg.solve(p * gram + (1 - p) * torch.diag(gram.diagonal()), X.T @ y)


# --------------------------------------------------------------------------- DO-1, DO-2, DO-9
@derivation(
    "DO-1", chapter=CHAPTER, label="keep frequency and Binomial law",
    claim="Dropout masks are Bernoulli(p) with p the keep probability: the keep frequency is p and "
    "the number of kept units among 8 follows the Binomial(8, p) law of independent entries.",
    planted=(
        Planted("keep 0.803 for 0.8", "masks drawn at a slightly wrong keep probability, 0.803 for 0.8"),
        Planted("PyTorch's drop probability taken as keep",
                "the masks of torch's F.dropout(x, p=keep_prob), which drops with that probability"),
        Planted(
            "one mask entry per layer",
            "one Bernoulli(p) draw multiplying the whole vector of a layer's outputs",
            slip='slide "With Dropout": "Sample r_i^(l) ~ Bernoulli(p), then y~^(l) = r_i^(l) * y^(l)"',
            correct="one independent r_j^(l) ~ Bernoulli(p) per unit j, applied element-wise: "
            "y~^(l) = r^(l) * y^(l) (Srivastava et al. 2014, sec. 4)",
        ),
    ),
)
def check_masks_bernoulli(keep_prob: float = 0.8, units: int = 8, draws: int = 100_000, *, planted=None) -> Check:
    """Keep frequency and the law of the number of kept units vs Bernoulli / Binomial."""
    draw = choose(planted, _masks, {
        "keep 0.803 for 0.8": lambda n, u, p, g: _masks(n, u, p + 0.003, g),
        # torch.nn.functional.dropout(x, p=keep_prob) drops with probability keep_prob
        "PyTorch's drop probability taken as keep":
            lambda n, u, p, g: (torch.empty(n, u, dtype=_F64).bernoulli_(1 - p, generator=g) > 0).to(_F64),
        # the slide's r_i^(l) * y^(l): one Bernoulli draw multiplies the whole vector
        "one mask entry per layer": lambda n, u, p, g: _masks(n, 1, p, g).expand(n, u),
    })
    masks = draw(draws, units, keep_prob, torch.Generator().manual_seed(1))
    count = torch.nn.functional.one_hot(masks.sum(1).long(), units + 1).to(_F64)  # (draws, units+1)
    pmf = torch.tensor(stats.binom.pmf(np.arange(units + 1), units, keep_prob))
    expected = torch.cat([torch.tensor([keep_prob], dtype=_F64), pmf])
    per_draw = torch.cat([masks.mean(1, keepdim=True), count], dim=1)
    # Each entry's own standard error, from its sample sd; for the rare counts (P(0 kept) =
    # 2.6e-6: rarely seen at all) at least the sd of a Bernoulli(pmf) indicator.
    sd = per_draw.std(0)
    sd[1:] = torch.maximum(sd[1:], (pmf * (1 - pmf)).sqrt())
    return compare_mc("DO-1", expected, per_draw.mean(0), sd / math.sqrt(draws), digits=4,
                      analytic_label="Bernoulli p, Binomial pmf", empirical_label=f"{draws} masks",
                      note=f"[keep frequency, P(0 kept), ..., P({units} kept)] at p = {keep_prob}")


@derivation(
    "DO-2", chapter=CHAPTER, label="enumeration of all 2^10 masks",
    claim="For a linear layer the average over all 2^n masks equals scaling the weights by p.",
    planted={"weights scaled by 1 - p": "the drop probability used as the factor: (1 - p) W",
             "bias scaled by p too": "the whole layer, bias included, multiplied by p"},
)
def check_linear_layer(keep_prob: float = 0.6, units: int = 10, *, planted=None) -> Check:
    g = torch.Generator().manual_seed(2)
    W = torch.randn(4, units, generator=g, dtype=_F64)
    b = torch.randn(4, generator=g, dtype=_F64)
    x = torch.randn(3, units, generator=g, dtype=_F64)
    exact = ensemble_mean(lambda r: (r[:, None, :] * x) @ W.T + b, units, keep_prob, dtype=torch.float64)
    scaled = choose(planted, lambda p: x @ (p * W).T + b, {
        "weights scaled by 1 - p": lambda p: x @ ((1 - p) * W).T + b,
        "bias scaled by p too": lambda p: x @ (p * W).T + p * b,
    })(keep_prob)
    return compare("DO-2", scaled, exact, atol=1e-12 * max(1.0, float(scaled.abs().max())),
                   analytic_label="weights scaled by p", empirical_label=f"mean over 2^{units} masks",
                   note=f"linear layer 10 -> 4, 3 inputs, p = {keep_prob}")


@derivation(
    "DO-9", chapter=CHAPTER, label="enumeration of all 2^10 masks",
    claim="For softmax regression weight scaling gives exactly the normalised geometric mean of the 2^n sub-models.",
    planted={"arithmetic mean": "the sub-models' probabilities averaged arithmetically"},
)
def check_softmax_geometric_mean(keep_prob: float = 0.5, units: int = 10, *, planted=None) -> Check:
    g = torch.Generator().manual_seed(9)
    W = torch.randn(5, units, generator=g, dtype=_F64)
    b = torch.randn(5, generator=g, dtype=_F64)
    x = torch.randn(3, units, generator=g, dtype=_F64)
    probs = lambda r: torch.softmax((r[:, None, :] * x) @ W.T + b, dim=-1)
    geometric = ensemble_mean(probs, units, keep_prob, mean="geometric", dtype=torch.float64)
    arithmetic = ensemble_mean(probs, units, keep_prob, dtype=torch.float64)
    scaled = torch.softmax(x @ (keep_prob * W).T + b, dim=-1)
    return compare("DO-9", scaled, choose(planted, geometric, {"arithmetic mean": arithmetic}), atol=1e-12,
                   analytic_label="softmax with weights scaled by p",
                   empirical_label=f"geometric mean over 2^{units} masks",
                   note=f"10 inputs, 5 classes, p = {keep_prob}; the arithmetic mean of the sub-models differs "
                   f"by up to {float((arithmetic - scaled).abs().max()):.3f}")


# --------------------------------------------------------------------------- DO-3

#: How many times its Monte Carlo tolerance the weight-scaling gap of DO-3 must be at least.
GAP_FACTOR = 5


@derivation(
    "DO-3", chapter=CHAPTER, label="enumeration vs Monte Carlo",
    claim="For a ReLU network (4-6-6-2, dropout on both hidden layers, p = 0.6) the exact mean "
    f"over all 2^12 sub-networks (confirmed by Monte Carlo) differs from weight scaling by more "
    f"than {GAP_FACTOR} times the Monte Carlo tolerance: weight scaling only approximates it.",
    planted={"weight scaling taken as the ensemble mean":
             "the mean over sub-networks assumed equal to the weight-scaled network"},
)
def check_nonlinear_gap(keep_prob: float = 0.6, draws: int = 100_000, *, planted=None) -> Check:
    """Enumerated ensemble mean of a ReLU net vs Monte Carlo over sampled masks."""
    measured = weight_scaling_gap(keep_prob, seed=0)
    mc, se = _nonlinear_mc(keep_prob, draws)
    exact = measured[choose(planted, "ensemble", {"weight scaling taken as the ensemble mean": "weight_scaled"})]
    return compare_mc("DO-3", exact, mc, se, digits=4, analytic_label="mean over 2^12 masks",
                      empirical_label=f"Monte Carlo ({draws} masks)",
                      note=f"ReLU net 4-6-6-2, p = {keep_prob}, 3 inputs x 2 outputs")


@subcheck("DO-3", label=f"gap > {GAP_FACTOR} x Monte Carlo tolerance", planted={
    "E[f(r)] taken as f(E[r])": "the ensemble mean computed as the output at the mean mask p (Jensen ignored)"})
def check_nonlinear_gap_size(keep_prob: float = 0.6, draws: int = 100_000, *, planted=None) -> Check:
    """The weight-scaling gap, in units of the Monte Carlo tolerance, is at least GAP_FACTOR."""
    measured = weight_scaling_gap(keep_prob, seed=0)
    # f(E[r]), the output at the mean mask p, is the weight-scaled network's
    ensemble = measured[choose(planted, "ensemble", {"E[f(r)] taken as f(E[r])": "weight_scaled"})]
    _, se = _nonlinear_mc(keep_prob, draws)
    tolerance = bonferroni_z(se.numel(), 0.999) * se
    ratio = float(((ensemble - measured["weight_scaled"]).abs() / tolerance).max())
    return compare("DO-3", GAP_FACTOR, min(ratio, GAP_FACTOR), atol=1e-9,
                   analytic_label="required largest gap / tolerance",
                   empirical_label="measured, capped at the requirement",
                   note=f"largest |ensemble mean - weight scaled| = {measured['gap']:.3g}, "
                   f"{ratio:.0f} x its entry's Monte Carlo tolerance ({draws} masks, 99.9 % joint)")


# --------------------------------------------------------------------------- DO-4
@derivation(
    "DO-4", chapter=CHAPTER, label="mean training output vs eval output",
    claim="Inverted dropout (training output r x / p, identity at test) and test-time scaling "
    "(training r x, p x at test) agree with their test outputs in expectation.",
    planted={"inverted dropout scaled at test time as well":
             "the eval output of inverted dropout taken as p x (the factor p applied twice)"},
)
def check_inverted_and_torch(keep_prob: float = 0.7, draws: int = 100_000, *, planted=None) -> Check:
    """Eval-mode outputs vs Monte Carlo means of training-mode outputs, both scalings."""
    x = torch.linspace(-1.0, 2.0, 6, dtype=_F64)
    inverted = Dropout(keep_prob, generator=torch.Generator().manual_seed(4))
    test_time = Dropout(keep_prob, scaling="test-time", generator=torch.Generator().manual_seed(5))
    train = [m.train()(x.expand(draws, -1)) for m in (inverted, test_time)]
    evals = [choose(planted, inverted.eval()(x), {"inverted dropout scaled at test time as well": keep_prob * x}),
             test_time.eval()(x)]
    return compare_mc("DO-4", torch.stack(evals), torch.stack([t.mean(0) for t in train]),
                      torch.stack([t.std(0) for t in train]) / math.sqrt(draws), digits=4,
                      analytic_label="eval output", empirical_label="mean training output",
                      note=f"rows: Dropout({keep_prob}) inverted, Dropout({keep_prob}, test-time); "
                      f"x = {[round(v, 3) for v in x.tolist()]}, {draws} draws")


@subcheck("DO-4", label="torch.nn.Dropout(p) draw for draw", planted={
    "nn.Dropout(p=0.7) for keep 0.7":
    "torch.nn.Dropout(p=keep_prob): PyTorch's p (drop) written where 1 - keep_prob is meant"})
def check_torch_draw_for_draw(keep_prob: float = 0.7, *, planted=None) -> Check:
    """With the same global generator state, nn.Dropout(p=1-keep) and Dropout(keep) agree exactly."""
    x = torch.linspace(-1.0, 2.0, 600, dtype=_F64).reshape(100, 6)
    p_torch = choose(planted, 1 - keep_prob, {"nn.Dropout(p=0.7) for keep 0.7": keep_prob})
    with torch.random.fork_rng(devices=[]):  # the caller's global generator stays as it was
        torch.manual_seed(40)
        theirs = torch.nn.Dropout(p=p_torch).train()(x)
        torch.manual_seed(40)
        ours = Dropout(keep_prob).train()(x)
    return compare("DO-4", ours, theirs, atol=1e-12,
                   analytic_label=f"Dropout({keep_prob})", empirical_label=f"nn.Dropout(p={p_torch:g})",
                   note="600 entries, training mode, the same global seed before each: the same mask drawn")


@subcheck("DO-4", label="torch.nn.Dropout(p) keeps with probability 1 - p",
          planted={"torch's p read as keep probability": "the keep frequency of nn.Dropout(p) expected to be p"})
def check_torch_keep_frequency(p: float = 0.3, draws: int = 200_000, *, planted=None) -> Check:
    """Fraction of entries nn.Dropout(p) keeps, and the value of a kept entry, vs 1 - p and 1/(1-p)."""
    with torch.random.fork_rng(devices=[]):  # the caller's global generator stays as it was
        torch.manual_seed(41)
        out = torch.nn.Dropout(p=p).train()(torch.ones(draws, dtype=_F64))
    kept = (out != 0).to(_F64)
    keep = choose(planted, 1 - p, {"torch's p read as keep probability": p})
    return compare_mc("DO-4", [keep, 1 / keep], [kept.mean().item(), float(out[out != 0].mean())],
                      [kept.std().item() / math.sqrt(draws), 0.0], atol=[0.0, 1e-12], digits=4,
                      analytic_label="[1 - p, 1/(1 - p)]", empirical_label="[keep frequency, kept value]",
                      note=f"nn.Dropout(p={p}) on {draws} ones in training mode")


# --------------------------------------------------------------------------- DO-5
def _do5_problem():
    X, y = _problem(3, 4, seed=5)
    return X, y, torch.tensor((0.7, -1.2, 0.4, 2.0), dtype=_F64)


@derivation(
    "DO-5", chapter=CHAPTER, label="enumeration of all 2^12 masks",
    claim="E_R||y - (R*X)w||^2 = ||y - pXw||^2 + p(1-p)||Gamma w||^2 with Gamma = diag(X^T X)^(1/2): "
    "by enumeration of all masks, SymPy, Monte Carlo and step by step.",
    planted={"p^2 for p(1-p)": "the penalty factor written p^2 (the second moment of r, not its variance)"},
)
def check_objective(*, planted=None) -> Check:
    """Closed form vs the exact expectation over all 2^12 masks of a 3 x 4 problem, three p."""
    X, y, w = _do5_problem()
    ps = (0.3, 0.5, 0.8)
    closed_form = choose(planted, lambda p: dropout_linear_objective(X, y, w, p),
                         {"p^2 for p(1-p)": lambda p: _objective_with(X, y, w, p, p**2)})
    closed = [float(closed_form(p)) for p in ps]
    enumerated = [float(enumerated_objective(X, y, w, p)) for p in ps]
    return compare("DO-5", closed, enumerated, atol=1e-10 * max(closed), analytic_label="closed form",
                   empirical_label="mean over 2^12 masks", note=f"X 3x4, p = {ps}")


@subcheck("DO-5", label="SymPy expectation", planted={
    "(1-p) alone for p(1-p)": "the penalty factor written 1 - p (the drop probability alone)"})
def check_objective_symbolic(*, planted=None) -> Check:
    """SymPy's expectation of the 2 x 2 loss, evaluated at a point, vs the closed form."""
    X, y, w = _do5_problem()
    sym = objective_symbolic(2, 2)
    s = sym["symbols"]
    Xs, ys, ws = X[:2, :2], y[:2], w[:2]
    point = {s["p"]: sp.Rational(3, 5)}
    point.update({s["X"][i, j]: sp.Float(float(Xs[i, j]), 20) for i in range(2) for j in range(2)})
    point.update({s["w"][j]: sp.Float(float(ws[j]), 20) for j in range(2)})
    point.update({s["y"][i]: sp.Float(float(ys[i]), 20) for i in range(2)})
    p = 0.6
    closed = float(choose(planted, lambda: dropout_linear_objective(Xs, ys, ws, p),
                          {"(1-p) alone for p(1-p)": lambda: _objective_with(Xs, ys, ws, p, 1 - p)})())
    return compare("DO-5", closed, float(sym["expectation"].subs(point)), atol=1e-10 * max(1.0, abs(closed)),
                   analytic_label="closed form", empirical_label="SymPy expectation",
                   note=f"2x2 problem at p = 0.6; the symbolic difference to the closed form expands to "
                   f"{sym['difference']}")


def _gamma_unrooted(X, y, w, p):
    """The closed form with the square root in Gamma forgotten: p(1-p)||diag(X^T X) w||^2."""
    gram = (X.T @ X).diagonal()
    return (y - p * (X @ w)).pow(2).sum() + p * (1 - p) * (gram.pow(2) * w.pow(2)).sum()


@subcheck("DO-5", label="Monte Carlo, X 20x5", planted={
    "Gamma = diag(X^T X)": "the square root in Gamma forgotten: p(1-p)||diag(X^T X) w||^2"})
def objective_monte_carlo(keep_prob: float = 0.5, draws: int = 200_000, *, seed: int = 6, planted=None) -> Check:
    """DO-5 by Monte Carlo on a problem too large to enumerate (X 20x5: 2^100 masks)."""
    X, y = _problem(20, 5, seed=seed)
    w = torch.linspace(-1.0, 1.0, 5, dtype=_F64)
    g = torch.Generator().manual_seed(seed)
    losses = torch.empty(draws, dtype=_F64)
    for start in range(0, draws, 20_000):
        R = dropout(torch.ones(min(20_000, draws - start), *X.shape, dtype=_F64), keep_prob,
                    scaling="test-time", generator=g)
        losses[start : start + R.shape[0]] = (y - (R * X) @ w).pow(2).sum(-1)
    closed = choose(planted, dropout_linear_objective, {"Gamma = diag(X^T X)": _gamma_unrooted})(X, y, w, keep_prob)
    return compare_mc("DO-5", closed, losses.mean(), float(losses.std()) / math.sqrt(draws), digits=5,
                      analytic_label="closed form", empirical_label=f"Monte Carlo ({draws} masks)",
                      note=f"X 20x5, p = {keep_prob}")


def objective_steps(keep_prob: float = 0.6, *, planted=None) -> list[Check]:
    """The derivation of DO-5 one step at a time, each step checked by enumeration."""
    p = keep_prob
    X, y, w = _do5_problem()

    def per_row(f):  # E over the 2^4 masks of row i of f(i, s_i), s_i = sum_j r_ij X_ij w_j
        return torch.stack([ensemble_mean(lambda r, i=i: f(i, (r * X[i]) @ w), X.shape[1], p, dtype=torch.float64)
                            for i in range(3)])

    mean, second, loss = per_row(lambda i, s: s), per_row(lambda i, s: s**2), per_row(lambda i, s: (y[i] - s) ** 2)
    var = second - mean**2
    gamma = (X.T @ X).diagonal().sqrt()
    step4 = choose(planted, (y - mean) ** 2 + var, {"variance dropped in step 4": (y - mean) ** 2})

    def cmp(a, e, **kw):
        return compare("DO-5", a, e, atol=1e-12 * max(1.0, float(torch.as_tensor(a).abs().max())), **kw)

    return [
        cmp(enumerated_objective(X, y, w, p), loss.sum(),
            analytic_label="mean over 2^12 joint masks", empirical_label="sum of per-row means",
            note="step 1: the expectation of the sum over rows is the sum of per-row expectations"),
        cmp(p * (X @ w), mean, analytic_label="p (Xw)_i",
            empirical_label="E[s_i] over 2^4 masks", note="step 2: s_i = sum_j r_ij X_ij w_j has mean p (Xw)_i"),
        cmp(p * (1 - p) * (X**2 @ w**2), var, analytic_label="p(1-p) sum_j X_ij^2 w_j^2",
            empirical_label="Var[s_i] over 2^4 masks", note="step 3: independent terms, Var[r] = p(1-p)"),
        cmp(step4, loss, analytic_label="(y_i - E s_i)^2 + Var s_i",
            empirical_label="E[(y_i - s_i)^2] over 2^4 masks", note="step 4: E[(y - s)^2] = (y - E s)^2 + Var s"),
        cmp((gamma * w).pow(2).sum(), (X**2 @ w**2).sum(), analytic_label="||Gamma w||^2",
            empirical_label="sum_i sum_j X_ij^2 w_j^2", note="step 5: summing step 3 over rows gives ||Gamma w||^2"),
    ]


@subcheck("DO-5", label="the derivation step by step", planted={
    "variance dropped in step 4": "E[(y - s)^2] taken as (y - E s)^2, the variance of s forgotten"})
def check_objective_steps(keep_prob: float = 0.6, *, planted=None) -> Check:
    """All five steps of :func:`objective_steps` at once: every entry within its rounding tolerance."""
    steps = objective_steps(keep_prob, planted=planted)
    analytic = np.concatenate([c.analytic.reshape(-1) for c in steps])
    computed = np.concatenate([c.empirical.reshape(-1) for c in steps])
    return compare("DO-5", analytic, computed, atol=1e-12 * max(1.0, float(np.abs(analytic).max())),
                   analytic_label="steps 1-5, by formula", empirical_label="by enumeration",
                   note=f"X 3x4, p = {keep_prob}; the five steps' values in order")


# --------------------------------------------------------------------------- DO-6
def _p_not_divided_out(X, y, p):
    """The normal equations with the factor p kept: (p X^T X + p(1-p) Gamma^2) w = X^T y."""
    G = X.T @ X
    return torch.linalg.solve(p * G + p * (1 - p) * torch.diag(G.diagonal()), X.T @ y)


@derivation(
    "DO-6", chapter=CHAPTER, label="normal equations of the enumerated loss",
    claim="The minimiser of the expected dropout loss is w* = (p X^T X + (1-p) Gamma^2)^-1 X^T y; "
    "w~ = p w* minimises ||y - X w~||^2 + ((1-p)/p)||Gamma w~||^2; SGD with dropout (both scalings), "
    "tail-averaged, converges to w* and p w*.",
    planted={"p(1-p) Gamma^2 in the normal equations":
             "the factor p not divided out: (p X^T X + p(1-p) Gamma^2) w = X^T y"},
)
def check_ridge_minimiser(keep_prob: float = 0.6, *, planted=None) -> Check:
    """Closed form vs the normal equations of the enumerated expected loss (exact moments)."""
    p = keep_prob
    X, y = _problem(4, 3, seed=7)
    N, D = X.shape
    # Exact second moments of the dropped-out design, by enumeration of all 2^12 masks.
    dropped = lambda m: m.view(-1, N, D) * X  # the design with mask m, (masks, N, D)
    gram = ensemble_mean(lambda m: dropped(m).transpose(1, 2) @ dropped(m), N * D, p, dtype=torch.float64)
    moment = ensemble_mean(lambda m: dropped(m).transpose(1, 2) @ y, N * D, p, dtype=torch.float64)
    w_enum = torch.linalg.solve(gram, moment)
    solve = choose(planted, dropout_ridge_solution, {"p(1-p) Gamma^2 in the normal equations": _p_not_divided_out})
    w_star = solve(X, y, p)
    return compare("DO-6", w_star, w_enum, atol=1e-10 * max(1.0, float(w_star.abs().max())),
                   analytic_label="closed form w*", empirical_label="enumerated normal equations",
                   note=f"X 4x3, p = {p}")


@subcheck(
    "DO-6", label="scikit-learn Ridge for w~ = p w*",
    planted=(
        Planted("p/(1-p) for (1-p)/p", "the ridge strength written p/(1-p)"),
        Planted(
            "weight cost scaled down by Gamma",
            "the penalty ((1-p)/p)||Gamma^-1 w~||^2: each weight's cost divided by its input's scale",
            slip='slide "Dropout for Linear Regression": "Gamma scales down weight cost for each w_i '
            'by the standard deviation of ith dimension of data"',
            correct="the penalty ((1-p)/p) sum_j Gamma_jj^2 w~_j^2 multiplies each weight's cost by "
            "Gamma_jj^2 = ||X_:,j||^2: an input that varies more has its weight penalised more",
        ),
    ),
)
def check_ridge_sklearn(keep_prob: float = 0.6, *, planted=None) -> Check:
    """p w* vs scikit-learn's Ridge with strength (1-p)/p on the columns rescaled by Gamma."""
    from sklearn.linear_model import Ridge

    p = keep_prob
    X, y = _problem(4, 3, seed=7)
    gamma = (X**2).sum(0).sqrt()
    alpha, gamma = choose(planted, ((1 - p) / p, gamma), {
        "p/(1-p) for (1-p)/p": (p / (1 - p), gamma),
        # columns multiplied by Gamma: the penalty on w~_j becomes w~_j^2 / Gamma_jj^2
        "weight cost scaled down by Gamma": ((1 - p) / p, 1 / gamma),
    })
    ridge = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit((X / gamma).numpy(), y.numpy())
    w_tilde = torch.as_tensor(ridge.coef_) / gamma
    scaled = p * dropout_ridge_solution(X, y, p)
    return compare("DO-6", scaled, w_tilde, atol=1e-10 * max(1.0, float(scaled.abs().max())),
                   analytic_label="closed form p w*", empirical_label="sklearn Ridge",
                   note=f"X 4x3, p = {p}; Ridge solves ||y - Xv||^2 + ((1-p)/p)||Gamma v||^2 after rescaling "
                   "columns by Gamma")


@subcheck("DO-6", label="SGD with dropout, both scalings", planted={
    "inverted dropout trains w*": "the inverted-dropout chains expected at w* (the factor p forgotten)"})
def ridge_sgd(keep_prob: float = 0.6, *, chains: int = 20, steps: int = 4000, seed: int = 8, planted=None) -> Check:
    """DO-6 by SGD with dropout: tail-averaged chains vs the closed form, for both scalings."""
    p = keep_prob
    X, y = _problem(40, 3, seed=seed)
    w_star = dropout_ridge_solution(X, y, p)
    runs = [sgd_with_dropout(X, y, p, scaling=s, steps=steps, chains=chains, seed=seed + k, lr=0.002)
            for k, s in enumerate(("test-time", "inverted"))]
    est = torch.cat([r.mean(0) for r in runs])
    se = torch.cat([r.std(0) for r in runs]) / math.sqrt(chains)
    # The standard errors come from `chains` runs: widen them by the t quantile over the normal one.
    z = bonferroni_z(est.numel(), 0.999)
    t = float(stats.t.ppf(1 - 1e-3 / (2 * est.numel()), chains - 1))
    expected_inverted = choose(planted, p * w_star, {"inverted dropout trains w*": w_star})
    return compare_mc("DO-6", torch.cat([w_star, expected_inverted]), est, se * (t / z), digits=4,
                      analytic_label="closed form [w*, p w*]", empirical_label=f"SGD, mean of {chains} chains",
                      note=f"X 40x3, p = {p}; test-time-scaled dropout trains w*, inverted dropout w~ = p w*; "
                      f"standard errors across chains widened by t/z = {t / z:.2f} ({chains - 1} degrees of freedom)")
