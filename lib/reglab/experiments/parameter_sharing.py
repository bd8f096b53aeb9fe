"""PS-3: a small CNN (tied weights) against a larger MLP on MNIST-1D.

The run of the chapter ``parameter_sharing``: :class:`StackedConvNet` is the MNIST-1D CNN of
Greydanus (2020), ``M`` members trained at once; :class:`CnnVsMlp` holds the settings;
:func:`cnn_vs_mlp` trains both models on the same data with the same optimiser, steps and no
penalty, and returns their learning curves and final test accuracies (one per seed);
:func:`per_seed_gain` is the effect the chapter records with :func:`reglab.book.record`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int
from ..data import Dataset
from ..derivations.registry import experiment
from ..training import StackedLinear, StackedMLP, TrainConfig, evaluate_stacked, fit_stacked

__all__ = ["CnnVsMlp", "StackedConvNet", "cnn_vs_mlp", "per_seed_gain"]

experiment(
    "PS-3",
    chapter="parameter_sharing",
    claim=("On MNIST-1D a small CNN (5,210 parameters: local, strided and tied weights) is more "
           "accurate on the test set than an MLP with 15,210 parameters, both trained for 20 epochs "
           "with Adam. The comparison does not separate weight tying from locality, stride and depth."),
    expected="increase",
    measures="test accuracy of the CNN minus the MLP",
    unit="points",
)


class StackedConvNet(nn.Module):
    """``num_models`` independent 1-D CNNs for MNIST-1D, trained at once.

    The architecture of Greydanus (2020): three convolutions with ``channels`` channels
    (kernel sizes 5, 3, 3; stride 2; padding 1; ReLU), then a linear classifier on the
    flattened features.

    Parameters
    ----------
    num_models : int
        Independent members (seeds); member ``m`` owns channel group ``m`` of every convolution.
    length : int
        Input signal length (40 for MNIST-1D).
    channels : int
        Channels of every convolution.
    num_classes : int
    seed : int
        Seed of the initialisation (``nn.Conv1d``'s default uniform bound, per member).
    dtype : torch.dtype, optional

    Shape:
        - Input: (b, length) shared, or (num_models, b, length) per member.
        - Output: (num_models, b, num_classes).

    Notes
    -----
    Member ``m`` has its own kernels ``weights[i][m]`` of shape (C_out, C_in, k); the
    convolutions are computed as windows (``Tensor.unfold``) times kernels, one batched matrix
    product over all members (the same numbers as ``nn.Conv1d`` per member, and faster than a
    grouped convolution in float64 on a CPU). Members share no parameter, so summing their losses
    trains each as if alone (as :func:`reglab.training.fit_stacked` expects).

    Examples
    --------
    >>> net = StackedConvNet(3, length=40, channels=4)
    >>> net(torch.zeros(2, 40)).shape
    torch.Size([3, 2, 10])
    """

    def __init__(self, num_models: int, *, length: int = 40, channels: int = 25, num_classes: int = 10, seed: int = 0, dtype=None):
        super().__init__()
        self.num_models = check_int("num_models", num_models, low=1)
        self.length = check_int("length", length, low=8)
        self.channels = check_int("channels", channels, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=1)
        dtype = dtype or torch.get_default_dtype()
        gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
        M, C = num_models, channels
        self.kernel_sizes = (5, 3, 3)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        out_len, c_in = length, 1
        for k in self.kernel_sizes:
            bound = 1.0 / math.sqrt(c_in * k)
            self.weights.append(nn.Parameter((2 * torch.rand(M, C, c_in, k, generator=gen, dtype=dtype) - 1) * bound))
            self.biases.append(nn.Parameter((2 * torch.rand(M, C, generator=gen, dtype=dtype) - 1) * bound))
            out_len, c_in = (out_len + 2 - k) // 2 + 1, C
        self.features = C * out_len
        self.head = StackedLinear(M, self.features, num_classes, generator=gen, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        M = self.num_models
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(M, -1, -1)
        if x.dim() != 3 or x.shape[0] != M or x.shape[-1] != self.length:
            raise ValueError(f"x must have shape (b, {self.length}) or ({M}, b, {self.length}), but got {tuple(x.shape)}")
        h = x.unsqueeze(3)  # (M, b, L, C_in = 1): channels last
        for w, bias in zip(self.weights, self.biases):
            c_out, c_in, k = w.shape[1:]
            # Windows of width k, stride 2, after one zero at each end: (M, b, L_out, C_in, k).
            windows = F.pad(h, (0, 0, 1, 1)).unfold(2, k, 2)
            b, l_out = windows.shape[1:3]
            flat = windows.reshape(M, b * l_out, c_in * k) @ w.reshape(M, c_out, c_in * k).transpose(1, 2)
            h = torch.relu(flat + bias.unsqueeze(1)).reshape(M, b, l_out, c_out)
        return self.head(h.flatten(2))  # (M, b, L_out * C) -> (M, b, num_classes)

    def member_l2(self) -> Tensor:
        """One half the squared norm of each member's kernels and head weights, shape (M,)."""
        total = 0.5 * self.head.weight.pow(2).sum(dim=(1, 2))
        for w in self.weights:
            total = total + 0.5 * w.pow(2).sum(dim=(1, 2, 3))
        return total

    def parameters_per_member(self) -> int:
        """Free parameters of one member (kernels, biases and the linear classifier)."""
        return sum(p.numel() for p in self.parameters()) // self.num_models

    def extra_repr(self) -> str:
        return f"num_models={self.num_models}, length={self.length}, channels={self.channels}, num_classes={self.num_classes}"


@dataclass(frozen=True)
class CnnVsMlp:
    """PS-3 settings: both models get ``train`` (Adam, no penalty), ``seeds`` members each.

    ``channels`` is the CNN's width; ``hidden`` the MLP's hidden widths. The test accuracy is
    evaluated every ``eval_every`` epochs for the learning curves only.
    """

    channels: int = 25
    hidden: tuple[int, ...] = (100, 100)
    seeds: int = 5
    init_seed: int = 1
    eval_every: int = 2
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=20, lr=0.01, batch_size=50, optimizer="adam", seed=0))


def cnn_vs_mlp(data: Dataset, config: CnnVsMlp = CnnVsMlp()) -> dict:
    """Train the CNN and the MLP on ``data`` (MNIST-1D), float64, ``config.seeds`` members each.

    Returns
    -------
    dict
        ``{"curves": {name: (epochs, accuracy (evaluations, M))}, "final": {name: ndarray (M,)},
        "parameters": {name: int}}`` for ``name`` in ``("CNN", "MLP")``; accuracies are
        fractions on ``data``'s test split.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset, but got {type(data).__name__}")
    if not isinstance(config, CnnVsMlp):
        raise TypeError(f"config must be a CnnVsMlp, but got {type(config).__name__}")
    length = data.x_train.shape[1]
    models = {
        "CNN": StackedConvNet(config.seeds, length=length, channels=config.channels, num_classes=data.num_classes,
                              seed=config.init_seed, dtype=torch.float64),
        "MLP": StackedMLP(config.seeds, (length, *config.hidden, data.num_classes), seed=config.init_seed,
                          dtype=torch.float64),
    }
    out = {"curves": {}, "final": {}, "parameters": {}}
    for name, model in models.items():
        history = fit_stacked(model, data.x_train, data.y_train, config=config.train, val=(data.x_test, data.y_test),
                              eval_every=config.eval_every)
        out["curves"][name] = (np.array(history.eval_epochs), np.array(history.val_accuracy))
        out["final"][name] = evaluate_stacked(model, data.x_test, data.y_test)["accuracy"].numpy()
        out["parameters"][name] = sum(p.numel() for p in model.parameters()) // config.seeds
    return out


def per_seed_gain(result: dict) -> np.ndarray:
    """PS-3's effect for every seed: test accuracy of the CNN minus the MLP, in points.

    Parameters
    ----------
    result : dict
        From :func:`cnn_vs_mlp` (final test accuracies, one per seed, of both models).

    Returns
    -------
    numpy.ndarray of shape (seeds,)

    Examples
    --------
    >>> per_seed_gain({"final": {"CNN": np.array([0.9, 0.8]), "MLP": np.array([0.7, 0.7])}}).round(6)
    array([20., 10.])
    """
    if not isinstance(result, dict) or not {"CNN", "MLP"} <= set(result.get("final", {})):
        raise TypeError("result must be the dict returned by cnn_vs_mlp, with final accuracies of 'CNN' and 'MLP'")
    final = result["final"]
    return 100 * (final["CNN"] - final["MLP"])
