"""Noise on the labels: corrupted labels, smoothed targets and calibration.

Lecture, "Injecting noise into outputs": if a recorded label is wrong with probability eps,
train on the expected target of a recorded label instead of its one-hot code.

- :func:`corrupt_labels`: flip a label to a uniformly chosen *other* class (the noise model);
- :func:`smooth_labels`: the smoothed targets, 1 - eps and eps/(k-1);
- :func:`smoothed_cross_entropy`: cross-entropy against them (one eps per stacked member);
- :func:`expected_calibration_error`: how far confidence is from accuracy.

The functions are also importable from :mod:`reglab.noise`, which covers noise on the inputs
and on the weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import check_int, check_real, check_tensor, rand_like_device, randint_like_device

__all__ = ["corrupt_labels", "smooth_labels", "smoothed_cross_entropy", "expected_calibration_error"]


def _check_labels(labels, num_classes: int) -> Tensor:
    check_tensor("labels", labels)
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of class indices, but got dtype {labels.dtype}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes - 1}] for num_classes={num_classes}, "
            f"but got values from {labels.min().item()} to {labels.max().item()}"
        )
    return labels


def corrupt_labels(
    labels: Tensor, prob: float, num_classes: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Replace each label, with probability ``prob``, by a uniformly chosen *other* class.

    Parameters
    ----------
    labels : LongTensor of shape (...)
    prob : float in [0, 1]
    num_classes : int >= 2
    generator : torch.Generator, optional

    Returns
    -------
    LongTensor of the shape of ``labels``

    Notes
    -----
    This is the noise model behind label smoothing: the recorded label is right with
    probability 1 - prob and otherwise any of the k - 1 wrong classes, equally likely, so the
    expected one-hot target of a recorded label is exactly :func:`smooth_labels` with eps = prob.

    Examples
    --------
    >>> y = torch.zeros(1000, dtype=torch.long)
    >>> noisy = corrupt_labels(y, 0.2, 10, generator=torch.Generator().manual_seed(0))
    >>> round((noisy != y).double().mean().item(), 1)
    0.2
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    _check_labels(labels, num_classes)
    prob = check_real("prob", prob, low=0.0, high=1.0)
    flip = rand_like_device(labels.shape, like=labels, generator=generator, dtype=torch.get_default_dtype()) < prob
    # An offset in 1..k-1 added modulo k gives each of the other classes with probability 1/(k-1).
    offset = randint_like_device(1, num_classes, labels.shape, like=labels, generator=generator)
    return torch.where(flip, (labels + offset) % num_classes, labels)


def _check_eps(eps, name: str = "eps"):
    if isinstance(eps, Tensor) and eps.numel() > 1:
        check_tensor(name, eps, ndim=1, floating=True)
        if torch.isnan(eps).any() or (eps < 0).any() or (eps >= 1).any():
            raise ValueError(f"{name} must be in [0, 1) for every member, but got {eps.tolist()}")
        return eps
    return check_real(name, eps, low=0.0, high=1.0, high_open=True)


def smooth_labels(labels: Tensor, num_classes: int, eps: float, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """Smoothed one-hot targets: 1 - eps for the labelled class, eps/(k-1) for each other class.

    Parameters
    ----------
    labels : LongTensor of shape (n,) (any shape works; a class dimension is appended)
    num_classes : int >= 2
        k.
    eps : float in [0, 1)
        Probability that a recorded label is wrong (the lecture's epsilon; not a learning rate).
    dtype : floating torch.dtype
        Of the targets. float64 by default (labels carry no dtype to follow, and the chapter's
        closed forms compare in float64); pass the model's dtype, e.g. ``logits.dtype``, to train.

    Returns
    -------
    Tensor of shape (n, k), on the device of ``labels``
        Rows sum to one.

    Notes
    -----
    Lecture, "Solution: smooth labels": if the training label is right with probability
    1 - eps, replace the 1 of the one-hot code by 1 - eps and each 0 by eps/(k-1).
    PyTorch's ``label_smoothing=e`` instead mixes with the uniform distribution (e/k on every
    class); the two agree for e = eps k/(k-1) (see :mod:`reglab.derivations.label_smoothing`).

    Examples
    --------
    >>> smooth_labels(torch.tensor([1]), 3, 0.2)
    tensor([[0.1000, 0.8000, 0.1000]], dtype=torch.float64)
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    _check_labels(labels, num_classes)
    eps = check_real("eps", eps, low=0.0, high=1.0, high_open=True)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, but got {dtype!r}")
    onehot = F.one_hot(labels, num_classes).to(dtype)
    return onehot * (1.0 - eps) + (1.0 - onehot) * (eps / (num_classes - 1))


def smoothed_cross_entropy(logits: Tensor, labels: Tensor, eps, *, reduction: str = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against :func:`smooth_labels` targets.

    Parameters
    ----------
    logits : Tensor of shape (n, k), or (M, n, k) for M stacked models
    labels : LongTensor of shape (n,) or (M, n)
    eps : float in [0, 1), or Tensor of shape (M,) (one per stacked model)
    reduction : {"mean", "none"}
        ``"mean"`` averages over the n examples (a scalar, or shape (M,) for stacked logits);
        ``"none"`` returns one loss per example.

    Returns
    -------
    Tensor

    Notes
    -----
    ``-sum_j q_j log softmax(z)_j`` with q the smoothed target. Written as
    ``(1 - eps) * CE + eps/(k-1) * sum_{j != y} (-log p_j)``. Equals
    ``F.cross_entropy(logits, labels, label_smoothing=eps * k / (k - 1))``.

    Examples
    --------
    >>> z = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64)
    >>> y = torch.tensor([0])
    >>> torch.allclose(smoothed_cross_entropy(z, y, 0.1), F.cross_entropy(z, y, label_smoothing=0.15))
    True
    """
    check_tensor("logits", logits, ndim=(2, 3), floating=True)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be one of 'mean', 'none', but got {reduction!r}")
    k = logits.shape[-1]
    if k < 2:
        raise ValueError(f"logits must have at least 2 classes on the last dimension, but got {k}")
    _check_labels(labels, k)
    if labels.shape != logits.shape[:-1] and not (logits.dim() == 3 and labels.shape == logits.shape[1:2]):
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match logits of shape {tuple(logits.shape)}"
        )
    eps = _check_eps(eps)
    if isinstance(eps, Tensor):
        if logits.dim() != 3 or eps.shape[0] != logits.shape[0]:
            raise ValueError(
                f"a tensor eps needs stacked logits (M, n, k) with M = {eps.shape[0]}, "
                f"but got {tuple(logits.shape)}"
            )
        eps = eps.to(logits.dtype).view(-1, 1)
    logp = logits - logits.logsumexp(-1, keepdim=True)  # log-softmax, computed stably
    true = -torch.gather(logp, -1, labels.expand(logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    others = -logp.sum(-1) - true
    # With eps = 0 the other classes carry no weight: a masked (-inf) logit must not turn 0 * inf
    # into NaN, as F.cross_entropy does not.
    if isinstance(eps, Tensor):
        spread = torch.where(eps > 0, eps / (k - 1) * others, torch.zeros_like(others))
    else:
        spread = eps / (k - 1) * others if eps > 0 else torch.zeros_like(others)
    per_example = (1 - eps) * true + spread
    return per_example.mean(-1) if reduction == "mean" else per_example


def expected_calibration_error(probs: Tensor, labels: Tensor, *, num_bins: int = 15) -> Tensor:
    """Expected calibration error: the confidence-accuracy gap averaged over confidence bins.

    Parameters
    ----------
    probs : Tensor of shape (n, k), or (M, n, k) for M models
        Predicted class probabilities (rows sum to one).
    labels : LongTensor of shape (n,)
    num_bins : int >= 1
        Equal-width bins of the confidence max_j p_j over [0, 1].

    Returns
    -------
    Tensor
        A scalar, or shape (M,).

    Notes
    -----
    ``ECE = sum_b (n_b / n) |acc(b) - conf(b)|`` over bins b of the top-class confidence
    (Guo et al. 2017, eq. 3; bins are (lo, hi], the first one includes 0).

    Examples
    --------
    >>> p = torch.tensor([[0.9, 0.1], [0.9, 0.1]], dtype=torch.float64)
    >>> round(expected_calibration_error(p, torch.tensor([0, 1])).item(), 6)
    0.4
    """
    check_tensor("probs", probs, ndim=(2, 3), floating=True)
    check_tensor("labels", labels, ndim=1)
    num_bins = check_int("num_bins", num_bins, low=1)
    _check_labels(labels, probs.shape[-1])
    if probs.shape[-2] != labels.shape[0] or labels.shape[0] == 0:
        raise ValueError(
            f"probs have {probs.shape[-2]} rows but labels has {labels.shape[0]} entries (need >= 1)"
        )
    conf, pred = probs.max(-1)
    correct = (pred == labels).to(torch.float64)
    conf = conf.to(torch.float64)
    bins = torch.clamp(torch.ceil(conf * num_bins).long() - 1, 0, num_bins - 1)
    onehot = F.one_hot(bins, num_bins).to(torch.float64)  # (..., n, B)
    gap = (onehot * (correct - conf).unsqueeze(-1)).sum(-2).abs()  # |sum over bin of (acc - conf)|
    return gap.sum(-1) / labels.shape[0]
