"""Closed forms and derivation checkers, one module per chapter.

A chapter imports exactly one of these modules (``from reglab.derivations import weight_decay``).
Importing the package imports every chapter module, so that each registers its results;
:func:`ledger` lists every registered result (the derivations registered here, the experiments
registered by ``reglab.experiments``), :func:`get_result` finds one.

:mod:`~reglab.derivations.compare` holds the one comparison path, :mod:`~reglab.derivations.registry`
the results, their checks and planted errors.
"""
from . import (  # noqa: F401 (imported so that each registers its results)
    adversarial_training,
    augmentation,
    bagging,
    dropout,
    early_stopping,
    l1_penalty,
    label_smoothing,
    multitask,
    parameter_sharing,
    regimes,
    sparse_representations,
    weight_decay,
    weight_noise,
)
from .compare import Check, CheckFailed, compare, compare_mc, exceeds
from .registry import Outcome, Planted, Result, choose, derivation, experiment, get_result, ledger, subcheck

__all__ = [
    "Check",
    "CheckFailed",
    "Outcome",
    "Planted",
    "Result",
    "choose",
    "compare",
    "compare_mc",
    "exceeds",
    "derivation",
    "experiment",
    "get_result",
    "ledger",
    "subcheck",
]
