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


# ---- the chapter's sentences say what WN-2 and WN-3 measured ---------------------------------

def _chapter():
    import json

    from conftest import ROOT

    nb = json.loads((ROOT / "book" / "weight_noise.ipynb").read_text(encoding="utf-8"))
    return {c["id"]: c for c in nb["cells"]}


def test_remainder_figure_does_not_claim_slope_one_over_the_whole_range():
    # The stored remainders level off (and are not monotone) above eta = 0.01; the old alt text
    # put all circles on a slope-one line from eta = 1 down.
    cells = _chapter()
    figure = cells["c014"]["metadata"]["mystnb"]
    assert "slope one from" not in figure["image"]["alt"]
    assert "small eta" in figure["figure"]["caption"] and "levels off" in figure["figure"]["caption"]
    assert "wn_slope_small" in "".join(cells["c015"]["source"])


def test_flatness_is_not_called_a_property_of_the_minimum_at_unequal_fit():
    cells = _chapter()
    text = "".join(cells["c019"]["source"])
    assert "reliably\nbuys" not in text and "reliably buys" not in text
    assert "wn_loss_cmp" in text and "equal fit" in text
