"""Experiments ADV-2, ADV-3 and ADV-4 of the chapter ``adversarial_training``, on the 8x8 digits.

- :func:`train_standard`, :func:`train_adversarial`, :func:`train_linear`: five seeds of each
  kind trained at once as one stacked model. The standard and the adversarially trained MLPs
  share initialisations and minibatch orders (the same seeds), so their differences are paired.
- :func:`accuracy_curves` and :func:`evaluation`: accuracy under random sign noise, FGSM and
  PGD (ADV-2, ADV-3).
- :func:`transfer_matrix` and :func:`transfer_rates`: how often FGSM examples made on one
  network fool another (ADV-4).
- :func:`fgsm_minus_clean`, :func:`pgd_gain`, :func:`transfer_minus_noise`: the per-seed
  effects of ADV-2, ADV-3 and ADV-4 that the chapter records with :func:`reglab.book.record`;
  :func:`curves_table` prints accuracy curves at a few sizes.
- :func:`plot_attack`: the chapter's picture of one attack (clean image, perturbation,
  adversarial image, confidences), with :func:`one_member`, :func:`confidences` and
  :func:`hide_frame`.

The three experiments are registered here, with their expected direction.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_real, check_tensor
from ..adversarial import AdversarialTransform, fgsm, robust_accuracy
from ..data import Dataset
from ..derivations.registry import experiment
from ..plotting import COLORS
from ..stats import format_ci
from ..training import StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = [
    "ATTACKS",
    "CONTROL",
    "AdversarialConfig",
    "accuracy_curves",
    "confidences",
    "curves_table",
    "evaluation",
    "fgsm_minus_clean",
    "hide_frame",
    "one_member",
    "pgd_gain",
    "plot_attack",
    "train_adversarial",
    "train_linear",
    "train_standard",
    "transfer_matrix",
    "transfer_minus_noise",
    "transfer_rates",
]

CHAPTER = "adversarial_training"

experiment(
    "ADV-2",
    chapter=CHAPTER,
    claim=(
        "On real 8x8 digits, FGSM at eps = 0.1 (a visible perturbation on such small images) lowers "
        "a trained MLP's test accuracy below its clean accuracy (5 seeds)."
    ),
    expected="decrease",
    measures="FGSM accuracy at eps 0.1 minus clean",
    unit="points",
)
experiment(
    "ADV-3",
    chapter=CHAPTER,
    claim=(
        "Adversarial training (FGSM at eps = 0.1 on half of each minibatch) raises test accuracy "
        "under 20-step PGD at eps = 0.1 (paired seeds); clean accuracy is reported beside it."
    ),
    expected="increase",
    measures="PGD-20 accuracy, adv. trained minus standard",
    unit="points",
)
experiment(
    "ADV-4",
    chapter=CHAPTER,
    claim=(
        "FGSM examples (eps = 0.1) made on one MLP fool independently trained MLPs far more often "
        "than random sign noise of the same size, added to the same images, fools those MLPs "
        "(5 source networks)."
    ),
    expected="increase",
    measures="transfer rate minus noise control",
    unit="points",
)

#: The attacks of :func:`accuracy_curves`.
ATTACKS = ("random", "fgsm", "pgd")
#: The name of the noise control among the rates of :func:`transfer_rates`.
CONTROL = "control: random signs, same ε"


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
        ``"control: random signs, same ε"``: the same rate with the FGSM images replaced by
        random sign noise of size eps, counted over the same images (those that fooled the
        source and that the target gets right when clean) and the same targets (the other
        standard networks); ``error_matrix`` (S, S) among the standard networks;
        ``source_fooled`` (S, n).
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
    # The control: the same images and targets, the FGSM step replaced by random signs of the same
    # size (one draw of signs per source), counted by the same rule as the transfer rate.
    signs = torch.rand((S, *x.shape), generator=torch.Generator().manual_seed(config.noise_seed), dtype=x.dtype) < 0.5
    noise = (x + eps * (2 * signs - 1)).clamp(0, 1)
    with torch.no_grad():
        noisy_pred = torch.stack([standard(noise[s]).argmax(-1) for s in range(S)])  # (source, target, n)
    noisy = transfer_matrix(source_fooled, noisy_pred, own, y)[1]
    rates[CONTROL] = noisy[others].reshape(S, S - 1).mean(1).numpy()
    correct = own == y
    error_matrix = transfer_matrix(source_fooled, adv_pred["other standard networks"], own, y)[0]
    return {
        "white_box": source_fooled.sum(1).double().div(correct.sum(1)).numpy(),
        "rates": rates,
        "error_matrix": error_matrix,
        "source_fooled": source_fooled,
    }


# ---- the per-seed effects the chapter records -------------------------------------------------


def _grid_index(config: AdversarialConfig, eps: float) -> int:
    """Index of the size of ``config.eps_grid`` nearest to ``eps``."""
    return int(np.argmin(np.abs(np.array(config.eps_grid) - eps)))


def fgsm_minus_clean(curves: dict, clean, config: AdversarialConfig) -> np.ndarray:
    """ADV-2's effect per seed: accuracy under FGSM at ``config.eps`` minus clean, in points.

    Parameters
    ----------
    curves : dict
        From :func:`accuracy_curves` (its FGSM row nearest to ``config.eps`` is used).
    clean : array-like of shape (seeds,)
        Clean test accuracy of the same networks.
    config : AdversarialConfig

    Returns
    -------
    numpy.ndarray of shape (seeds,)
    """
    return 100 * (curves["fgsm"][_grid_index(config, config.eps)] - np.asarray(clean))


def pgd_gain(standard: dict, robust: dict, config: AdversarialConfig) -> np.ndarray:
    """ADV-3's effect per seed: PGD accuracy, adversarially trained minus standard, in points.

    Parameters
    ----------
    standard, robust : dict
        From :func:`evaluation`, of the standard and the adversarially trained networks (paired
        seeds).
    config : AdversarialConfig
        Its ``pgd_steps`` names the PGD entry.

    Returns
    -------
    numpy.ndarray of shape (seeds,)
    """
    key = f"PGD-{config.pgd_steps}"
    return 100 * (robust[key] - standard[key])


def transfer_minus_noise(found: dict) -> np.ndarray:
    """ADV-4's effect per source: transfer rate to the other standard networks minus the noise
    control's rate, in points.

    Parameters
    ----------
    found : dict
        From :func:`transfer_rates`.

    Returns
    -------
    numpy.ndarray of shape (seeds,)
    """
    rates = found["rates"]
    return 100 * (rates["other standard networks"] - rates[CONTROL])


def curves_table(curves: dict, config: AdversarialConfig, sizes=(0.05, 0.1, 0.15, 0.2)) -> str:
    """The accuracy curves at a few attack sizes, one row per size, mean ± 95 % interval.

    Parameters
    ----------
    curves : dict
        From :func:`accuracy_curves`.
    config : AdversarialConfig
        Its ``eps_grid``: each size is shown at the grid's nearest size.
    sizes : sequence of float

    Returns
    -------
    str
        A header and one line per size, a column per attack.
    """
    grid = np.array(config.eps_grid)
    lines = [f"{'eps':>5}" + "".join(f"{a:>18}" for a in ATTACKS)]
    for eps in sizes:
        k = int(np.argmin(np.abs(grid - eps)))
        lines.append(f"{grid[k]:5.3f}" + "".join(f"{format_ci(curves[a][k]):>18}" for a in ATTACKS))
    return "\n".join(lines)


# ---- the chapter's pictures of an attack -----------------------------------------------------


def one_member(stack: StackedMLP, m: int):
    """Member ``m`` of a stacked model, as a plain model mapping (b, d) to (b, classes).

    Examples
    --------
    >>> stack = StackedMLP(3, (4, 5, 2), seed=0)
    >>> one_member(stack, 1)(torch.zeros(6, 4)).shape
    torch.Size([6, 2])
    """
    if not isinstance(stack, StackedMLP):
        raise TypeError(f"stack must be a StackedMLP, but got {type(stack).__name__}")
    m = check_int("m", m, low=0, high=stack.num_models - 1)

    def member(x: Tensor) -> Tensor:
        return stack(x)[m]

    return member


def confidences(model, x: Tensor) -> Tensor:
    """Softmax of ``model(x)`` (the class probabilities), without gradients."""
    with torch.no_grad():
        return model(x).softmax(-1)


def hide_frame(ax) -> None:
    """Remove the ticks, grid and frame of an image's axes."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_attack(axes, model, x: Tensor, label: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Clean image, the FGSM perturbation, the adversarial image and the model's confidences.

    Parameters
    ----------
    axes : sequence of 4 matplotlib Axes
        The three images, then a bar chart of the confidences before and after.
    model : callable
        Maps (b, d) to (b, classes), e.g. :func:`one_member` of a stack.
    x : Tensor of shape (d,)
        One square image, pixels in [0, 1] (``d = 64`` for the digits).
    label : Tensor of shape ()
        Its true class.
    eps : float >= 0
        The attack size (FGSM, pixels clamped to [0, 1]).

    Returns
    -------
    (p_clean, p_adv) : Tensors of shape (classes,)
        The model's confidences on the clean and on the adversarial image.
    """
    check_tensor("x", x, ndim=1, floating=True)
    side = math.isqrt(x.shape[0])
    if side * side != x.shape[0]:
        raise ValueError(f"x must be a square image flattened, but it has {x.shape[0]} pixels")
    eps = check_real("eps", eps, low=0.0, high=math.inf, high_open=True)
    if len(axes) != 4:
        raise ValueError(f"axes must hold 4 Axes (three images and the confidences), but got {len(axes)}")
    x_adv = fgsm(model, x[None], label[None], eps, clamp=(0, 1))[0]
    p_clean, p_adv = confidences(model, x[None])[0], confidences(model, x_adv[None])[0]
    c_clean, c_adv = int(p_clean.argmax()), int(p_adv.argmax())
    axes[0].imshow(x.reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title(f'"{c_clean}"  {p_clean[c_clean]:.1%}', fontsize=10)
    axes[1].imshow(((x_adv - x) / max(eps, 1e-12)).reshape(side, side), cmap="RdBu_r", vmin=-1, vmax=1)
    axes[1].set_title(f"+ {eps:.2f} × sign(∇ₓJ)", fontsize=10)
    axes[2].imshow(x_adv.reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
    axes[2].set_title(f'= "{c_adv}"  {p_adv[c_adv]:.1%}', fontsize=10, color="C3" if c_adv != int(label) else "k")
    for a in axes[:3]:
        hide_frame(a)
    classes = np.arange(p_clean.shape[0])
    axes[3].bar(classes - 0.2, p_clean.numpy(), width=0.4, color=COLORS["train"], label="clean")
    axes[3].bar(classes + 0.2, p_adv.numpy(), width=0.4, color=COLORS["test"], label="adversarial")
    axes[3].set_xticks(classes)
    axes[3].set_ylim(0, 1)
    axes[3].set_ylabel("confidence")
    axes[3].legend(fontsize=8, loc="upper left")
    return p_clean, p_adv
