"""Noise on the weights: WN-1, WN-2 (and the experiment WN-3, in :mod:`reglab.experiments.weight_noise`).

The lecture perturbs the weights by e ~ N(0, eta I) with every example and looks at the
expected squared error of the perturbed model, E[(y^_e - y)^2].

- WN-1, linear model y^ = w.x: exactly E[(y^_e - y)^2] = (y^ - y)^2 + eta ||x||^2
  = (y^ - y)^2 + eta ||grad_w y^||^2. The slide writes the regulariser as eta E||grad_W y^||
  with an unsquared norm; the correct term is the squared norm (Goodfellow et al. 2016,
  sec. 7.5): ``eta`` is a variance, so the penalty must be quadratic in the gradient.
- WN-2, any smooth network: to first order in eta,
  E[(y^_e - y)^2] - (y^ - y)^2 = eta (||grad_W y^||^2 + (y^ - y) tr Hess_W y^) + O(eta^2).
  The second term has mean zero where y^ is the regression function E[y | x], which is why
  the lecture and Goodfellow et al. keep only the first.
- WN-3 (experiment): networks trained with weight noise sit in flatter minima (Hochreiter &
  Schmidhuber 1995, 1997). Registered and run in :mod:`reglab.experiments.weight_noise`; its
  flatness measures are in :mod:`reglab.curvature`.

Each checker can be asked to make a planted mistake (``planted=name``); the wrong computations
stand beside the right one in ``_penalty`` (WN-1) and ``_prediction`` (WN-2).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from .._lazy import lazy_module
from .._validation import check_int, check_real, check_regression, check_tensor
from ..noise import perturbed_outputs
from ..symbolic import gaussian_expectation, rational_matrix
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

sp = lazy_module("sympy")

__all__ = [
    "check_first_order",
    "check_first_order_differences",
    "check_linear_exact",
    "check_linear_monte_carlo",
    "excess_risk_monte_carlo",
    "first_order_terms",
    "hutchinson_trace",
    "linear_weight_noise_risk",
    "sympy_linear_weight_noise_risk",
    "tiny_network",
]

CHAPTER = "weight_noise"


# ----------------------------------------------------------------------------- WN-1
def linear_weight_noise_risk(X: Tensor, y: Tensor, w: Tensor, eta: float, *, squared: bool = True) -> Tensor:
    """Expected squared error of y^ = (w + e).x with e ~ N(0, eta I), averaged over the data.

    Parameters
    ----------
    X : Tensor of shape (N, d)
    y : Tensor of shape (N,)
    w : Tensor of shape (d,)
    eta : float >= 0
        Variance of each weight's noise.
    squared : bool
        ``True`` gives the correct ``mean (Xw - y)^2 + eta * mean ||x||^2``; ``False`` gives
        the slide's version with an unsquared norm, ``eta * mean ||x||``, which is wrong
        (kept to show that it is).

    Returns
    -------
    Tensor (scalar)

    Notes
    -----
    (w + e).x - y = r + e.x with r = w.x - y; E[e.x] = 0 and E[(e.x)^2] = eta ||x||^2.
    Since grad_w y^ = x, the penalty is eta E||grad_w y^||^2 (Goodfellow et al. 2016, sec. 7.5):
    it does not depend on w, so for a linear model weight noise leaves the minimiser alone.

    Examples
    --------
    >>> X = torch.tensor([[3.0, 4.0]], dtype=torch.float64); y = torch.zeros(1, dtype=torch.float64)
    >>> linear_weight_noise_risk(X, y, torch.zeros(2, dtype=torch.float64), 0.1).item()
    2.5
    """
    check_regression(X, y, w)
    eta = check_real("eta", eta, low=0.0)
    norms = X.pow(2).sum(-1) if squared else X.norm(dim=-1)
    return (X @ w - y).pow(2).mean() + eta * norms.mean()


def sympy_linear_weight_noise_risk(X, y, w):
    """Exact E over e ~ N(0, eta I) of mean_n ((w + e).x_n - y_n)^2 by SymPy, as a polynomial in eta."""
    Xs = rational_matrix(X)
    ys = rational_matrix(np.asarray(y).reshape(-1, 1))
    ws = rational_matrix(np.asarray(w).reshape(-1, 1))
    d = Xs.shape[1]
    e = sp.Matrix(sp.symbols(f"e0:{d}"))
    r = Xs * (ws + e) - ys
    loss = sp.expand((r.T * r)[0, 0] / Xs.shape[0])
    s = sp.Symbol("s", positive=True)  # standard deviation; eta = s^2
    eta = sp.Symbol("eta", positive=True)
    return sp.expand(gaussian_expectation(sp.Poly(loss, *list(e)), s).subs(s, sp.sqrt(eta))), eta


def _linear_problem():
    X = torch.tensor([[1.5, -2.0, 0.5], [0.25, 1.0, -1.0], [2.0, 0.5, 1.5]], dtype=torch.float64)
    y = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    w = torch.tensor([0.5, 0.25, -0.75], dtype=torch.float64)
    return X, y, w


def _penalty(grad_sq: float, grad_norm: float, eta: float, planted=None) -> float:
    """eta E||grad_W y^||^2 (``eta`` a variance), or a planted mistake's version of it."""
    return choose(planted, eta * grad_sq, {
        "unsquared norm (the slide)": eta * grad_norm,
        "eta read as a standard deviation": eta**2 * grad_sq,
    })


def check_linear_exact(etas=(0.1, 0.5), *, planted=None) -> Check:
    """WN-1: J + eta mean ||grad_w y^||^2 (gradient by autograd) vs SymPy's exact expectation."""
    X, y, w = _linear_problem()
    wg = w.clone().requires_grad_(True)
    grads = [torch.autograd.grad(X[n] @ wg, wg)[0] for n in range(X.shape[0])]
    grad_sq = torch.stack([g.pow(2).sum() for g in grads]).mean().item()
    grad_norm = torch.stack([g.norm() for g in grads]).mean().item()
    J = (X @ w - y).pow(2).mean().item()
    expr, eta = sympy_linear_weight_noise_risk(X.numpy(), y.numpy(), w.numpy())
    analytic = [J + _penalty(grad_sq, grad_norm, e, planted) for e in etas]
    empirical = [float(expr.subs(eta, sp.Rational(str(e)))) for e in etas]
    return compare(
        "WN-1",
        np.array(analytic),
        np.array(empirical),
        atol=1e-12,
        rtol=1e-12,
        analytic_label="J + eta E||grad_w y^||^2 (autograd)",
        empirical_label="SymPy E over weight noise",
        note=f"linear model, N = 3, d = 3, eta = {', '.join(map(str, etas))}",
    )


@derivation(
    "WN-1",
    claim_tex=(
        r"Linear model with weights perturbed by $\mathcal{N}(0, \eta I)$: $\mathbb{E}[(\hat y_\epsilon - "
        r"y)^2] = (\hat y - y)^2 + \eta\lVert x\rVert^2 = J + \eta\lVert\nabla_W \hat y\rVert^2$ exactly, "
        r"with the squared norm (SymPy's exact expectation and a Monte Carlo mean; the slide's unsquared "
        r"norm is rejected)."
    ),
    chapter=CHAPTER,
    claim="Linear model with weights perturbed by N(0, eta I): E[(y^_e - y)^2] = (y^ - y)^2 + eta ||x||^2 "
    "= J + eta ||grad_W y^||^2 exactly, with the squared norm (SymPy's exact expectation and a Monte "
    "Carlo mean; the slide's unsquared norm is rejected).",
    label="SymPy, exact",
    planted=(
        Planted(
            "unsquared norm (the slide)",
            "the regulariser eta E||grad_W y^|| with an unsquared norm",
            slip='weight-noise slides (perturbed weights eps_W ~ N(0, eta I)), bullet "Observation: For '
            'small eta, minimization of J with added noise, is equivalent to minimization of J with an '
            'extra regularization term eta E_p(x,y)[||grad_W y^||]"',
            correct="the term is eta E_p(x,y)[||grad_W y^||^2], with the squared norm (eta is a variance); "
            "for a linear model it is exact (Goodfellow et al. 2016, sec. 7.5)",
        ),
    ),
)
def _wn1(*, planted=None) -> Check:
    return check_linear_exact(planted=planted)


def check_linear_monte_carlo(
    *, eta: float = 0.1, n: int = 8, d: int = 5, num_draws: int = 100000, seed: int = 0, planted=None
) -> Check:
    """WN-1 by simulation: mean squared error under weight noise vs the closed form.

    ``planted="unsquared norm (the slide)"`` compares with the slide's unsquared regulariser
    (and fails); ``planted="eta read as a standard deviation"`` with eta^2 E||x||^2. Compared
    with :func:`~reglab.derivations.compare.compare_mc` at 99.9 % confidence.
    """
    eta = check_real("eta", eta, low=0.0)
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    num_draws = check_int("num_draws", num_draws, low=2)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    X = 1.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w + torch.randn(n, generator=g, dtype=torch.float64)
    e = math.sqrt(eta) * torch.randn(num_draws, d, generator=g, dtype=torch.float64)
    losses = ((w + e) @ X.T - y).pow(2).mean(-1)  # one draw per row, averaged over the data
    J = (X @ w - y).pow(2).mean().item()
    closed = J + _penalty(X.pow(2).sum(-1).mean().item(), X.norm(dim=-1).mean().item(), eta, planted)
    label = choose(planted, "J + eta E||grad_w y^||^2", {
        "unsquared norm (the slide)": "J + eta E||grad_w y^|| (slide)",
        "eta read as a standard deviation": "J + eta^2 E||grad_w y^||^2",
    })
    return compare_mc(
        "WN-1",
        closed,
        losses.mean(),
        losses.std().item() / math.sqrt(num_draws),
        analytic_label=label,
        empirical_label=f"mean of {num_draws} weight draws",
        digits=5,
        note=f"eta = {eta}, E||x||^2 = {X.pow(2).sum(-1).mean().item():.4g}, "
        f"E||x|| = {X.norm(dim=-1).mean().item():.4g}",
    )


@subcheck(
    "WN-1",
    label="Monte Carlo",
    planted=Planted("eta read as a standard deviation", "eta taken as the noise's standard deviation, so the "
                    "penalty is eta^2 E||grad_W y^||^2", kind="student"),
)
def _wn1_mc(*, planted=None) -> Check:
    return check_linear_monte_carlo(planted=planted)


# ----------------------------------------------------------------------------- WN-2
def tiny_network(*, seed: int = 0, hidden: int = 6, n: int = 4) -> tuple[nn.Module, Tensor, Tensor]:
    """A small tanh network 3 -> hidden -> 1 (float64) with standard-normal parameters, and n points.

    Returns
    -------
    (model, X of shape (n, 3), y of shape (n,))
    """
    seed = check_int("seed", seed, low=0)
    hidden = check_int("hidden", hidden, low=1)
    n = check_int("n", n, low=1)
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 1)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    X = torch.randn(n, 3, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    return model, X, y


def _flat(model: nn.Module):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(t: Tensor, x: Tensor) -> Tensor:
        params, i = {}, 0
        for name, shape in zip(names, shapes):
            k = math.prod(shape)
            params[name] = t[i : i + k].reshape(shape)
            i += k
        return torch.func.functional_call(model, params, (x,)).reshape(x.shape[0])

    return theta, f


def _check_scalar_model(model, X, y):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    check_regression(X, y)


def first_order_terms(model: nn.Module, X: Tensor, y: Tensor) -> dict:
    """The pieces of WN-2 for a scalar-output model, by automatic differentiation.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) to (n, 1) or (n,); every parameter is perturbed.
    X : Tensor of shape (n, d)
    y : Tensor of shape (n,)

    Returns
    -------
    dict of float
        ``loss`` = mean (y^ - y)^2, ``grad_sq`` = mean ||grad_W y^||^2, ``residual_trace`` =
        mean (y^ - y) tr Hess_W y^ (exact Hessian: for small models), and ``prediction`` =
        grad_sq + residual_trace, the coefficient of eta in E[(y^_e - y)^2] - (y^ - y)^2.

    Notes
    -----
    Second-order Taylor expansion of (y^(W + e) - y)^2 in e, averaged with E[e] = 0 and
    E[e e^T] = eta I (Bishop 1995; Goodfellow et al. 2016, sec. 7.5).
    """
    _check_scalar_model(model, X, y)
    theta, f = _flat(model)
    r = f(theta, X) - y
    J = torch.func.jacrev(f)(theta, X)  # (n, P)
    H = torch.func.jacrev(torch.func.jacrev(f))(theta, X)  # (n, P, P), reverse over reverse
    trace = torch.diagonal(H, dim1=-2, dim2=-1).sum(-1)
    grad_sq = J.pow(2).sum(-1).mean().item()
    residual_trace = (r * trace).mean().item()
    return {
        "loss": r.pow(2).mean().item(),
        "grad_sq": grad_sq,
        "residual_trace": residual_trace,
        "prediction": grad_sq + residual_trace,
        "trace": trace.detach(),
    }


def hutchinson_trace(model: nn.Module, x: Tensor, *, num_probes: int = 100, generator=None) -> Tensor:
    """Hutchinson estimate of tr Hess_W y^(x) for each row of x: mean of v^T H v, v Rademacher.

    Parameters
    ----------
    model : nn.Module
        Scalar output.
    x : Tensor of shape (n, d)
    num_probes : int
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (n,)
        Unbiased; uses only Hessian-vector products, so it scales to large networks.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    check_tensor("x", x, ndim=2, floating=True)
    num_probes = check_int("num_probes", num_probes, low=1)
    theta, f = _flat(model)
    v = (torch.randint(0, 2, (num_probes, theta.numel()), generator=generator) * 2 - 1).to(theta.dtype)

    def vhv(t, probe):
        # H_n v for every row n as the Jacobian of (grad_W y^_n . v), then v^T H_n v.
        hvp = torch.func.jacrev(lambda s: torch.func.jacrev(f)(s, x) @ probe)(t)  # (n, P)
        return hvp @ probe

    return torch.vmap(vhv, in_dims=(None, 0))(theta, v).mean(0)


def excess_risk_monte_carlo(
    model: nn.Module, X: Tensor, y: Tensor, eta: float, *, num_pairs: int = 100000, seed: int = 0
) -> tuple[float, float]:
    """Monte Carlo estimate of (E[(y^_e - y)^2] - (y^ - y)^2) / eta with antithetic pairs.

    Parameters
    ----------
    model : nn.Module
    X : Tensor of shape (n, d)
    y : Tensor of shape (n,)
    eta : float > 0
    num_pairs : int
        Pairs (+e, -e) of perturbations of all parameters.
    seed : int
        The same seed gives the same standard-normal draws at every eta (common random
        numbers), so estimates at different eta differ by the expansion's remainder, not by noise.

    Returns
    -------
    (mean, standard_error) : tuple of float
    """
    _check_scalar_model(model, X, y)
    eta = check_real("eta", eta, low=0.0, low_open=True)
    num_pairs = check_int("num_pairs", num_pairs, low=2)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    with torch.no_grad():
        base = (model(X).reshape(-1) - y).pow(2).mean()
        out = perturbed_outputs(model, X, eta, 2 * num_pairs, antithetic=True, generator=g)
    out = out.reshape(2 * num_pairs, -1)
    sq = (out - y).pow(2).mean(-1)
    q = ((sq[:num_pairs] + sq[num_pairs:]) / 2 - base) / eta
    return q.mean().item(), q.std().item() / math.sqrt(num_pairs)


def _prediction(terms: dict, planted=None) -> float:
    """The coefficient of eta, or a planted mistake's version of it."""
    return choose(planted, terms["prediction"], {
        "tr(Hess) term dropped": terms["grad_sq"],
        "trace term halved": terms["grad_sq"] + terms["residual_trace"] / 2,
    })


def check_first_order(*, eta: float = 1e-4, num_pairs: int = 100000, seed: int = 0, planted=None) -> Check:
    """WN-2: first-order prediction (autograd gradient and exact Hessian trace) vs Monte Carlo.

    At eta = 1e-4 the O(eta) remainder is far below the Monte Carlo error; compared with
    :func:`~reglab.derivations.compare.compare_mc` at 99.9 % confidence.
    """
    model, X, y = tiny_network()
    terms = first_order_terms(model, X, y)
    mean, se = excess_risk_monte_carlo(model, X, y, eta, num_pairs=num_pairs, seed=seed)
    return compare_mc(
        "WN-2",
        _prediction(terms, planted),
        mean,
        se,
        analytic_label="E||grad y^||^2 + E[(y^-y) tr H]",
        empirical_label=f"MC, {num_pairs} antithetic pairs",
        digits=5,
        note=f"(E[(y^_e-y)^2] - (y^-y)^2)/eta; tanh network 3-6-1, 31 parameters, 4 points, eta = {eta:g}",
    )


@derivation(
    "WN-2",
    claim_tex=(
        r"Nonlinear network: to first order in $\eta$, $\mathbb{E}[(\hat y_\epsilon - y)^2] - (\hat y - "
        r"y)^2 = \eta\bigl(\lVert\nabla_W \hat y\rVert^2 + (\hat y - y)\operatorname{tr}\nabla_W^2 \hat "
        r"y\bigr)$, the trace term included (Monte Carlo at small $\eta$ and second differences, on a "
        r"small tanh network)."
    ),
    chapter=CHAPTER,
    claim="Nonlinear network: to first order in eta, E[(y^_e - y)^2] - (y^ - y)^2 = "
    "eta (||grad_W y^||^2 + (y^ - y) tr Hess_W y^), the trace term included (Monte Carlo at small eta "
    "and second differences, on a small tanh network).",
    label="Monte Carlo, antithetic",
    planted=Planted("tr(Hess) term dropped", "only eta E||grad_W y^||^2 (the form the lecture keeps, exact "
                    "on average only where the model is the regression function), without the residual "
                    "times the Hessian trace", kind="student"),
)
def _wn2(*, planted=None) -> Check:
    return check_first_order(planted=planted)


def check_first_order_differences(*, h: float = 1e-3, planted=None) -> Check:
    """WN-2 without sampling: the coefficient of eta is half the Laplacian of the mean squared error.

    E over e ~ N(0, eta I) of a smooth function is its value plus (eta/2) times its Laplacian,
    to first order; the Laplacian is the sum of central second differences along every
    parameter (step ``h``), computed from network evaluations only (no autograd).
    """
    h = check_real("h", h, low=0.0, low_open=True)
    model, X, y = tiny_network()
    terms = first_order_terms(model, X, y)
    theta, f = _flat(model)

    def mse(t):
        return (f(t, X) - y).pow(2).mean().item()

    base, total = mse(theta), 0.0
    with torch.no_grad():
        for i in range(theta.numel()):
            step = torch.zeros_like(theta)
            step[i] = h
            total += (mse(theta + step) - 2 * base + mse(theta - step)) / h**2
    return compare(
        "WN-2",
        _prediction(terms, planted),
        total / 2,
        rtol=1e-5,
        analytic_label="E||grad y^||^2 + E[(y^-y) tr H]",
        empirical_label="half the Laplacian (differences)",
        digits=6,
        note=f"central second differences along each of the {theta.numel()} parameters, h = {h:g}; "
        "tolerance: their O(h^2) error and rounding",
    )


@subcheck(
    "WN-2",
    label="second differences",
    planted=Planted("trace term halved", "(y^ - y) tr Hess / 2: the 1/2 of the Taylor term kept, forgetting "
                    "that the cross term of the square doubles it", kind="student"),
)
def _wn2_fd(*, planted=None) -> Check:
    return check_first_order_differences(planted=planted)
