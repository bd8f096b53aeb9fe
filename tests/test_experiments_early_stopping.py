"""Tests of reglab.experiments.early_stopping (experiment ES-3), on a small, fast configuration."""
import numpy as np
from reglab.experiments import early_stopping as exp


def test_small_run_is_paired_and_restores_the_best_epoch():
    config = exp.ValidationCurveConfig(seeds=2, n_train=200, hidden=(16,), epochs=4)
    run = exp.run_validation_curve(config)
    assert run.identical
    assert run.test_accuracy.shape == (4, 2) and run.best_epoch.shape == (2,)
    assert run.n_weights == 40 * 16 + 16 * 10 and run.n_biases == 16 + 10
    members = np.arange(2)
    np.testing.assert_allclose(run.early["accuracy"], run.test_accuracy[run.best_epoch - 1, members])
    np.testing.assert_allclose(run.last["accuracy"], run.test_accuracy[-1])
    np.testing.assert_allclose(run.accuracy_gain(), 100 * (run.early["accuracy"] - run.last["accuracy"]))
    assert ((run.early["ece"] >= 0) & (run.early["ece"] <= 1)).all()


def test_the_experiment_is_registered_beside_its_run():
    from reglab.derivations import get_result

    assert get_result("ES-3") is exp.ES3
    assert exp.ES3.kind == "experiment" and exp.ES3.chapter == "early_stopping" and exp.ES3.expected == "increase"
