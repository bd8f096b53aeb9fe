"""Closed forms and derivation checks of the chapter *Dropout* (results DO-1 .. DO-9).

The lecture's p is the probability of *keeping* a unit. Exact enumeration over all ``2**n``
masks (:func:`reglab.dropout.ensemble_mean`) is the independent computation for the claims about
expectations; Monte Carlo (with a confidence interval), SymPy, a least-squares solver and SGD
confirm the rest.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch
from scipy import stats
from torch import Tensor

from .._validation import check_int, check_real, check_tensor
from ..dropout import Dropout, dropout, ensemble_mean
from .core import Check, compare, derivation, experiment

__all__ = [
    "dropout_linear_objective",
    "dropout_ridge_solution",
    "enumerated_objective",
    "sgd_with_dropout",
    "masked_relu_net",
    "weight_scaling_gap",
    "objective_monte_carlo",
    "objective_symbolic",
    "objective_steps",
    "ridge_sgd",
    "check_masks_bernoulli",
    "check_linear_layer",
    "check_nonlinear_gap",
    "check_inverted_and_torch",
    "check_objective",
    "check_ridge_minimiser",
    "check_softmax_geometric_mean",
]

CHAPTER = "dropout"
_F64 = torch.float64


def _bonferroni_z(k: int, alpha: float = 1e-3) -> float:
    """Two-sided normal quantile so that ``k`` entries all fall inside with probability 1 - alpha."""
    return float(stats.norm.ppf(1 - alpha / (2 * k)))


def _problem(N: int, D: int, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g, dtype=_F64)
    y = X @ torch.randn(D, generator=g, dtype=_F64) + 0.3 * torch.randn(N, generator=g, dtype=_F64)
    return X, y


def _check_regression(X, y, keep_prob):
    check_tensor("X", X, ndim=2, floating=True, finite=True)
    check_tensor("y", y, ndim=1, floating=True, finite=True)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries")
    return check_real("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)


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
    p = _check_regression(X, y, keep_prob)
    check_tensor("w", w, ndim=1, floating=True)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w has {w.shape[0]} entries but X has {X.shape[1]} columns")
    gamma_sq = (X.T @ X).diagonal()
    return (y - p * (X @ w)).pow(2).sum() + p * (1 - p) * (gamma_sq * w.pow(2)).sum()


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
    p = _check_regression(X, y, keep_prob)
    gram = X.T @ X
    A = p * gram + (1 - p) * torch.diag(gram.diagonal())
    return torch.linalg.solve(A, X.T @ y)


# --------------------------------------------------------------------------- computations


def enumerated_objective(X: Tensor, y: Tensor, w: Tensor, keep_prob: float) -> Tensor:
    """``E_R ||y - (R * X) w||^2`` by summing over all ``2**(N D)`` masks (N D <= 22)."""
    p = _check_regression(X, y, keep_prob)
    N, D = X.shape

    def loss(masks):
        R = masks.view(-1, N, D)
        return (y - (R * X) @ w).pow(2).sum(-1)

    return ensemble_mean(loss, N * D, p)


def sgd_with_dropout(
    X: Tensor,
    y: Tensor,
    keep_prob: float,
    *,
    scaling: str = "test-time",
    steps: int = 4000,
    burn_in: int = 1000,
    lr: float = 0.01,
    batch_size: int = 4,
    chains: int = 20,
    seed: int = 0,
) -> Tensor:
    """Independent SGD runs on ``||y - dropout(X) w||^2``; each returns its tail average.

    Every step draws a minibatch (with replacement) and a fresh mask for its inputs with
    :func:`reglab.dropout.dropout`. Because the loss is quadratic in ``w`` and the mask is
    independent of ``w``, the *expected* iterate follows plain gradient descent on the expected
    objective, so the average of the iterates after ``burn_in`` steps is an unbiased estimate of
    its minimiser, up to a transient of order ``(1 - lr * lambda_min)**burn_in``.

    Returns
    -------
    Tensor of shape (chains, D)
        The average of each chain's iterates over steps ``burn_in .. steps``.
    """
    p = _check_regression(X, y, keep_prob)
    steps = check_int("steps", steps, low=2)
    burn_in = check_int("burn_in", burn_in, low=0, high=steps - 1)
    check_real("lr", lr, low=0.0, low_open=True)
    check_int("batch_size", batch_size, low=1)
    check_int("chains", chains, low=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    N, D = X.shape
    w = torch.zeros(chains, D, dtype=X.dtype)
    tail = torch.zeros_like(w)
    for t in range(steps):
        idx = torch.randint(N, (chains, batch_size), generator=g)
        xb = dropout(X[idx], p, scaling=scaling, generator=g)  # (chains, b, D)
        residual = y[idx] - torch.einsum("cbd,cd->cb", xb, w)
        grad = -2 * (N / batch_size) * torch.einsum("cbd,cb->cd", xb, residual)
        w = w - lr * grad
        if t >= burn_in:
            tail += w
    return tail / (steps - burn_in)


def masked_relu_net(x: Tensor, sizes=(4, 6, 6, 2), *, seed: int = 0, weight_scale: float = 1.5):
    """A random ReLU network whose hidden units are multiplied by given dropout masks.

    Parameters
    ----------
    x : Tensor of shape (b, sizes[0])
        The inputs, fixed.
    sizes : sequence of int
        Widths from input to output; every hidden unit can be dropped.
    seed : int
        Seed of the weights (normal, std ``weight_scale / sqrt(fan_in)``) and biases (std 0.5).

    Returns
    -------
    (forward, n)
        ``forward(masks)`` maps masks (m, n) to outputs (m, b, sizes[-1]), where ``n`` is the
        number of hidden units; masks filled with p give the weight-scaled network.
    """
    check_tensor("x", x, ndim=2, floating=True)
    sizes = [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
    if len(sizes) < 3 or x.shape[1] != sizes[0]:
        raise ValueError(f"sizes must have at least one hidden layer and start with x's width {x.shape[1]}, but got {sizes}")
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    params = [(torch.randn(b, a, generator=g, dtype=x.dtype) * weight_scale / math.sqrt(a),
               0.5 * torch.randn(b, generator=g, dtype=x.dtype)) for a, b in zip(sizes[:-1], sizes[1:])]
    hidden = sizes[1:-1]

    def forward(masks: Tensor) -> Tensor:
        h = x.expand(masks.shape[0], -1, -1)
        start = 0
        for (W, b), width in zip(params[:-1], hidden):
            h = torch.relu(h @ W.T + b) * masks[:, None, start : start + width]
            start += width
        W, b = params[-1]
        return h @ W.T + b

    return forward, sum(hidden)


def _gap_net(seed: int):
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(seed + 100), dtype=_F64)
    return masked_relu_net(x, (4, 6, 6, 2), seed=seed)


def weight_scaling_gap(keep_prob: float, *, seed: int = 0) -> dict:
    """A small ReLU net (4-6-6-2, dropout on both hidden layers, 3 inputs): ensemble vs scaling.

    Returns
    -------
    dict
        ``"ensemble"``: exact mean output over all ``2**12`` masks, (3, 2);
        ``"weight_scaled"``: one pass with every mask entry replaced by p, (3, 2);
        ``"gap"``: their largest absolute difference.
    """
    p = check_real("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)
    forward, n = _gap_net(seed)
    exact = ensemble_mean(forward, n, p)
    scaled = forward(torch.full((1, n), p, dtype=_F64))[0]
    return {"ensemble": exact, "weight_scaled": scaled, "gap": float((exact - scaled).abs().max())}


# --------------------------------------------------------------------------- checks


@derivation("DO-1", chapter=CHAPTER, claim="Dropout masks are independent Bernoulli(p) with p the keep probability.")
def check_masks_bernoulli(keep_prob: float = 0.8, units: int = 8, draws: int = 100_000) -> Check:
    """Keep frequency and the law of the number of kept units vs Bernoulli / Binomial."""
    g = torch.Generator().manual_seed(1)
    masks = dropout(torch.ones(draws, units, dtype=_F64), keep_prob, scaling="test-time", generator=g)
    counts = torch.bincount(masks.sum(1).long(), minlength=units + 1).to(_F64) / draws
    pmf = torch.tensor(stats.binom.pmf(np.arange(units + 1), units, keep_prob))
    analytic = torch.cat([torch.tensor([keep_prob], dtype=_F64), pmf])
    empirical = torch.cat([masks.mean().reshape(1), counts])
    se = torch.cat([torch.tensor([math.sqrt(keep_prob * (1 - keep_prob) / (draws * units))]),
                    (pmf * (1 - pmf) / draws).sqrt()])
    z = _bonferroni_z(analytic.numel())
    return compare(
        "DO-1", analytic, empirical, atol=z * float(se.max()),
        analytic_label="Bernoulli p, Binomial pmf", empirical_label=f"{draws} masks",
        digits=4,
        note=f"[keep frequency, P(0 kept), ..., P({units} kept)] at p = {keep_prob}; tolerance "
             f"{z:.2f} standard errors (99.9 % joint interval, Bonferroni over {analytic.numel()} entries)",
    )


@derivation("DO-2", chapter=CHAPTER, claim="For a linear layer the average over all 2^n masks equals scaling the weights by p.")
def check_linear_layer(keep_prob: float = 0.6, units: int = 10) -> Check:
    g = torch.Generator().manual_seed(2)
    W = torch.randn(4, units, generator=g, dtype=_F64)
    b = torch.randn(4, generator=g, dtype=_F64)
    x = torch.randn(3, units, generator=g, dtype=_F64)
    exact = ensemble_mean(lambda r: (r[:, None, :] * x) @ W.T + b, units, keep_prob)
    scaled = x @ (keep_prob * W).T + b
    return compare(
        "DO-2", scaled, exact, atol=1e-12, rtol=1e-12,
        analytic_label="weights scaled by p", empirical_label=f"mean over 2^{units} masks",
        note=f"linear layer 10 -> 4, 3 inputs, p = {keep_prob}",
    )


@derivation("DO-3", chapter=CHAPTER, claim="For a nonlinear network weight scaling only approximates the ensemble mean; the gap is measured by enumeration.")
def check_nonlinear_gap(keep_prob: float = 0.5, draws: int = 100_000) -> Check:
    """Enumerated ensemble mean of a ReLU net vs Monte Carlo over sampled masks; gap reported."""
    forward, n = _gap_net(0)
    measured = weight_scaling_gap(keep_prob, seed=0)
    g = torch.Generator().manual_seed(3)
    masks = dropout(torch.ones(draws, n, dtype=_F64), keep_prob, scaling="test-time", generator=g)
    outputs = forward(masks)
    mc = outputs.mean(0)
    se = outputs.std(0) / math.sqrt(draws)
    z = _bonferroni_z(mc.numel())
    tol = z * float(se.max())
    gap = measured["gap"]
    return compare(
        "DO-3", measured["ensemble"], mc, atol=tol,
        analytic_label="mean over 2^12 masks", empirical_label=f"Monte Carlo ({draws} masks)",
        digits=4,
        note=f"ReLU net 4-6-6-2, p = {keep_prob}: weight scaling misses the ensemble mean by up to "
             f"{gap:.4f} = {gap / tol:.0f} x the Monte Carlo tolerance ({z:.2f} standard errors, "
             "99.9 % joint interval)",
    )


@derivation("DO-4", chapter=CHAPTER, claim="Inverted dropout and test-time scaling agree in expectation; torch.nn.Dropout(p) keeps with probability 1 - p.")
def check_inverted_and_torch(keep_prob: float = 0.7, draws: int = 100_000) -> Check:
    """Eval-mode outputs vs Monte Carlo means of training-mode outputs, ours and torch's."""
    x = torch.linspace(-1.0, 2.0, 6, dtype=_F64)
    batch = x.expand(draws, -1)
    ours = Dropout(keep_prob)
    theirs = torch.nn.Dropout(p=1 - keep_prob)
    test_time = Dropout(keep_prob, scaling="test-time")
    torch.manual_seed(4)  # torch.nn.Dropout draws from the global generator
    train = [m.train()(batch) for m in (ours, theirs, test_time)]
    evals = [m.eval()(x) for m in (ours, theirs, test_time)]
    mc = torch.stack([t.mean(0) for t in train])
    se = torch.stack([t.std(0) for t in train]) / math.sqrt(draws)
    z = _bonferroni_z(mc.numel())
    return compare(
        "DO-4", torch.stack(evals), mc, atol=z * float(se.max()),
        analytic_label="eval output", empirical_label="mean training output", digits=4,
        note=f"rows: Dropout({keep_prob}) inverted, torch.nn.Dropout(p={1 - keep_prob:g}), Dropout({keep_prob}, "
             f"test-time); x = {[round(v, 3) for v in x.tolist()]}; tolerance {z:.2f} standard errors (99.9 % joint interval)",
    )


def objective_symbolic(N: int = 2, D: int = 2) -> dict:
    """DO-5 in SymPy: expand ``||y - (R*X)w||^2``, use ``r^2 = r`` and independence (E r = p).

    Returns
    -------
    dict
        ``"expectation"`` and ``"closed_form"`` (SymPy expressions), ``"difference"`` (their
        expanded difference, 0 if the identity holds) and ``"symbols"``.
    """
    check_int("N", N, low=1, high=4)
    check_int("D", D, low=1, high=4)
    p = sp.Symbol("p", positive=True)
    X = sp.Matrix(N, D, lambda i, j: sp.Symbol(f"x{i}{j}", real=True))
    R = sp.Matrix(N, D, lambda i, j: sp.Symbol(f"r{i}{j}"))
    w = sp.Matrix(D, 1, lambda j, _: sp.Symbol(f"w{j}", real=True))
    y = sp.Matrix(N, 1, lambda i, _: sp.Symbol(f"y{i}", real=True))
    residual = y - X.multiply_elementwise(R) * w
    loss = sp.expand((residual.T * residual)[0])
    poly = sp.Poly(loss, *R)
    # A Bernoulli variable satisfies r^k = r, and independent entries make E[prod r] = prod E[r].
    expectation = sum(coef * p ** sum(1 for e in monom if e > 0) for monom, coef in poly.terms())
    gamma_sq = sp.diag(*[(X.T * X)[j, j] for j in range(D)])
    fit = y - p * X * w
    closed = (fit.T * fit)[0] + p * (1 - p) * (w.T * gamma_sq * w)[0]
    return {
        "expectation": expectation,
        "closed_form": closed,
        "difference": sp.expand(expectation - closed),
        "symbols": {"p": p, "X": X, "w": w, "y": y},
    }


@derivation("DO-5", chapter=CHAPTER, claim="E_R||y - (R*X)w||^2 = ||y - pXw||^2 + p(1-p)||Gamma w||^2 with Gamma = diag(X^T X)^(1/2).")
def check_objective() -> Check:
    """Closed form vs exact enumeration (three p) and vs the SymPy expectation at a point."""
    X, y = _problem(3, 4, seed=5)
    w = torch.tensor([0.7, -1.2, 0.4, 2.0], dtype=_F64)
    ps = (0.3, 0.5, 0.8)
    closed = [float(dropout_linear_objective(X, y, w, p)) for p in ps]
    enumerated = [float(enumerated_objective(X, y, w, p)) for p in ps]
    sym = objective_symbolic(2, 2)
    s = sym["symbols"]
    Xs, ys = X[:2, :2], y[:2]
    point = {s["p"]: sp.Rational(3, 5)}
    point.update({s["X"][i, j]: sp.Float(float(Xs[i, j]), 20) for i in range(2) for j in range(2)})
    point.update({s["w"][j]: sp.Float(float(w[j]), 20) for j in range(2)})
    point.update({s["y"][i]: sp.Float(float(ys[i]), 20) for i in range(2)})
    closed.append(float(dropout_linear_objective(Xs, ys, w[:2], 0.6)))
    enumerated.append(float(sym["expectation"].subs(point)))
    return compare(
        "DO-5", closed, enumerated, rtol=1e-10,
        analytic_label="closed form", empirical_label="enumeration over 2^12 masks | SymPy",
        note=f"first three: X 3x4, p = {ps}; last: SymPy expectation of a 2x2 problem at p = 0.6 "
             f"(its symbolic difference to the closed form expands to {sym['difference']})",
    )


def objective_monte_carlo(keep_prob: float = 0.5, draws: int = 200_000, *, seed: int = 6) -> Check:
    """DO-5 by Monte Carlo on a problem too large to enumerate (X 20x5: 2^100 masks)."""
    X, y = _problem(20, 5, seed=seed)
    w = torch.linspace(-1.0, 1.0, 5, dtype=_F64)
    g = torch.Generator().manual_seed(seed)
    losses = torch.empty(draws, dtype=_F64)
    for start in range(0, draws, 20_000):
        R = dropout(torch.ones(min(20_000, draws - start), *X.shape, dtype=_F64), keep_prob,
                    scaling="test-time", generator=g)
        losses[start : start + R.shape[0]] = (y - (R * X) @ w).pow(2).sum(-1)
    z = _bonferroni_z(1)
    half = z * float(losses.std()) / math.sqrt(draws)
    return compare(
        "DO-5", dropout_linear_objective(X, y, w, keep_prob), losses.mean(), atol=half,
        analytic_label="closed form", empirical_label=f"Monte Carlo ({draws} masks)", digits=5,
        note=f"X 20x5, p = {keep_prob}; tolerance {z:.2f} standard errors (99.9 % interval)",
    )


def objective_steps(keep_prob: float = 0.6) -> list[Check]:
    """The derivation of DO-5 one step at a time, each step checked by enumeration."""
    p = keep_prob
    X, y = _problem(3, 4, seed=5)
    w = torch.tensor([0.7, -1.2, 0.4, 2.0], dtype=_F64)
    D = X.shape[1]
    row_sum = [ensemble_mean(lambda r, i=i: (r * X[i]) @ w, D, p) for i in range(3)]
    row_sq = [ensemble_mean(lambda r, i=i: ((r * X[i]) @ w) ** 2, D, p) for i in range(3)]
    row_loss = [ensemble_mean(lambda r, i=i: (y[i] - (r * X[i]) @ w) ** 2, D, p) for i in range(3)]
    mean, second, loss = (torch.stack(v) for v in (row_sum, row_sq, row_loss))
    var = second - mean**2
    gamma = (X.T @ X).diagonal().sqrt()
    kw = dict(atol=1e-12, rtol=1e-12)
    return [
        compare("DO-5", enumerated_objective(X, y, w, p), loss.sum(), **kw,
                analytic_label="mean over 2^12 joint masks", empirical_label="sum of per-row means",
                note="step 1: the expectation of the sum over rows is the sum of per-row expectations"),
        compare("DO-5", p * (X @ w), mean, **kw, analytic_label="p (Xw)_i",
                empirical_label="E[s_i] over 2^4 masks", note="step 2: s_i = sum_j r_ij X_ij w_j has mean p (Xw)_i"),
        compare("DO-5", p * (1 - p) * (X**2 @ w**2), var, **kw, analytic_label="p(1-p) sum_j X_ij^2 w_j^2",
                empirical_label="Var[s_i] over 2^4 masks", note="step 3: independent terms, Var[r] = p(1-p)"),
        compare("DO-5", (y - mean) ** 2 + var, loss, **kw, analytic_label="(y_i - E s_i)^2 + Var s_i",
                empirical_label="E[(y_i - s_i)^2] over 2^4 masks", note="step 4: E[(y - s)^2] = (y - E s)^2 + Var s"),
        compare("DO-5", (gamma * w).pow(2).sum(), (X**2 @ w**2).sum(), **kw, analytic_label="||Gamma w||^2",
                empirical_label="sum_i sum_j X_ij^2 w_j^2", note="step 5: summing step 3 over rows gives ||Gamma w||^2"),
    ]


@derivation("DO-6", chapter=CHAPTER, claim="The minimiser of the expected dropout loss is the ridge-type solution; with w~ = p w the penalty is ((1-p)/p)||Gamma w~||^2.")
def check_ridge_minimiser(keep_prob: float = 0.6) -> Check:
    """Closed form vs normal equations of the enumerated loss, and vs scikit-learn's Ridge."""
    from sklearn.linear_model import Ridge

    p = keep_prob
    X, y = _problem(4, 3, seed=7)
    N, D = X.shape
    # Exact second moments of the dropped-out design, by enumeration of all 2^12 masks.
    gram = ensemble_mean(lambda m: (lambda Z: Z.transpose(1, 2) @ Z)(m.view(-1, N, D) * X), N * D, p)
    moment = ensemble_mean(lambda m: (m.view(-1, N, D) * X).transpose(1, 2) @ y, N * D, p)
    w_enum = torch.linalg.solve(gram, moment)
    gamma = (X**2).sum(0).sqrt()
    ridge = Ridge(alpha=(1 - p) / p, fit_intercept=False, solver="cholesky").fit((X / gamma).numpy(), y.numpy())
    w_tilde = torch.as_tensor(ridge.coef_) / gamma
    w_star = dropout_ridge_solution(X, y, p)
    return compare(
        "DO-6", torch.cat([w_star, p * w_star]), torch.cat([w_enum, w_tilde]), atol=1e-10, rtol=1e-10,
        analytic_label="closed form [w*, p w*]", empirical_label="[enumerated normal equations, sklearn Ridge]",
        note=f"X 4x3, p = {p}; Ridge solves ||y - Xv||^2 + ((1-p)/p)||Gamma v||^2 after rescaling columns by Gamma",
    )


def ridge_sgd(keep_prob: float = 0.6, *, chains: int = 20, steps: int = 4000, seed: int = 8) -> Check:
    """DO-6 by SGD with dropout: tail-averaged chains vs the closed form, for both scalings."""
    p = keep_prob
    X, y = _problem(40, 3, seed=seed)
    w_star = dropout_ridge_solution(X, y, p)
    runs = [sgd_with_dropout(X, y, p, scaling=s, steps=steps, chains=chains, seed=seed + k, lr=0.002)
            for k, s in enumerate(("test-time", "inverted"))]
    est = torch.cat([r.mean(0) for r in runs])
    se = torch.cat([r.std(0) for r in runs]) / math.sqrt(chains)
    q = float(stats.t.ppf(1 - 1e-3 / (2 * est.numel()), chains - 1))
    return compare(
        "DO-6", torch.cat([w_star, p * w_star]), est, atol=q * float(se.max()),
        analytic_label="closed form [w*, p w*]", empirical_label=f"SGD, mean of {chains} chains", digits=4,
        note=f"X 40x3, p = {p}; test-time-scaled dropout trains w*, inverted dropout trains w~ = p w* (its "
             f"inputs are divided by p); tolerance {q:.2f} standard errors across chains (t, 99.9 % joint interval)",
    )


@derivation("DO-9", chapter=CHAPTER, claim="For softmax regression weight scaling gives exactly the normalised geometric mean of the 2^n sub-models.")
def check_softmax_geometric_mean(keep_prob: float = 0.5, units: int = 10) -> Check:
    g = torch.Generator().manual_seed(9)
    W = torch.randn(5, units, generator=g, dtype=_F64)
    b = torch.randn(5, generator=g, dtype=_F64)
    x = torch.randn(3, units, generator=g, dtype=_F64)
    probs = lambda r: torch.softmax((r[:, None, :] * x) @ W.T + b, dim=-1)  # noqa: E731
    geometric = ensemble_mean(probs, units, keep_prob, mean="geometric")
    arithmetic = ensemble_mean(probs, units, keep_prob)
    scaled = torch.softmax(x @ (keep_prob * W).T + b, dim=-1)
    return compare(
        "DO-9", scaled, geometric, atol=1e-12, rtol=1e-10,
        analytic_label="softmax with weights scaled by p", empirical_label=f"geometric mean over 2^{units} masks",
        note=f"10 inputs, 5 classes, p = {keep_prob}; the arithmetic mean of the sub-models differs by up to "
             f"{float((arithmetic - scaled).abs().max()):.3f}",
    )


experiment("DO-7", chapter=CHAPTER, claim="An MLP trained with dropout on MNIST-1D vs without (5 seeds), beside the lecture's SVHN/CIFAR tables.")
experiment("DO-8", chapter=CHAPTER, claim="Dropout makes hidden activations sparser (histograms, fraction active).")
