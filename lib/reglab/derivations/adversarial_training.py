"""Adversarial examples: the linearity explanation of FGSM, checked (chapter "adversarial_training").

Results:

- **ADV-1** (derivation): for a linear activation ``a(x) = w . x + b``, the FGSM step
  ``eps * sign(w)`` moves ``a`` by exactly ``eps * ||w||_1``, the maximum over the L-infinity
  ball of radius eps (checked against all 2^d vertices of the ball and against
  :func:`reglab.adversarial.fgsm` on an ``nn.Linear``); for weights of fixed typical size this
  grows like d (:func:`check_adv1_growth`: an LP solver against the closed-form expectation).
- **ADV-2, ADV-3, ADV-4** (experiments, measured in the chapter): accuracy vs eps on digits;
  adversarial training over seeds; transfer between independently trained models.
- **ADV-5** (derivation, beyond the lecture): for a two-class linear softmax classifier the loss
  at the FGSM point is ``softplus(margin + eps * ||w||_1)``: adversarial training puts an L1 norm
  of the weights inside the loss (Goodfellow et al. 2015, section 5).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int, check_real, check_tensor
from ..adversarial import fgsm
from .core import Check, compare, derivation, experiment

__all__ = [
    "linear_fgsm_shift",
    "vertex_max_shift",
    "check_adv1",
    "check_adv1_growth",
    "growth_table",
    "check_adv5",
    "transfer_matrix",
]

CHAPTER = "adversarial_training"
_Z999 = 3.2905  # two-sided 99.9 % normal quantile, for Monte Carlo tolerances


def linear_fgsm_shift(w: Tensor, eps: float) -> Tensor:
    r"""Largest change of a linear activation ``w . x`` over the L-infinity ball: ``eps * ||w||_1``.

    Parameters
    ----------
    w : float Tensor of shape (d,) or (..., d)
        Weights (one row per activation).
    eps : float >= 0
        Radius of the ball (the attack size).

    Returns
    -------
    Tensor of shape () or (...)

    Notes
    -----
    :math:`\max_{\|\eta\|_\infty \le \epsilon} w^\top \eta = \epsilon \sum_i |w_i|`, attained
    at :math:`\eta = \epsilon\,\mathrm{sign}(w)`, the FGSM step (Goodfellow et al. 2015,
    section 3; lecture slide "Adversarial examples").

    Examples
    --------
    >>> round(float(linear_fgsm_shift(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), 0.1)), 12)
    0.35
    """
    check_tensor("w", w, floating=True, finite=True)
    if w.dim() == 0:
        raise ValueError("w must have at least 1 dimension (the features), but got a scalar")
    eps = check_real("eps", eps, low=0.0, high=math.inf, high_open=True)
    return eps * w.abs().sum(-1)


def vertex_max_shift(w: Tensor, eps: float) -> Tensor:
    """Brute force: ``max over all 2^d vertices eta of the ball of w . eta`` (d <= 20).

    Parameters
    ----------
    w : float Tensor of shape (d,)
    eps : float >= 0

    Returns
    -------
    Tensor of shape ()
    """
    check_tensor("w", w, ndim=1, floating=True, finite=True)
    check_int("w.shape[0]", w.shape[0], low=1, high=20)
    eps = check_real("eps", eps, low=0.0, high=math.inf, high_open=True)
    vertices = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=w.shape[0])), dtype=w.dtype) * eps
    return (vertices @ w).max()


def _margin_model(d: int, generator: torch.Generator) -> nn.Linear:
    """A two-class linear classifier with standard normal weights, in float64."""
    model = nn.Linear(d, 2, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, d, generator=generator, dtype=torch.float64))
        model.bias.copy_(torch.randn(2, generator=generator, dtype=torch.float64))
    return model


def _margin(model: nn.Linear, x: Tensor) -> Tensor:
    """Activation a(x) = z_1 - z_0 of a two-class linear classifier (positive: class 1 wins)."""
    with torch.no_grad():
        z = model(x)
    return z[..., 1] - z[..., 0]


@derivation(
    "ADV-1",
    chapter=CHAPTER,
    claim="For a linear model FGSM moves the activation by exactly eps·‖w‖₁, the maximum over the L∞ ball of radius eps.",
)
def check_adv1(d: int = 10, eps: float = 0.1, n_inputs: int = 5, seed: int = 0) -> Check:
    """eps ||w||_1 (closed form) vs brute force over the 2^d vertices and vs fgsm() on nn.Linear.

    The classifier has two classes and true class 0, so the cross-entropy increases with the
    margin ``a(x) = (w_1 - w_0) . x + b_1 - b_0``, and FGSM must push ``a`` up by
    ``eps ||w_1 - w_0||_1`` at every input.
    """
    d = check_int("d", d, low=1, high=20)
    g = torch.Generator().manual_seed(seed)
    model = _margin_model(d, g)
    w = (model.weight[1] - model.weight[0]).detach()
    x = torch.rand(n_inputs, d, generator=g, dtype=torch.float64)
    y = torch.zeros(n_inputs, dtype=torch.long)
    shifts = _margin(model, fgsm(model, x, y, eps)) - _margin(model, x)
    closed = linear_fgsm_shift(w, eps)
    empirical = torch.cat([vertex_max_shift(w, eps).reshape(1), shifts])
    return compare(
        "ADV-1",
        closed.expand(empirical.shape),
        empirical,
        rtol=1e-12,
        analytic_label="eps·‖w‖₁ (closed form)",
        empirical_label=f"max over the 2^{d} vertices, then fgsm() on nn.Linear at {n_inputs} inputs",
    )


def growth_table(dims=(4, 16, 64, 256, 1024, 4096), *, eps: float = 0.01, total: int = 16384, seed: int = 0) -> dict:
    """Largest and random-sign shifts of a linear activation for weights w_i ~ N(0, 1), by dimension.

    For each d, ``total // d`` weight vectors are drawn (so every d averages ``total`` weights).

    Returns
    -------
    dict of numpy arrays, one entry per d
        ``d``; ``lp_max``: mean over the draws of ``max w . eta`` over the ball
        ``max_i |eta_i| <= eps``, solved as one linear program (scipy's HiGHS) over the whole
        ball; ``closed_max``: mean of ``eps * ||w||_1``; ``expected_max``: ``eps * d * sqrt(2/pi)``;
        ``random_shift``: mean of ``|w . eta|`` for a random sign vector ``eta`` of size eps;
        ``expected_random``: ``eps * sqrt(2 * d / pi)``.
    """
    from scipy.optimize import linprog

    eps = check_real("eps", eps, low=0.0, high=math.inf, low_open=True, high_open=True)
    total = check_int("total", total, low=1)
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("d", "lp_max", "closed_max", "expected_max", "random_shift", "expected_random")}
    for d in dims:
        d = check_int("d", d, low=1, high=total)
        repeats = total // d
        w = rng.standard_normal((repeats, d))
        # max of sum_r w_r . eta_r over the product of balls = sum over r of each ball's maximum
        solved = linprog(-w.reshape(-1), bounds=(-eps, eps), method="highs")
        if solved.status != 0:
            raise RuntimeError(f"the linear program failed at d={d}: {solved.message}")
        signs = rng.choice((-1.0, 1.0), size=(repeats, d))
        rows["d"].append(d)
        rows["lp_max"].append(-solved.fun / repeats)
        rows["closed_max"].append(float(linear_fgsm_shift(torch.from_numpy(w), eps).mean()))
        rows["expected_max"].append(eps * d * math.sqrt(2 / math.pi))
        rows["random_shift"].append(float(np.abs((w * signs).sum(1)).mean() * eps))
        rows["expected_random"].append(eps * math.sqrt(2 * d / math.pi))
    return {k: np.asarray(v) for k, v in rows.items()}


def check_adv1_growth(dims=(4, 16, 64, 256, 1024, 4096), *, eps: float = 0.01, total: int = 16384, seed: int = 0) -> Check:
    """Per dimension, the largest shift is ``eps * E|w_i| = eps * sqrt(2/pi)``: it grows like d.

    Closed-form expectation against the mean of linear-program maxima over ``total`` weights
    per d; the tolerance is the 99.9 % normal interval of that mean.
    """
    table = growth_table(dims, eps=eps, total=total, seed=seed)
    per_dim = table["lp_max"] / (eps * table["d"])
    mean_abs = math.sqrt(2 / math.pi)
    sd = math.sqrt(1 - 2 / math.pi)  # standard deviation of |w_i| for w_i ~ N(0, 1)
    return compare(
        "ADV-1",
        np.full(per_dim.shape, mean_abs),
        per_dim,
        atol=_Z999 * sd / math.sqrt(total),
        analytic_label="E|w_i| = sqrt(2/π)",
        empirical_label=f"LP maximum / (eps·d), d = {', '.join(str(int(v)) for v in table['d'])}",
        digits=4,
        note=f"Monte Carlo over {total} weights per d; tolerance: 99.9 % normal interval of the mean of |w_i|",
    )


@derivation(
    "ADV-5",
    chapter=CHAPTER,
    claim="For a two-class linear softmax classifier the loss at the FGSM point is softplus(margin + eps·‖w‖₁): an L1 norm inside the loss.",
)
def check_adv5(d: int = 8, eps: float = 0.05, n_inputs: int = 6, seed: int = 1) -> Check:
    """softplus(a(x) + eps ||w||_1) (closed form) vs torch's cross-entropy at fgsm()'s output."""
    d = check_int("d", d, low=1)
    g = torch.Generator().manual_seed(seed)
    model = _margin_model(d, g)
    w = (model.weight[1] - model.weight[0]).detach()
    x = torch.rand(n_inputs, d, generator=g, dtype=torch.float64)
    y = torch.zeros(n_inputs, dtype=torch.long)
    closed = F.softplus(_margin(model, x) + linear_fgsm_shift(w, eps))
    with torch.no_grad():
        measured = F.cross_entropy(model(fgsm(model, x, y, eps)), y, reduction="none")
    return compare(
        "ADV-5",
        closed,
        measured,
        rtol=1e-12,
        analytic_label="softplus(a(x) + eps·‖w‖₁)",
        empirical_label="cross-entropy at fgsm(x)",
    )


def transfer_matrix(source_fooled: Tensor, predictions: Tensor, clean: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """How often adversarial examples made on one model fool another.

    Parameters
    ----------
    source_fooled : BoolTensor of shape (S, n)
        Whether source model s classifies example i correctly when clean and wrongly after its
        own attack (a successful white-box adversarial example).
    predictions : LongTensor of shape (S, T, n)
        Class predicted by target model t for the adversarial version of example i made on
        source model s.
    clean : LongTensor of shape (T, n)
        Predictions of the targets on the clean examples.
    y : LongTensor of shape (n,)
        True labels.

    Returns
    -------
    (error, transfer) : Tensors of shape (S, T)
        ``error``: share of all adversarial examples of source s that target t misclassifies.
        ``transfer``: among the successful adversarial examples of source s that target t
        classifies correctly when clean, the share that target t misclassifies (the
        transferability of Papernot, McDaniel and Goodfellow 2016); NaN if there is none.

    Examples
    --------
    >>> y = torch.tensor([0, 1])
    >>> error, transfer = transfer_matrix(torch.tensor([[True, True]]), torch.tensor([[[1, 1]]]),
    ...                                   torch.tensor([[0, 1]]), y)
    >>> transfer.tolist()
    [[0.5]]
    """
    check_tensor("source_fooled", source_fooled, ndim=2)
    check_tensor("predictions", predictions, ndim=3)
    check_tensor("clean", clean, ndim=2)
    check_tensor("y", y, ndim=1)
    S, T, n = predictions.shape
    if source_fooled.shape != (S, n) or clean.shape != (T, n) or y.shape != (n,):
        raise ValueError(
            f"with predictions of shape {(S, T, n)}, source_fooled must have shape {(S, n)}, clean {(T, n)} "
            f"and y {(n,)}, but got {tuple(source_fooled.shape)}, {tuple(clean.shape)} and {tuple(y.shape)}"
        )
    wrong = predictions != y
    error = wrong.double().mean(-1)
    eligible = source_fooled.bool().unsqueeze(1) & (clean == y).unsqueeze(0)  # (S, T, n)
    transfer = (wrong & eligible).sum(-1).double() / eligible.sum(-1).double()
    return error, transfer


experiment(
    "ADV-2",
    chapter=CHAPTER,
    claim="On real 8x8 digits, an imperceptible FGSM/PGD perturbation collapses a trained network's accuracy as eps grows.",
)
experiment(
    "ADV-3",
    chapter=CHAPTER,
    claim="Adversarial training (FGSM on half of each minibatch) raises accuracy under FGSM and under PGD over 5 seeds; clean accuracy is reported beside it.",
)
experiment(
    "ADV-4",
    chapter=CHAPTER,
    claim="Adversarial examples made on one network fool independently trained networks (and a linear model) at a measured rate, far above random noise of the same size.",
)
