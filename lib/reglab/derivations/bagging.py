"""Bagging: the error of an averaged ensemble and the bootstrap (chapter *Bagging*).

The results of the chapter:

- BAG-1: ``E[((1/k) sum_i eps_i)^2] = v/k + (k-1)c/k``, with the limits ``c = v`` and ``c = 0``.
- BAG-2: a bootstrap sample holds on average ``1 - (1 - 1/n)^n -> 1 - 1/e`` of the distinct examples.
- BAG-3: on average (the lecture's model) the ensemble is at least as good as any member; for
  realised predictions it is never worse (squared error) than the average member, though it can
  be worse than the best one.

BAG-1 and the closed forms it checks (``ensemble_mse``, ``correlated_errors``,
``symbolic_ensemble_mse``) are in ``derivations/_bagging_ensemble_error.py``; every public name of
it is imported here.

Experiment BAG-4 (a bag of bootstrap MLPs on MNIST-1D beats its average member) is registered and
run in :mod:`reglab.experiments.bagging`.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import torch

from .._validation import check_int
from ..ensembles import bootstrap_indices, out_of_bag_mask
from ._bagging_ensemble_error import (  # BAG-1 and its closed forms (importing registers BAG-1)
    _check_points,
    _mean_and_se,
    check_bag1,
    check_bag1_bracket,
    check_bag1_curve,
    check_bag1_sympy,
    correlated_errors,
    ensemble_mse,
    symbolic_ensemble_mse,
)
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "best_member_share",
    "bootstrap_fraction",
    "check_bag1",
    "check_bag1_bracket",
    "check_bag1_curve",
    "check_bag1_sympy",
    "check_bag2",
    "check_bag2_enumeration",
    "check_bag2_monte_carlo",
    "check_bag3",
    "check_bag3_expected",
    "check_bag3_inequality",
    "correlated_errors",
    "ensemble_mse",
    "symbolic_ensemble_mse",
]

CHAPTER = "bagging"


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
    claim_tex=(
        r"A bootstrap sample of size $n$ holds on average a fraction $1 - (1 - 1/n)^n$ of the distinct "
        r"examples (all $n^n$ samples for $n \le 6$; Monte Carlo up to $n = 4000$), which tends to $1 - "
        r"1/e$."
    ),
    chapter=CHAPTER,
    claim=_BAG2_CLAIM,
    label="SymPy limit n -> oo",
    planted=(
        Planted(
            "1/e for 1 - 1/e",
            "the limit of the left-out fraction, 1/e, taken as the fraction kept",
            kind="student",
        ),
    ),
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
    planted=(
        Planted(
            "1 - 1/e at every n",
            "the limit used for small n: 1 - 1/e instead of 1 - (1 - 1/n)^n",
            kind="student",
        ),
    ),
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
    planted=(
        Planted(
            "1 - 1/n",
            "the exponent n forgotten: 1/n taken as the chance of being left out, 1 - 1/n kept",
            kind="student",
        ),
    ),
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
    "On average the ensemble performs at least as well as any of its members, as the slide says: under "
    "the lecture's model every member's expected squared error exceeds the ensemble's by "
    "(k-1)(v-c)/k >= 0. For realised predictions, the averaged prediction's squared error never "
    "exceeds its members' average squared error (though it can exceed the best member's); the gap is "
    "the members' spread around the average, (1/k) sum_i |f_i - f_bar|^2 (Krogh and Vedelsby)."
)


@derivation(
    "BAG-3",
    claim_tex=(
        r"On average the ensemble performs at least as well as any of its members, as the slide says: "
        r"under the lecture's model every member's expected squared error exceeds the ensemble's by "
        r"$(k-1)(v-c)/k \ge 0$. For realised predictions, the averaged prediction's squared error never "
        r"exceeds its members' average squared error (though it can exceed the best member's); the gap is "
        r"the members' spread around the average, $\frac{1}{k}\sum_i \lvert f_i - \bar f\rvert^2$ (Krogh "
        r"and Vedelsby)."
    ),
    chapter=CHAPTER,
    claim=_BAG3_CLAIM,
    label="gap = spread",
    planted=(
        Planted(
            "spread with 1/(k-1)",
            "the spread as torch.var computes it by default (unbiased): "
            "divided by k - 1, not k",
            kind="library",
        ),
    ),
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


def best_member_share(num_draws: int = 2000) -> float:
    """Share of the BAG-3 configurations in which the ensemble is at least as good as its best member.

    The configurations are those of :func:`check_bag3` (125 grid ones, then random ones); the
    ensemble's squared error is compared with that of its best member.

    >>> 0 < best_member_share(90) < 1
    True
    """
    num_draws = check_int("num_draws", num_draws, low=1)
    _, ensemble, best, _ = _bag3_measures(num_draws)
    return float(np.mean(ensemble <= best))


@subcheck(
    "BAG-3",
    label="never worse than the average member",
    planted=(
        Planted(
            "at least as well as its best member",
            "the slide's 'at least as well as any of its members' applied to realised predictions, "
            "configuration by configuration: the ensemble compared with its best member instead of its "
            "average member (the slide's statement is about expected errors, see the third check)",
            kind="student",
        ),
    ),
)
def check_bag3_inequality(num_draws: int = 2000, *, planted=None) -> Check:
    """BAG-3: how much the ensemble's error exceeds the members' average error: 0 everywhere."""
    member, ensemble, best, _ = _bag3_measures(num_draws)
    reference = choose(
        planted, member, {"at least as well as its best member": best}
    )
    excess = np.maximum(ensemble - reference, 0.0)
    return compare(
        "BAG-3", np.zeros_like(excess), excess, atol=1e-12 * max(1.0, float(np.abs(reference).max())),
        analytic_label="0", empirical_label="max(ensemble error - members' average, 0)",
        note=f"the configurations of the first check; the ensemble is at least as good as its "
        f"best member in {np.mean(ensemble <= best):.0%} of them",
    )


def _gap_wrong_k(v: float, c: float, k: int) -> float:
    """(v - c)/k: the factor k - 1 of the cross terms forgotten."""
    return (v - c) / k


def _gap_uncorrelated(v: float, c: float, k: int) -> float:
    """v(k-1)/k: the bullet for c = 0 used at every c."""
    return v * (k - 1) / k


@subcheck(
    "BAG-3",
    label="on average, at least as well as any member",
    planted=(
        Planted(
            "gap (v - c)/k",
            "the expected gap without the factor k - 1: (v - c)/k",
            kind="student",
        ),
        Planted(
            "gap v(k-1)/k, c ignored",
            "the errors taken as uncorrelated: the c = 0 gap v(k-1)/k used "
            "at every c",
            kind="student",
        ),
    ),
)
def check_bag3_expected(num_samples: int = 100_000, *, planted=None) -> Check:
    """BAG-3: each member's expected squared error minus the ensemble's, (k-1)(v-c)/k, by Monte Carlo.

    The lecture's model: every member has ``E[eps_i^2] = v`` and every pair ``E[eps_i eps_j] = c``.
    The ensemble's expected error ``v/k + (k-1)c/k`` is then below each member's ``v`` by
    ``(k-1)(v-c)/k``, which is ``>= 0`` because ``c <= v``: on average the ensemble does at least as
    well as any of its members. Checked for every member at the eight points (k, c/v) of the first
    BAG-1 check.
    """
    num_samples = check_int("num_samples", num_samples, low=100)
    v = 2.0
    points = (
        _check_points()[4:] + _check_points()[:4]
    )  # general c first, then the limits c = v and c = 0
    gen = torch.Generator().manual_seed(2016)
    gap = choose(
        planted,
        lambda v, c, k: v - ensemble_mse(v, c, k),
        {
            "gap (v - c)/k": _gap_wrong_k,
            "gap v(k-1)/k, c ignored": _gap_uncorrelated,
        },
    )
    closed, estimate, stderr = [], [], []
    for k, rho in points:
        errors = correlated_errors(v, rho * v, k, num_samples, generator=gen)
        difference = errors.pow(2) - errors.mean(dim=1, keepdim=True).pow(
            2
        )  # member i minus ensemble
        closed += [gap(v, rho * v, k)] * k
        estimate.append(difference.mean(0))
        stderr.append(difference.std(0) / math.sqrt(num_samples))
    return compare_mc(
        "BAG-3",
        closed,
        torch.cat(estimate),
        torch.cat(stderr),
        atol=1e-12,
        analytic_label="(k-1)(v-c)/k",
        empirical_label="Monte Carlo: member's error - ensemble's",
        note=f"every member at (k, c/v) = {points}, v = {v},\n    {num_samples} draws each; "
        "atol 1e-12 for rounding where c = v (all members equal)",
    )
