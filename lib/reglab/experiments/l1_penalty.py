"""Experiment L1-6 of chapter ``l1_penalty``: L1 against L2 on the 8x8 handwritten digits.

One stacked run trains every setting and seed at once: no penalty, L2 weight decay, an L1 term in
the loss (the lecture's subgradient update, through autograd) and L1 with proximal steps (a soft
threshold after every SGD step), the penalties with the same weight alpha. Member ``j`` of every
setting starts from the same initialisation, so the per-seed differences between settings are
paired by initialisation (the minibatch order is each member's own). The chapter records the
outcome with :func:`reglab.book.record`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..data import Dataset, digits
from ..derivations.registry import experiment
from ..penalties import soft_threshold
from ..stats import format_ci
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = ["L1_6", "SETTINGS", "L1DigitsConfig", "L1DigitsRun", "border_mask", "run_l1_digits"]

L1_6 = experiment(
    "L1-6",
    chapter="l1_penalty",
    claim="(beyond) On the 8x8 handwritten digits, a one-hidden-layer MLP trained with an L1 penalty and "
    "proximal steps has a larger share of weights below 1e-3 in magnitude (exact zeros included) than "
    "the same MLP trained with an L2 penalty of the same weight alpha = 3e-3 (difference per seed, "
    "5 seeds).",
    expected="increase",
    measures="share of weights with |w| < 1e-3, L1 proximal minus L2 (same alpha)",
    unit="points",
)

SETTINGS = ("none", "L2", "L1 subgradient", "L1 proximal")


@dataclass(frozen=True)
class L1DigitsConfig:
    """Settings of experiment L1-6 (plain SGD, so the proximal step is exact).

    The two penalties get the same weight by default (``alpha_l2 = alpha_l1``), the book's rule for
    comparing two regularizers; ``near_zero`` is the magnitude below which a weight counts as small.
    """

    seeds: int = 5
    hidden: int = 64
    lr: float = 0.2
    alpha_l2: float = 3e-3
    alpha_l1: float = 3e-3
    epochs: int = 30
    batch_size: int = 200
    init_seed: int = 1
    order_seed: int = 0
    near_zero: float = 1e-3

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, optimizer="sgd",
                           momentum=0.0, seed=self.order_seed)


def border_mask(side: int = 8) -> Tensor:
    """Boolean mask of the pixels on the border of a ``side`` x ``side`` image, flattened."""
    m = torch.zeros(side, side, dtype=torch.bool)
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = True
    return m.reshape(-1)


@dataclass
class L1DigitsRun:
    """What experiment L1-6 measured; arrays of shape (settings, seeds) unless said otherwise.

    Attributes
    ----------
    test_accuracy, exact_zero, near_zero : numpy.ndarray
        Test accuracy, share of weight entries exactly 0, share below ``config.near_zero`` in
        magnitude (exact zeros included).
    crossed : Tensor of shape (settings * seeds, n_weights), bool
        Whether the weight changed sign (from > 0 to < 0 or back; 0 is neither) at least once
        during the last epoch.
    weights : Tensor of shape (settings * seeds, n_weights)
        Every member's weight entries (biases excluded), flattened.
    first_layer : Tensor of shape (settings * seeds, hidden, 64)
    steps : int
        SGD steps taken (epochs times minibatches per epoch).
    n_weights, n_biases : int
        Weight entries and biases of one network.
    blank_pixels : Tensor of shape (64,), bool
        Pixels that are 0 in every training image.
    """

    config: L1DigitsConfig
    data: Dataset
    model: StackedMLP
    test_accuracy: np.ndarray
    exact_zero: np.ndarray
    near_zero: np.ndarray
    crossed: Tensor
    weights: Tensor
    first_layer: Tensor
    steps: int
    n_weights: int
    n_biases: int
    blank_pixels: Tensor

    def members(self, setting: str) -> slice:
        k = SETTINGS.index(setting)
        return slice(k * self.config.seeds, (k + 1) * self.config.seeds)

    def near_zero_gain(self) -> np.ndarray:
        """Per seed: share of weights below ``config.near_zero`` with L1 proximal minus with L2, in points."""
        return 100.0 * (
            self.near_zero[SETTINGS.index("L1 proximal")]
            - self.near_zero[SETTINGS.index("L2")]
        )

    def accuracy_difference(
        self, setting: str, baseline: str = "L2"
    ) -> np.ndarray:
        """Per seed: test accuracy of ``setting`` minus that of ``baseline``, in points (paired by initialisation)."""
        return 100.0 * (
            self.test_accuracy[SETTINGS.index(setting)]
            - self.test_accuracy[SETTINGS.index(baseline)]
        )

    def crossing_share(self) -> np.ndarray:
        """Per setting and seed: of the weights below ``config.near_zero`` at the end, the share that
        changed sign during the last epoch (NaN where a member has no such weight).

        Shape (settings, seeds). Exact zeros never count as a sign change.
        """
        small = self.weights.abs() < self.config.near_zero
        crossed = (self.crossed & small).double().sum(1)
        count = small.double().sum(1)
        share = torch.where(
            count > 0,
            crossed / count.clamp(min=1),
            torch.full_like(count, float("nan")),
        )
        return share.numpy().reshape(len(SETTINGS), self.config.seeds)

    def pixel_zero_share(self, setting: str) -> Tensor:
        """Per input pixel: share of its first-layer weights exactly 0 (over hidden units and seeds)."""
        return (self.first_layer[self.members(setting)] == 0).double().mean(dim=(0, 1))

    def summary_table(self) -> str:
        """The table of L1-6: per setting, test accuracy, share of weights exactly 0 and near 0, and
        the share of those near 0 that changed sign in the last epoch.

        Each in %, as mean and 95 % interval over the seeds (:func:`reglab.stats.format_ci`).
        """
        mantissa, exponent = f"{self.config.near_zero:.0e}".split("e")
        near = f"|w| < {mantissa}e{int(exponent)}"
        crossing = self.crossing_share()
        lines = [
            f"{'setting':16s} {'test accuracy':>15s} {'weights == 0':>14s} {near:>14s} {'of those, hop':>14s}"
        ]
        for k, name in enumerate(SETTINGS):
            lines.append(
                f"{name:16s} {format_ci(self.test_accuracy[k]):>15s} "
                f"{format_ci(self.exact_zero[k]):>14s} {format_ci(self.near_zero[k]):>14s} "
                f"{format_ci(crossing[k]):>14s}"
            )
        return "\n".join(lines)


def run_l1_digits(config: L1DigitsConfig = L1DigitsConfig(), data: Dataset | None = None) -> L1DigitsRun:
    """Train the four settings of L1-6, ``config.seeds`` members each, as one stacked model."""
    data = digits() if data is None else data
    S, n_set = config.seeds, len(SETTINGS)
    sizes = (data.x_train.shape[1], config.hidden, data.num_classes)
    model = StackedMLP(n_set * S, sizes, seed=config.init_seed, dtype=data.x_train.dtype)
    with torch.no_grad():  # member j of every setting starts from the same initialisation
        for p in model.parameters():
            p.copy_(p[:S].repeat(n_set, *([1] * (p.dim() - 1))))

    def per_member(values):
        return torch.tensor(values, dtype=torch.float64).repeat_interleave(S)

    l2_weight = per_member([0.0, config.alpha_l2, 0.0, 0.0])
    l1_weight = per_member([0.0, 0.0, config.alpha_l1, 0.0]).to(data.x_train.dtype)
    threshold = per_member([0.0, 0.0, 0.0, config.lr * config.alpha_l1]).to(data.x_train.dtype).view(-1, 1, 1)

    def l1_term(model, xb, yb, out):
        # alpha * ||W||_1 per member: autograd gives the subgradient alpha * sign(W)
        return l1_weight * sum(w.abs().sum(dim=(1, 2)) for w in model.weights())

    steps = config.epochs * math.ceil(
        data.x_train.shape[0] / config.batch_size
    )
    last_epoch = steps - math.ceil(
        data.x_train.shape[0] / config.batch_size
    )  # the iterate that starts it
    state = {"calls": 0, "sign": None, "crossed": None}

    def proximal_step(xb, yb, model):
        # called before every minibatch: the soft threshold of the previous SGD step; then, in the last
        # epoch, note which weights changed sign since the previous step
        with torch.no_grad():
            for w in model.weights():
                w.copy_(soft_threshold(w, threshold))
            if state["calls"] >= last_epoch:
                sign = torch.cat(
                    [w.reshape(model.num_models, -1) for w in model.weights()],
                    dim=1,
                ).sign()
                if state["sign"] is None:
                    state["crossed"] = torch.zeros_like(sign, dtype=torch.bool)
                else:
                    state["crossed"] |= sign * state["sign"] < 0
                state["sign"] = sign
        state["calls"] += 1
        return xb, yb

    fit_stacked(model, data.x_train, data.y_train, config=config.train_config(), weight_decay=l2_weight,
                extra_loss=l1_term, transform=proximal_step)
    proximal_step(None, None, model)  # the proximal part of the very last step

    acc = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"].numpy().reshape(n_set, S)
    weights = torch.cat([w.detach().reshape(model.num_models, -1) for w in model.weights()], dim=1)
    exact = (weights == 0).double().mean(1).numpy().reshape(n_set, S)
    near = (weights.abs() < config.near_zero).double().mean(1).numpy().reshape(n_set, S)
    n_biases = sum(layer.bias.shape[1] for layer in model.layers)
    return L1DigitsRun(
        config=config,
        data=data,
        model=model,
        test_accuracy=acc,
        exact_zero=exact,
        near_zero=near,
        crossed=state["crossed"],
        weights=weights,
        first_layer=model.layers[0].weight.detach().clone(),
        steps=steps,
        n_weights=weights.shape[1],
        n_biases=n_biases,
        blank_pixels=(data.x_train == 0).all(dim=0),
    )
