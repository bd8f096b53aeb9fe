"""Adversarial examples: the linearity explanation of FGSM, checked (chapter "adversarial_training").

Results:

- **ADV-1** (derivation): for a linear activation ``a(x) = w . x + b``, the FGSM step
  ``eps * sign(w)`` moves ``a`` by exactly ``eps * ||w||_1``, the maximum over the L-infinity
  ball of radius eps (checked against all 2^d vertices of the ball and against
  :func:`reglab.adversarial.fgsm` on an ``nn.Linear``); for weights of fixed typical size this
  grows like d (:func:`check_adv1_growth`, a subcheck: an LP solver against the closed-form
  expectation, each dimension within its own standard error).
- **ADV-2, ADV-3, ADV-4** (experiments, registered and run in
  :mod:`reglab.experiments.adversarial_training`):
  accuracy vs eps on digits; adversarial training over seeds; transfer between models.
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
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "check_adv1",
    "check_adv1_growth",
    "check_adv5",
    "growth_table",
    "linear_fgsm_shift",
    "vertex_max_shift",
]

CHAPTER = "adversarial_training"


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


def _fgsm_step(model: nn.Linear, x: Tensor, y: Tensor, eps: float) -> Tensor:
    return fgsm(model, x, y, eps)


def _descent_step(model: nn.Linear, x: Tensor, y: Tensor, eps: float) -> Tensor:
    """Planted: the step x - eps sign(grad J), against the gradient."""
    x_req = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x_req), y, reduction="sum"), x_req)
    return x - eps * grad.sign()


def _l2_shift(w: Tensor, eps: float) -> Tensor:
    """Planted: eps times the Euclidean norm (the L2 ball's answer)."""
    return eps * w.norm()


def _largest_weight_shift(w: Tensor, eps: float) -> Tensor:
    """Planted: eps times the largest weight (one pixel moved)."""
    return eps * w.abs().max()


def _descent_shift(w: Tensor, eps: float) -> Tensor:
    """Planted: the activation falls by eps ||w||_1 (FGSM read as a descent step)."""
    return -linear_fgsm_shift(w, eps)


@derivation(
    "ADV-1",
    claim_tex=(
        r"For a linear model FGSM moves the activation by exactly $\epsilon\lVert w\rVert_1$, the maximum "
        r"over the $L^\infty$ ball of radius $\epsilon$; for weights $w_i \sim \mathcal{N}(0, 1)$ that "
        r"maximum is $\epsilon d\sqrt{2/\pi}$ on average: it grows like the dimension $d$."
    ),
    chapter=CHAPTER,
    claim=(
        "For a linear model FGSM moves the activation by exactly eps·‖w‖₁, the maximum over the L∞ "
        "ball of radius eps; for weights w_i ~ N(0, 1) that maximum is eps·d·sqrt(2/π) on average: "
        "it grows like the dimension d."
    ),
    label="vertices and fgsm()",
    planted=(
        Planted("eps·‖w‖₂", "the shift is the Euclidean norm times eps (the L2 ball's answer)", kind="student"),
        Planted("eps·‖w‖∞", "the shift is eps times the largest weight (one pixel moved)", kind="student"),
        Planted("x - eps·sign", "FGSM steps against the gradient, x - eps sign(grad J): the margin falls",
                kind="student"),
    ),
)
def check_adv1(d: int = 10, eps: float = 0.1, n_inputs: int = 5, seed: int = 0, *, planted=None) -> Check:
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
    closed_form, step = choose(planted, (linear_fgsm_shift, _fgsm_step), {
        "eps·‖w‖₂": (_l2_shift, _fgsm_step),
        "eps·‖w‖∞": (_largest_weight_shift, _fgsm_step),
        "x - eps·sign": (linear_fgsm_shift, _descent_step),
    })
    shifts = _margin(model, step(model, x, y, eps)) - _margin(model, x)
    closed = closed_form(w, eps)
    empirical = torch.cat([vertex_max_shift(w, eps).reshape(1), shifts])
    return compare(
        "ADV-1",
        closed.expand(empirical.shape),
        empirical,
        rtol=1e-12,
        analytic_label="eps·‖w‖₁ (closed form)",
        empirical_label=f"max over 2^{d} vertices, fgsm() at {n_inputs} inputs",
        label="vertices and fgsm()",
    )


def growth_table(dims=(4, 16, 64, 256, 1024, 4096), *, eps: float = 0.01, total: int = 16384, seed: int = 0) -> dict:
    """Largest and random-sign shifts of a linear activation for weights w_i ~ N(0, 1), by dimension.

    For each d, ``total // d`` weight vectors are drawn (so every d averages ``total`` weights).

    Returns
    -------
    dict of numpy arrays, one entry per d
        ``d``; ``lp_max``: mean over the draws of ``max w . eta`` over the ball
        ``max_i |eta_i| <= eps``, solved as one linear program (scipy's HiGHS) over the whole
        ball; ``lp_stderr``: its standard error (eps * d * sample sd of abs(w_i) / sqrt(total
        weights)); ``closed_max``: mean of ``eps * ||w||_1``; ``expected_max``: ``eps * d * sqrt(2/pi)``;
        ``random_shift``: mean of ``|w . eta|`` for a random sign vector ``eta`` of size eps;
        ``expected_random``: ``eps * sqrt(2 * d / pi)``.
    """
    from scipy.optimize import linprog

    eps = check_real("eps", eps, low=0.0, high=math.inf, low_open=True, high_open=True)
    total = check_int("total", total, low=1)
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("d", "lp_max", "lp_stderr", "closed_max", "expected_max", "random_shift",
                            "expected_random")}
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
        rows["lp_stderr"].append(eps * np.abs(w).std(ddof=1) * d / math.sqrt(repeats * d))
        rows["closed_max"].append(float(linear_fgsm_shift(torch.from_numpy(w), eps).mean()))
        rows["expected_max"].append(eps * d * math.sqrt(2 / math.pi))
        rows["random_shift"].append(float(np.abs((w * signs).sum(1)).mean() * eps))
        rows["expected_random"].append(eps * math.sqrt(2 * d / math.pi))
    return {k: np.asarray(v) for k, v in rows.items()}


def _expected_max(table: dict, eps: float) -> np.ndarray:
    return table["expected_max"]


def _unit_mean_magnitude(table: dict, eps: float) -> np.ndarray:
    """Planted: E|w_i| taken as 1, the standard deviation."""
    return eps * table["d"].astype(np.float64)


def _random_direction_growth(table: dict, eps: float) -> np.ndarray:
    """Planted: the worst case growing like a random direction's shift, eps sqrt(2d/pi)."""
    return eps * np.sqrt(2 * table["d"].astype(np.float64) / math.pi)


@subcheck(
    "ADV-1",
    label="growth with d (LP solver)",
    planted=(
        Planted("E|w| = 1", "takes the mean magnitude of a standard normal weight for its sd, 1 (not sqrt(2/π))",
                kind="student"),
        Planted("grows like sqrt(d)", "the worst case grows like the random direction, eps·sqrt(2d/π)",
                kind="student"),
    ),
)
def check_adv1_growth(dims=(4, 16, 64, 256, 1024, 4096), *, eps: float = 0.01, total: int = 16384, seed: int = 0,
                      planted=None) -> Check:
    """The largest shift is ``eps * d * E|w_i| = eps * d * sqrt(2/pi)`` on average: it grows like d.

    Closed-form expectation per dimension against the mean of linear-program maxima over
    ``total`` weights per d, each within its own standard error (:func:`~reglab.derivations.compare.compare_mc`).
    """
    expectation = choose(planted, _expected_max, {
        "E|w| = 1": _unit_mean_magnitude,
        "grows like sqrt(d)": _random_direction_growth,
    })
    table = growth_table(dims, eps=eps, total=total, seed=seed)
    expected = expectation(table, eps)
    return compare_mc(
        "ADV-1",
        expected,
        table["lp_max"],
        table["lp_stderr"],
        analytic_label="eps·d·sqrt(2/π)",
        empirical_label="mean LP maximum",
        digits=4,
        note=f"d = {', '.join(str(int(v)) for v in table['d'])}; {total} weights per d",
        label="growth with d (LP solver)",
    )


@derivation(
    "ADV-5",
    claim_tex=(
        r"For a two-class linear softmax classifier the loss at the FGSM point is "
        r"$\operatorname{softplus}(m + \epsilon\lVert w\rVert_1)$, $m$ the margin: an L1 norm inside the "
        r"loss."
    ),
    chapter=CHAPTER,
    claim="For a two-class linear softmax classifier the loss at the FGSM point is softplus(margin + eps·‖w‖₁): an L1 norm inside the loss.",
    label="closed form vs cross-entropy at fgsm()",
    planted=(
        Planted("eps·‖w‖₂", "the Euclidean norm inside the loss (the answer for an L2-bounded attack)",
                kind="student"),
        Planted("x - eps·sign", "FGSM read as a descent step: softplus(margin - eps·‖w‖₁)", kind="student"),
    ),
)
def check_adv5(d: int = 8, eps: float = 0.05, n_inputs: int = 6, seed: int = 1, *, planted=None) -> Check:
    """softplus(a(x) + eps ||w||_1) (closed form) vs torch's cross-entropy at fgsm()'s output."""
    d = check_int("d", d, low=1)
    g = torch.Generator().manual_seed(seed)
    model = _margin_model(d, g)
    w = (model.weight[1] - model.weight[0]).detach()
    x = torch.rand(n_inputs, d, generator=g, dtype=torch.float64)
    y = torch.zeros(n_inputs, dtype=torch.long)
    shift = choose(planted, linear_fgsm_shift, {"eps·‖w‖₂": _l2_shift, "x - eps·sign": _descent_shift})
    closed = F.softplus(_margin(model, x) + shift(w, eps))
    with torch.no_grad():
        measured = F.cross_entropy(model(fgsm(model, x, y, eps)), y, reduction="none")
    return compare(
        "ADV-5",
        closed,
        measured,
        atol=1e-12,  # one tolerance for every entry: the printed bound does not depend on the CPU
        analytic_label="softplus(a(x) + eps·‖w‖₁)",
        empirical_label="cross-entropy at fgsm(x)",
        label="closed form vs cross-entropy at fgsm()",
    )
