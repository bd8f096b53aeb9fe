"""The experiments of the chapter *Dropout*: an MLP on MNIST-1D with and without dropout.

DO-7 (test accuracy) and DO-8 (fraction of active hidden units) are measured on the same paired
runs. Both are registered here, with the direction they expect; their per-seed effects are
:meth:`DropoutRun.accuracy_gain` and :meth:`DropoutRun.active_change`, which the chapter records
with :func:`reglab.book.record`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from .._validation import check_int, check_real
from ..data import Dataset
from ..derivations.registry import experiment
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = ["DropoutConfig", "DropoutRun", "active_fraction", "run_dropout"]

CHAPTER = "dropout"

experiment(
    "DO-7",
    chapter=CHAPTER,
    claim="A 40-100-100-10 MLP on MNIST-1D trained with dropout (keep 0.8 on both hidden layers) "
    "has a higher test accuracy than without (paired seeds).",
    expected="increase",
    measures="test accuracy with dropout minus without (same seed)",
    unit="points",
)
experiment(
    "DO-8",
    chapter=CHAPTER,
    claim="Dropout lowers the fraction of active (positive) hidden units on test inputs (both "
    "hidden layers together, paired seeds).",
    expected="decrease",
    measures="fraction of active hidden units with dropout minus without (same seed)",
    unit="points",
)


@dataclass(frozen=True)
class DropoutConfig:
    """Settings of the DO-7/DO-8 runs: the same MLP without and with dropout, paired seeds.

    Attributes
    ----------
    seeds : int >= 5
        Independent runs per arm, trained at once as one stacked model.
    sizes : tuple of int
        Layer widths (input 40 for MNIST-1D, 10 classes).
    keep_prob : float in (0, 1]
        Keep probability of (inverted) dropout on every hidden layer, in the dropout arm.
    epochs, lr, momentum, batch_size : training settings (SGD), the same for both arms.
    init_seed : int
        Seed of the initialisations (the same 5 in both arms).
    data_seed : int
        Seed of the minibatch order (the same in both arms).
    mask_seed : int
        Seed of the dropout masks (StackedMLP draws them from PyTorch's global generator, which
        :func:`run_dropout` seeds with it and restores afterwards).
    eval_every : int
        Epochs between two evaluations of the test accuracy (learning curves only).
    """

    seeds: int = 5
    sizes: tuple[int, ...] = (40, 100, 100, 10)
    keep_prob: float = 0.8
    epochs: int = 50
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 100
    init_seed: int = 1
    data_seed: int = 0
    mask_seed: int = 0
    eval_every: int = 5

    def __post_init__(self):
        check_int("seeds", self.seeds, low=5)
        check_real("keep_prob", self.keep_prob, low=0.0, high=1.0, low_open=True)

    def train_config(self) -> TrainConfig:
        """The :class:`reglab.runs.TrainConfig` of both arms."""
        return TrainConfig(epochs=self.epochs, lr=self.lr, momentum=self.momentum,
                           batch_size=self.batch_size, seed=self.data_seed)

    @property
    def arms(self) -> dict[str, float | None]:
        """Arm name -> keep probability (None: no dropout)."""
        return {"no dropout": None, f"dropout, keep_prob {self.keep_prob:g}": self.keep_prob}


def active_fraction(model: StackedMLP, X: Tensor) -> Tensor:
    """Per seed and hidden layer, the fraction of (input, unit) pairs with a positive activation.

    Parameters
    ----------
    model : StackedMLP
    X : Tensor of shape (n, d)

    Returns
    -------
    Tensor of shape (hidden layers, seeds)
        Measured in eval mode (no dropout) on ``X``.
    """
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(X)
    model.train(was_training)
    return torch.stack([(h > 0).to(torch.float64).mean(dim=(1, 2)) for h in model.hidden])


@dataclass(frozen=True)
class DropoutRun:
    """The trained models of both arms and what they measured.

    Attributes
    ----------
    config : DropoutConfig
    models, histories : dict of arm name -> StackedMLP / training history
    train_acc, test_acc : dict of arm name -> Tensor of shape (seeds,)
    active : dict of arm name -> Tensor of shape (hidden layers, seeds)
        Fraction of active hidden units on the test inputs (:func:`active_fraction`).
    """

    config: DropoutConfig
    models: dict = field(repr=False)
    histories: dict = field(repr=False)
    train_acc: dict = field(repr=False)
    test_acc: dict = field(repr=False)
    active: dict = field(repr=False)

    def _pair(self, values: dict) -> tuple[Tensor, Tensor]:
        without, with_dropout = self.config.arms
        return values[without], values[with_dropout]

    def accuracy_gain(self) -> Tensor:
        """DO-7 per seed: test accuracy with dropout minus without, in percentage points."""
        without, with_dropout = self._pair(self.test_acc)
        return 100 * (with_dropout - without)

    def active_change(self) -> Tensor:
        """DO-8 per seed: fraction of active hidden units (both layers) with minus without, points."""
        without, with_dropout = self._pair(self.active)
        return 100 * (with_dropout.mean(0) - without.mean(0))

    def prose_numbers(self) -> dict[str, float | int]:
        """The settings and mean accuracies (in percent) that the chapter's prose quotes.

        Keys ``keep``, ``seeds``, ``momentum``, ``lr``, ``batch``, ``epochs`` (the settings), then
        ``test_none``, ``train_none``, ``test_drop``, ``train_drop`` (mean accuracy over the seeds
        without and with dropout); the chapter glues them as ``do_<key>``.
        """
        c = self.config
        numbers = {"keep": c.keep_prob, "seeds": c.seeds, "momentum": c.momentum, "lr": c.lr,
                   "batch": c.batch_size, "epochs": c.epochs}
        for name, key in zip(c.arms, ("none", "drop")):
            numbers[f"test_{key}"] = 100 * self.test_acc[name].mean().item()
            numbers[f"train_{key}"] = 100 * self.train_acc[name].mean().item()
        return numbers


def run_dropout(data: Dataset, config: DropoutConfig = DropoutConfig()) -> DropoutRun:
    """Train both arms of :class:`DropoutConfig` on ``data``; evaluate them on its test set."""
    if not isinstance(config, DropoutConfig):
        raise TypeError(f"config must be a DropoutConfig, but got {type(config).__name__}")
    models, histories, train_acc, test_acc, active = {}, {}, {}, {}, {}
    for name, keep in config.arms.items():
        model = StackedMLP(config.seeds, config.sizes, seed=config.init_seed, dropout_keep=keep,
                           dtype=data.x_train.dtype)
        with torch.random.fork_rng(devices=[]):  # the masks, independent of the caller's state
            torch.manual_seed(config.mask_seed)
            histories[name] = fit_stacked(model, data.x_train, data.y_train, config=config.train_config(),
                                          val=(data.x_test, data.y_test), eval_every=config.eval_every)
        models[name] = model
        train_acc[name] = evaluate_stacked(model, data.x_train, data.y_train)["accuracy"]
        test_acc[name] = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"]
        active[name] = active_fraction(model, data.x_test)
    return DropoutRun(config=config, models=models, histories=histories, train_acc=train_acc,
                      test_acc=test_acc, active=active)
