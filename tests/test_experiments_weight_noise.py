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
    torch.testing.assert_close(wx.effect(run), run.top[1] - run.top[0])
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


def test_wn3_is_registered_with_the_run():
    from reglab.derivations import get_result

    result = get_result("WN-3")
    assert result.kind == "experiment" and result.chapter == "weight_noise" and result.expected == "decrease"
    assert wx.COMPARE_ETA == 1e-3 and "eta = 1e-3" in result.claim


def test_effect_needs_a_run_with_the_compared_level():
    with pytest.raises(TypeError, match="run must be a FlatMinimaRun"):
        wx.effect("run")
    config = wx.FlatMinimaConfig(noise_levels=(0.0, 3e-4))
    run = wx.FlatMinimaRun(config, None, None, None, None, torch.zeros(2, 5), None, None, None)
    with pytest.raises(ValueError, match="no noise level 0.001"):
        wx.effect(run)
