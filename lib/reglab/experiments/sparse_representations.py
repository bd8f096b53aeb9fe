"""Experiments of the chapter ``sparse_representations``: an L1 penalty on the activations (SP-1, SP-5).

MLPs on MNIST-1D are trained with ``alpha * ||h||_1`` added to the loss, for several penalty
weights and seeds (:func:`activation_penalty_sweep`). The arms are *paired*: for each seed,
every penalty weight starts from the same initialisation and sees the same minibatch order,
so the per-seed differences (:func:`paired_effect`, :func:`effects`) measure the penalty alone.
The results are registered here, with their expected direction; the chapter records them with
:func:`reglab.book.record`. Also measured here: how often greedy OMP misses the best support on
random problems (:func:`omp_miss_rate`; SP-3 shows that it can).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_int
from ..data import Dataset
from ..derivations.registry import experiment
from ..derivations.sparse_representations import best_k_sparse
from ..sparse_coding import ActivationL1, fraction_inactive, omp, sparse_residual
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = ["SparsityConfig", "activation_penalty_sweep", "effects", "omp_miss_rate", "paired_effect"]

CHAPTER = "sparse_representations"

experiment(
    "SP-1",
    chapter=CHAPTER,
    claim=(
        "An L1 penalty (alpha = 0.01) on the hidden activations of an MLP on MNIST-1D raises the "
        "fraction of inactive test (example, unit) pairs over the unpenalised network "
        "(paired seeds: same initialisation and minibatch order)."
    ),
    expected="increase",
    measures="inactive share, alpha 0.01 minus 0",
    unit="points",
)
experiment(
    "SP-5",
    chapter=CHAPTER,
    claim=(
        "The same penalty (alpha = 0.01) raises the MLP's test accuracy on MNIST-1D over the "
        "unpenalised network (paired seeds). Its training accuracy rises too and the gap between "
        "training and test accuracy does not shrink: a gain in test accuracy, not shown to be the "
        "lecture's 'similar regularizing effect' in the sense of a smaller generalisation gap."
    ),
    expected="increase",
    measures="test accuracy, alpha 0.01 minus 0",
    unit="points",
)


@dataclass
class SparsityConfig:
    """Settings of the SP-1 sweep.

    Attributes
    ----------
    alphas : tuple of float
        Penalty weights of ``alpha * activation_l1(h)`` (0 = no penalty).
    seeds : int
        Networks per penalty weight (independent initialisations and minibatch orders, shared
        across the penalty weights: seed s of every alpha starts from the same weights).
    sizes : tuple of int
        MLP widths, input to output.
    compare_alpha : float
        The penalty weight whose paired difference from alpha = 0 is recorded as SP-1 and SP-5
        (fixed before the runs: the weight at which almost no unit dies).
    train : TrainConfig
        Optimiser settings shared by every network; ``train.seed`` also seeds the initialisation.
    """

    alphas: tuple = (0.0, 1e-3, 3e-3, 1e-2, 2e-2)
    seeds: int = 5
    sizes: tuple = (40, 64, 64, 10)
    compare_alpha: float = 1e-2
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(epochs=20, lr=3e-3, batch_size=100, optimizer="adam", seed=0)
    )


def _stack(models: list[StackedMLP], sizes, dtype) -> StackedMLP:
    """One StackedMLP holding the members of ``models`` in order (for evaluation)."""
    total = sum(m.num_models for m in models)
    joined = StackedMLP(total, sizes, dtype=dtype)
    with torch.no_grad():
        for i, layer in enumerate(joined.layers):
            layer.weight.copy_(torch.cat([m.layers[i].weight for m in models]))
            layer.bias.copy_(torch.cat([m.layers[i].bias for m in models]))
    joined.eval()
    return joined


def activation_penalty_sweep(data: Dataset, config: SparsityConfig | None = None) -> dict:
    """Train MLPs with an L1 penalty on their hidden activations, for every penalty weight x seed.

    The seeds of one penalty weight are trained at once as one stacked model; the activations
    are collected by forward hooks on the hidden layers (:class:`reglab.sparse_coding.ActivationL1`)
    and the penalty enters through :func:`reglab.training.fit_stacked`'s ``extra_loss``.

    Parameters
    ----------
    data : Dataset
        Classification data (e.g. MNIST-1D), float64.
    config : SparsityConfig, optional

    Returns
    -------
    dict
        ``alphas`` (A,), and arrays of shape (A, seeds): ``accuracy`` (test),
        ``train_accuracy``, ``inactive`` (fraction of test (example, unit) pairs with h = 0),
        ``dead`` (fraction of units off on every test example); also ``model`` (one StackedMLP
        with every network, alpha-major) and ``hidden`` (its test activations, a list of
        (A * seeds, n, units) tensors).
    """
    config = config or SparsityConfig()
    alphas = torch.tensor(config.alphas, dtype=torch.float64)
    if alphas.dim() != 1 or not len(alphas) or (alphas < 0).any():
        raise ValueError(
            f"config.alphas must be a non-empty sequence of numbers >= 0, but got {config.alphas}"
        )
    seeds = check_int("config.seeds", config.seeds, low=2)
    A = len(alphas)
    models = []
    for alpha in alphas:
        # the same seed for every alpha: member s has the same start and minibatch order in each arm
        model = StackedMLP(seeds, config.sizes, seed=config.train.seed, dtype=data.x_train.dtype)
        with ActivationL1(model.layers[:-1], alpha.repeat(seeds), transform=torch.relu) as penalty:
            fit_stacked(model, data.x_train, data.y_train, config=config.train, extra_loss=penalty)
        models.append(model)
    model = _stack(models, config.sizes, data.x_train.dtype)
    train_acc = evaluate_stacked(model, data.x_train, data.y_train)["accuracy"]
    measured = evaluate_stacked(model, data.x_test, data.y_test)  # leaves test activations in .hidden
    hidden = [h.detach() for h in model.hidden]
    return {
        "alphas": alphas.numpy(),
        "accuracy": measured["accuracy"].reshape(A, seeds).numpy(),
        "train_accuracy": train_acc.reshape(A, seeds).numpy(),
        "inactive": fraction_inactive(hidden).reshape(A, seeds).numpy(),
        "dead": fraction_inactive(hidden, per_unit=True).reshape(A, seeds).numpy(),
        "model": model,
        "hidden": hidden,
    }


def paired_effect(sweep: dict, key: str, alpha: float, *, scale: float = 100.0) -> np.ndarray:
    """Per-seed difference ``sweep[key]`` at penalty weight ``alpha`` minus at alpha = 0 (x scale).

    Parameters
    ----------
    sweep : dict
        The result of :func:`activation_penalty_sweep`; its alphas must include 0 and ``alpha``.
    key : str
        ``"inactive"``, ``"accuracy"``, ``"train_accuracy"`` or ``"dead"``.
    scale : float
        100 gives percentage points.

    Returns
    -------
    numpy array of shape (seeds,)
    """
    alphas = np.asarray(sweep["alphas"])
    for a in (0.0, alpha):
        if not np.isclose(alphas, a).any():
            raise ValueError(f"the sweep has no penalty weight {a}; it has {alphas.tolist()}")
    i0, i1 = int(np.flatnonzero(np.isclose(alphas, 0.0))[0]), int(np.flatnonzero(np.isclose(alphas, alpha))[0])
    return scale * (sweep[key][i1] - sweep[key][i0])


def effects(sweep: dict, config: SparsityConfig) -> dict[str, np.ndarray]:
    """The recorded per-seed effects, in points, at ``config.compare_alpha`` minus at alpha = 0.

    Returns
    -------
    dict
        ``"SP-1"``: the share of inactive test (example, unit) pairs; ``"SP-5"``: test accuracy.
        Each a numpy array of shape (seeds,).
    """
    if not isinstance(config, SparsityConfig):
        raise TypeError(f"config must be a SparsityConfig, but got {type(config).__name__}")
    return {
        "SP-1": paired_effect(sweep, "inactive", config.compare_alpha),
        "SP-5": paired_effect(sweep, "accuracy", config.compare_alpha),
    }


def omp_miss_rate(d: int = 6, m: int = 12, k: int = 3, n_signals: int = 500, *, seed: int = 0) -> dict:
    """How often OMP misses the best support on random problems, found by brute force.

    A Gaussian dictionary with unit-norm columns and Gaussian signals (dense, not k-sparse).

    Returns
    -------
    dict
        ``missed`` (fraction of signals where OMP's squared residual exceeds the optimum by
        more than 1e-9 relative), ``ratio`` (OMP residual / optimum, per signal, Tensor),
        ``worst`` (index of the largest ratio), and ``W``, ``X``, ``h_omp``, ``h_best``.
    """
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    W = torch.randn(d, m, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    X = torch.randn(n_signals, d, generator=g, dtype=torch.float64)
    h_omp, h_best = omp(W, X, k), best_k_sparse(W, X, k)
    r_omp, r_best = sparse_residual(W, X, h_omp), sparse_residual(W, X, h_best)
    ratio = r_omp / r_best
    missed = (r_omp > r_best * (1 + 1e-9)).to(torch.float64).mean().item()
    return {
        "missed": missed, "ratio": ratio, "worst": int(ratio.argmax()),
        "W": W, "X": X, "h_omp": h_omp, "h_best": h_best,
    }
