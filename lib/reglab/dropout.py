"""Dropout with the lecture's keep probability (lecture: "Dropout").

The lecture (after Srivastava et al. 2014) writes a dropout mask as ``r ~ Bernoulli(p)`` with
``p`` the probability of *keeping* a unit; PyTorch's ``nn.Dropout(p)`` takes the probability of
*dropping* it. Here the argument is called ``keep_prob`` so that the convention is in the name:
``Dropout(keep_prob)`` behaves like ``torch.nn.Dropout(p=1 - keep_prob)``.

Besides the regulariser itself, the module enumerates all ``2**n`` masks of ``n`` units with
their probabilities, so that the average of a network over every sub-network (the ensemble
that weight scaling approximates) can be computed exactly for small ``n``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ._validation import check_choice, check_int, check_real, check_tensor

__all__ = ["dropout", "Dropout", "enumerate_masks", "mask_probabilities", "ensemble_mean"]

_SCALINGS = ("inverted", "test-time")
_MEANS = ("arithmetic", "geometric")
#: Largest number of units whose 2**n masks :func:`enumerate_masks` will list.
MAX_ENUMERATED_UNITS = 22


def _check_keep_prob(keep_prob) -> float:
    return check_real("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)


def _check_options(keep_prob, scaling) -> tuple[float, str]:
    return _check_keep_prob(keep_prob), check_choice("scaling", scaling, _SCALINGS)


def dropout(
    x: Tensor,
    keep_prob: float,
    *,
    training: bool = True,
    scaling: str = "inverted",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Multiply every entry of ``x`` by an independent Bernoulli(keep_prob) mask.

    Parameters
    ----------
    x : Tensor of any shape, floating point
        Activations (or inputs) of a layer.
    keep_prob : float in (0, 1]
        Probability ``p`` that a unit is kept (the lecture's p; PyTorch's ``p`` is ``1 - keep_prob``).
    training : bool
        Draw a mask (True) or return the deterministic test-time output (False).
    scaling : {"inverted", "test-time"}
        Where the factor ``p`` goes. ``"inverted"``: kept units are multiplied by ``1/p`` while
        training and the layer is the identity at test time (what PyTorch does).
        ``"test-time"``: the lecture's rule: no scaling while training, outputs multiplied by
        ``p`` at test time (equivalently, the next layer's weights scaled by ``p``).
    generator : torch.Generator, optional
        Source of the mask; the global generator if omitted.

    Returns
    -------
    Tensor of the shape and dtype of ``x``

    Notes
    -----
    With ``r_i ~ Bernoulli(p)`` independently, training computes ``r * x`` (test-time scaling)
    or ``r * x / p`` (inverted). Both have the expectation of their test-time output,
    ``E[r x] = p x`` and ``E[r x / p] = x`` (lecture, "At test time"; Srivastava et al. 2014,
    eq. (1)-(4)). The mask is drawn with one ``bernoulli_`` call and applied with one multiply,
    as ``torch.nn.functional.dropout`` does on the CPU.

    Examples
    --------
    >>> x = torch.ones(2, 4)
    >>> y = dropout(x, 0.5, generator=torch.Generator().manual_seed(0))
    >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    >>> dropout(x, 0.5, training=False, scaling="test-time")[0]
    tensor([0.5000, 0.5000, 0.5000, 0.5000])
    """
    check_tensor("x", x, floating=True)
    keep_prob, scaling = _check_options(keep_prob, scaling)
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, but got {type(training).__name__} {training!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, but got {type(generator).__name__}")
    if not training:
        return x if scaling == "inverted" or keep_prob == 1.0 else x * keep_prob
    if keep_prob == 1.0:
        return x
    if generator is None or generator.device == x.device:
        mask = torch.empty_like(x).bernoulli_(keep_prob, generator=generator)
    else:  # a generator draws on its own device (a CPU generator for a CUDA tensor, say)
        mask = torch.empty(x.shape, dtype=x.dtype, device=generator.device).bernoulli_(keep_prob, generator=generator)
        mask = mask.to(x.device)
    if scaling == "inverted":
        mask.div_(keep_prob)
    return x * mask


class Dropout(nn.Module):
    """Dropout as a layer, with the lecture's keep probability.

    Parameters
    ----------
    keep_prob : float in (0, 1]
        Probability that a unit is kept. ``Dropout(keep_prob)`` matches
        ``torch.nn.Dropout(p=1 - keep_prob)`` for ``scaling="inverted"``.
    scaling : {"inverted", "test-time"}
        See :func:`dropout`.
    generator : torch.Generator, optional
        Source of the masks; the global generator if omitted.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the shape of the input.

    Examples
    --------
    >>> layer = Dropout(0.8)
    >>> layer
    Dropout(keep_prob=0.8, scaling='inverted')
    >>> layer.eval()(torch.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, keep_prob: float, *, scaling: str = "inverted", generator: torch.Generator | None = None):
        super().__init__()
        self.keep_prob, self.scaling = _check_options(keep_prob, scaling)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, but got {type(generator).__name__}")
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.keep_prob, training=self.training, scaling=self.scaling, generator=self.generator)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob:g}, scaling={self.scaling!r}"


def enumerate_masks(n: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """All ``2**n`` dropout masks of ``n`` units, one per row.

    Parameters
    ----------
    n : int in [0, 22]
        Number of units.
    dtype : torch.dtype

    Returns
    -------
    Tensor of shape (2**n, n)
        Row ``k`` holds the binary digits of ``k`` (unit 0 is the most significant digit), so
        the first row drops every unit and the last keeps every unit.

    Examples
    --------
    >>> enumerate_masks(2).tolist()
    [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    n = check_int("n", n, low=0, high=MAX_ENUMERATED_UNITS)
    return _masks(n, 0, 2**n, dtype=dtype, device=None)


def _masks(n: int, start: int, stop: int, *, dtype, device) -> Tensor:
    """Rows ``start .. stop - 1`` of :func:`enumerate_masks` (only these are built)."""
    codes = torch.arange(start, stop, device=device).unsqueeze(1)
    shifts = torch.arange(n - 1, -1, -1, device=device)
    return ((codes >> shifts) & 1).to(dtype)


def mask_probabilities(masks: Tensor, keep_prob: float) -> Tensor:
    """Probability of each mask when every unit is kept independently with ``keep_prob``.

    Parameters
    ----------
    masks : Tensor of shape (m, n) with entries 0 or 1
    keep_prob : float in (0, 1]

    Returns
    -------
    Tensor of shape (m,), float64
        ``p**k (1 - p)**(n - k)`` with ``k`` the number of kept units of the row; over all
        ``2**n`` masks these sum to 1.

    Examples
    --------
    >>> mask_probabilities(enumerate_masks(2), 0.75).tolist()
    [0.0625, 0.1875, 0.1875, 0.5625]
    """
    check_tensor("masks", masks, ndim=2)
    keep_prob = _check_keep_prob(keep_prob)
    if not ((masks == 0) | (masks == 1)).all():
        raise ValueError("masks must contain only 0 and 1")
    kept = masks.to(torch.float64).sum(1)
    dropped = masks.shape[1] - kept
    # 0**0 = 1 makes keep_prob = 1 give probability one to the all-ones mask.
    keep = torch.tensor(keep_prob, dtype=torch.float64, device=masks.device)
    return torch.float_power(keep, kept) * torch.float_power(1 - keep, dropped)


def ensemble_mean(
    fn: Callable[[Tensor], Tensor],
    num_units: int,
    keep_prob: float,
    *,
    mean: str = "arithmetic",
    chunk_size: int = 4096,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Exact average of a network's output over all ``2**num_units`` dropout masks.

    Parameters
    ----------
    fn : callable
        ``fn(masks)`` maps masks of shape (m, num_units) to outputs of shape (m, ...): the
        network with its droppable units multiplied by the mask (no rescaling).
    num_units : int in [0, 22]
        Number of droppable units ``n``.
    keep_prob : float in (0, 1]
    mean : {"arithmetic", "geometric"}
        ``"arithmetic"``: ``sum_r P(r) fn(r)``, the expected output. ``"geometric"``: ``fn``
        returns class probabilities (last dimension); the result is the weighted geometric mean
        ``prod_r fn(r)**P(r)`` renormalised over the last dimension (Hinton et al. 2012).
    chunk_size : int
        Masks evaluated per call of ``fn`` (bounds the memory).
    dtype : torch.dtype, optional
        Dtype of the masks passed to ``fn`` and of the result: that of the network. Default
        ``torch.get_default_dtype()`` (float32 unless changed), as for a freshly built
        ``nn.Module``; pass ``torch.float64`` for a float64 network.
    device : torch.device, optional
        Device of the masks passed to ``fn`` (that of the network; default CPU).

    Returns
    -------
    Tensor of the shape of one output of ``fn``, ``fn(masks).shape[1:]``

    Notes
    -----
    Dropout trains the ``2**n`` sub-networks that share the weights (lecture, "Dropout and
    bagging"); at test time weight scaling replaces this average by one pass with the
    expected mask ``p``. The enumeration lets one measure how good that replacement is.

    Examples
    --------
    >>> w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    >>> ensemble_mean(lambda r: r @ w, 3, 0.5, dtype=torch.float64).item()  # = 0.5 * (1 + 2 + 3)
    3.0
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, but got {type(fn).__name__}")
    num_units = check_int("num_units", num_units, low=0, high=MAX_ENUMERATED_UNITS)
    keep_prob = _check_keep_prob(keep_prob)
    check_choice("mean", mean, _MEANS)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, but got {dtype!r}")
    total = None
    count = 2**num_units
    # Masks are built one chunk at a time, so memory is bounded by chunk_size, not 2**n.
    for start in range(0, count, chunk_size):
        masks = _masks(num_units, start, min(start + chunk_size, count), dtype=dtype, device=device)
        probs = mask_probabilities(masks, keep_prob).to(dtype)
        out = fn(masks)
        if not isinstance(out, Tensor) or out.dim() == 0 or out.shape[0] != masks.shape[0]:
            raise ValueError("fn(masks) must return a Tensor with one row per mask")
        out = out.to(dtype)
        if mean == "geometric":
            out = torch.log(out)
        part = torch.tensordot(probs, out, dims=1)
        total = part if total is None else total + part
    if mean == "geometric":
        return torch.softmax(total, dim=-1)
    return total
