"""Closed forms and derivation checkers, one module per chapter.

A chapter imports exactly one of these modules (``from reglab.derivations import weight_decay``).
:func:`ledger` lists every registered result of every chapter.
"""
from .core import (
    Check,
    CheckFailed,
    Outcome,
    Planted,
    Result,
    compare,
    compare_mc,
    derivation,
    experiment,
    get_result,
    ledger,
    record_outcome,
    subcheck,
)

__all__ = [
    "Check",
    "CheckFailed",
    "Outcome",
    "Planted",
    "Result",
    "compare",
    "compare_mc",
    "derivation",
    "experiment",
    "get_result",
    "ledger",
    "record_outcome",
    "subcheck",
]
