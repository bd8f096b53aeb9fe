"""Tests of reglab.experiments.dropout: the DO-7/DO-8 runs on a small synthetic problem."""
import pytest
import torch

from reglab.data import Dataset
from reglab.derivations import get_result
from reglab.experiments.dropout import DropoutConfig, DropoutRun, active_fraction, run_dropout
from reglab.training import StackedMLP


def _tiny_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(120, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0] - x[:, 3] > 0).long()
    return Dataset(x[:80], y[:80], x[80:], y[80:], 2, "tiny")


CONFIG = DropoutConfig(sizes=(6, 16, 16, 2), epochs=2, batch_size=20, eval_every=1)


def test_run_dropout_measures_both_arms_with_paired_seeds():
    run = run_dropout(_tiny_data(), CONFIG)
    assert isinstance(run, DropoutRun)
    assert list(run.models) == ["no dropout", "dropout, keep_prob 0.8"]
    for name in run.models:
        assert run.test_acc[name].shape == (5,) and run.train_acc[name].shape == (5,)
        assert run.active[name].shape == (2, 5)
        assert ((run.active[name] >= 0) & (run.active[name] <= 1)).all()
    without, with_dropout = run.test_acc.values()
    torch.testing.assert_close(run.accuracy_gain(), 100 * (with_dropout - without))
    assert run.active_change().shape == (5,)
    assert run.models["dropout, keep_prob 0.8"].dropout_keep == 0.8
    assert run.models["no dropout"].dropout_keep is None


def test_run_dropout_does_not_depend_on_or_change_the_global_generator():
    torch.manual_seed(5)
    a = run_dropout(_tiny_data(), CONFIG)
    after = torch.rand(2)
    torch.manual_seed(99)
    b = run_dropout(_tiny_data(), CONFIG)
    for name in a.test_acc:
        torch.testing.assert_close(a.test_acc[name], b.test_acc[name])
    torch.manual_seed(5)
    run_dropout(_tiny_data(), CONFIG)
    torch.testing.assert_close(torch.rand(2), after)


def test_active_fraction_counts_positive_activations():
    model = StackedMLP(5, (6, 4, 2), seed=0, dtype=torch.float64)
    x = _tiny_data().x_test
    fraction = active_fraction(model, x)
    model.eval()
    model(x)
    torch.testing.assert_close(fraction[0], (model.hidden[0] > 0).double().mean(dim=(1, 2)))


def test_dropout_config_rejects_bad_settings():
    with pytest.raises(ValueError, match=r"seeds must be an integer in \[5, inf\]"):
        DropoutConfig(seeds=2)
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\]"):
        DropoutConfig(keep_prob=1.5)
    with pytest.raises(TypeError, match="config must be a DropoutConfig"):
        run_dropout(_tiny_data(), None)


def test_do7_and_do8_are_registered_with_the_runs():
    for rid, expected in (("DO-7", "increase"), ("DO-8", "decrease")):
        result = get_result(rid)
        assert result.kind == "experiment" and result.chapter == "dropout"
        assert result.expected == expected and result.unit == "points"


def test_prose_numbers_are_the_settings_and_mean_accuracies():
    run = run_dropout(_tiny_data(), CONFIG)
    numbers = run.prose_numbers()
    assert numbers["keep"] == 0.8 and numbers["seeds"] == 5 and numbers["epochs"] == 2
    assert numbers["batch"] == 20 and numbers["lr"] == CONFIG.lr and numbers["momentum"] == CONFIG.momentum
    without, with_dropout = CONFIG.arms
    assert numbers["test_none"] == 100 * run.test_acc[without].mean().item()
    assert numbers["train_drop"] == 100 * run.train_acc[with_dropout].mean().item()
    assert set(numbers) == {"keep", "seeds", "momentum", "lr", "batch", "epochs",
                            "test_none", "train_none", "test_drop", "train_drop"}
