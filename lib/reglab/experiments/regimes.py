"""The experiments of chapter ``regimes``: polynomial capacity sweeps (REG-2), network widths (REG-3, REG-4).

Each experiment is registered here, with the direction it expects, beside its run and its
per-seed effect; the chapter records what the run measured with :func:`reglab.book.record`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_int, check_real
from ..data import Dataset, polynomial_regression
from ..derivations.regimes import fit_polynomial, polynomial_features
from ..derivations.registry import experiment
from ..stats import mean_ci
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = [
    "REG2",
    "REG3",
    "REG4",
    "WIDTH_CONFIG",
    "CapacityResult",
    "RegimesResult",
    "accuracy_gain",
    "degree_ranges",
    "polynomial_regimes",
    "train_width",
]

CHAPTER = "regimes"


# ---------------------------------------------------------------------------------------------
# REG-2: polynomial regimes
# ---------------------------------------------------------------------------------------------
REG2 = experiment(
    "REG-2",
    chapter=CHAPTER,
    claim=(
        "Least-squares polynomials on 20 noisy points of a random cubic (20 seeds): training error "
        "never rises with the degree; the geometric mean of the test error over the seeds is U-shaped "
        "in the degree, lowest at the true degree 3. Per seed, degrees 0-2 and 7-12 test worse than "
        "degree 3 (95 % interval of the mean log ratio above 0 at each degree), degrees 4-6 are not "
        "distinguishable from it (intervals include 0); the recorded effect: the degree-12 fit tests "
        "worse than the cubic (mean over seeds of the log ratio of their test errors above 0)."
    ),
    expected="increase",
    measures="log10 of test MSE at degree 12 over test MSE at degree 3, per seed",
    unit="decades",
)


@dataclass(frozen=True)
class RegimesResult:
    """Errors of least-squares polynomial fits of every degree, for many seeds.

    Attributes
    ----------
    degrees : numpy.ndarray of shape (D,)
    train_mse, test_mse : numpy.ndarray of shape (D, S)
        Mean squared errors, one column per seed (a fresh generator and fresh samples).
    noise : float
        Standard deviation of the label noise: no model can have test MSE below ``noise**2``.
    n_train, true_degree : int
        Training points per data set, and the degree of the generating polynomial.
    """

    degrees: np.ndarray
    train_mse: np.ndarray
    test_mse: np.ndarray
    noise: float
    n_train: int = 20
    true_degree: int = 3

    @property
    def num_seeds(self) -> int:
        return self.test_mse.shape[1]

    def test_summary(self) -> np.ndarray:
        """Geometric mean of the test MSE per degree, with its 95 % interval.

        Returns
        -------
        numpy.ndarray of shape (D, 3)
            Columns: geometric mean, lower and upper end (the Student-t interval of the mean of
            ``log10`` over the seeds, transformed back). Test errors of high-degree fits have
            a heavy tail, so their logarithm is averaged.
        """
        rows = []
        for row in self.test_mse:
            m, h = mean_ci(np.log10(row))
            rows.append((10**m, 10 ** (m - h), 10 ** (m + h)))
        return np.array(rows)

    def difference_from(self, matched: int | None = None) -> np.ndarray:
        """Per degree, the mean over seeds of ``log10`` test MSE over that at ``matched``, with its 95 % interval.

        The comparison paired by seed (same data set), degree by degree; default ``matched``: the
        true degree.

        Returns
        -------
        numpy.ndarray of shape (D, 3)
            Columns: mean, lower and upper end (Student-t, each degree's interval on its own). The
            row of ``matched`` itself is 0.
        """
        matched = self.true_degree if matched is None else matched
        degrees = list(self.degrees)
        if matched not in degrees:
            raise ValueError(
                f"matched = {matched} is not one of the degrees {degrees}"
            )
        base = np.log10(self.test_mse[degrees.index(matched)])
        rows = []
        for row in self.test_mse:
            m, h = mean_ci(np.log10(row) - base)
            rows.append((m, m - h, m + h))
        return np.array(rows)

    def compared_with(
        self, matched: int | None = None
    ) -> dict[str, list[int]]:
        """The degrees whose per-seed difference from ``matched`` is above 0, below 0, or neither.

        Returns ``{"worse": [...], "better": [...], "not distinguishable": [...]}`` by the 95 %
        intervals of :meth:`difference_from` (``matched`` itself is in none of them).

        >>> test = np.array([[2.0, 3.0, 2.5], [1.0, 1.0, 1.0], [1.1, 0.8, 1.2]])
        >>> RegimesResult(np.arange(3), test, test, 0.1, true_degree=1).compared_with()
        {'worse': [0], 'better': [], 'not distinguishable': [2]}
        """
        matched = self.true_degree if matched is None else matched
        out = {"worse": [], "better": [], "not distinguishable": []}
        for k, (_, low, high) in zip(
            self.degrees, self.difference_from(matched)
        ):
            if k == matched:
                continue
            out[
                "worse"
                if low > 0
                else "better"
                if high < 0
                else "not distinguishable"
            ].append(int(k))
        return out

    def best_degree(self) -> int:
        """The degree with the lowest geometric-mean test error."""
        return int(self.degrees[self.test_summary()[:, 0].argmin()])

    def is_u_shaped(self) -> bool:
        """Whether the geometric-mean test error falls strictly up to its minimum and rises strictly after."""
        g = self.test_summary()[:, 0]
        k = int(g.argmin())
        return bool((np.diff(g[: k + 1]) < 0).all() and (np.diff(g[k:]) > 0).all())

    def overfit_effect(self, high: int | None = None, matched: int | None = None) -> np.ndarray:
        """Per seed, ``log10`` of the test MSE at degree ``high`` over that at degree ``matched``.

        Defaults: the largest degree and the true degree. Shape (S,); positive where the big
        model tests worse, in decades.
        """
        degrees = list(self.degrees)
        high = degrees[-1] if high is None else high
        matched = self.true_degree if matched is None else matched
        for name, k in (("high", high), ("matched", matched)):
            if k not in degrees:
                raise ValueError(f"{name} = {k} is not one of the degrees {degrees}")
        return np.log10(self.test_mse[degrees.index(high)] / self.test_mse[degrees.index(matched)])


def degree_ranges(degrees: Sequence[int]) -> str:
    """Sorted degrees as runs in words, for the prose: ``[0, 1, 2, 7, 8]`` -> ``"0 to 2 and 7 to 8"``.

    >>> degree_ranges([0, 1, 2, 7, 8, 9]), degree_ranges([4]), degree_ranges([])
    ('0 to 2 and 7 to 9', '4', 'none')
    """
    values = sorted(
        check_int(f"degrees[{i}]", k, low=0) for i, k in enumerate(degrees)
    )
    runs: list[list[int]] = []
    for k in values:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    words = [str(r[0]) if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs]
    if not words:
        return "none"
    return (
        words[0]
        if len(words) == 1
        else ", ".join(words[:-1]) + " and " + words[-1]
    )


def polynomial_regimes(
    degrees: Sequence[int],
    *,
    num_seeds: int = 20,
    n_train: int = 20,
    true_degree: int = 3,
    noise: float = 0.3,
    alpha: float = 0.0,
) -> RegimesResult:
    """Fit polynomials of each degree to ``num_seeds`` independent data sets.

    Parameters
    ----------
    degrees : sequence of int >= 0
        Capacities to try.
    num_seeds : int >= 2
        Independent repetitions (seeds 0, 1, ...): each draws a new generator and new data.
    n_train : int >= 1
        Training points per data set (the test set has 1000).
    true_degree : int >= 0
        Degree of the generating polynomial.
    noise : float >= 0
        Standard deviation of the label noise.
    alpha : float >= 0
        Ridge penalty weight (0: least squares).

    Returns
    -------
    RegimesResult

    Examples
    --------
    >>> r = polynomial_regimes([1, 3], num_seeds=2)
    >>> r.train_mse.shape
    (2, 2)
    """
    degrees = [check_int(f"degrees[{i}]", k, low=0) for i, k in enumerate(degrees)]
    if not degrees:
        raise ValueError("degrees must list at least one degree, but got an empty sequence")
    num_seeds = check_int("num_seeds", num_seeds, low=2)
    noise = check_real("noise", noise, low=0.0)
    train = np.zeros((len(degrees), num_seeds))
    test = np.zeros((len(degrees), num_seeds))
    for s in range(num_seeds):
        data, _ = polynomial_regression(n_train, true_degree=true_degree, noise=noise, seed=s)
        for i, k in enumerate(degrees):
            coef = fit_polynomial(data.x_train, data.y_train, k, alpha=alpha)
            train[i, s] = (polynomial_features(data.x_train, k) @ coef - data.y_train).pow(2).mean().item()
            test[i, s] = (polynomial_features(data.x_test, k) @ coef - data.y_test).pow(2).mean().item()
    return RegimesResult(np.asarray(degrees), train, test, noise, n_train, true_degree)


# ---------------------------------------------------------------------------------------------
# REG-3, REG-4: capacity of real networks
# ---------------------------------------------------------------------------------------------
REG3 = experiment(
    "REG-3",
    chapter=CHAPTER,
    claim=(
        "One-hidden-layer MLPs on 1,000 MNIST-1D signals (5 seeds): the U-shape of REG-2 predicts "
        "that the widest network (256 units, which fits its training set) tests worse than width 64; "
        "measured, it does not: the predicted decrease is not shown."
    ),
    expected="decrease",
    measures="test accuracy at width 256 minus at width 64, per seed",
    unit="points",
)

REG4 = experiment(
    "REG-4",
    chapter=CHAPTER,
    claim=(
        "The widest MLP (256 hidden units, 1,000 MNIST-1D signals, 5 seeds) tests better with "
        "weight decay alpha = 1e-2 than without, while fitting its training set less well."
    ),
    expected="increase",
    measures="test accuracy with weight decay 1e-2 minus without, width 256, per seed",
    unit="points",
)

#: Training of every network of REG-3 and REG-4: SGD with momentum, batches of 50.
WIDTH_CONFIG = TrainConfig(epochs=40, lr=0.05, batch_size=50, momentum=0.9)


@dataclass(frozen=True)
class CapacityResult:
    """Accuracies of ``S`` independently trained one-hidden-layer networks of one width.

    Attributes
    ----------
    width : int
    weight_decay : float
    shuffled_labels : bool
        Whether the training labels were randomly permuted (nothing left to learn).
    train_accuracy, test_accuracy : numpy.ndarray of shape (S,)
        Member ``s`` is seed ``s`` (its own initialisation; the minibatch order is shared).
    """

    width: int
    weight_decay: float
    shuffled_labels: bool
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray


def train_width(
    data: Dataset,
    width: int,
    *,
    num_seeds: int = 5,
    config: TrainConfig | None = None,
    weight_decay: float = 0.0,
    shuffled_labels: bool = False,
) -> CapacityResult:
    """Train ``num_seeds`` MLPs with one hidden layer of ``width`` units at once.

    Parameters
    ----------
    data : Dataset
        A classification data set (``num_classes > 0``).
    width : int >= 1
        Hidden units.
    num_seeds : int >= 2
        Members of one :class:`~reglab.stacked.StackedMLP`, each its own initialisation and
        minibatch order.
    config : TrainConfig, optional
        Default :data:`WIDTH_CONFIG`: 40 epochs of SGD with momentum, rate 0.05, batches of 50.
    weight_decay : float >= 0
        L2 penalty weight on the weight matrices (biases are not decayed).
    shuffled_labels : bool
        Train on a fixed random permutation of the training labels (Zhang et al. 2017);
        the test set keeps its true labels.

    Returns
    -------
    CapacityResult

    Examples
    --------
    >>> from reglab import digits
    >>> r = train_width(digits().subset(100), 4, num_seeds=2, config=TrainConfig(epochs=1))
    >>> r.test_accuracy.shape
    (2,)
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    width = check_int("width", width, low=1)
    num_seeds = check_int("num_seeds", num_seeds, low=2)
    weight_decay = check_real("weight_decay", weight_decay, low=0.0)
    if not isinstance(shuffled_labels, bool):
        raise TypeError(f"shuffled_labels must be True or False, but got {shuffled_labels!r}")
    config = WIDTH_CONFIG if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    y = data.y_train
    if shuffled_labels:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(config.seed))]
    sizes = (data.x_train.shape[1], width, data.num_classes)
    model = StackedMLP(num_seeds, sizes, seed=config.seed, dtype=data.x_train.dtype)
    fit_stacked(model, data.x_train, y, config=config, weight_decay=weight_decay)
    train = evaluate_stacked(model, data.x_train, y)["accuracy"].numpy()
    test = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"].numpy()
    return CapacityResult(width, weight_decay, shuffled_labels, train, test)


def accuracy_gain(run: CapacityResult, baseline: CapacityResult) -> np.ndarray:
    """Per seed, the test accuracy of ``run`` minus that of ``baseline``, in percentage points.

    The effect of REG-3 (``run`` width 256, ``baseline`` width 64) and of REG-4 (``run`` width 256
    with weight decay, ``baseline`` without). Seed ``s`` of both is member ``s`` of its stack.

    Parameters
    ----------
    run, baseline : CapacityResult
        Runs with the same number of seeds.

    Returns
    -------
    numpy.ndarray of shape (S,)

    Examples
    --------
    >>> a = CapacityResult(4, 0.0, False, np.array([0.9, 0.8]), np.array([0.70, 0.60]))
    >>> b = CapacityResult(8, 0.0, False, np.array([1.0, 1.0]), np.array([0.75, 0.60]))
    >>> accuracy_gain(b, a).round(6).tolist()
    [5.0, 0.0]
    """
    for name, r in (("run", run), ("baseline", baseline)):
        if not isinstance(r, CapacityResult):
            raise TypeError(f"{name} must be a CapacityResult, but got {type(r).__name__}")
    if run.test_accuracy.shape != baseline.test_accuracy.shape:
        raise ValueError(f"run and baseline must have the same seeds, but got {run.test_accuracy.shape[0]} "
                         f"and {baseline.test_accuracy.shape[0]}")
    return 100 * (run.test_accuracy - baseline.test_accuracy)
