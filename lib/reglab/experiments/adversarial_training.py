"""Experiments ADV-2, ADV-3 and ADV-4 of the chapter ``adversarial_training``, on the 8x8 digits.

- :func:`train_standard`, :func:`train_adversarial`, :func:`train_linear`: five seeds of each
  kind trained at once as one stacked model. The standard and the adversarially trained MLPs
  share initialisations and minibatch orders (the same seeds), so their differences are paired.
- :func:`accuracy_curves` and :func:`evaluation`: accuracy under random sign noise, FGSM and
  PGD (ADV-2, ADV-3).
- :func:`transfer_matrix` and :func:`transfer_rates`: how often FGSM examples made on one
  network fool another (ADV-4).

The results are registered, with their expected direction, in
:mod:`reglab.derivations.adversarial_training`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._validation import check_tensor
from ..adversarial import AdversarialTransform, fgsm, robust_accuracy
from ..data import Dataset
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = [
    "AdversarialConfig",
    "accuracy_curves",
    "evaluation",
    "train_adversarial",
    "train_linear",
    "train_standard",
    "transfer_matrix",
    "transfer_rates",
]

ATTACKS = ("random", "fgsm", "pgd")


@dataclass
class AdversarialConfig:
    """Settings of the chapter's runs.

    Attributes
    ----------
    seeds : int
        Networks of each kind, trained together.
    sizes : tuple of int
        MLP widths, input to output.
    model_seed : int
        Seed of the initialisation (shared by the standard and the adversarially trained MLPs).
    train : TrainConfig
        SGD with momentum, shared by both MLP kinds (the same minibatch orders).
    eps : float
        Attack size for adversarial training and for the evaluation at one size.
    fraction : float
        Share of each minibatch replaced by its FGSM version in adversarial training.
    pgd_steps : int
        Steps of the PGD of :func:`evaluation` (the curves use the ``pgd`` default, 10).
    eps_grid : tuple of float
        Attack sizes of :func:`accuracy_curves`.
    linear_seed, linear_train : int, TrainConfig
        Initialisation and training of the linear softmax classifiers (transfer targets).
    noise_seed : int
        Seed of the random sign noise of the transfer control.
    """

    seeds: int = 5
    sizes: tuple = (64, 100, 10)
    model_seed: int = 1
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(epochs=30, lr=0.1, batch_size=100, seed=0)
    )
    eps: float = 0.1
    fraction: float = 0.5
    pgd_steps: int = 20
    eps_grid: tuple = tuple(float(v) for v in np.round(np.arange(0.0, 0.3001, 0.025), 3))
    linear_seed: int = 3
    linear_train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(epochs=30, lr=0.2, batch_size=100, seed=1)
    )
    noise_seed: int = 11


def train_standard(data: Dataset, config: AdversarialConfig) -> StackedMLP:
    """``config.seeds`` MLPs trained without regularization (stacked)."""
    model = StackedMLP(config.seeds, config.sizes, seed=config.model_seed, dtype=data.x_train.dtype)
    fit_stacked(model, data.x_train, data.y_train, config=config.train)
    return model


def train_adversarial(data: Dataset, config: AdversarialConfig) -> StackedMLP:
    """The same MLPs (same seeds), trained with FGSM on ``config.fraction`` of each minibatch."""
    model = StackedMLP(config.seeds, config.sizes, seed=config.model_seed, dtype=data.x_train.dtype)
    transform = AdversarialTransform(config.eps, fraction=config.fraction, clamp=(0, 1))
    fit_stacked(model, data.x_train, data.y_train, config=config.train, transform=transform)
    return model


def train_linear(data: Dataset, config: AdversarialConfig) -> StackedMLP:
    """``config.seeds`` linear softmax classifiers (multinomial logistic regression)."""
    model = StackedMLP(config.seeds, (config.sizes[0], config.sizes[-1]), seed=config.linear_seed,
                       dtype=data.x_train.dtype)
    fit_stacked(model, data.x_train, data.y_train, config=config.linear_train)
    return model


def accuracy_curves(model: StackedMLP, data: Dataset, config: AdversarialConfig) -> dict:
    """Test accuracy of every member under each attack and size.

    Returns
    -------
    dict
        ``{attack: array of shape (len(config.eps_grid), seeds)}`` for attack in
        ``("random", "fgsm", "pgd")`` (PGD: 10 steps, a random start seeded per size).
    """
    curves = {}
    for attack in ATTACKS:
        rows = []
        for k, eps in enumerate(config.eps_grid):
            gen = torch.Generator().manual_seed(1000 + k)
            rows.append(robust_accuracy(model, data.x_test, data.y_test, float(eps), attack=attack,
                                        clamp=(0, 1), generator=gen).numpy())
        curves[attack] = np.array(rows)
    return curves


def evaluation(model: StackedMLP, data: Dataset, config: AdversarialConfig) -> dict:
    """Clean, FGSM and PGD accuracy at ``config.eps`` of every member, arrays of shape (seeds,)."""
    gen = torch.Generator().manual_seed(7)
    x, y, eps = data.x_test, data.y_test, config.eps
    return {
        "clean": evaluate_stacked(model, x, y)["accuracy"].numpy(),
        "FGSM": robust_accuracy(model, x, y, eps, attack="fgsm", clamp=(0, 1)).numpy(),
        f"PGD-{config.pgd_steps}": robust_accuracy(model, x, y, eps, attack="pgd", steps=config.pgd_steps,
                                                   clamp=(0, 1), generator=gen).numpy(),
    }


def transfer_matrix(source_fooled: Tensor, predictions: Tensor, clean: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """How often adversarial examples made on one model fool another.

    Parameters
    ----------
    source_fooled : BoolTensor of shape (S, n)
        Whether source model s classifies example i correctly when clean and wrongly after its
        own attack (a successful white-box adversarial example).
    predictions : LongTensor of shape (S, T, n)
        Class predicted by target model t for the adversarial version of example i made on
        source model s.
    clean : LongTensor of shape (T, n)
        Predictions of the targets on the clean examples.
    y : LongTensor of shape (n,)
        True labels.

    Returns
    -------
    (error, transfer) : Tensors of shape (S, T)
        ``error``: share of all adversarial examples of source s that target t misclassifies.
        ``transfer``: among the successful adversarial examples of source s that target t
        classifies correctly when clean, the share that target t misclassifies (the
        transferability of Papernot, McDaniel and Goodfellow 2016); NaN if there is none.

    Examples
    --------
    >>> y = torch.tensor([0, 1])
    >>> error, transfer = transfer_matrix(torch.tensor([[True, True]]), torch.tensor([[[1, 1]]]),
    ...                                   torch.tensor([[0, 1]]), y)
    >>> transfer.tolist()
    [[0.5]]
    """
    check_tensor("source_fooled", source_fooled, ndim=2)
    check_tensor("predictions", predictions, ndim=3)
    check_tensor("clean", clean, ndim=2)
    check_tensor("y", y, ndim=1)
    S, T, n = predictions.shape
    if source_fooled.shape != (S, n) or clean.shape != (T, n) or y.shape != (n,):
        raise ValueError(
            f"with predictions of shape {(S, T, n)}, source_fooled must have shape {(S, n)}, clean {(T, n)} "
            f"and y {(n,)}, but got {tuple(source_fooled.shape)}, {tuple(clean.shape)} and {tuple(y.shape)}"
        )
    wrong = predictions != y
    error = wrong.double().mean(-1)
    eligible = source_fooled.bool().unsqueeze(1) & (clean == y).unsqueeze(0)  # (S, T, n)
    transfer = (wrong & eligible).sum(-1).double() / eligible.sum(-1).double()
    return error, transfer


def transfer_rates(standard: StackedMLP, targets: dict, data: Dataset, config: AdversarialConfig) -> dict:
    """FGSM examples made on each standard network (source), given to every target.

    Parameters
    ----------
    standard : StackedMLP
        The sources, also the targets ``"other standard networks"`` (a source never counts as
        its own target).
    targets : dict of {name: StackedMLP}
        Further target stacks with ``config.seeds`` members (``"linear softmax classifiers"``
        are all targets; any other name, like the adversarially trained MLPs of the same
        seeds, skips the member of the source's own seed).

    Returns
    -------
    dict
        ``white_box`` (S,): share of each source's correct test images that its own FGSM turns
        wrong; ``rates``: {target name: (S,) mean transfer rate over the targets}, plus
        ``"control: random signs, same ε"``: the share of each source's correct images that
        random sign noise of size eps turns wrong; ``error_matrix`` (S, S) among the standard
        networks; ``source_fooled`` (S, n).
    """
    x, y, eps, S = data.x_test, data.y_test, config.eps, config.seeds
    x_adv = fgsm(standard, x, y, eps, clamp=(0, 1))  # (S, n, d): one attack per source
    stacks = {"other standard networks": standard, **targets}
    with torch.no_grad():
        clean_pred = {name: m(x).argmax(-1) for name, m in stacks.items()}
        adv_pred = {name: torch.stack([m(x_adv[s]).argmax(-1) for s in range(S)]) for name, m in stacks.items()}
    sources = torch.arange(S)
    own = clean_pred["other standard networks"]
    source_fooled = (own == y) & (adv_pred["other standard networks"][sources, sources] != y)
    others = ~torch.eye(S, dtype=torch.bool)
    rates = {}
    for name in stacks:
        transfer = transfer_matrix(source_fooled, adv_pred[name], clean_pred[name], y)[1]
        if name.startswith("linear"):
            rates[name] = transfer.mean(1).numpy()
        else:
            rates[name] = transfer[others].reshape(S, S - 1).mean(1).numpy()
    signs = torch.rand((S, *x.shape), generator=torch.Generator().manual_seed(config.noise_seed), dtype=x.dtype) < 0.5
    noise = (x + eps * (2 * signs - 1)).clamp(0, 1)
    with torch.no_grad():
        noisy_pred = standard(noise).argmax(-1)
    correct = own == y
    rates["control: random signs, same ε"] = ((noisy_pred != y) & correct).sum(1).double().div(correct.sum(1)).numpy()
    error_matrix = transfer_matrix(source_fooled, adv_pred["other standard networks"], own, y)[0]
    return {
        "white_box": source_fooled.sum(1).double().div(correct.sum(1)).numpy(),
        "rates": rates,
        "error_matrix": error_matrix,
        "source_fooled": source_fooled,
    }
