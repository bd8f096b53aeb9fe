"""The LS-4 run: flipped labels, smoothing per member, calibration."""
import pytest
import torch

from reglab import mnist1d
from reglab.derivations import get_result
from reglab.experiments import label_smoothing as lx


def test_a_short_run_measures_every_setting_per_seed():
    config = lx.NoisyLabelConfig(train_size=200, epochs=1)
    run = lx.run_noisy_labels(mnist1d(), config)
    for name in ("test_acc", "ece", "confidence", "train_fit"):
        assert getattr(run, name).shape == (3, 5), name
    assert 0.2 < run.flipped < 0.4
    torch.testing.assert_close(run.difference("ece", 0.3), 100 * (run.ece[2] - run.ece[0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"seeds": 2}, "seeds must be an integer"), ({"smoothing": (0.1, 0.0)}, "must start with 0"),
     ({"noise_rate": 1.5}, "noise_rate must be")],
)
def test_bad_config_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lx.NoisyLabelConfig(**kwargs)


def test_ls4_is_registered_with_its_run():
    result = get_result("LS-4")
    assert result.kind == "experiment" and result.chapter == "label_smoothing"
    assert result.expected == "decrease" and result.unit == "points"
