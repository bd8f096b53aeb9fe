"""Tests of reglab.penalties: values, gradients, trusted references, bad input."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab.penalties import l1_penalty, l1_step, l2_penalty, penalized_parameters, soft_threshold, weight_decay_step

DTYPES = [torch.float32, torch.float64]


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Conv1d(1, 2, 3), nn.Linear(2, 1, bias=False))


# --- penalized_parameters ---------------------------------------------------------------------
def test_module_penalizes_weight_matrices_and_kernels_but_not_biases():
    model = _model()
    chosen = penalized_parameters(model)
    assert [tuple(p.shape) for p in chosen] == [(4, 3), (2, 1, 3), (1, 2)]
    assert len(penalized_parameters(model, include_bias=True)) == len(list(model.parameters()))


def test_iterable_of_tensors_is_taken_as_given():
    tensors = [torch.ones(2), torch.ones(3, 3)]
    assert penalized_parameters(iter(tensors)) == tensors
    single = torch.ones(4)
    assert penalized_parameters(single) == [single]


@pytest.mark.parametrize("bad", [3, None, 2.5])
def test_penalized_parameters_rejects_what_is_not_parameters(bad):
    with pytest.raises(TypeError, match="params must be an nn.Module or an iterable"):
        penalized_parameters(bad)


def test_penalized_parameters_rejects_non_tensor_entries_and_non_bool_flag():
    with pytest.raises(TypeError, match=r"params\[1\] must be a torch.Tensor"):
        penalized_parameters([torch.ones(2), [1.0, 2.0]])
    with pytest.raises(TypeError, match="include_bias must be True or False"):
        penalized_parameters(_model(), include_bias=1)


# --- l2_penalty -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_penalty_is_half_the_sum_of_squares(dtype):
    a = torch.tensor([3.0, 4.0], dtype=dtype)
    b = torch.tensor([[1.0, -2.0]], dtype=dtype)
    assert l2_penalty([a, b]).item() == pytest.approx(0.5 * (9 + 16 + 1 + 4))


def test_l2_penalty_gradient_is_the_weight_and_zero_for_biases():
    model = _model()
    grads = torch.autograd.grad(l2_penalty(model), list(model.parameters()), allow_unused=True)
    for p, g in zip(model.parameters(), grads):
        if p.dim() >= 2:
            assert torch.equal(g, p.detach())
        else:
            assert g is None  # biases do not enter the penalty at all


def test_l2_penalty_with_biases_counts_every_parameter():
    model = _model()
    expected = 0.5 * sum(p.detach().pow(2).sum() for p in model.parameters())
    assert l2_penalty(model, include_bias=True).item() == pytest.approx(expected.item())


def test_l2_penalty_of_nothing_is_zero():
    assert l2_penalty([]).item() == 0.0
    assert l2_penalty(nn.ReLU()).item() == 0.0


def test_l2_penalty_rejects_bad_input():
    with pytest.raises(TypeError, match="params must be"):
        l2_penalty(7)
    with pytest.raises(TypeError, match="include_bias"):
        l2_penalty(_model(), include_bias="no")


# --- l1_penalty -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_l1_penalty_is_the_sum_of_absolute_values(dtype):
    assert l1_penalty([torch.tensor([3.0, -4.0], dtype=dtype), torch.tensor([[-0.5]], dtype=dtype)]).item() == pytest.approx(7.5)


def test_l1_penalty_gradient_is_the_sign_with_zero_at_zero():
    w = torch.tensor([2.0, -0.1, 0.0], requires_grad=True)
    (g,) = torch.autograd.grad(l1_penalty([w]), w)
    assert g.tolist() == [1.0, -1.0, 0.0]


def test_l1_penalty_excludes_biases_of_a_module():
    model = _model()
    expected = sum(p.detach().abs().sum() for p in model.parameters() if p.dim() >= 2)
    assert l1_penalty(model).item() == pytest.approx(expected.item())


def test_l1_penalty_rejects_bad_input():
    with pytest.raises(TypeError, match="params must be"):
        l1_penalty(1.0)
    with pytest.raises(TypeError, match=r"params\[0\] must be a torch.Tensor"):
        l1_penalty(["w"])


# --- weight_decay_step ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_decay_step_shrinks_then_steps(dtype):
    w = torch.tensor([1.0, -2.0], dtype=dtype)
    g = torch.tensor([0.5, 0.5], dtype=dtype)
    expected = w - 0.1 * (g + 0.3 * w)
    assert torch.allclose(weight_decay_step(w, g, lr=0.1, alpha=0.3), expected)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_step_matches_torch_sgd_weight_decay(momentum):
    # Trusted reference: torch.optim.SGD(weight_decay=alpha) adds alpha*w to the gradient.
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    w0 = torch.randn(4, generator=g, dtype=torch.float64)
    lr, alpha = 0.05, 0.7
    p = nn.Parameter(w0.clone())
    opt = torch.optim.SGD([p], lr=lr, weight_decay=alpha, momentum=momentum)
    w, velocity = w0.clone(), None
    for _ in range(5):
        opt.zero_grad()
        (0.5 * (X @ p - y).pow(2).mean()).backward()
        opt.step()
        grad_J = X.T @ (X @ w - y) / len(y)
        if momentum == 0.0:
            w = weight_decay_step(w, grad_J, lr=lr, alpha=alpha)
        else:  # torch's heavy ball runs on the decayed gradient grad J + alpha * w
            decayed = grad_J + alpha * w
            velocity = decayed if velocity is None else momentum * velocity + decayed
            w = w - lr * velocity
    assert torch.allclose(w, p.detach(), rtol=1e-12, atol=1e-14)


def test_weight_decay_with_zero_gradient_decays_geometrically():
    w = torch.tensor([2.0], dtype=torch.float64)
    for _ in range(10):
        w = weight_decay_step(w, torch.zeros(1, dtype=torch.float64), lr=0.1, alpha=0.5)
    assert w.item() == pytest.approx(2.0 * 0.95**10, rel=1e-14)


def test_weight_decay_step_returns_a_new_tensor():
    w = torch.ones(3)
    out = weight_decay_step(w, torch.ones(3), lr=0.1, alpha=1.0)
    assert out is not w and torch.equal(w, torch.ones(3))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(lr=0.0, alpha=0.1), ValueError, r"lr must be in \(0, inf\), but got 0.0"),
        (dict(lr=-1.0, alpha=0.1), ValueError, "lr must be in"),
        (dict(lr=0.1, alpha=-0.1), ValueError, r"alpha must be in \[0, inf\), but got -0.1"),
        (dict(lr=0.1, alpha=float("nan")), ValueError, "alpha must be in"),
        (dict(lr=float("inf"), alpha=0.1), ValueError, "lr must be in"),
        (dict(lr="0.1", alpha=0.1), TypeError, "lr must be a real number"),
    ],
)
def test_weight_decay_step_rejects_bad_rates(kwargs, error, message):
    with pytest.raises(error, match=message):
        weight_decay_step(torch.ones(2), torch.ones(2), **kwargs)


def test_weight_decay_step_rejects_bad_tensors():
    with pytest.raises(ValueError, match=r"grad must have the shape of w \(2,\), but got \(3,\)"):
        weight_decay_step(torch.ones(2), torch.ones(3), lr=0.1, alpha=0.1)
    with pytest.raises(TypeError, match="w must be a floating-point tensor"):
        weight_decay_step(torch.ones(2, dtype=torch.long), torch.ones(2), lr=0.1, alpha=0.1)
    with pytest.raises(TypeError, match="grad must be a torch.Tensor"):
        weight_decay_step(torch.ones(2), [1.0, 1.0], lr=0.1, alpha=0.1)


# --- l1_step ----------------------------------------------------------------------------------
def test_l1_step_matches_sgd_on_the_l1_penalised_loss():
    # Autograd's subgradient of |w| is sign(w), so plain SGD on J + alpha*||w||_1 is l1_step.
    w0 = torch.tensor([1.0, -0.5, 0.25], dtype=torch.float64)
    target = torch.tensor([0.3, 0.3, 0.3], dtype=torch.float64)
    p = nn.Parameter(w0.clone())
    opt = torch.optim.SGD([p], lr=0.1)
    (0.5 * (p - target).pow(2).sum() + 0.2 * l1_penalty([p])).backward()
    opt.step()
    assert torch.allclose(l1_step(w0, w0 - target, lr=0.1, alpha=0.2), p.detach(), rtol=1e-14)


def test_l1_step_pull_has_constant_size():
    w = torch.tensor([5.0, 0.01, -3.0])
    moved = w - l1_step(w, torch.zeros(3), lr=0.1, alpha=1.0)
    assert torch.allclose(moved.abs(), torch.full((3,), 0.1))


def test_l1_step_rejects_bad_input():
    with pytest.raises(ValueError, match="alpha must be in"):
        l1_step(torch.ones(2), torch.ones(2), lr=0.1, alpha=-1.0)
    with pytest.raises(ValueError, match="grad must have the shape"):
        l1_step(torch.ones(2), torch.ones(2, 1), lr=0.1, alpha=1.0)
    with pytest.raises(TypeError, match="w must be a torch.Tensor"):
        l1_step(1.0, torch.ones(1), lr=0.1, alpha=1.0)


# --- soft_threshold ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 5.0])
def test_soft_threshold_matches_torch_softshrink(dtype, t):
    w = torch.linspace(-3, 3, 61, dtype=dtype)
    assert torch.allclose(soft_threshold(w, t), F.softshrink(w, t))


def test_soft_threshold_accepts_a_threshold_per_entry():
    w = torch.tensor([3.0, -3.0, 0.5])
    out = soft_threshold(w, torch.tensor([1.0, 2.0, 1.0]))
    assert out.tolist() == [2.0, -1.0, 0.0]


def test_soft_threshold_is_the_minimiser_of_the_scalar_problem():
    # argmin_w 1/2 (w - v)^2 + t|w| on a fine grid.
    grid = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    for v, t in [(2.0, 0.5), (-1.0, 1.5), (0.2, 0.2)]:
        best = grid[(0.5 * (grid - v) ** 2 + t * grid.abs()).argmin()].item()
        assert soft_threshold(torch.tensor([v], dtype=torch.float64), t).item() == pytest.approx(best, abs=1e-4)


def test_soft_threshold_rejects_bad_thresholds():
    with pytest.raises(ValueError, match=r"threshold must be in \[0, inf\], but got -1.0"):
        soft_threshold(torch.ones(2), -1.0)
    with pytest.raises(ValueError, match="threshold must have entries in"):
        soft_threshold(torch.ones(2), torch.tensor([0.5, -0.5]))
    with pytest.raises(ValueError, match="threshold must have entries in"):
        soft_threshold(torch.ones(2), torch.tensor([0.5, float("nan")]))
    with pytest.raises(TypeError, match="threshold must be a real number"):
        soft_threshold(torch.ones(2), "1")
    with pytest.raises(TypeError, match="w must be a floating-point tensor"):
        soft_threshold(torch.ones(2, dtype=torch.long), 1.0)


def test_soft_threshold_rejects_negative_integer_thresholds():
    with pytest.raises(ValueError, match="threshold must have entries in"):
        soft_threshold(torch.ones(2), torch.tensor([1, -1]))


def test_soft_threshold_keeps_infinite_threshold_at_zero():
    assert soft_threshold(torch.tensor([1e300, -2.0], dtype=torch.float64), math.inf).tolist() == [0.0, 0.0]
