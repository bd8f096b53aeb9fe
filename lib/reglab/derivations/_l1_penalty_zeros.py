"""Chapter ``l1_penalty``, L1-4: exact zeros need the proximal step.

Part of :mod:`reglab.derivations.l1_penalty`, which imports every public name of this module (a
chapter imports that one module; importing it registers L1-4); kept apart so that each file stays
readable.

- L1-4: on the diagonal quadratic of L1-2 the proximal step is exactly zero where the soft
  threshold says so; the lecture's subgradient update instead maps a band of width
  :math:`2\\epsilon\\alpha` onto itself (``subgradient_band``) and keeps changing sign in it;
  L2 weight decay has no zeros.

The diagonal problem ``_diag_problem`` is shared with L1-2 and L1-3.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..penalties import l1_step, soft_threshold, weight_decay_step
from .compare import Check, compare
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "L1_4_LATE",
    "L1_4_LR",
    "L1_4_STEPS",
    "check_l1_4",
    "check_l1_4_band",
    "check_l1_4_band_image",
    "check_l1_4_l2",
    "check_l1_4_sign_changes",
    "subgradient_band",
]

CHAPTER = "l1_penalty"


def _diag_problem():
    """A diagonal problem with both cases and both signs (exact binary fractions)."""
    w_star = torch.tensor([1.5, -0.7, 0.2, -2.4, 0.9, -0.05], dtype=torch.float64)
    h_diag = torch.tensor([1.0, 2.0, 0.5, 4.0, 3.0, 1.0], dtype=torch.float64)
    return w_star, h_diag, 0.5


L1_4_LR, L1_4_STEPS, L1_4_LATE = 0.05, 2000, 1000


def subgradient_band(w_star: Tensor, h_diag: Tensor, alpha: float, lr: float) -> dict:
    r"""Where the subgradient update must stay, for coordinates whose minimiser is 0.

    For :math:`H_{ii}\lvert w^*_i\rvert < \alpha` the update
    :math:`w \leftarrow w - \epsilon(H_{ii}(w - w^*_i) + \alpha\,\mathrm{sign}(w))` maps the band
    :math:`[\epsilon H_{ii} w^*_i - \epsilon\alpha,\ \epsilon H_{ii} w^*_i + \epsilon\alpha]`
    (width :math:`2\epsilon\alpha`, largest excursion :math:`\epsilon(\alpha + H_{ii}\lvert w^*_i\rvert)`)
    into itself, and a positive iterate loses at least :math:`\epsilon(\alpha - H_{ii} w^*_i)` per step
    (a negative one gains :math:`\epsilon(\alpha + H_{ii} w^*_i)`), so it changes sign after at most
    ``max_run`` steps of one sign.

    Returns a dict of Tensors of shape (n,), meaningful where ``h_diag * |w_star| < alpha``:
    ``centre`` (:math:`\epsilon H_{ii} w^*_i`), ``half_width`` (:math:`\epsilon\alpha`) and ``max_run``
    (:math:`\lceil(\alpha + H_{ii}\lvert w^*_i\rvert)/(\alpha - H_{ii}\lvert w^*_i\rvert)\rceil`).
    """
    pull = h_diag * w_star.abs()
    return {"centre": lr * h_diag * w_star, "half_width": torch.full_like(w_star, lr * alpha),
            "max_run": torch.ceil((alpha + pull) / (alpha - pull))}


def _l1_4_path(step) -> Tensor:
    """``L1_4_STEPS`` steps ``w <- step(w, grad J(w))`` on the diagonal problem, from w*."""
    w_star, h_diag, _ = _diag_problem()
    H, w, path = torch.diag(h_diag), w_star, [w_star]
    for _ in range(L1_4_STEPS):
        w = step(w, H @ (w - w_star))
        path.append(w)
    return torch.stack(path)


def _proximal(threshold):  # the steps of L1-4 (rate L1_4_LR), right and wrong
    return lambda w, grad: soft_threshold(w - L1_4_LR * grad, threshold)


def _threshold_first(
    threshold,
):  # the two halves of the proximal step in the wrong order
    return lambda w, grad: soft_threshold(w, threshold) - L1_4_LR * grad


def _subgradient(alpha):
    return lambda w, grad: l1_step(w, grad, lr=L1_4_LR, alpha=alpha)


def _decay(alpha):
    return lambda w, grad: weight_decay_step(w, grad, lr=L1_4_LR, alpha=alpha)


@derivation(
    "L1-4", chapter=CHAPTER, label="proximal: exact zeros",
    claim_tex=(
        r"On the diagonal quadratic of L1-2 ($\epsilon = 0.05$, 2000 steps from $w^*$), the proximal step "
        r"is exactly 0 from some step on on exactly the coordinates $\lvert w^*_i\rvert \le "
        r"\alpha/H_{ii}$; there the lecture's subgradient update maps the band $\epsilon H_{ii} w^*_i \pm "
        r"\epsilon\alpha$ onto itself, its last 1000 iterates stay in that band and change sign at least "
        r"every $m_i + 1$ steps ($m_i$ the longest run of one sign the band allows), never settling at 0; "
        r"L2 weight decay converges to $\frac{H_{ii}}{H_{ii} + \alpha} w^*_i$, with no zero."
    ),
    claim="On the diagonal quadratic of L1-2 (eps = 0.05, 2000 steps from w*), the proximal step is exactly 0 "
    "from some step on on exactly the coordinates |w*_i| <= alpha/H_ii; there the lecture's subgradient update "
    "maps the band eps*H_ii*w*_i +- eps*alpha onto itself, its last 1000 iterates stay in that band and "
    "change sign at least every max_run_i + 1 steps, never settling at 0; L2 weight decay converges to "
    "H_ii/(H_ii + alpha) w*_i, with no zero.",
    planted=(
        Planted(
            "proximal threshold alpha for eps*alpha",
            "the proximal step thresholds at alpha instead of eps*alpha",
            kind="student",
        ),
        Planted(
            "zero set |w*_i| <= alpha*H_ii",
            "the zeros predicted with alpha*H_ii for alpha/H_ii",
            kind="student",
        ),
        Planted(
            "threshold before the gradient step",
            "the two halves of the proximal step swapped: "
            "soft(w, eps*alpha) - eps*grad J(w)",
            kind="student",
        ),
        Planted(
            "threshold removed from the proximal step",
            "the proximal step without its soft threshold (plain GD)",
            kind="control",
        ),
    ),
)
def check_l1_4(*, planted=None) -> Check:
    """L1-4 (proximal part): the zero set of the soft threshold against the coordinates held at 0.0."""
    w_star, h_diag, alpha = _diag_problem()
    zeros, proximal = (
        w_star.abs() <= alpha / h_diag,
        _proximal(L1_4_LR * alpha),
    )
    predicted, step = choose(
        planted,
        (zeros, proximal),
        {
            "threshold removed from the proximal step": (
                zeros,
                _proximal(0.0),
            ),
            "proximal threshold alpha for eps*alpha": (
                zeros,
                _proximal(alpha),
            ),
            "zero set |w*_i| <= alpha*H_ii": (
                w_star.abs() <= alpha * h_diag,
                proximal,
            ),
            "threshold before the gradient step": (
                zeros,
                _threshold_first(L1_4_LR * alpha),
            ),
        },
    )
    held = (_l1_4_path(step)[-L1_4_LATE:] == 0).all(dim=0)
    return compare(
        "L1-4", predicted.to(torch.float64), held.to(torch.float64), atol=0.5,
        analytic_label="zeros of the soft threshold", empirical_label="proximal: 0.0 at every late step",
        note="1 = zero (0/1 values: atol 0.5 means equal); eps = 0.05,\n    last 1000 of 2000 steps",
    )


@subcheck(
    "L1-4",
    label="subgradient: band",
    planted=(
        Planted(
            "band half-width eps*alpha/2",
            "the band's full width taken as eps*alpha (half-width eps*alpha/2)",
            kind="student",
        ),
        Planted(
            "penalty removed from the update",
            "the subgradient update without alpha*sign(w) (plain GD)",
            kind="control",
        ),
    ),
)
def check_l1_4_band(*, planted=None) -> Check:
    """L1-4 (subgradient part): the lowest and highest late iterate, each within eps*alpha of the band's centre.

    Containment only: an update with a smaller penalty weight stays in a narrower band inside this
    one; the next check (the update maps the band onto itself) rejects that.
    """
    w_star, h_diag, alpha = _diag_problem()
    zero = w_star.abs() <= alpha / h_diag
    band = subgradient_band(w_star, h_diag, alpha, L1_4_LR)
    centre, half_width, step = choose(
        planted,
        (band["centre"], band["half_width"], _subgradient(alpha)),
        {
            "band half-width eps*alpha/2": (
                band["centre"],
                band["half_width"] / 2,
                _subgradient(alpha),
            ),
            "penalty removed from the update": (
                band["centre"],
                band["half_width"],
                _subgradient(0.0),
            ),
        },
    )
    late = _l1_4_path(step)[-L1_4_LATE:, zero]
    return compare(
        "L1-4",
        centre[zero].repeat_interleave(2),
        torch.stack([late.min(0).values, late.max(0).values], dim=1).reshape(
            -1
        ),
        atol=half_width[zero].repeat_interleave(2) + 1e-12,
        digits=4,  # + rounding in 2000 steps
        analytic_label="band centre eps H w*",
        empirical_label="subgradient [min, max], late steps",
        note=f"coordinates with |w*_i| <= alpha/H_ii; tolerance eps*alpha = {L1_4_LR * alpha:g}\n"
        "    (the band's half-width), last 1000 of 2000 steps",
    )


_BAND_GRID = 2001  # points of the band mapped by one update step
_BESIDE_ZERO = 1e-6  # and the two points this far from 0, whose images lie next to the band's edges


@subcheck(
    "L1-4",
    label="subgradient: the band is its own image",
    planted=(
        Planted(
            "penalty weight alpha/2 in the update",
            "the lecture's update with the 1/2 of the L2 convention "
            "carried over: w - eps*(grad J + (alpha/2) sign(w)); its iterates stay in a narrower band inside "
            "this one, which containment alone does not reject",
            kind="student",
        ),
        Planted(
            "penalty weight 2*alpha in the update",
            "the update with alpha counted twice (the penalty added "
            "to the loss and again as a step): w - eps*(grad J + 2 alpha sign(w))",
            kind="student",
        ),
        Planted(
            "band centred at 0",
            "the band taken as [-eps*alpha, eps*alpha], ignoring the pull eps*H_ii*w*_i",
            kind="student",
        ),
    ),
)
def check_l1_4_band_image(*, planted=None) -> Check:
    """L1-4 (subgradient part): one update step maps the band onto itself, edge for edge.

    A grid of the band, and the two points at distance ``_BESIDE_ZERO`` from 0, are mapped by one
    step of :func:`reglab.penalties.l1_step`; the lowest and highest images must be the band's edges. Near 0
    the update is an affine map with slope 1 - eps*H_ii on each side, so the image of the point just
    below 0 lies that slope times ``_BESIDE_ZERO`` inside the upper edge and the image of the point
    just above 0 as far inside the lower edge; no image lies outside. A different penalty weight
    moves the edges by eps times the difference.
    """
    w_star, h_diag, alpha = _diag_problem()
    zero = w_star.abs() <= alpha / h_diag
    band = subgradient_band(w_star, h_diag, alpha, L1_4_LR)
    centre, step = choose(
        planted,
        (band["centre"], _subgradient(alpha)),
        {
            "penalty weight alpha/2 in the update": (
                band["centre"],
                _subgradient(alpha / 2),
            ),
            "penalty weight 2*alpha in the update": (
                band["centre"],
                _subgradient(2 * alpha),
            ),
            "band centred at 0": (
                torch.zeros_like(w_star),
                _subgradient(alpha),
            ),
        },
    )
    low, high = centre - band["half_width"], centre + band["half_width"]
    fraction = torch.linspace(0, 1, _BAND_GRID, dtype=torch.float64).unsqueeze(
        1
    )
    beside = torch.full(
        (2, w_star.shape[0]), _BESIDE_ZERO, dtype=torch.float64
    ) * torch.tensor([[-1.0], [1.0]])
    points = torch.cat(
        [low + fraction * (high - low), beside]
    )  # (points, coordinates)
    images = torch.stack(
        [step(row, h_diag * (row - w_star)) for row in points]
    )
    return compare(
        "L1-4",
        torch.stack([low[zero], high[zero]], dim=1).reshape(-1),
        torch.stack(
            [images.min(0).values[zero], images.max(0).values[zero]], dim=1
        ).reshape(-1),
        atol=2 * _BESIDE_ZERO,
        digits=4,
        analytic_label="band edges eps H w* -+ eps alpha",
        empirical_label="[min, max] of one step from the band",
        note=f"coordinates with |w*_i| <= alpha/H_ii; a grid of {_BAND_GRID} points of the band and the points "
        f"-+{_BESIDE_ZERO:g};\n    tolerance twice that distance from 0",
    )


@subcheck(
    "L1-4",
    label="subgradient: sign changes",
    planted=(
        Planted(
            "L2 step for the L1 step",
            "weight_decay_step (a pull proportional to w) used as the L1 update",
            kind="student",
        ),
    ),
)
def check_l1_4_sign_changes(*, planted=None) -> Check:
    """L1-4 (subgradient part): the share of late windows of max_run + 1 iterates holding both signs: 1."""
    w_star, h_diag, alpha = _diag_problem()
    zero = w_star.abs() <= alpha / h_diag
    band = subgradient_band(w_star, h_diag, alpha, L1_4_LR)
    late = _l1_4_path(choose(planted, _subgradient(alpha), {"L2 step for the L1 step": _decay(alpha)}))[-L1_4_LATE:]
    shares, tol = [], []
    for i in torch.nonzero(zero).reshape(-1).tolist():
        windows = late[:, i].unfold(0, int(band["max_run"][i]) + 1, 1)
        shares.append(((windows > 0).any(1) & (windows < 0).any(1)).double().mean())
        tol.append(0.5 / windows.shape[0])  # half a window: one window without a sign change fails
    return compare(
        "L1-4", torch.ones(len(shares), dtype=torch.float64), torch.stack(shares), atol=np.array(tol), digits=4,
        analytic_label="share with both signs (rule)", empirical_label="subgradient, late windows",
        note="windows of m_i + 1 steps, m_i = ceil((alpha + H|w*|)/(alpha - H|w*|))",
    )


@subcheck(
    "L1-4",
    label="L2: no zeros",
    planted=(
        Planted(
            "L2 factor alpha/(H_ii + alpha)",
            "the share removed, alpha/(H_ii + alpha), taken as the share kept",
            kind="student",
        ),
        Planted(
            "decay 2*alpha (penalty alpha*||w||^2)",
            "Keras' convention, l2(alpha) = alpha*||w||^2 with gradient "
            "2 alpha w, in a step meant for (alpha/2)||w||^2: the limit H/(H + 2 alpha) w*",
            kind="library",
        ),
        Planted(
            "decay removed from weight_decay_step",
            "the L2 step without its decay term (plain GD)",
            kind="control",
        ),
    ),
)
def check_l1_4_l2(*, planted=None) -> Check:
    """L1-4 (L2 part): weight decay converges to H_ii/(H_ii + alpha) w*_i, none of them zero."""
    w_star, h_diag, alpha = _diag_problem()
    kept = h_diag / (h_diag + alpha)
    factor, step = choose(
        planted,
        (kept, _decay(alpha)),
        {
            "decay removed from weight_decay_step": (kept, _decay(0.0)),
            "L2 factor alpha/(H_ii + alpha)": (
                alpha / (h_diag + alpha),
                _decay(alpha),
            ),
            "decay 2*alpha (penalty alpha*||w||^2)": (kept, _decay(2 * alpha)),
        },
    )
    return compare(
        "L1-4", factor * w_star, _l1_4_path(step)[-1], rtol=1e-9,
        analytic_label="H/(H + alpha) w*", empirical_label="weight decay, 2000 steps",
        note="no entry is zero; eps = 0.05 (contraction at least 0.95 per step)",
    )
