"""Chapter ``bagging``, BAG-1: the expected error of an averaged ensemble, and its closed forms.

Part of :mod:`reglab.derivations.bagging`, which imports every public name of this module (a
chapter imports that one module; importing it registers BAG-1); kept apart so that each file stays
readable.

- ``ensemble_mse``: ``E[((1/k) sum_i eps_i)^2] = v/k + (k-1)c/k`` for errors of variance ``v``
  and covariance ``c``; ``correlated_errors`` draws such errors and ``symbolic_ensemble_mse``
  expands the square with SymPy.
- BAG-1: the formula against Monte Carlo (with the limits ``c = v`` and ``c = 0``), SymPy's
  expansion, the slide's bracket and the error as a function of ``k``.

The helpers ``_check_points`` and ``_mean_and_se`` are shared with BAG-2 and BAG-3.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_int, check_real
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "check_bag1",
    "check_bag1_bracket",
    "check_bag1_curve",
    "check_bag1_sympy",
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
    claim_tex=(
        r"The mean of $k$ errors with $\mathbb{E}[\epsilon_i^2] = v$ and $\mathbb{E}[\epsilon_i\epsilon_j] "
        r"= c$ has expected square $v/k + (k-1)c/k$, including the limits $c = v$ (error $v$) and $c = 0$ "
        r"(error $v/k$), the expectation of the slide's bracket $\frac{1}{k^2}\sum_i \bigl(\epsilon_i^2 + "
        r"\sum_{j \ne i}\epsilon_i\epsilon_j\bigr)$; as $k$ grows from 1 to 20 it falls like $1/k$ towards "
        r"$c$ (at $c = 0$ in inverse proportion to $k$), not along a straight line."
    ),
    chapter=CHAPTER,
    claim="The mean of k errors with E[eps_i^2] = v and E[eps_i eps_j] = c has expected square "
    "v/k + (k-1)c/k, including the limits c = v (error v) and c = 0 (error v/k), the expectation "
    "of the slide's bracket (1/k^2) sum_i (eps_i^2 + sum_{j != i} eps_i eps_j); as k grows from 1 "
    "to 20 it falls like 1/k towards c (at c = 0 in inverse proportion to k), not along a straight line.",
    label="Monte Carlo, limits c = v and c = 0",
    planted=(
        Planted(
            "v/k + c(k-1)/k^2",
            "the cross products divided by k^2 twice: v/k + c(k-1)/k^2",
            kind="student",
        ),
    ),
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
    planted=(
        Planted(
            "cross terms counted once",
            "each pair i < j counted once: v/k + (k-1)c/(2k)",
            kind="student",
        ),
    ),
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
            "1/k for 1/k^2",
            "the bracket divided by k, as for the mean of the squares, not by k^2: "
            "k times the ensemble's error",
            kind="student",
        ),
        Planted(
            "j = i kept in the inner sum",
            "the inner sum over every j, the square eps_i^2 counted a "
            "second time: (1/k^2) sum_i (eps_i^2 + sum_j eps_i eps_j)",
            kind="student",
        ),
        Planted(
            "no expectation around the bracket",
            "the slide's middle expression read as written, without E: one example's bracket (a random "
            "number, that example's squared ensemble error) set equal to v/k + (k-1)c/k. A notation "
            "slip, rejected trivially (one draw against the standard error of many); the two mistakes "
            "above are the ones that show the check is sharp",
            slip='slides "Model Averaging", the expected squared error of the ensemble: '
            '"E[(1/k sum_i eps_i)^2] = 1/k^2 [sum_i (eps_i^2 + sum_{j != i} eps_i eps_j)]"',
            correct="the middle expression needs the expectation, (1/k^2) E[sum_i (eps_i^2 + "
            "sum_{j != i} eps_i eps_j)], as in Goodfellow et al. (2016, eq. 7.50): only then is it "
            "v/k + (k-1)c/k",
        ),
    ),
)
def check_bag1_bracket(num_samples: int = 100_000, *, planted=None) -> Check:
    """BAG-1: the bracket (1/k^2) sum_i (eps_i^2 + sum_{j!=i} eps_i eps_j), averaged, vs the formula."""
    v, k, rho = 2.0, 6, 0.4
    errors = correlated_errors(v, rho * v, k, num_samples, generator=torch.Generator().manual_seed(7))
    squares = errors.pow(2).sum(1)
    cross = (
        errors.sum(1).pow(2) - squares
    )  # sum over ordered pairs i != j of eps_i eps_j
    right = (squares + cross) / k**2
    bracket, one_example = choose(
        planted,
        (right, False),
        {
            "1/k for 1/k^2": ((squares + cross) / k, False),
            "j = i kept in the inner sum": (
                (2 * squares + cross) / k**2,
                False,
            ),
            # the slip: one example's bracket, a random number, not v/k + (k-1)c/k
            "no expectation around the bracket": (right, True),
        },
    )
    mean, se = _mean_and_se(bracket)
    estimate = bracket[0].item() if one_example else mean
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
            "'linearly' read literally: the error on a straight line from v at k = 1 to its value at "
            "k = 20",
            slip='slides "Model Averaging", the expected squared error of the ensemble: '
            '"Error decreases linearly with ensemble size"',
            correct="a loose phrase, taken from Goodfellow et al. (2016, sec. 7.11), who use it for the "
            "case c = 0: there the error v/k falls in inverse proportion to k; in general it is "
            "c + (v - c)/k, falling like 1/k towards the floor c, fast at first and ever more slowly. "
            "Neither is a straight line in k",
        ),
    ),
)
def check_bag1_curve(num_samples: int = 50_000, *, planted=None) -> Check:
    """BAG-1: Monte Carlo error of the mean of the first k members, k = 1..20, vs the formula.

    Two correlations: c/v = 1/4, and c = 0, the case of the slide's bullet "decreases linearly".
    """
    v, sizes = 1.0, list(range(1, 21))
    exact, estimate, stderr = [], [], []
    for rho, seed in ((0.25, 11), (0.0, 12)):
        errors = correlated_errors(
            v,
            rho * v,
            sizes[-1],
            num_samples,
            generator=torch.Generator().manual_seed(seed),
        )
        running = errors.cumsum(1) / torch.arange(
            1, sizes[-1] + 1, dtype=torch.float64
        )
        squares = running.pow(2)
        estimate.append(squares.mean(0))
        stderr.append(squares.std(0) / math.sqrt(num_samples))
        curve = np.array([ensemble_mse(v, rho * v, k) for k in sizes])
        # the slip read literally: a straight line from the error at k = 1 to that at k = 20
        line = curve[0] + (curve[-1] - curve[0]) * (np.array(sizes) - 1) / (
            sizes[-1] - 1
        )
        exact.append(
            choose(
                planted, curve, {"decreases linearly with ensemble size": line}
            )
        )
    return compare_mc(
        "BAG-1",
        np.concatenate(exact),
        torch.cat(estimate),
        torch.cat(stderr),
        analytic_label="c + (v - c)/k",
        empirical_label="Monte Carlo",
        note=f"k = 1..20 (the first k of 20 members), v = {v}: first c = 0.25, then c = 0 (the slide's "
        f"case);\n    {num_samples} draws each",
    )
