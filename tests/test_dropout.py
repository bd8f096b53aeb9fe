"""Tests of reglab.dropout: the functional and module forms, mask enumeration, ensemble means."""
import math

import pytest
import torch
import torch.nn.functional as F

from reglab.dropout import Dropout, dropout, enumerate_masks, ensemble_mean, mask_probabilities

DT = torch.float64


# ---------------------------------------------------------------- dropout / Dropout vs torch


@pytest.mark.parametrize("keep_prob", [0.2, 0.5, 0.9])
def test_same_global_seed_gives_the_same_output_as_torch_functional_dropout(keep_prob):
    x = torch.randn(64, 33)
    torch.manual_seed(0)
    expected = F.dropout(x, p=1 - keep_prob, training=True)
    torch.manual_seed(0)
    torch.testing.assert_close(dropout(x, keep_prob), expected, rtol=0, atol=0)


@pytest.mark.parametrize("keep_prob", [0.3, 0.75])
def test_module_matches_torch_dropout_in_distribution(keep_prob):
    # Keep frequencies of ours and of torch.nn.Dropout(p = 1 - keep_prob), drawn independently,
    # agree with keep_prob within 4.4 standard errors (two-sided 1e-5 each).
    n = 100_000
    ours, theirs = Dropout(keep_prob), torch.nn.Dropout(p=1 - keep_prob)
    ours.generator = torch.Generator().manual_seed(1)
    torch.manual_seed(2)
    se = math.sqrt(keep_prob * (1 - keep_prob) / n)
    for layer in (ours, theirs):
        out = layer.train()(torch.ones(n, dtype=DT))
        kept = out != 0
        assert abs(kept.double().mean().item() - keep_prob) < 4.4 * se
        torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / keep_prob))


def test_eval_mode_matches_torch_dropout_and_is_identity():
    x = torch.randn(5, 7, dtype=DT)
    ours, theirs = Dropout(0.6).eval(), torch.nn.Dropout(p=0.4).eval()
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    torch.testing.assert_close(ours(x), x, rtol=0, atol=0)


def test_test_time_scaling_multiplies_by_keep_prob_only_at_eval():
    x = torch.randn(4, 6, dtype=DT)
    torch.testing.assert_close(dropout(x, 0.3, training=False, scaling="test-time"), 0.3 * x)
    g = torch.Generator().manual_seed(0)
    out = dropout(x, 0.3, scaling="test-time", generator=g)
    assert torch.all((out == 0) | (out == x))


def test_generator_makes_masks_reproducible():
    x = torch.ones(100, dtype=DT)
    a = dropout(x, 0.5, generator=torch.Generator().manual_seed(3))
    b = dropout(x, 0.5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("scaling", ["inverted", "test-time"])
def test_keep_prob_one_is_identity(scaling):
    x = torch.randn(3, 3, dtype=DT)
    for training in (True, False):
        torch.testing.assert_close(dropout(x, 1.0, training=training, scaling=scaling), x, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_is_the_mask_and_dtype_is_kept(dtype):
    x = torch.randn(10, 8, dtype=dtype, requires_grad=True)
    out = dropout(x, 0.5, generator=torch.Generator().manual_seed(0))
    out.sum().backward()
    assert out.dtype == dtype
    torch.testing.assert_close(x.grad, (out != 0).to(dtype) * 2.0)


def test_module_repr_names_keep_prob_and_scaling():
    assert repr(Dropout(0.5, scaling="test-time")) == "Dropout(keep_prob=0.5, scaling='test-time')"


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), float("inf")])
def test_invalid_keep_prob_rejected_by_function_and_module(bad):
    x = torch.ones(3)
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\], but got"):
        dropout(x, bad)
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\], but got"):
        Dropout(bad)


def test_bad_types_rejected():
    x = torch.ones(3)
    with pytest.raises(TypeError, match="keep_prob must be a real number"):
        dropout(x, "0.5")
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        dropout([1.0, 2.0], 0.5)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        dropout(torch.ones(3, dtype=torch.long), 0.5)
    with pytest.raises(TypeError, match="training must be a bool"):
        dropout(x, 0.5, training=1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        dropout(x, 0.5, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        Dropout(0.5, generator=0)
    with pytest.raises(ValueError, match="scaling must be one of 'inverted', 'test-time'"):
        dropout(x, 0.5, scaling="train-time")
    with pytest.raises(ValueError, match="scaling must be one of"):
        Dropout(0.5, scaling="none")


# ---------------------------------------------------------------- enumeration


def test_enumerate_masks_lists_every_binary_vector_once():
    masks = enumerate_masks(5)
    assert masks.shape == (32, 5) and masks.dtype == DT
    assert len({tuple(r) for r in masks.tolist()}) == 32
    assert enumerate_masks(0).shape == (1, 0)


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 1.0])
def test_mask_probabilities_sum_to_one_and_give_binomial_counts(keep_prob):
    masks = enumerate_masks(6)
    probs = mask_probabilities(masks, keep_prob)
    assert probs.dtype == DT
    torch.testing.assert_close(probs.sum(), torch.tensor(1.0, dtype=DT))
    from scipy.stats import binom

    by_count = torch.zeros(7, dtype=DT).index_add_(0, masks.sum(1).long(), probs)
    torch.testing.assert_close(by_count, torch.as_tensor(binom.pmf(range(7), 6, keep_prob), dtype=DT))


def test_enumeration_and_probabilities_reject_bad_input():
    with pytest.raises(ValueError, match=r"n must be an integer in \[0, 22\], but got 23"):
        enumerate_masks(23)
    with pytest.raises(TypeError, match="n must be an integer"):
        enumerate_masks(2.0)
    with pytest.raises(ValueError, match="masks must contain only 0 and 1"):
        mask_probabilities(torch.tensor([[0.0, 2.0]]), 0.5)
    with pytest.raises(ValueError, match="masks must have 2 dimensions"):
        mask_probabilities(torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        mask_probabilities(enumerate_masks(2), 0.0)


def test_ensemble_mean_of_a_linear_function_is_the_function_at_p():
    w = torch.randn(7, 3, dtype=DT)
    exact = ensemble_mean(lambda r: r @ w, 7, 0.3, chunk_size=5, dtype=torch.float64)
    torch.testing.assert_close(exact, 0.3 * w.sum(0))


def test_ensemble_mean_matches_monte_carlo_for_a_nonlinear_function():
    f = lambda r: torch.tanh(r @ torch.arange(1.0, 7.0, dtype=DT) - 5.0)  # noqa: E731
    exact = ensemble_mean(f, 6, 0.4, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    samples = f(dropout(torch.ones(200_000, 6, dtype=DT), 0.4, scaling="test-time", generator=g))
    assert abs(samples.mean() - exact) < 4.4 * samples.std() / math.sqrt(samples.numel())


def test_geometric_ensemble_is_a_normalised_distribution():
    W = torch.randn(4, 3, dtype=DT)
    out = ensemble_mean(lambda r: torch.softmax(r @ W, -1), 4, 0.5, mean="geometric", dtype=torch.float64)
    assert out.shape == (3,)
    torch.testing.assert_close(out.sum(), torch.tensor(1.0, dtype=DT))


def test_ensemble_mean_rejects_bad_input():
    with pytest.raises(TypeError, match="fn must be callable"):
        ensemble_mean(3, 2, 0.5, dtype=torch.float64)
    with pytest.raises(ValueError, match="mean must be one of 'arithmetic', 'geometric'"):
        ensemble_mean(lambda r: r, 2, 0.5, mean="harmonic", dtype=torch.float64)
    with pytest.raises(ValueError, match="one row per mask"):
        ensemble_mean(lambda r: r.sum(), 2, 0.5, dtype=torch.float64)
    with pytest.raises(ValueError, match="chunk_size must be an integer"):
        ensemble_mean(lambda r: r, 2, 0.5, chunk_size=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        ensemble_mean(lambda r: r, 2, 1.01, dtype=torch.float64)
