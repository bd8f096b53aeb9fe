"""The experiment of the chapter *Bagging*: bags of bootstrap MLPs on MNIST-1D (BAG-4).

The result is registered here with the direction it expects; the chapter records the measured
effect with :func:`reglab.book.record`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from .._validation import check_int, check_real
from ..data import Dataset
from ..derivations.registry import experiment
from ..ensembles import BaggedModels, ensemble_average, fit_bagged
from ..training import TrainConfig, accuracy

__all__ = ["BAG4", "BaggingConfig", "BaggingRun", "run_bagging"]

BAG4 = experiment(
    "BAG-4",
    chapter="bagging",
    claim="On MNIST-1D a bag of 8 bootstrap MLPs has a higher test accuracy than its average "
    "member (5 bags).",
    expected="increase",
    measures="test accuracy of the bag of 8 (probabilities averaged) minus its members' mean",
    unit="points",
)


@dataclass(frozen=True)
class BaggingConfig:
    """Settings of the BAG-4 run: ``num_bags`` bags of ``members_per_bag`` bootstrap MLPs.

    All ``num_bags * members_per_bag`` members are trained at once (one stacked network), each
    on its own bootstrap sample and from its own initialisation, and then split into bags.

    Attributes
    ----------
    num_bags : int >= 5
        Independent bags (the replicates of the experiment).
    members_per_bag : int >= 2
        Members averaged in one bag (the lecture's k).
    sizes : tuple of int
        Layer widths of every member (input 40 for MNIST-1D, 10 classes).
    epochs, lr, batch_size, optimizer, seed
        Training settings of every member (see :class:`reglab.runs.TrainConfig`); no other
        regularization.
    """

    num_bags: int = 5
    members_per_bag: int = 8
    sizes: tuple[int, ...] = (40, 100, 100, 10)
    epochs: int = 15
    lr: float = 2e-3
    batch_size: int = 100
    optimizer: str = "adam"
    seed: int = 0

    def __post_init__(self):
        check_int("num_bags", self.num_bags, low=5)
        check_int("members_per_bag", self.members_per_bag, low=2)
        check_real("lr", self.lr, low=0.0, low_open=True)

    @property
    def num_members(self) -> int:
        return self.num_bags * self.members_per_bag

    def train_config(self) -> TrainConfig:
        """The :class:`reglab.runs.TrainConfig` every member is trained with."""
        return TrainConfig(epochs=self.epochs, lr=self.lr, optimizer=self.optimizer,
                           batch_size=self.batch_size, seed=self.seed)


@dataclass(frozen=True)
class BaggingRun:
    """What the BAG-4 run measured on the test set.

    Attributes
    ----------
    config : BaggingConfig
    bag : BaggedModels
        The trained members, their bootstrap indices and training history.
    logits : Tensor of shape (members, n_test, classes)
        Every member's test outputs, bag ``b`` being members ``b*k .. b*k + k - 1``.
    member_acc : Tensor of shape (num_bags, members_per_bag)
        Test accuracy of every member.
    bag_acc : Tensor of shape (num_bags,)
        Test accuracy of each bag's averaged probabilities.
    """

    config: BaggingConfig
    bag: BaggedModels = field(repr=False)
    logits: Tensor = field(repr=False)
    member_acc: Tensor = field(repr=False)
    bag_acc: Tensor = field(repr=False)

    @property
    def bag_logits(self) -> Tensor:
        """The logits as (num_bags, members_per_bag, n_test, classes)."""
        c = self.config
        return self.logits.reshape(c.num_bags, c.members_per_bag, *self.logits.shape[1:])

    def gain(self) -> Tensor:
        """Per bag: its accuracy minus its members' mean accuracy, in percentage points."""
        return 100 * (self.bag_acc - self.member_acc.mean(1))


def run_bagging(data: Dataset, config: BaggingConfig = BaggingConfig()) -> BaggingRun:
    """Train the bags of :class:`BaggingConfig` on ``data`` and evaluate them on its test set.

    Parameters
    ----------
    data : Dataset
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (MNIST-1D in the chapter).
    config : BaggingConfig

    Returns
    -------
    BaggingRun
    """
    if not isinstance(config, BaggingConfig):
        raise TypeError(f"config must be a BaggingConfig, but got {type(config).__name__}")
    bag = fit_bagged(data.x_train, data.y_train, num_members=config.num_members,
                     sizes=config.sizes, config=config.train_config())
    with torch.no_grad():
        logits = bag.outputs(data.x_test)
    k = config.members_per_bag
    member_acc = accuracy(logits, data.y_test).reshape(config.num_bags, k)
    bag_logits = logits.reshape(config.num_bags, k, *logits.shape[1:])
    bag_acc = accuracy(ensemble_average(bag_logits, kind="probabilities", dim=1), data.y_test)
    return BaggingRun(config=config, bag=bag, logits=logits, member_acc=member_acc, bag_acc=bag_acc)
