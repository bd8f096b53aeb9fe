"""The WN-3 run: weight noise, flatness measures, paired differences."""
import pytest
import torch

from reglab import mnist1d
from reglab.experiments import weight_noise as wx


def test_a_short_run_measures_flatness_per_level_and_seed():
    config = wx.FlatMinimaConfig(noise_levels=(0.0, 1e-3), train_size=100, epochs=2, iterations=5)
    run = wx.run_flat_minima(mnist1d(), config)
    for name in ("sensitivity", "top", "train_loss", "test_acc"):
        assert getattr(run, name).shape == (2, 5), name
    torch.testing.assert_close(run.difference("top", 1e-3), run.top[1] - run.top[0])
    assert not any("parametrizations" in n for n, _ in run.model.named_parameters())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"seeds": 4}, "seeds must be an integer"), ({"noise_levels": (1e-3, 0.0)}, "must start with 0")],
)
def test_bad_config_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wx.FlatMinimaConfig(**kwargs)


def test_run_needs_its_config():
    with pytest.raises(TypeError, match="config must be a FlatMinimaConfig"):
        wx.run_flat_minima(mnist1d(), "config")
