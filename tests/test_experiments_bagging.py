"""Tests of reglab.experiments.bagging: the BAG-4 run on a small synthetic problem."""
import pytest
import torch

from reglab.data import Dataset
from reglab.experiments.bagging import BAG4, BaggingConfig, BaggingRun, run_bagging


def _tiny_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(120, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return Dataset(x[:80], y[:80], x[80:], y[80:], 3, "tiny")


def test_run_bagging_shapes_and_gain():
    config = BaggingConfig(num_bags=5, members_per_bag=2, sizes=(6, 8, 3), epochs=2)
    run = run_bagging(_tiny_data(), config)
    assert isinstance(run, BaggingRun)
    assert run.logits.shape == (10, 40, 3)
    assert run.bag_logits.shape == (5, 2, 40, 3)
    assert run.member_acc.shape == (5, 2) and run.bag_acc.shape == (5,)
    torch.testing.assert_close(run.gain(), 100 * (run.bag_acc - run.member_acc.mean(1)))
    assert run.bag.indices.shape == (10, 80)


def test_run_bagging_is_reproducible():
    config = BaggingConfig(num_bags=5, members_per_bag=2, sizes=(6, 8, 3), epochs=1)
    a, b = run_bagging(_tiny_data(), config), run_bagging(_tiny_data(), config)
    torch.testing.assert_close(a.logits, b.logits)


def test_bagging_config_rejects_bad_settings():
    with pytest.raises(ValueError, match=r"num_bags must be an integer in \[5, inf\]"):
        BaggingConfig(num_bags=3)
    with pytest.raises(ValueError, match=r"members_per_bag must be an integer in \[2, inf\]"):
        BaggingConfig(members_per_bag=1)
    with pytest.raises(TypeError, match="config must be a BaggingConfig"):
        run_bagging(_tiny_data(), {"num_bags": 5})


def test_default_config_is_the_chapters():
    config = BaggingConfig()
    assert (config.num_bags, config.members_per_bag, config.num_members) == (5, 8, 40)
    assert config.train_config().optimizer == "adam"


def test_the_experiment_is_registered_beside_its_run():
    from reglab.derivations import get_result

    assert get_result("BAG-4") is BAG4
    assert BAG4.kind == "experiment" and BAG4.chapter == "bagging" and BAG4.expected == "increase"
