"""Stacked models: ``M`` independent networks (seeds) held, and trained, as one module.

Multi-seed experiments stack the weights of ``M`` independent networks along a leading
dimension, so one forward pass runs every member and one loop
(:func:`reglab.training.fit_stacked`) trains them all: five seeds cost roughly what one larger
network costs, not five runs. Members share no parameter, so each is a run of its own.

- :class:`StackedLinear`: ``M`` linear layers applied at once;
- :class:`StackedMLP`: ``M`` multilayer perceptrons with ReLU (and optional dropout);
- :func:`paired_stacked_mlp`: several settings ("arms") times several seeds, where member
  ``s`` of every arm starts from the same initialisation, so arms are compared seed by seed.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from ._validation import check_int, check_real

__all__ = ["StackedLinear", "StackedMLP", "paired_stacked_mlp"]


class StackedLinear(nn.Module):
    """``num_models`` independent linear layers applied at once.

    Parameters
    ----------
    num_models, in_features, out_features : int
    generator : torch.Generator, optional
        Initialisation as ``nn.Linear`` (uniform in +-1/sqrt(in_features)), independently
        for every member.
    dtype : torch.dtype, optional

    Shape:
        - Input: (num_models, b, in_features), or (b, in_features) shared by all members.
        - Output: (num_models, b, out_features).

    Examples
    --------
    >>> layer = StackedLinear(3, 4, 2, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(5, 4)).shape  # one input batch, shared by the 3 members
    torch.Size([3, 5, 2])
    >>> x = torch.randn(3, 5, 4)
    >>> out = layer(x)
    >>> torch.allclose(out[1], x[1] @ layer.weight[1].T + layer.bias[1])  # member 1 alone
    True
    """

    def __init__(self, num_models: int, in_features: int, out_features: int, *, generator=None, dtype=None):
        super().__init__()
        self.num_models = check_int("num_models", num_models, low=1)
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        dtype = dtype or torch.get_default_dtype()
        bound = 1.0 / math.sqrt(in_features)
        w = torch.rand(num_models, out_features, in_features, generator=generator, dtype=dtype)
        b = torch.rand(num_models, out_features, generator=generator, dtype=dtype)
        self.weight = nn.Parameter((2 * w - 1) * bound)
        self.bias = nn.Parameter((2 * b - 1) * bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.num_models, -1, -1)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def extra_repr(self) -> str:
        return f"num_models={self.num_models}, in_features={self.in_features}, out_features={self.out_features}"


def _as_sizes(name: str, sizes) -> list:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a sequence of layer widths such as (40, 100, 10), but got {sizes!r}")
    return list(sizes)


class StackedMLP(nn.Module):
    """``num_models`` independent multilayer perceptrons with ReLU, trained as one module.

    Parameters
    ----------
    num_models : int
        Number of independent members (e.g. seeds).
    sizes : sequence of int
        Layer widths from input to output, e.g. ``(40, 100, 100, 10)``.
    seed : int
        Seed of the initialisation; member ``m`` differs from member ``m'``.
    dropout_keep : float in (0, 1], optional
        Keep probability of (inverted) dropout on every hidden layer while training.
    dtype : torch.dtype, optional

    Shape:
        - Input: (b, sizes[0]) shared, or (num_models, b, sizes[0]) per member.
        - Output: (num_models, b, sizes[-1]).

    Attributes
    ----------
    hidden : list of Tensor
        The post-activation hidden values of the last forward pass (for sparsity measures).

    Examples
    --------
    >>> net = StackedMLP(5, (40, 100, 10), seed=0)
    >>> net(torch.zeros(8, 40)).shape  # 5 members, 8 examples, 10 classes
    torch.Size([5, 8, 10])
    >>> net.member_l2().shape
    torch.Size([5])
    >>> bool((net.layers[0].weight[0] != net.layers[0].weight[1]).any())  # members start apart
    True
    """

    def __init__(self, num_models: int, sizes: Sequence[int], *, seed: int = 0, dropout_keep: float | None = None, dtype=None):
        super().__init__()
        num_models = check_int("num_models", num_models, low=1)
        sizes = _as_sizes("sizes", sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, but got {sizes}")
        for i, s in enumerate(sizes):
            check_int(f"sizes[{i}]", s, low=1)
        if dropout_keep is not None:
            check_real("dropout_keep", dropout_keep, low=0.0, high=1.0, low_open=True)
        gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
        self.num_models = check_int("num_models", num_models, low=1)
        self.sizes = sizes
        self.dropout_keep = dropout_keep
        self.layers = nn.ModuleList(
            StackedLinear(num_models, a, b, generator=gen, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.hidden: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.hidden = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
                self.hidden.append(x)
                if self.training and self.dropout_keep is not None and self.dropout_keep < 1:
                    mask = torch.rand_like(x) < self.dropout_keep
                    x = x * mask / self.dropout_keep
        return x

    def weights(self) -> list[Tensor]:
        """The weight tensors (num_models, out, in) of every layer (the decayed parameters)."""
        return [layer.weight for layer in self.layers]

    def member_l2(self) -> Tensor:
        """One half the squared norm of each member's weights, shape (num_models,)."""
        return sum(0.5 * w.pow(2).sum(dim=(1, 2)) for w in self.weights())

    def extra_repr(self) -> str:
        return f"num_models={self.num_models}, sizes={self.sizes}, dropout_keep={self.dropout_keep}"


def paired_stacked_mlp(arms: int, seeds: int, sizes, *, seed: int = 0, dtype=torch.float64) -> StackedMLP:
    """A stacked MLP of ``arms * seeds`` members; member ``a * seeds + s`` starts as member ``s``.

    Parameters
    ----------
    arms : int >= 1
        Settings compared (recipes, noise levels ...).
    seeds : int >= 1
        Initialisations; each arm gets the same ``seeds`` ones, so arms are paired by seed.
    sizes : sequence of int
        Layer widths.
    seed : int
        Seed of the initialisations.
    dtype : torch.dtype
        Of the parameters (float64 by default, as in the chapters that compare arms).

    Returns
    -------
    StackedMLP
        With ``arms * seeds`` members, arm by arm.

    Examples
    --------
    >>> m = paired_stacked_mlp(2, 3, (4, 5, 2))
    >>> bool((m.layers[0].weight[0] == m.layers[0].weight[3]).all())
    True
    """
    arms = check_int("arms", arms, low=1)
    seeds = check_int("seeds", seeds, low=1)
    base = StackedMLP(seeds, sizes, seed=seed, dtype=dtype)
    model = StackedMLP(arms * seeds, sizes, seed=seed, dtype=dtype)
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), base.parameters()):
            mine.copy_(theirs.repeat(arms, *([1] * (theirs.dim() - 1))))
    return model
