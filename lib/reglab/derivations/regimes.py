"""Capacity, training regimes and the regularized objective (chapter ``regimes``).

- REG-1: in :math:`\\tilde J = J + \\alpha\\,\\Omega`, ``alpha = 0`` gives the unregularized
  least-squares solution (closed form against a least-squares solver on the augmented system),
  a second check computes the norm from the SVD, eq. (eq-ridge-norm) of the chapter, and a third
  asserts that the norm decreases strictly along a fine grid of ``alpha`` (``exceeds`` on the
  successive decreases).

The chapter's experiments (REG-2: the three regimes on polynomial regression; REG-3, REG-4:
network widths on MNIST-1D, with and without weight decay) are registered and run in
:mod:`reglab.experiments.regimes`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_real, check_regression, check_tensor
from ..data import polynomial_regression
from .compare import Check, compare, exceeds
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "check_reg1",
    "check_reg1_monotone",
    "check_reg1_svd_norm",
    "fit_polynomial",
    "polynomial_features",
    "ridge_solution",
]

CHAPTER = "regimes"


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------
def polynomial_features(x: Tensor, degree: int) -> Tensor:
    r"""Legendre polynomials :math:`P_0(x), \dots, P_{\mathrm{degree}}(x)` as columns.

    Parameters
    ----------
    x : Tensor of shape (n,) or (n, 1)
        Inputs, meant to lie in [-1, 1] (where the Legendre basis is well conditioned).
    degree : int >= 0
        Highest degree.

    Returns
    -------
    Tensor of shape (n, degree + 1)
        Column ``k`` is :math:`P_k(x)`.

    Notes
    -----
    The columns span the same space as :math:`1, x, \dots, x^{\mathrm{degree}}`, so a least-squares
    fit gives the same polynomial as with monomials, but the design matrix is far better
    conditioned. Computed with Bonnet's recursion
    :math:`(k+1)P_{k+1} = (2k+1)\,x P_k - k P_{k-1}`.

    Examples
    --------
    >>> polynomial_features(torch.tensor([0.5], dtype=torch.float64), 2)
    tensor([[ 1.0000,  0.5000, -0.1250]], dtype=torch.float64)
    """
    check_tensor("x", x, ndim=(1, 2), floating=True, finite=True)
    if x.dim() == 2 and x.shape[1] != 1:
        raise ValueError(f"x must have shape (n,) or (n, 1), but got {tuple(x.shape)}")
    degree = check_int("degree", degree, low=0)
    x = x.reshape(-1)
    columns = [torch.ones_like(x)]
    if degree >= 1:
        columns.append(x)
    for k in range(1, degree):
        columns.append(((2 * k + 1) * x * columns[k] - k * columns[k - 1]) / (k + 1))
    return torch.stack(columns, dim=1)


def ridge_solution(X: Tensor, y: Tensor, alpha: float) -> Tensor:
    r"""Minimiser of :math:`\tfrac12\|Xw - y\|^2 + \tfrac{\alpha}{2}\|w\|^2` in closed form.

    Parameters
    ----------
    X : Tensor of shape (n, d)
        Design matrix.
    y : Tensor of shape (n,)
        Targets (same dtype as ``X``).
    alpha : float >= 0
        Penalty weight; ``alpha = 0`` is ordinary least squares and needs ``X`` of full column
        rank.

    Returns
    -------
    Tensor of shape (d,)
        :math:`w(\alpha) = (X^T X + \alpha I)^{-1} X^T y`.

    Notes
    -----
    Setting the gradient :math:`X^T(Xw - y) + \alpha w` to zero gives the normal equations
    :math:`(X^T X + \alpha I)w = X^T y` (Hoerl and Kennard 1970; Tikhonov regularization of
    an ill-posed problem). For ``alpha > 0`` the matrix is positive definite, so the solution
    exists and is unique even when ``X`` has more columns than rows.

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64)
    >>> ridge_solution(X, torch.tensor([2.0, 4.0], dtype=torch.float64), 1.0).round(decimals=6).tolist()
    [1.0, 2.0]
    """
    check_regression(X, y)
    alpha = check_real("alpha", alpha, low=0.0)
    A = X.T @ X + alpha * torch.eye(X.shape[1], dtype=X.dtype)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        raise ValueError(
            f"X^T X + alpha*I is singular (X has {X.shape[0]} rows and {X.shape[1]} columns): "
            f"alpha = {alpha:g} needs alpha > 0 or X of full column rank"
        )
    return torch.cholesky_solve((X.T @ y).unsqueeze(1), L).squeeze(1)


def fit_polynomial(x: Tensor, y: Tensor, degree: int, *, alpha: float = 0.0) -> Tensor:
    r"""Legendre coefficients of the degree-``degree`` polynomial fitted to ``(x, y)``.

    Parameters
    ----------
    x : Tensor of shape (n,) or (n, 1), values in [-1, 1]
    y : Tensor of shape (n,)
    degree : int >= 0
    alpha : float >= 0
        Ridge penalty weight on every coefficient (the constant included). With ``alpha = 0``
        the fit is least squares by an SVD-based solver, the minimum-norm solution when
        there are fewer points than coefficients.

    Returns
    -------
    Tensor of shape (degree + 1,)
        Evaluate the fit with ``polynomial_features(x_new, degree) @ coefficients``.

    Examples
    --------
    >>> x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    >>> fit_polynomial(x, 3 * x, 1).round(decimals=6)
    tensor([0., 3.], dtype=torch.float64)
    """
    X = polynomial_features(x, degree)
    check_regression(X, y)
    alpha = check_real("alpha", alpha, low=0.0)
    if alpha > 0:
        return ridge_solution(X, y, alpha)
    return torch.linalg.lstsq(X, y.unsqueeze(1), driver="gelsd").solution.squeeze(1)


# ---------------------------------------------------------------------------------------------
# REG-1
# ---------------------------------------------------------------------------------------------
def _augmented_lstsq(X: Tensor, y: Tensor, alpha: float) -> Tensor:
    """Least squares on [X; sqrt(alpha) I] w = [y; 0], which is the ridge problem rewritten."""
    d = X.shape[1]
    A = torch.cat([X, math.sqrt(alpha) * torch.eye(d, dtype=X.dtype)]) if alpha > 0 else X
    b = torch.cat([y, torch.zeros(d, dtype=y.dtype)]) if alpha > 0 else y
    return torch.linalg.lstsq(A, b.unsqueeze(1), driver="gelsd").solution.squeeze(1)


REG1_ALPHAS = (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)
#: The fine grid on which the norm must decrease strictly: 0, then 300 values log-spaced from 1e-4 to 100.
REG1_FINE = (0.0, *np.logspace(-4, 2, 300).tolist())


def _reg1_problem() -> tuple[Tensor, Tensor]:
    """A degree-8 Legendre design at 30 noisy points of a cubic (seed 1), and its targets."""
    data, _ = polynomial_regression(30, true_degree=3, seed=1)
    return polynomial_features(data.x_train, 8), data.y_train


@derivation(
    "REG-1",
    claim_tex=(
        r"The ridge solution $(X^\top X + \alpha I)^{-1} X^\top y$ is the minimiser of $\tfrac12\lVert Xw "
        r"- y\rVert^2 + \tfrac{\alpha}{2}\lVert w\rVert^2$ (a least-squares solver on the augmented system "
        r"agrees at 7 values of $\alpha$ from 0 to 100, $\alpha = 0$ being unregularized least squares); "
        r"its norm, computed also from the SVD, decreases strictly as $\alpha$ grows from 0 to 100 (every "
        r"successive decrease positive on a grid of 0 and 300 log-spaced values from $10^{-4}$ to 100)."
    ),
    chapter=CHAPTER,
    claim=(
        "The ridge solution (X^T X + alpha I)^-1 X^T y is the minimiser of 1/2||Xw - y||^2 + "
        "alpha/2 ||w||^2 (a least-squares solver on the augmented system agrees at 7 values of alpha from "
        "0 to 100, alpha = 0 being unregularized least squares); its norm, computed also from the SVD, "
        "decreases strictly as alpha grows from 0 to 100 (every successive decrease positive on a grid of "
        "0 and 300 log-spaced values from 1e-4 to 100)."
    ),
    label="normal equations vs augmented least squares",
    planted=(
        Planted(
            "penalty without its 1/2",
            "alpha*||w||^2 added to the halved data term: (X^T X + 2 alpha I)^-1 X^T y",
            kind="student",
        ),
    ),
)
def check_reg1(*, planted: str | None = None) -> Check:
    r"""Ridge in closed form against a least-squares solver on the augmented system.

    The closed form solves the normal equations :math:`(X^TX + \alpha I)w = X^Ty`; the solver
    (LAPACK ``gelsd``, via the SVD of the design) minimises
    :math:`\|[X; \sqrt\alpha I]w - [y; 0]\|^2`, which equals
    :math:`\|Xw - y\|^2 + \alpha\|w\|^2`, and at ``alpha = 0`` is plain least squares on ``X``.
    Both are computed on an alpha grid starting at 0 and compared coefficient by coefficient.
    """
    X, y = _reg1_problem()
    # The penalty's 1/2 cancels the 2 of its derivative; without it, alpha counts twice.
    factor = choose(planted, 1.0, {"penalty without its 1/2": 2.0})
    closed = torch.stack([ridge_solution(X, y, factor * a) for a in REG1_ALPHAS])
    solver = torch.stack([_augmented_lstsq(X, y, a) for a in REG1_ALPHAS])
    # Normal equations lose about cond(X)^2 * eps of relative accuracy; allow 100 times that.
    cond = torch.linalg.cond(X).item()
    tol = 100 * cond**2 * torch.finfo(X.dtype).eps
    return compare(
        "REG-1",
        closed,
        solver,
        atol=tol * closed.abs().max().item(),
        analytic_label="(X^T X + alpha I)^-1 X^T y",
        empirical_label="lstsq on [X; sqrt(alpha) I]",
        note=(
            f"rows: alpha = {', '.join(f'{a:g}' for a in REG1_ALPHAS)} "
            "(the first row is unregularized least squares);\n    "
            f"tolerance 100 cond(X)^2 eps, cond(X) = {cond:.3g}"
        ),
    )


@subcheck(
    "REG-1",
    label="norm from the SVD",
    planted=(
        Planted(
            "fitted-value factor",
            "s_i^2/(s_i^2 + alpha), the shrink factor of the fitted values, for s_i/(s_i^2 + alpha)",
            kind="student",
        ),
    ),
)
def check_reg1_svd_norm(*, planted: str | None = None) -> Check:
    r"""The norm :math:`\|w(\alpha)\|` from the SVD formula against the solver's solution.

    With :math:`X = USV^T`,
    :math:`\|w(\alpha)\|^2 = \sum_i (s_i/(s_i^2+\alpha))^2 (u_i^Ty)^2`; the empirical side is
    the norm of the augmented least-squares solution.
    """
    X, y = _reg1_problem()
    U, S, _ = torch.linalg.svd(X, full_matrices=False)
    uy = U.T @ y
    # The coefficients' factor s_i/(s_i^2 + alpha), or the fitted values' s_i^2/(s_i^2 + alpha).
    power = choose(planted, 1, {"fitted-value factor": 2})
    formula = torch.stack(
        [
            ((S**power / (S**2 + a)) ** 2 * uy**2).sum().sqrt()
            for a in REG1_ALPHAS
        ]
    )
    solver = torch.stack(
        [_augmented_lstsq(X, y, a).norm() for a in REG1_ALPHAS]
    )
    shown = ", ".join(f"{n:.4g}" for n in solver.tolist())
    return compare(
        # One tolerance for every entry (1e-10 of the largest norm), so that the one printed does
        # not depend on which entry's rounding happens to be largest.
        "REG-1", formula, solver, atol=1e-10 * solver.max().item(),
        analytic_label="sqrt(sum (s_i/(s_i^2 + alpha))^2 (u_i^T y)^2)",
        empirical_label="||lstsq on [X; sqrt(alpha) I]||",
        note=f"alpha = {', '.join(f'{a:g}' for a in REG1_ALPHAS)}:\n    ||w(alpha)|| = {shown}",
    )


def _free_constant_solution(X: Tensor, y: Tensor, alpha: float) -> Tensor:
    """The minimiser with the constant coefficient unpenalised: (X^T X + alpha D)^-1 X^T y, D = diag(0, 1, ..., 1)."""
    D = torch.eye(X.shape[1], dtype=X.dtype)
    D[0, 0] = 0.0
    return torch.linalg.solve(X.T @ X + alpha * D, X.T @ y)


@subcheck(
    "REG-1",
    label="norm decreases strictly (fine grid)",
    planted=(
        Planted(
            "constant left unpenalised",
            "the norm of a fit whose constant coefficient is not penalised (scikit-learn's Ridge with "
            "fit_intercept=True): the free constant grows while the rest shrinks",
            kind="library",
        ),
    ),
)
def check_reg1_monotone(*, planted: str | None = None) -> Check:
    r"""Every successive decrease of :math:`\|w(\alpha)\|` along ``REG1_FINE`` is above 0.

    The norms are those of the augmented least-squares solutions (the solver of the first check).
    """
    X, y = _reg1_problem()
    solve = choose(
        planted,
        _augmented_lstsq,
        {"constant left unpenalised": _free_constant_solution},
    )
    norms = torch.stack([solve(X, y, a).norm() for a in REG1_FINE])
    return exceeds(
        "REG-1",
        -norms.diff(),
        0.0,
        value_label="||w(alpha_j)|| - ||w(alpha_j+1)||",
        bound_label="0",
        digits=4,
        note=f"{len(REG1_FINE)} values of alpha: 0, then log-spaced from 1e-4 to 100; "
        f"||w|| falls from {norms[0].item():.4g} to {norms[-1].item():.4g}",
    )
