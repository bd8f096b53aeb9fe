"""Parameter sharing: convolution as a dense layer whose weights are tied (chapter ``parameter_sharing``).

A 1-D convolution with kernel ``w`` of size ``k`` is the dense layer ``y = M x`` whose matrix
``M`` repeats ``w`` along its diagonals (a Toeplitz matrix; circulant with circular padding):
``L_out * L`` entries of which only ``k`` are free. :func:`conv1d_as_matrix` builds ``M``
entry by entry, so it can be checked against ``torch.nn.functional.conv1d`` (PS-1); the shift
commutes with it exactly under circular padding (PS-2). :class:`StackedConvNet` is the small
MNIST-1D CNN of Greydanus (2020), ``M`` members trained at once (PS-3).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_choice, check_int, check_tensor
from ..training import StackedLinear
from .core import Check, compare, derivation, experiment

__all__ = [
    "PADDINGS",
    "conv1d_as_matrix",
    "conv1d_reference",
    "shift",
    "dense_parameter_count",
    "conv_parameter_count",
    "StackedConvNet",
    "check_conv_equals_tied_dense",
    "check_shared_gradient_is_sum",
    "check_equivariance_circular",
    "check_equivariance_zero_padding",
]

#: Paddings understood by :func:`conv1d_as_matrix` (as in ``torch.nn.Conv1d``).
PADDINGS = ("valid", "same", "circular")


def _pad_sizes(k: int, padding: str) -> tuple[int, int]:
    """Left and right padding for a kernel of size ``k`` (torch's split for even ``k``)."""
    if padding == "valid":
        return 0, 0
    left = (k - 1) // 2
    return left, k - 1 - left


def _check_kernel(kernel) -> Tensor:
    check_tensor("kernel", kernel, ndim=(1, 3), floating=True, finite=True)
    return kernel if kernel.dim() == 3 else kernel.reshape(1, 1, -1)


def conv1d_as_matrix(kernel: Tensor, length: int, *, padding: str = "valid") -> Tensor:
    r"""The dense (Toeplitz) matrix of a 1-D convolution layer without bias.

    Parameters
    ----------
    kernel : Tensor of shape (k,) or (C_out, C_in, k)
        The kernel, in ``torch.nn.functional.conv1d``'s layout (which, like every deep
        learning library, computes a cross-correlation: the kernel is not flipped).
    length : int >= 1
        Length ``L`` of the input signal.
    padding : {"valid", "same", "circular"}
        ``"valid"``: no padding, output length ``L - k + 1``; ``"same"``: zeros, output length
        ``L``; ``"circular"``: the signal wraps around, output length ``L``.

    Returns
    -------
    Tensor of shape (C_out * L_out, C_in * L)
        ``M`` with ``M @ x.reshape(C_in * L) == conv1d(x).reshape(C_out * L_out)`` for a single
        signal ``x`` of shape (C_in, L) (channel-major flattening). For a kernel of shape (k,)
        the shape is (L_out, L).

    Notes
    -----
    Row ``i`` of output channel ``o`` holds ``M[(o, i), (c, i + j - left)] = w[o, c, j]``
    (index taken modulo ``L`` for circular padding, dropped when it falls into zero padding):
    every row is the previous one shifted by one column, so each diagonal is constant
    (Toeplitz) and one kernel entry appears ``L_out`` times. This is the lecture's "force sets
    of parameters to be equal" (Goodfellow et al. 2016, sec. 9.1-9.2).

    Examples
    --------
    >>> conv1d_as_matrix(torch.tensor([1.0, 2.0]), 3)
    tensor([[1., 2., 0.],
            [0., 1., 2.]])
    """
    w = _check_kernel(kernel)
    length = check_int("length", length, low=1)
    check_choice("padding", padding, PADDINGS)
    c_out, c_in, k = w.shape
    if padding == "valid" and k > length:
        raise ValueError(f"the kernel size ({k}) cannot be larger than the signal length ({length}) without padding")
    left, _ = _pad_sizes(k, padding)
    l_out = length - k + 1 if padding == "valid" else length
    M = torch.zeros(c_out, l_out, c_in, length, dtype=w.dtype)
    for i in range(l_out):
        for j in range(k):
            col = i + j - left
            if padding == "circular":
                col %= length
            elif not 0 <= col < length:
                continue  # this tap sees a padded zero
            M[:, i, :, col] += w[:, :, j]
    return M.reshape(c_out * l_out, c_in * length)


def conv1d_reference(x: Tensor, kernel: Tensor, *, padding: str = "valid") -> Tensor:
    """``torch.nn.functional.conv1d`` with the paddings of :func:`conv1d_as_matrix`.

    Parameters
    ----------
    x : Tensor of shape (n, C_in, L) or (n, L) for a single channel
    kernel : Tensor of shape (k,) or (C_out, C_in, k)
    padding : {"valid", "same", "circular"}

    Returns
    -------
    Tensor of shape (n, C_out, L_out) (or (n, L_out) for a kernel of shape (k,))
    """
    w = _check_kernel(kernel)
    check_tensor("x", x, ndim=(2, 3), floating=True)
    check_choice("padding", padding, PADDINGS)
    xs = x.unsqueeze(1) if x.dim() == 2 else x
    if xs.shape[1] != w.shape[1]:
        raise ValueError(f"x has {xs.shape[1]} channels but the kernel expects {w.shape[1]}")
    if padding != "valid":  # pad explicitly: the same split as torch's padding="same"
        xs = F.pad(xs, _pad_sizes(w.shape[-1], padding), mode="circular" if padding == "circular" else "constant")
    out = F.conv1d(xs, w)
    return out.squeeze(1) if kernel.dim() == 1 else out


def shift(x: Tensor, s: int, *, circular: bool = True) -> Tensor:
    """Translate signals by ``s`` positions to the right along the last dimension.

    With ``circular=True`` what leaves at one end comes back at the other (``torch.roll``);
    otherwise zeros enter and what leaves is lost.

    Parameters
    ----------
    x : Tensor of shape (..., L)
    s : int, ``-L <= s <= L``

    Examples
    --------
    >>> shift(torch.tensor([1.0, 2.0, 3.0]), 1, circular=False)
    tensor([0., 1., 2.])
    """
    check_tensor("x", x)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension (the signal), but got a scalar")
    L = x.shape[-1]
    s = check_int("s", s, low=-L, high=L)
    if circular:
        return torch.roll(x, s, dims=-1)
    out = torch.zeros_like(x)
    if s >= 0:
        out[..., s:] = x[..., : L - s]
    else:
        out[..., : L + s] = x[..., -s:]
    return out


def conv_parameter_count(k: int, c_in: int = 1, c_out: int = 1, *, bias: bool = True) -> int:
    """Free parameters of a 1-D convolution layer: ``c_out * c_in * k`` (+ ``c_out`` biases)."""
    k, c_in, c_out = (check_int(n, v, low=1) for n, v in (("k", k), ("c_in", c_in), ("c_out", c_out)))
    return c_out * c_in * k + (c_out if bias else 0)


def dense_parameter_count(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """Free parameters of an untied dense layer: ``out * in`` (+ ``out`` biases)."""
    in_features = check_int("in_features", in_features, low=1)
    out_features = check_int("out_features", out_features, low=1)
    return out_features * in_features + (out_features if bias else 0)


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


# ----------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------


def _random_problem(seed: int, *, c_in=2, c_out=3, k=5, length=17, n=4):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, k, generator=g, dtype=torch.float64)
    x = torch.randn(n, c_in, length, generator=g, dtype=torch.float64)
    return w, x


@derivation(
    "PS-1",
    chapter="parameter_sharing",
    claim="A 1-D convolution equals a dense layer whose weight matrix ties the kernel along its diagonals (Toeplitz).",
)
def check_conv_equals_tied_dense(*, padding: str = "same", seed: int = 0) -> Check:
    """PS-1: ``conv1d_as_matrix(w) @ x`` (our index loop) vs ``F.conv1d`` (torch), float64."""
    check_choice("padding", padding, PADDINGS)
    w, x = _random_problem(seed)
    n, c_in, L = x.shape
    dense = x.reshape(n, -1) @ conv1d_as_matrix(w, L, padding=padding).T
    conv = conv1d_reference(x, w, padding=padding).reshape(n, -1)
    return compare(
        "PS-1",
        conv,
        dense,
        atol=1e-10,
        analytic_label=f"F.conv1d ({padding})",
        empirical_label="dense layer, tied Toeplitz matrix",
        note=f"{n} signals, {c_in} -> {w.shape[0]} channels, kernel {w.shape[-1]}, length {L}",
    )


def check_shared_gradient_is_sum(*, seed: int = 0) -> Check:
    """The gradient of a tied weight is the sum of the gradients of its copies (autograd twice).

    Autograd through ``F.conv1d`` gives dL/dw directly; autograd through the *untied* dense
    matrix gives dL/dM, whose entries are then summed over the positions where each kernel
    entry is copied.
    """
    w, x = _random_problem(seed)
    n, c_in, L = x.shape
    target = torch.randn(n, w.shape[0], L, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    wt = w.clone().requires_grad_(True)
    ((conv1d_reference(x, wt, padding="same") - target) ** 2).sum().backward()
    M = conv1d_as_matrix(w, L, padding="same").requires_grad_(True)
    (((x.reshape(n, -1) @ M.T).reshape(n, w.shape[0], L) - target) ** 2).sum().backward()
    # Which kernel entry sits at each matrix position: build the matrix of one-hot kernels.
    summed = torch.zeros_like(w)
    for idx in torch.cartesian_prod(*(torch.arange(s) for s in w.shape)):
        one_hot = torch.zeros_like(w)
        one_hot[tuple(idx)] = 1.0
        summed[tuple(idx)] = (conv1d_as_matrix(one_hot, L, padding="same") * M.grad).sum()
    return compare(
        "PS-1",
        wt.grad,
        summed,
        atol=1e-10,
        analytic_label="autograd dL/dw (conv)",
        empirical_label="sum of dL/dM over tied copies",
    )


@derivation(
    "PS-2",
    chapter="parameter_sharing",
    claim="Convolution is translation equivariant: with circular padding, shifting then convolving equals convolving then shifting, exactly.",
)
def check_equivariance_circular(*, seed: int = 0) -> Check:
    """PS-2: ``conv(shift(x, s))`` vs ``shift(conv(x), s)`` for every shift ``s``, circular padding."""
    w, x = _random_problem(seed)
    L = x.shape[-1]
    shifts = range(-L + 1, L)
    y = conv1d_reference(x, w, padding="circular")
    conv_then_shift = torch.stack([shift(y, s) for s in shifts])
    shifted = torch.stack([shift(x, s) for s in shifts])  # (shifts, n, C_in, L): one conv for all
    shift_then_conv = conv1d_reference(shifted.flatten(0, 1), w, padding="circular").reshape(conv_then_shift.shape)
    return compare(
        "PS-2",
        conv_then_shift,
        shift_then_conv,
        atol=1e-12,
        analytic_label="shift(conv(x))",
        empirical_label="conv(shift(x))",
        note=f"all {len(shifts)} shifts of {x.shape[0]} signals of length {L}, circular padding",
    )


def check_equivariance_zero_padding(s: int, *, seed: int = 0) -> tuple[Check, Tensor]:
    """PS-2 with zero padding: equal away from the borders, different within ``k - 1`` of them.

    Parameters
    ----------
    s : int
        The shift (zeros enter, what leaves is lost).

    Returns
    -------
    (Check, Tensor)
        The check on the positions at least ``k - 1`` away from both ends of the shifted
        window (where equality must hold exactly), and a boolean mask of shape (L,) of the
        positions where the two sides differ in at least one signal.
    """
    w, x = _random_problem(seed)
    L, k = x.shape[-1], w.shape[-1]
    s = check_int("s", s, low=-L + 1, high=L - 1)
    a = shift(conv1d_reference(x, w, padding="same"), s, circular=False)
    b = conv1d_reference(shift(x, s, circular=False), w, padding="same")
    lo, hi = max(s, 0) + k - 1, L + min(s, 0) - (k - 1)
    interior = torch.zeros(L, dtype=torch.bool)
    interior[lo:max(hi, lo)] = True
    differs = ((a - b).abs() > 1e-12).any(dim=(0, 1))
    check = compare(
        "PS-2",
        a[..., interior],
        b[..., interior],
        atol=1e-12,
        analytic_label="shift(conv(x)) interior",
        empirical_label="conv(shift(x)) interior",
        note=f"zero padding, shift {s}: {int(differs.sum())} of {L} positions differ, all within {k - 1} of an edge of the shifted window",
    )
    return check, differs


experiment(
    "PS-3",
    chapter="parameter_sharing",
    claim="On MNIST-1D a small CNN (tied weights, ~5k parameters) beats an MLP with ~3x more parameters in test accuracy.",
)
