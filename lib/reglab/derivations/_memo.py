"""Deterministic computations of the checkers, kept for the next call with the same arguments.

Every planted error runs its checker again with one computation replaced (BOOK_SPEC 7), and a
chapter's subchecks often need the same solver run: the part the planted error leaves alone (a
Newton minimiser, a heavy-ball solve, SGD chains with a fixed seed) would be computed again,
identically. :func:`deterministic` keeps the last results of such a function, keyed by the
values of its arguments, and hands out copies, so a caller that changes a result in place
changes only its own copy.
"""
from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np
import torch

__all__ = ["deterministic"]

_UNKEYED = object()


def _key(value):
    """A hashable key for ``value`` (tensors and arrays by dtype, shape and bytes), or _UNKEYED."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        return ("tensor", str(t.dtype), str(t.device), tuple(t.shape), t.cpu().contiguous().numpy().tobytes())
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, torch.dtype)):
        return (type(value).__name__, value)
    if isinstance(value, (tuple, list)):
        parts = tuple(_key(v) for v in value)
        return _UNKEYED if any(p is _UNKEYED for p in parts) else (type(value).__name__, parts)
    return _UNKEYED  # a generator, a callable, a module: not a value to key on


def _copy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def deterministic(fn=None, *, maxsize: int = 32):
    """Keep ``fn``'s last ``maxsize`` results; ``fn`` must depend on its arguments alone.

    Arguments are keyed by value: numbers, strings, None, dtypes, tensors and arrays (dtype,
    shape, bytes) and tuples or lists of them. A call with anything else (a generator, a
    function) is not kept. Results are copied in and out.

    Examples
    --------
    >>> calls = []
    >>> @deterministic
    ... def double(x):
    ...     calls.append(1)
    ...     return 2 * x
    >>> a = double(torch.ones(2)); b = double(torch.ones(2)); len(calls)
    1
    >>> b += 1; double(torch.ones(2))  # the kept result is not the one handed out
    tensor([2., 2.])
    >>> _ = double(torch.ones(2, dtype=torch.float64)); len(calls)  # another dtype: another key
    2
    """
    if fn is None:
        return functools.partial(deterministic, maxsize=maxsize)
    if not callable(fn):
        raise TypeError(f"fn must be callable, but got {type(fn).__name__}")
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
        raise ValueError(f"maxsize must be an int >= 1, but got {maxsize!r}")
    kept: OrderedDict = OrderedDict()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = _key((args, sorted(kwargs.items())))
        if key is _UNKEYED:
            return fn(*args, **kwargs)
        if key in kept:
            kept.move_to_end(key)
            return _copy(kept[key])
        result = fn(*args, **kwargs)
        kept[key] = _copy(result)
        if len(kept) > maxsize:
            kept.popitem(last=False)
        return result

    return wrapper
