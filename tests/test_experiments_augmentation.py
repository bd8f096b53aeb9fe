"""The experiments of the augmentation chapter: paired members, recipes, configs."""
import pytest
import torch

from reglab import digits, mnist1d
from reglab.experiments import augmentation as ax
from reglab.training import paired_stacked_mlp


def test_paired_members_share_their_initialisation_per_seed():
    model = paired_stacked_mlp(3, 2, (4, 5, 2), seed=0)
    for p in model.parameters():
        assert torch.equal(p[0], p[2]) and torch.equal(p[0], p[4])
        assert torch.equal(p[1], p[3]) and not torch.equal(p[0], p[1])


def test_recipes_keep_shapes_and_are_named():
    recipes = ax.mnist1d_recipes()
    assert list(recipes)[0] == "none" and "negate half (careful)" in recipes
    x = torch.randn(2, 8, 40, dtype=torch.float64)
    for name, f in recipes.items():
        if f is not None:
            assert f(x).shape == x.shape, name
    assert len(ax.digit_recipes()) == 4


def test_a_short_run_measures_paired_gains():
    config = ax.RecipeConfig(train_size=100, epochs=1)
    run = ax.run_recipes(mnist1d(), ax.mnist1d_recipes(config), config)
    assert run.accuracy.shape == (6, 5) and run.pred.shape[:2] == (6, 5)
    torch.testing.assert_close(run.gain("none"), torch.zeros(5, dtype=torch.float64))


def test_digit_run_and_data_sizes():
    config = ax.DigitRecipeConfig(train_size=60, epochs=1)
    run = ax.run_recipes(digits(), ax.digit_recipes(config), config)
    assert run.accuracy.shape == (4, 5)
    acc = ax.run_data_sizes(mnist1d(), ax.DataSizeConfig(sizes=(1000, 4000), seeds=2, epochs=1))
    assert acc.shape == (2, 2) and ((acc >= 0) & (acc <= 1)).all()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ax.RecipeConfig(seeds=3), ValueError, "seeds must be an integer"),
        (lambda: ax.run_recipes(mnist1d(), {"none": None}, "config"), TypeError, "config must be a RecipeConfig"),
        (lambda: ax.run_recipes(mnist1d(), {}, ax.RecipeConfig()), ValueError, "at least one recipe"),
        (lambda: ax.run_data_sizes(mnist1d(), "config"), TypeError, "config must be a DataSizeConfig"),
        (lambda: paired_stacked_mlp(0, 2, (3, 2)), ValueError, "arms must be an integer"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
