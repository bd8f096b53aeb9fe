"""Self-checks of the exercises of ``book/weight_noise.ipynb``.

Chapter: *Noise on the weights*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._math import _quadratic_expectation
from .core import Answer as A
from .core import _agree, _as_array, _define, _np, _real_input

__all__: list[str] = []


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
