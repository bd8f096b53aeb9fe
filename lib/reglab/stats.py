"""Means with confidence intervals for multi-seed experiments."""
from __future__ import annotations

import math

import numpy as np

from ._lazy import lazy_module
from ._validation import check_real

_special = lazy_module("scipy.special")

__all__ = ["mean_ci", "format_ci"]


def _as_values(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"values must be an array of numbers (one per seed), but got {type(values).__name__} {values!r:.60}") from exc


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean.

    Parameters
    ----------
    values : array-like of shape (n,), n >= 2
        One measurement per seed.
    confidence : float in (0, 1)

    Returns
    -------
    (mean, half_width) : tuple of float
        The interval is ``mean +- half_width``.

    Examples
    --------
    >>> m, h = mean_ci([1.0, 2.0, 3.0])
    >>> round(m, 3), round(h, 3)
    (2.0, 2.484)
    """
    confidence = check_real("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    a = _as_values(values)
    if a.size < 2:
        raise ValueError(f"values must hold at least 2 measurements, but got {a.size}")
    if not np.isfinite(a).all():
        raise ValueError("values must be finite, but some are NaN or inf")
    half = _special.stdtrit(a.size - 1, 0.5 + confidence / 2) * a.std(ddof=1) / math.sqrt(a.size)
    return float(a.mean()), float(half)


def format_ci(values, *, scale: float = 100.0, digits: int = 1, unit: str = " %") -> str:
    """``"mean +- half-width"`` of a 95 % interval, e.g. accuracies as ``"91.3 +- 0.4 %"``.

    Parameters
    ----------
    values : array-like
        One measurement per seed.
    scale : float
        Multiplier before printing (100 for fractions shown as percentages).
    digits : int
        Decimals printed.
    unit : str
        Appended to the text.

    Returns
    -------
    str
        The mean and the half-width of :func:`mean_ci`, scaled, joined by a ``±`` sign.

    Examples
    --------
    >>> format_ci([0.91, 0.92, 0.93, 0.90, 0.94])
    '92.0 ± 2.0 %'
    """
    scale = check_real("scale", scale)
    m, h = mean_ci(_as_values(values) * scale)
    return f"{m:.{digits}f} ± {h:.{digits}f}{unit}"
