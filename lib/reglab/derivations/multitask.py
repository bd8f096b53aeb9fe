"""Multitask learning: soft sharing derived, hard sharing registered (chapter ``multitask``).

MT-1 and MT-3 (experiments, registered and run in :mod:`reglab.experiments.multitask`): tasks
that share a representation, synthetic (MT-1) and on the digits (MT-3), are learned better by
one trunk with task heads than by separate networks.

MT-2 (derivation): soft sharing of two linear least-squares models,
``||y_A - X_A w_A||^2 + ||y_B - X_B w_B||^2 + lam ||w_A - w_B||^2``, has the closed-form
minimiser of :func:`soft_sharing_solution`; it moves from the two separate fits (lam -> 0)
to the one fit of the pooled examples (lam -> inf).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .._validation import check_int, check_real, check_tensor
from ..multitask import soft_sharing_penalty
from .compare import Check, compare
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "check_soft_sharing_closed_form",
    "check_soft_sharing_large_lambda",
    "check_soft_sharing_small_lambda",
    "pooled_fit",
    "separate_fits",
    "soft_sharing_solution",
    "solve_soft_sharing_iteratively",
    "two_related_regressions",
]


# ----------------------------------------------------------------------------------------
# MT-2: soft sharing of two linear least-squares models
# ----------------------------------------------------------------------------------------


def _check_pair(XA, yA, XB, yB) -> None:
    check_tensor("XA", XA, ndim=2, floating=True, finite=True)
    check_tensor("XB", XB, ndim=2, floating=True, finite=True)
    check_tensor("yA", yA, ndim=1, floating=True, finite=True)
    check_tensor("yB", yB, ndim=1, floating=True, finite=True)
    if XA.shape[1] != XB.shape[1]:
        raise ValueError(f"XA and XB must have the same number of features, but got {XA.shape[1]} and {XB.shape[1]}")
    for name, X, y in (("A", XA, yA), ("B", XB, yB)):
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X{name} has {X.shape[0]} rows but y{name} has {y.shape[0]}")


def soft_sharing_solution(XA: Tensor, yA: Tensor, XB: Tensor, yB: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    r"""Minimiser of two least-squares losses tied by a soft-sharing penalty.

    .. math:: J(w_A, w_B) = \|y_A - X_A w_A\|^2 + \|y_B - X_B w_B\|^2 + \lambda \|w_A - w_B\|^2

    Parameters
    ----------
    XA : Tensor of shape (n_A, p)
    yA : Tensor of shape (n_A,)
    XB : Tensor of shape (n_B, p)
    yB : Tensor of shape (n_B,)
    lam : float > 0
        Penalty weight (``lam = 0`` is allowed when both ``X^T X`` are invertible).

    Returns
    -------
    (w_A, w_B) : Tensors of shape (p,)

    Notes
    -----
    Setting both gradients to zero gives the block system

    .. math::
        \begin{pmatrix} X_A^T X_A + \lambda I & -\lambda I \\ -\lambda I & X_B^T X_B + \lambda I
        \end{pmatrix} \begin{pmatrix} w_A \\ w_B \end{pmatrix}
        = \begin{pmatrix} X_A^T y_A \\ X_B^T y_B \end{pmatrix}.

    Adding its two block rows shows that :math:`X_A^T(y_A - X_A w_A) + X_B^T(y_B - X_B w_B) = 0`
    for every :math:`\lambda`; as :math:`\lambda \to \infty`, :math:`w_A - w_B = O(1/\lambda)`
    and both tend to the least-squares fit of the pooled examples.

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64)
    >>> wa, wb = soft_sharing_solution(X, torch.tensor([1.0, 0.0], dtype=torch.float64),
    ...                                X, torch.tensor([0.0, 1.0], dtype=torch.float64), 1.0)
    >>> wa
    tensor([0.6667, 0.3333], dtype=torch.float64)
    """
    _check_pair(XA, yA, XB, yB)
    lam = check_real("lam", lam, low=0.0)
    return _block_solve(XA, yA, XB, yB, lam, lam)


def _block_solve(XA, yA, XB, yB, lam_a: float, lam_b: float) -> tuple[Tensor, Tensor]:
    """The block system with penalty weight ``lam_a`` in task A's rows and ``lam_b`` in B's."""
    p = XA.shape[1]
    eye = torch.eye(p, dtype=XA.dtype)
    A = torch.cat(
        [torch.cat([XA.T @ XA + lam_a * eye, -lam_a * eye], 1), torch.cat([-lam_b * eye, XB.T @ XB + lam_b * eye], 1)], 0
    )
    w = torch.linalg.solve(A, torch.cat([XA.T @ yA, XB.T @ yB]))
    return w[:p], w[p:]


def separate_fits(XA: Tensor, yA: Tensor, XB: Tensor, yB: Tensor) -> tuple[Tensor, Tensor]:
    """Least-squares fit of each task alone (``torch.linalg.lstsq``): the limit lam -> 0."""
    _check_pair(XA, yA, XB, yB)
    return (
        torch.linalg.lstsq(XA, yA.unsqueeze(1)).solution.squeeze(1),
        torch.linalg.lstsq(XB, yB.unsqueeze(1)).solution.squeeze(1),
    )


def pooled_fit(XA: Tensor, yA: Tensor, XB: Tensor, yB: Tensor) -> Tensor:
    """One least-squares fit of both tasks' examples pooled (``lstsq``): the limit lam -> inf."""
    _check_pair(XA, yA, XB, yB)
    return torch.linalg.lstsq(torch.cat([XA, XB]), torch.cat([yA, yB]).unsqueeze(1)).solution.squeeze(1)


def solve_soft_sharing_iteratively(
    XA: Tensor, yA: Tensor, XB: Tensor, yB: Tensor, lam: float, *, max_iter: int = 200, rtol: float = 1e-13
) -> tuple[Tensor, Tensor]:
    """The same minimiser, found numerically: conjugate gradients on autograd's gradient.

    The objective is written directly, with :func:`reglab.multitask.soft_sharing_penalty`, and
    differentiated by autograd; no normal equations are formed. Because the objective is
    quadratic, its Hessian times ``v`` is ``grad(v) - grad(0)``, which is all that conjugate
    gradients needs.

    Parameters
    ----------
    XA, yA, XB, yB, lam : as in :func:`soft_sharing_solution`
    max_iter : int
        Largest number of conjugate-gradient steps.
    rtol : float
        Stop when the gradient norm is below ``rtol`` times its norm at zero.
    """
    _check_pair(XA, yA, XB, yB)
    lam = check_real("lam", lam, low=0.0)
    max_iter = check_int("max_iter", max_iter, low=1)
    rtol = check_real("rtol", rtol, low=0.0, low_open=True)
    p = XA.shape[1]

    def gradient(theta: Tensor) -> Tensor:
        theta = theta.detach().requires_grad_(True)
        wA, wB = theta[:p], theta[p:]
        loss = (yA - XA @ wA).pow(2).sum() + (yB - XB @ wB).pow(2).sum() + lam * soft_sharing_penalty([wA], [wB])
        return torch.autograd.grad(loss, theta)[0]

    theta = torch.zeros(2 * p, dtype=XA.dtype)
    g0 = gradient(theta)
    residual = -g0
    direction = residual.clone()
    for _ in range(max_iter):
        if residual.norm() <= rtol * g0.norm():
            break
        Hd = gradient(direction) - g0
        step = residual.dot(residual) / direction.dot(Hd)
        theta = theta + step * direction
        new_residual = -gradient(theta)  # recomputed, not updated, so rounding does not pile up
        direction = new_residual + (new_residual.dot(new_residual) / residual.dot(residual)) * direction
        residual = new_residual
    return theta[:p].detach(), theta[p:].detach()


def two_related_regressions(
    n_per_task: int, *, dim: int = 5, relatedness: float = 0.3, noise: float = 1.0, seed: int = 0
) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Two linear regression tasks whose true weights differ by a small random vector.

    ``w_A ~ N(0, I)``, ``w_B = w_A + relatedness * N(0, I)``; inputs ``N(0, I)``; labels with
    Gaussian noise of standard deviation ``noise``.

    Returns
    -------
    ((XA, yA, XB, yB), (wA_true, wB_true))
    """
    n = check_int("n_per_task", n_per_task, low=1)
    p = check_int("dim", dim, low=1)
    relatedness = check_real("relatedness", relatedness, low=0.0)
    noise = check_real("noise", noise, low=0.0)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    wA = torch.randn(p, generator=g, dtype=torch.float64)
    wB = wA + relatedness * torch.randn(p, generator=g, dtype=torch.float64)
    XA = torch.randn(n, p, generator=g, dtype=torch.float64)
    XB = torch.randn(n, p, generator=g, dtype=torch.float64)
    yA = XA @ wA + noise * torch.randn(n, generator=g, dtype=torch.float64)
    yB = XB @ wB + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return (XA, yA, XB, yB), (wA, wB)


_PROBLEM = {"n_per_task": 12, "dim": 4}  # the problem every MT-2 check solves (seed 0)


def _soft_sharing(problem, lam: float) -> tuple[Tensor, Tensor]:
    return soft_sharing_solution(*problem, lam)


def _penalty_gradient_without_2(problem, lam: float) -> tuple[Tensor, Tensor]:
    """Planted: lam*(w_A - w_B) as the penalty's gradient, the squared errors keeping their 2."""
    return _block_solve(*problem, lam / 2, lam / 2)


def _penalty_on_one_model(problem, lam: float) -> tuple[Tensor, Tensor]:
    """Planted: the penalty's gradient in task A's equations only."""
    return _block_solve(*problem, lam, 0.0)


def _separate_limit(problem) -> tuple[Tensor, str]:
    return torch.cat(separate_fits(*problem)), "separate fits (lstsq)"


def _pooled_limit(problem) -> tuple[Tensor, str]:
    return torch.cat([pooled_fit(*problem)] * 2), "pooled fit (lstsq), twice"


def _mean_of_separate_fits(problem) -> tuple[Tensor, str]:
    """Planted: the mean of the two separate fits as the shared model of the strong limit."""
    wa, wb = separate_fits(*problem)
    return torch.cat([(wa + wb) / 2] * 2), "mean of separate fits, twice"


@derivation(
    "MT-2",
    claim_tex=(
        r"Soft sharing of two least-squares models, $\lVert y_A - X_A w_A\rVert^2 + \lVert y_B - X_B "
        r"w_B\rVert^2 + \lambda\lVert w_A - w_B\rVert^2$: the joint minimiser solves the block system "
        r"(equal to conjugate gradients on the autograd gradient), tends to the two separate fits as "
        r"$\lambda \to 0$ and to the one fit of the pooled examples as $\lambda \to \infty$."
    ),
    chapter="multitask",
    claim=("Soft sharing of two least-squares models, ||y_A - X_A w_A||^2 + ||y_B - X_B w_B||^2 + "
           "lam*||w_A - w_B||^2: the joint minimiser solves the block system (equal to conjugate "
           "gradients on the autograd gradient), tends to the two separate fits as lam -> 0 and to "
           "the one fit of the pooled examples as lam -> inf."),
    label="block system vs conjugate gradients",
    planted=(
        Planted("penalty gradient without 2", "differentiates lam*||w_A - w_B||^2 as lam*(w_A - w_B) "
                "while the squared errors keep their factor 2: lam/2 in the block system", kind="student"),
        Planted("penalty on one model only", "the penalty's gradient added to task A's equations "
                "only: task B's rows are its separate normal equations", kind="student"),
    ),
)
def check_soft_sharing_closed_form(*, lams: Sequence[float] = (0.1, 1.0, 10.0), seed: int = 0,
                                   planted: str | None = None) -> Check:
    """MT-2: the block-system solution vs conjugate gradients on the autograd gradient, several lam."""
    closed_form = choose(planted, _soft_sharing, {
        "penalty gradient without 2": _penalty_gradient_without_2,
        "penalty on one model only": _penalty_on_one_model,
    })
    problem, _ = two_related_regressions(_PROBLEM["n_per_task"], dim=_PROBLEM["dim"], seed=seed)
    closed = torch.cat([torch.cat(closed_form(problem, lam)) for lam in lams])
    numeric = torch.cat([torch.cat(solve_soft_sharing_iteratively(*problem, lam)) for lam in lams])
    return compare(
        "MT-2",
        closed,
        numeric,
        atol=1e-8,
        analytic_label="closed form (block solve)",
        empirical_label="conjugate gradients + autograd",
        note=(f"(w_A, w_B) for lam = {', '.join(f'{v:g}' for v in lams)}; "
              f"{_PROBLEM['n_per_task']} examples per task, {_PROBLEM['dim']} features"),
    )


@subcheck(
    "MT-2",
    label="limit lam -> 0: separate fits",
    planted=Planted("limits swapped (lam -> 0)", "takes lam -> 0 as the strong end (lam read as the "
                    "prior variance of w_A - w_B): the pooled fit for both tasks", kind="student"),
)
def check_soft_sharing_small_lambda(*, small: float = 1e-7, seed: int = 0, planted: str | None = None) -> Check:
    """MT-2 at small lam: the block solution vs ``lstsq`` fits of each task alone.

    The gap is O(lam) (the chapter's figure shows the slope), about 1e-7 at ``small = 1e-7``
    for this well-conditioned problem; the tolerance 1e-6 allows ten times that.
    """
    small = check_real("small", small, low=0.0, low_open=True)
    weak_end = choose(planted, _separate_limit, {"limits swapped (lam -> 0)": _pooled_limit})
    problem, _ = two_related_regressions(_PROBLEM["n_per_task"], dim=_PROBLEM["dim"], seed=seed)
    limit, label = weak_end(problem)
    return compare(
        "MT-2",
        limit,
        torch.cat(soft_sharing_solution(*problem, small)),
        atol=1e-6,
        analytic_label=label,
        empirical_label=f"soft sharing, lam={small:g}",
        note="the gap is O(lam)",
    )


@subcheck(
    "MT-2",
    label="limit lam -> inf: pooled fit",
    planted=(
        Planted("average of separate fits", "takes the shared model at lam -> inf as the mean of the two "
                "separate fits instead of the least-squares fit of the pooled examples", kind="student"),
        Planted("limits swapped (lam -> inf)", "takes lam -> inf as the weak end: the separate fits",
                kind="student"),
    ),
)
def check_soft_sharing_large_lambda(*, large: float = 1e7, seed: int = 0, planted: str | None = None) -> Check:
    """MT-2 at large lam: the block solution (both halves) vs the ``lstsq`` fit of the pooled data.

    The gap is O(1/lam), about 2e-7 at ``large = 1e7`` here; the tolerance is 1e-6.
    """
    large = check_real("large", large, low=0.0, low_open=True)
    strong_end = choose(planted, _pooled_limit, {
        "average of separate fits": _mean_of_separate_fits,
        "limits swapped (lam -> inf)": _separate_limit,
    })
    problem, _ = two_related_regressions(_PROBLEM["n_per_task"], dim=_PROBLEM["dim"], seed=seed)
    limit, label = strong_end(problem)
    return compare(
        "MT-2",
        limit,
        torch.cat(soft_sharing_solution(*problem, large)),
        atol=1e-6,
        analytic_label=label,
        empirical_label=f"soft sharing, lam={large:g}",
        note="the gap is O(1/lam)",
    )
