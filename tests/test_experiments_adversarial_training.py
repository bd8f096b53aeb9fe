"""Tests of reglab.experiments.adversarial_training (the ADV-2..ADV-4 runs) on a small problem."""
import numpy as np
import torch
from reglab import Dataset, TrainConfig
from reglab.experiments import adversarial_training as advx


def _setup():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(90, 6, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0.5).long()
    data = Dataset(X[:60], y[:60], X[60:], y[60:], 2, "toy")
    config = advx.AdversarialConfig(seeds=3, sizes=(6, 5, 2), train=TrainConfig(epochs=2, lr=0.1, batch_size=30),
                                    linear_train=TrainConfig(epochs=2, lr=0.1, batch_size=30),
                                    eps_grid=(0.0, 0.1), pgd_steps=3)
    return data, config


def test_the_two_arms_are_paired():
    # With eps = 0 adversarial training is standard training: the same networks come out only
    # if both arms share initialisations and minibatch orders.
    data, config = _setup()
    config.eps = 0.0
    a, b = advx.train_standard(data, config), advx.train_adversarial(data, config)
    for la, lb in zip(a.layers, b.layers):
        torch.testing.assert_close(la.weight, lb.weight)


def test_runs_have_one_value_per_seed():
    data, config = _setup()
    standard, robust, linear = (advx.train_standard(data, config), advx.train_adversarial(data, config),
                                advx.train_linear(data, config))
    curves = advx.accuracy_curves(standard, data, config)
    assert {k: v.shape for k, v in curves.items()} == {a: (2, 3) for a in advx.ATTACKS}
    measured = advx.evaluation(robust, data, config)
    assert set(measured) == {"clean", "FGSM", "PGD-3"}
    found = advx.transfer_rates(standard, {"linear softmax classifiers": linear, "adversarially trained": robust},
                                data, config)
    assert found["white_box"].shape == (3,)
    assert list(found["rates"])[-1] == "control: random signs, same ε"
    for v in found["rates"].values():
        assert v.shape == (3,) and (np.isnan(v) | ((0 <= v) & (v <= 1))).all()
