"""The experiments of chapter ``weight_decay``: a trained layer's quadratic model (WD-5), a sweep (WD-6).

Each experiment is registered here, with the direction it expects, beside its configuration, its
multi-seed run, the summary table the chapter prints and the per-seed effect the chapter records
with :func:`reglab.book.record`. The run of WD-5 (:func:`predict_and_retrain` and its
configuration and result) is in ``experiments/_weight_decay_hessian.py``; every public name of it
is imported here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_int, check_real
from ..data import Dataset
from ..derivations.registry import experiment
from ..stats import format_ci, mean_ci
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked
from ._weight_decay_hessian import (  # the run of WD-5
    HessianPrediction,
    HessianPredictionConfig,
    predict_and_retrain,
    predict_and_retrain_seeds,
)

__all__ = [
    "WD5",
    "WD5_CONFIG",
    "WD5_SEEDS",
    "WD6",
    "WD6_CONFIG",
    "HessianPrediction",
    "HessianPredictionConfig",
    "HessianSummary",
    "SweepConfig",
    "SweepResult",
    "predict_and_retrain",
    "predict_and_retrain_seeds",
    "run_sweep",
    "weight_decay_sweep",
]

CHAPTER = "weight_decay"


# ---------------------------------------------------------------------------------------------
# WD-5: the quadratic model of a real network's layer
# ---------------------------------------------------------------------------------------------
WD5 = experiment(
    "WD-5",
    chapter=CHAPTER,
    claim=(
        "For the output layer of a small tanh network trained on MNIST-1D (5 seeds), the quadratic "
        "model's prediction (H + alpha I)^-1 H w*, from the Hessian at the unregularized minimum, "
        "over-shrinks at alpha = 1e-2: retraining with weight decay gives longer weights than predicted."
    ),
    expected="increase",
    measures="norm of the retrained output layer over the predicted one, minus 1, at alpha = 1e-2",
    unit="%",
)


#: The run of WD-5: every default of :class:`HessianPredictionConfig`, on ``WD5_SEEDS`` seeds.
WD5_CONFIG = HessianPredictionConfig()
WD5_SEEDS = 5


@dataclass(frozen=True)
class HessianSummary:
    """The runs of WD-5 and what the chapter reports of them: per seed, and means over the seeds.

    Attributes
    ----------
    runs : tuple of HessianPrediction
        One per seed (:func:`predict_and_retrain_seeds`), all with the same alphas.
    """

    runs: tuple

    def __post_init__(self):
        runs = tuple(self.runs)
        if not runs or not all(isinstance(r, HessianPrediction) for r in runs):
            raise TypeError("runs must be a non-empty sequence of HessianPrediction")
        object.__setattr__(self, "runs", runs)

    def over_seeds(self, f) -> np.ndarray:
        """``f`` of each run, stacked: shape (S, ...)."""
        return np.array([f(p) for p in self.runs])

    @property
    def zero_eigs(self) -> np.ndarray:
        """Per seed, the Hessian's eigenvalues below 1e-10 (the softmax's shift directions)."""
        return self.over_seeds(lambda p: int((p.eigvals < 1e-10).sum()))

    @property
    def smallest_eig(self) -> np.ndarray:
        """Per seed, the Hessian's smallest eigenvalue above 1e-10."""
        return self.over_seeds(lambda p: p.eigvals[p.eigvals > 1e-10].min().item())

    @property
    def error(self) -> np.ndarray:
        """Per seed and alpha, :meth:`HessianPrediction.relative_error` in per cent, shape (S, A)."""
        return 100 * self.over_seeds(lambda p: p.relative_error())

    @property
    def curvature(self) -> np.ndarray:
        """Per alpha, the mean over the seeds of :attr:`HessianPrediction.curvature_ratio`."""
        return self.over_seeds(lambda p: p.curvature_ratio).mean(0)

    @property
    def small_bound(self) -> int:
        """The error at the smallest alpha, in per cent, rounded up: a bound on every seed."""
        return int(np.ceil(self.error[:, 0].max()))

    def norm_excess(self, alpha: float = 1e-2) -> np.ndarray:
        """The effect of WD-5, per seed: :meth:`HessianPrediction.norm_excess` at ``alpha`` (per cent)."""
        alphas = list(self.runs[0].alphas)
        if alpha not in alphas:
            raise ValueError(f"alpha must be one of the alphas of the runs {alphas}, but got {alpha!r}")
        return self.over_seeds(lambda p: p.norm_excess()[alphas.index(alpha)])

    def accuracy_gap(self) -> np.ndarray:
        """Per seed and alpha, test accuracy of the retrained layer minus the predicted one, in points.

        Shape (S, A): positive where the quadratic model's prediction is the less accurate.
        """
        return 100 * self.over_seeds(lambda p: p.test_accuracy_retrained - p.test_accuracy_predicted)

    def paired(self) -> dict:
        """Retrained minus predicted, paired by seed: mean and 95 % interval per alpha.

        Returns
        -------
        dict of {"norm", "accuracy"}: numpy.ndarray of shape (A, 3)
            Rows ``[mean, low, high]``: the norm excess (:meth:`HessianPrediction.norm_excess`, per
            cent) and :meth:`accuracy_gap` (points).
        """
        out = {}
        for key, values in (("norm", self.over_seeds(lambda p: p.norm_excess())), ("accuracy", self.accuracy_gap())):
            rows = [mean_ci(values[:, i]) for i in range(values.shape[1])]
            out[key] = np.array([[m, m - h, m + h] for m, h in rows])
        return out

    def table(self) -> str:
        """The networks, their Hessians, then per alpha the means over the seeds.

        At the smallest alpha the error is a fraction of a per cent on most seeds, where the
        solver's tolerance shows in the digits: that row gives the bound that holds on every seed.
        """
        over_seeds, error, zero_eigs, curvature = self.over_seeds, self.error, self.zero_eigs, self.curvature
        norm_pred = over_seeds(lambda p: p.norms()["predicted"]).mean(0)
        norm_retr = over_seeds(lambda p: p.norms()["retrained"]).mean(0)
        acc_pred = 100 * over_seeds(lambda p: p.test_accuracy_predicted).mean(0)
        acc_retr = 100 * over_seeds(lambda p: p.test_accuracy_retrained).mean(0)
        star_norm = format_ci(over_seeds(lambda p: p.norms()["star"]), scale=1, digits=2, unit="")
        train_acc = format_ci(over_seeds(lambda p: p.train_accuracy_network))
        lines = [
            f"{len(self.runs)} networks: training accuracy {train_acc}",
            (f"output layer at w*: ||w*|| = {star_norm}, "
             f"test accuracy {format_ci(over_seeds(lambda p: p.test_accuracy_star))}"),
            (f"Hessians: {zero_eigs[0]} zero eigenvalues each, the others from "
             f"{self.smallest_eig.min():.1e} to {max(p.eigvals.max().item() for p in self.runs):.2f}"),
            "\nmeans over the seeds (err/move at the smallest alpha: bound on every seed)",
            "alpha | norm: pred. | retrained | err/move | test acc: pred. | retr. | curv.",
        ]
        for i, a in enumerate(self.runs[0].alphas):
            err = f"< {self.small_bound} %" if i == 0 else f"{error[:, i].mean():.1f} %"
            lines.append(f"{a:5.0e} | {norm_pred[i]:11.3f} | {norm_retr[i]:9.3f} | {err:>8} | "
                         f"{acc_pred[i]:13.1f} % | {acc_retr[i]:4.1f} % | {curvature[i]:5.2f}")
        lines += ["\nretrained minus predicted, paired by seed (mean and 95 % interval)",
                  "alpha | norm (%)                | test accuracy (points)"]
        paired = self.paired()
        for i, a in enumerate(self.runs[0].alphas):
            n, acc = (", ".join(_signed(v, w) for v in paired[k][i]) for k, w in (("norm", 6), ("accuracy", 5)))
            lines.append(f"{a:5.0e} | {n.replace(', ', ' [', 1)}] | {acc.replace(', ', ' [', 1)}]")
        return "\n".join(lines)


def _signed(x: float, width: int) -> str:
    """``x`` with its sign and one decimal, right-aligned; a value that rounds to 0 prints as +0.0."""
    text = f"{x:+.1f}"
    return ("+0.0" if text == "-0.0" else text).rjust(width)


# ---------------------------------------------------------------------------------------------
# WD-6: the sweep on MNIST-1D
# ---------------------------------------------------------------------------------------------
WD6 = experiment(
    "WD-6",
    chapter=CHAPTER,
    claim=(
        "Weight-decay sweep of an MLP 40-100-100-10 on 500 MNIST-1D signals (5 seeds): test accuracy "
        "at alpha = 1e-2 is higher than without the penalty."
    ),
    expected="increase",
    measures="test accuracy at alpha = 1e-2 minus at alpha = 0, per seed",
    unit="points",
)


@dataclass(frozen=True)
class SweepConfig:
    """Settings of :func:`run_sweep` (the defaults are WD-6's).

    Attributes
    ----------
    alphas : tuple of float >= 0
        Penalty weights; the first is the baseline of the effect (0: no penalty).
    sizes : tuple of int
        Layer widths of the MLP, input and classes included.
    train : TrainConfig
        Training of every member (default: 80 epochs of SGD with momentum 0.9, rate 0.05, batches
        of 100).
    n_train : int
        Training signals: the first ``n_train`` of a seeded shuffle (``Dataset.subset``, seed 0).
    num_seeds : int
        Members per penalty weight.
    """

    alphas: tuple = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    sizes: tuple = (40, 100, 100, 10)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=80, lr=0.05, batch_size=100, momentum=0.9)
    )
    n_train: int = 500
    num_seeds: int = 5


#: The sweep of WD-6.
WD6_CONFIG = SweepConfig()


@dataclass(frozen=True)
class SweepResult:
    """Accuracies and weight norms of a weight-decay sweep; arrays of shape (A, S).

    Attributes
    ----------
    alphas : numpy.ndarray of shape (A,)
    train_accuracy, test_accuracy : numpy.ndarray of shape (A, S)
    weight_norm : numpy.ndarray of shape (A, S)
        :math:`\\|w\\|_2` over all weight matrices of a member (biases excluded).
    """

    alphas: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    weight_norm: np.ndarray

    def table(self) -> str:
        """One row per alpha: train and test accuracy, weight norm (means and 95 % intervals)."""
        lines = ["alpha  | train accuracy | test accuracy | weight norm ||W||"]
        for i, a in enumerate(self.alphas):
            lines.append(
                f"{a:6g} | {format_ci(self.train_accuracy[i]):>14} | {format_ci(self.test_accuracy[i]):>13} "
                f"| {format_ci(self.weight_norm[i], scale=1, digits=2, unit=''):>13}"
            )
        return "\n".join(lines)

    def accuracy_gain(self, alpha: float = 1e-2, baseline: float = 0.0) -> np.ndarray:
        """Per seed, test accuracy at ``alpha`` minus at ``baseline``, in points (WD-6's effect)."""
        alphas = list(self.alphas)
        for name, a in (("alpha", alpha), ("baseline", baseline)):
            if a not in alphas:
                raise ValueError(f"{name} must be one of the swept alphas {alphas}, but got {a!r}")
        return 100 * (self.test_accuracy[alphas.index(alpha)] - self.test_accuracy[alphas.index(baseline)])


def weight_decay_sweep(
    data: Dataset,
    alphas: Sequence[float],
    *,
    num_seeds: int = 5,
    sizes: Sequence[int] | None = None,
    config: TrainConfig | None = None,
) -> SweepResult:
    """Train ``len(alphas) * num_seeds`` MLPs at once, member ``(i, s)`` with penalty ``alphas[i]``.

    Parameters
    ----------
    data : Dataset
        Classification data.
    alphas : sequence of float >= 0
        Penalty weights on the weight matrices (biases are not decayed).
    num_seeds : int >= 2
        Independent members per penalty weight (own initialisation and minibatch order).
    sizes : sequence of int, optional
        Layer widths; default ``(d, 64, 64, classes)``.
    config : TrainConfig, optional
        Default: 60 epochs of SGD with momentum 0.9, rate 0.05, batches of 100.

    Returns
    -------
    SweepResult

    Notes
    -----
    One :class:`~reglab.stacked.StackedMLP` holds every member;
    :func:`~reglab.training.fit_stacked` adds
    :math:`\\alpha_m \\cdot \\tfrac12\\|W_m\\|^2` to member ``m``'s loss, which for SGD is
    exactly weight decay (WD-2).

    Examples
    --------
    >>> from reglab import digits
    >>> r = weight_decay_sweep(digits().subset(100), [0.0, 0.01], num_seeds=2, config=TrainConfig(epochs=1))
    >>> r.test_accuracy.shape
    (2, 2)
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    alphas = [check_real(f"alphas[{i}]", a, low=0.0) for i, a in enumerate(alphas)]
    if not alphas:
        raise ValueError("alphas must list at least one penalty weight, but got an empty sequence")
    num_seeds = check_int("num_seeds", num_seeds, low=2)
    d, k = data.x_train.shape[1], data.num_classes
    sizes = list(sizes) if sizes is not None else [d, 64, 64, k]
    if sizes[0] != d or sizes[-1] != k:
        raise ValueError(
            f"sizes must start with the input width {d} and end with the {k} classes, but got {sizes}"
        )
    config = config or TrainConfig(epochs=60, lr=0.05, batch_size=100, momentum=0.9)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    decay = torch.tensor(alphas, dtype=torch.float64).repeat_interleave(num_seeds)
    model = StackedMLP(len(decay), sizes, seed=config.seed, dtype=data.x_train.dtype)
    fit_stacked(model, data.x_train, data.y_train, config=config, weight_decay=decay)
    shape = (len(alphas), num_seeds)
    train = evaluate_stacked(model, data.x_train, data.y_train)["accuracy"].numpy().reshape(shape)
    test = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"].numpy().reshape(shape)
    with torch.no_grad():
        norm = (2 * model.member_l2()).sqrt().numpy().reshape(shape)
    return SweepResult(np.asarray(alphas), train, test, norm)


def run_sweep(data: Dataset, config: SweepConfig = WD6_CONFIG) -> SweepResult:
    """:func:`weight_decay_sweep` on ``config.n_train`` training signals of ``data`` (seeded subset 0).

    Examples
    --------
    >>> from reglab import digits
    >>> cfg = SweepConfig(alphas=(0.0, 0.1), sizes=(64, 8, 10), train=TrainConfig(epochs=1), n_train=50,
    ...                   num_seeds=2)
    >>> run_sweep(digits(), cfg).weight_norm.shape
    (2, 2)
    """
    if not isinstance(config, SweepConfig):
        raise TypeError(f"config must be a SweepConfig, but got {type(config).__name__}")
    small = data.subset(config.n_train, seed=0)
    return weight_decay_sweep(small, config.alphas, num_seeds=config.num_seeds, sizes=config.sizes,
                              config=config.train)
