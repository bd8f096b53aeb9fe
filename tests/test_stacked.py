"""Tests of reglab.stacked: stacked linear layers and MLPs, paired arms, bad input."""
import pytest
import torch
import torch.nn.functional as F

import reglab.training
from reglab.stacked import StackedLinear, StackedMLP, paired_stacked_mlp


def test_stacked_linear_is_one_linear_layer_per_member():
    layer = StackedLinear(3, 4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.randn(5, 4, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (3, 5, 2)
    for m in range(3):
        assert torch.allclose(out[m], F.linear(x, layer.weight[m], layer.bias[m]))
    per_member = torch.randn(3, 5, 4, dtype=torch.float64)
    assert torch.allclose(layer(per_member)[1], F.linear(per_member[1], layer.weight[1], layer.bias[1]))


def test_stacked_linear_initialises_like_nn_linear():
    layer = StackedLinear(50, 16, 8, generator=torch.Generator().manual_seed(0))
    bound = 1 / 16**0.5
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert not torch.equal(layer.weight[0], layer.weight[1])


def test_stacked_linear_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_models must be an integer in"):
        StackedLinear(0, 2, 2)
    with pytest.raises(TypeError, match="in_features must be an integer"):
        StackedLinear(1, 2.0, 2)


def test_stacked_mlp_members_are_independent_mlps():
    model = StackedMLP(2, (4, 6, 3), seed=0, dtype=torch.float64)
    x = torch.randn(7, 4, dtype=torch.float64)
    out = model(x)
    for m in range(2):
        h = torch.relu(F.linear(x, model.layers[0].weight[m], model.layers[0].bias[m]))
        assert torch.allclose(out[m], F.linear(h, model.layers[1].weight[m], model.layers[1].bias[m]))
    expected_l2 = [0.5 * sum(w[m].pow(2).sum() for w in model.weights()) for m in range(2)]
    assert torch.allclose(model.member_l2(), torch.stack(expected_l2))


def test_stacked_mlp_dropout_acts_only_in_training():
    model = StackedMLP(1, (4, 50, 2), seed=0, dropout_keep=0.5, dtype=torch.float64)
    x = torch.randn(3, 4, dtype=torch.float64)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_models=2, sizes=(4,)), ValueError, "sizes must list at least an input and an output width"),
        (dict(num_models=2, sizes=(4, 0, 2)), ValueError, r"sizes\[1\] must be an integer in"),
        (dict(num_models=0, sizes=(4, 2)), ValueError, "num_models must be an integer in"),
        (dict(num_models=2, sizes=(4, 2), dropout_keep=0.0), ValueError, r"dropout_keep must be in \(0, 1\]"),
        (dict(num_models=2, sizes=(4, 2), seed=-1), ValueError, "seed must be an integer in"),
    ],
)
def test_stacked_mlp_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        StackedMLP(**kwargs)


def test_paired_members_share_their_initialisation_per_seed():
    model = paired_stacked_mlp(3, 2, (4, 5, 2), seed=0)
    assert model.num_models == 6 and all(p.dtype == torch.float64 for p in model.parameters())
    for p in model.parameters():
        assert torch.equal(p[0], p[2]) and torch.equal(p[0], p[4])
        assert torch.equal(p[1], p[3]) and not torch.equal(p[0], p[1])


def test_paired_seeds_are_the_members_of_an_unpaired_model():
    # Arm 0 is exactly StackedMLP(seeds, ...) with the same seed: pairing changes no initialisation.
    paired = paired_stacked_mlp(2, 3, (4, 5, 2), seed=7, dtype=torch.float32)
    alone = StackedMLP(3, (4, 5, 2), seed=7, dtype=torch.float32)
    for p, q in zip(paired.parameters(), alone.parameters()):
        assert p.dtype == torch.float32 and torch.equal(p[:3], q) and torch.equal(p[3:], q)


def test_stacked_names_are_importable_from_training_as_before():
    for name in ("StackedLinear", "StackedMLP", "paired_stacked_mlp"):
        assert getattr(reglab.training, name) is getattr(reglab.stacked, name)
        assert name in reglab.training.__all__


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: paired_stacked_mlp(0, 2, (3, 2)), ValueError, "arms must be an integer"),
        (lambda: paired_stacked_mlp(2, 1.5, (3, 2)), TypeError, "seeds must be an integer"),
        (lambda: paired_stacked_mlp(2, 2, 3), TypeError, "sizes must be a sequence of layer widths"),
        (lambda: paired_stacked_mlp(2, 2, (3, 2), seed=-1), ValueError, "seed must be an integer"),
    ],
)
def test_paired_stacked_mlp_rejects_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
