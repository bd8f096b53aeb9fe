"""Seeding, a small training loop, and many models (seeds) trained at once as one.

Multi-seed experiments stack the weights of ``M`` independent networks along a leading
dimension (:class:`~reglab.stacked.StackedMLP`) and train them with one loop
(:func:`fit_stacked`), so five seeds cost roughly what one larger network costs, not five runs.
Each member has its own initialisation, its own minibatch order and, optionally, its own
training subset (bootstrap) and penalty weight, so the members are statistically independent
runs.

The settings and record of a run (:class:`~reglab.runs.TrainConfig`, :class:`~reglab.runs.History`) live in
``reglab.runs`` and the stacked models (:class:`~reglab.stacked.StackedMLP`, :func:`~reglab.stacked.paired_stacked_mlp`) in
``reglab.stacked``; both are importable from here too.
"""
from __future__ import annotations

import copy
import random
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ._validation import check_choice, check_int, check_tensor
from .runs import History, TrainConfig, _loss, _make_optimizer, _stacked_epoch
from .stacked import StackedLinear, StackedMLP, paired_stacked_mlp

__all__ = [
    "seed_everything",
    "TrainConfig",
    "History",
    "fit",
    "accuracy",
    "StackedLinear",
    "StackedMLP",
    "paired_stacked_mlp",
    "fit_stacked",
    "evaluate_stacked",
]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's generators; call once at the top of a chapter.

    Parameters
    ----------
    seed : int >= 0

    Returns
    -------
    torch.Generator
        A fresh generator seeded with ``seed``, for code that takes an explicit generator.

    Examples
    --------
    >>> g = seed_everything(0)
    >>> torch.rand(1, generator=g).item() == torch.rand(1, generator=seed_everything(0)).item()
    True
    """
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def accuracy(logits: Tensor, y: Tensor) -> Tensor:
    """Fraction of rows whose arg-max equals the label (over the last two dims if stacked).

    Parameters
    ----------
    logits : Tensor of shape (n, k) or (M, n, k)
    y : LongTensor of shape (n,)

    Returns
    -------
    Tensor
        A scalar, or shape (M,) for stacked logits.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    >>> accuracy(logits, torch.tensor([0, 1, 1]))
    tensor(0.6667, dtype=torch.float64)
    """
    check_tensor("logits", logits, ndim=(2, 3))
    check_tensor("y", y, ndim=1)
    if logits.shape[-2] != y.shape[0]:
        raise ValueError(f"logits have {logits.shape[-2]} rows but y has {y.shape[0]} labels")
    return (logits.argmax(-1) == y).to(torch.float64).mean(-1)


def fit(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    config: TrainConfig,
    penalty: Callable[[nn.Module], Tensor] | None = None,
    val: tuple[Tensor, Tensor] | None = None,
    callback: Callable[[int, nn.Module, History], None] | None = None,
) -> History:
    """Train one model with minibatch gradient descent; a loop to read, not a framework.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of shape (b, ...) to outputs of shape (b, k).
    X : Tensor of shape (n, ...)
    y : Tensor of shape (n,) (class labels) or (n, k) (regression targets)
    config : TrainConfig
    penalty : callable, optional
        ``penalty(model)`` returns a scalar added to each minibatch loss (already weighted).
    val : (X_val, y_val), optional
        Evaluated after every epoch (loss, and accuracy for classification).
    callback : callable, optional
        ``callback(epoch, model, history)`` after every epoch (e.g. early stopping: raise
        ``StopIteration`` to end training).

    Returns
    -------
    History
        ``train_loss`` per epoch (the mean minibatch loss, penalty included); ``val_loss`` and
        ``val_accuracy`` per epoch if ``val`` is given.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(64, 2, generator=g), torch.randint(0, 2, (64,), generator=g)
    >>> _ = torch.manual_seed(0)  # the initialisation of nn.Linear
    >>> net = nn.Linear(2, 2)
    >>> history = fit(net, X, y, config=TrainConfig(epochs=3, batch_size=16), val=(X, y))
    >>> len(history.train_loss), len(history.val_accuracy)
    (3, 3)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    check_tensor("X", X)
    check_tensor("y", y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    gen = torch.Generator().manual_seed(config.seed)
    opt = _make_optimizer(model.parameters(), config)
    decay = config.weight_decay if config.optimizer != "adamw" else 0.0
    history = History()
    n = X.shape[0]
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(n, generator=gen).to(X.device)
        total = 0.0
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = _loss(config.loss, model(X[idx]), y[idx])
            if decay:
                loss = loss + decay * sum(0.5 * p.pow(2).sum() for p in model.parameters() if p.dim() >= 2)
            if penalty is not None:
                loss = loss + penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.train_loss.append(total / n)
        if val is not None:
            model.eval()
            with torch.no_grad():
                out = model(val[0])
                history.val_loss.append(_loss(config.loss, out, val[1]).item())
                if config.loss == "cross_entropy":
                    history.val_accuracy.append(accuracy(out, val[1]).item())
            history.eval_epochs.append(epoch + 1)
        if callback is not None:
            try:
                callback(epoch, model, history)
            except StopIteration:
                break
    model.eval()
    return history


class _Progress:
    """A one-line progress display in a notebook that nbval can still compare.

    The line shows the epoch while training and returns to its first text at the end. nbval
    compares only the first display of a cell (it ignores display updates) and the stored
    notebook keeps the last one, so both see the same text. Outside IPython it does nothing.
    """

    def __init__(self, label: str, total: int, enabled: bool):
        self.label, self.total, self.handle = label, total, None
        if not enabled:
            return
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is not None:
            self.handle = display({"text/plain": label}, raw=True, display_id=True)

    def update(self, epoch: int) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": f"{self.label}: epoch {epoch}/{self.total}"}, raw=True)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": self.label}, raw=True)


def evaluate_stacked(model: nn.Module, X: Tensor, y: Tensor, *, loss: str = "cross_entropy") -> dict:
    """Loss and accuracy of every member on (X, y), in eval mode and without gradients.

    Returns
    -------
    dict
        ``{"loss": Tensor (M,), "accuracy": Tensor (M,)}`` (accuracy only for classification).

    Examples
    --------
    >>> net = StackedMLP(3, (4, 8, 2), seed=0)
    >>> measured = evaluate_stacked(net, torch.randn(10, 4), torch.zeros(10, dtype=torch.long))
    >>> measured["loss"].shape, measured["accuracy"].shape
    (torch.Size([3]), torch.Size([3]))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module (e.g. a StackedMLP), but got {type(model).__name__}")
    check_tensor("X", X)
    check_tensor("y", y)
    check_choice("loss", loss, ("cross_entropy", "mse"))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(X)
        result = {"loss": _loss(loss, out, y.expand(out.shape[0], *y.shape))}
        if loss == "cross_entropy":
            result["accuracy"] = accuracy(out, y)
    model.train(was_training)
    return result


def fit_stacked(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    config: TrainConfig,
    weight_decay: Tensor | float | None = None,
    member_indices: Tensor | None = None,
    transform: Callable[[Tensor, Tensor, nn.Module], tuple[Tensor, Tensor]] | None = None,
    extra_loss: Callable[[nn.Module, Tensor, Tensor, Tensor], Tensor] | None = None,
    val: tuple[Tensor, Tensor] | None = None,
    eval_every: int = 1,
    keep_best: bool = False,
    progress: bool = False,
) -> History:
    """Train the ``M`` members of a stacked model together, each as its own run.

    Parameters
    ----------
    model : nn.Module
        Has ``num_models`` and maps (M, b, d) to (M, b, k), e.g. :class:`StackedMLP`.
    X : Tensor of shape (n, d)
    y : LongTensor of shape (n,) or float Tensor of shape (n, k) for ``loss="mse"``
    config : TrainConfig
        ``config.weight_decay`` applies to every member unless ``weight_decay`` is given.
    weight_decay : float or Tensor of shape (M,), optional
        Per-member L2 penalty weight alpha on the weight matrices (biases are not decayed),
        so one run sweeps alpha. Requires ``model.member_l2()``.
    member_indices : LongTensor of shape (M, n_m), optional
        Training examples of each member (e.g. bootstrap resamples); default all of ``X``.
    transform : callable, optional
        ``transform(xb, yb, model) -> (xb, yb)`` on each minibatch of shape (M, b, d), e.g.
        augmentation, input noise or adversarial examples.
    extra_loss : callable, optional
        ``extra_loss(model, xb, yb, out)`` returns a per-member penalty of shape (M,).
    val : (X_val, y_val), optional
        Evaluated every ``eval_every`` epochs.
    keep_best : bool
        Keep each member's parameters at its lowest validation loss and restore them at the
        end (early stopping without stopping; ``history.best_epoch`` says when, per member).
    progress : bool
        In a notebook, show the epoch on one line while training (the line reads
        "training M members for E epochs" before and after, so stored outputs stay reproducible).

    Returns
    -------
    History
        ``train_loss`` (epochs, M); ``val_loss`` and ``val_accuracy`` (evaluations, M).

    Notes
    -----
    The loss summed over members has, for each member, exactly the gradient of that member's
    own loss, because members share no parameter; per-parameter optimisers (SGD, Adam) then
    update each member as if it were trained alone.

    Examples
    --------
    Three members, each with its own L2 penalty weight, trained in one run:

    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(60, 4, generator=g), torch.randint(0, 2, (60,), generator=g)
    >>> net = StackedMLP(3, (4, 8, 2), seed=0)
    >>> history = fit_stacked(net, X, y, config=TrainConfig(epochs=2, batch_size=20),
    ...                       weight_decay=torch.tensor([0.0, 0.01, 0.1]), val=(X, y))
    >>> np.asarray(history.train_loss).shape  # (epochs, members)
    (2, 3)
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    M = check_int("model.num_models", getattr(model, "num_models", None), low=1)
    check_tensor("X", X, ndim=2)
    check_tensor("y", y, ndim=(1, 2))
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    check_int("eval_every", eval_every, low=1)
    if keep_best and val is None:
        raise ValueError("keep_best needs val=(X_val, y_val) to decide which parameters are best")
    decay = weight_decay if weight_decay is not None else config.weight_decay
    dev = X.device  # everything the loop creates lives with the data (CPU or CUDA)
    decay = torch.as_tensor(decay, dtype=torch.float64).expand(M).clone()
    if torch.isnan(decay).any() or (decay < 0).any():
        raise ValueError(f"weight_decay must be >= 0 for every member, but got {decay.tolist()}")
    if member_indices is None:
        member_indices = torch.arange(X.shape[0], device=dev).expand(M, -1)
    check_tensor("member_indices", member_indices, ndim=2)
    member_indices = member_indices.to(dev)
    if member_indices.shape[0] != M:
        raise ValueError(f"member_indices must have {M} rows (one per member), but got {member_indices.shape[0]}")
    if config.optimizer == "adamw":
        raise ValueError("optimizer 'adamw' is not supported by fit_stacked: use 'adam' with weight_decay")

    gen = torch.Generator().manual_seed(config.seed)
    opt = _make_optimizer(model.parameters(), config)
    history = History()
    n_m = member_indices.shape[1]
    best_loss = torch.full((M,), float("inf"), dtype=torch.float64, device=dev)
    best_epoch = torch.zeros(M, dtype=torch.long, device=dev)
    best_state = copy.deepcopy(model.state_dict()) if keep_best else None
    rows = torch.arange(M, device=dev).unsqueeze(1)
    bar = _Progress(f"training {M} members for {config.epochs} epochs", config.epochs, progress)

    def step(cols: Tensor) -> tuple[Tensor, Tensor]:
        idx = member_indices[rows, cols]
        xb, yb = X[idx], y[idx]
        if transform is not None:
            xb, yb = transform(xb, yb, model)
        out = model(xb)
        per_member = _loss(config.loss, out, yb)
        objective = per_member
        if bool((decay > 0).any()):
            objective = objective + decay.to(device=out.device, dtype=out.dtype) * model.member_l2()
        if extra_loss is not None:
            objective = objective + extra_loss(model, xb, yb, out)
        return per_member, objective

    for epoch in range(config.epochs):
        bar.update(epoch + 1)
        model.train()
        history.train_loss.append(_stacked_epoch(opt, gen, M, n_m, config.batch_size, step, device=dev))
        if val is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == config.epochs):
            measured = evaluate_stacked(model, val[0], val[1], loss=config.loss)
            vloss = measured["loss"].to(torch.float64)
            history.val_loss.append(vloss.tolist())
            if "accuracy" in measured:
                history.val_accuracy.append(measured["accuracy"].tolist())
            history.eval_epochs.append(epoch + 1)
            if keep_best:
                better = vloss < best_loss
                best_loss = torch.where(better, vloss, best_loss)
                best_epoch = torch.where(better, torch.tensor(epoch + 1, device=dev), best_epoch)
                state = model.state_dict()
                for name, value in state.items():
                    if value.dim() and value.shape[0] == M:
                        mask = better.view(-1, *([1] * (value.dim() - 1)))
                        best_state[name] = torch.where(mask, value.detach(), best_state[name])
    bar.close()
    if keep_best:
        model.load_state_dict(best_state)
        history.best_epoch = best_epoch.tolist()
    model.eval()
    return history
