"""Seeding, a small training loop, and many models (seeds) trained at once as one.

Multi-seed experiments stack the weights of ``M`` independent networks along a leading
dimension (:class:`StackedMLP`) and train them with one loop (:func:`fit_stacked`), so five
seeds cost roughly what one larger network costs, not five runs. Each member has its own
initialisation, its own minibatch order and, optionally, its own training subset (bootstrap)
and penalty weight, so the members are statistically independent runs.
"""
from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validation import check_choice, check_int, check_real, check_tensor

__all__ = [
    "seed_everything",
    "TrainConfig",
    "History",
    "fit",
    "accuracy",
    "StackedLinear",
    "StackedMLP",
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


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes
    ----------
    epochs : int
        Passes over the training set.
    lr : float
        Learning rate (the lecture's epsilon).
    batch_size : int
        Minibatch size.
    optimizer : str
        ``"sgd"``, ``"adam"`` or ``"adamw"``.
    momentum : float
        SGD momentum.
    weight_decay : float
        Penalty weight alpha of an L2 term added to the loss, ``alpha * l2_penalty`` over the
        weight matrices only (biases are not decayed). For ``"adamw"`` it is the decoupled decay.
    loss : str
        ``"cross_entropy"`` or ``"mse"``.
    seed : int
        Seed of the initialisation and minibatch order.
    """

    epochs: int = 20
    lr: float = 0.05
    batch_size: int = 100
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    loss: str = "cross_entropy"
    seed: int = 0

    def __post_init__(self):
        check_int("epochs", self.epochs, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size, low=1)
        check_choice("optimizer", self.optimizer, ("sgd", "adam", "adamw"))
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_choice("loss", self.loss, ("cross_entropy", "mse"))
        check_int("seed", self.seed, low=0)


@dataclass
class History:
    """What a training run measured; arrays have one row per epoch (or evaluation).

    For stacked models every array has a last dimension of size ``num_models``.
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    eval_epochs: list = field(default_factory=list)
    best_epoch: object = None

    def as_arrays(self) -> dict:
        """The history as NumPy arrays."""
        return {k: np.asarray(v) for k, v in self.__dict__.items() if v is not None}


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
    """
    check_tensor("logits", logits, ndim=(2, 3))
    check_tensor("y", y, ndim=1)
    if logits.shape[-2] != y.shape[0]:
        raise ValueError(f"logits have {logits.shape[-2]} rows but y has {y.shape[0]} labels")
    return (logits.argmax(-1) == y).to(torch.float64).mean(-1)


def _loss(kind: str, out: Tensor, y: Tensor) -> Tensor:
    """Per-model mean loss; ``out`` is (n, k) or (M, n, k) and ``y`` matches its leading dims."""
    if kind == "cross_entropy":
        per = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none")
    else:
        per = (out.reshape(-1, out.shape[-1]) - y.reshape(-1, out.shape[-1]).to(out.dtype)).pow(2).sum(-1)
    return per.reshape(out.shape[:-1]).mean(-1)


def _make_optimizer(params, config: TrainConfig):
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


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


class StackedLinear(nn.Module):
    """``num_models`` independent linear layers applied at once.

    Parameters
    ----------
    num_models, in_features, out_features : int
    generator : torch.Generator, optional
        Initialisation as ``nn.Linear`` (uniform in +-1/sqrt(in_features)), independently
        for every member.
    dtype : torch.dtype, optional

    Shape:
        - Input: (num_models, b, in_features), or (b, in_features) shared by all members.
        - Output: (num_models, b, out_features).
    """

    def __init__(self, num_models: int, in_features: int, out_features: int, *, generator=None, dtype=None):
        super().__init__()
        self.num_models = check_int("num_models", num_models, low=1)
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        dtype = dtype or torch.get_default_dtype()
        bound = 1.0 / math.sqrt(in_features)
        w = torch.rand(num_models, out_features, in_features, generator=generator, dtype=dtype)
        b = torch.rand(num_models, out_features, generator=generator, dtype=dtype)
        self.weight = nn.Parameter((2 * w - 1) * bound)
        self.bias = nn.Parameter((2 * b - 1) * bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.num_models, -1, -1)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def extra_repr(self) -> str:
        return f"num_models={self.num_models}, in_features={self.in_features}, out_features={self.out_features}"


def _as_sizes(name: str, sizes) -> list:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a sequence of layer widths such as (40, 100, 10), but got {sizes!r}")
    return list(sizes)


class StackedMLP(nn.Module):
    """``num_models`` independent multilayer perceptrons with ReLU, trained as one module.

    Parameters
    ----------
    num_models : int
        Number of independent members (e.g. seeds).
    sizes : sequence of int
        Layer widths from input to output, e.g. ``(40, 100, 100, 10)``.
    seed : int
        Seed of the initialisation; member ``m`` differs from member ``m'``.
    dropout_keep : float in (0, 1], optional
        Keep probability of (inverted) dropout on every hidden layer while training.
    dtype : torch.dtype, optional

    Shape:
        - Input: (b, sizes[0]) shared, or (num_models, b, sizes[0]) per member.
        - Output: (num_models, b, sizes[-1]).

    Attributes
    ----------
    hidden : list of Tensor
        The post-activation hidden values of the last forward pass (for sparsity measures).
    """

    def __init__(self, num_models: int, sizes: Sequence[int], *, seed: int = 0, dropout_keep: float | None = None, dtype=None):
        super().__init__()
        num_models = check_int("num_models", num_models, low=1)
        sizes = _as_sizes("sizes", sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, but got {sizes}")
        for i, s in enumerate(sizes):
            check_int(f"sizes[{i}]", s, low=1)
        if dropout_keep is not None:
            check_real("dropout_keep", dropout_keep, low=0.0, high=1.0, low_open=True)
        gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
        self.num_models = check_int("num_models", num_models, low=1)
        self.sizes = sizes
        self.dropout_keep = dropout_keep
        self.layers = nn.ModuleList(
            StackedLinear(num_models, a, b, generator=gen, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.hidden: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.hidden = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
                self.hidden.append(x)
                if self.training and self.dropout_keep is not None and self.dropout_keep < 1:
                    mask = torch.rand_like(x) < self.dropout_keep
                    x = x * mask / self.dropout_keep
        return x

    def weights(self) -> list[Tensor]:
        """The weight tensors (num_models, out, in) of every layer (the decayed parameters)."""
        return [layer.weight for layer in self.layers]

    def member_l2(self) -> Tensor:
        """One half the squared norm of each member's weights, shape (num_models,)."""
        return sum(0.5 * w.pow(2).sum(dim=(1, 2)) for w in self.weights())

    def extra_repr(self) -> str:
        return f"num_models={self.num_models}, sizes={self.sizes}, dropout_keep={self.dropout_keep}"


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
    for epoch in range(config.epochs):
        bar.update(epoch + 1)
        model.train()
        # The CPU generator draws the order (the same on every device), then it moves.
        order = torch.argsort(torch.rand(M, n_m, generator=gen), dim=1).to(dev)
        total = torch.zeros(M, dtype=torch.float64, device=dev)
        for start in range(0, n_m, config.batch_size):
            idx = member_indices[rows, order[:, start : start + config.batch_size]]
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
            opt.zero_grad()
            objective.sum().backward()
            opt.step()
            total += per_member.detach().to(torch.float64) * idx.shape[1]
        history.train_loss.append((total / n_m).tolist())
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
