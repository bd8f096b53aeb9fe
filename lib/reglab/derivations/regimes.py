"""Capacity, training regimes and the regularized objective (chapter ``regimes``).

- REG-1: in :math:`\\tilde J = J + \\alpha\\,\\Omega`, ``alpha = 0`` gives the unregularized
  least-squares solution, and the norm of the ridge solution decreases strictly as ``alpha``
  grows (closed form against a least-squares solver on the augmented system).
- REG-2 (experiment): the three regimes on polynomial regression with a known cubic
  generator: training error falls with the degree, test error is U-shaped (many seeds).
- REG-3 (experiment, beyond the lecture): the same capacity sweep with real networks on
  MNIST-1D, a big network with weight decay, and a big network memorising random labels.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_real, check_tensor
from ..data import Dataset, polynomial_regression
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked
from .core import Check, compare, derivation, experiment

__all__ = [
    "polynomial_features",
    "ridge_solution",
    "fit_polynomial",
    "RegimesResult",
    "polynomial_regimes",
    "CapacityResult",
    "train_width",
    "check_reg1",
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


def _check_design(X: Tensor, y: Tensor) -> None:
    check_tensor("X", X, ndim=2, floating=True, finite=True)
    check_tensor("y", y, ndim=1, floating=True, finite=True)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries")
    if X.dtype != y.dtype:
        raise TypeError(f"X and y must have the same dtype, but got {X.dtype} and {y.dtype}")


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
    _check_design(X, y)
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
    _check_design(X, y)
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


@derivation(
    "REG-1",
    chapter=CHAPTER,
    claim=(
        "With alpha = 0 the ridge solution is the unregularized least-squares solution, and its norm "
        "decreases strictly as alpha grows."
    ),
)
def check_reg1() -> Check:
    r"""Ridge in closed form against a least-squares solver on the augmented system.

    The closed form solves the normal equations :math:`(X^TX + \alpha I)w = X^Ty`; the solver
    (LAPACK ``gelsd``, via the SVD of the design) minimises
    :math:`\|[X; \sqrt\alpha I]w - [y; 0]\|^2`, which equals
    :math:`\|Xw - y\|^2 + \alpha\|w\|^2`, and at ``alpha = 0`` is plain least squares on ``X``.
    Both are computed on an alpha grid starting at 0 and compared coefficient by coefficient;
    the check passes only if, in addition, the norms decrease strictly along the grid.
    """
    data, _ = polynomial_regression(30, true_degree=3, seed=1)
    X = polynomial_features(data.x_train, 8)
    y = data.y_train
    closed = torch.stack([ridge_solution(X, y, a) for a in REG1_ALPHAS])
    solver = torch.stack([_augmented_lstsq(X, y, a) for a in REG1_ALPHAS])
    # Normal equations lose about cond(X)^2 * eps of relative accuracy; allow 100 times that.
    cond = torch.linalg.cond(X).item()
    tol = 100 * cond**2 * torch.finfo(X.dtype).eps
    norms_closed = closed.norm(dim=1)
    norms_solver = solver.norm(dim=1)
    decreasing = bool((norms_closed.diff() < 0).all() and (norms_solver.diff() < 0).all())
    shown = ", ".join(f"{n:.5g}" for n in norms_solver.tolist())
    check = compare(
        "REG-1",
        closed,
        solver,
        atol=tol * closed.abs().max().item(),
        analytic_label="(X^T X + alpha I)^-1 X^T y",
        empirical_label="lstsq on [X; sqrt(alpha) I]",
        note=(
            f"rows: alpha = {', '.join(f'{a:g}' for a in REG1_ALPHAS)} "
            "(the first row is unregularized least squares); "
            f"tolerance 100 cond(X)^2 eps with cond(X) = {cond:.3g}; "
            f"||w(alpha)|| = {shown}: strictly decreasing {'yes' if decreasing else 'NO'}"
        ),
    )
    return check if decreasing else dataclasses.replace(check, passed=False)


# ---------------------------------------------------------------------------------------------
# REG-2: polynomial regimes
# ---------------------------------------------------------------------------------------------
REG2 = experiment(
    "REG-2",
    chapter=CHAPTER,
    claim=(
        "Polynomial regression with a cubic generator: training error falls with the degree, test "
        "error is U-shaped with its minimum near degree 3 (20 seeds)."
    ),
)


@dataclass(frozen=True)
class RegimesResult:
    """Errors of least-squares polynomial fits of every degree, for many seeds.

    Attributes
    ----------
    degrees : numpy.ndarray of shape (D,)
    train_mse, test_mse : numpy.ndarray of shape (D, S)
        Mean squared errors, one column per seed (a fresh cubic and fresh samples).
    noise : float
        Standard deviation of the label noise: no model can have test MSE below ``noise**2``.
    """

    degrees: np.ndarray
    train_mse: np.ndarray
    test_mse: np.ndarray
    noise: float


def polynomial_regimes(
    degrees: Sequence[int],
    *,
    num_seeds: int = 20,
    n_train: int = 20,
    true_degree: int = 3,
    noise: float = 0.3,
    alpha: float = 0.0,
) -> RegimesResult:
    """Fit polynomials of each degree to ``num_seeds`` independent data sets.

    Parameters
    ----------
    degrees : sequence of int >= 0
        Capacities to try.
    num_seeds : int >= 2
        Independent repetitions (seeds 0, 1, ...): each draws a new generator and new data.
    n_train : int >= 1
        Training points per data set (the test set has 1000).
    true_degree : int >= 0
        Degree of the generating polynomial.
    noise : float >= 0
        Standard deviation of the label noise.
    alpha : float >= 0
        Ridge penalty weight (0: least squares).

    Returns
    -------
    RegimesResult

    Examples
    --------
    >>> r = polynomial_regimes([1, 3], num_seeds=2)
    >>> r.train_mse.shape
    (2, 2)
    """
    degrees = [check_int(f"degrees[{i}]", k, low=0) for i, k in enumerate(degrees)]
    if not degrees:
        raise ValueError("degrees must list at least one degree, but got an empty sequence")
    num_seeds = check_int("num_seeds", num_seeds, low=2)
    noise = check_real("noise", noise, low=0.0)
    train = np.zeros((len(degrees), num_seeds))
    test = np.zeros((len(degrees), num_seeds))
    for s in range(num_seeds):
        data, _ = polynomial_regression(n_train, true_degree=true_degree, noise=noise, seed=s)
        for i, k in enumerate(degrees):
            coef = fit_polynomial(data.x_train, data.y_train, k, alpha=alpha)
            train[i, s] = (polynomial_features(data.x_train, k) @ coef - data.y_train).pow(2).mean().item()
            test[i, s] = (polynomial_features(data.x_test, k) @ coef - data.y_test).pow(2).mean().item()
    return RegimesResult(np.asarray(degrees), train, test, noise)


# ---------------------------------------------------------------------------------------------
# REG-3: capacity of real networks
# ---------------------------------------------------------------------------------------------
REG3 = experiment(
    "REG-3",
    chapter=CHAPTER,
    claim=(
        "MLPs on 1000 MNIST-1D examples: training accuracy reaches 100 % as the width grows, test "
        "accuracy levels off; the widest net with weight decay does best, and it can also memorise "
        "random labels (5 seeds)."
    ),
)


@dataclass(frozen=True)
class CapacityResult:
    """Accuracies of ``S`` independently trained one-hidden-layer networks of one width.

    Attributes
    ----------
    width : int
    weight_decay : float
    shuffled_labels : bool
        Whether the training labels were randomly permuted (nothing left to learn).
    train_accuracy, test_accuracy : numpy.ndarray of shape (S,)
    """

    width: int
    weight_decay: float
    shuffled_labels: bool
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray


def train_width(
    data: Dataset,
    width: int,
    *,
    num_seeds: int = 5,
    config: TrainConfig | None = None,
    weight_decay: float = 0.0,
    shuffled_labels: bool = False,
) -> CapacityResult:
    """Train ``num_seeds`` MLPs with one hidden layer of ``width`` units at once.

    Parameters
    ----------
    data : Dataset
        A classification data set (``num_classes > 0``).
    width : int >= 1
        Hidden units.
    num_seeds : int >= 2
        Members of one :class:`~reglab.training.StackedMLP`, each its own initialisation and
        minibatch order.
    config : TrainConfig, optional
        Default: 40 epochs of SGD with momentum, rate 0.05, batches of 50.
    weight_decay : float >= 0
        L2 penalty weight on the weight matrices (biases are not decayed).
    shuffled_labels : bool
        Train on a fixed random permutation of the training labels (Zhang et al. 2017);
        the test set keeps its true labels.

    Returns
    -------
    CapacityResult

    Examples
    --------
    >>> from reglab import digits
    >>> r = train_width(digits().subset(100), 4, num_seeds=2, config=TrainConfig(epochs=1))
    >>> r.test_accuracy.shape
    (2,)
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    width = check_int("width", width, low=1)
    num_seeds = check_int("num_seeds", num_seeds, low=2)
    weight_decay = check_real("weight_decay", weight_decay, low=0.0)
    if not isinstance(shuffled_labels, bool):
        raise TypeError(f"shuffled_labels must be True or False, but got {shuffled_labels!r}")
    config = config or TrainConfig(epochs=40, lr=0.05, batch_size=50, momentum=0.9)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    y = data.y_train
    if shuffled_labels:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(config.seed))]
    sizes = (data.x_train.shape[1], width, data.num_classes)
    model = StackedMLP(num_seeds, sizes, seed=config.seed, dtype=data.x_train.dtype)
    fit_stacked(model, data.x_train, y, config=config, weight_decay=weight_decay)
    train = evaluate_stacked(model, data.x_train, y)["accuracy"].numpy()
    test = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"].numpy()
    return CapacityResult(width, weight_decay, shuffled_labels, train, test)
