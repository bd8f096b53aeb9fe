"""Norm penalties and the update rules they induce (lecture: "Norm penalties").

Conventions: ``alpha`` is the penalty weight and ``lr`` the learning rate (the lecture's
epsilon). :func:`l2_penalty` is *one half* the squared norm, so its gradient is ``w``.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn

from ._validation import check_real, check_tensor

__all__ = ["l2_penalty", "l1_penalty", "weight_decay_step", "l1_step", "soft_threshold", "penalized_parameters"]


def penalized_parameters(params, *, include_bias: bool = False) -> list[Tensor]:
    """The tensors a norm penalty applies to.

    Parameters
    ----------
    params : nn.Module or iterable of Tensor
        For a module, its parameters of dimension >= 2 (weight matrices and kernels) are
        penalized, biases and other vectors only if ``include_bias``. An iterable of tensors
        is taken as given.
    include_bias : bool
        Also penalize the parameters of dimension < 2 of a module.

    Returns
    -------
    list of Tensor

    Examples
    --------
    >>> [tuple(p.shape) for p in penalized_parameters(nn.Linear(3, 2))]  # the weight, not the bias
    [(2, 3)]
    >>> len(penalized_parameters(nn.Linear(3, 2), include_bias=True))
    2
    """
    if not isinstance(include_bias, bool):
        raise TypeError(f"include_bias must be True or False, but got {include_bias!r}")
    if isinstance(params, nn.Module):
        return [p for p in params.parameters() if include_bias or p.dim() >= 2]
    if isinstance(params, Tensor):
        return [params]
    if not isinstance(params, Iterable):
        raise TypeError(
            f"params must be an nn.Module or an iterable of tensors, but got {type(params).__name__}"
        )
    tensors = list(params)
    for i, t in enumerate(tensors):
        check_tensor(f"params[{i}]", t)
    return tensors


def l2_penalty(params, *, include_bias: bool = False) -> Tensor:
    r"""One half the squared L2 norm of the parameters, :math:`\tfrac12\|w\|_2^2`.

    Parameters
    ----------
    params : nn.Module or iterable of Tensor
        See :func:`penalized_parameters` (a module's biases are not penalized by default).
    include_bias : bool
        Penalize a module's biases too.

    Returns
    -------
    Tensor
        A scalar; its gradient with respect to each tensor ``w`` is ``w`` itself.

    Notes
    -----
    The regularized objective is :math:`\tilde J = J + \alpha \cdot \tfrac12\|w\|^2`, whose
    gradient is :math:`\nabla J + \alpha w` (lecture, "L2 parameter regularization").

    Examples
    --------
    >>> l2_penalty([torch.tensor([3.0, 4.0])])
    tensor(12.5000)
    """
    tensors = penalized_parameters(params, include_bias=include_bias)
    if not tensors:
        return torch.zeros(())
    return 0.5 * sum(t.pow(2).sum() for t in tensors)


def l1_penalty(params, *, include_bias: bool = False) -> Tensor:
    r"""The L1 norm of the parameters, :math:`\|w\|_1 = \sum_i |w_i|`.

    Parameters
    ----------
    params : nn.Module or iterable of Tensor
        See :func:`penalized_parameters`.
    include_bias : bool
        Penalize a module's biases too.

    Returns
    -------
    Tensor
        A scalar. Autograd gives the subgradient ``sign(w)`` (0 at ``w = 0``).

    Examples
    --------
    >>> l1_penalty([torch.tensor([3.0, -4.0])])
    tensor(7.)
    """
    tensors = penalized_parameters(params, include_bias=include_bias)
    if not tensors:
        return torch.zeros(())
    return sum(t.abs().sum() for t in tensors)


def _check_step_args(w: Tensor, grad: Tensor, lr, alpha) -> tuple[float, float]:
    check_tensor("w", w, floating=True)
    check_tensor("grad", grad, floating=True)
    if grad.shape != w.shape:
        raise ValueError(f"grad must have the shape of w {tuple(w.shape)}, but got {tuple(grad.shape)}")
    lr = check_real("lr", lr, low=0.0, low_open=True)
    alpha = check_real("alpha", alpha, low=0.0)
    return lr, alpha


def weight_decay_step(w: Tensor, grad: Tensor, *, lr: float, alpha: float) -> Tensor:
    r"""One gradient step on :math:`J + \tfrac{\alpha}{2}\|w\|^2`: shrink, then step.

    Parameters
    ----------
    w : Tensor
        Current weights.
    grad : Tensor of the shape of ``w``
        Gradient of the *unregularized* cost :math:`\nabla J(w)`.
    lr : float > 0
        Learning rate (the lecture's epsilon).
    alpha : float >= 0
        Penalty weight.

    Returns
    -------
    Tensor
        :math:`(1 - \epsilon\alpha) w - \epsilon \nabla J(w)` (a new tensor).

    Notes
    -----
    This is the lecture's "weight decay" rewriting of
    :math:`w - \epsilon(\alpha w + \nabla J)`; it equals ``torch.optim.SGD`` with
    ``weight_decay=alpha``.

    Examples
    --------
    >>> weight_decay_step(torch.tensor([1.0]), torch.tensor([0.5]), lr=0.1, alpha=1.0)
    tensor([0.8500])
    """
    lr, alpha = _check_step_args(w, grad, lr, alpha)
    return (1.0 - lr * alpha) * w - lr * grad


def l1_step(w: Tensor, grad: Tensor, *, lr: float, alpha: float) -> Tensor:
    r"""One subgradient step on :math:`J + \alpha\|w\|_1`, as on the lecture's slide.

    Parameters
    ----------
    w : Tensor
        Current weights.
    grad : Tensor of the shape of ``w``
        Gradient of the unregularized cost.
    lr : float > 0
        Learning rate.
    alpha : float >= 0
        Penalty weight.

    Returns
    -------
    Tensor
        :math:`w - \epsilon(\nabla J(w) + \alpha\,\mathrm{sign}(w))`.

    Notes
    -----
    The penalty's pull has constant size ``lr * alpha`` whatever ``|w|``; near zero the
    update jumps across zero and back rather than landing on it. The proximal step
    ``soft_threshold(w - lr * grad, lr * alpha)`` lands exactly on zero.

    Examples
    --------
    >>> l1_step(torch.tensor([1.0, -1.0]), torch.zeros(2), lr=0.1, alpha=1.0)
    tensor([ 0.9000, -0.9000])
    """
    lr, alpha = _check_step_args(w, grad, lr, alpha)
    return w - lr * (grad + alpha * torch.sign(w))


def soft_threshold(w: Tensor, threshold) -> Tensor:
    r"""Shrink magnitudes by ``threshold``, stopping at zero: :math:`\mathrm{sign}(w)\max(|w|-t, 0)`.

    Parameters
    ----------
    w : Tensor
        Values to shrink.
    threshold : float >= 0 or Tensor broadcastable to ``w`` with entries >= 0
        Amount of shrinkage, e.g. ``alpha / H_ii`` for the L1 solution with a diagonal Hessian.

    Returns
    -------
    Tensor
        Same shape as ``w``; entries with ``|w| <= threshold`` are exactly zero.

    Notes
    -----
    The minimiser of :math:`\tfrac{h}{2}(w - w^*)^2 + \alpha|w|` is
    ``soft_threshold(w_star, alpha / h)`` (lecture, "L1 regularization").

    Examples
    --------
    >>> soft_threshold(torch.tensor([3.0, 0.5, -2.0]), 1.0)
    tensor([ 2.,  0., -1.])
    >>> soft_threshold(torch.tensor([-0.5]), 1.0) == 0  # a zero (printed -0. for negative w)
    tensor([True])
    """
    check_tensor("w", w, floating=True)
    if isinstance(threshold, Tensor) and threshold.numel() > 1:
        if (threshold.is_floating_point() and torch.isnan(threshold).any()) or (threshold < 0).any():
            raise ValueError("threshold must have entries in [0, inf), but some are negative or NaN")
        t = threshold.to(w.dtype)
    else:
        t = check_real("threshold", threshold, low=0.0, high=float("inf"))
    return torch.sign(w) * torch.clamp(w.abs() - t, min=0.0)
