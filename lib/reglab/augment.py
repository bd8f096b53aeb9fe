"""Dataset augmentation for MNIST-1D signals and 8x8 digits (lecture: "Dataset augmentation").

Every function takes a batch whose *last* dimension holds one example (a signal of length
``L``, or an image flattened to ``H*W`` pixels) and any number of leading dimensions, so the
same call works on a data set ``(n, d)`` and on the stacked minibatches ``(M, b, d)`` that
:func:`reglab.training.fit_stacked` passes to its ``transform`` hook. Random transformations
draw one parameter per example from an explicit ``generator``.

Two kinds are provided, as the lecture warns ("be careful in what transformations you apply"):

- *label-preserving*: :func:`random_shift`, :func:`random_scale`, :func:`random_ramp` (the
  nuisances MNIST-1D's own generator applies), :func:`random_image_shift`,
  :func:`random_rotation` (small angles);
- *label-changing*: :func:`negate` (in MNIST-1D it turns a 0 into a 6, a 1 into a 7, a 3 into
  an 8) and :func:`reverse` for signals, :func:`rotate180` for digits (a 6 becomes a 9).

:func:`apply_randomly` applies a transformation to a random fraction of a batch and
:func:`augmentation_transform` turns transformations into a ``fit_stacked`` transform, one per
member if wanted.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import all_finite, check_int, check_real, check_tensor, rand_like_device, randint_like_device, randn_like_device

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


def _check_batch(name: str, x) -> Tensor:
    check_tensor(name, x, floating=True)
    if x.dim() < 1:
        raise ValueError(f"{name} must have at least 1 dimension (examples on the last), but got a scalar")
    return x


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
    _check_batch("x", x)
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
    _check_batch("x", x)
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
    _check_batch("x", x)
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
    _check_batch("x", x)
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
    return -_check_batch("x", x)


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
    return torch.flip(_check_batch("x", x), dims=(-1,))


# ----------------------------------------------------------------------------- images
def _as_images(name: str, x: Tensor, image_shape) -> tuple[Tensor, tuple[int, int]]:
    _check_batch(name, x)
    if len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), but got {image_shape!r}")
    h = check_int("image_shape[0]", image_shape[0], low=1)
    w = check_int("image_shape[1]", image_shape[1], low=1)
    if x.shape[-1] != h * w:
        raise ValueError(
            f"{name} must hold {h}*{w}={h * w} pixels on its last dimension, but got {x.shape[-1]}"
        )
    return x.reshape(-1, h, w), (h, w)


def shift_images(x: Tensor, rows, cols, *, image_shape: Sequence[int] = (8, 8)) -> Tensor:
    """Shift flattened images by whole pixels, filling with zeros (the digits' background).

    Parameters
    ----------
    x : Tensor of shape (..., H*W)
    rows, cols : int or LongTensor of shape x.shape[:-1]
        Shift down (rows > 0) and to the right (cols > 0).
    image_shape : (H, W)

    Returns
    -------
    Tensor of shape (..., H*W)

    Examples
    --------
    >>> img = torch.zeros(1, 9); img[0, 4] = 1.0          # centre pixel of a 3x3 image
    >>> shift_images(img, 1, 0, image_shape=(3, 3)).reshape(3, 3)[2, 1].item()
    1.0
    """
    imgs, (h, w) = _as_images("x", x, image_shape)
    lead = x.shape[:-1]
    rows = torch.as_tensor(rows).expand(lead).reshape(-1, 1, 1)
    cols = torch.as_tensor(cols).expand(lead).reshape(-1, 1, 1)
    for name, s in (("rows", rows), ("cols", cols)):
        if s.is_floating_point() or s.dtype == torch.bool:
            raise TypeError(f"{name} must be integers, but got dtype {s.dtype}")
    rows, cols = rows.to(x.device), cols.to(x.device)
    r = torch.arange(h, device=x.device).view(1, h, 1) - rows
    c = torch.arange(w, device=x.device).view(1, 1, w) - cols
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    flat = (r.clamp(0, h - 1) * w + c.clamp(0, w - 1)).expand(imgs.shape[0], h, w).reshape(imgs.shape[0], -1)
    out = torch.gather(imgs.reshape(imgs.shape[0], -1), 1, flat) * inside.reshape(inside.shape[0], -1)
    return out.reshape(x.shape)


def random_image_shift(
    x: Tensor,
    *,
    max_shift: int = 1,
    image_shape: Sequence[int] = (8, 8),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Shift each image by whole pixels drawn uniformly from [-max_shift, max_shift] in each axis.

    Parameters
    ----------
    x : Tensor of shape (..., H*W)
    max_shift : int >= 0
    image_shape : (H, W)
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (..., H*W)

    Examples
    --------
    >>> random_image_shift(torch.rand(4, 64), max_shift=1).shape
    torch.Size([4, 64])
    """
    _as_images("x", x, image_shape)
    max_shift = check_int("max_shift", max_shift, low=0)
    rows = randint_like_device(-max_shift, max_shift + 1, x.shape[:-1], like=x, generator=generator)
    cols = randint_like_device(-max_shift, max_shift + 1, x.shape[:-1], like=x, generator=generator)
    return shift_images(x, rows, cols, image_shape=image_shape)


def rotate_images(x: Tensor, degrees, *, image_shape: Sequence[int] = (8, 8)) -> Tensor:
    """Rotate flattened images about their centre (bilinear interpolation, zero background).

    Parameters
    ----------
    x : Tensor of shape (..., H*W)
    degrees : float or Tensor of shape x.shape[:-1]
        Counter-clockwise angle of each image.
    image_shape : (H, W)

    Returns
    -------
    Tensor of shape (..., H*W)

    Notes
    -----
    Uses ``torch.nn.functional.affine_grid`` and ``grid_sample`` (``align_corners=False``, so
    pixel centres map to pixel centres): a rotation by 180 degrees equals :func:`rotate180`.

    Examples
    --------
    >>> x = torch.rand(2, 64, dtype=torch.float64)
    >>> torch.allclose(rotate_images(x, 180.0), rotate180(x))
    True
    """
    imgs, (h, w) = _as_images("x", x, image_shape)
    degrees = torch.as_tensor(degrees, dtype=x.dtype, device=x.device)
    if not all_finite(degrees):
        raise ValueError("degrees must be finite, but some are NaN or inf")
    theta = torch.deg2rad(degrees.expand(x.shape[:-1]).reshape(-1))
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    # The grid gives, for each output pixel, where to read the input: the inverse rotation.
    # Image rows grow downwards, so a counter-clockwise turn on screen is this matrix.
    rows = [torch.stack([cos, -sin * h / w, zero], -1), torch.stack([sin * w / h, cos, zero], -1)]
    affine = torch.stack(rows, -2)
    grid = F.affine_grid(affine, (imgs.shape[0], 1, h, w), align_corners=False)
    out = F.grid_sample(imgs.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(x.shape)


def random_rotation(
    x: Tensor,
    *,
    max_degrees: float = 15.0,
    image_shape: Sequence[int] = (8, 8),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rotate each image by an angle drawn uniformly from [-max_degrees, max_degrees].

    Parameters
    ----------
    x : Tensor of shape (..., H*W)
    max_degrees : float in [0, 180]
    image_shape : (H, W)
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (..., H*W)

    Notes
    -----
    Small angles keep the digit's identity (people do not write perfectly upright); large
    ones do not (:func:`rotate180` turns a 6 into a 9).

    Examples
    --------
    >>> random_rotation(torch.rand(3, 64), max_degrees=10.0).shape
    torch.Size([3, 64])
    """
    _as_images("x", x, image_shape)
    max_degrees = check_real("max_degrees", max_degrees, low=0.0, high=180.0)
    angles = (2 * rand_like_device(x.shape[:-1], like=x, generator=generator) - 1) * max_degrees
    return rotate_images(x, angles, image_shape=image_shape)


def rotate180(x: Tensor, *, image_shape: Sequence[int] = (8, 8)) -> Tensor:
    """Turn images upside down (rotation by 180 degrees): a 6 becomes a 9, so **not** label-preserving.

    Parameters
    ----------
    x : Tensor of shape (..., H*W)
    image_shape : (H, W)

    Returns
    -------
    Tensor of shape (..., H*W)

    Examples
    --------
    >>> rotate180(torch.arange(4.0).reshape(1, 4), image_shape=(2, 2))
    tensor([[3., 2., 1., 0.]])
    """
    imgs, _ = _as_images("x", x, image_shape)
    return torch.flip(imgs, dims=(-2, -1)).reshape(x.shape)


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
    _check_batch("x", x)
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

