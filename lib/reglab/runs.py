"""What every training loop of the library shares: a run's settings and its record.

- :class:`TrainConfig`: the settings of one run (epochs, learning rate, optimizer, loss, seed);
- :class:`History`: what a run measured, epoch by epoch.

Private helpers turn a config into the loss it names and the optimizer it names, and run one
epoch of a stacked model's members (each member its own minibatch order), so that
:func:`reglab.training.fit`, :func:`reglab.training.fit_stacked` and
:func:`reglab.multitask.fit_multitask` all build their optimizer, and draw their minibatches,
the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import check_choice, check_int, check_real

__all__ = ["TrainConfig", "History"]


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes
    ----------
    epochs : int
        Passes over the training set.
    lr : float
        Learning rate (the lecture's epsilon).
    batch_size : int
        Minibatch size.
    optimizer : str
        ``"sgd"``, ``"adam"`` or ``"adamw"``.
    momentum : float
        SGD momentum.
    weight_decay : float
        Penalty weight alpha of an L2 term added to the loss, ``alpha * l2_penalty`` over the
        weight matrices only (biases are not decayed). For ``"adamw"`` it is the decoupled decay.
    loss : str
        ``"cross_entropy"`` or ``"mse"``.
    seed : int
        Seed of the initialisation and minibatch order.

    Examples
    --------
    >>> TrainConfig(epochs=5, optimizer="adam").lr
    0.05
    >>> TrainConfig(lr=0.0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be in (0, inf), but got 0.0
    """

    epochs: int = 20
    lr: float = 0.05
    batch_size: int = 100
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    loss: str = "cross_entropy"
    seed: int = 0

    def __post_init__(self):
        check_int("epochs", self.epochs, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size, low=1)
        check_choice("optimizer", self.optimizer, ("sgd", "adam", "adamw"))
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_choice("loss", self.loss, ("cross_entropy", "mse"))
        check_int("seed", self.seed, low=0)


@dataclass
class History:
    """What a training run measured; arrays have one row per epoch (or evaluation).

    For stacked models every array has a last dimension of size ``num_models``.

    Examples
    --------
    >>> h = History(train_loss=[[0.9, 1.1], [0.5, 0.7]])
    >>> h.as_arrays()["train_loss"].shape  # two epochs, two members
    (2, 2)
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    eval_epochs: list = field(default_factory=list)
    best_epoch: object = None

    def as_arrays(self) -> dict:
        """The history as NumPy arrays."""
        return {k: np.asarray(v) for k, v in self.__dict__.items() if v is not None}


def _loss(kind: str, out: Tensor, y: Tensor) -> Tensor:
    """Per-model mean loss; ``out`` is (n, k) or (M, n, k) and ``y`` matches its leading dims."""
    if kind == "cross_entropy":
        per = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none")
    else:
        per = (out.reshape(-1, out.shape[-1]) - y.reshape(-1, out.shape[-1]).to(out.dtype)).pow(2).sum(-1)
    return per.reshape(out.shape[:-1]).mean(-1)


def _make_optimizer(params, config: TrainConfig):
    """The optimizer ``config.optimizer`` names (for ``"adamw"`` with the decoupled decay)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _stacked_epoch(
    opt: torch.optim.Optimizer,
    gen: torch.Generator,
    num_models: int,
    n: int,
    batch_size: int,
    step: Callable[[Tensor], tuple[Tensor, Tensor]],
    *,
    device,
) -> list:
    """One epoch of ``num_models`` stacked members, each in its own random order of ``n`` examples.

    ``step(cols)`` gets the (M, b) positions of a minibatch in each member's examples and returns
    ``(per_member_loss, objective)``, both of shape (M,); the summed objective is minimised (the
    members share no parameter, so each gets its own gradient). Returns the epoch's mean
    ``per_member_loss`` of every member, as a list. The order is drawn by the CPU generator
    ``gen`` (the same on every device), then moved to ``device``.
    """
    order = torch.argsort(torch.rand(num_models, n, generator=gen), dim=1).to(device)
    total = torch.zeros(num_models, dtype=torch.float64, device=device)
    for start in range(0, n, batch_size):
        cols = order[:, start : start + batch_size]
        per_member, objective = step(cols)
        opt.zero_grad()
        objective.sum().backward()
        opt.step()
        total += per_member.detach().to(torch.float64) * cols.shape[1]
    return (total / n).tolist()
