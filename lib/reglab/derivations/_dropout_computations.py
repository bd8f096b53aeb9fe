"""The independent computations behind the checks of :mod:`reglab.derivations.dropout`.

Exact enumeration over all dropout masks, SGD with dropout, small random ReLU networks whose
hidden units are masked, the thinned network of DO-10 in torch modules and layer by layer from the
lecture's formula, the derivation of DO-5 step by step, and SymPy. Part of :mod:`reglab.derivations.dropout`, which imports
every public name of this module (a chapter imports that one module); kept apart so that each
file stays readable.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor

from .._lazy import lazy_module
from .._validation import check_int, check_real, check_regression, check_tensor
from ..dropout import dropout, ensemble_mean
from ._memo import deterministic
from .compare import Check, compare
from .registry import choose

sp = lazy_module("sympy")
stats = lazy_module("scipy.stats")

__all__ = ["enumerated_objective", "masked_relu_net", "objective_steps", "objective_symbolic", "sgd_with_dropout",
           "thinned_forward", "thinned_network", "weight_scaling_gap"]

_F64 = torch.float64


def _problem(N: int, D: int, seed: int) -> tuple[Tensor, Tensor]:
    """A regression problem X (N, D), y = X w + noise of the checks, drawn with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g, dtype=_F64)
    y = X @ torch.randn(D, generator=g, dtype=_F64) + 0.3 * torch.randn(N, generator=g, dtype=_F64)
    return X, y


def _do5_problem() -> tuple[Tensor, Tensor, Tensor]:
    """The 3 x 4 problem of DO-5: X, y and the weights w at which the objective is evaluated."""
    X, y = _problem(3, 4, seed=5)
    return X, y, torch.tensor((0.7, -1.2, 0.4, 2.0), dtype=_F64)


def _monte_carlo_losses(X: Tensor, y: Tensor, w: Tensor, keep_prob: float, draws: int, generator) -> Tensor:
    """``||y - (R * X) w||^2`` for ``draws`` masks R of the lecture's dropout, in batches of 20,000."""
    losses = torch.empty(draws, dtype=_F64)
    for start in range(0, draws, 20_000):
        R = dropout(torch.ones(min(20_000, draws - start), *X.shape, dtype=_F64), keep_prob,
                    scaling="test-time", generator=generator)
        losses[start : start + R.shape[0]] = (y - (R * X) @ w).pow(2).sum(-1)
    return losses


def _enumerated_normal_equations(X: Tensor, y: Tensor, keep_prob: float) -> Tensor:
    """The minimiser of the expected dropout loss from its exact second moments (all 2^(N D) masks)."""
    N, D = X.shape
    dropped = lambda m: m.view(-1, N, D) * X  # the design with mask m, (masks, N, D)
    gram = ensemble_mean(lambda m: dropped(m).transpose(1, 2) @ dropped(m), N * D, keep_prob, dtype=torch.float64)
    moment = ensemble_mean(lambda m: dropped(m).transpose(1, 2) @ y, N * D, keep_prob, dtype=torch.float64)
    return torch.linalg.solve(gram, moment)


def _objective_with(X, y, w, p, factor):
    """||y - pXw||^2 + factor ||Gamma w||^2: the closed form with a given penalty factor."""
    gamma_sq = (X.T @ X).diagonal()
    return (y - p * (X @ w)).pow(2).sum() + factor * (gamma_sq * w.pow(2)).sum()


def _gamma_unrooted(X, y, w, p):
    """The closed form with the square root in Gamma forgotten: p(1-p)||diag(X^T X) w||^2."""
    gram = (X.T @ X).diagonal()
    return (y - p * (X @ w)).pow(2).sum() + p * (1 - p) * (gram.pow(2) * w.pow(2)).sum()


def _p_not_divided_out(X, y, p):
    """The normal equations with the factor p kept: (p X^T X + p(1-p) Gamma^2) w = X^T y."""
    G = X.T @ X
    return torch.linalg.solve(p * G + p * (1 - p) * torch.diag(G.diagonal()), X.T @ y)


def _mask_law(masks: Tensor, keep_prob: float) -> tuple[Tensor, Tensor, Tensor]:
    """DO-1's two computations from masks (draws, units): [p, Binomial pmf], the frequencies, their errors.

    Returns the expected values (keep frequency p, then P(0 kept) .. P(units kept)), the measured
    ones and each entry's own standard error: from its sample sd, and for the rare counts
    (P(0 kept) = 2.6e-6 at p = 0.8, rarely seen at all) at least the sd of a Bernoulli(pmf) indicator.
    """
    draws, units = masks.shape
    count = torch.nn.functional.one_hot(masks.sum(1).long(), units + 1).to(_F64)  # (draws, units+1)
    pmf = torch.tensor(stats.binom.pmf(np.arange(units + 1), units, keep_prob))
    expected = torch.cat([torch.tensor([keep_prob], dtype=_F64), pmf])
    per_draw = torch.cat([masks.mean(1, keepdim=True), count], dim=1)
    sd = per_draw.std(0)
    sd[1:] = torch.maximum(sd[1:], (pmf * (1 - pmf)).sqrt())
    return expected, per_draw.mean(0), sd / math.sqrt(draws)


def _symbolic_value(sym: dict, X: Tensor, y: Tensor, w: Tensor) -> float:
    """SymPy's expectation of :func:`objective_symbolic` at the numbers X, y, w (20 digits) and p = 3/5."""
    s = sym["symbols"]
    N, D = X.shape
    point = {s["p"]: sp.Rational(3, 5)}
    point.update({s["X"][i, j]: sp.Float(float(X[i, j]), 20) for i in range(N) for j in range(D)})
    point.update({s["w"][j]: sp.Float(float(w[j]), 20) for j in range(D)})
    point.update({s["y"][i]: sp.Float(float(y[i]), 20) for i in range(N)})
    return float(sym["expectation"].subs(point))


def _keep_prob(keep_prob) -> float:
    """The lecture's p, checked: a keep probability in (0, 1]."""
    return check_real("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)


def _masks(draws: int, units: int, keep_prob: float, generator) -> Tensor:
    """Dropout masks (draws, units) of reglab's dropout, entries 0 or 1."""
    return dropout(torch.ones(draws, units, dtype=_F64), keep_prob, scaling="test-time", generator=generator)


def enumerated_objective(X: Tensor, y: Tensor, w: Tensor, keep_prob: float) -> Tensor:
    """``E_R ||y - (R * X) w||^2`` by summing over all ``2**(N D)`` masks (N D <= 22).

    The independent computation for the closed form of DO-5: every mask ``R`` (N, D) with its
    probability ``p^kept (1 - p)^dropped``.

    >>> X = torch.eye(2, dtype=torch.float64); y = torch.ones(2, dtype=torch.float64)
    >>> float(enumerated_objective(X, y, torch.ones(2, dtype=torch.float64), 0.5))
    1.0
    """
    check_regression(X, y, w)
    p = _keep_prob(keep_prob)
    N, D = X.shape

    def loss(masks):
        R = masks.view(-1, N, D)
        return (y - (R * X) @ w).pow(2).sum(-1)

    return ensemble_mean(loss, N * D, p, dtype=torch.float64)


def _t_quantile(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(q, df))


@deterministic
def sgd_with_dropout(X: Tensor, y: Tensor, keep_prob: float, *, scaling: str = "test-time", steps: int = 4000,
                     burn_in: int = 1000, lr: float = 0.01, batch_size: int = 4, chains: int = 20,
                     seed: int = 0) -> Tensor:
    """Independent SGD runs on ``||y - dropout(X) w||^2``; each returns its tail average.

    Every step draws a minibatch (with replacement) and a fresh mask for its inputs. The loss is
    quadratic in ``w`` and the mask independent of ``w``, so the *expected* iterate follows plain
    gradient descent on the expected objective: the average of the iterates after ``burn_in``
    steps estimates its minimiser without bias, up to a transient of order
    ``(1 - lr * lambda_min)**burn_in``.

    Returns
    -------
    Tensor of shape (chains, D)
        The average of each chain's iterates over steps ``burn_in .. steps``.
    """
    check_regression(X, y)
    p = _keep_prob(keep_prob)
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
        raise ValueError(f"sizes must have at least one hidden layer and start with x's width {x.shape[1]}, "
                         f"but got {sizes}")
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    params = [(torch.randn(b, a, generator=g, dtype=x.dtype) * weight_scale / math.sqrt(a),
               0.5 * torch.randn(b, generator=g, dtype=x.dtype)) for a, b in itertools.pairwise(sizes)]
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


def _nonlinear_mc(keep_prob: float, draws: int):
    """Mean output of the DO-3 network over ``draws`` sampled masks, and its standard errors."""
    forward, n = _gap_net(0)
    outputs = forward(_masks(draws, n, keep_prob, torch.Generator().manual_seed(3)))
    return outputs.mean(0), outputs.std(0) / math.sqrt(draws)


def weight_scaling_gap(keep_prob: float, *, seed: int = 0) -> dict:
    """A small ReLU net (4-6-6-2, dropout on both hidden layers, 3 inputs): ensemble vs scaling.

    Returns
    -------
    dict
        ``"ensemble"``: exact mean output over all ``2**12`` masks, (3, 2); ``"weight_scaled"``:
        one pass with every mask entry replaced by p, (3, 2); ``"gap"``: their largest absolute
        difference; ``"spread"``: the exact standard deviation of the sub-networks' outputs around
        the ensemble mean, (3, 2); ``"gap_over_spread"``: the largest ratio of gap to spread.
    """
    p = _keep_prob(keep_prob)
    forward, n = _gap_net(seed)
    exact = ensemble_mean(forward, n, p, dtype=torch.float64)
    second = ensemble_mean(lambda m: forward(m) ** 2, n, p, dtype=torch.float64)
    spread = (second - exact**2).clamp(min=0).sqrt()
    scaled = forward(torch.full((1, n), p, dtype=_F64))[0]
    gap = (exact - scaled).abs()
    ratio = float((gap / spread).max()) if bool((spread > 0).all()) else 0.0
    return {"ensemble": exact, "weight_scaled": scaled, "gap": float(gap.max()), "spread": spread,
            "gap_over_spread": ratio}


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
    poly = sp.Poly(sp.expand((residual.T * residual)[0]), *R)
    # A Bernoulli variable satisfies r^k = r, and independent entries make E[prod r] = prod E[r].
    expectation = sum(coef * p ** sum(1 for e in monom if e > 0) for monom, coef in poly.terms())
    gamma_sq = sp.diag(*[(X.T * X)[j, j] for j in range(D)])
    fit = y - p * X * w
    closed = (fit.T * fit)[0] + p * (1 - p) * (w.T * gamma_sq * w)[0]
    return {"expectation": expectation, "closed_form": closed, "difference": sp.expand(expectation - closed),
            "symbols": {"p": p, "X": X, "w": w, "y": y}}


def objective_steps(keep_prob: float = 0.6, *, planted=None) -> list[Check]:
    """The derivation of DO-5 one step at a time, each step checked by enumeration.

    On the 3 x 4 problem of DO-5; ``planted="variance dropped in step 4"`` makes step 4's mistake.
    """
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


def thinned_network(widths=(4, 6, 6, 6), keep_prob: float = 0.6, *, seed: int = 10):
    """A small network in torch modules, its inputs, and one dropout mask per layer whose outputs are dropped.

    Returns
    -------
    (net, x, masks)
        ``net``: ``torch.nn.Sequential`` of ``Linear``, ``ReLU`` and a fixed ``mask`` multiplication
        per layer, in the order of the lecture's forward pass (the inputs are dropped too; the last
        layer is linear). ``x``: 3 inputs (3, widths[0]). ``masks``: ``{l: r^(l)}`` for the layers
        ``l = 0 .. L-1`` whose outputs are dropped, each (3, widths[l]), drawn by
        :func:`reglab.dropout.dropout` with keep probability ``keep_prob``.
    """
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    x = torch.randn(3, widths[0], generator=g, dtype=_F64)
    masks = {l: _masks(3, w, keep_prob, g) for l, w in enumerate(widths[:-1])}

    class _Mask(torch.nn.Module):  # multiplies by a mask drawn beforehand (the same one both sides use)
        def __init__(self, mask):
            super().__init__()
            self.mask = mask

        def forward(self, h):
            return self.mask * h

    layers = []
    with torch.random.fork_rng(devices=[]):  # nn.Linear's initialisation must not move the caller's RNG
        torch.manual_seed(seed)
        for l, (a, b) in enumerate(itertools.pairwise(widths)):
            layers += [_Mask(masks[l]), torch.nn.Linear(a, b, dtype=_F64)]
            if l + 2 < len(widths):
                layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers), x, masks


def thinned_forward(params: dict, x: Tensor, masks: dict, *, z_index=lambda l: l + 1,
                    b_index=lambda l: l + 1) -> dict:
    r"""The thinned network's pre-activations, computed layer by layer from the lecture's formula.

    :math:`z^{(l+1)} = W^{(l+1)}(r^{(l)} \odot y^{(l)}) + b^{(l+1)}`, :math:`y^{(l+1)} = f(z^{(l+1)})`
    (ReLU; the last layer linear), with :math:`y^{(0)} = x`.

    Parameters
    ----------
    params : dict of {l: (W, b)}
        Weights (n_l, n_{l-1}) and bias (n_l,) of the layers l = 1 .. L, indexed by layer.
    x : Tensor of shape (b, n_0)
    masks : dict of {l: Tensor of shape (b, n_l)}
        The dropout mask of each layer l = 0 .. L-1.
    z_index, b_index : callable
        The layer index the formula gives the pre-activation computed from layer l's outputs, and
        that of the bias it adds (both l + 1; the slides' slips write l). A bias index with no
        layer (the inputs, layer 0) adds nothing.

    Returns
    -------
    dict of {index: Tensor of shape (b, n_{l+1})}
        The pre-activations, under the index the formula gives them.
    """
    y, z, L = x, {}, len(params)
    for l in range(L):
        W, _ = params[l + 1]
        b = params[b_index(l)][1] if b_index(l) in params else 0.0
        pre = (masks[l] * y) @ W.T + b
        z[z_index(l)] = pre
        y = torch.relu(pre) if l + 1 < L else pre
    return z


# The claims of the chapter's results as the appendix pages typeset them (MyST, math as $...$);
# dropout.py registers each with its checker (claim_tex=CLAIM_TEX[id]).
CLAIM_TEX = {
    "DO-1": (
        r"Dropout masks are $\mathrm{Bernoulli}(p)$ with $p$ the keep probability: the keep frequency is "
        r"$p$ and the number of kept units among 8 follows the $\mathrm{Binomial}(8, p)$ law of "
        r"independent entries."
    ),
    "DO-2": (
        r"For a linear layer the average over all $2^n$ masks equals scaling the weights by $p$."
    ),
    "DO-3": (
        r"For a ReLU network (4-6-6-2, dropout on both hidden layers, $p = 0.6$) the exact mean over all "
        r"$2^{12}$ sub-networks (confirmed by Monte Carlo) differs from weight scaling by more than 5 "
        r"times the Monte Carlo tolerance: weight scaling only approximates it."
    ),
    "DO-4": (
        r"Inverted dropout (training output $r \odot x / p$, identity at test) and test-time scaling "
        r"(training $r \odot x$, $p x$ at test) agree with their test outputs in expectation; "
        r"`torch.nn.Dropout(p)` is inverted dropout with drop probability $p$: after the same seed it "
        r"returns exactly what `Dropout(1 - p)` returns, and it keeps a fraction $1 - p$ of the entries, "
        r"each multiplied by $1/(1 - p)$."
    ),
    "DO-5": (
        r"$\mathbb{E}_R\lVert y - (R \odot X)w\rVert^2 = \lVert y - pXw\rVert^2 + p(1-p)\lVert\Gamma "
        r"w\rVert^2$ with $\Gamma = \mathrm{diag}(X^\top X)^{1/2}$: by enumeration of all masks, SymPy, "
        r"Monte Carlo and step by step."
    ),
    "DO-6": (
        r"The minimiser of the expected dropout loss is $w^* = (pX^\top X + (1-p)\Gamma^2)^{-1} X^\top y$; "
        r"$\tilde w = p w^*$ minimises $\lVert y - X\tilde w\rVert^2 + \frac{1-p}{p}\lVert\Gamma\tilde "
        r"w\rVert^2$; SGD with dropout (both scalings), tail-averaged, converges to $w^*$ and $p w^*$."
    ),
    "DO-9": (
        r"For softmax regression weight scaling gives exactly the normalised geometric mean of the $2^n$ "
        r"sub-models."
    ),
    "DO-10": (
        r"The thinned network computes $z^{(l+1)} = W^{(l+1)}(r^{(l)} \odot y^{(l)}) + b^{(l+1)}$ and "
        r"$y^{(l+1)} = f(z^{(l+1)})$: the pre-activation computed from layer $l$'s outputs belongs to "
        r"layer $l+1$ and adds that layer's bias, as torch's `Linear` modules compute it with the same "
        r"masks (a 4-6-6-6 ReLU network, every layer's inputs dropped)."
    ),
}
