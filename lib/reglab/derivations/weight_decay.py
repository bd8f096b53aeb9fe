"""Weight decay, the L2 penalty: closed forms and derivation checks (chapter ``weight_decay``).

- WD-1: the gradient of :math:`\\tfrac{\\alpha}{2}\\|w\\|^2` is :math:`\\alpha w` (autograd).
- WD-2: one gradient step on :math:`\\tilde J` is :math:`(1-\\epsilon\\alpha)w - \\epsilon\\nabla J`,
  which is what ``torch.optim.SGD(weight_decay=alpha)`` does; with Adam, L2 in the loss and
  decoupled decay (AdamW) are different updates.
- WD-3: on a quadratic cost the minimiser of :math:`J + \\tfrac{\\alpha}{2}\\|w\\|^2` is
  :math:`(H+\\alpha I)^{-1}Hw^*` (:func:`l2_solution`; closed form against the heavy-ball
  method, which only evaluates gradients).
- WD-4: in the eigenbasis of :math:`H` each coordinate of :math:`w^*` is multiplied by
  :math:`\\lambda_i/(\\lambda_i+\\alpha)` (:func:`shrink_factors`).
- WD-5 (experiment, beyond the lecture): the quadratic model's prediction for a real trained
  network's layer, from its Hessian, against retraining with weight decay.
- WD-6 (experiment): a weight-decay sweep on MNIST-1D, test accuracy and weight norm.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int, check_real, check_tensor
from ..data import Dataset, quadratic_problem
from ..penalties import l2_penalty, weight_decay_step
from ..training import StackedMLP, TrainConfig, accuracy, evaluate_stacked, fit, fit_stacked
from .core import Check, compare, derivation, experiment

__all__ = [
    "l2_solution",
    "shrink_factors",
    "lbfgs_minimise",
    "heavy_ball_minimise",
    "wd_problem",
    "wd2_problem",
    "HessianPredictionConfig",
    "HessianPrediction",
    "predict_and_retrain",
    "SweepResult",
    "weight_decay_sweep",
    "check_wd1",
    "check_wd2",
    "check_wd3",
    "check_wd4",
]

CHAPTER = "weight_decay"

#: Emitted by the minimisers when they stop with the gradient still above ``grad_tol``.
NOT_CONVERGED = "the minimiser stopped before the largest gradient entry reached grad_tol"


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------
def _check_hessian(H: Tensor, w_star: Tensor) -> Tensor:
    """Validate (H, w*) and return the eigenvalues of H."""
    check_tensor("H", H, ndim=2, floating=True, finite=True)
    check_tensor("w_star", w_star, ndim=1, floating=True, finite=True)
    n = w_star.shape[0]
    if H.shape != (n, n):
        raise ValueError(
            f"H must be square with the size of w_star ({n}, {n}), but got shape {tuple(H.shape)}"
        )
    if H.dtype != w_star.dtype:
        raise TypeError(f"H and w_star must have the same dtype, but got {H.dtype} and {w_star.dtype}")
    scale = H.abs().max().item()
    if (H - H.T).abs().max().item() > 1e-10 * max(scale, 1e-300):
        raise ValueError(
            "H must be symmetric (it is a Hessian), but H - H^T has entries above 1e-10 * max|H|"
        )
    eig = torch.linalg.eigvalsh(H)
    if eig[0].item() < -1e-10 * max(scale, 1e-300):
        raise ValueError(
            "H must be positive semi-definite (w_star a minimum of J), "
            f"but its smallest eigenvalue is {eig[0].item():.3g}"
        )
    return eig


def l2_solution(H: Tensor, w_star: Tensor, alpha: float) -> Tensor:
    r"""Minimiser of the quadratic model of :math:`J` plus :math:`\tfrac{\alpha}{2}\|w\|^2`.

    Parameters
    ----------
    H : Tensor of shape (n, n)
        Hessian of :math:`J` at its minimum :math:`w^*`: symmetric positive semi-definite.
    w_star : Tensor of shape (n,)
        Minimiser of the unregularized cost (same dtype as ``H``).
    alpha : float >= 0
        Penalty weight; ``alpha = 0`` needs ``H`` positive definite.

    Returns
    -------
    Tensor of shape (n,)
        :math:`\tilde w = (H + \alpha I)^{-1} H w^*`.

    Notes
    -----
    With :math:`J(w) \approx J(w^*) + \tfrac12 (w-w^*)^T H (w-w^*)`, the gradient of the
    regularized objective is :math:`H(w - w^*) + \alpha w`; setting it to zero gives
    :math:`(H+\alpha I)\tilde w = H w^*` (lecture, "L2 penalty: analysis"; Goodfellow et al.
    2016, eq. 7.10).

    Examples
    --------
    >>> H = torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64))
    >>> l2_solution(H, torch.tensor([1.0, 1.0], dtype=torch.float64), 1.0)
    tensor([0.5000, 0.8000], dtype=torch.float64)
    """
    eig = _check_hessian(H, w_star)
    alpha = check_real("alpha", alpha, low=0.0)
    if eig[0].item() + alpha <= 1e-12 * max(eig[-1].item(), 1e-300):
        raise ValueError("H + alpha*I is singular: alpha = 0 needs H positive definite (an isolated minimum)")
    A = H + alpha * torch.eye(H.shape[0], dtype=H.dtype)
    return torch.linalg.solve(A, H @ w_star)


def shrink_factors(eigvals: Tensor, alpha: float) -> Tensor:
    r"""Factor by which weight decay scales the coordinate of :math:`w^*` along each eigenvector.

    Parameters
    ----------
    eigvals : Tensor of any shape, entries > 0
        Eigenvalues :math:`\lambda_i` of the Hessian :math:`H`.
    alpha : float >= 0
        Penalty weight.

    Returns
    -------
    Tensor of the shape of ``eigvals``
        :math:`\lambda_i / (\lambda_i + \alpha)`, in (0, 1]: near 1 where
        :math:`\lambda_i \gg \alpha` (kept), near 0 where :math:`\lambda_i \ll \alpha` (killed).

    Notes
    -----
    With :math:`H = Q\Lambda Q^T`, :math:`\tilde w = Q(\Lambda+\alpha I)^{-1}\Lambda Q^T w^*`
    (lecture, "L2 penalty: analysis"), so
    :math:`q_i^T\tilde w = \frac{\lambda_i}{\lambda_i+\alpha} q_i^T w^*`.

    Examples
    --------
    >>> shrink_factors(torch.tensor([0.01, 1.0, 100.0], dtype=torch.float64), 1.0)
    tensor([0.0099, 0.5000, 0.9901], dtype=torch.float64)
    """
    check_tensor("eigvals", eigvals, floating=True, finite=True)
    if eigvals.numel() and not (eigvals > 0).all():
        raise ValueError(
            f"eigvals must all be > 0 (H positive definite), but the smallest is {eigvals.min().item():.3g}"
        )
    alpha = check_real("alpha", alpha, low=0.0)
    return eigvals / (eigvals + alpha)


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
    """
    from scipy.optimize import minimize

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

    result = minimize(
        value_and_grad, w0.detach().to(torch.float64).numpy(), jac=True, method="L-BFGS-B",
        options={"gtol": grad_tol, "ftol": 0.0, "maxiter": max_iter, "maxcor": history_size, "maxls": 50},
    )
    w = torch.tensor(result.x, dtype=dtype)
    grad_norm = float(np.abs(value_and_grad(result.x)[1]).max())
    if grad_norm > grad_tol:
        warnings.warn(NOT_CONVERGED, RuntimeWarning, stacklevel=2)
    return w, grad_norm


def _quadratic(H: Tensor, w_star: Tensor) -> Callable[[Tensor], Tensor]:
    """J(w) = 1/2 (w - w*)^T H (w - w*), the quadratic model with J(w*) = 0."""
    return lambda w: 0.5 * (w - w_star) @ H @ (w - w_star)


# ---------------------------------------------------------------------------------------------
# WD-1, WD-2: the penalty's gradient and the update rule
# ---------------------------------------------------------------------------------------------
@derivation(
    "WD-1",
    chapter=CHAPTER,
    claim="The gradient of (alpha/2)*||w||^2 is alpha*w (biases, not penalized, get 0).",
)
def check_wd1() -> Check:
    """Autograd through ``alpha * l2_penalty(model)`` against ``alpha * w`` (0 for the bias)."""
    alpha = 0.3
    g = torch.Generator().manual_seed(11)
    with torch.random.fork_rng():  # nn.Linear's own initialisation must not move the caller's RNG
        layer = nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(3, 5, generator=g, dtype=torch.float64))
        layer.bias.copy_(torch.randn(3, generator=g, dtype=torch.float64))
    grads = torch.autograd.grad(alpha * l2_penalty(layer), [layer.weight, layer.bias], allow_unused=True)
    grads = [torch.zeros_like(p) if gr is None else gr for p, gr in zip([layer.weight, layer.bias], grads)]
    analytic = torch.cat([alpha * layer.weight.detach().reshape(-1), torch.zeros(3, dtype=torch.float64)])
    autograd = torch.cat([gr.reshape(-1) for gr in grads])
    return compare(
        "WD-1", analytic, autograd, rtol=1e-15, atol=1e-15,
        analytic_label="alpha*w (bias: 0)", empirical_label="autograd of alpha*l2_penalty",
        note="a 3x5 weight matrix and a bias of 3; alpha = 0.3; agreement to rounding (a few ulp)",
    )


def _adam_first_step(
    w: Tensor, grad: Tensor, *, lr: float, alpha: float, decoupled: bool, eps: float = 1e-8
) -> Tensor:
    """First Adam step in closed form: the bias-corrected moments are g and g^2.

    L2 in the loss (``decoupled=False``) feeds g = grad + alpha*w to Adam; AdamW shrinks
    w by (1 - lr*alpha) and feeds grad alone (Loshchilov and Hutter 2019).
    """
    if decoupled:
        return (1 - lr * alpha) * w - lr * grad / (grad.abs() + eps)
    g = grad + alpha * w
    return w - lr * g / (g.abs() + eps)


def _one_step(make_opt, w: Tensor, loss_fn) -> Tensor:
    p = nn.Parameter(w.clone())
    opt = make_opt([p])
    opt.zero_grad()
    loss_fn(p).backward()
    opt.step()
    return p.detach()


def wd2_problem(seed: int = 5) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """The small problem of WD-2: a 4x3 weight matrix and a least-squares cost (float64).

    Parameters
    ----------
    seed : int >= 0

    Returns
    -------
    (W, J) : (Tensor of shape (4, 3), callable)
        Starting weights and :math:`J(W) = \\tfrac{1}{2n}\\sum_j \\|W x_j - y_j\\|^2` over 20
        random pairs :math:`x_j \\in R^3`, :math:`y_j \\in R^4`.

    Examples
    --------
    >>> W, J = wd2_problem()
    >>> W.shape, J(W).dim()
    (torch.Size([4, 3]), 0)
    """
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    X = torch.randn(20, 3, generator=g, dtype=torch.float64)
    Y = torch.randn(20, 4, generator=g, dtype=torch.float64)
    W = torch.randn(4, 3, generator=g, dtype=torch.float64)
    return W, (lambda W_: 0.5 * (X @ W_.T - Y).pow(2).sum(1).mean())


WD2_LR, WD2_ALPHA = 0.1, 0.5


@derivation(
    "WD-2",
    chapter=CHAPTER,
    claim=(
        "One SGD step on J + (alpha/2)||w||^2 is (1 - eps*alpha)w - eps*grad J, as "
        "torch.optim.SGD(weight_decay=alpha) does; with Adam, L2 in the loss and AdamW's decoupled "
        "decay give different steps."
    ),
)
def check_wd2() -> Check:
    r"""The shrink-then-step rule against torch's optimizers, and Adam's two forms of decay.

    Analytic (closed forms): :func:`~reglab.penalties.weight_decay_step` twice, then the first
    Adam step with L2 in the loss and the first AdamW step. Empirical (torch):
    ``SGD(weight_decay=alpha)`` on :math:`J`; plain ``SGD`` on :math:`J + \alpha\,`
    ``l2_penalty`` by autograd; ``Adam(weight_decay=alpha)``; ``AdamW(weight_decay=alpha)``.
    """
    W, J = wd2_problem()
    lr, alpha = WD2_LR, WD2_ALPHA
    Wp = nn.Parameter(W.clone())
    (grad,) = torch.autograd.grad(J(Wp), Wp)
    rule = weight_decay_step(W, grad, lr=lr, alpha=alpha)
    analytic = [
        rule,
        rule,
        _adam_first_step(W, grad, lr=lr, alpha=alpha, decoupled=False),
        _adam_first_step(W, grad, lr=lr, alpha=alpha, decoupled=True),
    ]
    empirical = [
        _one_step(lambda p: torch.optim.SGD(p, lr=lr, weight_decay=alpha), W, J),
        _one_step(lambda p: torch.optim.SGD(p, lr=lr), W, lambda p: J(p) + alpha * l2_penalty([p])),
        _one_step(lambda p: torch.optim.Adam(p, lr=lr, weight_decay=alpha), W, J),
        _one_step(lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=alpha), W, J),
    ]
    gap = (analytic[2] - analytic[3]).abs().max().item()
    return compare(
        "WD-2",
        torch.stack(analytic),
        torch.stack(empirical),
        # One step is a few floating-point operations (rounding ~1e-16); the margin keeps the
        # printed error below the display floor whatever the thread count.
        rtol=1e-11,
        atol=1e-12,
        analytic_label="(1 - eps*alpha)w - eps*grad J; Adam first steps",
        empirical_label="torch SGD(weight_decay), SGD on J~, Adam, AdamW",
        note=(
            f"blocks of 12: rule vs SGD(weight_decay=alpha) | rule vs SGD on J + alpha*l2_penalty | "
            f"Adam with L2 in the loss | AdamW; eps = {lr:g}, alpha = {alpha:g}; "
            f"Adam-L2 and AdamW steps differ by up to {gap:.4f}"
        ),
    )


# ---------------------------------------------------------------------------------------------
# WD-3, WD-4: the quadratic analysis
# ---------------------------------------------------------------------------------------------
WD3_ALPHAS = (0.01, 0.1, 1.0)


def wd_problem() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The quadratic problem of WD-3 and WD-4: 6 dimensions, eigenvalues 0.01 to 10.

    Returns
    -------
    (H, w_star, Q, eigenvalues)
        As :func:`~reglab.data.quadratic_problem` with ``dim=6, seed=3``.
    """
    return quadratic_problem(6, seed=3)


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


def _solve_iteratively(H: Tensor, w_star: Tensor, alpha: float) -> Tensor:
    """Minimise J + alpha * l2_penalty by heavy ball; the spectrum of H only sets the step."""
    J = _quadratic(H, w_star)
    eig = torch.linalg.eigvalsh(H)
    w, _ = heavy_ball_minimise(
        lambda w: J(w) + alpha * l2_penalty([w]), torch.zeros_like(w_star),
        L=eig.max().item() + alpha, mu=eig.min().item() + alpha, grad_tol=GRAD_TOL,
    )
    return w


GRAD_TOL = 1e-13


@derivation(
    "WD-3",
    chapter=CHAPTER,
    claim=(
        "On a quadratic cost with Hessian H and minimum w*, the minimiser of J + (alpha/2)||w||^2 "
        "is (H + alpha I)^-1 H w*."
    ),
)
def check_wd3() -> Check:
    """``l2_solution`` against the heavy-ball method on the regularized objective, three alphas (float64)."""
    H, w_star, _, eig = wd_problem()
    closed = torch.stack([l2_solution(H, w_star, a) for a in WD3_ALPHAS])
    solver = torch.stack([_solve_iteratively(H, w_star, a) for a in WD3_ALPHAS])
    mu = eig.min().item() + min(WD3_ALPHAS)
    bound = math.sqrt(len(w_star)) * GRAD_TOL / mu
    return compare(
        "WD-3", closed, solver, atol=1e-10,
        analytic_label="(H + alpha I)^-1 H w*", empirical_label="heavy ball on J + alpha*l2_penalty",
        note=(
            f"rows: alpha = {', '.join(f'{a:g}' for a in WD3_ALPHAS)}; the solver (autograd gradients "
            f"only) stops at |grad|_inf <= {GRAD_TOL:.0e}; strong convexity "
            f"(mu = lambda_min + alpha >= {mu:g}) bounds its distance "
            f"to the minimiser by sqrt(6) * {GRAD_TOL:.0e} / mu = {bound:.1e} < 1e-10"
        ),
    )


WD4_ALPHA = 0.1


@derivation(
    "WD-4",
    chapter=CHAPTER,
    claim=(
        "Along eigenvector i of H, weight decay scales the coordinate of w* by "
        "lambda_i/(lambda_i + alpha): kept where lambda_i >> alpha, killed where lambda_i << alpha."
    ),
)
def check_wd4() -> Check:
    r"""Shrink factors against the coordinates of an iteratively found minimiser in the eigenbasis.

    The eigenvectors come from ``torch.linalg.eigh(H)``; the ratio
    :math:`q_i^T\tilde w / q_i^T w^*` is measured on the minimiser found by the heavy-ball
    method, which never uses the closed form.
    """
    H, w_star, _, _ = wd_problem()
    lam, Q = torch.linalg.eigh(H)
    w_tilde = _solve_iteratively(H, w_star, WD4_ALPHA)
    coords = Q.T @ w_star
    measured = (Q.T @ w_tilde) / coords
    # |q_i^T (w_solver - w~)| <= ||w_solver - w~|| <= 1e-10 (as in WD-3), divided by |q_i^T w*|.
    atol = float(f"{1e-10 / coords.abs().min().item():.1e}")
    return compare(
        "WD-4", shrink_factors(lam, WD4_ALPHA), measured, atol=atol,
        analytic_label="lambda_i/(lambda_i + alpha)", empirical_label="(q_i^T w~)/(q_i^T w*), heavy ball",
        note=(
            f"alpha = {WD4_ALPHA:g}; lambda = {', '.join(f'{v:.3g}' for v in lam.tolist())}; "
            "tolerance = 1e-10 "
            f"(solver accuracy, WD-3) / min_i |q_i^T w*| = 1e-10 / {coords.abs().min().item():.3g}"
        ),
    )


# ---------------------------------------------------------------------------------------------
# WD-5: the quadratic model of a real network's layer
# ---------------------------------------------------------------------------------------------
WD5 = experiment(
    "WD-5",
    chapter=CHAPTER,
    claim=(
        "For the output layer of a small network trained on MNIST-1D, (H + alpha I)^-1 H w* from the "
        "Hessian at the unregularized minimum predicts the weights found by retraining with weight "
        "decay: closely for small alpha, over-shrinking as alpha grows."
    ),
)


@dataclass(frozen=True)
class HessianPredictionConfig:
    """Settings of :func:`predict_and_retrain`.

    Attributes
    ----------
    hidden : int
        Hidden tanh units of the network.
    epochs, lr, batch_size : int, float, int
        SGD training of the whole network before its output layer is studied.
    alphas : tuple of float
        Penalty weights to predict and retrain.
    grad_tol : float
        L-BFGS tolerance on the largest gradient entry of the output layer's objective.
    seed : int
        Initialisation and minibatch order.
    """

    hidden: int = 16
    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 100
    alphas: tuple = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    grad_tol: float = 1e-8
    seed: int = 0

    def __post_init__(self):
        check_int("hidden", self.hidden, low=1)
        check_int("epochs", self.epochs, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size, low=1)
        if len(self.alphas) == 0:
            raise ValueError("alphas must list at least one penalty weight, but got an empty tuple")
        for i, a in enumerate(self.alphas):
            check_real(f"alphas[{i}]", a, low=0.0, low_open=True)
        check_real("grad_tol", self.grad_tol, low=0.0, low_open=True)
        check_int("seed", self.seed, low=0)


@dataclass(frozen=True)
class HessianPrediction:
    """What :func:`predict_and_retrain` measured.

    Attributes
    ----------
    alphas : numpy.ndarray of shape (A,)
    w_star : Tensor of shape (p,)
        Unregularized minimum of the output layer (weights and bias of each class, flattened).
    eigvals : Tensor of shape (p,)
        Eigenvalues of the Hessian at ``w_star`` (ascending; the smallest are zero).
    eigvecs : Tensor of shape (p, p)
        Matching eigenvectors as columns.
    predicted, retrained : Tensor of shape (A, p)
        :math:`(H+\\alpha I)^{-1}Hw^*`, and the minimiser of
        :math:`J + \\tfrac{\\alpha}{2}\\|w\\|^2` found by L-BFGS.
    test_accuracy_star : float
    test_accuracy_predicted, test_accuracy_retrained : numpy.ndarray of shape (A,)
    train_accuracy_network : float
        Training accuracy of the SGD-trained network the layer comes from.
    curvature_ratio : numpy.ndarray of shape (A,)
        :math:`d^T H(\\tilde w) d \\,/\\, d^T H(w^*) d` along the move :math:`d = \\tilde w - w^*`
        of the retrained weights: how much more (> 1) the true cost curves at the retrained
        point than the quadratic model, fitted at :math:`w^*`, assumes.
    """

    alphas: np.ndarray
    w_star: Tensor
    eigvals: Tensor
    eigvecs: Tensor
    predicted: Tensor
    retrained: Tensor
    test_accuracy_star: float
    test_accuracy_predicted: np.ndarray
    test_accuracy_retrained: np.ndarray
    train_accuracy_network: float
    curvature_ratio: np.ndarray

    def relative_error(self) -> np.ndarray:
        """Error relative to the move, per alpha.

        :math:`\\|w_{pred} - w_{retrain}\\| / \\|w_{retrain} - w^*\\|`, shape (A,).
        """
        move = (self.retrained - self.w_star).norm(dim=1)
        return ((self.predicted - self.retrained).norm(dim=1) / move).numpy()

    def norms(self) -> dict:
        """Norms of w*, the predictions and the retrained weights (arrays of shape (A,))."""
        return {
            "star": self.w_star.norm().item(),
            "predicted": self.predicted.norm(dim=1).numpy(),
            "retrained": self.retrained.norm(dim=1).numpy(),
        }


def _with_ones(features: Tensor) -> Tensor:
    return torch.cat([features, torch.ones(features.shape[0], 1, dtype=features.dtype)], dim=1)


def predict_and_retrain(data: Dataset, config: HessianPredictionConfig | None = None) -> HessianPrediction:
    r"""Predict weight decay on a trained network's output layer from its Hessian, then retrain.

    A network ``d -> hidden (tanh) -> classes`` is trained with SGD. Its hidden layer is then
    frozen, and its output layer (weights and biases, flattened into :math:`w`) is taken to
    the exact minimum :math:`w^*` of the training cross-entropy :math:`J(w)` by L-BFGS. The
    Hessian :math:`H` of :math:`J` at :math:`w^*` (autograd) gives the quadratic model's
    prediction :math:`(H+\alpha I)^{-1}Hw^*`; retraining minimises
    :math:`J + \tfrac{\alpha}{2}\|w\|^2` itself, from zero.

    Parameters
    ----------
    data : Dataset
        Classification data with float64 inputs whose training set the network cannot
        separate (so :math:`w^*` is finite), e.g. MNIST-1D.
    config : HessianPredictionConfig, optional

    Returns
    -------
    HessianPrediction

    Notes
    -----
    The output layer's cost is convex in :math:`w` (softmax regression on fixed features), so
    :math:`w^*` and every retrained minimiser are global, unique up to the shift of all classes'
    weights by a common vector, which leaves the softmax unchanged; those directions are the
    Hessian's zero eigenvalues. L-BFGS started from zero never moves along them, and the L2
    penalty sets them to zero, so the comparison is well defined.

    Examples
    --------
    >>> from reglab import mnist1d
    >>> r = predict_and_retrain(mnist1d(), HessianPredictionConfig(epochs=1, alphas=(0.01,)))
    >>> r.predicted.shape
    torch.Size([1, 170])
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    if data.x_train.dtype != torch.float64:
        raise TypeError(
            "data must hold float64 inputs (the Hessian is compared in float64), "
            f"but got {data.x_train.dtype}"
        )
    config = config or HessianPredictionConfig()
    if not isinstance(config, HessianPredictionConfig):
        raise TypeError(f"config must be a HessianPredictionConfig, but got {type(config).__name__}")
    k, h = data.num_classes, config.hidden
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        # float64 from the start, so the initial weights do not depend on the default dtype
        f64 = torch.float64
        net = nn.Sequential(
            nn.Linear(data.x_train.shape[1], h, dtype=f64), nn.Tanh(), nn.Linear(h, k, dtype=f64)
        )
    sgd = TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size, seed=config.seed)
    fit(net, data.x_train, data.y_train, config=sgd)
    with torch.no_grad():
        train_acc = accuracy(net(data.x_train), data.y_train).item()
        # hidden features with a constant 1 appended, so that w holds each class's weights and bias
        phi = _with_ones(net[1](net[0](data.x_train)))
        phi_test = _with_ones(net[1](net[0](data.x_test)))

    def J(w):
        return F.cross_entropy(phi @ w.view(k, h + 1).T, data.y_train)

    def test_acc(w):
        return accuracy(phi_test @ w.view(k, h + 1).T, data.y_test).item()

    zero = torch.zeros(k * (h + 1), dtype=torch.float64)
    w_star, _ = lbfgs_minimise(J, zero, grad_tol=config.grad_tol)
    H = torch.autograd.functional.hessian(J, w_star)
    H = 0.5 * (H + H.T)
    lam, Q = torch.linalg.eigh(H)
    # Round-off leaves the zero eigenvalues at about -1e-17: clip to the PSD matrix they stand for.
    H_psd = Q @ torch.diag(lam.clamp(min=0)) @ Q.T
    H_psd = 0.5 * (H_psd + H_psd.T)
    predicted, retrained = [], []
    for a in config.alphas:
        predicted.append(l2_solution(H_psd, w_star, a))
        w, _ = lbfgs_minimise(lambda w: J(w) + a * l2_penalty([w]), zero, grad_tol=config.grad_tol)
        retrained.append(w)
    predicted, retrained = torch.stack(predicted), torch.stack(retrained)
    ratios = []
    for w in retrained:
        d = w - w_star
        _, Hd_there = torch.autograd.functional.hvp(J, w, d)
        ratios.append((d @ Hd_there / (d @ H @ d)).item())
    return HessianPrediction(
        alphas=np.asarray(config.alphas, dtype=np.float64),
        w_star=w_star,
        eigvals=lam.clamp(min=0),
        eigvecs=Q,
        predicted=predicted,
        retrained=retrained,
        test_accuracy_star=test_acc(w_star),
        test_accuracy_predicted=np.array([test_acc(w) for w in predicted]),
        test_accuracy_retrained=np.array([test_acc(w) for w in retrained]),
        train_accuracy_network=train_acc,
        curvature_ratio=np.array(ratios),
    )


# ---------------------------------------------------------------------------------------------
# WD-6: the sweep on MNIST-1D
# ---------------------------------------------------------------------------------------------
WD6 = experiment(
    "WD-6",
    chapter=CHAPTER,
    claim=(
        "Weight-decay sweep on MNIST-1D (500 training examples, 5 seeds): the weight norm falls "
        "steadily with alpha, test accuracy first rises, then falls once the penalty underfits."
    ),
)


@dataclass(frozen=True)
class SweepResult:
    """Accuracies and weight norms of a weight-decay sweep; arrays of shape (A, S).

    Attributes
    ----------
    alphas : numpy.ndarray of shape (A,)
    train_accuracy, test_accuracy : numpy.ndarray of shape (A, S)
    weight_norm : numpy.ndarray of shape (A, S)
        :math:`\\|w\\|_2` over all weight matrices of a member (biases excluded).
    """

    alphas: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    weight_norm: np.ndarray


def weight_decay_sweep(
    data: Dataset,
    alphas: Sequence[float],
    *,
    num_seeds: int = 5,
    sizes: Sequence[int] | None = None,
    config: TrainConfig | None = None,
) -> SweepResult:
    """Train ``len(alphas) * num_seeds`` MLPs at once, member ``(i, s)`` with penalty ``alphas[i]``.

    Parameters
    ----------
    data : Dataset
        Classification data.
    alphas : sequence of float >= 0
        Penalty weights on the weight matrices (biases are not decayed).
    num_seeds : int >= 2
        Independent members per penalty weight (own initialisation and minibatch order).
    sizes : sequence of int, optional
        Layer widths; default ``(d, 64, 64, classes)``.
    config : TrainConfig, optional
        Default: 60 epochs of SGD with momentum 0.9, rate 0.05, batches of 100.

    Returns
    -------
    SweepResult

    Notes
    -----
    One :class:`~reglab.training.StackedMLP` holds every member;
    :func:`~reglab.training.fit_stacked` adds
    :math:`\\alpha_m \\cdot \\tfrac12\\|W_m\\|^2` to member ``m``'s loss, which for SGD is
    exactly weight decay (WD-2).

    Examples
    --------
    >>> from reglab import digits
    >>> r = weight_decay_sweep(digits().subset(100), [0.0, 0.01], num_seeds=2, config=TrainConfig(epochs=1))
    >>> r.test_accuracy.shape
    (2, 2)
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    alphas = [check_real(f"alphas[{i}]", a, low=0.0) for i, a in enumerate(alphas)]
    if not alphas:
        raise ValueError("alphas must list at least one penalty weight, but got an empty sequence")
    num_seeds = check_int("num_seeds", num_seeds, low=2)
    d, k = data.x_train.shape[1], data.num_classes
    sizes = list(sizes) if sizes is not None else [d, 64, 64, k]
    if sizes[0] != d or sizes[-1] != k:
        raise ValueError(
            f"sizes must start with the input width {d} and end with the {k} classes, but got {sizes}"
        )
    config = config or TrainConfig(epochs=60, lr=0.05, batch_size=100, momentum=0.9)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    decay = torch.tensor(alphas, dtype=torch.float64).repeat_interleave(num_seeds)
    model = StackedMLP(len(decay), sizes, seed=config.seed, dtype=data.x_train.dtype)
    fit_stacked(model, data.x_train, data.y_train, config=config, weight_decay=decay)
    shape = (len(alphas), num_seeds)
    train = evaluate_stacked(model, data.x_train, data.y_train)["accuracy"].numpy().reshape(shape)
    test = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"].numpy().reshape(shape)
    with torch.no_grad():
        norm = (2 * model.member_l2()).sqrt().numpy().reshape(shape)
    return SweepResult(np.asarray(alphas), train, test, norm)
