"""Chapter ``weight_decay``, WD-1 and WD-2: the penalty's gradient and the update rule.

Part of :mod:`reglab.derivations.weight_decay`, which imports every public name of this module
(a chapter imports that one module); kept apart so that each file stays readable.

- WD-1: the gradient of :math:`\\tfrac{\\alpha}{2}\\|w\\|^2` is :math:`\\alpha w` (autograd).
- WD-2: one gradient step on :math:`\\tilde J` is :math:`(1-\\epsilon\\alpha)w - \\epsilon\\nabla J`,
  which is what ``torch.optim.SGD(weight_decay=alpha)`` does; with Adam, L2 in the loss and
  decoupled decay (AdamW) are different updates.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .._validation import check_int
from ..penalties import l2_penalty, weight_decay_step
from .compare import Check, compare, exceeds
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "WD1_ALPHA",
    "WD2_ALPHA",
    "WD2_GAP_BOUND",
    "WD2_LR",
    "check_wd1",
    "check_wd2",
    "check_wd2_adam",
    "check_wd2_gap",
    "check_wd2_gap_size",
    "wd2_problem",
    "wd2_steps",
]

CHAPTER = "weight_decay"


# ---------------------------------------------------------------------------------------------
# WD-1, WD-2: the penalty's gradient and the update rule
# ---------------------------------------------------------------------------------------------
WD1_ALPHA = 0.3


def _l2_gradient(weight: Tensor, bias: Tensor, alpha: float) -> Tensor:
    """The gradient of alpha * l2_penalty: alpha*w for the weights, 0 for the (unpenalized) bias."""
    return torch.cat([alpha * weight.reshape(-1), torch.zeros(bias.shape, dtype=bias.dtype)])


def _l2_gradient_bias_decayed(weight: Tensor, bias: Tensor, alpha: float) -> Tensor:
    """Planted 'bias decayed': the bias decayed as if it were penalized."""
    return torch.cat([alpha * weight.reshape(-1), alpha * bias])


def _l2_gradient_half_kept(weight: Tensor, bias: Tensor, alpha: float) -> Tensor:
    """Planted '1/2 not cancelled': the derivative of alpha*||w||^2."""
    return torch.cat([2 * alpha * weight.reshape(-1), torch.zeros(bias.shape, dtype=bias.dtype)])


@derivation(
    "WD-1",
    claim_tex=(
        r"The gradient of $\tfrac{\alpha}{2}\lVert w\rVert^2$ is $\alpha w$ (biases, not penalized, get "
        r"0)."
    ),
    chapter=CHAPTER,
    claim="The gradient of (alpha/2)*||w||^2 is alpha*w (biases, not penalized, get 0).",
    label="autograd",
    planted=(
        Planted("bias decayed", "alpha*b for the bias too, as if l2_penalty covered biases", kind="student"),
        Planted("1/2 not cancelled", "2*alpha*w: the derivative of alpha*||w||^2, the 1/2 forgotten",
                kind="student"),
    ),
)
def check_wd1(*, planted: str | None = None) -> Check:
    """Autograd through ``alpha * l2_penalty(model)`` against ``alpha * w`` (0 for the bias)."""
    alpha = WD1_ALPHA
    g = torch.Generator().manual_seed(11)
    with torch.random.fork_rng():  # nn.Linear's own initialisation must not move the caller's RNG
        layer = nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(3, 5, generator=g, dtype=torch.float64))
        layer.bias.copy_(torch.randn(3, generator=g, dtype=torch.float64))
    params = [layer.weight, layer.bias]
    grads = torch.autograd.grad(alpha * l2_penalty(layer), params, allow_unused=True)
    grads = [torch.zeros_like(p) if gr is None else gr for p, gr in zip(params, grads)]
    weight, bias = layer.weight.detach(), layer.bias.detach()
    gradient = choose(planted, _l2_gradient, {
        "bias decayed": _l2_gradient_bias_decayed,
        "1/2 not cancelled": _l2_gradient_half_kept,
    })
    analytic = gradient(weight, bias, alpha)
    autograd = torch.cat([gr.reshape(-1) for gr in grads])
    return compare(
        "WD-1", analytic, autograd, atol=1e-14,
        analytic_label="alpha*w (bias: 0)", empirical_label="autograd of alpha*l2_penalty",
        note=f"a 3x5 weight matrix, then a bias of 3; alpha = {alpha:g}",
    )


def _adam_first_step(
    w: Tensor, grad: Tensor, *, lr: float, alpha: float, decoupled: bool, eps: float = 1e-8
) -> Tensor:
    """First Adam step in closed form: the bias-corrected moments are g and g^2.

    L2 in the loss (``decoupled=False``) feeds g = grad + alpha*w to Adam; AdamW shrinks
    w by (1 - lr*alpha) and feeds grad alone (Loshchilov and Hutter 2019).
    """
    if decoupled:
        return (1 - lr * alpha) * w - lr * grad / (grad.abs() + eps)
    g = grad + alpha * w
    return w - lr * g / (g.abs() + eps)


def _one_step(make_opt, w: Tensor, loss_fn) -> Tensor:
    p = nn.Parameter(w.clone())
    opt = make_opt([p])
    opt.zero_grad()
    loss_fn(p).backward()
    opt.step()
    return p.detach()


def wd2_problem(seed: int = 5) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """The small problem of WD-2: a 4x3 weight matrix and a least-squares cost (float64).

    Parameters
    ----------
    seed : int >= 0

    Returns
    -------
    (W, J) : (Tensor of shape (4, 3), callable)
        Starting weights and :math:`J(W) = \\tfrac{1}{2n}\\sum_j \\|W x_j - y_j\\|^2` over 20
        random pairs :math:`x_j \\in R^3`, :math:`y_j \\in R^4`.

    Examples
    --------
    >>> W, J = wd2_problem()
    >>> W.shape, J(W).dim()
    (torch.Size([4, 3]), 0)
    """
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    X = torch.randn(20, 3, generator=g, dtype=torch.float64)
    Y = torch.randn(20, 4, generator=g, dtype=torch.float64)
    W = torch.randn(4, 3, generator=g, dtype=torch.float64)
    return W, (lambda W_: 0.5 * (X @ W_.T - Y).pow(2).sum(1).mean())


WD2_LR, WD2_ALPHA = 0.1, 0.5
#: The first steps of Adam with L2 in the loss and of AdamW must differ by more than this.
WD2_GAP_BOUND = 0.01


def wd2_steps() -> dict:
    """The start of WD-2 and one step of each of torch's four optimizers from it.

    Returns
    -------
    dict
        ``"W"``, ``"grad"`` (of J at W), and the weights after one step of ``"SGD(weight_decay)"``,
        ``"SGD on J~"`` (plain SGD on J + alpha*l2_penalty), ``"Adam(weight_decay)"`` and
        ``"AdamW(weight_decay)"``, with ``lr = WD2_LR``, ``alpha = WD2_ALPHA``.
    """
    W, J = wd2_problem()
    lr, alpha = WD2_LR, WD2_ALPHA
    Wp = nn.Parameter(W.clone())
    (grad,) = torch.autograd.grad(J(Wp), Wp)
    return {
        "W": W,
        "grad": grad,
        "SGD(weight_decay)": _one_step(lambda p: torch.optim.SGD(p, lr=lr, weight_decay=alpha), W, J),
        "SGD on J~": _one_step(lambda p: torch.optim.SGD(p, lr=lr), W, lambda p: J(p) + alpha * l2_penalty([p])),
        "Adam(weight_decay)": _one_step(lambda p: torch.optim.Adam(p, lr=lr, weight_decay=alpha), W, J),
        "AdamW(weight_decay)": _one_step(lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=alpha), W, J),
    }


def _step_shrink_without_lr(w: Tensor, grad: Tensor, *, lr: float, alpha: float) -> Tensor:
    """Planted '(1 - alpha) for (1 - eps*alpha)': the shrink factor without the learning rate."""
    return (1 - alpha) * w - lr * grad


@derivation(
    "WD-2",
    claim_tex=(
        r"One SGD step on $J + \tfrac{\alpha}{2}\lVert w\rVert^2$ is $(1 - \epsilon\alpha)w - "
        r"\epsilon\nabla J$, as `torch.optim.SGD(weight_decay=alpha)` does; the first steps of Adam with "
        r"L2 in the loss and of AdamW match their closed forms, and differ from each other by more than "
        r"0.01 ($\epsilon = 0.1$, $\alpha = 0.5$)."
    ),
    chapter=CHAPTER,
    claim=(
        "One SGD step on J + (alpha/2)||w||^2 is (1 - eps*alpha)w - eps*grad J, as "
        "torch.optim.SGD(weight_decay=alpha) does; the first steps of Adam with L2 in the loss and of "
        "AdamW match their closed forms, and differ from each other by more than 0.01 "
        "(eps = 0.1, alpha = 0.5)."
    ),
    label="SGD rule vs torch",
    planted=(
        Planted("(1 - alpha) for (1 - eps*alpha)", "the shrink factor written without the learning rate",
                kind="student"),
    ),
)
def check_wd2(*, planted: str | None = None) -> Check:
    r"""The shrink-then-step rule against ``SGD(weight_decay=alpha)`` and plain SGD on :math:`\tilde J`.

    Analytic: :func:`~reglab.penalties.weight_decay_step` (twice). Empirical (torch):
    ``SGD(weight_decay=alpha)`` on :math:`J`; plain ``SGD`` on :math:`J + \alpha\,`
    ``l2_penalty`` by autograd.
    """
    s = wd2_steps()
    lr, alpha = WD2_LR, WD2_ALPHA
    step = choose(planted, weight_decay_step, {"(1 - alpha) for (1 - eps*alpha)": _step_shrink_without_lr})
    rule = step(s["W"], s["grad"], lr=lr, alpha=alpha)
    return compare(
        "WD-2", torch.stack([rule, rule]), torch.stack([s["SGD(weight_decay)"], s["SGD on J~"]]),
        # One step is a few floating-point operations (rounding ~1e-16); one tolerance for all.
        atol=1e-11,
        analytic_label="(1 - eps*alpha)w - eps*grad J", empirical_label="torch SGD(weight_decay); SGD on J~",
        note=(f"blocks of 12: vs SGD(weight_decay=alpha), then vs SGD on J + alpha*l2_penalty; "
              f"eps = {lr:g}, alpha = {alpha:g}"),
    )


@subcheck(
    "WD-2",
    label="Adam and AdamW first steps",
    planted=(
        Planted("L2 in Adam's loss taken as AdamW",
                "Adam(weight_decay=alpha) predicted by the decoupled step (1 - eps*alpha)w - eps*g/|g|",
                kind="student"),
    ),
)
def check_wd2_adam(*, planted: str | None = None) -> Check:
    """First steps of Adam with L2 in the loss and of AdamW, closed forms against torch."""
    s = wd2_steps()
    lr, alpha = WD2_LR, WD2_ALPHA
    # Adam with L2 in the loss is not decoupled; predicting it with AdamW's step is the mistake.
    decoupled = choose(planted, False, {"L2 in Adam's loss taken as AdamW": True})
    adam_l2 = _adam_first_step(s["W"], s["grad"], lr=lr, alpha=alpha, decoupled=decoupled)
    adamw = _adam_first_step(s["W"], s["grad"], lr=lr, alpha=alpha, decoupled=True)
    return compare(
        "WD-2", torch.stack([adam_l2, adamw]), torch.stack([s["Adam(weight_decay)"], s["AdamW(weight_decay)"]]),
        atol=1e-11,
        analytic_label="w - eps*g/|g| with g = grad J + alpha*w, then AdamW's step",
        empirical_label="torch Adam(weight_decay), then AdamW",
        note="blocks of 12: Adam with L2 in the loss, then AdamW (decoupled decay)",
    )


def _adam_gap(w: Tensor, grad: Tensor, *, lr: float, alpha: float) -> Tensor:
    """First step of Adam with L2 in the loss minus that of AdamW, from the closed forms."""
    return (_adam_first_step(w, grad, lr=lr, alpha=alpha, decoupled=False)
            - _adam_first_step(w, grad, lr=lr, alpha=alpha, decoupled=True))


def _no_gap(w: Tensor, grad: Tensor, *, lr: float, alpha: float) -> Tensor:
    """Planted 'Adam treated like SGD': no gap, as if L2 in the loss were decoupled decay."""
    return torch.zeros_like(w)


def _adam_gap_decay_without_lr(w: Tensor, grad: Tensor, *, lr: float, alpha: float) -> Tensor:
    """Planted 'decoupled decay not scaled by the learning rate': AdamW's shrink taken as (1 - alpha)."""
    adamw = (1 - alpha) * w - lr * grad / (grad.abs() + 1e-8)
    return _adam_first_step(w, grad, lr=lr, alpha=alpha, decoupled=False) - adamw


@subcheck(
    "WD-2",
    label="the gap, closed form vs torch",
    planted=(
        Planted("Adam treated like SGD",
                "the penalty in the loss taken to be the same step as decoupled decay, as it is for SGD: "
                "no gap predicted", kind="student"),
        Planted("decoupled decay not scaled by the learning rate",
                "AdamW's decay predicted as w(1 - alpha), the convention of Loshchilov and Hutter's Algorithm 2 "
                "(decay scaled by the schedule multiplier, not by the learning rate) and of composer's "
                "DecoupledAdamW; torch's AdamW shrinks by (1 - eps*alpha)", kind="library"),
    ),
)
def check_wd2_gap(*, planted: str | None = None) -> Check:
    """The gap between the two Adam steps: the difference of the closed forms against torch's."""
    s = wd2_steps()
    gap_of = choose(planted, _adam_gap, {
        "Adam treated like SGD": _no_gap,
        "decoupled decay not scaled by the learning rate": _adam_gap_decay_without_lr,
    })
    predicted = gap_of(s["W"], s["grad"], lr=WD2_LR, alpha=WD2_ALPHA)
    measured = s["Adam(weight_decay)"] - s["AdamW(weight_decay)"]
    return compare(
        "WD-2", predicted, measured, atol=1e-11,
        analytic_label="Adam-L2 minus AdamW, closed forms", empirical_label="torch Adam minus AdamW",
        note="12 entries: the first step of Adam(weight_decay) minus that of AdamW(weight_decay)",
    )


@subcheck(
    "WD-2",
    label=f"Adam-L2 and AdamW differ by more than {WD2_GAP_BOUND:g}",
    planted=(
        Planted("Adam(weight_decay) read in Keras's convention",
                "torch's Adam(weight_decay=alpha) taken to decay decoupled, as keras.optimizers.Adam(weight_decay=) "
                "does (Keras's optimizers apply w - w*wd*lr before the step): the 'Adam with L2' step measured "
                "with a decoupled optimizer, torch's AdamW", kind="library"),
    ),
)
def check_wd2_gap_size(*, planted: str | None = None) -> Check:
    """The largest entry of torch's ``|Adam-L2 step - AdamW step|`` lies above WD2_GAP_BOUND."""
    s = wd2_steps()
    adam_l2 = choose(planted, s["Adam(weight_decay)"],
                     {"Adam(weight_decay) read in Keras's convention": s["AdamW(weight_decay)"]})
    gap = (adam_l2 - s["AdamW(weight_decay)"]).abs().max().item()
    return exceeds(
        "WD-2", gap, WD2_GAP_BOUND, value_label="largest |Adam-L2 - AdamW|, torch", bound_label="bound",
        note=f"first steps from the same 4x3 weights, eps = {WD2_LR:g}, alpha = {WD2_ALPHA:g}",
    )
