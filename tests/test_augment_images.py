"""Tests of reglab.augment_images: shifts and rotations of 8x8 digit images."""
import pytest
import torch

import reglab.augment
from reglab.augment_images import random_image_shift, random_rotation, rotate180, rotate_images, shift_images


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_image_shift_moves_a_pixel_and_drops_what_leaves():
    img = torch.zeros(1, 64)
    img[0, 3 * 8 + 4] = 1.0  # row 3, column 4
    out = shift_images(img, 2, -1).reshape(8, 8)
    assert out[5, 3] == 1.0 and out.sum() == 1.0
    assert shift_images(img, 5, 0).sum() == 0.0


def test_random_image_shift_keeps_shape_and_mass_of_centred_images():
    x = torch.zeros(10, 64, dtype=torch.float64)
    x.view(10, 8, 8)[:, 2:6, 2:6] = 1.0
    out = random_image_shift(x, max_shift=1, generator=gen())
    assert out.shape == x.shape and torch.equal(out.sum(-1), x.sum(-1))


def test_rotation_by_180_degrees_equals_flipping_both_axes():
    x = torch.rand(6, 64, dtype=torch.float64)
    torch.testing.assert_close(rotate_images(x, 180.0), rotate180(x))
    torch.testing.assert_close(rotate_images(x, 0.0), x)
    torch.testing.assert_close(rotate_images(rotate_images(x, 90.0), -90.0, ), rotate_images(x, 0.0))


def test_rotation_by_90_degrees_is_counter_clockwise_and_matches_rot90():
    x = torch.rand(3, 64, dtype=torch.float64)
    expected = torch.rot90(x.reshape(3, 8, 8), 1, dims=(1, 2)).reshape(3, 64)
    torch.testing.assert_close(rotate_images(x, 90.0), expected)


def test_rotate180_turns_a_six_into_something_close_to_a_nine():
    from reglab.data import digits

    ds = digits()
    sixes, nines = ds.x_train[ds.y_train == 6], ds.x_train[ds.y_train == 9]
    turned = rotate180(sixes).mean(0)
    # The turned mean 6 is closer to the mean 9 than to the mean 6.
    assert (turned - nines.mean(0)).norm() < (turned - sixes.mean(0)).norm()


def test_random_rotation_of_a_disc_changes_little():
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    disc = (((yy - 3.5) ** 2 + (xx - 3.5) ** 2) < 6).to(torch.float64).reshape(1, 64).expand(20, 64)
    out = random_rotation(disc, max_degrees=30.0, generator=gen())
    assert (out - disc).abs().max() < 0.6 and (out.sum(-1) - disc.sum(-1)).abs().max() < 1.5


def test_random_image_shift_rejects_negative_shift_and_non_tensors():
    with pytest.raises(ValueError, match=r"max_shift must be an integer in \[0, inf\], but got -1"):
        random_image_shift(torch.zeros(3, 64), max_shift=-1)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        random_image_shift([1.0], max_shift=1)


def test_image_names_are_importable_from_augment_as_before():
    for name in ("shift_images", "random_image_shift", "rotate_images", "random_rotation", "rotate180"):
        assert getattr(reglab.augment, name) is getattr(reglab.augment_images, name)
        assert name in reglab.augment.__all__


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: shift_images(torch.randn(2, 63), 1, 1), ValueError, "8\\*8=64 pixels"),
        (lambda: shift_images(torch.randn(2, 64), 1, 0.5), TypeError, "cols must be integers"),
        (lambda: rotate_images(torch.randn(2, 64), float("inf")), ValueError, "degrees must be finite"),
        (lambda: rotate_images(torch.randn(2, 16), 10.0, image_shape=(4,)), ValueError, "image_shape must be"),
        (lambda: random_rotation(torch.randn(2, 64), max_degrees=200.0), ValueError, r"max_degrees must be in \[0, 180\]"),
        (lambda: rotate180(torch.randn(2, 60)), ValueError, "pixels on its last dimension"),
    ],
)
def test_bad_input_is_rejected_with_a_helpful_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
