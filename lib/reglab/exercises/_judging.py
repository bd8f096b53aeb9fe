"""What the judges of the chapter modules share (private): converting answers and inputs, comparing.

A judge turns a student's answer into numbers with :func:`_as_array` and compares it with its own
reference by :func:`_agree` (within a tolerance) or :func:`_exact`; a wrong or malformed answer
is a verdict ``(False, detail)``, never an exception. Inputs go through :func:`_tensor_input`,
:func:`_real_input`, :func:`_labels_input`, which raise TypeError/ValueError naming the input (a
mistake in calling the check). An input the student chose outside what the statement allows
raises :class:`_NotYet`: the check prints "not yet" and why. A student's function is called by
:func:`_outputs`, which turns any failure into a verdict's detail.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .._validation import check_real, check_tensor
from ..derivations.compare import compare

__all__: list[str] = []


class _NotYet(Exception):
    """Raised by a judge for an input the student chose outside what the statement allows."""


_Verdict = tuple  # (passed: bool, detail: str): detail never contains the reference


def _as_array(value) -> np.ndarray | None:
    """A student's answer as a float64 array, or None if it is not numbers."""
    if isinstance(value, (str, bytes, dict)) or value is None or value is Ellipsis:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        pass
    if isinstance(value, (list, tuple)) and value:  # e.g. a list of tensors
        parts = [_as_array(v) for v in value]
        if all(p is not None for p in parts) and len({p.shape for p in parts}) == 1:
            return np.stack(parts)
    return None


def _agree(value, reference, *, rtol=0.0, atol=0.0) -> _Verdict:
    """Whether a student's answer agrees with a reference, entry by entry (via :func:`compare`).

    Singleton dimensions do not count: a (4, 1) column answers a (4,) reference.
    """
    a = _as_array(value)
    if a is None:
        return False, f"it should be numbers, but it is a {type(value).__name__}"
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape and a.size == r.size and a.squeeze().shape == r.squeeze().shape:
        a = a.reshape(r.shape)
    if a.shape != r.shape:
        return False, f"it has shape {a.shape}, but the check expects shape {r.shape}"
    if not np.isfinite(a).all():
        return False, "it contains NaN or inf"
    return compare("exercise", r, a, rtol=rtol, atol=atol).passed, ""


def _exact(value, reference) -> _Verdict:
    """Whether a student's answer equals a reference exactly (integers, None, labels)."""
    if value is None or reference is None:
        return value is reference, ""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        v, r = np.asarray(value), np.asarray(reference)
        if v.shape != r.shape:
            return False, f"it has shape {v.shape}, but the check expects shape {r.shape}"
        return bool((v == r).all()), ""
    except (TypeError, ValueError):
        return False, f"it cannot be compared: it is a {type(value).__name__}"


def _tensor_input(name: str, value, *, ndim=None) -> torch.Tensor:
    """An input of a check as a float64 tensor; TypeError/ValueError naming it otherwise."""
    if isinstance(value, (np.ndarray, list, tuple, numbers.Real)) and not isinstance(value, bool):
        try:
            value = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numbers (a tensor or an array), but got {type(value).__name__}") from None
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor (or an array), but got {type(value).__name__}")
    value = check_tensor(name, value, ndim=ndim).detach().to(torch.float64)
    return check_tensor(name, value, finite=True)


def _np(name: str, value, ndim=None) -> np.ndarray:
    """An input of a check as a float64 NumPy array (see :func:`_tensor_input`)."""
    return _tensor_input(name, value, ndim=ndim).numpy()


def _labels_input(name: str, value, *, classes: int | None = None) -> torch.Tensor:
    """Class labels (integers 0 .. classes-1) as a 1-D LongTensor; TypeError/ValueError naming them."""
    t = _tensor_input(name, value, ndim=1)
    if not torch.equal(t, t.round()) or (t < 0).any() or (classes is not None and (t >= classes).any()):
        top = "" if classes is None else f" .. {classes - 1}"
        raise ValueError(f"{name} must hold class labels 0{top} (whole numbers)")
    return t.long()


def _real_input(name: str, value) -> float:
    """An input of a check as a finite float; TypeError/ValueError naming it otherwise."""
    return check_real(name, value)


def _int_or_none(v):
    """An integer answer (a whole float or a one-number tensor included) as an int; anything else as it is."""
    if (isinstance(v, torch.Tensor) and v.numel() == 1) or (isinstance(v, np.ndarray) and v.size == 1):
        v = v.item()
    if isinstance(v, bool):
        return v
    whole = isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and float(v).is_integer())
    return int(v) if whole else v


def _outputs(fn, cases) -> tuple[np.ndarray | None, str]:
    """A student's function called on every case, as a float64 array; or None and what went wrong."""
    if not callable(fn):
        return None, f"it should be a function, but it is a {type(fn).__name__}"
    out = []
    for case in cases:
        try:
            value = fn(*case)
        except Exception as err:  # noqa: BLE001 (a student's function may fail in any way: report it)
            return None, f"calling it raised {type(err).__name__}: {err}"
        a = _as_array(value)
        if a is None:
            return None, f"it should return numbers, but it returned a {type(value).__name__}"
        out.append(a)
    try:
        return np.stack(out), ""
    except ValueError:
        return None, "it returns results of different shapes for different cases"
