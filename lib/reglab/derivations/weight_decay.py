"""Weight decay, the L2 penalty: closed forms and derivation checks (chapter ``weight_decay``).

- WD-1: the gradient of :math:`\\tfrac{\\alpha}{2}\\|w\\|^2` is :math:`\\alpha w` (autograd).
- WD-2: one gradient step on :math:`\\tilde J` is :math:`(1-\\epsilon\\alpha)w - \\epsilon\\nabla J`,
  which is what ``torch.optim.SGD(weight_decay=alpha)`` does; with Adam, L2 in the loss and
  decoupled decay (AdamW) are different updates. WD-1 and WD-2 are checked in
  ``derivations/_weight_decay_updates.py``; every public name of it is imported here.
- WD-3: on a quadratic cost the minimiser of :math:`J + \\tfrac{\\alpha}{2}\\|w\\|^2` is
  :math:`(H+\\alpha I)^{-1}Hw^*` (:func:`l2_solution`; closed form against the heavy-ball
  method, which only evaluates gradients).
- WD-4: in the eigenbasis of :math:`H` each coordinate of :math:`w^*` is multiplied by
  :math:`\\lambda_i/(\\lambda_i+\\alpha)` (:func:`shrink_factors`).

Each derivation is checked several independent ways (``subcheck``), and each check names the
mistakes it rejects (planted errors), the wrong computation beside the right one. The
minimisers the checks use (heavy ball, L-BFGS) are in :mod:`reglab.solvers`. The chapter's
experiments (WD-5: a trained layer's quadratic model; WD-6: a weight-decay sweep on MNIST-1D)
are registered and run in :mod:`reglab.experiments.weight_decay`.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .._validation import check_quadratic, check_real, check_tensor
from ..data import polynomial_regression, quadratic_problem
from ..penalties import l2_penalty
from ..solvers import heavy_ball_minimise
from ._weight_decay_updates import (  # WD-1 and WD-2 (importing registers them)
    WD1_ALPHA,
    WD2_ALPHA,
    WD2_GAP_BOUND,
    WD2_LR,
    check_wd1,
    check_wd2,
    check_wd2_adam,
    check_wd2_gap,
    check_wd2_gap_size,
    wd2_problem,
    wd2_steps,
)
from ._memo import deterministic
from .compare import Check, compare
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "WD1_ALPHA",
    "WD2_ALPHA",
    "WD2_GAP_BOUND",
    "WD2_LR",
    "check_wd1",
    "check_wd2",
    "check_wd2_adam",
    "check_wd2_gap",
    "check_wd2_gap_size",
    "check_wd3",
    "check_wd3_gradient",
    "check_wd3_ridge",
    "check_wd4",
    "check_wd4_eigen_form",
    "check_wd4_kept_killed",
    "check_wd4_small_alpha",
    "check_wd4_small_alpha_exact",
    "l2_solution",
    "shrink_factors",
    "wd2_problem",
    "wd2_steps",
    "wd_problem",
]

CHAPTER = "weight_decay"


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------
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
    eig = check_quadratic(H, w_star)
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


def _quadratic(H: Tensor, w_star: Tensor) -> Callable[[Tensor], Tensor]:
    """J(w) = 1/2 (w - w*)^T H (w - w*), the quadratic model with J(w*) = 0."""
    return lambda w: 0.5 * (w - w_star) @ H @ (w - w_star)


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


@deterministic
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


def _solver_bound(H: Tensor, alpha: float) -> float:
    """sqrt(n) * GRAD_TOL / mu: how far the heavy-ball point can be from the minimiser."""
    mu = torch.linalg.eigvalsh(H).min().item() + alpha
    return math.sqrt(H.shape[0]) * GRAD_TOL / mu


def _l2_solution_alpha_times_H(H: Tensor, w_star: Tensor, alpha: float) -> Tensor:
    """Planted 'alpha*H for alpha/H': (I + alpha H)^-1 w*."""
    return torch.linalg.solve(torch.eye(len(w_star), dtype=H.dtype) + alpha * H, w_star)


@derivation(
    "WD-3",
    claim_tex=(
        r"On a quadratic cost with Hessian $H$ and minimum $w^*$, the gradient is $H(w - w^*)$ at every "
        r"$w$ (checked at five random points and at $w^*$), and the minimiser of $J + "
        r"\tfrac{\alpha}{2}\lVert w\rVert^2$ is $(H + \alpha I)^{-1} H w^*$; for least squares ($H = "
        r"X^\top X$) it is the ridge solution."
    ),
    chapter=CHAPTER,
    claim=(
        "On a quadratic cost with Hessian H and minimum w*, the gradient is H(w - w*) at every w (checked "
        "at five random points and at w*), and "
        "the minimiser of J + (alpha/2)||w||^2 is (H + alpha I)^-1 H w*; for least squares "
        "(H = X^T X) it is the ridge solution."
    ),
    label="closed form vs heavy ball",
    planted=(
        Planted("alpha*H for alpha/H", "(I + alpha H)^-1 w* for (I + alpha H^-1)^-1 w* = (H + alpha I)^-1 H w*",
                kind="student"),
    ),
)
def check_wd3(*, planted: str | None = None) -> Check:
    """``l2_solution`` against the heavy-ball method on the regularized objective, three alphas (float64)."""
    H, w_star, _, eig = wd_problem()
    solution = choose(planted, l2_solution, {"alpha*H for alpha/H": _l2_solution_alpha_times_H})
    closed = torch.stack([solution(H, w_star, a) for a in WD3_ALPHAS])
    solver = torch.stack([_solve_iteratively(H, w_star, a) for a in WD3_ALPHAS])
    mu = eig.min().item() + min(WD3_ALPHAS)
    bound = _solver_bound(H, min(WD3_ALPHAS))
    return compare(
        "WD-3", closed, solver, atol=1e-10,
        analytic_label="(H + alpha I)^-1 H w*", empirical_label="heavy ball on J + alpha*l2_penalty",
        note=(
            f"rows: alpha = {', '.join(f'{a:g}' for a in WD3_ALPHAS)}; the solver (autograd gradients "
            f"only) stops at |grad|_inf <= {GRAD_TOL:.0e};\n    strong convexity "
            f"(mu = lambda_min + alpha >= {mu:g}) bounds its distance "
            f"to the minimiser by sqrt(6) * {GRAD_TOL:.0e} / mu = {bound:.1e} < 1e-10"
        ),
    )


#: How many random points (besides w* itself) the gradient of WD-3 is checked at.
WD3_GRADIENT_POINTS = 5


@subcheck(
    "WD-3",
    label="gradient of the quadratic model",
    planted=(
        Planted("H(w* - w) for H(w - w*)",
                "the sign flipped: the direction towards w* (the descent direction) written for the gradient",
                kind="student"),
        Planted("1/2 kept", "(1/2) H (w - w*): the 1/2 of the quadratic not cancelled by the derivative",
                kind="student"),
        Planted("gradient 0 at every w",
                "the slide's stationarity condition 'grad J(w) = H(w - w*) = 0' read literally, as the gradient "
                "at every w: zeros (a control, the gradient removed)", kind="control"),
    ),
)
def check_wd3_gradient(*, planted: str | None = None) -> Check:
    """H(w - w*) against autograd of the quadratic model at five random points and at w*."""
    H, w_star, _, _ = wd_problem()
    g = torch.Generator().manual_seed(7)
    random_points = torch.randn(WD3_GRADIENT_POINTS, len(w_star), generator=g, dtype=H.dtype)
    points = torch.cat([random_points, w_star[None]])  # w* last: the gradient is 0 there
    J = _quadratic(H, w_star)
    autograd_gradient = torch.stack(
        [torch.autograd.grad(J(x), x)[0] for x in (p.clone().requires_grad_(True) for p in points)])
    formula = choose(planted, (points - w_star) @ H, {
        "H(w* - w) for H(w - w*)": (w_star - points) @ H,
        "1/2 kept": 0.5 * (points - w_star) @ H,
        "gradient 0 at every w": torch.zeros_like(points),
    })
    distances = (random_points - w_star).norm(dim=1)
    return compare(
        "WD-3", formula, autograd_gradient, atol=1e-9,
        analytic_label="H(w - w*)", empirical_label="autograd of the quadratic model",
        note=(f"rows: {WD3_GRADIENT_POINTS} random points w, ||w - w*|| from {distances.min().item():.3g} "
              f"to {distances.max().item():.3g}, then w = w*"),
    )


WD3_RIDGE_ALPHAS = (0.01, 1.0, 10.0)


@subcheck(
    "WD-3",
    label="least squares: ridge",
    planted=(
        Planted("H = 2 X^T X", "the Hessian of the unhalved ||Xw - y||^2 used with the halved penalty",
                kind="student"),
    ),
)
def check_wd3_ridge(*, planted: str | None = None) -> Check:
    """``l2_solution(X^T X, w_LS, alpha)`` against ``ridge_solution`` on a degree-6 polynomial design."""
    from .regimes import polynomial_features, ridge_solution

    points, _ = polynomial_regression(30, seed=2)
    X = polynomial_features(points.x_train, 6)
    y = points.y_train
    # The Hessian of 1/2 ||Xw - y||^2 is X^T X; that of ||Xw - y||^2 is twice it.
    H_ls = X.T @ X * choose(planted, 1.0, {"H = 2 X^T X": 2.0})
    w_ls = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)
    ridge = torch.stack([ridge_solution(X, y, a) for a in WD3_RIDGE_ALPHAS])
    quadratic = torch.stack([l2_solution(H_ls, w_ls, a) for a in WD3_RIDGE_ALPHAS])
    return compare(
        "WD-3", quadratic, ridge, atol=1e-10,
        analytic_label="l2_solution(X^T X, w_LS, alpha)", empirical_label="ridge (X^T X + alpha I)^-1 X^T y",
        note=f"rows: alpha = {', '.join(f'{a:g}' for a in WD3_RIDGE_ALPHAS)}; 30 points, degree 6",
    )


WD4_ALPHA = 0.1
#: Penalty weights of the "kept" and "killed" checks: all eigenvalues of wd_problem (0.01 to 10)
#: are >= 100 * WD4_KEPT_ALPHA and <= WD4_KILLED_ALPHA / 100.
WD4_KEPT_ALPHA, WD4_KILLED_ALPHA = 1e-4, 1e3
#: The alpha -> 0 check.
WD4_SMALL_ALPHAS = (1e-4, 1e-6, 1e-8)


def _eigen_ratios(H: Tensor, w_star: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """Eigenvalues of H, and (q_i^T w~)/(q_i^T w*) on the heavy-ball minimiser at ``alpha``."""
    lam, Q = torch.linalg.eigh(H)
    return lam, (Q.T @ _solve_iteratively(H, w_star, alpha)) / (Q.T @ w_star)


def _shrink_factors_flipped(eigvals: Tensor, alpha: float) -> Tensor:
    """Planted 'alpha/(lambda + alpha) for lambda/(lambda + alpha)': the share removed."""
    return 1 - shrink_factors(eigvals, alpha)


@derivation(
    "WD-4",
    claim_tex=(
        r"$Q(\Lambda + \alpha I)^{-1}\Lambda Q^\top w^*$ equals $(H + \alpha I)^{-1} H w^*$: along "
        r"eigenvector $i$ of $H$, weight decay scales the coordinate of $w^*$ by $\lambda_i/(\lambda_i + "
        r"\alpha)$, within $1/101$ of 1 (kept) where $\lambda_i \ge 100\alpha$ and of 0 (killed) where "
        r"$\lambda_i \le \alpha/100$; as $\alpha \to 0$ ($\alpha = 10^{-4}$ to $10^{-8}$), $\lVert\tilde w "
        r"- w^*\rVert$ is $\alpha\lVert(H + \alpha I)^{-1} w^*\rVert$ and within a relative "
        r"$\alpha/\lambda_{\min}$ of $\alpha\lVert H^{-1} w^*\rVert$, so $\tilde w \to w^*$."
    ),
    chapter=CHAPTER,
    claim=(
        "Q(Lambda + alpha I)^-1 Lambda Q^T w* equals (H + alpha I)^-1 H w*: along eigenvector i of H, "
        "weight decay scales the coordinate of w* by lambda_i/(lambda_i + alpha), within 1/101 of 1 "
        "(kept) where lambda_i >= 100 alpha and of 0 (killed) where lambda_i <= alpha/100; as "
        "alpha -> 0 (alpha = 1e-4 to 1e-8), ||w~ - w*|| is alpha ||(H + alpha I)^-1 w*|| and within a "
        "relative alpha/lambda_min of alpha ||H^-1 w*||, so w~ -> w*."
    ),
    label="shrink factors vs heavy ball",
    planted=(
        Planted("alpha/(lambda + alpha) for lambda/(lambda + alpha)",
                "the shrink factor flipped: the share removed written for the share kept", kind="student"),
    ),
)
def check_wd4(*, planted: str | None = None) -> Check:
    r"""Shrink factors against the coordinates of an iteratively found minimiser in the eigenbasis.

    The eigenvectors come from ``torch.linalg.eigh(H)``; the ratio
    :math:`q_i^T\tilde w / q_i^T w^*` is measured on the minimiser found by the heavy-ball
    method, which never uses the closed form.
    """
    H, w_star, _, _ = wd_problem()
    lam, measured = _eigen_ratios(H, w_star, WD4_ALPHA)
    coords = torch.linalg.eigh(H)[1].T @ w_star
    factors = choose(planted, shrink_factors, {
        "alpha/(lambda + alpha) for lambda/(lambda + alpha)": _shrink_factors_flipped,
    })(lam, WD4_ALPHA)
    # |q_i^T (w_solver - w~)| <= ||w_solver - w~|| <= 1e-10 (as in WD-3), divided by |q_i^T w*|.
    atol = float(f"{1e-10 / coords.abs().min().item():.1e}")
    return compare(
        "WD-4", factors, measured, atol=atol,
        analytic_label="lambda_i/(lambda_i + alpha)", empirical_label="(q_i^T w~)/(q_i^T w*), heavy ball",
        note=(
            f"alpha = {WD4_ALPHA:g}; lambda = {', '.join(f'{v:.3g}' for v in lam.tolist())};\n    "
            "tolerance = 1e-10 "
            f"(solver accuracy, WD-3) / min_i |q_i^T w*| = 1e-10 / {coords.abs().min().item():.3g}"
        ),
    )


@subcheck(
    "WD-4",
    label="eigen form vs linear solve",
    planted=(
        Planted("eigenvectors as rows", "H rebuilt as Q^T Lambda Q, reading eigh's columns as rows",
                kind="student"),
    ),
)
def check_wd4_eigen_form(*, planted: str | None = None) -> Check:
    """Q Lambda Q^T against H, then the eigen form against ``l2_solution`` (alpha = 0.1)."""
    H, w_star, _, _ = wd_problem()
    lam, Q = torch.linalg.eigh(H)
    Q = choose(planted, Q, {"eigenvectors as rows": Q.T})
    rebuilt = Q @ torch.diag(lam) @ Q.T
    eigen_form = Q @ torch.diag(lam / (lam + WD4_ALPHA)) @ Q.T @ w_star
    return compare(
        "WD-4",
        torch.cat([H.reshape(-1), l2_solution(H, w_star, WD4_ALPHA)]),
        torch.cat([rebuilt.reshape(-1), eigen_form]),
        # float64 rounding here is about 1e-14; 1e-11 leaves room for any LAPACK build.
        atol=1e-11,
        analytic_label="H, then (H + alpha I)^-1 H w*",
        empirical_label="Q Lambda Q^T, then Q (Lambda + alpha I)^-1 Lambda Q^T w*",
        note=f"36 entries of H, then the 6 of w~; alpha = {WD4_ALPHA:g}",
    )


@subcheck(
    "WD-4",
    label="kept and killed",
    planted=(
        Planted("kept/killed from alpha/(lambda + alpha)",
                "the flipped factor's verdicts: steep directions killed, flat ones kept", kind="student"),
    ),
)
def check_wd4_kept_killed(*, planted: str | None = None) -> Check:
    """Measured ratios where every lambda_i >= 100 alpha (kept: 1) and <= alpha/100 (killed: 0)."""
    H, w_star, _, eig = wd_problem()
    if not (eig.min() >= 100 * WD4_KEPT_ALPHA and eig.max() <= WD4_KILLED_ALPHA / 100):
        raise ValueError("the eigenvalues of wd_problem no longer fit WD4_KEPT_ALPHA and WD4_KILLED_ALPHA")
    _, kept = _eigen_ratios(H, w_star, WD4_KEPT_ALPHA)
    _, killed = _eigen_ratios(H, w_star, WD4_KILLED_ALPHA)
    kept_then_killed = torch.cat([torch.ones(6, dtype=H.dtype), torch.zeros(6, dtype=H.dtype)])
    ideal = choose(planted, kept_then_killed, {"kept/killed from alpha/(lambda + alpha)": 1 - kept_then_killed})
    # lambda/(lambda + alpha) is within alpha/(lambda + alpha) <= 1/101 of 1 when lambda >= 100 alpha,
    # and within lambda/(lambda + alpha) <= 1/101 of 0 when lambda <= alpha/100; plus the solver's
    # accuracy on the ratio (1e-10 / min_i |q_i^T w*|, as in the first check).
    accuracy = 1e-10 / (torch.linalg.eigh(H)[1].T @ w_star).abs().min().item()
    return compare(
        "WD-4", ideal, torch.cat([kept, killed]), atol=1 / 101 + accuracy,
        analytic_label="kept: 1, killed: 0", empirical_label="(q_i^T w~)/(q_i^T w*), heavy ball",
        note=(f"first 6: alpha = {WD4_KEPT_ALPHA:g} (every lambda_i >= 100 alpha), last 6: alpha = "
              f"{WD4_KILLED_ALPHA:g} (every lambda_i <= alpha/100);\n    tolerance 1/101 plus the solver's accuracy"),
    )


@subcheck(
    "WD-4",
    label="alpha -> 0: the exact distance",
    planted=(
        Planted("H w* for w* in the distance",
                "w~ - w* written -alpha (H + alpha I)^-1 H w*, the H of w~ = (H + alpha I)^-1 H w* carried over",
                kind="student"),
    ),
)
def check_wd4_small_alpha_exact(*, planted: str | None = None) -> Check:
    r"""||w~ - w*|| of the heavy-ball minimiser at small alpha against the exact distance.

    Exactly, :math:`\tilde w - w^* = -\alpha(H+\alpha I)^{-1}w^*`; its norm is compared with the
    heavy-ball minimiser's distance to :math:`w^*` (tolerance: the solver's accuracy).
    """
    H, w_star, _, _ = wd_problem()
    eye = torch.eye(len(w_star), dtype=H.dtype)
    right = choose(planted, w_star, {"H w* for w* in the distance": H @ w_star})
    exact = torch.stack([a * torch.linalg.solve(H + a * eye, right).norm() for a in WD4_SMALL_ALPHAS])
    measured = torch.stack([(_solve_iteratively(H, w_star, a) - w_star).norm() for a in WD4_SMALL_ALPHAS])
    return compare(
        "WD-4", exact, measured, atol=_solver_bound(H, 0.0),
        analytic_label="alpha ||(H + alpha I)^-1 w*||", empirical_label="||w~ - w*||, heavy ball",
        note=(f"alpha = {', '.join(f'{a:g}' for a in WD4_SMALL_ALPHAS)}; tolerance: the solver's accuracy "
              "sqrt(6) * 1e-13 / lambda_min"),
    )


@subcheck(
    "WD-4",
    label="alpha -> 0 recovers w*",
    planted=(
        Planted("alpha*H for alpha/H", "the distance predicted as alpha ||H w*|| for alpha ||H^-1 w*||",
                kind="student"),
    ),
)
def check_wd4_small_alpha(*, planted: str | None = None) -> Check:
    r"""||w~ - w*|| of the heavy-ball minimiser at small alpha against the first order alpha ||H^-1 w*||.

    The exact distance :math:`\alpha\|(H+\alpha I)^{-1}w^*\|` lies between
    :math:`\lambda_{min}/(\lambda_{min}+\alpha)` and 1 times :math:`\alpha\|H^{-1}w^*\|`, so the
    measured distance must be within a relative :math:`\alpha/\lambda_{min}` of the first-order
    prediction at every alpha (plus the solver's accuracy): one comparison, per-entry tolerance.
    """
    H, w_star, _, eig = wd_problem()
    alphas = torch.tensor(WD4_SMALL_ALPHAS, dtype=H.dtype)
    measured = torch.stack([(_solve_iteratively(H, w_star, a) - w_star).norm() for a in WD4_SMALL_ALPHAS])
    h_inv_w_star = choose(planted, torch.linalg.solve(H, w_star), {"alpha*H for alpha/H": H @ w_star})
    first_order = alphas * h_inv_w_star.norm()
    lam_min = eig.min().item()
    return compare(
        "WD-4", first_order, measured, rtol=alphas / lam_min, atol=_solver_bound(H, 0.0),
        analytic_label="alpha ||H^-1 w*||", empirical_label="||w~ - w*||, heavy ball",
        note=(f"alpha = {', '.join(f'{a:g}' for a in WD4_SMALL_ALPHAS)}; each within a relative "
              f"alpha/lambda_min (lambda_min = {lam_min:g}) of the first order,\n    plus the solver's "
              "accuracy"),
    )
