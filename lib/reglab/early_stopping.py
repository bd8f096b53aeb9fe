"""Early stopping with patience (lecture: "Early stopping").

Training is watched on held-out data: after every evaluation the validation loss is handed to
:meth:`EarlyStopping.step`, which remembers a copy of the parameters with the lowest loss so
far and says when to stop. At the end :meth:`EarlyStopping.restore` puts the best parameters
back, so the model returned is the one with the best validation loss, not the last one.
"""
from __future__ import annotations

import copy
import math
import numbers
from collections import OrderedDict

import torch
from torch import Tensor, nn

from ._validation import check_int, check_real

__all__ = ["EarlyStopping"]

_STATE_KEYS = ("patience", "min_delta", "best_loss", "best_step", "num_steps", "num_bad_steps", "best_state")


def _snapshot(model: nn.Module) -> "OrderedDict[str, object]":
    """A deep copy of the model's state (parameters and buffers), detached from autograd."""
    return OrderedDict(
        (name, value.detach().clone() if isinstance(value, Tensor) else copy.deepcopy(value))
        for name, value in model.state_dict().items()
    )


class EarlyStopping:
    r"""Stop training once the validation loss has not improved for ``patience`` evaluations.

    Parameters
    ----------
    patience : int >= 1
        Number of evaluations in a row without improvement after which :meth:`step` returns
        True.
    min_delta : float >= 0
        An evaluation counts as an improvement only if it lowers the best loss by *more* than
        ``min_delta``: ``val_loss < best_loss - min_delta``.

    Attributes
    ----------
    best_loss : float
        Lowest validation loss seen so far (``inf`` before the first evaluation).
    best_step : int or None
        Index of the evaluation that gave ``best_loss`` (0 for the first call to :meth:`step`);
        None before the first evaluation.
    num_steps : int
        Evaluations seen so far.
    num_bad_steps : int
        Evaluations in a row without improvement.

    Notes
    -----
    This is the algorithm of the lecture's "Early stopping" section and of Goodfellow et al.
    (2016), algorithm 7.1, with the "patience" rule of Prechelt (1998): keep the parameters at
    the lowest validation error and give up after ``patience`` evaluations without a new best.
    The state, including the copy of the best parameters, is a plain dictionary
    (:meth:`state_dict`), so it survives ``torch.save``/``torch.load`` with the model and a run
    can be resumed.

    Examples
    --------
    >>> model = torch.nn.Linear(1, 1)
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.step(loss, model) for loss in (3.0, 2.0, 2.5, 2.1)]
    [False, False, False, True]
    >>> stopper.best_loss, stopper.best_step
    (2.0, 1)
    """

    def __init__(self, patience: int, *, min_delta: float = 0.0):
        self.patience = check_int("patience", patience, low=1)
        self.min_delta = check_real("min_delta", min_delta, low=0.0)
        self.best_loss = math.inf
        self.best_step: int | None = None
        self.num_steps = 0
        self.num_bad_steps = 0
        self._best_state: OrderedDict | None = None

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` evaluations in a row have failed to improve."""
        return self.num_bad_steps >= self.patience

    def step(self, val_loss, model: nn.Module) -> bool:
        """Record one evaluation; keep a copy of ``model``'s state if it is the best so far.

        Parameters
        ----------
        val_loss : float or 1-element Tensor
            The validation loss of ``model`` now; must be finite.
        model : nn.Module
            The model whose parameters (and buffers) are copied when the loss improves.

        Returns
        -------
        bool
            True once ``patience`` evaluations in a row did not improve on the best loss by
            more than ``min_delta`` (and on every later call until an improvement).
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
        if isinstance(val_loss, Tensor) and val_loss.numel() != 1:
            raise ValueError(f"val_loss must be a single number, but got a tensor of shape {tuple(val_loss.shape)}")
        if isinstance(val_loss, Tensor):
            val_loss = val_loss.item()
        if isinstance(val_loss, bool) or not isinstance(val_loss, numbers.Real):
            raise TypeError(f"val_loss must be a real number, but got {type(val_loss).__name__} {val_loss!r}")
        loss = float(val_loss)
        if not math.isfinite(loss):
            raise ValueError(f"val_loss must be a finite number, but got {loss} (has training diverged?)")
        if loss < self.best_loss - self.min_delta:
            self.best_loss = loss
            self.best_step = self.num_steps
            self._best_state = _snapshot(model)
            self.num_bad_steps = 0
        else:
            self.num_bad_steps += 1
        self.num_steps += 1
        return self.should_stop

    @property
    def best_state(self) -> "OrderedDict[str, object]":
        """A copy of the best parameters, as a ``state_dict`` (raises before any step)."""
        self._require_best("best_state")
        return copy.deepcopy(self._best_state)

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the best parameters seen so far into ``model`` (in place) and return it."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
        self._require_best("restore")
        model.load_state_dict(copy.deepcopy(self._best_state))
        return model

    def _require_best(self, what: str) -> None:
        if self._best_state is None:
            raise RuntimeError(f"{what} needs at least one call to step(): no parameters have been recorded yet")

    def state_dict(self) -> dict:
        """Everything needed to resume: settings, counters and the best parameters.

        The values are numbers, None and tensors, so ``torch.save`` stores them and
        ``torch.load`` (``weights_only=True``) reads them back.
        """
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "best_loss": self.best_loss,
            "best_step": self.best_step,
            "num_steps": self.num_steps,
            "num_bad_steps": self.num_bad_steps,
            "best_state": None if self._best_state is None else copy.deepcopy(self._best_state),
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume from a dictionary made by :meth:`state_dict` (validated before use)."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict made by EarlyStopping.state_dict(), but got {type(state).__name__}")
        missing = [k for k in _STATE_KEYS if k not in state]
        unknown = [k for k in state if k not in _STATE_KEYS]
        if missing or unknown:
            raise ValueError(f"state does not come from EarlyStopping.state_dict(): missing keys {missing}, unknown keys {unknown}")
        patience = check_int("state['patience']", state["patience"], low=1)
        min_delta = check_real("state['min_delta']", state["min_delta"], low=0.0)
        num_steps = check_int("state['num_steps']", state["num_steps"], low=0)
        num_bad = check_int("state['num_bad_steps']", state["num_bad_steps"], low=0, high=num_steps)
        best_state = state["best_state"]
        if num_steps == 0:
            if state["best_step"] is not None or best_state is not None:
                raise ValueError("state has no evaluations (num_steps = 0) but records a best step or parameters")
            best_loss, best_step = math.inf, None
        else:
            best_loss = check_real("state['best_loss']", state["best_loss"])
            best_step = check_int("state['best_step']", state["best_step"], low=0, high=num_steps - 1)
            if num_bad != num_steps - 1 - best_step:
                raise ValueError(
                    f"state is inconsistent: {num_steps} evaluations with the best at index {best_step} "
                    f"leave {num_steps - 1 - best_step} evaluations without improvement, but it records {num_bad}"
                )
            if not isinstance(best_state, dict):
                raise TypeError(f"state['best_state'] must be a state_dict, but got {type(best_state).__name__}")
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_step = best_loss, best_step
        self.num_steps, self.num_bad_steps = num_steps, num_bad
        self._best_state = None if best_state is None else OrderedDict(copy.deepcopy(best_state))

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta:g}, "
            f"best_loss={self.best_loss:.6g}, best_step={self.best_step}, "
            f"num_bad_steps={self.num_bad_steps})"
        )
