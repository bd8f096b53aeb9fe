"""The independent computations behind the checks of :mod:`reglab.derivations.dropout`.

Exact enumeration over all dropout masks, SGD with dropout, small random ReLU networks whose
hidden units are masked, and SymPy. Part of :mod:`reglab.derivations.dropout`, which imports
every public name of this module (a chapter imports that one module); kept apart so that each
file stays readable.
"""
from __future__ import annotations

import itertools
import math

import sympy as sp
import torch
from torch import Tensor

from .._validation import check_int, check_real, check_regression, check_tensor
from ..dropout import dropout, ensemble_mean

__all__ = ["enumerated_objective", "masked_relu_net", "objective_symbolic", "sgd_with_dropout", "weight_scaling_gap"]

_F64 = torch.float64


def _problem(N: int, D: int, seed: int) -> tuple[Tensor, Tensor]:
    """A regression problem X (N, D), y = X w + noise of the checks, drawn with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g, dtype=_F64)
    y = X @ torch.randn(D, generator=g, dtype=_F64) + 0.3 * torch.randn(N, generator=g, dtype=_F64)
    return X, y


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
