"""Tests of reglab.experiments.weight_decay: the runs of WD-5 and WD-6."""
import numpy as np
import pytest
import torch

from reglab.data import digits, mnist1d, polynomial_regression
from reglab.experiments.weight_decay import (
    HessianPredictionConfig,
    predict_and_retrain,
    predict_and_retrain_seeds,
    weight_decay_sweep,
)
from reglab.training import TrainConfig


# --- WD-5 --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [("hidden", 0), ("epochs", 0), ("lr", 0.0), ("alphas", ()), ("alphas", (0.1, 0.0)), ("grad_tol", -1.0),
     ("batch_size", 0)],
)
def test_hessian_prediction_config_rejects_settings_out_of_range(field, value):
    with pytest.raises(ValueError, match="alphas" if field == "alphas" else field):
        HessianPredictionConfig(**{field: value})


def test_hessian_prediction_config_rejects_a_non_integer_seed():
    with pytest.raises(TypeError, match="seed must be an integer"):
        HessianPredictionConfig(seed=1.5)


@pytest.mark.slow
def test_quadratic_prediction_is_accurate_for_a_tiny_penalty_and_over_shrinks_for_a_large_one():
    r = predict_and_retrain(mnist1d(), HessianPredictionConfig(hidden=8, epochs=2, alphas=(1e-6, 1e-2)))
    error = r.relative_error()
    assert error[0] < 0.02  # the prediction is exact to first order in alpha
    assert error[1] > error[0]
    assert r.norm_excess()[1] > 0  # the retrained weights are longer than predicted
    assert r.predicted.shape == r.retrained.shape == (2, 90)
    assert (r.eigvals >= 0).all()


def test_predict_and_retrain_seeds_trains_one_network_per_seed():
    runs = predict_and_retrain_seeds(digits(), HessianPredictionConfig(hidden=4, epochs=1, alphas=(0.01,)),
                                     num_seeds=2)
    assert len(runs) == 2 and not torch.equal(runs[0].w_star, runs[1].w_star)
    with pytest.raises(ValueError, match="num_seeds must be an integer"):
        predict_and_retrain_seeds(digits(), num_seeds=0)
    with pytest.raises(TypeError, match="config must be a HessianPredictionConfig"):
        predict_and_retrain_seeds(digits(), TrainConfig())


def test_predict_and_retrain_rejects_bad_input():
    regression, _ = polynomial_regression(10)
    with pytest.raises(TypeError, match="data must be a classification Dataset"):
        predict_and_retrain(regression)
    with pytest.raises(TypeError, match="data must hold float64 inputs"):
        predict_and_retrain(digits(dtype=torch.float32))
    with pytest.raises(TypeError, match="config must be a HessianPredictionConfig"):
        predict_and_retrain(digits(), TrainConfig())


# --- WD-6 --------------------------------------------------------------------------------------
def test_weight_decay_sweep_shrinks_the_weights_as_alpha_grows():
    r = weight_decay_sweep(digits().subset(200), [0.0, 0.05, 0.5], num_seeds=2, sizes=(64, 16, 10),
                           config=TrainConfig(epochs=5, batch_size=50))
    assert r.test_accuracy.shape == r.weight_norm.shape == (3, 2)
    assert (np.diff(r.weight_norm, axis=0) < 0).all()


def test_weight_decay_sweep_rejects_bad_input():
    data = digits().subset(50)
    regression, _ = polynomial_regression(10)
    with pytest.raises(TypeError, match="data must be a classification Dataset"):
        weight_decay_sweep(regression, [0.0])
    with pytest.raises(ValueError, match="alphas must list at least one"):
        weight_decay_sweep(data, [])
    with pytest.raises(ValueError, match=r"alphas\[1\] must be in"):
        weight_decay_sweep(data, [0.0, -1.0])
    with pytest.raises(ValueError, match="num_seeds must be an integer"):
        weight_decay_sweep(data, [0.0], num_seeds=1)
    with pytest.raises(ValueError, match="sizes must start with the input width 64"):
        weight_decay_sweep(data, [0.0], sizes=(40, 8, 10))
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        weight_decay_sweep(data, [0.0], config="fast")
