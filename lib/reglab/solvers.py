"""Minimisers that only evaluate gradients, to a tight gradient tolerance.

Derivation checkers compare a closed form against an independent computation; a minimiser
that knows nothing of the closed form and stops only when the gradient is below a stated
tolerance is such a computation (the minimiser of :math:`J + \\tfrac{\\alpha}{2}\\|w\\|^2`,
of an L1-penalised objective, of a noise-averaged loss ...).

- :func:`lbfgs_minimise`: SciPy's L-BFGS-B on any smooth function of one parameter vector;
- :func:`heavy_ball_minimise`: Polyak's heavy-ball method for a strongly convex function whose
  curvature bounds are known.

Both warn with ``NOT_CONVERGED`` (a ``RuntimeWarning``) when they stop before the largest
gradient entry reaches ``grad_tol``; tests match that constant.
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ._validation import check_int, check_quadratic, check_real, check_tensor
from .penalties import l1_step, soft_threshold

__all__ = ["brute_force_l1", "heavy_ball_minimise", "lbfgs_minimise", "proximal_gradient", "subgradient_descent"]

#: Emitted by the minimisers when they stop with the gradient still above ``grad_tol``.
NOT_CONVERGED = "the minimiser stopped before the largest gradient entry reached grad_tol"


def lbfgs_minimise(
    objective: Callable[[Tensor], Tensor],
    w0: Tensor,
    *,
    grad_tol: float = 1e-10,
    max_iter: int = 5000,
    history_size: int = 50,
) -> tuple[Tensor, float]:
    r"""Minimise a smooth function of one flat parameter vector to a tight gradient tolerance.

    Parameters
    ----------
    objective : callable
        ``objective(w)`` returns a scalar tensor, differentiable by autograd.
    w0 : Tensor of shape (n,)
        Starting point (float64 recommended: the tolerance is far below float32's resolution).
    grad_tol : float > 0
        Stop when :math:`\|\nabla f(w)\|_\infty \le` ``grad_tol``.
    max_iter : int >= 1
        Iteration budget.
    history_size : int >= 1
        Curvature pairs kept by L-BFGS.

    Returns
    -------
    (w, grad_norm) : (Tensor of shape (n,), float)
        The minimiser found (detached, dtype of ``w0``) and the largest absolute entry of the
        gradient there. ``RuntimeWarning(NOT_CONVERGED)`` if that is above ``grad_tol``.

    Notes
    -----
    SciPy's L-BFGS-B (Byrd, Lu, Nocedal and Zhu 1995), full batch, with the gradient from
    autograd and no stopping rule on the decrease of ``f``, so that it runs until the gradient
    test passes. (``torch.optim.LBFGS`` stalls near a gradient of 1e-9: its line search and its
    curvature update have fixed absolute thresholds.) For a :math:`\mu`-strongly convex
    objective the distance to the minimiser is at most :math:`\sqrt n\,` ``grad_tol`` :math:`/\mu`.

    Examples
    --------
    >>> w, g = lbfgs_minimise(lambda w: (w - 3.0).pow(2).sum(), torch.zeros(2, dtype=torch.float64))
    >>> w.round(decimals=8).tolist()
    [3.0, 3.0]
    >>> g <= 1e-10
    True
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    if not callable(objective):
        raise TypeError(f"objective must be callable, but got {type(objective).__name__}")
    check_tensor("w0", w0, ndim=1, floating=True, finite=True)
    grad_tol = check_real("grad_tol", grad_tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    history_size = check_int("history_size", history_size, low=1)
    dtype = w0.dtype

    def value_and_grad(x: np.ndarray):
        w = torch.tensor(x, dtype=dtype, requires_grad=True)
        value = objective(w)
        (grad,) = torch.autograd.grad(value, w)
        return value.item(), grad.detach().to(torch.float64).numpy()

    # L-BFGS-B's vector work is a few hundred numbers: on more than one BLAS thread it waits for
    # the threads far longer than it computes (20 ms instead of 0.3 ms an iteration on two busy
    # cores, measured with n = 170).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            value_and_grad, w0.detach().to(torch.float64).numpy(), jac=True, method="L-BFGS-B",
            options={"gtol": grad_tol, "ftol": 0.0, "maxiter": max_iter, "maxcor": history_size, "maxls": 50},
        )
    w = torch.tensor(result.x, dtype=dtype)
    grad_norm = float(np.abs(value_and_grad(result.x)[1]).max())
    if grad_norm > grad_tol:
        warnings.warn(NOT_CONVERGED, RuntimeWarning, stacklevel=2)
    return w, grad_norm


def heavy_ball_minimise(
    objective: Callable[[Tensor], Tensor],
    w0: Tensor,
    *,
    L: float,
    mu: float,
    grad_tol: float = 1e-13,
    max_steps: int = 20000,
) -> tuple[Tensor, float]:
    r"""Minimise a smooth, strongly convex function with Polyak's heavy-ball method.

    Parameters
    ----------
    objective : callable
        ``objective(w)`` returns a scalar tensor; only its autograd gradient is used.
    w0 : Tensor of shape (n,)
        Starting point.
    L, mu : float, L >= mu > 0
        Upper and lower bounds on the curvature (the Hessian's eigenvalues).
    grad_tol : float > 0
        Stop when :math:`\|\nabla f(w)\|_\infty \le` ``grad_tol``.
    max_steps : int >= 1
        Step budget; if it runs out first, ``RuntimeWarning(NOT_CONVERGED)``.

    Returns
    -------
    (w, grad_norm) : (Tensor of shape (n,), float)
        The point reached and its largest absolute gradient entry.

    Notes
    -----
    :math:`w_{t+1} = w_t - \eta\nabla f(w_t) + \beta(w_t - w_{t-1})` with
    :math:`\eta = 4/(\sqrt L+\sqrt\mu)^2` and
    :math:`\beta = ((\sqrt L-\sqrt\mu)/(\sqrt L+\sqrt\mu))^2` (Polyak 1964). On a quadratic
    the error contracts by :math:`(\sqrt\kappa-1)/(\sqrt\kappa+1)` per step,
    :math:`\kappa = L/\mu`, and the distance to the minimiser is at most
    :math:`\|\nabla f\|_2/\mu`. The method only ever evaluates gradients: it knows
    nothing of a closed form.

    Examples
    --------
    >>> f = lambda w: (w - 3.0).pow(2).sum()
    >>> w, g = heavy_ball_minimise(f, torch.zeros(2, dtype=torch.float64), L=2.0, mu=2.0)
    >>> w.round(decimals=8).tolist()
    [3.0, 3.0]
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable, but got {type(objective).__name__}")
    check_tensor("w0", w0, ndim=1, floating=True, finite=True)
    mu = check_real("mu", mu, low=0.0, low_open=True)
    L = check_real("L", L, low=mu)
    grad_tol = check_real("grad_tol", grad_tol, low=0.0, low_open=True)
    max_steps = check_int("max_steps", max_steps, low=1)
    lr = 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2
    beta = ((math.sqrt(L) - math.sqrt(mu)) / (math.sqrt(L) + math.sqrt(mu))) ** 2
    w, previous = w0.detach().clone(), w0.detach().clone()
    for _ in range(max_steps):
        x = w.requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(x), x)
        w = w.detach()
        if grad.abs().max().item() <= grad_tol:
            return w, grad.abs().max().item()
        w, previous = w - lr * grad + beta * (w - previous), w
    x = w.requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(x), x)
    grad_norm = grad.abs().max().item()
    if grad_norm > grad_tol:
        warnings.warn(NOT_CONVERGED, RuntimeWarning, stacklevel=2)
    return w.detach(), grad_norm


# ---- the L1-penalised quadratic: exact minimiser, proximal gradient, subgradient descent -------


def brute_force_l1(H: Tensor, w_star: Tensor, alpha: float) -> Tensor:
    r"""Exact minimiser of :math:`\tfrac12(w-w^*)^T H (w-w^*) + \alpha\|w\|_1` by enumeration.

    Tries all :math:`3^n` sign patterns :math:`s \in \{-1, 0, +1\}^n`: the coordinates with
    :math:`s_i = 0` are fixed at zero, the others solve :math:`H_{AA} w_A = (H w^*)_A - \alpha s_A`;
    of the patterns whose solution has the signs assumed, the lowest objective wins. Only positive
    definiteness of ``H`` (n, n), n <= 10, is used: it need not be diagonal. Returns a float64
    Tensor of shape (n,) with exact zeros.

    Examples
    --------
    >>> H = torch.eye(2, dtype=torch.float64)
    >>> brute_force_l1(H, torch.tensor([2.0, -0.3], dtype=torch.float64), 0.5)
    tensor([1.5000, 0.0000], dtype=torch.float64)
    """
    check_quadratic(H, w_star, positive_definite=True)
    alpha = check_real("alpha", alpha, low=0.0)
    n = w_star.shape[0]
    if n > 10:
        raise ValueError(f"brute_force_l1 enumerates 3^n sign patterns: n must be <= 10, but got {n}")
    Hn = H.detach().cpu().numpy().astype(np.float64)
    ws = w_star.detach().cpu().numpy().astype(np.float64)
    b = Hn @ ws

    def objective(w):
        r = w - ws
        return 0.5 * r @ Hn @ r + alpha * np.abs(w).sum()

    best_w, best_f = np.zeros(n), objective(np.zeros(n))
    for signs in itertools.product((-1.0, 0.0, 1.0), repeat=n):
        s = np.asarray(signs)
        active = s != 0
        if not active.any():
            continue
        w = np.zeros(n)
        w[active] = np.linalg.solve(Hn[np.ix_(active, active)], b[active] - alpha * s[active])
        if np.all(np.sign(w[active]) == s[active]):
            f = objective(w)
            if f < best_f:
                best_w, best_f = w, f
    return torch.as_tensor(best_w, dtype=torch.float64)


def _iterate(step, w0: Tensor, steps: int) -> Tensor:
    """``w0`` and the ``steps`` iterates of ``w <- step(w)`` after it, stacked: shape (steps + 1, n)."""
    w, path = w0, [w0]
    for _ in range(steps):
        w = step(w)
        path.append(w)
    return torch.stack(path)


def _solver_args(H, w_star, alpha, steps, w0):
    eigvals = check_quadratic(H, w_star, positive_definite=True)
    alpha, steps = check_real("alpha", alpha, low=0.0), check_int("steps", steps, low=0)
    if w0 is None:
        return eigvals, alpha, steps, torch.zeros_like(w_star)
    check_tensor("w0", w0, ndim=1, floating=True, finite=True)
    if w0.shape != w_star.shape:
        raise ValueError(f"w0 must have the shape of w_star {tuple(w_star.shape)}, but got {tuple(w0.shape)}")
    return eigvals, alpha, steps, w0.to(w_star.dtype)


def proximal_gradient(H: Tensor, w_star: Tensor, alpha: float, *, steps: int, lr: float | None = None,
                      w0: Tensor | None = None) -> Tensor:
    r"""ISTA on :math:`\tfrac12(w-w^*)^T H (w-w^*) + \alpha\|w\|_1`: a gradient step, then a soft threshold.

    Parameters
    ----------
    H, w_star : Tensors of shape (n, n), symmetric positive definite, and (n,)
    alpha : float >= 0
    steps : int >= 0
    lr : float > 0, optional
        Step size; default :math:`1/\lambda_{\max}(H)`, which guarantees convergence.
    w0 : Tensor of shape (n,), optional
        Starting point (default zero).

    Returns
    -------
    Tensor of shape (steps + 1, n)
        The iterates :math:`w^{(t+1)} = \mathrm{soft}(w^{(t)} - \epsilon H(w^{(t)} - w^*), \epsilon\alpha)`
        (Daubechies, Defrise and De Mol 2004): exact zeros, unlike :func:`subgradient_descent`.

    Examples
    --------
    >>> H = torch.eye(2, dtype=torch.float64)
    >>> proximal_gradient(H, torch.tensor([2.0, -0.3], dtype=torch.float64), 0.5, steps=1)[-1]
    tensor([1.5000, -0.0000], dtype=torch.float64)
    """
    eigvals, alpha, steps, w0 = _solver_args(H, w_star, alpha, steps, w0)
    lr = 1.0 / float(eigvals.max()) if lr is None else check_real("lr", lr, low=0.0, low_open=True)
    return _iterate(lambda w: soft_threshold(w - lr * (H @ (w - w_star)), lr * alpha), w0, steps)


def subgradient_descent(H: Tensor, w_star: Tensor, alpha: float, *, steps: int, lr: float,
                        w0: Tensor | None = None) -> Tensor:
    r"""The lecture's :math:`w \leftarrow w - \epsilon(\nabla J(w) + \alpha\,\mathrm{sign}(w))` on the quadratic.

    Arguments as :func:`proximal_gradient` (``lr`` > 0 required). Returns the iterates, shape
    (steps + 1, n), each made by :func:`reglab.penalties.l1_step`.
    """
    _, alpha, steps, w0 = _solver_args(H, w_star, alpha, steps, w0)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    return _iterate(lambda w: l1_step(w, H @ (w - w_star), lr=lr, alpha=alpha), w0, steps)
