"""Noise injection: on the inputs, on the weights and on the labels.

Lecture sections "Noise robustness" (noise on the inputs and on the weights) and "Injecting
noise into outputs" (label smoothing).

- inputs: :func:`add_gaussian_noise` (for linear regression, equivalent to ridge: Bishop 1995);
- weights: :func:`perturbed_parameters` (a context manager that perturbs a model's parameters
  once, e.g. per batch), :func:`perturbed_outputs` (a functional form: an independent
  perturbation per sample, vectorised with ``torch.func``), and :func:`add_weight_noise`
  (a parametrization that draws fresh weight noise at every training forward pass, so any
  training loop trains with weight noise; per member for stacked models);
- labels, in ``reglab.labels`` and importable from here: :func:`~reglab.labels.corrupt_labels` (flip a
  label to a uniformly chosen *other* class), :func:`~reglab.labels.smooth_labels`,
  :func:`~reglab.labels.smoothed_cross_entropy`, and the calibration measure
  :func:`~reglab.labels.expected_calibration_error`.

The lecture writes the weight-noise distribution as N(0, eta I): ``eta`` is a *variance*
throughout this module (the standard deviation is ``sqrt(eta)``).
"""
from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ._validation import check_int, check_real, check_tensor, randn_like_device
from .labels import corrupt_labels, expected_calibration_error, smooth_labels, smoothed_cross_entropy

__all__ = [
    "add_gaussian_noise",
    "perturbed_parameters",
    "perturbed_outputs",
    "WeightNoise",
    "add_weight_noise",
    "remove_weight_noise",
    "corrupt_labels",
    "smooth_labels",
    "smoothed_cross_entropy",
    "expected_calibration_error",
]


# ----------------------------------------------------------------------------- inputs
def add_gaussian_noise(x: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor:
    """Return ``x + sigma * z`` with z standard normal, independently for every entry.

    Parameters
    ----------
    x : Tensor of shape (...)
    sigma : float >= 0
        Standard deviation of the noise.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of the shape and dtype of ``x``

    Notes
    -----
    For linear regression, training on noisy inputs minimises in expectation
    ``||y - Xw||^2 + N sigma^2 ||w||^2``: ridge regression (Bishop 1995). See
    :mod:`reglab.derivations.augmentation`.

    Examples
    --------
    >>> x = torch.zeros(10000, dtype=torch.float64)
    >>> round(add_gaussian_noise(x, 2.0, generator=torch.Generator().manual_seed(0)).std().item(), 1)
    2.0
    """
    check_tensor("x", x, floating=True)
    sigma = check_real("sigma", sigma, low=0.0)
    return x + sigma * randn_like_device(x.shape, like=x, generator=generator)


# ----------------------------------------------------------------------------- weights
def _check_eta(eta) -> float:
    return check_real("eta", eta, low=0.0)


def _is_bias(name: str, p: Tensor) -> bool:
    """Biases: one-dimensional parameters, or parameters named ``bias`` (stacked biases are 2-D)."""
    return p.dim() < 2 or name.rsplit(".", 1)[-1] == "bias"


def _selected(model: nn.Module, include_bias: bool) -> list[tuple[str, Tensor]]:
    return [(n, p) for n, p in model.named_parameters() if include_bias or not _is_bias(n, p)]


def perturbed_parameters(
    model: nn.Module, eta: float, *, include_bias: bool = True, generator: torch.Generator | None = None
):
    """Temporarily add N(0, eta) noise to every parameter of ``model``; restore them on exit.

    Parameters
    ----------
    model : nn.Module
    eta : float >= 0
        Variance of the noise (the lecture's N(0, eta I)).
    include_bias : bool
        Perturb the biases too (parameters named ``bias`` or of dimension 1).
    generator : torch.Generator, optional

    Yields
    ------
    dict
        The noise added, by parameter name.

    Notes
    -----
    One draw for the whole block: use it once per batch, or once per example with batch
    size 1. The parameters are restored exactly (copied back), even after an exception.

    Examples
    --------
    >>> net = nn.Linear(3, 1)
    >>> before = net.weight.detach().clone()
    >>> with perturbed_parameters(net, 0.1, generator=torch.Generator().manual_seed(0)):
    ...     changed = not torch.equal(net.weight, before)
    >>> changed, torch.equal(net.weight, before)
    (True, True)
    """
    # Checked here, at the call, not when the block is entered.
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    eta = _check_eta(eta)
    return _perturbed(model, eta, include_bias, generator)


@contextlib.contextmanager
def _perturbed(model: nn.Module, eta: float, include_bias: bool, generator):
    chosen = _selected(model, include_bias)
    saved = {n: p.detach().clone() for n, p in chosen}
    noise = {n: math.sqrt(eta) * randn_like_device(p.shape, like=p, generator=generator) for n, p in chosen}
    try:
        with torch.no_grad():
            for n, p in chosen:
                p.add_(noise[n])
        yield noise
    finally:
        with torch.no_grad():
            for n, p in chosen:
                p.copy_(saved[n])


def perturbed_outputs(
    model: nn.Module,
    x: Tensor,
    eta: float,
    num_samples: int,
    *,
    antithetic: bool = False,
    include_bias: bool = True,
    chunk_size: int = 4096,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Outputs of ``model`` at ``x`` under ``num_samples`` independent weight perturbations.

    Parameters
    ----------
    model : nn.Module
    x : Tensor
        One input batch, passed to ``model`` unchanged for every perturbation.
    eta : float >= 0
        Variance of the N(0, eta I) perturbation of the parameters.
    num_samples : int >= 1
        Number of perturbations (even if ``antithetic``).
    antithetic : bool
        Draw the perturbations in pairs (+e, -e): sample ``i`` and ``i + num_samples // 2``
        use opposite noise. Odd-order terms of the expansion in e then cancel exactly
        within a pair, which makes Monte Carlo estimates of E[f(w + e)] - f(w) far more precise.
    include_bias : bool
        Perturb the biases too (parameters named ``bias`` or of dimension 1).
    chunk_size : int
        Perturbations evaluated at once (bounds memory).
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (num_samples, *model(x).shape)

    Notes
    -----
    A functional form of weight noise (``torch.func.functional_call`` under ``vmap``): each
    sample has its own perturbed copy of the parameters, as in the lecture's "with each
    example we also randomly perturb the weights by e_W ~ N(0, eta I)".

    Examples
    --------
    >>> net = nn.Linear(2, 1).double()
    >>> out = perturbed_outputs(net, torch.ones(1, 2, dtype=torch.float64), 0.01, 6, antithetic=True)
    >>> out.shape
    torch.Size([6, 1, 1])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    check_tensor("x", x)
    eta = _check_eta(eta)
    num_samples = check_int("num_samples", num_samples, low=1)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    if antithetic and num_samples % 2:
        raise ValueError(f"num_samples must be even when antithetic=True, but got {num_samples}")
    params = {n: p.detach() for n, p in model.named_parameters()}
    noisy = {n for n, p in _selected(model, include_bias)}
    buffers = {n: b for n, b in model.named_buffers()}
    std = math.sqrt(eta)
    draws = num_samples // 2 if antithetic else num_samples

    def run(batch_params):
        return torch.func.functional_call(model, (batch_params, buffers), (x,))

    outputs = []
    with torch.no_grad():
        for start in range(0, draws, chunk_size):
            s = min(chunk_size, draws - start)
            z = {
                n: randn_like_device((s, *p.shape), like=p, generator=generator)
                for n, p in params.items()  # in parameter order, so draws are reproducible
                if n in noisy
            }
            for sign in ((1.0, -1.0) if antithetic else (1.0,)):
                batch = {
                    n: p + sign * std * z[n] if n in noisy else p.expand(s, *p.shape) for n, p in params.items()
                }
                outputs.append((sign, torch.vmap(run)(batch)))
    if antithetic:
        plus = [o for sign, o in outputs if sign > 0]
        minus = [o for sign, o in outputs if sign < 0]
        return torch.cat(plus + minus)
    return torch.cat([o for _, o in outputs])


class WeightNoise(nn.Module):
    """A parametrization ``W -> W + sqrt(eta) * z``, z ~ N(0, I), fresh at every training forward.

    Parameters
    ----------
    eta : float >= 0, or Tensor of shape (M,)
        Variance of the noise; a tensor gives member ``m`` of a stacked model (weights of
        shape (M, ...)) its own variance, so one run compares several noise levels.
    generator : torch.Generator, optional

    Notes
    -----
    Registered with ``torch.nn.utils.parametrize`` (see :func:`add_weight_noise`). In training
    mode the forward pass sees noisy weights and the gradient with respect to the clean weights
    equals the gradient at the noisy ones (d(W + e)/dW = I): the weight-noise training of the
    lecture, with one draw per forward pass (per minibatch). In eval mode it is the identity.

    Shape:
        - Input: the clean parameter, any shape (M, ...) if ``eta`` is a tensor.
        - Output: same shape.

    Examples
    --------
    >>> noise = WeightNoise(torch.tensor([0.0, 1.0]), generator=torch.Generator().manual_seed(0))
    >>> w = torch.zeros(2, 1000)
    >>> noisy = noise(w)  # member 0 has no noise, member 1 variance 1
    >>> noisy[0].abs().max().item(), round(noisy[1].var().item(), 1)
    (0.0, 1.0)
    >>> torch.equal(noise.eval()(w), w)  # the identity in eval mode
    True
    """

    def __init__(self, eta, *, generator: torch.Generator | None = None):
        super().__init__()
        if isinstance(eta, Tensor) and eta.numel() > 1:
            check_tensor("eta", eta, ndim=1, floating=True)
            if torch.isnan(eta).any() or (eta < 0).any() or torch.isinf(eta).any():
                raise ValueError(f"eta must be finite and >= 0 for every member, but got {eta.tolist()}")
            self.register_buffer("eta", eta.detach().clone())
        else:
            self.register_buffer("eta", torch.tensor(_check_eta(eta), dtype=torch.float64))
        self.generator = generator

    def forward(self, weight: Tensor) -> Tensor:
        if not self.training:
            return weight
        std = self.eta.to(weight.dtype).sqrt()
        if std.dim():
            if weight.shape[0] != std.shape[0]:
                raise ValueError(
                    f"eta has {std.shape[0]} entries (one per member) "
                    f"but the parameter has shape {tuple(weight.shape)}"
                )
            std = std.view(-1, *([1] * (weight.dim() - 1)))
        return weight + std * randn_like_device(weight.shape, like=weight, generator=self.generator)

    def extra_repr(self) -> str:
        return f"eta={self.eta.tolist()}"


def add_weight_noise(
    model: nn.Module, eta, *, include_bias: bool = False, generator: torch.Generator | None = None
) -> nn.Module:
    """Make every weight of ``model`` noisy during training (in place), with variance ``eta``.

    Parameters
    ----------
    model : nn.Module
    eta : float >= 0, or Tensor of shape (M,)
        Variance, per member for a stacked model (e.g. :class:`reglab.stacked.StackedMLP`).
    include_bias : bool
        Perturb the biases too (parameters named ``bias`` or of dimension 1); by default only
        the weight matrices are noisy.
    generator : torch.Generator, optional

    Returns
    -------
    nn.Module
        ``model`` itself, now with a :class:`WeightNoise` parametrization on its weights.

    Examples
    --------
    >>> net = add_weight_noise(nn.Linear(3, 2), 0.01)
    >>> parametrize.is_parametrized(net, "weight")
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    noise = WeightNoise(eta, generator=generator)
    targets = []
    for module in model.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            if _is_bias(name, p) and not include_bias:
                continue
            targets.append((module, name))
    if not targets:
        raise ValueError("model has no parameter to perturb")
    for module, name in targets:
        parametrize.register_parametrization(module, name, noise)
    return model


def remove_weight_noise(model: nn.Module) -> nn.Module:
    """Remove the parametrizations added by :func:`add_weight_noise`, keeping the clean weights.

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    nn.Module
        ``model`` itself, with plain parameters again (other parametrizations are kept).

    Examples
    --------
    >>> net = add_weight_noise(nn.Linear(3, 2), 0.01)
    >>> parametrize.is_parametrized(remove_weight_noise(net))
    False
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    for module in model.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                if any(isinstance(p, WeightNoise) for p in module.parametrizations[name]):
                    parametrize.remove_parametrizations(module, name, leave_parametrized=False)
    return model
