"""Closed forms and derivation checks of the chapter *Dropout* (results DO-1 .. DO-6, DO-9, DO-10).

The lecture's p is the probability of *keeping* a unit. Exact enumeration over all ``2**n``
masks (:func:`reglab.dropout.ensemble_mean`) is the independent computation for the claims about
expectations; Monte Carlo (with a confidence interval), SymPy, a least-squares solver and SGD
confirm the rest. Those computations live in ``reglab.derivations._dropout_computations``, whose
public names this module imports. The experiments DO-7 and DO-8 live in
:mod:`reglab.experiments.dropout`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .._validation import check_regression
from ..dropout import Dropout, ensemble_mean
from ._dropout_computations import (
    CLAIM_TEX,
    _do5_problem,
    _enumerated_normal_equations,
    _gamma_unrooted,
    _keep_prob,
    _mask_law,
    _masks,
    _monte_carlo_losses,
    _nonlinear_mc,
    _objective_with,
    _p_not_divided_out,
    _problem,
    _symbolic_value,
    _t_quantile,
    enumerated_objective,
    masked_relu_net,
    objective_steps,
    objective_symbolic,
    sgd_with_dropout,
    thinned_forward,
    thinned_network,
    weight_scaling_gap,
)
from .compare import Check, bonferroni_z, compare, compare_mc, exceeds
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "GAP_FACTOR", "check_inverted_and_torch", "check_linear_layer", "check_masks_bernoulli",
    "check_nonlinear_gap", "check_nonlinear_gap_size", "check_objective", "check_objective_steps",
    "check_objective_symbolic", "check_ridge_minimiser", "check_ridge_sklearn",
    "check_softmax_geometric_mean", "check_thinned_forward", "check_torch_draw_for_draw",
    "check_torch_keep_frequency", "dropout_linear_objective", "dropout_ridge_solution", "enumerated_objective",
    "masked_relu_net", "objective_monte_carlo", "objective_steps", "objective_symbolic", "ridge_sgd",
    "sgd_with_dropout", "thinned_forward", "thinned_network", "weight_scaling_gap",
]

CHAPTER = "dropout"
_F64 = torch.float64


# --------------------------------------------------------------------------- closed forms
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
    "DO-1", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-1"], label="keep frequency and Binomial law",
    claim="Dropout masks are Bernoulli(p) with p the keep probability: the keep frequency is p and "
    "the number of kept units among 8 follows the Binomial(8, p) law of independent entries.",
    planted=(
        Planted("one mask shared by the batch",
                "one mask of 8 entries drawn once, with shape (1, units), and broadcast over every example",
                kind="student"),
        Planted("PyTorch's drop probability taken as keep",
                "the masks of torch's F.dropout(x, p=keep_prob), which drops with that probability",
                kind="library"),
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
        "one mask shared by the batch": lambda n, u, p, g: _masks(1, u, p, g).expand(n, u),
        # torch.nn.functional.dropout(x, p=keep_prob) drops with probability keep_prob
        "PyTorch's drop probability taken as keep":
            lambda n, u, p, g: (torch.empty(n, u, dtype=_F64).bernoulli_(1 - p, generator=g) > 0).to(_F64),
        # the slide's r_i^(l) * y^(l): one Bernoulli draw multiplies the whole vector
        "one mask entry per layer": lambda n, u, p, g: _masks(n, 1, p, g).expand(n, u),
    })
    expected, mean, se = _mask_law(draw(draws, units, keep_prob, torch.Generator().manual_seed(1)), keep_prob)
    return compare_mc("DO-1", expected, mean, se, digits=4,
                      analytic_label="Bernoulli p, Binomial pmf", empirical_label=f"{draws} masks",
                      note=f"[keep frequency, P(0 kept), ..., P({units} kept)] at p = {keep_prob}")


@derivation(
    "DO-2", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-2"], label="enumeration of all 2^10 masks",
    claim="For a linear layer the average over all 2^n masks equals scaling the weights by p.",
    planted=(Planted("weights scaled by 1 - p", "the drop probability used as the factor: (1 - p) W", kind="student"),
             Planted("bias scaled by p too", "the whole layer, bias included, multiplied by p", kind="student")),
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
    "DO-9", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-9"], label="enumeration of all 2^10 masks",
    claim="For softmax regression weight scaling gives exactly the normalised geometric mean of the 2^n sub-models.",
    planted=(Planted("arithmetic mean", "the sub-models' probabilities averaged arithmetically", kind="student"),),
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


# --------------------------------------------------------------------------- DO-10
@derivation(
    "DO-10", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-10"], label="layer by layer vs torch modules",
    claim="The thinned network computes z^(l+1) = W^(l+1)(r^(l) * y^(l)) + b^(l+1) and y^(l+1) = f(z^(l+1)): "
    "the pre-activation computed from layer l's outputs belongs to layer l+1 and adds that layer's bias, "
    "as torch's Linear modules compute it with the same masks (a 4-6-6-6 ReLU network, every layer's inputs "
    "dropped).",
    planted=(
        Planted("z^(l) for z^(l+1)", "the pre-activation computed with the weights of layer l+1 labelled z^(l), "
                "a pre-activation of layer l, as the slide writes it",
                slip='slide "Without Dropout": "z_i^(l) = w^(l+1)T y^(l) + b_i^(l+1) and y_i^(l+1) = f(z_i^(l+1))"',
                correct="z_i^(l+1) = w_i^(l+1) . y^(l) + b_i^(l+1): the pre-activation that y_i^(l+1) = "
                "f(z_i^(l+1)) reads carries the index of layer l+1, as its weights and bias do"),
        Planted("b^(l) for b^(l+1)", "the bias of layer l (the layer whose outputs are dropped; none for the "
                "inputs) added to z^(l+1)",
                slip='slide "With Dropout": "Then z_i^(l+1) = w_i^(l+1) y~^(l) + b_i^(l) and y_i^(l+1) = f(z_i^(l+1))"',
                correct="z_i^(l+1) = w_i^(l+1) . y~^(l) + b_i^(l+1): the bias of the unit being computed, in layer "
                "l+1, as on the slide \"Without Dropout\""),
    ),
)
def check_thinned_forward(keep_prob: float = 0.6, *, planted=None) -> Check:
    """Each pre-activation's layer and values: the formula layer by layer vs torch's Linear modules (hooks)."""
    net, x, masks = thinned_network(keep_prob=keep_prob)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    captured = []
    hooks = [m.register_forward_hook(lambda m, i, out: captured.append(out.detach())) for m in linears]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    params = {k + 1: (m.weight.detach(), m.bias.detach()) for k, m in enumerate(linears)}
    index = choose(planted, {}, {"z^(l) for z^(l+1)": {"z_index": lambda l: l},
                                 "b^(l) for b^(l+1)": {"b_index": lambda l: l}})
    z = thinned_forward(params, x, masks, **index)
    formula = [float(k) for k in sorted(z)] + [v for k in sorted(z) for v in z[k].reshape(-1).tolist()]
    torch_side = [float(k + 1) for k in range(len(linears))] + [v for c in captured for v in c.reshape(-1).tolist()]
    return compare("DO-10", formula, torch_side, atol=1e-12, analytic_label="formula, layer by layer",
                   empirical_label="torch Linear modules", digits=4,
                   note=f"[layer of each pre-activation (3), then their values (3 inputs x 6 units x 3 layers)]; "
                   f"p = {keep_prob}")


# --------------------------------------------------------------------------- DO-3

#: How many times its Monte Carlo tolerance the weight-scaling gap of DO-3 must be at least.
GAP_FACTOR = 5


@derivation(
    "DO-3", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-3"], label="enumeration vs Monte Carlo",
    claim="For a ReLU network (4-6-6-2, dropout on both hidden layers, p = 0.6) the exact mean "
    f"over all 2^12 sub-networks (confirmed by Monte Carlo) differs from weight scaling by more "
    f"than {GAP_FACTOR} times the Monte Carlo tolerance: weight scaling only approximates it.",
    planted=(Planted("weight scaling taken as the ensemble mean",
                     "the mean over sub-networks assumed equal to the weight-scaled network", kind="student"),),
)
def check_nonlinear_gap(keep_prob: float = 0.6, draws: int = 100_000, *, planted=None) -> Check:
    """Enumerated ensemble mean of a ReLU net vs Monte Carlo over sampled masks."""
    measured = weight_scaling_gap(keep_prob, seed=0)
    mc, se = _nonlinear_mc(keep_prob, draws)
    exact = measured[choose(planted, "ensemble", {"weight scaling taken as the ensemble mean": "weight_scaled"})]
    return compare_mc("DO-3", exact, mc, se, digits=4, analytic_label="mean over 2^12 masks",
                      empirical_label=f"Monte Carlo ({draws} masks)",
                      note=f"ReLU net 4-6-6-2, p = {keep_prob}, 3 inputs x 2 outputs")


@subcheck("DO-3", label=f"gap > {GAP_FACTOR} x Monte Carlo tolerance", planted=(
    Planted("standard deviation for standard error",
            "the Monte Carlo tolerance computed from the spread of the sub-networks' outputs (their standard "
            "deviation), not from the standard error of their mean over the draws", kind="student"),))
def check_nonlinear_gap_size(keep_prob: float = 0.6, draws: int = 100_000, *, planted=None) -> Check:
    """The largest weight-scaling gap, in units of its entry's Monte Carlo tolerance, exceeds GAP_FACTOR."""
    measured = weight_scaling_gap(keep_prob, seed=0)
    _, se = _nonlinear_mc(keep_prob, draws)
    spread = choose(planted, se, {"standard deviation for standard error": se * math.sqrt(draws)})
    tolerance = bonferroni_z(se.numel(), 0.999) * spread
    ratio = float(((measured["ensemble"] - measured["weight_scaled"]).abs() / tolerance).max())
    return exceeds("DO-3", ratio, GAP_FACTOR, value_label="largest gap / its Monte Carlo tolerance",
                   bound_label="required", digits=3,
                   note=f"largest |ensemble mean - weight scaled| = {measured['gap']:.3g}; each entry's tolerance as in "
                   f"the check above ({draws} masks, 99.9 % joint)")


# --------------------------------------------------------------------------- DO-4
@derivation(
    "DO-4", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-4"], label="mean training output vs eval output",
    claim="Inverted dropout (training output r x / p, identity at test) and test-time scaling "
    "(training r x, p x at test) agree with their test outputs in expectation; torch.nn.Dropout(p) is "
    "inverted dropout with drop probability p: after the same seed it returns exactly what Dropout(1 - p) "
    "returns, and it keeps a fraction 1 - p of the entries, each multiplied by 1/(1 - p).",
    planted=(Planted("inverted dropout scaled at test time as well",
                     "the eval output of inverted dropout taken as p x (the factor p applied twice)",
                     kind="student"),),
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


@subcheck("DO-4", label="torch.nn.Dropout(p) draw for draw", planted=(
    Planted("nn.Dropout(p=0.7) for keep 0.7",
            "torch.nn.Dropout(p=keep_prob): PyTorch's p (drop) written where 1 - keep_prob is meant",
            kind="library"),))
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
          planted=(Planted("torch's p read as keep probability",
                           "the keep frequency of nn.Dropout(p) expected to be p", kind="library"),))
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
@derivation(
    "DO-5", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-5"], label="enumeration of all 2^12 masks",
    claim="E_R||y - (R*X)w||^2 = ||y - pXw||^2 + p(1-p)||Gamma w||^2 with Gamma = diag(X^T X)^(1/2): "
    "by enumeration of all masks, SymPy, Monte Carlo and step by step.",
    planted=(Planted("p^2 for p(1-p)", "the penalty factor written p^2 (the second moment of r, not its variance)",
                     kind="student"),),
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


@subcheck("DO-5", label="SymPy expectation", planted=(
    Planted("(1-p) alone for p(1-p)", "the penalty factor written 1 - p (the drop probability alone)",
            kind="student"),))
def check_objective_symbolic(*, planted=None) -> Check:
    """SymPy's expectation of the 2 x 2 loss, evaluated at a point, vs the closed form."""
    X, y, w = _do5_problem()
    sym = objective_symbolic(2, 2)
    Xs, ys, ws = X[:2, :2], y[:2], w[:2]
    p = 0.6
    closed = float(choose(planted, lambda: dropout_linear_objective(Xs, ys, ws, p),
                          {"(1-p) alone for p(1-p)": lambda: _objective_with(Xs, ys, ws, p, 1 - p)})())
    return compare("DO-5", closed, _symbolic_value(sym, Xs, ys, ws), atol=1e-10 * max(1.0, abs(closed)),
                   analytic_label="closed form", empirical_label="SymPy expectation",
                   note=f"2x2 problem at p = 0.6; the symbolic difference to the closed form expands to "
                   f"{sym['difference']}")


@subcheck("DO-5", label="Monte Carlo, X 20x5", planted=(
    Planted("Gamma = diag(X^T X)", "the square root in Gamma forgotten: p(1-p)||diag(X^T X) w||^2",
            kind="student"),))
def objective_monte_carlo(keep_prob: float = 0.5, draws: int = 200_000, *, seed: int = 6, planted=None) -> Check:
    """DO-5 by Monte Carlo on a problem too large to enumerate (X 20x5: 2^100 masks)."""
    X, y = _problem(20, 5, seed=seed)
    w = torch.linspace(-1.0, 1.0, 5, dtype=_F64)
    losses = _monte_carlo_losses(X, y, w, keep_prob, draws, torch.Generator().manual_seed(seed))
    closed = choose(planted, dropout_linear_objective, {"Gamma = diag(X^T X)": _gamma_unrooted})(X, y, w, keep_prob)
    return compare_mc("DO-5", closed, losses.mean(), float(losses.std()) / math.sqrt(draws), digits=5,
                      analytic_label="closed form", empirical_label=f"Monte Carlo ({draws} masks)",
                      note=f"X 20x5, p = {keep_prob}")


@subcheck("DO-5", label="the derivation step by step", planted=(
    Planted("variance dropped in step 4", "E[(y - s)^2] taken as (y - E s)^2, the variance of s forgotten",
            kind="student"),))
def check_objective_steps(keep_prob: float = 0.6, *, planted=None) -> Check:
    """All five steps of :func:`objective_steps` at once: every entry within its rounding tolerance."""
    steps = objective_steps(keep_prob, planted=planted)
    analytic = np.concatenate([c.analytic.reshape(-1) for c in steps])
    computed = np.concatenate([c.empirical.reshape(-1) for c in steps])
    return compare("DO-5", analytic, computed, atol=1e-12 * max(1.0, float(np.abs(analytic).max())),
                   analytic_label="steps 1-5, by formula", empirical_label="by enumeration",
                   note=f"X 3x4, p = {keep_prob}; the five steps' values in order")


# --------------------------------------------------------------------------- DO-6
@derivation(
    "DO-6", chapter=CHAPTER, claim_tex=CLAIM_TEX["DO-6"], label="normal equations of the enumerated loss",
    claim="The minimiser of the expected dropout loss is w* = (p X^T X + (1-p) Gamma^2)^-1 X^T y; "
    "w~ = p w* minimises ||y - X w~||^2 + ((1-p)/p)||Gamma w~||^2; SGD with dropout (both scalings), "
    "tail-averaged, converges to w* and p w*.",
    planted=(Planted("p(1-p) Gamma^2 in the normal equations",
                     "the factor p not divided out: (p X^T X + p(1-p) Gamma^2) w = X^T y", kind="student"),),
)
def check_ridge_minimiser(keep_prob: float = 0.6, *, planted=None) -> Check:
    """Closed form vs the normal equations of the enumerated expected loss (exact moments)."""
    p = keep_prob
    X, y = _problem(4, 3, seed=7)
    w_enum = _enumerated_normal_equations(X, y, p)
    solve = choose(planted, dropout_ridge_solution, {"p(1-p) Gamma^2 in the normal equations": _p_not_divided_out})
    w_star = solve(X, y, p)
    return compare("DO-6", w_star, w_enum, atol=1e-10 * max(1.0, float(w_star.abs().max())),
                   analytic_label="closed form w*", empirical_label="enumerated normal equations",
                   note=f"X 4x3, p = {p}")


@subcheck(
    "DO-6", label="scikit-learn Ridge for w~ = p w*",
    planted=(
        Planted("p/(1-p) for (1-p)/p", "the ridge strength written p/(1-p)", kind="student"),
        Planted(
            "weight cost scaled down by Gamma",
            "the penalty ((1-p)/p)||Gamma^-1 w~||^2: each weight's cost divided by its input's scale",
            slip='slide "Dropout for Linear Regression": "Gamma scales down weight cost for each w_i '
            'by the standard deviation of ith dimension of data"',
            correct="the penalty ((1-p)/p) sum_j Gamma_jj^2 w~_j^2 multiplies each weight's cost by "
            "Gamma_jj^2 = ||X_:,j||^2: an input that varies more has its weight penalised more",
        ),
        Planted(
            "the minimiser read as the trained w",
            "the minimum read as one over the trained weights w: the minimiser of the objective in w~ (the "
            "ridge solution) taken for w, so the test-time weights become p times it, p^2 w*",
            slip='slide "Dropout for Linear Regression": "min_w ||y - X w~||_2^2 + ((1-p)/p) ||Gamma w~||_2^2 '
            'with w~ = p w" (a loose notation: the objective is written in w~, the minimum over w)',
            correct="the minimiser of the objective in w~ is the test-time weights w~ = p w*; the trained "
            "weights are w* = w~/p (read with w~ = p w substituted, the minimum over w is the same problem "
            "and gives w*)",
        ),
    ),
)
def check_ridge_sklearn(keep_prob: float = 0.6, *, planted=None) -> Check:
    """p w* vs scikit-learn's Ridge with strength (1-p)/p on the columns rescaled by Gamma."""
    from sklearn.linear_model import Ridge

    p = keep_prob
    X, y = _problem(4, 3, seed=7)
    gamma = (X**2).sum(0).sqrt()
    # (ridge strength, column scale, test-time weights per unit of Ridge's solution)
    alpha, gamma, factor = choose(planted, ((1 - p) / p, gamma, 1.0), {
        "p/(1-p) for (1-p)/p": (p / (1 - p), gamma, 1.0),
        # columns multiplied by Gamma: the penalty on w~_j becomes w~_j^2 / Gamma_jj^2
        "weight cost scaled down by Gamma": ((1 - p) / p, 1 / gamma, 1.0),
        # Ridge's solution taken for the trained w: the test-time weights are p times it
        "the minimiser read as the trained w": ((1 - p) / p, gamma, p),
    })
    ridge = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit((X / gamma).numpy(), y.numpy())
    w_tilde = factor * torch.as_tensor(ridge.coef_) / gamma
    scaled = p * dropout_ridge_solution(X, y, p)
    return compare("DO-6", scaled, w_tilde, atol=1e-10 * max(1.0, float(scaled.abs().max())),
                   analytic_label="closed form p w*", empirical_label="sklearn Ridge",
                   note=f"X 4x3, p = {p}; Ridge solves ||y - Xv||^2 + ((1-p)/p)||Gamma v||^2 after rescaling "
                   "columns by Gamma")


@subcheck("DO-6", label="SGD with dropout, both scalings", planted=(
    Planted("inverted dropout trains w*", "the inverted-dropout chains expected at w* (the factor p forgotten)",
            kind="student"),))
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
    t = _t_quantile(1 - 1e-3 / (2 * est.numel()), chains - 1)
    expected_inverted = choose(planted, p * w_star, {"inverted dropout trains w*": w_star})
    return compare_mc("DO-6", torch.cat([w_star, expected_inverted]), est, se * (t / z), digits=4,
                      analytic_label="closed form [w*, p w*]", empirical_label=f"SGD, mean of {chains} chains",
                      note=f"X 40x3, p = {p}; test-time-scaled dropout trains w*, inverted dropout w~ = p w*; "
                      f"standard errors across chains widened by t/z = {t / z:.2f} ({chains - 1} degrees of freedom)")
