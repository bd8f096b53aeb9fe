"""The experiment of the chapter *Noise on the weights*: flatter minima with weight noise (WN-3).

Networks are trained on MNIST-1D with squared error against one-hot targets, ``seeds`` per noise
variance, all at once; member ``s`` of every noise level starts from the same initialisation, so
per-seed differences are paired. Flatness is measured with :mod:`reglab.curvature`. The result is
registered here, with the direction it expects; the chapter records what it measured with
:func:`reglab.book.record` and :func:`effect`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_int
from ..curvature import jacobian_sq_norm, top_hessian_eigenvalue
from ..data import Dataset
from ..derivations.registry import experiment
from ..noise import add_weight_noise, remove_weight_noise
from ..training import StackedMLP, TrainConfig, fit_stacked, paired_stacked_mlp

__all__ = ["COMPARE_ETA", "FlatMinimaConfig", "FlatMinimaRun", "effect", "run_flat_minima"]

CHAPTER = "weight_noise"

#: The noise variance whose paired difference from eta = 0 is recorded as WN-3 (fixed before the runs).
COMPARE_ETA = 1e-3

experiment(
    "WN-3",
    chapter=CHAPTER,
    claim="After the same training budget on MNIST-1D, networks trained with weight noise (eta = 1e-3) "
    "sit where the training loss is flatter: a smaller top Hessian eigenvalue than without noise (paired "
    "seeds). They also end at a higher training loss, so the two are not compared at equal fit.",
    expected="decrease",
    measures="top Hessian eigenvalue of the training loss with weight noise eta = 1e-3 minus without",
)


@dataclass(frozen=True)
class FlatMinimaConfig:
    """Settings of WN-3.

    Attributes
    ----------
    noise_levels : tuple of float
        Weight-noise variances eta, the first 0 (the baseline).
    train_size : int
        MNIST-1D training signals (a subset drawn with ``subset_seed``).
    seeds : int >= 5
        Networks per noise level.
    noise_seed, power_seed : int
        Seeds of the weight noise and of the power iteration's start vectors.
    iterations : int
        Power-iteration steps for the top Hessian eigenvalue.
    """

    noise_levels: tuple[float, ...] = (0.0, 3e-4, 1e-3, 3e-3)
    train_size: int = 1000
    seeds: int = 5
    layers: tuple[int, ...] = (40, 64, 64, 10)
    epochs: int = 60
    lr: float = 0.05
    batch_size: int = 100
    subset_seed: int = 0
    init_seed: int = 0
    noise_seed: int = 1
    power_seed: int = 2
    iterations: int = 50

    def __post_init__(self):
        check_int("seeds", self.seeds, low=5)
        if not self.noise_levels or self.noise_levels[0] != 0:
            raise ValueError(f"noise_levels must start with 0 (the baseline), but got {self.noise_levels}")


@dataclass(frozen=True)
class FlatMinimaRun:
    """What WN-3 measured; every tensor of shape (noise levels, seeds) unless said otherwise.

    Attributes
    ----------
    model : StackedMLP
        The trained networks (clean weights), member ``i * seeds + s``: level ``i``, seed ``s``.
    train_x, targets : Tensor
        The training signals and their one-hot targets.
    sensitivity : Tensor
        E ||grad_W y^||_F^2 on the training set.
    top : Tensor
        Top eigenvalue of the Hessian of the training loss (weights only).
    vectors : list of Tensor
        The top eigenvectors, one tensor per weight matrix (shape (members, out, in)).
    train_loss, test_acc : Tensor
        Training squared error and test accuracy (fraction).
    """

    config: FlatMinimaConfig
    model: StackedMLP = field(repr=False)
    train_x: Tensor = field(repr=False)
    targets: Tensor = field(repr=False)
    sensitivity: Tensor = field(repr=False)
    top: Tensor = field(repr=False)
    vectors: list = field(repr=False)
    train_loss: Tensor = field(repr=False)
    test_acc: Tensor = field(repr=False)

    def difference(self, what: str, level: float) -> Tensor:
        """Per seed: ``what`` ("top", "sensitivity", ...) at noise ``level`` minus at 0."""
        values = getattr(self, what)
        return values[self.config.noise_levels.index(level)] - values[0]


def run_flat_minima(data: Dataset, config: FlatMinimaConfig = FlatMinimaConfig()) -> FlatMinimaRun:
    """Train with weight noise at each level of ``config`` and measure flatness on the training set."""
    if not isinstance(config, FlatMinimaConfig):
        raise TypeError(f"config must be a FlatMinimaConfig, but got {type(config).__name__}")
    levels, S = config.noise_levels, config.seeds
    train = data.subset(config.train_size, seed=config.subset_seed)
    targets = F.one_hot(train.y_train, 10).double()
    eta = torch.tensor([e for e in levels for _ in range(S)], dtype=torch.float64)
    model = paired_stacked_mlp(len(levels), S, config.layers, seed=config.init_seed)
    add_weight_noise(model, eta, generator=torch.Generator().manual_seed(config.noise_seed))
    fit_stacked(model, train.x_train, targets,
                config=TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size, loss="mse"))
    remove_weight_noise(model)
    shape = (len(levels), S)
    sensitivity = jacobian_sq_norm(model, train.x_train).reshape(shape)
    top, vectors = top_hessian_eigenvalue(model, train.x_train, targets, iterations=config.iterations,
                                          return_vectors=True,
                                          generator=torch.Generator().manual_seed(config.power_seed))
    with torch.no_grad():
        train_loss = (model(train.x_train) - targets).pow(2).sum(-1).mean(-1).reshape(shape)
        test_acc = (model(data.x_test).argmax(-1) == data.y_test).double().mean(-1).reshape(shape)
    return FlatMinimaRun(config=config, model=model, train_x=train.x_train, targets=targets,
                         sensitivity=sensitivity, top=top.reshape(shape), vectors=vectors,
                         train_loss=train_loss, test_acc=test_acc)


def effect(run: FlatMinimaRun) -> Tensor:
    """WN-3 per seed: the top Hessian eigenvalue at eta = :data:`COMPARE_ETA` minus at eta = 0.

    Parameters
    ----------
    run : FlatMinimaRun
        Its noise levels must include :data:`COMPARE_ETA`.

    Returns
    -------
    Tensor of shape (seeds,)
    """
    if not isinstance(run, FlatMinimaRun):
        raise TypeError(f"run must be a FlatMinimaRun, but got {type(run).__name__}")
    if COMPARE_ETA not in run.config.noise_levels:
        raise ValueError(f"the run has no noise level {COMPARE_ETA:g}; its levels are "
                         f"{run.config.noise_levels}")
    return run.difference("top", COMPARE_ETA)
