"""Adversarial examples and adversarial training (lecture: "Adversarial training").

- :func:`fgsm`: the fast gradient sign method, one step of size ``eps`` along the sign of the
  input gradient of the loss (Goodfellow et al. 2015).
- :func:`pgd`: projected gradient descent on the loss inside the L-infinity ball of radius
  ``eps``, from a random start (Madry et al. 2018): the stronger attack, for honest evaluation.
- :func:`robust_accuracy`: accuracy on the attacked inputs (of every member of a stacked model).
- :class:`AdversarialTransform`: replaces a fraction of every minibatch by adversarial
  examples; pass it as ``fit_stacked(..., transform=...)`` to train many seeds at once.

All three work for a plain model, mapping (b, d) to (b, k), and for a stacked model
(:class:`~reglab.stacked.StackedMLP`), mapping (M, b, d) to (M, b, k): each member is then
attacked with its own gradient, so M seeds are attacked in one call.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validation import check_choice, check_int, check_real, check_tensor
from .training import accuracy

__all__ = ["fgsm", "pgd", "robust_accuracy", "AdversarialTransform"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def _check_model(model) -> None:
    if not (isinstance(model, nn.Module) or callable(model)):
        raise TypeError(f"model must be an nn.Module or a callable returning logits, but got {type(model).__name__}")


def _check_clamp(clamp) -> tuple[float, float] | None:
    if clamp is None:
        return None
    if not isinstance(clamp, (tuple, list)) or len(clamp) != 2:
        raise ValueError(f"clamp must be None or a pair (low, high), but got {clamp!r}")
    low = check_real("clamp[0]", clamp[0], low=-math.inf, high=math.inf, low_open=True, high_open=True)
    high = check_real("clamp[1]", clamp[1], low=-math.inf, high=math.inf, low_open=True, high_open=True)
    if not low < high:
        raise ValueError(f"clamp must be a pair (low, high) with low < high, but got ({low!r}, {high!r})")
    return low, high


def _prepare(model, x, y, eps, clamp):
    """Validate the shared arguments; expand a shared batch to one copy per stacked member."""
    _check_model(model)
    eps = check_real("eps", eps, low=0.0, high=math.inf, high_open=True)
    clamp = _check_clamp(clamp)
    check_tensor("x", x, floating=True, finite=True)
    check_tensor("y", y)
    if clamp is not None and x.device.type != "meta" and x.numel():
        lo, hi = float(x.min()), float(x.max())
        if lo < clamp[0] or hi > clamp[1]:
            # Otherwise clipping to the valid range could move the result out of the eps-ball.
            raise ValueError(
                f"x must lie within clamp=({clamp[0]:g}, {clamp[1]:g}), but its values range from {lo:g} to {hi:g}"
            )
    members = getattr(model, "num_models", None)
    if isinstance(members, int) and x.dim() == 2:
        x = x.unsqueeze(0).expand(members, -1, -1)
    if y.dim() > 0 and y.shape[-1] != x.shape[-2]:
        raise ValueError(f"x holds {x.shape[-2]} examples but y holds {y.shape[-1]} labels")
    return x.detach(), y, eps, clamp


def _default_loss(out: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy summed over every example (and member): each example keeps its own gradient."""
    target = y.expand(out.shape[:-1])
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1), reduction="sum")


def _buffers(model) -> dict[str, Tensor]:
    return {n: b.detach().clone() for n, b in model.named_buffers()} if isinstance(model, nn.Module) else {}


def _restore(model, saved: dict[str, Tensor]) -> None:
    if saved:
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(saved[n])


def _input_gradient(model, x: Tensor, y: Tensor, loss_fn: LossFn | None) -> Tensor:
    """Gradient of the loss with respect to the input only (parameters' .grad untouched).

    The model's buffers (BatchNorm running statistics) are restored afterwards: an attack in
    training mode must not change the model it attacks.
    """
    saved = _buffers(model)
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            out = model(x)
            loss = (loss_fn or _default_loss)(out, y)
            if loss.dim() != 0:
                raise ValueError(f"loss_fn must return a scalar, but returned shape {tuple(loss.shape)}")
            (grad,) = torch.autograd.grad(loss, x)
    finally:  # after the backward pass, which may need the buffers as they were
        _restore(model, saved)
    return grad


def _clip(x: Tensor, clamp: tuple[float, float] | None) -> Tensor:
    return x if clamp is None else x.clamp(clamp[0], clamp[1])


def fgsm(model, x: Tensor, y: Tensor, eps: float, *, loss_fn: LossFn | None = None, clamp=None) -> Tensor:
    r"""Fast gradient sign method: ``x + eps * sign(grad_x J(theta, x, y))``.

    Parameters
    ----------
    model : nn.Module or callable
        Maps x to logits: (b, d) -> (b, k), or (M, b, d) -> (M, b, k) for a stacked model.
        Used in its current mode (call ``model.eval()`` first to attack the test-time model);
        its buffers (BatchNorm running statistics) are left as they were.
    x : float Tensor of shape (b, d) or (M, b, d)
        Clean inputs. A stacked model (one with ``num_models``) given a shared batch (b, d)
        is attacked member by member and the result has shape (M, b, d).
    y : LongTensor of shape (b,) or (M, b)
        Labels (the true ones, or a goal class with a ``loss_fn`` that decreases its loss).
    eps : float >= 0
        Size of the step in every coordinate (the L-infinity radius of the perturbation).
    loss_fn : callable, optional
        ``loss_fn(logits, y) -> scalar`` to increase; default cross-entropy summed over the
        examples (any positive scaling gives the same signs).
    clamp : (low, high), optional
        Valid input range (e.g. ``(0, 1)`` for pixels); the result is clipped to it.

    Returns
    -------
    Tensor of the shape of x (or (M, b, d), see above), detached from the graph.

    Notes
    -----
    The first-order solution of :math:`\max_{\|\Delta x\|_\infty \le \epsilon} J(x + \Delta x)`
    is :math:`\Delta x = \epsilon\,\mathrm{sign}(\nabla_x J)`; for a linear model it is exact and
    moves the activation by :math:`\epsilon \|w\|_1` (Goodfellow, Shlens and Szegedy 2015,
    "Explaining and harnessing adversarial examples"; lecture slide "Adversarial examples").

    Examples
    --------
    >>> model = nn.Linear(3, 2).double()
    >>> x = torch.zeros(4, 3, dtype=torch.float64)
    >>> x_adv = fgsm(model, x, torch.zeros(4, dtype=torch.long), 0.1, clamp=(-1, 1))
    >>> bool((x_adv - x).abs().max() <= 0.1)
    True
    """
    x, y, eps, clamp = _prepare(model, x, y, eps, clamp)
    grad = _input_gradient(model, x, y, loss_fn)
    return _clip(x + eps * grad.sign(), clamp).detach()


def pgd(
    model,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    step_size: float,
    steps: int,
    random_start: bool = True,
    clamp=None,
    generator: torch.Generator | None = None,
    loss_fn: LossFn | None = None,
) -> Tensor:
    r"""Projected gradient (sign) ascent on the loss in the L-infinity ball of radius ``eps``.

    Parameters
    ----------
    model, x, y, eps, loss_fn, clamp
        As in :func:`fgsm`.
    step_size : float > 0
        Size of each signed step.
    steps : int >= 1
        Number of steps.
    random_start : bool
        Start from a uniform point of the ball (Madry et al.) instead of x itself.
    generator : torch.Generator, optional
        Source of the random start.

    Returns
    -------
    Tensor of the shape of x (or (M, b, d) for a stacked model and a shared batch), with
    ``|x_adv - x| <= eps`` in every coordinate and inside ``clamp`` if x is.

    Notes
    -----
    Each step is :math:`x \leftarrow \Pi\big(x + \eta\,\mathrm{sign}(\nabla_x J)\big)`, where
    :math:`\Pi` clips to the ball and then to the valid range (together the projection onto
    their intersection when x lies in the range). Madry et al. (2018), "Towards deep learning
    models resistant to adversarial attacks". With ``steps=1``, ``step_size=eps`` and no random
    start it is :func:`fgsm`.

    Examples
    --------
    >>> model = nn.Linear(3, 2).double()
    >>> x = torch.full((4, 3), 0.5, dtype=torch.float64)
    >>> x_adv = pgd(model, x, torch.zeros(4, dtype=torch.long), 0.1, step_size=0.05, steps=5,
    ...             clamp=(0, 1), generator=torch.Generator().manual_seed(0))
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-12)
    True
    """
    x, y, eps, clamp = _prepare(model, x, y, eps, clamp)
    step_size = check_real("step_size", step_size, low=0.0, high=math.inf, low_open=True, high_open=True)
    steps = check_int("steps", steps, low=1)
    if not isinstance(random_start, bool):
        raise TypeError(f"random_start must be a bool, but got {type(random_start).__name__}")
    low, high = x - eps, x + eps
    x_adv = x
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x_adv = _clip(x + eps * (2 * noise - 1), clamp)
    for _ in range(steps):
        grad = _input_gradient(model, x_adv, y, loss_fn)
        x_adv = _clip(torch.minimum(torch.maximum(x_adv + step_size * grad.sign(), low), high), clamp)
    return x_adv.detach()


def robust_accuracy(
    model,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    attack: str = "fgsm",
    steps: int = 10,
    step_size: float | None = None,
    clamp=None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Accuracy of ``model`` on adversarial versions of ``x`` (the clean accuracy at eps = 0).

    Parameters
    ----------
    model, x, y, eps, clamp
        As in :func:`fgsm`; y of shape (b,).
    attack : str
        ``"fgsm"``, ``"pgd"`` (random start, ``steps`` steps of ``step_size``) or
        ``"random"`` (a random sign vector of size eps: the control, not an attack).
    steps, step_size : int, float, optional
        For PGD; ``step_size`` defaults to ``2.5 * eps / steps`` (Madry et al. 2018).
    generator : torch.Generator, optional
        Random starts of PGD, random signs.

    Returns
    -------
    Tensor of shape () for a plain model or (M,) for a stacked model.

    Examples
    --------
    >>> model = nn.Linear(3, 2).double()
    >>> x, y = torch.rand(8, 3, dtype=torch.float64), torch.zeros(8, dtype=torch.long)
    >>> bool(robust_accuracy(model, x, y, 0.5) <= robust_accuracy(model, x, y, 0.0))
    True
    """
    attack = check_choice("attack", attack, ("fgsm", "pgd", "random"))
    x, y, eps, clamp = _prepare(model, x, y, eps, clamp)
    check_tensor("y", y, ndim=1)
    if eps == 0:
        x_adv = x
    elif attack == "fgsm":
        x_adv = fgsm(model, x, y, eps, clamp=clamp)
    elif attack == "pgd":
        steps = check_int("steps", steps, low=1)
        x_adv = pgd(model, x, y, eps, steps=steps, step_size=2.5 * eps / steps if step_size is None else step_size,
                    clamp=clamp, generator=generator)
    else:
        signs = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < 0.5
        x_adv = _clip(x + eps * (2 * signs.to(x.dtype) - 1), clamp)
    # Measured in eval mode (as evaluate_stacked does), the model's mode restored afterwards;
    # the attack itself runs in the mode the model is in.
    was_training = getattr(model, "training", None)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            return accuracy(model(x_adv), y)
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)


class AdversarialTransform:
    """Replace a fraction of each minibatch by adversarial examples (adversarial training).

    Parameters
    ----------
    eps : float >= 0
        Attack radius used in training.
    fraction : float in [0, 1]
        Share of each minibatch replaced by its adversarial version (the first
        ``round(fraction * b)`` rows; minibatches are shuffled, so they are a random subset).
        The expected loss is ``(1 - fraction) J(x) + fraction J(x_adv)``; 0.5 is Goodfellow et
        al.'s equal weighting.
    attack : str
        ``"fgsm"`` or ``"pgd"``.
    steps, step_size : int, float, optional
        For ``attack="pgd"``; default 7 steps of ``2.5 * eps / steps``.
    clamp : (low, high), optional
        Valid input range.
    generator : torch.Generator, optional
        Random starts of PGD.

    Notes
    -----
    Called as ``transform(xb, yb, model) -> (xb_new, yb)`` with xb of shape (M, b, d) (or
    (b, d)) and yb of shape (M, b) (or (b,)), the signature of ``fit_stacked``'s hook. The
    attack uses the model being trained, in training mode, at the current step (lecture:
    "add these adversarial examples and force the network to classify them correctly").

    Examples
    --------
    >>> from reglab.training import StackedMLP
    >>> model = StackedMLP(2, (4, 8, 3), dtype=torch.float64)
    >>> xb, yb = torch.rand(2, 10, 4, dtype=torch.float64), torch.zeros(2, 10, dtype=torch.long)
    >>> x_new, _ = AdversarialTransform(0.1, fraction=0.5)(xb, yb, model)
    >>> bool(torch.equal(x_new[:, 5:], xb[:, 5:]))
    True
    """

    def __init__(self, eps, *, fraction=0.5, attack="fgsm", steps=None, step_size=None, clamp=None, generator=None):
        self.eps = check_real("eps", eps, low=0.0, high=math.inf, high_open=True)
        self.fraction = check_real("fraction", fraction, low=0.0, high=1.0)
        self.attack = check_choice("attack", attack, ("fgsm", "pgd"))
        if attack == "fgsm" and (steps is not None or step_size is not None):
            raise ValueError("steps and step_size apply to attack='pgd' only")
        self.steps = check_int("steps", 7 if steps is None else steps, low=1)
        if step_size is None:
            step_size = 2.5 * self.eps / self.steps if self.eps > 0 else 1.0
        self.step_size = check_real("step_size", step_size, low=0.0, high=math.inf, low_open=True, high_open=True)
        self.clamp = _check_clamp(clamp)
        self.generator = generator

    def __call__(self, xb: Tensor, yb: Tensor, model) -> tuple[Tensor, Tensor]:
        k = int(round(self.fraction * xb.shape[-2]))
        if k == 0:
            return xb, yb
        part, labels = xb[..., :k, :], yb[..., :k]
        if self.attack == "fgsm":
            adv = fgsm(model, part, labels, self.eps, clamp=self.clamp)
        else:
            adv = pgd(model, part, labels, self.eps, step_size=self.step_size, steps=self.steps,
                      clamp=self.clamp, generator=self.generator)
        rest = xb[..., k:, :]
        if adv.dim() > rest.dim():  # a stacked model attacked through a shared batch
            rest = rest.unsqueeze(0).expand(adv.shape[0], -1, -1)
        return torch.cat([adv, rest], dim=-2), yb

    def __repr__(self) -> str:
        extra = f", steps={self.steps}, step_size={self.step_size:g}" if self.attack == "pgd" else ""
        return f"AdversarialTransform(eps={self.eps:g}, fraction={self.fraction:g}, attack={self.attack!r}{extra}, clamp={self.clamp})"
