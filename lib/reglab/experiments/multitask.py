"""MT-1 and MT-3: hard sharing measured, a shared trunk against separate networks.

The runs of the chapter ``multitask``: :func:`shared_representation_tasks` makes regression
tasks with a known shared representation (MT-1), :func:`class_partition_tasks` makes binary
tasks from the digits (MT-3), and :func:`shared_vs_separate` trains both kinds of model on the
same tasks, ``M`` seeds at once. :class:`SyntheticSweep` and :class:`DigitsSweep` hold the
settings the chapter uses; :func:`run_sweep` trains every training-set size of a sweep,
:func:`per_seed_gain` turns it into the per-seed effect that the chapter records with
:func:`reglab.book.record`, and :func:`sizes_where` and :func:`sizes_in_words` say at which
sizes the paired difference is significant, for the prose.

The penalty is the same per model in both arms: :func:`reglab.multitask.fit_multitask` adds
``(alpha / T) * member_l2()`` to the mean over the ``T`` task losses, so every separate network
minimises its task loss plus ``alpha/2`` times its squared weights, exactly as if trained alone,
and the shared model minimises the sum of the task losses plus ``alpha/2`` times the squared
weights of its trunk and of every head.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_real
from ..data import Dataset, digits
from ..derivations.registry import experiment
from ..multitask import MultitaskMLP, evaluate_multitask, fit_multitask
from ..stats import mean_ci
from ..training import TrainConfig

__all__ = [
    "DigitsSweep",
    "Sweep",
    "SyntheticSweep",
    "TaskData",
    "class_partition_tasks",
    "per_seed_gain",
    "run_sweep",
    "shared_representation_tasks",
    "shared_vs_separate",
    "sizes_in_words",
    "sizes_where",
]

experiment(
    "MT-1",
    chapter="multitask",
    claim=("On 16 synthetic regression tasks that share 2 ReLU features, a shared trunk with task "
           "heads has a lower relative test error than 16 separate networks (the same L2 penalty per "
           "model) from 20 to 160 training examples per task and a higher one at 5; averaged over "
           "5 to 160, an advantage is not shown."),
    expected="increase",
    measures="relative test error of separate networks minus shared trunk, mean over n",
    unit="",
)

experiment(
    "MT-3",
    chapter="multitask",
    claim=("On 10 binary tasks on the digits (is the class in a random half S_t?), a shared trunk "
           "with task heads is more accurate than 10 separate networks (the same L2 penalty per "
           "model), on average over 10 to 160 training images per task (paired seeds)."),
    expected="increase",
    measures="test accuracy of shared trunk minus separate networks, mean over n",
    unit="points",
)


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


@dataclass(frozen=True)
class SyntheticSweep:
    """MT-1: ``num_tasks`` regression tasks sharing ``rank`` ReLU features of a ``dim``-d input.

    Both arms are ReLU networks of widths ``(dim, hidden, 1)`` per task, trained with
    ``train`` (Adam, full batch, L2 penalty ``train.weight_decay`` on every weight, the same per
    model in both arms); ``seeds`` members (each its own teacher and data) train at once, for
    every number of examples per task in ``n_values``.
    """

    num_tasks: int = 16
    dim: int = 16
    rank: int = 2
    noise: float = 0.2
    hidden: int = 4
    n_values: tuple[int, ...] = (5, 10, 20, 40, 80, 160)
    seeds: int = 5
    task_seed: int = 0
    init_seed: int = 1
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=300, lr=0.01, batch_size=10**6, optimizer="adam", loss="mse", weight_decay=0.01))

    @property
    def sizes(self) -> tuple[int, int, int]:
        return (self.dim, self.hidden, 1)

    def tasks(self, n: int) -> TaskData:
        return shared_representation_tasks(self.seeds, self.num_tasks, n, dim=self.dim, rank=self.rank,
                                           noise=self.noise, seed=self.task_seed)


@dataclass(frozen=True)
class DigitsSweep:
    """MT-3: ``num_tasks`` tasks "is the digit's class in S_t?" on the scikit-learn digits.

    Networks of widths ``(64, hidden, 2)`` per task, trained with ``train``; ``seeds`` members,
    each its own draw of ``n`` training images per task (and ``n_test`` test images).
    """

    num_tasks: int = 10
    hidden: int = 32
    n_values: tuple[int, ...] = (10, 20, 40, 80, 160)
    n_test: int = 300
    seeds: int = 5
    task_seed: int = 0
    init_seed: int = 1
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=200, lr=0.01, batch_size=10**6, optimizer="adam", loss="cross_entropy", weight_decay=0.001))

    @property
    def sizes(self) -> tuple[int, int, int]:
        return (64, self.hidden, 2)

    def tasks(self, n: int, data: Dataset | None = None) -> tuple[TaskData, Tensor]:
        return class_partition_tasks(data if data is not None else digits(), self.seeds, self.num_tasks, n,
                                     n_test=self.n_test, seed=self.task_seed)


@dataclass
class Sweep:
    """What :func:`run_sweep` measured.

    Attributes
    ----------
    results : dict
        ``{n: shared_vs_separate(...) output}`` for every ``n`` of the sweep.
    metric : str
        ``"relative error"`` (MT-1: test MSE / Var(noiseless target)) or ``"accuracy"``.
    noise_floor : float
        For MT-1 the teacher's own relative error ``noise**2 / Var``, averaged over members;
        ``nan`` for MT-3.
    positive_sets : Tensor or None
        For MT-3 the positive classes of every task, (T, 10) booleans.
    """

    results: dict
    metric: str
    noise_floor: float = float("nan")
    positive_sets: Tensor | None = None


def run_sweep(config: SyntheticSweep | DigitsSweep) -> Sweep:
    """Train the shared trunk and the separate networks for every ``n`` of the sweep."""
    if isinstance(config, SyntheticSweep):
        results, tasks = {}, None
        for n in config.n_values:
            tasks = config.tasks(n)
            results[n] = shared_vs_separate(tasks, sizes=config.sizes, config=config.train, seed=config.init_seed)
        floor = float((config.noise**2 / tasks.scale).mean())
        return Sweep(results, "relative error", noise_floor=floor)
    if isinstance(config, DigitsSweep):
        data, results, positive = digits(), {}, None
        for n in config.n_values:
            tasks, positive = config.tasks(n, data)
            results[n] = shared_vs_separate(tasks, sizes=config.sizes, config=config.train, seed=config.init_seed)
        return Sweep(results, "accuracy", positive_sets=positive)
    raise TypeError(f"config must be a SyntheticSweep or a DigitsSweep, but got {type(config).__name__}")


def per_seed_gain(sweep: Sweep) -> np.ndarray:
    """The advantage of the shared trunk for every seed, averaged over the sweep's ``n``.

    Relative error of the separate networks minus that of the shared trunk (MT-1), or test
    accuracy of the shared trunk minus that of the separate networks in points (MT-3): positive
    when sharing helps. Member ``m`` is the same seed at every ``n`` (same teacher for MT-1).

    Returns
    -------
    numpy.ndarray of shape (M,)
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, but got {type(sweep).__name__}")
    gaps = [r["separate"] - r["shared"] if sweep.metric == "relative error" else 100 * (r["shared"] - r["separate"])
            for r in sweep.results.values()]
    return torch.stack(gaps).mean(0).numpy()


def sizes_where(sweep: Sweep, *, favours_sharing: bool = True) -> list[int]:
    """The training-set sizes ``n`` at which the paired 95 % interval excludes 0.

    The interval is that of the per-seed difference between the two arms at one ``n``
    (:func:`reglab.stats.mean_ci`), oriented so that positive favours sharing: relative error
    of the separate networks minus the shared trunk (MT-1), accuracy of the shared trunk minus
    the separate networks (MT-3).

    Parameters
    ----------
    sweep : Sweep
        From :func:`run_sweep`.
    favours_sharing : bool
        The sizes where the interval lies above 0 (sharing is better), or, if False, below 0
        (the separate networks are better).

    Returns
    -------
    list of int
        In the sweep's order.

    Examples
    --------
    >>> sweep = Sweep({5: {"shared": torch.tensor([0.9, 0.8, 0.7]),
    ...                    "separate": torch.tensor([0.5, 0.45, 0.4])},
    ...                10: {"shared": torch.tensor([0.5, 0.3, 0.4]),
    ...                     "separate": torch.tensor([0.4, 0.4, 0.4])}}, "relative error")
    >>> sizes_where(sweep, favours_sharing=False), sizes_where(sweep)
    ([5], [])
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, but got {type(sweep).__name__}")
    if not isinstance(favours_sharing, bool):
        raise TypeError(f"favours_sharing must be True or False, but got {favours_sharing!r}")
    out = []
    for n, r in sweep.results.items():
        gap = r["separate"] - r["shared"] if sweep.metric == "relative error" else r["shared"] - r["separate"]
        m, h = mean_ci(np.asarray(gap))
        if (m - h > 0) if favours_sharing else (m + h < 0):
            out.append(n)
    return out


def sizes_in_words(sizes: Sequence[int]) -> str:
    """A list of sizes as the prose says it: ``[20, 40, 80]`` is ``"20, 40 and 80"``.

    An empty list is ``"none"``.

    Examples
    --------
    >>> sizes_in_words([20, 40, 80]), sizes_in_words([5]), sizes_in_words([])
    ('20, 40 and 80', '5', 'none')
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a list of integers, but got {type(sizes).__name__} {sizes!r}")
    words = [str(check_int(f"sizes[{i}]", v, low=0)) for i, v in enumerate(sizes)]
    if len(words) < 2:
        return words[0] if words else "none"
    return ", ".join(words[:-1]) + " and " + words[-1]
