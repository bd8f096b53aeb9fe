"""Third-party modules imported when first used, not when reglab is.

SymPy and SciPy's submodules take about a second to import, and most chapters never call the
functions that need them. ``sp = lazy_module("sympy")`` binds a module whose code runs at the
first attribute read (``sp.Symbol``), through the standard library's
:class:`importlib.util.LazyLoader`. A module already imported is returned as it is.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType

__all__ = ["lazy_module"]

_LOCK = threading.Lock()


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, loaded at its first attribute access.

    Parameters
    ----------
    name : str
        A dotted module name, e.g. ``"scipy.stats"`` (its parent packages are imported now; they
        are light).

    Returns
    -------
    module
        ``sys.modules[name]``: later ``import name`` statements get the same object.

    Examples
    --------
    >>> special = lazy_module("scipy.special")
    >>> float(special.ndtri(0.5))
    0.0
    >>> lazy_module("no_such_module_here")
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: No module named 'no_such_module_here'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a module name such as 'sympy', but got {name!r}")
    with _LOCK:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        return module
