"""Experiment ES-3 of chapter ``early_stopping``: the validation curve of an over-parameterised MLP.

A large MLP is trained on few MNIST-1D signals, five seeds at once as one stacked model, twice with
identical settings: once to the last epoch (test accuracy and loss recorded after every epoch),
and once with ``keep_best=True``, which restores each seed's parameters at its lowest validation
loss. The two runs draw the same initialisation and minibatches, so each seed's early-stopped
and last-epoch networks are paired. The chapter records the outcome with
:func:`reglab.book.record`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

from ..data import Dataset, mnist1d
from ..derivations.registry import experiment
from ..noise import expected_calibration_error
from ..stats import format_ci
from ..training import History, StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = ["ES3", "ValidationCurveConfig", "ValidationCurveRun", "run_validation_curve"]

ES3 = experiment(
    "ES-3",
    chapter="early_stopping",
    claim="On MNIST-1D with 500 training signals an over-parameterised MLP's validation loss is U-shaped, but "
    "restoring it to its lowest validation loss lowers test accuracy against the last epoch: the expected "
    "gain is contradicted (difference per seed, 5 seeds).",
    expected="increase",
    measures="test accuracy at the lowest validation loss minus at the last epoch",
    unit="points",
)


@dataclass(frozen=True)
class ValidationCurveConfig:
    """Settings of experiment ES-3."""

    seeds: int = 5
    n_train: int = 500
    val_fraction: float = 0.125  # of MNIST-1D's 4000 training signals: 500
    hidden: tuple = (128, 128)
    epochs: int = 40
    lr: float = 3e-3
    batch_size: int = 250
    init_seed: int = 1
    split_seed: int = 0
    order_seed: int = 0

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, optimizer="adam",
                           seed=self.order_seed)


@dataclass
class ValidationCurveRun:
    """What experiment ES-3 measured (arrays of shape (epochs, seeds) or (seeds,)).

    Attributes
    ----------
    history, history_best : History
        The run to the last epoch and the ``keep_best`` run.
    test_accuracy, test_loss : numpy.ndarray of shape (epochs, seeds)
        Test metrics after every epoch of the full run.
    last, early : dict of numpy arrays of shape (seeds,)
        ``accuracy``, ``loss`` and ``ece`` on the test set of the last-epoch and of the
        early-stopped networks.
    best_epoch : numpy.ndarray of shape (seeds,)
        Epoch (1-based) of each seed's lowest validation loss.
    identical : bool
        Whether the two runs recorded the same validation losses.
    n_weights, n_biases : int
        Weight entries and biases of one network.
    """

    config: ValidationCurveConfig
    sizes: tuple
    n_train: int
    n_val: int
    n_test: int
    history: History
    history_best: History
    test_accuracy: np.ndarray
    test_loss: np.ndarray
    last: dict
    early: dict
    best_epoch: np.ndarray
    identical: bool
    n_weights: int
    n_biases: int

    def accuracy_gain(self) -> np.ndarray:
        """Per seed: test accuracy early-stopped minus last epoch, in points."""
        return 100.0 * (self.early["accuracy"] - self.last["accuracy"])

    @property
    def best_accuracy_epoch(self) -> np.ndarray:
        """Epoch (1-based) of each seed's highest validation accuracy, shape (seeds,)."""
        return np.array(self.history.val_accuracy).argmax(0) + 1

    def summary_table(self) -> str:
        """The table of ES-3: test accuracy, cross-entropy and ECE of each way of stopping.

        At the last epoch, at the lowest validation loss and at the highest validation accuracy;
        mean and 95 % interval over the seeds (:func:`reglab.stats.format_ci`).
        """
        members, at_best_acc = np.arange(self.config.seeds), self.best_accuracy_epoch - 1
        rows = [
            (f"last epoch ({self.config.epochs})", self.last["accuracy"], self.last["loss"], self.last["ece"]),
            ("lowest validation loss", self.early["accuracy"], self.early["loss"], self.early["ece"]),
            ("highest validation accuracy", self.test_accuracy[at_best_acc, members],
             self.test_loss[at_best_acc, members], None),
        ]
        lines = [f"{'stopped at':28s} {'accuracy':>13s} {'cross-entropy':>15s} {'ECE':>15s}"]
        for name, acc, loss, ece in rows:
            ece_text = "-" if ece is None else format_ci(ece, scale=1.0, digits=3, unit="")
            lines.append(f"{name:28s} {format_ci(acc):>13s} {format_ci(loss, scale=1.0, digits=3, unit=''):>15s} "
                         f"{ece_text:>15s}")
        return "\n".join(lines)


def _test_metrics(model, data: Dataset) -> dict:
    measured = evaluate_stacked(model, data.x_test, data.y_test)
    with torch.no_grad():
        probs = torch.softmax(model(data.x_test), dim=-1)
    ece = expected_calibration_error(probs, data.y_test)
    return {"accuracy": measured["accuracy"].numpy(), "loss": measured["loss"].numpy(), "ece": ece.numpy()}


def run_validation_curve(config: ValidationCurveConfig = ValidationCurveConfig(), data: Dataset | None = None) -> ValidationCurveRun:
    """Train ES-3's network to the last epoch and with ``keep_best``, ``config.seeds`` seeds each."""
    data = mnist1d() if data is None else data
    rest, (x_val, y_val) = data.validation_split(config.val_fraction, seed=config.split_seed)
    train = rest.subset(config.n_train, seed=config.split_seed)
    sizes = (train.x_train.shape[1], *config.hidden, data.num_classes)
    batches_per_epoch = -(-train.x_train.shape[0] // config.batch_size)
    curve = {"accuracy": [], "loss": []}
    calls = [0]

    def record_test_metrics(xb, yb, model):
        # called before every minibatch: at the first one of an epoch the model holds the
        # parameters after the previous epoch. It measures only and changes nothing.
        if calls[0] % batches_per_epoch == 0 and calls[0] > 0:
            measured = evaluate_stacked(model, data.x_test, data.y_test)
            curve["accuracy"].append(measured["accuracy"].numpy())
            curve["loss"].append(measured["loss"].numpy())
        calls[0] += 1
        return xb, yb

    dtype = train.x_train.dtype
    full = StackedMLP(config.seeds, sizes, seed=config.init_seed, dtype=dtype)
    history = fit_stacked(full, train.x_train, train.y_train, config=config.train_config(), val=(x_val, y_val),
                          transform=record_test_metrics)
    record_test_metrics(None, None, full)  # after the last epoch
    last = _test_metrics(full, data)

    stopped = StackedMLP(config.seeds, sizes, seed=config.init_seed, dtype=dtype)
    history_best = fit_stacked(stopped, train.x_train, train.y_train, config=config.train_config(),
                               val=(x_val, y_val), keep_best=True)
    early = _test_metrics(stopped, data)
    n_weights = sum(a * b for a, b in pairwise(sizes))
    return ValidationCurveRun(
        config=config, sizes=sizes, n_train=train.x_train.shape[0], n_val=x_val.shape[0],
        n_test=data.x_test.shape[0], history=history, history_best=history_best,
        test_accuracy=np.array(curve["accuracy"]), test_loss=np.array(curve["loss"]), last=last, early=early,
        best_epoch=np.array(history_best.best_epoch), identical=bool(np.array_equal(history.val_loss, history_best.val_loss)),
        n_weights=n_weights, n_biases=sum(sizes[1:]),
    )
