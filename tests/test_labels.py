"""Tests of reglab.labels: corrupted labels, label smoothing and calibration."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reglab.noise
from reglab.labels import corrupt_labels, expected_calibration_error, smooth_labels, smoothed_cross_entropy


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_corrupted_labels_flip_at_the_rate_asked_and_never_to_themselves_when_flipped():
    y = torch.randint(0, 10, (20000,), generator=gen())
    noisy = corrupt_labels(y, 0.3, 10, generator=gen(1))
    rate = (noisy != y).double().mean().item()
    assert abs(rate - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 20000)
    offsets = ((noisy - y) % 10)[noisy != y]
    counts = torch.bincount(offsets, minlength=10)[1:].double()
    assert counts.min() / counts.max() > 0.85  # every other class about equally likely


def test_expected_corrupted_one_hot_is_the_smoothed_target():
    y = torch.full((100000,), 2, dtype=torch.long)
    noisy = corrupt_labels(y, 0.2, 5, generator=gen())
    freq = F.one_hot(noisy, 5).double().mean(0)
    torch.testing.assert_close(freq, smooth_labels(torch.tensor([2]), 5, 0.2)[0], atol=0.005, rtol=0)


def test_smoothed_targets_as_in_the_lecture():
    q = smooth_labels(torch.tensor([6, 0]), 10, 0.1)
    assert q.dtype == torch.float64 and q.shape == (2, 10)
    assert q[0, 6] == pytest.approx(0.9) and q[0, 0] == pytest.approx(0.1 / 9)
    torch.testing.assert_close(q.sum(-1), torch.ones(2, dtype=torch.float64))
    assert torch.equal(smooth_labels(torch.tensor([1]), 3, 0.0), torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3, 0.9])
@pytest.mark.parametrize("k", [2, 3, 10])
def test_smoothed_loss_equals_torch_label_smoothing(eps, k):
    if eps * k / (k - 1) > 1:
        pytest.skip("PyTorch's label_smoothing cannot exceed 1")
    g = gen(k)
    logits = 3 * torch.randn(7, k, generator=g, dtype=torch.float64)
    labels = torch.randint(0, k, (7,), generator=g)
    reference = F.cross_entropy(logits, labels, label_smoothing=eps * k / (k - 1))
    torch.testing.assert_close(smoothed_cross_entropy(logits, labels, eps), reference, rtol=1e-12, atol=1e-12)
    per = F.cross_entropy(logits, labels, label_smoothing=eps * k / (k - 1), reduction="none")
    torch.testing.assert_close(smoothed_cross_entropy(logits, labels, eps, reduction="none"), per)


def test_smoothed_loss_equals_cross_entropy_with_soft_targets():
    logits = torch.randn(6, 4, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    soft = smooth_labels(labels, 4, 0.25)
    torch.testing.assert_close(smoothed_cross_entropy(logits, labels, 0.25), F.cross_entropy(logits, soft))


def test_stacked_logits_with_one_eps_per_member():
    logits = torch.randn(3, 5, 4, dtype=torch.float64)
    labels = torch.randint(0, 4, (5,), generator=gen())
    eps = torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64)
    out = smoothed_cross_entropy(logits, labels, eps)
    assert out.shape == (3,)
    for m in range(3):
        torch.testing.assert_close(out[m], smoothed_cross_entropy(logits[m], labels, float(eps[m])))


def test_ece_matches_a_direct_loop_over_bins():
    g = gen(3)
    probs = torch.softmax(2 * torch.randn(500, 4, generator=g, dtype=torch.float64), -1)
    labels = torch.randint(0, 4, (500,), generator=g)
    conf, pred = probs.max(-1)
    edges = np.linspace(0, 1, 11)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if inside.any():
            acc = (pred[inside] == labels[inside]).double().mean()
            ece += inside.double().mean() * (acc - conf[inside].mean()).abs()
    torch.testing.assert_close(expected_calibration_error(probs, labels, num_bins=10), ece, rtol=1e-10, atol=1e-12)
    stacked = expected_calibration_error(torch.stack([probs, probs]), labels, num_bins=10)
    torch.testing.assert_close(stacked, torch.stack([ece, ece]))


def test_ece_is_zero_for_perfectly_calibrated_confident_predictions():
    probs = torch.eye(3, dtype=torch.float64)
    assert expected_calibration_error(probs, torch.arange(3)).item() == 0.0


def test_label_names_are_importable_from_noise_as_before():
    for name in ("corrupt_labels", "smooth_labels", "smoothed_cross_entropy", "expected_calibration_error"):
        assert getattr(reglab.noise, name) is getattr(reglab.labels, name)
        assert name in reglab.noise.__all__


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: corrupt_labels(torch.tensor([0, 1]), 1.5, 3), ValueError, r"prob must be in \[0, 1\], but got 1.5"),
        (lambda: corrupt_labels(torch.tensor([0, 3]), 0.1, 3), ValueError, r"labels must be in \[0, 2\]"),
        (lambda: corrupt_labels(torch.tensor([0, 1]), 0.1, 1), ValueError, "num_classes must be an integer in"),
        (lambda: smooth_labels(torch.tensor([0, 1]), 3, 1.0), ValueError, r"eps must be in \[0, 1\), but got 1.0"),
        (lambda: smooth_labels(torch.tensor([0, 1]), 3, -0.1), ValueError, r"eps must be in \[0, 1\)"),
        (lambda: smooth_labels(torch.tensor([0.0, 1.0]), 3, 0.1), TypeError, "labels must be an integer tensor"),
        (lambda: smooth_labels(torch.tensor([0, 5]), 3, 0.1), ValueError, r"labels must be in \[0, 2\]"),
        (lambda: smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), 1.2), ValueError, r"eps must be in \[0, 1\)"),
        (lambda: smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1, 2]), 0.1), ValueError, "do not match logits"),
        (lambda: smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), 0.1, reduction="sum"), ValueError, "reduction must be one of"),
        (lambda: smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), torch.tensor([0.1, 0.2])), ValueError, "a tensor eps needs stacked logits"),
        (lambda: smoothed_cross_entropy(torch.randn(3), torch.tensor([0]), 0.1), ValueError, "logits must have 2 or 3 dimensions"),
        (lambda: expected_calibration_error(torch.rand(4, 3), torch.tensor([0, 1])), ValueError, "probs have 4 rows but labels has 2"),
        (lambda: expected_calibration_error(torch.rand(2, 3), torch.tensor([0, 1]), num_bins=0), ValueError, "num_bins must be an integer"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
