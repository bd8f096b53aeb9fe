"""Dataset augmentation for MNIST-1D signals and 8x8 digits."""
from functools import partial

import numpy as np
import pytest
import torch

from reglab.augment import (
    apply_randomly,
    augmentation_transform,
    negate,
    random_ramp,
    random_scale,
    random_shift,
    reverse,
    shift_signals,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shift", [-3, -1, 0, 2, 5, 40])
def test_circular_shift_matches_torch_roll(shift):
    x = torch.randn(4, 40, dtype=torch.float64)
    assert torch.equal(shift_signals(x, shift), torch.roll(x, shift, dims=-1))


def test_zero_shift_matches_numpy_padding():
    x = torch.arange(1.0, 6.0).expand(2, 5)
    out = shift_signals(x, torch.tensor([2, -1]), mode="zero")
    expected = np.array([[0, 0, 1, 2, 3], [2, 3, 4, 5, 0]], dtype=np.float32)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_per_signal_shifts_on_stacked_batches():
    x = torch.randn(3, 4, 10, dtype=torch.float64)
    shifts = torch.randint(-4, 5, (3, 4), generator=gen())
    out = shift_signals(x, shifts)
    for m in range(3):
        for b in range(4):
            assert torch.equal(out[m, b], torch.roll(x[m, b], int(shifts[m, b])))


def test_random_shift_is_a_roll_within_range_and_reproducible():
    x = torch.randn(50, 40, dtype=torch.float64)
    out = random_shift(x, max_shift=3, generator=gen(1))
    assert torch.equal(out, random_shift(x, max_shift=3, generator=gen(1)))
    for xi, oi in zip(x, out):
        assert any(torch.equal(oi, torch.roll(xi, s)) for s in range(-3, 4))


def test_random_scale_and_ramp_stay_within_their_ranges():
    x = torch.ones(200, 40, dtype=torch.float64)
    factors = random_scale(x, low=0.8, high=1.2, generator=gen())[:, 0]
    assert factors.min() >= 0.8 and factors.max() <= 1.2 and factors.std() > 0.05
    ramped = random_ramp(torch.zeros(200, 41, dtype=torch.float64), max_slope=0.4, generator=gen())
    slopes = ramped[:, -1] - ramped[:, 0]  # c * (1/2 - (-1/2)) = c
    assert slopes.abs().max() <= 0.4 + 1e-12
    torch.testing.assert_close(ramped[:, 20], torch.zeros(200, dtype=torch.float64))  # centre sample


def test_negate_and_reverse_are_involutions():
    x = torch.randn(5, 40, dtype=torch.float64)
    assert torch.equal(negate(negate(x)), x) and torch.equal(reverse(reverse(x)), x)
    assert torch.equal(reverse(x)[:, 0], x[:, -1])


def test_negation_maps_mnist1d_templates_onto_each_other():
    from mnist1d.data import get_templates

    t = torch.as_tensor(get_templates()["x"])
    for a, b in [(0, 6), (1, 7), (3, 8)]:
        torch.testing.assert_close(negate(t[a]), t[b])


def test_apply_randomly_changes_the_requested_fraction():
    x = torch.ones(4000, 3)
    out = apply_randomly(negate, x, 0.3, generator=gen())
    frac = (out[:, 0] < 0).double().mean().item()
    assert abs(frac - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 4000)
    assert torch.equal(apply_randomly(negate, x, 0.0), x)


def test_augmentation_transform_per_member_and_shared():
    xb = torch.randn(3, 5, 40, dtype=torch.float64)
    yb = torch.zeros(3, 5, dtype=torch.long)
    t = augmentation_transform([None, negate, reverse])
    out, y_out = t(xb, yb, None)
    assert torch.equal(out[0], xb[0]) and torch.equal(out[1], -xb[1]) and torch.equal(out[2], xb[2].flip(-1))
    assert y_out is yb
    shared, _ = augmentation_transform(negate)(xb, yb, None)
    assert torch.equal(shared, -xb)


def test_augmentation_transform_trains_with_fit_stacked():
    from reglab.training import StackedMLP, TrainConfig, fit_stacked

    X = torch.randn(60, 40, dtype=torch.float64)
    y = torch.randint(0, 3, (60,), generator=gen())
    model = StackedMLP(2, (40, 8, 3), dtype=torch.float64)
    t = augmentation_transform([None, partial(random_shift, max_shift=2, generator=gen())])
    history = fit_stacked(model, X, y, config=TrainConfig(epochs=2, batch_size=20), transform=t)
    assert np.asarray(history.train_loss).shape == (2, 2)


def test_per_member_transform_refuses_a_wrong_number_of_members():
    t = augmentation_transform([None, negate])
    with pytest.raises(ValueError, match="one per member"):
        t(torch.randn(3, 4, 10), torch.zeros(3, 4, dtype=torch.long), None)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: shift_signals(torch.randn(2, 5), 1, mode="wrap"), ValueError, "mode must be one of"),
        (lambda: shift_signals(torch.randn(2, 5), 1.5), TypeError, "shifts must be integers"),
        (lambda: shift_signals([1.0, 2.0], 1), TypeError, "x must be a torch.Tensor"),
        (lambda: shift_signals(torch.arange(5), 1), TypeError, "x must be a floating-point tensor"),
        (lambda: random_shift(torch.randn(2, 5), max_shift=-1), ValueError, r"max_shift must be an integer in \[0, inf\]"),
        (lambda: random_scale(torch.randn(2, 5), low=-0.5), ValueError, r"low must be in \(0, inf\), but got -0.5"),
        (lambda: random_scale(torch.randn(2, 5), low=1.2, high=0.8), ValueError, "high must be >= low"),
        (lambda: random_ramp(torch.randn(2, 5), max_slope=float("nan")), ValueError, "max_slope must be in"),
        (lambda: apply_randomly(negate, torch.randn(2, 5), 1.5), ValueError, r"prob must be in \[0, 1\], but got 1.5"),
        (lambda: apply_randomly("negate", torch.randn(2, 5), 0.5), TypeError, "fn must be callable"),
        (lambda: augmentation_transform([negate, 3]), TypeError, r"augment\[1\] must be callable"),
        (lambda: augmentation_transform("negate"), TypeError, "augment must be a callable or"),
    ],
)
def test_bad_input_is_rejected_with_a_helpful_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_reverse_rejects_scalars_and_non_tensors():
    with pytest.raises(ValueError, match="at least 1 dimension"):
        reverse(torch.tensor(1.0))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        reverse([1.0, 2.0])
