"""Noise on inputs, weights and labels; label smoothing and calibration."""
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from reglab.noise import (
    WeightNoise,
    add_gaussian_noise,
    add_weight_noise,
    perturbed_outputs,
    perturbed_parameters,
    remove_weight_noise,
)
from reglab.training import StackedMLP, TrainConfig, fit_stacked


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- inputs
def test_input_noise_has_the_requested_standard_deviation():
    x = torch.full((200000,), 3.0, dtype=torch.float64)
    out = add_gaussian_noise(x, 0.5, generator=gen())
    assert abs(out.mean().item() - 3.0) < 4 * 0.5 / math.sqrt(200000)
    assert abs(out.std().item() - 0.5) < 0.005
    assert torch.equal(add_gaussian_noise(x, 0.0), x)


# ----------------------------------------------------------------------------- weights
def test_perturbed_parameters_restores_weights_exactly_even_after_an_error():
    net = nn.Linear(4, 3).double()
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(RuntimeError):
        with perturbed_parameters(net, 0.5, generator=gen()) as noise:
            assert not torch.equal(net.weight, before[0])
            torch.testing.assert_close(net.weight - before[0], noise["weight"])
            raise RuntimeError("boom")
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))


def test_perturbed_parameters_can_leave_biases_alone():
    net = nn.Linear(4, 3).double()
    bias = net.bias.detach().clone()
    with perturbed_parameters(net, 0.5, include_bias=False, generator=gen()) as noise:
        assert torch.equal(net.bias, bias) and set(noise) == {"weight"}


def test_perturbed_outputs_match_a_loop_over_perturbed_copies():
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    out = perturbed_outputs(net, x, 0.2, 3, generator=gen(7))
    g = gen(7)
    # Same draws in the same order: one standard normal tensor per parameter, batched over samples.
    z = {n: torch.randn((3, *p.shape), generator=g, dtype=p.dtype) for n, p in net.named_parameters()}
    for s in range(3):
        copy = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
        copy.load_state_dict({n: p.detach() + math.sqrt(0.2) * z[n][s] for n, p in net.named_parameters()})
        torch.testing.assert_close(out[s], copy(x).detach())


def test_antithetic_pairs_use_opposite_noise():
    net = nn.Linear(3, 1, bias=False).double()
    x = torch.eye(3, dtype=torch.float64)
    out = perturbed_outputs(net, x, 0.3, 8, antithetic=True, generator=gen())
    clean = net(x).detach()
    torch.testing.assert_close(out[:4] - clean, -(out[4:] - clean))


def test_weight_noise_variance_matches_eta_per_member():
    model = StackedMLP(3, (2, 4, 2), dtype=torch.float64)
    clean = model.layers[0].weight.detach().clone()
    eta = torch.tensor([0.0, 0.01, 0.25], dtype=torch.float64)
    add_weight_noise(model, eta, generator=gen())
    model.train()
    draws = torch.stack([model.layers[0].weight - clean for _ in range(4000)]).detach()
    var = draws.var(dim=(0, 2, 3))
    torch.testing.assert_close(var, eta, atol=0.01 * 0.25 + 1e-12, rtol=0.05)
    model.eval()
    assert torch.equal(model.layers[0].weight, clean)


def test_weight_noise_gradient_flows_to_the_clean_weights():
    net = add_weight_noise(nn.Linear(3, 1).double(), 0.1, generator=gen())
    net.train()
    net(torch.ones(2, 3, dtype=torch.float64)).sum().backward()
    original = net.parametrizations.weight.original
    torch.testing.assert_close(original.grad, torch.full((1, 3), 2.0, dtype=torch.float64))


def test_training_with_weight_noise_through_fit_stacked_and_removing_it():
    X = torch.randn(40, 4, dtype=torch.float64)
    y = torch.randint(0, 2, (40,), generator=gen())
    model = StackedMLP(2, (4, 6, 2), dtype=torch.float64)
    add_weight_noise(model, torch.tensor([0.0, 0.01], dtype=torch.float64), generator=gen())
    fit_stacked(model, X, y, config=TrainConfig(epochs=2, batch_size=10))
    remove_weight_noise(model)
    assert not parametrize.is_parametrized(model.layers[0])
    assert {n for n, _ in model.named_parameters()} == {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}


def test_zero_weight_noise_member_trains_like_a_plain_member():
    X = torch.randn(40, 4, dtype=torch.float64)
    y = torch.randint(0, 2, (40,), generator=gen())
    plain = StackedMLP(2, (4, 6, 2), seed=3, dtype=torch.float64)
    noisy = StackedMLP(2, (4, 6, 2), seed=3, dtype=torch.float64)
    add_weight_noise(noisy, torch.tensor([0.0, 0.05], dtype=torch.float64), generator=gen())
    for m in (plain, noisy):
        fit_stacked(m, X, y, config=TrainConfig(epochs=3, batch_size=10))
    remove_weight_noise(noisy)
    torch.testing.assert_close(noisy.layers[0].weight[0], plain.layers[0].weight[0])
    assert not torch.allclose(noisy.layers[0].weight[1], plain.layers[0].weight[1])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: add_gaussian_noise(torch.ones(3), -0.1), ValueError, r"sigma must be in \[0, inf\), but got -0.1"),
        (lambda: add_gaussian_noise([1.0], 0.1), TypeError, "x must be a torch.Tensor"),
        (lambda: perturbed_parameters("net", 0.1).__enter__(), TypeError, "model must be an nn.Module"),
        (lambda: perturbed_parameters(nn.Linear(2, 1), -1.0).__enter__(), ValueError, r"eta must be in \[0, inf\)"),
        (lambda: perturbed_outputs(nn.Linear(2, 1), torch.ones(1, 2), 0.1, 3, antithetic=True), ValueError, "num_samples must be even"),
        (lambda: perturbed_outputs(nn.Linear(2, 1), torch.ones(1, 2), 0.1, 0), ValueError, "num_samples must be an integer"),
        (lambda: WeightNoise(torch.tensor([0.1, -0.1])), ValueError, "eta must be finite and >= 0 for every member"),
        (lambda: WeightNoise(float("nan")), ValueError, "eta must be in"),
        (lambda: add_weight_noise(nn.Linear(2, 1), -0.5), ValueError, r"eta must be in \[0, inf\)"),
        (lambda: add_weight_noise(nn.ReLU(), 0.1), ValueError, "no parameter to perturb"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_remove_weight_noise_rejects_a_non_module():
    from reglab.noise import remove_weight_noise

    with pytest.raises(TypeError, match="model must be an nn.Module"):
        remove_weight_noise("model")
