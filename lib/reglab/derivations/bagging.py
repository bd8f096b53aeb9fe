"""Bagging: the error of an averaged ensemble and the bootstrap (chapter *Bagging*).

The results of the chapter:

- BAG-1: ``E[((1/k) sum_i eps_i)^2] = v/k + (k-1)c/k``, with the limits ``c = v`` and ``c = 0``.
- BAG-2: a bootstrap sample holds on average ``1 - (1 - 1/n)^n -> 1 - 1/e`` of the distinct examples.
- BAG-3: the averaged prediction is never worse (squared error) than the average member.
- BAG-4 (experiment): bagged MLPs on MNIST-1D; the measured v and c predict the ensemble's error.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import torch

from .._validation import check_int, check_real
from ..ensembles import bootstrap_indices, out_of_bag_mask
from .core import Check, derivation, experiment

__all__ = [
    "ensemble_mse",
    "correlated_errors",
    "symbolic_ensemble_mse",
    "bootstrap_fraction",
    "check_bag1",
    "check_bag2",
    "check_bag3",
]

CHAPTER = "bagging"
#: Width of the Monte Carlo acceptance band in standard errors: a two-sided normal tail of
#: 4.5 sigma has probability 7e-6, so a dozen seeded estimates fail by chance with < 1e-4.
Z_MC = 4.5
# Float64 rounding allowance for the validation of c (measured v and c carry rounding errors).
_ROUNDING = 1e-12


def ensemble_mse(v: float, c: float, k: int) -> float:
    """Expected squared error of the mean of ``k`` errors with variance ``v`` and covariance ``c``.

    Parameters
    ----------
    v : float >= 0
        Each member's expected squared error ``E[eps_i^2]``.
    c : float
        Expected product of two members' errors ``E[eps_i eps_j]``, ``i != j``. Accepted range:
        ``-v/(k-1) <= c <= v`` for ``k >= 2``, which is exactly when the covariance matrix with
        ``v`` on the diagonal and ``c`` elsewhere is positive semidefinite; ``|c| <= v`` for
        ``k = 1`` (where ``c`` does not enter). A relative excess of 1e-12 is allowed for
        rounding in measured values.
    k : int >= 1
        Number of members averaged.

    Returns
    -------
    float
        ``v/k + (k-1)c/k``.

    Notes
    -----
    Lecture, "Model averaging" (Goodfellow et al. 2016, sec. 7.11): expanding the square gives
    ``(1/k^2) sum_i (E[eps_i^2] + sum_{j != i} E[eps_i eps_j])``. With ``c = v`` (perfectly
    correlated errors) the error stays ``v``; with ``c = 0`` it falls to ``v/k``.

    Examples
    --------
    >>> ensemble_mse(1.0, 0.0, 4), ensemble_mse(1.0, 1.0, 4), ensemble_mse(2.0, 0.5, 4)
    (0.25, 1.0, 0.875)
    """
    v = check_real("v", v, low=0.0)
    c = check_real("c", c)
    k = check_int("k", k, low=1)
    low = -v / (k - 1) if k >= 2 else -v
    slack = _ROUNDING * v
    if c > v + slack or c < low - slack:
        raise ValueError(
            f"c must be in [-v/(k-1), v] = [{low:g}, {v:g}] for v = {v:g}, k = {k} (otherwise no "
            f"covariance matrix has these entries), but got c = {c!r}"
        )
    return v / k + (k - 1) * c / k


def correlated_errors(
    v: float, c: float, k: int, num_samples: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``num_samples`` error vectors from N(0, Sigma), Sigma = v on the diagonal, c off it.

    Parameters
    ----------
    v, c, k : as in :func:`ensemble_mse`
    num_samples : int >= 1
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (num_samples, k), float64
        Row ``s`` holds the ``k`` members' errors on one example: ``z @ L.T`` with ``z``
        standard normal and ``L`` the Cholesky factor of Sigma. At ``c = v`` Sigma has rank one
        and its factor is the column ``sqrt(v) (1, ..., 1)``: all members make the same error.

    Examples
    --------
    >>> correlated_errors(1.0, 0.5, 3, 4, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3])
    """
    ensemble_mse(v, c, k)  # validates v, c and k
    num_samples = check_int("num_samples", num_samples, low=1)
    sigma = torch.full((k, k), float(c), dtype=torch.float64)
    sigma.diagonal().fill_(float(v))
    factor, info = torch.linalg.cholesky_ex(sigma)
    if info.item() != 0:  # singular: c = v (rank one) or c = -v/(k-1) (rank k-1)
        eigvals, eigvecs = torch.linalg.eigh(sigma)
        factor = eigvecs * eigvals.clamp(min=0).sqrt()
    z = torch.randn(num_samples, k, generator=generator, dtype=torch.float64)
    return z @ factor.T


def symbolic_ensemble_mse(k: int):
    """E[((1/k) sum_i eps_i)^2] by SymPy, for a general symbolic covariance matrix.

    The square is expanded into monomials ``eps_a eps_b`` and each is replaced by its
    expectation ``sigma_ab`` (linearity of expectation).

    Parameters
    ----------
    k : int in [1, 12]

    Returns
    -------
    (general, equal) : tuple of sympy expressions
        ``general`` in the symbols ``sigma_a_b`` (a <= b); ``equal`` after setting every
        ``sigma_a_a = v`` and every ``sigma_a_b = c`` (symbols ``v``, ``c``).

    Examples
    --------
    >>> symbolic_ensemble_mse(2)[1]
    c/2 + v/2
    """
    import sympy as sp

    k = check_int("k", k, low=1, high=12)
    eps = sp.symbols(f"epsilon1:{k + 1}")
    sigma = {(a, b): sp.Symbol(f"sigma_{a + 1}_{b + 1}") for a in range(k) for b in range(a, k)}
    square = sp.Poly(sp.expand((sp.Add(*eps) / k) ** 2), *eps)
    general = sp.Integer(0)
    for powers, coefficient in square.terms():
        a, b = [i for i, p in enumerate(powers) for _ in range(p)]
        general += coefficient * sigma[(min(a, b), max(a, b))]
    v, c = sp.symbols("v c")
    equal = sp.expand(general.subs({s: (v if a == b else c) for (a, b), s in sigma.items()}))
    return general, equal


def bootstrap_fraction(n: int) -> float:
    """Expected fraction of distinct examples in a bootstrap sample of size ``n``: 1 - (1-1/n)^n.

    Parameters
    ----------
    n : int >= 1

    Returns
    -------
    float

    Notes
    -----
    Example ``i`` is missed by all ``n`` draws with probability ``(1 - 1/n)^n``; the expected
    number of distinct examples is ``n`` times the complement. As ``n -> inf`` the fraction
    tends to ``1 - 1/e ~ 0.632`` (Efron 1979; Breiman 1996).

    Examples
    --------
    >>> bootstrap_fraction(2)
    0.75
    """
    n = check_int("n", n, low=1)
    return 1.0 - (1.0 - 1.0 / n) ** n


def _compare_entries(id, analytic, empirical, allowed, *, analytic_label, empirical_label, note, digits=6):
    """Like ``core.compare`` but with a tolerance per entry (exact parts and Monte Carlo parts).

    The reported error and tolerance are those of the entry closest to failing (largest
    ratio of difference to allowed difference).
    """
    a, e, allowed = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (analytic, empirical, allowed))
    diff = np.abs(a - e)
    finite = bool(np.isfinite(a).all() and np.isfinite(e).all())
    worst = int(np.argmax(diff / allowed))  # the entry closest to failing: its diff and tolerance
    return Check(
        id=id,
        analytic=a,
        empirical=e,
        analytic_label=analytic_label,
        empirical_label=empirical_label,
        error=float(diff[worst]) if finite else float("nan"),
        tolerance=float(allowed[worst]),
        passed=finite and bool((diff <= allowed).all()),
        digits=digits,
        note=note,
    )


@derivation(
    "BAG-1",
    chapter=CHAPTER,
    claim="The mean of k errors with E[eps_i^2] = v and E[eps_i eps_j] = c has expected square "
    "v/k + (k-1)c/k: c = v leaves v, c = 0 gives v/k.",
)
def check_bag1(num_samples: int = 100_000) -> Check:
    """BAG-1: closed form vs SymPy expansion (k = 1..6) and vs Monte Carlo, limits included."""
    num_samples = check_int("num_samples", num_samples, low=100)
    # (k, c/v) with v = 2: the limits c = v and c = 0 first, then general and negative c.
    v = 2.0
    points = [(5, 1.0), (5, 0.0), (20, 1.0), (20, 0.0), (2, 0.3), (10, 0.9), (20, 0.1), (5, -0.2)]
    gen = torch.Generator().manual_seed(2002)
    closed, simulated = [], []
    for k, rho in points:
        errors = correlated_errors(v, rho * v, k, num_samples, generator=gen)
        closed.append(ensemble_mse(v, rho * v, k))
        simulated.append(errors.mean(dim=1).pow(2).mean().item())
    # The mean of N squares of N(0, m) variables has standard error m sqrt(2/N).
    mc_allowed = [Z_MC * m * math.sqrt(2.0 / num_samples) for m in closed]
    import sympy as sp

    v0, c0 = 1.7, 0.45  # a generic point: a wrong symbolic expression would differ here
    v_sym, c_sym = sp.symbols("v c")
    sym_closed, sym_values = [], []
    for k in range(1, 7):
        _, equal = symbolic_ensemble_mse(k)
        sym_closed.append(ensemble_mse(v0, c0, k))
        sym_values.append(float(equal.subs({v_sym: v0, c_sym: c0})))
    return _compare_entries(
        "BAG-1",
        closed + sym_closed,
        simulated + sym_values,
        mc_allowed + [1e-12] * len(sym_closed),
        analytic_label="v/k + (k-1)c/k",
        empirical_label="Monte Carlo, then SymPy",
        note=(
            f"{len(points)} Monte Carlo points (k, c/v) = {points}, v = {v}, {num_samples} correlated "
            f"Gaussian draws each; tolerance {Z_MC} standard errors m*sqrt(2/N) (a 95 % interval "
            "would use 1.96; 4.5 keeps the chance of a false alarm over all points below 1e-4). "
            "Then 6 SymPy expansions (k = 1..6, symbolic covariance matrix) at v = 1.7, c = 0.45, "
            "tolerance 1e-12."
        ),
    )


def _enumerated_fraction(n: int) -> Fraction:
    """Exact mean fraction of distinct examples over all n^n equally likely bootstrap samples."""
    samples = np.array(list(itertools.product(range(n), repeat=n)), dtype=np.int64).reshape(-1, n)
    ordered = np.sort(samples, axis=1)
    distinct = 1 + (np.diff(ordered, axis=1) != 0).sum(axis=1)
    return Fraction(int(distinct.sum()), n * n**n)


def _distinct_count_sd(n: int) -> float:
    """Standard deviation of the number of distinct examples in one bootstrap sample."""
    q1, q2 = (1 - 1 / n) ** n, (1 - 2 / n) ** n  # P(i missed), P(i and j both missed)
    return math.sqrt(max(n * q1 * (1 - q1) + n * (n - 1) * (q2 - q1 * q1), 0.0))


@derivation(
    "BAG-2",
    chapter=CHAPTER,
    claim="A bootstrap sample of size n holds on average a fraction 1 - (1 - 1/n)^n of the "
    "distinct examples, which tends to 1 - 1/e = 0.632.",
)
def check_bag2(num_bags: int = 400) -> Check:
    """BAG-2: SymPy limit, Monte Carlo with bootstrap_indices, exact enumeration (n = 1..6)."""
    import sympy as sp

    num_bags = check_int("num_bags", num_bags, low=2)
    n_sym = sp.Symbol("n", positive=True)
    limit = float(sp.limit(1 - (1 - 1 / n_sym) ** n_sym, n_sym, sp.oo))
    analytic, empirical, allowed = [1 - math.exp(-1)], [limit], [1e-12]
    gen = torch.Generator().manual_seed(1979)
    mc_sizes = (4000, 1000, 100, 10)
    for n in mc_sizes:
        idx = bootstrap_indices(n, num_bags, generator=gen)
        fraction = 1.0 - out_of_bag_mask(idx, n).to(torch.float64).mean(dim=1)
        analytic.append(bootstrap_fraction(n))
        empirical.append(fraction.mean().item())
        allowed.append(Z_MC * _distinct_count_sd(n) / n / math.sqrt(num_bags))
    for n in range(1, 7):
        analytic.append(bootstrap_fraction(n))
        empirical.append(float(_enumerated_fraction(n)))
        allowed.append(1e-12)
    return _compare_entries(
        "BAG-2",
        analytic,
        empirical,
        allowed,
        analytic_label="1 - 1/e, then 1 - (1-1/n)^n",
        empirical_label="SymPy limit, Monte Carlo, enumeration",
        note=(
            f"Entry 1: the limit n -> oo (SymPy). Entries 2-5: n = {mc_sizes}, mean over {num_bags} "
            f"bootstrap samples, tolerance {Z_MC} standard errors from the exact variance of the "
            "number of distinct examples. Entries 6-11: n = 1..6, all n^n samples enumerated, "
            "tolerance 1e-12."
        ),
    )


def _gap_and_spread(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration: average member error minus ensemble error, and the members' spread.

    ``pred`` is (configs, k, d) and ``target`` (configs, d).
    """
    member = ((pred - target[:, None, :]) ** 2).sum(-1).mean(-1)
    ensemble = ((pred.mean(1) - target) ** 2).sum(-1)
    spread = ((pred - pred.mean(1, keepdims=True)) ** 2).sum(-1).mean(-1)
    return member - ensemble, spread


@derivation(
    "BAG-3",
    chapter=CHAPTER,
    claim="The averaged prediction's squared error never exceeds its members' average squared "
    "error; the gap is the members' spread around the average (Jensen).",
)
def check_bag3(num_draws: int = 2000) -> Check:
    """BAG-3: direct gap vs the spread, on an exhaustive grid and on random draws."""
    num_draws = check_int("num_draws", num_draws, low=1)
    levels = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    grid = np.array(list(itertools.product(levels, repeat=3)))[:, :, None]  # all 125, k = 3
    gap, spread = _gap_and_spread(grid, np.zeros((len(grid), 1)))
    rng = np.random.default_rng(3)
    gaps, spreads = [gap], [spread]
    for k in range(2, 11):
        size = num_draws // 9 + 1
        scale = rng.uniform(0.1, 3, size=(size, 1, 1))  # how much the members disagree
        pred = rng.normal(size=(size, k, 3)) * scale + rng.normal(size=(size, 1, 3))
        g, s = _gap_and_spread(pred, rng.normal(size=(size, 3)))
        gaps.append(g)
        spreads.append(s)
    random_min = min(g.min() for g in gaps[1:])
    gap, spread = np.concatenate(gaps), np.concatenate(spreads)
    return _compare_entries(
        "BAG-3",
        spread,
        gap,
        np.full(gap.shape, 1e-10) * np.maximum(1.0, np.abs(spread)),
        analytic_label="spread (1/k) sum_i |f_i - f_bar|^2",
        empirical_label="mean member error - ensemble error",
        note=(
            f"{len(grid)} grid configurations (k = 3, predictions in {levels.tolist()}, target 0) and "
            f"{len(gap) - len(grid)} random ones (k = 2..10, 3 outputs); tolerance 1e-10 relative "
            f"(float64 rounding). Smallest gap: {gap.min():.3g} (where all members agree); smallest "
            f"over the random draws: {random_min:.3g}."
        ),
    )


experiment(
    "BAG-4",
    chapter=CHAPTER,
    claim="Bagged MLPs on MNIST-1D: the members' measured v and c predict the ensemble's squared "
    "error, and the ensemble beats the average member.",
)
