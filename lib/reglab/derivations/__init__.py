"""Closed forms and derivation checkers, one module per chapter.

A chapter imports exactly one of these modules (``from reglab.derivations import weight_decay``).
:func:`ledger` lists every registered result of every chapter.
"""
from .core import Check, CheckFailed, Result, compare, derivation, experiment, get_result, ledger

__all__ = ["Check", "CheckFailed", "Result", "compare", "derivation", "experiment", "get_result", "ledger"]
