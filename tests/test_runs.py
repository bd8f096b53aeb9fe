"""Tests of reglab.runs: a run's settings and record, the optimizer a config names."""
import numpy as np
import pytest
import torch

import reglab.training
from reglab.runs import History, TrainConfig, _make_optimizer


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("batch_size", 0),
        ("optimizer", "rmsprop"),
        ("momentum", 1.0),
        ("momentum", -0.1),
        ("weight_decay", -1e-3),
        ("loss", "hinge"),
        ("seed", -2),
    ],
)
def test_train_config_rejects_settings_out_of_range(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_train_config_rejects_a_non_integer_epoch_count():
    with pytest.raises(TypeError, match="epochs must be an integer"):
        TrainConfig(epochs=2.0)


@pytest.mark.parametrize(
    "name, kind, options",
    [("sgd", torch.optim.SGD, {"lr": 0.1, "momentum": 0.5}), ("adam", torch.optim.Adam, {"lr": 0.1}),
     ("adamw", torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.01})],
)
def test_the_optimizer_is_the_one_the_config_names(name, kind, options):
    config = TrainConfig(optimizer=name, lr=0.1, momentum=0.5, weight_decay=0.01)
    opt = _make_optimizer([torch.zeros(2, requires_grad=True)], config)
    assert type(opt) is kind
    for key, value in options.items():
        assert opt.param_groups[0][key] == value


def test_history_as_arrays_has_one_row_per_epoch_and_a_column_per_member():
    h = History(train_loss=[[1.0, 2.0], [0.5, 1.5], [0.25, 1.0]], eval_epochs=[1, 3])
    arrays = h.as_arrays()
    assert arrays["train_loss"].shape == (3, 2) and np.array_equal(arrays["eval_epochs"], [1, 3])
    assert "best_epoch" not in arrays


def test_run_names_are_importable_from_training_as_before():
    assert reglab.training.TrainConfig is TrainConfig and reglab.training.History is History
