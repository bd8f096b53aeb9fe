"""Dataset augmentation and input noise: AUG-1, AUG-2, AUG-3.

AUG-2 (Bishop 1995): for linear regression with inputs corrupted by independent Gaussian
noise of variance sigma^2,

    E_E ||y - (X + E) w||^2 = ||y - X w||^2 + N sigma^2 ||w||^2,

so training on noisy inputs minimises, in expectation, a ridge objective with penalty weight
N sigma^2 (sum-of-squares loss over N examples), and the minimisers coincide:
w = (X^T X + N sigma^2 I)^-1 X^T y.

The closed forms here are checked against (a) SymPy, which expands the squared norm as a
polynomial in the noise entries and takes the expectation monomial by monomial from the
Gaussian moments (:mod:`reglab.symbolic`), and (b) Monte Carlo over noise draws, within the
mean's own standard error. AUG-1 and AUG-3 are experiments, registered and run in
:mod:`reglab.experiments.augmentation`.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
from torch import Tensor

from .._lazy import lazy_module
from .._validation import check_int, check_real, check_regression
from ..symbolic import gaussian_expectation, rational_matrix
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

sp = lazy_module("sympy")

__all__ = [
    "MC_DRAWS",
    "Z_999",
    "check_input_noise_exact",
    "check_input_noise_monte_carlo",
    "input_noise_objective",
    "input_noise_ridge_solution",
    "noisy_copies_solution",
    "sympy_input_noise_expectation",
]

CHAPTER = "augmentation"
#: Two-sided 99.9 % normal quantile: Monte Carlo checks allow this many standard errors.
Z_999 = 3.2905
#: Noise draws of the Monte Carlo check of AUG-2.
MC_DRAWS = 20_000


def input_noise_objective(X: Tensor, y: Tensor, w: Tensor, sigma: float) -> Tensor:
    """Right-hand side of AUG-2: ``||y - X w||^2 + N sigma^2 ||w||^2``.

    Parameters
    ----------
    X : Tensor of shape (N, d)
    y : Tensor of shape (N,)
    w : Tensor of shape (d,)
    sigma : float >= 0
        Standard deviation of the input noise.

    Returns
    -------
    Tensor (scalar)
        The expected sum of squared errors when every entry of X is corrupted by N(0, sigma^2).

    Notes
    -----
    Bishop (1995), "Training with noise is equivalent to Tikhonov regularization"; Goodfellow
    et al. (2016), sec. 7.5. The cross term vanishes because the noise has mean zero, and
    E ||E w||^2 = sum_n E (e_n . w)^2 = N sigma^2 ||w||^2.

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64); y = torch.zeros(2, dtype=torch.float64)
    >>> input_noise_objective(X, y, torch.ones(2, dtype=torch.float64), 0.5).item()
    3.0
    """
    check_regression(X, y, w)
    sigma = check_real("sigma", sigma, low=0.0)
    return (y - X @ w).pow(2).sum() + X.shape[0] * sigma**2 * w.pow(2).sum()


def input_noise_ridge_solution(X: Tensor, y: Tensor, sigma: float) -> Tensor:
    """Minimiser of the expected noisy objective: ``(X^T X + N sigma^2 I)^-1 X^T y``.

    Parameters
    ----------
    X : Tensor of shape (N, d)
    y : Tensor of shape (N,)
    sigma : float >= 0

    Returns
    -------
    Tensor of shape (d,)

    Notes
    -----
    Ridge regression with penalty weight alpha = N sigma^2 on the sum of squares (or sigma^2
    on the mean squared error).

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64); y = torch.ones(2, dtype=torch.float64)
    >>> input_noise_ridge_solution(X, y, 0.5)
    tensor([0.6667, 0.6667], dtype=torch.float64)
    """
    check_regression(X, y)
    sigma = check_real("sigma", sigma, low=0.0)
    d = X.shape[1]
    A = X.T @ X + X.shape[0] * sigma**2 * torch.eye(d, dtype=X.dtype)
    return torch.linalg.solve(A, X.T @ y)


def sympy_input_noise_expectation(X, y, w=None):
    """Symbolic E ||y - (X + E) w||^2 over independent N(0, sigma^2) entries of E.

    Parameters
    ----------
    X : array of shape (N, d), y : array of shape (N,)
        Converted to exact rationals.
    w : array of shape (d,), optional
        If omitted, w is kept as symbols ``w0, ..., w{d-1}``.

    Returns
    -------
    (expr, sigma, w_symbols)
        ``expr`` is a polynomial in ``sigma`` (and the w symbols).
    """
    Xs, ys = rational_matrix(X), rational_matrix(np.asarray(y).reshape(-1, 1))
    N, d = Xs.shape
    sigma = sp.Symbol("sigma", positive=True)
    E = sp.Matrix(N, d, lambda i, j: sp.Symbol(f"e_{i}_{j}"))
    if w is None:
        w_sym = sp.Matrix(sp.symbols(f"w0:{d}"))
    else:
        w_sym = rational_matrix(np.asarray(w).reshape(-1, 1))
    r = ys - (Xs + E) * w_sym
    loss = sp.expand((r.T * r)[0, 0])
    expr = gaussian_expectation(sp.Poly(loss, *list(E)), sigma)
    return expr, sigma, list(w_sym) if w is None else []


def _small_problem():
    X = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.25]], dtype=torch.float64)
    y = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    w = torch.tensor([0.75, -1.25], dtype=torch.float64)
    return X, y, w


def _penalty_weight(N: int, sigma: float) -> float:
    """The penalty weight on ||w||^2 of the sum of squared errors: N sigma^2."""
    return N * sigma**2


@derivation(
    "AUG-2",
    claim_tex=(
        r"Gaussian input noise of variance $\sigma^2$ on linear regression adds exactly $N\sigma^2\lVert "
        r"w\rVert^2$ to the expected sum of squared errors (ridge), and the minimisers coincide (Bishop "
        r"1995): SymPy's exact expectation and its minimiser, and a Monte Carlo mean over noise draws."
    ),
    chapter=CHAPTER,
    claim="Gaussian input noise of variance sigma^2 on linear regression adds exactly N sigma^2 ||w||^2 "
    "to the expected sum of squared errors (ridge), and the minimisers coincide (Bishop 1995): "
    "SymPy's exact expectation and its minimiser, and a Monte Carlo mean over noise draws.",
    label="SymPy, exact",
    planted=Planted("penalty sigma^2 ||w||^2 (N dropped)", "the penalty written sigma^2 ||w||^2, without the "
                    "factor N of the sum over examples (the mean-squared-error weight used with a sum of "
                    "squares), in the objective and the minimiser", kind="student"),
)
def check_input_noise_exact(sigmas=(0.5, 1.5), *, planted=None) -> Check:
    """AUG-2, exactly: closed form vs SymPy expectation, objective values and minimisers.

    ``planted`` (a name of the derivation's planted errors) makes the closed form the mistake.
    """
    penalty_weight = choose(planted, _penalty_weight,
                            {"penalty sigma^2 ||w||^2 (N dropped)": lambda N, sigma: sigma**2})
    X, y, w = _small_problem()
    N = X.shape[0]
    expr, sigma, _ = sympy_input_noise_expectation(X.numpy(), y.numpy(), w.numpy())
    expr_w, sigma_w, w_sym = sympy_input_noise_expectation(X.numpy(), y.numpy())
    analytic, empirical = [], []
    for s in sigmas:
        s_exact = sp.Rational(Fraction(s).limit_denominator(1000))
        # The closed form with penalty weight alpha, as a sum of squares: alpha = N sigma^2.
        alpha = penalty_weight(N, s)
        analytic.append(((y - X @ w).pow(2).sum() + alpha * w.pow(2).sum()).item())
        empirical.append(float(expr.subs(sigma, s_exact)))
        # The minimiser of the symbolic expected objective: solve grad = 0 exactly.
        at_s = expr_w.subs(sigma_w, s_exact)
        sol = sp.solve([sp.diff(at_s, v) for v in w_sym], w_sym, dict=True)[0]
        A = X.T @ X + alpha * torch.eye(X.shape[1], dtype=X.dtype)
        analytic.extend(torch.linalg.solve(A, X.T @ y).tolist())
        empirical.extend(float(sol[v]) for v in w_sym)
    return compare(
        "AUG-2",
        np.array(analytic),
        np.array(empirical),
        atol=1e-12,
        rtol=1e-12,
        analytic_label="||y-Xw||^2 + N s^2||w||^2, ridge minimiser",
        empirical_label="SymPy E over noise, its minimiser",
        note=f"sigma = {', '.join(map(str, sigmas))}: [objective, w1, w2] for each; N = 3, d = 2",
    )


@subcheck("AUG-2", label="Monte Carlo", planted=Planted(
    "penalty N sigma ||w||^2 (sigma for sigma^2)", "the noise's standard deviation used where its variance "
    "belongs: N sigma ||w||^2", kind="student"))
def check_input_noise_monte_carlo(
    *, n: int = 20, d: int = 3, sigma: float = 0.4, num_draws: int = MC_DRAWS, seed: int = 0, planted=None
) -> Check:
    """AUG-2 by simulation: mean of ||y - (X + E) w||^2 over noise draws vs the closed form.

    Compared with :func:`~reglab.derivations.compare.compare_mc` (the mean's own standard error,
    99.9 % confidence). ``planted`` makes the closed form a planted mistake.
    """
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    sigma = check_real("sigma", sigma, low=0.0)
    num_draws = check_int("num_draws", num_draws, low=2)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    w_eval = w + 0.3 * torch.randn(d, generator=g, dtype=torch.float64)
    E = sigma * torch.randn(num_draws, n, d, generator=g, dtype=torch.float64)
    losses = (y - (X + E) @ w_eval).pow(2).sum(-1)
    penalty_weight = choose(planted, _penalty_weight,
                            {"penalty N sigma ||w||^2 (sigma for sigma^2)": lambda N, sigma: N * sigma})
    closed = (y - X @ w_eval).pow(2).sum() + penalty_weight(n, sigma) * w_eval.pow(2).sum()
    return compare_mc(
        "AUG-2",
        closed,
        losses.mean(),
        losses.std().item() / math.sqrt(num_draws),
        analytic_label="||y-Xw||^2 + N s^2||w||^2",
        empirical_label=f"mean of {num_draws} noise draws",
        digits=5,
        note=f"N = {n}, sigma = {sigma}",
    )


def noisy_copies_solution(X: Tensor, y: Tensor, sigma: float, copies: int, *, generator=None) -> Tensor:
    """Least squares on ``copies`` noisy copies of the data set (augmentation by input noise).

    Parameters
    ----------
    X : Tensor of shape (N, d)
    y : Tensor of shape (N,)
    sigma : float >= 0
    copies : int >= 1
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (d,)
        Converges to :func:`input_noise_ridge_solution` as ``copies`` grows.
    """
    check_regression(X, y)
    sigma = check_real("sigma", sigma, low=0.0)
    copies = check_int("copies", copies, low=1)
    Xa = X.unsqueeze(0) + sigma * torch.randn(copies, *X.shape, generator=generator, dtype=X.dtype)
    ya = y.expand(copies, -1)
    return torch.linalg.lstsq(Xa.reshape(-1, X.shape[1]), ya.reshape(-1, 1)).solution.reshape(-1)

