"""Tests of reglab.ensembles: bootstrap samples, averaging, bagged training, error moments."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab.ensembles import (
    bootstrap_indices,
    ensemble_average,
    error_moments,
    fit_bagged,
    out_of_bag_mask,
)
from reglab.training import StackedMLP, TrainConfig, fit_stacked


# ---- bootstrap_indices -----------------------------------------------------------------------


def test_bootstrap_indices_shape_dtype_and_range():
    idx = bootstrap_indices(7, 3, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (3, 7) and idx.dtype == torch.long
    assert idx.min() >= 0 and idx.max() <= 6


def test_bootstrap_indices_equal_torch_randint_with_the_same_generator():
    ours = bootstrap_indices(50, 4, generator=torch.Generator().manual_seed(5))
    reference = torch.randint(0, 50, (4, 50), generator=torch.Generator().manual_seed(5))
    assert torch.equal(ours, reference)


def test_bootstrap_indices_are_uniform_over_examples():
    idx = bootstrap_indices(10, 20_000, generator=torch.Generator().manual_seed(1))
    counts = torch.bincount(idx.reshape(-1), minlength=10).double() / idx.numel()
    # 200 000 draws: the standard error of each frequency is sqrt(0.09 / 2e5) = 6.7e-4.
    assert torch.allclose(counts, torch.full((10,), 0.1, dtype=torch.float64), atol=5 * 6.7e-4)


def test_bootstrap_of_one_example_repeats_it():
    assert torch.equal(bootstrap_indices(1, 2), torch.zeros(2, 1, dtype=torch.long))


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((0, 3), ValueError, "n must be an integer in \\[1, inf\\], but got 0"),
        ((5, 0), ValueError, "num_bags must be an integer in \\[1, inf\\], but got 0"),
        ((5.0, 3), TypeError, "n must be an integer"),
        ((5, True), TypeError, "num_bags must be an integer"),
    ],
)
def test_invalid_bootstrap_arguments_rejected(args, error, match):
    with pytest.raises(error, match=match):
        bootstrap_indices(*args)


def test_invalid_generator_rejected():
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        bootstrap_indices(5, 2, generator=0)


# ---- out_of_bag_mask -------------------------------------------------------------------------


def test_out_of_bag_mask_matches_python_sets():
    idx = bootstrap_indices(12, 6, generator=torch.Generator().manual_seed(2))
    mask = out_of_bag_mask(idx, 12)
    for b in range(6):
        seen = set(idx[b].tolist())
        assert mask[b].tolist() == [i not in seen for i in range(12)]


def test_out_of_bag_mask_rejects_indices_out_of_range():
    message = "indices must lie in \\[0, 2\\] for n = 3, but got values from 0 to 3"
    with pytest.raises(ValueError, match=message):
        out_of_bag_mask(torch.tensor([[0, 3]]), 3)


def test_out_of_bag_mask_rejects_float_indices_and_wrong_shape():
    with pytest.raises(TypeError, match="indices must be a LongTensor"):
        out_of_bag_mask(torch.tensor([[0.0, 1.0]]), 3)
    with pytest.raises(ValueError, match="indices must have 2 dimensions"):
        out_of_bag_mask(torch.tensor([0, 1]), 3)


# ---- ensemble_average ------------------------------------------------------------------------


def test_probability_average_is_mean_of_softmax():
    logits = torch.randn(4, 6, 3, dtype=torch.float64)
    expected = torch.stack([torch.softmax(l, -1) for l in logits]).mean(0)
    torch.testing.assert_close(ensemble_average(logits), expected)
    torch.testing.assert_close(ensemble_average(logits).sum(-1), torch.ones(6, dtype=torch.float64))


def test_logit_average_gives_normalised_geometric_mean_of_probabilities():
    logits = torch.randn(5, 4, 3, dtype=torch.float64)
    geometric = torch.log_softmax(logits, -1).mean(0).exp()
    averaged = torch.softmax(ensemble_average(logits, kind="logits"), -1)
    torch.testing.assert_close(averaged, geometric / geometric.sum(-1, keepdim=True))


def test_regression_average_and_member_dimension():
    out = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    torch.testing.assert_close(ensemble_average(out, kind="regression"), out.mean(0))
    torch.testing.assert_close(ensemble_average(out, kind="logits", dim=1), out.mean(1))


@pytest.mark.parametrize(
    "outputs, kwargs, error, match",
    [
        (torch.zeros(2, 3), {}, ValueError, "at least 2 more for kind='probabilities'"),
        (torch.zeros(2, 3, 4), {"kind": "votes"}, ValueError, "kind must be one of"),
        (torch.zeros(2, 3, 4, dtype=torch.long), {}, TypeError, "outputs must be a floating-point tensor"),
        (torch.zeros(2, 3, 4), {"dim": 3}, ValueError, "dim must be an integer in \\[-3, 2\\], but got 3"),
        (torch.zeros(2, 3, 4), {"dim": -1}, ValueError, "dim must not be the class dimension"),
        ([[1.0]], {}, TypeError, "outputs must be a torch.Tensor"),
    ],
)
def test_invalid_ensemble_average_arguments_rejected(outputs, kwargs, error, match):
    with pytest.raises(error, match=match):
        ensemble_average(outputs, **kwargs)


# ---- fit_bagged ------------------------------------------------------------------------------


def _toy_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 5, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    return X, y


def test_fit_bagged_equals_stacked_training_on_its_bootstrap_samples():
    X, y = _toy_problem()
    config = TrainConfig(epochs=3, lr=0.01, optimizer="adam", batch_size=16, seed=4)
    bag = fit_bagged(X, y, num_members=3, sizes=(5, 8, 3), config=config)
    expected_idx = bootstrap_indices(60, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(bag.indices, expected_idx)
    model = StackedMLP(3, (5, 8, 3), seed=4, dtype=torch.float64)
    fit_stacked(model, X, y, config=config, member_indices=expected_idx)
    with torch.no_grad():
        torch.testing.assert_close(bag.outputs(X), model(X))
    torch.testing.assert_close(bag.predict(X), ensemble_average(model(X).detach()))


def test_fit_bagged_without_bootstrap_uses_every_example():
    X, y = _toy_problem()
    bag = fit_bagged(X, y, num_members=2, sizes=(5, 4, 3), config=TrainConfig(epochs=1), bootstrap=False)
    assert torch.equal(bag.indices, torch.arange(60).expand(2, 60))
    assert bag.model.layers[0].weight.dtype == torch.float64


def test_fit_bagged_rejects_mismatched_sizes_and_bad_options():
    X, y = _toy_problem()
    config = TrainConfig(epochs=1)
    with pytest.raises(ValueError, match="sizes\\[0\\] must equal the number of features of X \\(5\\)"):
        fit_bagged(X, y, num_members=2, sizes=(4, 3), config=config)
    with pytest.raises(ValueError, match="num_members must be an integer in \\[1, inf\\], but got 0"):
        fit_bagged(X, y, num_members=0, sizes=(5, 3), config=config)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        fit_bagged(X, y, num_members=2, sizes=(5, 3), config={"epochs": 1})
    with pytest.raises(TypeError, match="bootstrap must be True or False"):
        fit_bagged(X, y, num_members=2, sizes=(5, 3), config=config, bootstrap=1)


# ---- error_moments ---------------------------------------------------------------------------


def test_error_moments_match_numpy():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(4, 30, 3)), rng.normal(size=(30, 3))
    m = error_moments(torch.tensor(pred), torch.tensor(target))
    e = pred - target
    matrix = np.einsum("mnk,lnk->ml", e, e) / 30
    np.testing.assert_allclose(m.matrix.numpy(), matrix, rtol=1e-12)
    assert m.v == pytest.approx(np.trace(matrix) / 4, rel=1e-12)
    assert m.c == pytest.approx((matrix.sum() - np.trace(matrix)) / 12, rel=1e-12)
    assert m.ensemble_error == pytest.approx((e.mean(0) ** 2).sum(-1).mean(), rel=1e-12)
    assert m.spread == pytest.approx(((pred - pred.mean(0)) ** 2).sum(-1).mean(), rel=1e-12)
    np.testing.assert_allclose(np.diag(m.correlation.numpy()), 1.0)


def test_ensemble_error_is_mean_error_minus_spread():
    logits = torch.randn(6, 50, 4, dtype=torch.float64)
    m = error_moments(torch.softmax(logits, -1), F.one_hot(torch.arange(50) % 4, 4).double())
    assert m.ensemble_error == pytest.approx(m.v - m.spread, rel=1e-12)
    assert m.member_errors.shape == (6,) and m.num_members == 6


def test_error_moments_of_scalar_outputs():
    m = error_moments(torch.tensor([[1.0, 2.0], [3.0, 2.0]]), torch.tensor([2.0, 2.0]))
    assert (m.v, m.c, m.ensemble_error, m.spread) == (0.5, -0.5, 0.0, 0.5)


def test_error_moments_rejects_bad_shapes_and_single_member_c():
    with pytest.raises(ValueError, match="the shape of one member's predictions \\(3, 2\\)"):
        error_moments(torch.zeros(2, 3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="targets must have 2 dimensions"):
        error_moments(torch.zeros(2, 3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="predictions must contain only finite values"):
        error_moments(torch.full((2, 3), float("nan")), torch.zeros(3))
    with pytest.raises(ValueError, match="c needs at least 2 members"):
        error_moments(torch.zeros(1, 3), torch.zeros(3)).c
