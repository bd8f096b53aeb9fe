"""Label smoothing: LS-1, LS-2, LS-3, LS-4.

If a training label is right with probability 1 - eps and otherwise one of the other k - 1
classes at random, the expected one-hot target is the smoothed target (LS-1):
1 - eps for the recorded class and eps/(k-1) for every other class.

PyTorch's ``label_smoothing=e`` mixes the one-hot target with the uniform distribution
instead, (1 - e) onehot + e/k, which puts 1 - e(k-1)/k on the true class. The two coincide
for e = eps k/(k-1) (LS-2).

With smoothed targets the cross-entropy has a finite minimiser over the logits: the softmax
equals the target, so every wrong class sits log((1-eps)(k-1)/eps) below the true one (LS-3).
Without smoothing the infimum is not attained: gradient descent drives the gap up without bound.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_int, check_real
from ..noise import corrupt_labels, smooth_labels, smoothed_cross_entropy
from .augmentation import Z_999
from .core import Check, compare, derivation, experiment

__all__ = [
    "pytorch_label_smoothing",
    "optimal_logit_gap",
    "check_targets",
    "check_pytorch_relation",
    "minimise_logits",
    "logit_gap_path",
    "check_finite_logits",
]

CHAPTER = "label_smoothing"


def _check_k_eps(num_classes, eps):
    num_classes = check_int("num_classes", num_classes, low=2)
    eps = check_real("eps", eps, low=0.0, high=1.0, high_open=True)
    return num_classes, eps


def pytorch_label_smoothing(eps: float, num_classes: int) -> float:
    """PyTorch's ``label_smoothing`` value that reproduces our eps: ``eps * k / (k - 1)``.

    Parameters
    ----------
    eps : float in [0, (k-1)/k]
        Our smoothing: 1 - eps on the labelled class, eps/(k-1) on each other class.
    num_classes : int >= 2

    Returns
    -------
    float in [0, 1]

    Notes
    -----
    PyTorch's target is (1 - e) onehot + e/k: the labelled class gets 1 - e (k-1)/k and each
    other class e/k. Setting e/k = eps/(k-1) gives e = eps k/(k-1), and then the labelled class
    gets 1 - eps as well. PyTorch accepts e <= 1 only, so eps beyond (k-1)/k (targets that
    favour a wrong class) has no PyTorch equivalent.

    Examples
    --------
    >>> round(pytorch_label_smoothing(0.09, 10), 12)
    0.1
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    limit = (num_classes - 1) / num_classes
    if eps > limit:
        raise ValueError(
            f"eps must be <= (k-1)/k = {limit:g} for PyTorch's label_smoothing (which must be <= 1), "
            f"but got {eps}"
        )
    return eps * num_classes / (num_classes - 1)


def optimal_logit_gap(eps: float, num_classes: int) -> float:
    """Gap between the true class's logit and every other logit at the smoothed-CE optimum.

    Parameters
    ----------
    eps : float in (0, 1)
    num_classes : int >= 2

    Returns
    -------
    float
        ``log((1 - eps) (k - 1) / eps)``: the log-ratio of the smoothed target's entries.

    Examples
    --------
    >>> round(optimal_logit_gap(0.1, 10), 4)
    4.3944
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    if eps == 0:
        raise ValueError("eps must be in (0, 1): without smoothing the optimal gap is infinite, but got 0.0")
    return math.log((1 - eps) * (num_classes - 1) / eps)


# ----------------------------------------------------------------------------- LS-1
def check_targets(
    *, eps: float = 0.1, num_classes: int = 10, label: int = 6, num_draws: int = 400000, seed: int = 0
) -> Check:
    """LS-1: smoothed target vs the frequencies of a corrupted label (simulated noise model)."""
    num_classes, eps = _check_k_eps(num_classes, eps)
    label = check_int("label", label, low=0, high=num_classes - 1)
    num_draws = check_int("num_draws", num_draws, low=2)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    recorded = corrupt_labels(torch.full((num_draws,), label), eps, num_classes, generator=g)
    freq = torch.bincount(recorded, minlength=num_classes).to(torch.float64) / num_draws
    variance = max(q * (1 - q) for q in (1 - eps, eps / (num_classes - 1)))
    se = math.sqrt(variance / num_draws)
    return compare(
        "LS-1",
        smooth_labels(torch.tensor([label]), num_classes, eps)[0],
        freq,
        atol=Z_999 * se,
        analytic_label="smooth_labels: 1 - eps, eps/(k-1)",
        empirical_label=f"frequencies of a label corrupted {num_draws} times",
        digits=4,
        note=f"label {label} of k = {num_classes}, eps = {eps}; tolerance = {Z_999} binomial standard errors "
        "(99.9 %) at the largest variance",
    )


@derivation(
    "LS-1",
    chapter=CHAPTER,
    claim="Smoothed targets are 1 - eps for the labelled class and eps/(k-1) for the others: the expected "
    "one-hot code of a label that is wrong with probability eps.",
)
def _ls1() -> Check:
    return check_targets()


# ----------------------------------------------------------------------------- LS-2
def check_pytorch_relation(
    *, epsilons=(0.05, 0.1, 0.3), num_classes: int = 10, n: int = 64, seed: int = 0
) -> Check:
    """LS-2: our smoothed cross-entropy with eps vs ``F.cross_entropy(label_smoothing=eps k/(k-1))``."""
    num_classes = check_int("num_classes", num_classes, low=2)
    n = check_int("n", n, low=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    logits = 3 * torch.randn(n, num_classes, generator=g, dtype=torch.float64)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    ours = [smoothed_cross_entropy(logits, labels, e).item() for e in epsilons]
    theirs = [
        F.cross_entropy(logits, labels, label_smoothing=pytorch_label_smoothing(e, num_classes)).item()
        for e in epsilons
    ]
    return compare(
        "LS-2",
        np.array(ours),
        np.array(theirs),
        rtol=1e-12,
        atol=1e-12,
        analytic_label="smoothed_cross_entropy(eps)",
        empirical_label="F.cross_entropy(label_smoothing=eps k/(k-1))",
        note=f"eps = {', '.join(map(str, epsilons))}; k = {num_classes}; {n} random logits",
    )


@derivation(
    "LS-2",
    chapter=CHAPTER,
    claim="PyTorch's label_smoothing=e puts e/k on every class; ours with eps equals PyTorch's with "
    "e = eps k/(k-1) (the loss values agree).",
)
def _ls2() -> Check:
    return check_pytorch_relation()


# ----------------------------------------------------------------------------- LS-3
def minimise_logits(eps: float, num_classes: int, *, label: int = 0, max_iter: int = 100) -> Tensor:
    """Minimise the smoothed cross-entropy of one example over its logits, numerically.

    Damped Newton's method with the Hessian from autograd (the loss is convex; its Hessian
    diag(p) - p p^T is singular along the all-ones direction, so each step is the minimum-norm
    least-squares solution), with backtracking until the loss decreases.

    Parameters
    ----------
    eps : float in (0, 1)
    num_classes : int >= 2
    label : int
    max_iter : int

    Returns
    -------
    Tensor of shape (k,), float64
        The minimising logits, shifted to mean zero (logits are defined up to a constant).
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    label = check_int("label", label, low=0, high=num_classes - 1)
    max_iter = check_int("max_iter", max_iter, low=1)
    y = torch.tensor([label])

    def loss(z):
        return smoothed_cross_entropy(z.unsqueeze(0), y, eps)

    z = torch.zeros(num_classes, dtype=torch.float64)
    for _ in range(max_iter):
        grad = torch.func.grad(loss)(z)
        if grad.abs().max() < 1e-13:
            break
        hessian = torch.func.jacrev(torch.func.grad(loss))(z)
        step = torch.linalg.lstsq(hessian, grad.unsqueeze(1), driver="gelsd").solution[:, 0]
        t, current = 1.0, loss(z)
        while loss(z - t * step) > current + 1e-12 * abs(current) and t > 1e-8:
            t /= 2
        z = z - t * step
    return z - z.mean()


def logit_gap_path(eps, num_classes: int, *, steps: int = 1000, lr: float = 1.0) -> np.ndarray:
    """Gap (true logit minus any other) along gradient descent on one example's logits from zero.

    Parameters
    ----------
    eps : float in [0, 1), or a sequence of them
        0 gives plain cross-entropy. Several values are run side by side.
    num_classes : int >= 2
    steps : int
    lr : float > 0

    Returns
    -------
    numpy.ndarray of shape (steps + 1,), or (len(eps), steps + 1)
        The gap after each step; it converges to :func:`optimal_logit_gap` for eps > 0 and
        grows without bound (like the log of the number of steps) for eps = 0.

    Examples
    --------
    >>> path = logit_gap_path([0.0, 0.1], 10, steps=2000)
    >>> round(float(path[1, -1]), 4), bool(path[0, -1] > path[0, 1000] > path[1, -1])
    (4.3944, True)
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    single = np.ndim(eps) == 0
    values = [eps] if single else list(eps)
    if not values:
        raise ValueError("eps must hold at least one value, but got an empty sequence")
    values = [_check_k_eps(num_classes, e)[1] for e in values]
    steps = check_int("steps", steps, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    E = len(values)
    e = torch.tensor(values, dtype=torch.float64) if E > 1 else values[0]
    z = torch.zeros(E, 1, num_classes, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(1, dtype=torch.long)
    gaps = [np.zeros(E)]
    for _ in range(steps):
        loss = smoothed_cross_entropy(z, y, e).sum()
        (grad,) = torch.autograd.grad(loss, z)
        with torch.no_grad():
            z -= lr * grad
        gaps.append((z[:, 0, 0] - z[:, 0, 1]).detach().numpy().copy())
    path = np.stack(gaps, axis=1)
    return path[0] if single else path


def check_finite_logits(*, epsilons=(0.01, 0.1, 0.3), num_classes: int = 10) -> Check:
    """LS-3: closed-form gap and softmax at the optimum vs a numerical minimiser (Newton)."""
    num_classes = check_int("num_classes", num_classes, low=2)
    analytic, empirical = [], []
    for e in epsilons:
        z = minimise_logits(e, num_classes)
        p = torch.softmax(z, -1)
        analytic += [optimal_logit_gap(e, num_classes), 1 - e, e / (num_classes - 1)]
        empirical += [(z[0] - z[1:]).mean().item(), p[0].item(), p[1:].mean().item()]
    return compare(
        "LS-3",
        np.array(analytic),
        np.array(empirical),
        atol=1e-8,
        analytic_label="[log((1-eps)(k-1)/eps), 1-eps, eps/(k-1)]",
        empirical_label="Newton minimiser: [gap, softmax true, softmax other]",
        note=f"eps = {', '.join(map(str, epsilons))}; k = {num_classes}",
    )


@derivation(
    "LS-3",
    chapter=CHAPTER,
    claim="With smoothing the optimal logits are finite: softmax equals the smoothed target and the logit "
    "gap is log((1-eps)(k-1)/eps); without smoothing the gap grows without bound.",
)
def _ls3() -> Check:
    return check_finite_logits()


experiment(
    "LS-4",
    chapter=CHAPTER,
    claim="MNIST-1D with a fraction of flipped training labels: accuracy and expected calibration error "
    "with and without label smoothing (multi-seed).",
)
