"""Dataset augmentation for 8x8 digit images, flattened to 64 pixels (lecture: "Dataset augmentation").

As in :mod:`reglab.augment`, every function takes a batch whose *last* dimension holds one
example (an image flattened to ``H*W`` pixels, row by row) and any number of leading
dimensions, and random transformations draw one parameter per image from an explicit
``generator``.

- *label-preserving*: :func:`random_image_shift` (whole pixels), :func:`random_rotation` (small
  angles), built on :func:`shift_images` and :func:`rotate_images`;
- *label-changing*: :func:`rotate180` (a 6 becomes a 9).

The functions are also importable from :mod:`reglab.augment`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import all_finite, check_batch, check_int, check_real, rand_like_device, randint_like_device

__all__ = [
    "shift_images",
    "random_image_shift",
    "rotate_images",
    "random_rotation",
    "rotate180",
]


def _as_images(name: str, x: Tensor, image_shape) -> tuple[Tensor, tuple[int, int]]:
    check_batch(name, x)
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
