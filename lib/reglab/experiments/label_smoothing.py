"""The experiment of the chapter *Label smoothing*: noisy MNIST-1D labels, with and without (LS-4).

A fraction of the training labels is flipped with the noise model of LS-1; ``seeds`` networks
per smoothing value train at once on the same noisy labels, member ``s`` of every value from the
same initialisation (paired seeds). The result is registered here, with the direction it expects;
its per-seed effect is ``run.difference("ece", 0.3)`` (:meth:`NoisyLabelRun.difference`), which the
chapter records with :func:`reglab.book.record`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_int, check_real
from ..data import Dataset
from ..derivations.registry import experiment
from ..noise import corrupt_labels, expected_calibration_error, smoothed_cross_entropy
from ..training import TrainConfig, fit_stacked, paired_stacked_mlp

__all__ = ["NoisyLabelConfig", "NoisyLabelRun", "run_noisy_labels"]

CHAPTER = "label_smoothing"

experiment(
    "LS-4",
    chapter=CHAPTER,
    claim="MNIST-1D with 30 % of the training labels flipped: smoothing at the noise rate (eps = 0.3) "
    "lowers the expected calibration error on clean test signals against no smoothing (paired seeds).",
    expected="decrease",
    measures="test ECE with eps = 0.3 minus without smoothing",
    unit="points",
)


@dataclass(frozen=True)
class NoisyLabelConfig:
    """Settings of LS-4.

    Attributes
    ----------
    noise_rate : float
        Probability that a training label is replaced by one of the other classes.
    smoothing : tuple of float
        The eps values compared, the first 0 (plain cross-entropy).
    num_bins : int
        Equal-width confidence bins of the expected calibration error.
    """

    noise_rate: float = 0.3
    smoothing: tuple[float, ...] = (0.0, 0.1, 0.3)
    train_size: int = 2000
    seeds: int = 5
    layers: tuple[int, ...] = (40, 64, 64, 10)
    epochs: int = 40
    lr: float = 0.05
    batch_size: int = 100
    subset_seed: int = 0
    label_seed: int = 0
    init_seed: int = 0
    num_bins: int = 15

    def __post_init__(self):
        check_int("seeds", self.seeds, low=5)
        check_real("noise_rate", self.noise_rate, low=0.0, high=1.0)
        if not self.smoothing or self.smoothing[0] != 0:
            raise ValueError(f"smoothing must start with 0 (no smoothing), but got {self.smoothing}")


@dataclass(frozen=True)
class NoisyLabelRun:
    """What LS-4 measured; per-network tensors have shape (smoothing values, seeds).

    Attributes
    ----------
    noisy_labels : LongTensor of shape (train_size,)
    flipped : float
        Fraction of the training labels actually changed.
    test_logits : Tensor of shape (members, n_test, 10)
    test_acc, ece, confidence, train_fit : Tensor
        Test accuracy, expected calibration error, mean top-class probability on the clean test
        set, and agreement with the noisy training labels (fractions).
    """

    config: NoisyLabelConfig
    noisy_labels: Tensor = field(repr=False)
    flipped: float
    test_logits: Tensor = field(repr=False)
    test_acc: Tensor = field(repr=False)
    ece: Tensor = field(repr=False)
    confidence: Tensor = field(repr=False)
    train_fit: Tensor = field(repr=False)

    def difference(self, what: str, eps: float) -> Tensor:
        """Per seed: ``what`` ("ece", "test_acc" ...) at smoothing ``eps`` minus without, in points."""
        values = getattr(self, what)
        return 100 * (values[self.config.smoothing.index(eps)] - values[0])


def run_noisy_labels(data: Dataset, config: NoisyLabelConfig = NoisyLabelConfig()) -> NoisyLabelRun:
    """Flip labels, train with each smoothing value, measure on the clean test set."""
    if not isinstance(config, NoisyLabelConfig):
        raise TypeError(f"config must be a NoisyLabelConfig, but got {type(config).__name__}")
    S, values = config.seeds, config.smoothing
    train = data.subset(config.train_size, seed=config.subset_seed)
    noisy = corrupt_labels(train.y_train, config.noise_rate, 10,
                           generator=torch.Generator().manual_seed(config.label_seed))
    eps = torch.tensor([e for e in values for _ in range(S)], dtype=torch.float64)

    def smoothing_term(model, xb, yb, out):
        # smoothed loss minus the cross-entropy that fit_stacked already adds: one eps per member
        plain = F.cross_entropy(out.reshape(-1, 10), yb.reshape(-1), reduction="none").reshape(yb.shape).mean(-1)
        return smoothed_cross_entropy(out, yb, eps) - plain

    model = paired_stacked_mlp(len(values), S, config.layers, seed=config.init_seed)
    fit_stacked(model, train.x_train, noisy, extra_loss=smoothing_term,
                config=TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size))
    with torch.no_grad():
        test_logits = model(data.x_test)
        train_fit = (model(train.x_train).argmax(-1) == noisy).double().mean(-1)
    probs = torch.softmax(test_logits, -1)
    shape = (len(values), S)
    return NoisyLabelRun(
        config=config, noisy_labels=noisy, flipped=(noisy != train.y_train).double().mean().item(),
        test_logits=test_logits,
        test_acc=(test_logits.argmax(-1) == data.y_test).double().mean(-1).reshape(shape),
        ece=expected_calibration_error(probs, data.y_test, num_bins=config.num_bins).reshape(shape),
        confidence=probs.max(-1).values.mean(-1).reshape(shape),
        train_fit=train_fit.reshape(shape),
    )
