"""The experiments of the chapter *Dataset augmentation*: AUG-1 and AUG-3, and the data-size curve.

Every recipe (a transformation applied to each minibatch, or none) trains ``seeds`` networks, all
recipes at once as one stacked model. Member ``s`` of every recipe starts from the same
initialisation (seed ``s``) and sees the same training subset, so the per-seed differences
between two recipes are paired. AUG-1 and AUG-3 are registered here, with the direction they
expect; their per-seed effects are :meth:`RecipeRun.gain` of a recipe against none, which the
chapter records with :func:`reglab.book.record`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor

from .._validation import check_int
from ..augment import (
    apply_randomly,
    augmentation_transform,
    negate,
    random_image_shift,
    random_ramp,
    random_rotation,
    random_scale,
    random_shift,
    reverse,
    rotate180,
)
from ..data import Dataset
from ..derivations.registry import experiment
from ..noise import add_gaussian_noise
from ..training import StackedMLP, TrainConfig, fit_stacked, paired_stacked_mlp

__all__ = [
    "DataSizeConfig",
    "DigitRecipeConfig",
    "RecipeConfig",
    "RecipeRun",
    "digit_recipes",
    "mnist1d_recipes",
    "run_data_sizes",
    "run_recipes",
]

CHAPTER = "augmentation"

experiment(
    "AUG-1",
    chapter=CHAPTER,
    claim="Negating half of the MNIST-1D training signals, which turns 0, 1 and 3 into valid 6, 7 and 8, "
    "lowers test accuracy against no augmentation (500 signals, paired seeds). The chapter prints the "
    "measured effect of every other transformation beside it: label-preserving ones are not always a "
    "gain (a one-pixel shift of 8x8 digits lowers accuracy).",
    expected="decrease",
    measures="test accuracy with half of the signals negated minus without augmentation",
    unit="points",
)
experiment(
    "AUG-3",
    chapter=CHAPTER,
    claim="Shifts, scaling, ramps and noise together raise test accuracy on MNIST-1D trained from "
    "500 signals, against no augmentation (paired seeds).",
    expected="increase",
    measures="test accuracy with all label-preserving transformations minus without augmentation",
    unit="points",
)


# ----------------------------------------------------------------------------- real data
@dataclass(frozen=True)
class DataSizeConfig:
    """The data-size curve: random subsets of MNIST-1D, the same number of steps for each.

    A subset of ``n`` signals is repeated ``4000 // n`` times per epoch.
    """

    sizes: tuple[int, ...] = (250, 500, 1000, 2000, 4000)
    seeds: int = 3
    layers: tuple[int, ...] = (40, 64, 64, 10)
    epochs: int = 15
    lr: float = 0.05
    batch_size: int = 100
    seed: int = 0


def run_data_sizes(data: Dataset, config: DataSizeConfig = DataSizeConfig()) -> Tensor:
    """Test accuracy after training on each subset size, shape (len(sizes), seeds)."""
    if not isinstance(config, DataSizeConfig):
        raise TypeError(f"config must be a DataSizeConfig, but got {type(config).__name__}")
    n_train = data.x_train.shape[0]
    g = torch.Generator().manual_seed(config.seed)
    indices = torch.stack([torch.randperm(n_train, generator=g)[:n].repeat(n_train // n)
                           for n in config.sizes for _ in range(config.seeds)])
    model = StackedMLP(len(indices), config.layers, seed=config.seed, dtype=torch.float64)
    fit_stacked(model, data.x_train, data.y_train, member_indices=indices,
                config=TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size))
    with torch.no_grad():
        acc = (model(data.x_test).argmax(-1) == data.y_test).double().mean(-1)
    return acc.reshape(len(config.sizes), config.seeds)


# ----------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class RecipeConfig:
    """AUG-1 and AUG-3 on MNIST-1D: six recipes, ``seeds`` networks each, one training subset.

    Attributes
    ----------
    train_size : int
        Training signals (one subset, drawn with ``subset_seed``).
    max_shift : int
        Largest circular shift, in samples.
    scale : (float, float)
        Range of the amplitude factor.
    max_slope, noise_sigma : float
        Largest ramp slope; standard deviation of the added noise.
    careful_prob : float
        Fraction of the examples that the label-changing transformations (negate, reverse) touch.
    """

    train_size: int = 500
    seeds: int = 5
    layers: tuple[int, ...] = (40, 64, 64, 10)
    epochs: int = 60
    lr: float = 0.05
    batch_size: int = 50
    subset_seed: int = 0
    init_seed: int = 1
    augment_seed: int = 1
    max_shift: int = 4
    scale: tuple[float, float] = (0.8, 1.2)
    max_slope: float = 0.4
    noise_sigma: float = 0.1
    careful_prob: float = 0.5

    def __post_init__(self):
        check_int("seeds", self.seeds, low=5)


@dataclass(frozen=True)
class DigitRecipeConfig:
    """AUG-1 on the 8x8 digits: four recipes, ``seeds`` one-hidden-layer networks each."""

    train_size: int = 300
    seeds: int = 5
    layers: tuple[int, ...] = (64, 64, 10)
    epochs: int = 60
    lr: float = 0.05
    batch_size: int = 50
    subset_seed: int = 0
    init_seed: int = 2
    augment_seed: int = 2
    max_pixel_shift: int = 1
    max_degrees: float = 15.0
    careful_prob: float = 0.5

    def __post_init__(self):
        check_int("seeds", self.seeds, low=5)


def mnist1d_recipes(config: RecipeConfig = RecipeConfig()) -> dict[str, Callable | None]:
    """The six MNIST-1D recipes of the chapter, by name (``None``: no augmentation)."""
    g = torch.Generator().manual_seed(config.augment_seed)
    shift = partial(random_shift, max_shift=config.max_shift, generator=g)

    def nuisance(x):
        # What MNIST-1D's generator varies besides position: amplitude, a linear ramp, noise.
        x = random_scale(x, low=config.scale[0], high=config.scale[1], generator=g)
        x = random_ramp(x, max_slope=config.max_slope, generator=g)
        return add_gaussian_noise(x, config.noise_sigma, generator=g)

    return {
        "none": None,
        f"shift by up to {config.max_shift}": shift,
        "scale, ramp, noise": nuisance,
        "all safe ones": lambda x: nuisance(shift(x)),
        "negate half (careful)": partial(apply_randomly, negate, prob=config.careful_prob, generator=g),
        "reverse half (careful)": partial(apply_randomly, reverse, prob=config.careful_prob, generator=g),
    }


def digit_recipes(config: DigitRecipeConfig = DigitRecipeConfig()) -> dict[str, Callable | None]:
    """The four 8x8-digit recipes of the chapter, by name."""
    g = torch.Generator().manual_seed(config.augment_seed)
    return {
        "none": None,
        f"shift by {config.max_pixel_shift} pixel": partial(random_image_shift, max_shift=config.max_pixel_shift,
                                                             generator=g),
        f"rotate up to {config.max_degrees:g} degrees": partial(random_rotation, max_degrees=config.max_degrees,
                                                                generator=g),
        "turn half by 180 (careful)": partial(apply_randomly, rotate180, prob=config.careful_prob, generator=g),
    }


@dataclass(frozen=True)
class RecipeRun:
    """What a recipe run measured on the test set.

    Attributes
    ----------
    names : list of str
        The recipes, in order.
    model : StackedMLP
        Member ``r * seeds + s``: recipe ``r``, seed ``s``.
    pred : LongTensor of shape (recipes, seeds, n_test)
        Predicted test classes.
    accuracy : Tensor of shape (recipes, seeds)
        Test accuracy (fraction).
    """

    names: list
    model: StackedMLP = field(repr=False)
    pred: Tensor = field(repr=False)
    accuracy: Tensor = field(repr=False)

    def gain(self, recipe: str, baseline: str = "none") -> Tensor:
        """Per seed: test accuracy of ``recipe`` minus ``baseline``, in percentage points."""
        acc = self.accuracy
        return 100 * (acc[self.names.index(recipe)] - acc[self.names.index(baseline)])


def run_recipes(data: Dataset, recipes: dict, config) -> RecipeRun:
    """Train ``config.seeds`` networks per recipe on ``config.train_size`` examples of ``data``.

    Parameters
    ----------
    data : Dataset
    recipes : dict of name -> transformation (a batch -> batch callable) or None
    config : RecipeConfig or DigitRecipeConfig

    Returns
    -------
    RecipeRun
    """
    if not isinstance(config, (RecipeConfig, DigitRecipeConfig)):
        raise TypeError(f"config must be a RecipeConfig or a DigitRecipeConfig, but got {type(config).__name__}")
    if not recipes:
        raise ValueError("recipes must hold at least one recipe, but got none")
    names = list(recipes)
    small = data.subset(config.train_size, seed=config.subset_seed)
    members = [recipes[name] for name in names for _ in range(config.seeds)]
    model = paired_stacked_mlp(len(names), config.seeds, config.layers, seed=config.init_seed)
    fit_stacked(model, small.x_train, small.y_train, transform=augmentation_transform(members),
                config=TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size))
    with torch.no_grad():
        pred = model(data.x_test).argmax(-1).reshape(len(names), config.seeds, -1)
    acc = (pred == data.y_test).double().mean(-1)
    return RecipeRun(names=names, model=model, pred=pred, accuracy=acc)
