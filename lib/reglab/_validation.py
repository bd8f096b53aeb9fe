"""Argument checks shared by the public entry points (private)."""
from __future__ import annotations

import math
import numbers

import torch

__all__: list[str] = []


def check_real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a float after checking it is a finite real in the stated range.

    The message names the argument, the accepted range and the value received, e.g.
    ``keep_prob must be in (0, 1], but got 1.5``.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, but got {type(value).__name__} {value!r}")
    value = float(value)
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
    bad = math.isnan(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if (low is None or high is None) and math.isinf(value) and not bad:
        bad = True
    if bad:
        raise ValueError(f"{name} must be in {interval}, but got {value!r}")
    return value


def check_int(name: str, value, *, low=None, high=None) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, but got {type(value).__name__} {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], but got {value}")
    return value


def check_tensor(name: str, value, *, ndim=None, floating: bool = False, finite: bool = False) -> torch.Tensor:
    """Check that ``value`` is a Tensor (of the given number of dimensions, dtype kind)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, but got {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.dim() not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimensions, but got shape {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, but got dtype {value.dtype}")
    if finite and value.is_floating_point() and not all_finite(value):
        raise ValueError(f"{name} must contain only finite values, but it contains NaN or inf")
    return value


def check_batch(name: str, x) -> torch.Tensor:
    """Check a floating-point batch whose *last* dimension holds one example (at least 1-D)."""
    check_tensor(name, x, floating=True)
    if x.dim() < 1:
        raise ValueError(f"{name} must have at least 1 dimension (examples on the last), but got a scalar")
    return x


def all_finite(value: torch.Tensor) -> bool:
    """Whether every value is finite; a meta tensor (shape only, no values) counts as finite."""
    if value.device.type == "meta":
        return True
    return bool(torch.isfinite(value).all())


def check_choice(name: str, value, choices) -> str:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, but got {value!r}")
    return value


def check_generator(name: str, generator) -> None:
    """``generator`` is None or a torch.Generator."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, but got {type(generator).__name__}")


def _draw_device(like: torch.Tensor, generator):
    # A generator draws on its own device; without one, draw where the data lives. Drawing on
    # the generator's device and moving keeps a CPU generator's stream the same for any device.
    return generator.device if generator is not None else like.device


def randn_like_device(shape, *, like: torch.Tensor, generator=None, dtype=None) -> torch.Tensor:
    """Standard normal draws of ``shape`` on ``like``'s device, in ``dtype`` (default ``like``'s)."""
    check_generator("generator", generator)
    dtype = like.dtype if dtype is None else dtype
    return torch.randn(shape, generator=generator, dtype=dtype, device=_draw_device(like, generator)).to(like.device)


def rand_like_device(shape, *, like: torch.Tensor, generator=None, dtype=None) -> torch.Tensor:
    """Uniform [0, 1) draws of ``shape`` on ``like``'s device, in ``dtype`` (default ``like``'s)."""
    check_generator("generator", generator)
    dtype = like.dtype if dtype is None else dtype
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    return torch.rand(shape, generator=generator, dtype=dtype, device=_draw_device(like, generator)).to(like.device)


def randint_like_device(low: int, high: int, shape, *, like: torch.Tensor, generator=None) -> torch.Tensor:
    """Integers uniform in [low, high) of ``shape`` (int64) on ``like``'s device."""
    check_generator("generator", generator)
    return torch.randint(low, high, shape, generator=generator, device=_draw_device(like, generator)).to(like.device)


def check_regression(X, y, w=None) -> None:
    """Check a linear regression problem: ``X`` (N, d), ``y`` (N,) and optionally ``w`` (d,).

    All floating-point, finite, of one dtype, with matching sizes.
    """
    check_tensor("X", X, ndim=2, floating=True, finite=True)
    check_tensor("y", y, ndim=1, floating=True, finite=True)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries")
    if X.dtype != y.dtype:
        raise TypeError(f"X and y must have the same dtype, but got {X.dtype} and {y.dtype}")
    if w is not None:
        check_tensor("w", w, ndim=1, floating=True, finite=True)
        if w.shape[0] != X.shape[1]:
            raise ValueError(f"w has {w.shape[0]} entries but X has {X.shape[1]} columns")
        if w.dtype != X.dtype:
            raise TypeError(f"X and w must have the same dtype, but got {X.dtype} and {w.dtype}")


#: Relative size (to the largest entry of H) below which H - H^T counts as rounding.
SYMMETRY_RTOL = 1e-10


def check_quadratic(H, w_star, *, positive_definite: bool = False) -> torch.Tensor:
    """Check a quadratic model ``J(w) = 1/2 (w - w*)^T H (w - w*)`` and return H's eigenvalues.

    ``H`` (n, n) symmetric positive semi-definite (definite with ``positive_definite``), ``w_star``
    (n,), both floating-point, finite and of one dtype. Symmetry and the sign of the eigenvalues
    are judged relative to the largest entry of H (:data:`SYMMETRY_RTOL`).
    """
    check_tensor("H", H, ndim=2, floating=True, finite=True)
    check_tensor("w_star", w_star, ndim=1, floating=True, finite=True)
    n = w_star.shape[0]
    if H.shape != (n, n):
        raise ValueError(f"H must have shape ({n}, {n}) to match w_star, but got {tuple(H.shape)}")
    if H.dtype != w_star.dtype:
        raise TypeError(f"H and w_star must have the same dtype, but got {H.dtype} and {w_star.dtype}")
    scale = max(float(H.abs().max()) if n else 0.0, 1e-300)
    if float((H - H.T).abs().max()) > SYMMETRY_RTOL * scale:
        raise ValueError(f"H must be symmetric (it is a Hessian), but H - H^T has entries above "
                         f"{SYMMETRY_RTOL:g} * max|H|")
    eig = torch.linalg.eigvalsh(H)
    if positive_definite and float(eig[0]) <= SYMMETRY_RTOL * scale:
        raise ValueError(f"H must be positive definite (w_star a strict minimum of J), but its smallest "
                         f"eigenvalue is {float(eig[0]):.3g}")
    if not positive_definite and float(eig[0]) < -SYMMETRY_RTOL * scale:
        raise ValueError(f"H must be positive semi-definite (a Hessian at a minimum), but its smallest "
                         f"eigenvalue is {float(eig[0]):.3g}")
    return eig
