"""Experiment ES-3 of chapter ``early_stopping``: the validation curve of an over-parameterised MLP.

A large MLP is trained on few MNIST-1D signals, five seeds at once as one stacked model, twice with
identical settings: once to the last epoch (test accuracy and loss recorded after every epoch),
and once with ``keep_best=True``, which restores each seed's parameters at its lowest validation
loss. The two runs draw the same initialisation and minibatches, so each seed's early-stopped
and last-epoch networks are paired. The result is registered in
:mod:`reglab.derivations.early_stopping`; the chapter records its outcome.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

from ..data import Dataset, mnist1d
from ..noise import expected_calibration_error
from ..training import History, StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = ["ValidationCurveConfig", "ValidationCurveRun", "run_validation_curve"]


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
