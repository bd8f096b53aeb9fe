"""Dataset augmentation for MNIST-1D signals and 8x8 digits (lecture: "Dataset augmentation").

Every function takes a batch whose *last* dimension holds one example (a signal of length
``L``, or an image flattened to ``H*W`` pixels) and any number of leading dimensions, so the
same call works on a data set ``(n, d)`` and on the stacked minibatches ``(M, b, d)`` that
:func:`reglab.training.fit_stacked` passes to its ``transform`` hook. Random transformations
draw one parameter per example from an explicit ``generator``.

Two kinds are provided, as the lecture warns ("be careful in what transformations you apply"):

- *label-preserving*: :func:`random_shift`, :func:`random_scale`, :func:`random_ramp` (the
  nuisances MNIST-1D's own generator applies), :func:`~reglab.augment_images.random_image_shift`,
  :func:`~reglab.augment_images.random_rotation` (small angles);
- *label-changing*: :func:`negate` (in MNIST-1D it turns a 0 into a 6, a 1 into a 7, a 3 into
  an 8) and :func:`reverse` for signals, :func:`~reglab.augment_images.rotate180` for digits (a 6 becomes a 9).

:func:`apply_randomly` applies a transformation to a random fraction of a batch and
:func:`augmentation_transform` turns transformations into a ``fit_stacked`` transform, one per
member if wanted. The image transformations live in ``reglab.augment_images`` and are
importable from here too.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from ._validation import check_batch, check_int, check_real, rand_like_device, randint_like_device
from .augment_images import random_image_shift, random_rotation, rotate180, rotate_images, shift_images

__all__ = [
    "shift_signals",
    "random_shift",
    "random_scale",
    "random_ramp",
    "negate",
    "reverse",
    "shift_images",
    "random_image_shift",
    "rotate_images",
    "random_rotation",
    "rotate180",
    "apply_randomly",
    "augmentation_transform",
]

_MODES = ("circular", "zero")


def _per_example(x: Tensor, n_dims: int = 1) -> tuple[int, ...]:
    """Shape of one random parameter per example, broadcastable against ``x``."""
    return tuple(x.shape[: x.dim() - n_dims]) + (1,) * n_dims


# ----------------------------------------------------------------------------- signals
def shift_signals(x: Tensor, shifts, *, mode: str = "circular") -> Tensor:
    """Shift signals in time by whole samples (positive = to the right).

    Parameters
    ----------
    x : Tensor of shape (..., L)
    shifts : int or LongTensor of shape x.shape[:-1]
        Shift of each signal.
    mode : {"circular", "zero"}
        ``"circular"`` wraps samples around (like ``torch.roll``; MNIST-1D's generator
        translates circularly); ``"zero"`` fills the vacated samples with zeros.

    Returns
    -------
    Tensor of shape (..., L)

    Examples
    --------
    >>> shift_signals(torch.tensor([[1., 2., 3., 4.]]), 1)
    tensor([[4., 1., 2., 3.]])
    >>> shift_signals(torch.tensor([[1., 2., 3., 4.]]), -1, mode="zero")
    tensor([[2., 3., 4., 0.]])
    """
    check_batch("x", x)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of 'circular', 'zero', but got {mode!r}")
    L = x.shape[-1]
    shifts = torch.as_tensor(shifts)
    if shifts.is_floating_point() or shifts.dtype == torch.bool:
        raise TypeError(f"shifts must be integers, but got dtype {shifts.dtype}")
    shifts = shifts.expand(x.shape[:-1]).unsqueeze(-1)
    shifts = shifts.to(x.device)
    source = torch.arange(L, device=x.device) - shifts  # sample t of the output comes from t - shift
    if mode == "circular":
        return torch.gather(x, -1, source.remainder(L).expand(x.shape))
    inside = (source >= 0) & (source < L)
    out = torch.gather(x, -1, source.clamp(0, L - 1).expand(x.shape))
    return out * inside


def random_shift(
    x: Tensor, *, max_shift: int, mode: str = "circular", generator: torch.Generator | None = None
) -> Tensor:
    """Shift each signal by a whole number of samples drawn uniformly from [-max_shift, max_shift].

    Parameters
    ----------
    x : Tensor of shape (..., L)
    max_shift : int >= 0
    mode : {"circular", "zero"}
        See :func:`shift_signals`.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (..., L)

    Notes
    -----
    Label-preserving for MNIST-1D: its generator places each template at a random circular
    offset (Greydanus 2020), so a shifted signal is another plausible sample of the same digit.

    Examples
    --------
    >>> x = torch.randn(5, 40)
    >>> random_shift(x, max_shift=3, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([5, 40])
    """
    check_batch("x", x)
    max_shift = check_int("max_shift", max_shift, low=0)
    shifts = randint_like_device(-max_shift, max_shift + 1, x.shape[:-1], like=x, generator=generator)
    return shift_signals(x, shifts, mode=mode)


def random_scale(
    x: Tensor, *, low: float = 0.8, high: float = 1.2, generator: torch.Generator | None = None
) -> Tensor:
    """Multiply each example by a factor drawn uniformly from [low, high].

    Parameters
    ----------
    x : Tensor of shape (..., d)
    low, high : float, 0 < low <= high
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (..., d)

    Notes
    -----
    MNIST-1D's generator scales each template by a factor in [0.8, 1.2], so this range is
    label-preserving there. Negative factors are refused: they would flip the signal
    (see :func:`negate`).

    Examples
    --------
    >>> y = random_scale(torch.ones(3, 4), low=2.0, high=2.0)
    >>> bool((y == 2).all())
    True
    """
    check_batch("x", x)
    low = check_real("low", low, low=0.0, low_open=True)
    high = check_real("high", high, low=0.0, low_open=True)
    if high < low:
        raise ValueError(f"high must be >= low, but got low={low} and high={high}")
    u = rand_like_device(_per_example(x), like=x, generator=generator)
    return x * (low + (high - low) * u)


def random_ramp(x: Tensor, *, max_slope: float, generator: torch.Generator | None = None) -> Tensor:
    """Add a linear ramp ``c * t`` with t in [-1/2, 1/2] and c uniform in [-max_slope, max_slope].

    Parameters
    ----------
    x : Tensor of shape (..., L)
    max_slope : float >= 0
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (..., L)

    Notes
    -----
    MNIST-1D's generator "shears" every signal this way with c uniform in [-0.375, 0.375].

    Examples
    --------
    >>> random_ramp(torch.zeros(1, 3), max_slope=0.0)
    tensor([[0., 0., 0.]])
    """
    check_batch("x", x)
    max_slope = check_real("max_slope", max_slope, low=0.0)
    c = (2 * rand_like_device(_per_example(x), like=x, generator=generator) - 1) * max_slope
    t = torch.linspace(-0.5, 0.5, x.shape[-1], dtype=x.dtype, device=x.device)
    return x + c * t


def negate(x: Tensor) -> Tensor:
    """Flip signals upside down, ``-x``: **not** label-preserving for MNIST-1D.

    Parameters
    ----------
    x : Tensor of shape (..., L)

    Returns
    -------
    Tensor of shape (..., L)

    Notes
    -----
    MNIST-1D's templates come in mirror pairs about their baseline: the template of 6 is the
    template of 0 upside down, and likewise 7 of 1 and 8 of 3. Negating a 0 therefore makes a
    plausible 6: the 1-D analogue of rotating a handwritten 6 into a 9.

    Examples
    --------
    >>> negate(torch.tensor([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    return -check_batch("x", x)


def reverse(x: Tensor) -> Tensor:
    """Reverse signals in time: not label-preserving in general (a 1 read backwards is no 1).

    Parameters
    ----------
    x : Tensor of shape (..., L)

    Returns
    -------
    Tensor of shape (..., L)

    Examples
    --------
    >>> reverse(torch.tensor([1.0, 2.0, 3.0]))
    tensor([3., 2., 1.])
    """
    return torch.flip(check_batch("x", x), dims=(-1,))


# ----------------------------------------------------------------------------- batches
def apply_randomly(
    fn: Callable[[Tensor], Tensor], x: Tensor, prob: float, *, generator: torch.Generator | None = None
) -> Tensor:
    """Apply ``fn`` to each example independently with probability ``prob``, keep the rest.

    Parameters
    ----------
    fn : callable
        Maps a batch (..., d) to a batch of the same shape.
    x : Tensor of shape (..., d)
    prob : float in [0, 1]
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (..., d)

    Notes
    -----
    A label-changing transformation does its damage only when applied to *part* of the data:
    if every training signal is negated, the network simply learns the negated classes.

    Examples
    --------
    >>> x = torch.ones(4, 2)
    >>> bool((apply_randomly(negate, x, 1.0) == -1).all())
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, but got {type(fn).__name__}")
    check_batch("x", x)
    prob = check_real("prob", prob, low=0.0, high=1.0)
    chosen = rand_like_device(_per_example(x), like=x, generator=generator, dtype=torch.get_default_dtype()) < prob
    return torch.where(chosen, fn(x), x)


def augmentation_transform(augment) -> Callable:
    """A ``transform`` for :func:`reglab.training.fit_stacked` that augments the inputs.

    Parameters
    ----------
    augment : callable or sequence of (callable or None)
        One function ``x -> x`` applied to the whole minibatch (M, b, d), or one per member
        (length M; ``None`` leaves that member's data unchanged), so that a single stacked run
        compares several augmentations.

    Returns
    -------
    callable
        ``transform(xb, yb, model) -> (augmented xb, yb)``.

    Examples
    --------
    >>> from functools import partial
    >>> g = torch.Generator().manual_seed(0)
    >>> t = augmentation_transform([None, partial(random_shift, max_shift=2, generator=g)])
    >>> xb, yb = t(torch.randn(2, 8, 40), torch.zeros(2, 8, dtype=torch.long), None)
    >>> xb.shape
    torch.Size([2, 8, 40])
    """
    if callable(augment):
        def transform(xb, yb, model):
            return augment(xb), yb

        return transform
    if isinstance(augment, (str, bytes)) or not isinstance(augment, Sequence) or len(augment) == 0:
        raise TypeError(
            f"augment must be a callable or a non-empty sequence of callables, but got {augment!r}"
        )
    for i, fn in enumerate(augment):
        if fn is not None and not callable(fn):
            raise TypeError(f"augment[{i}] must be callable or None, but got {type(fn).__name__}")
    members = list(augment)

    def per_member(xb, yb, model):
        if xb.dim() < 3 or xb.shape[0] != len(members):
            raise ValueError(
                f"augment lists {len(members)} functions, one per member, "
                f"but the minibatch has shape {tuple(xb.shape)}"
            )
        return torch.stack([x if fn is None else fn(x) for fn, x in zip(members, xb)]), yb

    return per_member
