"""Bagging: the error of an averaged ensemble and the bootstrap (chapter *Bagging*).

The results of the chapter:

- BAG-1: ``E[((1/k) sum_i eps_i)^2] = v/k + (k-1)c/k``, with the limits ``c = v`` and ``c = 0``.
- BAG-2: a bootstrap sample holds on average ``1 - (1 - 1/n)^n -> 1 - 1/e`` of the distinct examples.
- BAG-3: the averaged prediction is never worse (squared error) than the average member.

Experiment BAG-4 (a bag of bootstrap MLPs on MNIST-1D beats its average member) is registered and
run in :mod:`reglab.experiments.bagging`.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import torch

from .._validation import check_int, check_real
from ..ensembles import bootstrap_indices, out_of_bag_mask
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "bootstrap_fraction",
    "check_bag1",
    "check_bag1_bracket",
    "check_bag1_curve",
    "check_bag1_sympy",
    "check_bag2",
    "check_bag2_enumeration",
    "check_bag2_monte_carlo",
    "check_bag3",
    "check_bag3_inequality",
    "correlated_errors",
    "ensemble_mse",
    "symbolic_ensemble_mse",
]

CHAPTER = "bagging"
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


def _check_points():
    """(k, c/v) points with v = 2: the limits c = v and c = 0 first, then general and negative c."""
    return [(5, 1.0), (5, 0.0), (20, 1.0), (20, 0.0), (2, 0.3), (10, 0.9), (20, 0.1), (5, -0.2)]


def _mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    """Sample mean and its standard error (sample sd / sqrt(draws))."""
    return values.mean().item(), (values.std() / math.sqrt(values.numel())).item()


def _wrong_cross_terms(v: float, c: float, k: int) -> float:
    """The slip v/k + c(k-1)/k^2: the k(k-1) cross products divided by k^2 twice over."""
    return v / k + c * (k - 1) / k**2


@derivation(
    "BAG-1",
    chapter=CHAPTER,
    claim="The mean of k errors with E[eps_i^2] = v and E[eps_i eps_j] = c has expected square "
    "v/k + (k-1)c/k, including the limits c = v (error v) and c = 0 (error v/k), the expectation "
    "of the slide's bracket (1/k^2) sum_i (eps_i^2 + sum_{j != i} eps_i eps_j); as k grows it "
    "falls like 1/k towards c, not linearly.",
    label="Monte Carlo, limits c = v and c = 0",
    planted=(Planted("v/k + c(k-1)/k^2", "the cross products divided by k^2 twice: v/k + c(k-1)/k^2"),),
)
def check_bag1(num_samples: int = 100_000, *, planted=None) -> Check:
    """BAG-1: closed form vs Monte Carlo with correlated Gaussian errors at 8 points (k, c/v)."""
    num_samples = check_int("num_samples", num_samples, low=100)
    v = 2.0
    points = _check_points()
    gen = torch.Generator().manual_seed(2002)
    formula = choose(planted, ensemble_mse, {"v/k + c(k-1)/k^2": _wrong_cross_terms})
    closed, estimate, stderr = [], [], []
    for k, rho in points:
        errors = correlated_errors(v, rho * v, k, num_samples, generator=gen)
        closed.append(formula(v, rho * v, k))
        mean, se = _mean_and_se(errors.mean(dim=1).pow(2))
        estimate.append(mean)
        stderr.append(se)
    return compare_mc(
        "BAG-1", closed, estimate, stderr,
        analytic_label="v/k + (k-1)c/k", empirical_label="Monte Carlo",
        note=f"(k, c/v) = {points}, v = {v}, {num_samples} draws of correlated Gaussian errors each",
    )


@subcheck(
    "BAG-1",
    label="SymPy expansion, k = 1..6",
    planted=(Planted("cross terms counted once", "each pair i < j counted once: v/k + (k-1)c/(2k)"),),
)
def check_bag1_sympy(*, planted=None) -> Check:
    """BAG-1: closed form vs SymPy's expansion with a general covariance matrix (k = 1..6)."""
    import sympy as sp

    v0, c0 = 1.7, 0.45  # a generic point: a wrong coefficient would differ here
    v_sym, c_sym = sp.symbols("v c")
    formula = choose(planted, ensemble_mse, {
        "cross terms counted once": lambda v, c, k: v / k + (k - 1) * c / (2 * k),  # pairs i < j once
    })
    closed, symbolic = [], []
    for k in range(1, 7):
        _, equal = symbolic_ensemble_mse(k)
        closed.append(formula(v0, c0, k))
        symbolic.append(float(equal.subs({v_sym: v0, c_sym: c0})))
    return compare(
        "BAG-1", closed, symbolic, atol=1e-12,
        analytic_label="v/k + (k-1)c/k", empirical_label="SymPy",
        note=f"k = 1..6, symbolic covariance matrix, evaluated at v = {v0}, c = {c0}",
    )


@subcheck(
    "BAG-1",
    label="the slide's bracket, with its expectation",
    planted=(
        Planted(
            "no expectation around the bracket",
            "the slide's middle expression taken as written, for the errors of one example",
            slip='slides "Model Averaging", the expected squared error of the ensemble: '
            '"E[(1/k sum_i eps_i)^2] = 1/k^2 [sum_i (eps_i^2 + sum_{j != i} eps_i eps_j)]"',
            correct="the middle expression needs the expectation, (1/k^2) sum_i (E[eps_i^2] + "
            "sum_{j != i} E[eps_i eps_j]): only then is it v/k + (k-1)c/k",
        ),
    ),
)
def check_bag1_bracket(num_samples: int = 100_000, *, planted=None) -> Check:
    """BAG-1: the bracket (1/k^2) sum_i (eps_i^2 + sum_{j!=i} eps_i eps_j), averaged, vs the formula."""
    v, k, rho = 2.0, 6, 0.4
    errors = correlated_errors(v, rho * v, k, num_samples, generator=torch.Generator().manual_seed(7))
    squares = errors.pow(2).sum(1)
    cross = errors.sum(1).pow(2) - squares  # sum over ordered pairs i != j of eps_i eps_j
    bracket = (squares + cross) / k**2
    mean, se = _mean_and_se(bracket)
    # the slip: one example's bracket, a random number, not v/k + (k-1)c/k
    estimate = choose(planted, mean, {"no expectation around the bracket": bracket[0].item()})
    return compare_mc(
        "BAG-1", ensemble_mse(v, rho * v, k), estimate, se,
        analytic_label="v/k + (k-1)c/k", empirical_label="mean of the bracket",
        note=f"k = {k}, v = {v}, c = {rho * v:g}, {num_samples} examples",
    )


@subcheck(
    "BAG-1",
    label="error against k: like 1/k towards c",
    planted=(
        Planted(
            "decreases linearly with ensemble size",
            "the error falls on a straight line from v at k = 1 to its value at k = 20",
            slip='slides "Model Averaging", the expected squared error of the ensemble: '
            '"Error decreases linearly with ensemble size"',
            correct="the error is c + (v - c)/k: it decreases like 1/k towards the floor c, "
            "fast at first and ever more slowly",
        ),
    ),
)
def check_bag1_curve(num_samples: int = 50_000, *, planted=None) -> Check:
    """BAG-1: Monte Carlo error of the mean of the first k members, k = 1..20, vs the formula."""
    v, rho, sizes = 1.0, 0.25, list(range(1, 21))
    errors = correlated_errors(v, rho * v, sizes[-1], num_samples, generator=torch.Generator().manual_seed(11))
    running = errors.cumsum(1) / torch.arange(1, sizes[-1] + 1, dtype=torch.float64)
    squares = running.pow(2)
    estimate = squares.mean(0)
    stderr = squares.std(0) / math.sqrt(num_samples)
    exact = np.array([ensemble_mse(v, rho * v, k) for k in sizes])
    # the slip: a straight line from the error at k = 1 to that at k = 20
    line = exact[0] + (exact[-1] - exact[0]) * (np.array(sizes) - 1) / (sizes[-1] - 1)
    exact = choose(planted, exact, {"decreases linearly with ensemble size": line})
    return compare_mc(
        "BAG-1", exact, estimate, stderr,
        analytic_label="c + (v - c)/k", empirical_label="Monte Carlo",
        note=f"k = 1..20 (the first k of 20 members), v = {v}, c = {rho * v}, {num_samples} draws",
    )


def _enumerated_fraction(n: int) -> Fraction:
    """Exact mean fraction of distinct examples over all n^n equally likely bootstrap samples."""
    samples = np.array(list(itertools.product(range(n), repeat=n)), dtype=np.int64).reshape(-1, n)
    ordered = np.sort(samples, axis=1)
    distinct = 1 + (np.diff(ordered, axis=1) != 0).sum(axis=1)
    return Fraction(int(distinct.sum()), n * n**n)


_BAG2_CLAIM = (
    "A bootstrap sample of size n holds on average a fraction 1 - (1 - 1/n)^n of the distinct "
    "examples (all n^n samples for n <= 6; Monte Carlo up to n = 4000), which tends to 1 - 1/e."
)


@derivation(
    "BAG-2",
    chapter=CHAPTER,
    claim=_BAG2_CLAIM,
    label="SymPy limit n -> oo",
    planted=(Planted("1/e for 1 - 1/e", "the limit of the left-out fraction, 1/e, taken as the fraction kept"),),
)
def check_bag2(*, planted=None) -> Check:
    """BAG-2: SymPy's limit of 1 - (1 - 1/n)^n vs 1 - 1/e."""
    import sympy as sp

    n_sym = sp.Symbol("n", positive=True)
    limit = float(sp.limit(1 - (1 - 1 / n_sym) ** n_sym, n_sym, sp.oo))
    closed = choose(planted, 1 - math.exp(-1), {"1/e for 1 - 1/e": math.exp(-1)})
    return compare(
        "BAG-2", closed, limit, atol=1e-12,
        analytic_label="1 - 1/e", empirical_label="SymPy limit",
    )


@subcheck(
    "BAG-2",
    label="enumeration of all n^n samples, n = 1..6",
    planted=(Planted("1 - 1/e at every n", "the limit used for small n: 1 - 1/e instead of 1 - (1 - 1/n)^n"),),
)
def check_bag2_enumeration(*, planted=None) -> Check:
    """BAG-2: 1 - (1 - 1/n)^n vs the exact mean over all n^n bootstrap samples (n = 1..6)."""
    sizes = range(1, 7)
    fraction = choose(planted, bootstrap_fraction, {"1 - 1/e at every n": lambda n: 1 - math.exp(-1)})
    closed = [fraction(n) for n in sizes]
    exact = [float(_enumerated_fraction(n)) for n in sizes]
    return compare(
        "BAG-2", closed, exact, atol=1e-12,
        analytic_label="1 - (1-1/n)^n", empirical_label="enumeration", note="n = 1..6",
    )


@subcheck(
    "BAG-2",
    label="Monte Carlo with bootstrap_indices",
    planted=(Planted("1 - 1/n", "the exponent n forgotten: 1/n taken as the chance of being left out, 1 - 1/n kept"),),
)
def check_bag2_monte_carlo(num_bags: int = 400, *, planted=None) -> Check:
    """BAG-2: 1 - (1 - 1/n)^n vs the mean fraction over ``num_bags`` bootstrap samples."""
    num_bags = check_int("num_bags", num_bags, low=2)
    gen = torch.Generator().manual_seed(1979)
    sizes = (4000, 1000, 100, 10)
    fraction_kept = choose(planted, bootstrap_fraction, {"1 - 1/n": lambda n: 1 - 1 / n})
    closed, estimate, stderr = [], [], []
    for n in sizes:
        idx = bootstrap_indices(n, num_bags, generator=gen)
        fraction = 1.0 - out_of_bag_mask(idx, n).to(torch.float64).mean(dim=1)
        closed.append(fraction_kept(n))
        mean, se = _mean_and_se(fraction)
        estimate.append(mean)
        stderr.append(se)
    return compare_mc(
        "BAG-2", closed, estimate, stderr,
        analytic_label="1 - (1-1/n)^n", empirical_label="Monte Carlo",
        note=f"n = {sizes}, {num_bags} bootstrap samples each",
    )


def _gap_and_spread(pred: np.ndarray, target: np.ndarray, *, ddof: int = 0):
    """Per configuration: average member error, ensemble error, best member error and spread.

    ``pred`` is (configs, k, d) and ``target`` (configs, d).
    """
    k = pred.shape[1]
    member = ((pred - target[:, None, :]) ** 2).sum(-1)
    ensemble = ((pred.mean(1) - target) ** 2).sum(-1)
    spread = ((pred - pred.mean(1, keepdims=True)) ** 2).sum(-1).sum(-1) / (k - ddof)
    return member.mean(-1), ensemble, member.min(-1), spread


def _bag3_configurations(num_draws: int):
    """All 125 three-member grid configurations (target 0), then random ones with k = 2..10."""
    levels = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    grid = np.array(list(itertools.product(levels, repeat=3)))[:, :, None]
    yield grid, np.zeros((len(grid), 1))
    rng = np.random.default_rng(3)
    for k in range(2, 11):
        size = num_draws // 9 + 1
        scale = rng.uniform(0.1, 3, size=(size, 1, 1))  # how much the members disagree
        yield rng.normal(size=(size, k, 3)) * scale + rng.normal(size=(size, 1, 3)), rng.normal(size=(size, 3))


def _bag3_measures(num_draws: int, *, ddof: int = 0):
    parts = [_gap_and_spread(pred, target, ddof=ddof) for pred, target in _bag3_configurations(num_draws)]
    return [np.concatenate(x) for x in zip(*parts)]


_BAG3_CLAIM = (
    "The averaged prediction's squared error never exceeds its members' average squared error "
    "(though it can exceed the best member's); the gap is the members' spread around the "
    "average, (1/k) sum_i |f_i - f_bar|^2 (Krogh and Vedelsby)."
)


@derivation(
    "BAG-3",
    chapter=CHAPTER,
    claim=_BAG3_CLAIM,
    label="gap = spread",
    planted=(Planted("spread with 1/(k-1)", "the sample-variance convention: spread divided by k - 1, not k"),),
)
def check_bag3(num_draws: int = 2000, *, planted=None) -> Check:
    """BAG-3: direct gap (members' mean error - ensemble error) vs the spread."""
    num_draws = check_int("num_draws", num_draws, low=1)
    member, ensemble, _, spread = _bag3_measures(num_draws, ddof=choose(planted, 0, {"spread with 1/(k-1)": 1}))
    gap = member - ensemble
    return compare(
        "BAG-3", spread, gap, atol=1e-12 * max(1.0, float(np.abs(spread).max())),
        analytic_label="spread (1/k) sum_i |f_i - f_bar|^2", empirical_label="mean member error - ensemble error",
        note=f"125 grid configurations (k = 3, predictions in {{-1, -1/2, 0, 1/2, 1}}, target 0) and "
        f"{len(gap) - 125} random ones (k = 2..10, 3 outputs); smallest gap {gap.min():.3g}",
    )


@subcheck(
    "BAG-3",
    label="never worse than the average member",
    planted=(
        Planted(
            "at least as well as any of its members",
            "the ensemble compared with its best member instead of its average member",
            slip='slides "Model Averaging", last bullet: "On average the ensemble performs '
            'atleast as well as any of its members"',
            correct="the ensemble performs at least as well as its average member (squared error, "
            "or any convex loss); a single member can be better than the ensemble",
        ),
    ),
)
def check_bag3_inequality(num_draws: int = 2000, *, planted=None) -> Check:
    """BAG-3: how much the ensemble's error exceeds the members' average error: 0 everywhere."""
    member, ensemble, best, _ = _bag3_measures(num_draws)
    reference = choose(planted, member, {"at least as well as any of its members": best})
    excess = np.maximum(ensemble - reference, 0.0)
    return compare(
        "BAG-3", np.zeros_like(excess), excess, atol=1e-12 * max(1.0, float(np.abs(reference).max())),
        analytic_label="0", empirical_label="max(ensemble error - members' average, 0)",
        note=f"the configurations of the first check; the ensemble is at least as good as its "
        f"best member in {np.mean(ensemble <= best):.0%} of them",
    )

