"""Multitask learning: hard sharing measured, soft sharing derived (chapter ``multitask``).

MT-1 (experiment): tasks that share a low-dimensional representation are learned better by
one trunk with task heads than by separate networks when each task has few examples.
:func:`shared_representation_tasks` makes such tasks with a known teacher,
:func:`class_partition_tasks` makes them from real labelled data, and
:func:`shared_vs_separate` trains both kinds of model, ``M`` seeds at once.

MT-2 (derivation): soft sharing of two linear least-squares models,
``||y_A - X_A w_A||^2 + ||y_B - X_B w_B||^2 + lam ||w_A - w_B||^2``, has the closed-form
minimiser of :func:`soft_sharing_solution`; it moves from the two separate fits (lam -> 0)
to the one fit of the pooled examples (lam -> inf).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .._validation import check_int, check_real, check_tensor
from ..data import Dataset
from ..multitask import MultitaskMLP, evaluate_multitask, fit_multitask, soft_sharing_penalty
from ..training import TrainConfig
from .core import Check, compare, derivation, experiment

__all__ = [
    "TaskData",
    "shared_representation_tasks",
    "class_partition_tasks",
    "shared_vs_separate",
    "soft_sharing_solution",
    "separate_fits",
    "pooled_fit",
    "solve_soft_sharing_iteratively",
    "two_related_regressions",
    "check_soft_sharing_closed_form",
    "check_soft_sharing_limits",
]


class TaskData(NamedTuple):
    """Training and test examples of ``T`` tasks for ``M`` members, task-major.

    ``x_*`` have shape (M, T, n, d); ``y_*`` shape (M, T, n, 1) for regression or (M, T, n)
    for class labels. ``scale`` (M,) is what test errors are divided by (the variance of the
    noiseless regression target; ones for classification).
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    scale: Tensor


def shared_representation_tasks(
    num_models: int,
    num_tasks: int,
    n_per_task: int,
    *,
    dim: int = 16,
    rank: int = 2,
    noise: float = 0.2,
    n_test: int = 500,
    seed: int = 0,
) -> TaskData:
    r"""Regression tasks that share ``rank`` ReLU features of the input (a known teacher).

    Task ``t`` of member ``m`` is :math:`y = v_t^T \mathrm{relu}(U x) + \sigma\varepsilon`, with
    :math:`x \sim N(0, I_d)`, one :math:`U \in \mathbb{R}^{r \times d}` (entries
    :math:`N(0, 1/d)`) shared by all tasks of the member, :math:`v_t \sim N(0, I_r)` per task.

    Parameters
    ----------
    num_models, num_tasks, n_per_task : int
        ``M`` members (each its own teacher and data), ``T`` tasks, ``n`` training examples
        per task.
    dim, rank : int
        Input dimension ``d`` and size ``r`` of the shared representation.
    noise : float >= 0
        Standard deviation of the label noise.
    n_test : int
        Test examples per task.
    seed : int
        The teacher depends on ``seed`` only (not on ``n_per_task``), so a sweep over
        ``n_per_task`` with one seed keeps the same tasks.

    Returns
    -------
    TaskData
        ``scale`` is the variance of the noiseless test targets, so that test MSE / scale is 1
        for predicting the mean and ``noise**2 / scale`` for the teacher itself.
    """
    M = check_int("num_models", num_models, low=1)
    T = check_int("num_tasks", num_tasks, low=1)
    n = check_int("n_per_task", n_per_task, low=1)
    d = check_int("dim", dim, low=1)
    r = check_int("rank", rank, low=1, high=d)
    noise = check_real("noise", noise, low=0.0)
    n_test = check_int("n_test", n_test, low=2)
    seed = check_int("seed", seed, low=0)
    g = torch.Generator().manual_seed(seed)
    U = torch.randn(M, 1, r, d, generator=g, dtype=torch.float64) / d**0.5
    V = torch.randn(M, T, r, 1, generator=g, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed * 1_000_003 + n)  # the data depend on n, the teacher not

    def sample(k: int) -> tuple[Tensor, Tensor, Tensor]:
        x = torch.randn(M, T, k, d, generator=g, dtype=torch.float64)
        f = torch.relu(x @ U.transpose(-1, -2)) @ V
        return x, f + noise * torch.randn(M, T, k, 1, generator=g, dtype=torch.float64), f

    x, y, _ = sample(n)
    xt, yt, ft = sample(n_test)
    return TaskData(x, y, xt, yt, ft.reshape(M, -1).var(dim=1))


def class_partition_tasks(
    data: Dataset,
    num_models: int,
    num_tasks: int,
    n_per_task: int,
    *,
    n_test: int = 300,
    seed: int = 0,
) -> tuple[TaskData, Tensor]:
    """Binary tasks on real data: task ``t`` asks whether the class is in a set ``S_t``.

    Every task uses a random half of the classes as its positive set, so all tasks are
    functions of the same hidden variable, the class: a representation that separates the
    classes serves them all. Each member draws its own examples; the sets are the same for
    every member.

    Parameters
    ----------
    data : Dataset
        A classification data set, e.g. ``reglab.digits()``.
    num_models, num_tasks, n_per_task : int
    n_test : int
        Test examples per task, drawn from ``data``'s test split.
    seed : int
        Seed of the class sets (fixed by ``seed`` alone) and of the draws.

    Returns
    -------
    (TaskData, Tensor)
        The tasks (labels 0/1 of shape (M, T, n)), and the positive sets as a boolean tensor
        of shape (T, num_classes).
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    M = check_int("num_models", num_models, low=1)
    T = check_int("num_tasks", num_tasks, low=1)
    n = check_int("n_per_task", n_per_task, low=1, high=data.x_train.shape[0])
    n_test = check_int("n_test", n_test, low=1, high=data.x_test.shape[0])
    seed = check_int("seed", seed, low=0)
    k = data.num_classes
    g = torch.Generator().manual_seed(seed)
    positive = torch.zeros(T, k, dtype=torch.bool)
    for t in range(T):
        positive[t, torch.randperm(k, generator=g)[: k // 2]] = True
    g = torch.Generator().manual_seed(seed * 1_000_003 + n)

    def draw(x: Tensor, y: Tensor, size: int) -> tuple[Tensor, Tensor]:
        idx = torch.argsort(torch.rand(M, T, x.shape[0], generator=g), dim=-1)[..., :size]
        labels = positive[torch.arange(T).view(1, T, 1), y[idx]]
        return x[idx], labels.long()

    x, y = draw(data.x_train, data.y_train, n)
    xt, yt = draw(data.x_test, data.y_test, n_test)
    return TaskData(x, y, xt, yt, torch.ones(M, dtype=torch.float64)), positive


def shared_vs_separate(
    tasks: TaskData,
    *,
    sizes: Sequence[int],
    config: TrainConfig,
    seed: int = 0,
) -> dict:
    """Train a shared trunk with task heads and separate per-task networks on the same tasks.

    Parameters
    ----------
    tasks : TaskData
        From :func:`shared_representation_tasks` or :func:`class_partition_tasks`.
    sizes : sequence of int
        Layer widths of every task's network, e.g. ``(16, 4, 1)``: the shared model shares
        all layers but the last (the heads); the separate model shares none.
    config : TrainConfig
        Used for both models (``config.loss`` decides regression or classification).
    seed : int
        Initialisation seed of both models.

    Returns
    -------
    dict
        ``{"shared": Tensor (M,), "separate": Tensor (M,), "parameters": {"shared": int,
        "separate": int}}``: the test metric of every member averaged over its tasks (MSE
        divided by ``tasks.scale`` for regression, accuracy for classification), and the
        parameters per member.
    """
    if not isinstance(tasks, TaskData):
        raise TypeError(f"tasks must be a TaskData, but got {type(tasks).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    sizes = list(sizes)
    if len(sizes) < 3:
        raise ValueError(f"sizes must have at least one hidden layer (3 widths) to share a trunk, but got {sizes}")
    M, T = tasks.x_train.shape[:2]
    out = {"parameters": {}}
    for name, shared in (("shared", len(sizes) - 2), ("separate", 0)):
        model = MultitaskMLP(M, sizes, T, shared_layers=shared, seed=seed, dtype=tasks.x_train.dtype)
        fit_multitask(model, tasks.x_train, tasks.y_train, config=config)
        measured = evaluate_multitask(model, tasks.x_test, tasks.y_test, loss=config.loss)
        if config.loss == "mse":
            out[name] = measured["loss"].mean(1) / tasks.scale
        else:
            out[name] = measured["accuracy"].mean(1)
        out["parameters"][name] = model.parameters_per_member()
    return out


experiment(
    "MT-1",
    chapter="multitask",
    claim="Tasks sharing a low-dimensional representation: a shared trunk with task heads generalises better than separate models when each task has few examples.",
)


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
    p = XA.shape[1]
    eye = torch.eye(p, dtype=XA.dtype)
    A = torch.cat(
        [torch.cat([XA.T @ XA + lam * eye, -lam * eye], 1), torch.cat([-lam * eye, XB.T @ XB + lam * eye], 1)], 0
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


@derivation(
    "MT-2",
    chapter="multitask",
    claim="Soft sharing: two least-squares models with penalty lam*||theta_A - theta_B||^2 have a closed-form joint minimiser between the separate fits (lam -> 0) and the pooled fit (lam -> inf).",
)
def check_soft_sharing_closed_form(*, lams: Sequence[float] = (0.1, 1.0, 10.0), seed: int = 0) -> Check:
    """MT-2: the block-system solution vs conjugate gradients on the autograd gradient, several lam."""
    problem, _ = two_related_regressions(12, dim=4, seed=seed)
    closed = torch.cat([torch.cat(soft_sharing_solution(*problem, lam)) for lam in lams])
    numeric = torch.cat([torch.cat(solve_soft_sharing_iteratively(*problem, lam)) for lam in lams])
    return compare(
        "MT-2",
        closed,
        numeric,
        atol=1e-8,
        analytic_label="closed form (block solve)",
        empirical_label="conjugate gradients + autograd",
        note=f"(w_A, w_B) for lam = {', '.join(f'{v:g}' for v in lams)}; 12 examples per task, 4 features",
    )


def check_soft_sharing_limits(*, small: float = 1e-7, large: float = 1e7, seed: int = 0) -> tuple[Check, Check]:
    """MT-2 limits: lam -> 0 gives the separate fits, lam -> inf the pooled fit (lstsq).

    The gaps are O(lam) and O(1/lam) (see the chapter's figure), so at ``small = 1e-7`` and
    ``large = 1e7`` they are about 1e-7 for this well-conditioned problem.
    """
    small = check_real("small", small, low=0.0, low_open=True)
    large = check_real("large", large, low=0.0, low_open=True)
    problem, _ = two_related_regressions(12, dim=4, seed=seed)
    near_zero = compare(
        "MT-2",
        torch.cat(separate_fits(*problem)),
        torch.cat(soft_sharing_solution(*problem, small)),
        atol=1e-6,
        analytic_label="separate fits (lstsq)",
        empirical_label=f"soft sharing, lam={small:g}",
    )
    pooled = pooled_fit(*problem)
    near_inf = compare(
        "MT-2",
        torch.cat([pooled, pooled]),
        torch.cat(soft_sharing_solution(*problem, large)),
        atol=1e-6,
        analytic_label="pooled fit (lstsq), twice",
        empirical_label=f"soft sharing, lam={large:g}",
    )
    return near_zero, near_inf
