"""Self-checks of the exercises of ``book/weight_noise.ipynb``.

Chapter: *Noise on the weights*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._judging import _agree, _as_array, _NotYet, _np, _real_input
from ._math import _quadratic_expectation
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []

_Z = 4.5  # standard errors allowed for a simulated mean or variance (two of them: about 1e-5 false alarms)


@_define("ex-weight_noise-1", chapter="weight_noise",
         inputs=(I("X_lin", "X", "(8, 5) inputs of the linear example"),
                 I("y_lin", "y", "(8,) its targets"),
                 I("w_lin", "w", "(5,) its weights"),
                 I("b", "0.7", "the bias b (any number)"),
                 I("noise_var", "0.2", "eta, the variance of the noise on w and on b (any eta > 0)")),
         answers=(A("formula", "your exact expected squared error, averaged over the n points of X_lin, with w and b "
                    "perturbed by independent N(0, eta) noise (a number)", "treat the bias as the weight of a "
                    "constant input", "rtol 1e-9"),),
         reference="the expectation over the d + 1 perturbations by Gauss-Hermite quadrature (exact for this quadratic)")
def _weight_noise_1(formula, *, X_lin, y_lin, w_lin, b, noise_var):
    X, y, w = _np("X_lin", X_lin, ndim=2), _np("y_lin", y_lin).reshape(-1), _np("w_lin", w_lin).reshape(-1)
    if X.shape != (len(y), len(w)):
        raise ValueError(f"X_lin must have shape (len(y_lin), len(w_lin)) = {(len(y), len(w))}, but got {X.shape}")
    b, eta = _real_input("b", b), _real_input("noise_var", noise_var)
    if eta <= 0:
        raise _NotYet(f"noise_var must be > 0, but it is {eta:g}")
    d = len(w)
    value = _quadratic_expectation(lambda e: float(np.mean((X @ (w + e[:d]) + b + e[d] - y) ** 2)), d + 1, math.sqrt(eta))
    return {"formula": _agree(formula, value, rtol=1e-9)}


def _tanh_net(net):
    layers = list(net) if isinstance(net, torch.nn.Sequential) else []
    if (len(layers) != 3 or not isinstance(layers[0], torch.nn.Linear) or not isinstance(layers[1], torch.nn.Tanh)
            or not isinstance(layers[2], torch.nn.Linear) or layers[2].out_features != 1):
        raise TypeError("tiny_net must be the chapter's tiny network, nn.Sequential(Linear(d, h), Tanh, Linear(h, 1))")
    return [t.detach().double().numpy() for t in (layers[0].weight, layers[0].bias, layers[2].weight[0], layers[2].bias)]


@_define("ex-weight_noise-2", chapter="weight_noise",
         inputs=(I("tiny_net", "net", "the tiny network: Linear(3, 6), Tanh, Linear(6, 1)"),
                 I("X_many", "...", "(m, 3) the inputs at which you take tr H (yours: many of them)")),
         answers=(A("trace", "(m,) the trace of the Hessian of y^(x) with respect to all weights and biases, at each "
                    "row of X_many", "differentiate twice with respect to every parameter (torch.func.hessian) and sum "
                    "the diagonal", "rtol 1e-9"),),
         reference="the closed form for y = W2 tanh(W1 x + b1) + b2: tr H = sum_j W2_j tanh''(z_j) (1 + ||x||^2)")
def _weight_noise_2(trace, *, tiny_net, X_many):
    W1, b1, W2, _ = _tanh_net(tiny_net)
    x = _np("X_many", X_many, ndim=2)
    if x.shape[1] != W1.shape[1]:
        raise ValueError(f"X_many must have {W1.shape[1]} columns (the network's inputs), but has {x.shape[1]}")
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


def _same_distribution(got, ref) -> bool:
    """Mean and variance of two samples of the minibatch loss equal within _Z standard errors each."""
    def moments(s):
        m, v = s.mean(), s.var()
        return m, v, v / len(s), max(((s - m) ** 4).mean() - v**2, 0.0) / len(s)

    (m1, v1, sm1, sv1), (m2, v2, sm2, sv2) = moments(got), moments(ref)
    return abs(m1 - m2) <= _Z * math.sqrt(sm1 + sm2) and abs(v1 - v2) <= _Z * math.sqrt(sv1 + sv2)


@_define("ex-weight_noise-3", chapter="weight_noise",
         inputs=(I("tiny_net", "net", "the tiny network: Linear(3, 6), Tanh, Linear(6, 1)"),
                 I("x_batch", "X_tiny", "(4, 3) the minibatch: the tiny network's four inputs"),
                 I("y_batch", "y_tiny", "(4,) their targets"),
                 I("eta_ex", "0.05", "eta, the variance of the weight noise (any eta > 0)")),
         answers=(A("shared", "(draws, 4) outputs at the four points, one weight perturbation per row (per minibatch)",
                    "one call of perturbed_outputs on all four points draws one perturbation for the minibatch",
                    "the minibatch loss's mean and variance within 4.5 standard errors"),
                  A("per_example", "(draws, 4) outputs with an independent perturbation for every point",
                    "draw each point's perturbations separately", "as for shared")),
         reference="both schemes simulated in NumPy (100,000 perturbations of the tiny network, seeded): the minibatch "
                   "loss's mean and variance")
def _weight_noise_3(shared, per_example, *, tiny_net, x_batch, y_batch, eta_ex):
    params, x, y = _tanh_net(tiny_net), _np("x_batch", x_batch, ndim=2), _np("y_batch", y_batch).reshape(-1)
    if x.shape != (len(y), params[0].shape[1]):
        raise ValueError(f"x_batch must have shape {(len(y), params[0].shape[1])} (one row per target), but got {x.shape}")
    eta = _real_input("eta_ex", eta_ex)
    if eta <= 0:
        raise _NotYet(f"eta_ex must be > 0, but it is {eta:g}")
    rng = np.random.default_rng(20240607)
    verdict = {}
    for name, value, is_shared in (("shared", shared, True), ("per_example", per_example, False)):
        out = _as_array(value)
        if out is None or out.ndim != 2 or out.shape[1] != len(y) or out.shape[0] < 1000 or not np.isfinite(out).all():
            verdict[name] = (False, f"it should have shape (draws, {len(y)}) with at least 1000 draws")
            continue
        ref = ((_noisy_outputs(params, x, eta, 100_000, is_shared, rng) - y) ** 2).mean(-1)
        verdict[name] = (_same_distribution(((out - y) ** 2).mean(-1), ref), "")
    return verdict
