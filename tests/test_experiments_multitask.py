"""Tests of reglab.experiments.multitask: MT-1/MT-3 task makers, sweeps and per-seed effects."""
import numpy as np
import pytest
import torch
from reglab import TrainConfig, digits
from reglab.experiments.multitask import (
    DigitsSweep,
    Sweep,
    SyntheticSweep,
    TaskData,
    class_partition_tasks,
    per_seed_gain,
    run_sweep,
    shared_representation_tasks,
    shared_vs_separate,
)

D = torch.float64


def _teacher_directions(n, seed):
    """Rank 1 without noise: y_t = v_t relu(u.x) is linear, v_t u.x, where y_t != 0.

    Least squares on those rows recovers v_t u for every task: unit vectors, shape (T, d).
    """
    tasks = shared_representation_tasks(1, 3, n, dim=6, rank=1, noise=0.0, n_test=60, seed=seed)
    out = []
    for t in range(3):
        x, y = tasks.x_test[0, t], tasks.y_test[0, t, :, 0]
        active = y.abs() > 1e-12
        coef = torch.linalg.lstsq(x[active], y[active].unsqueeze(1)).solution[:, 0]
        out.append(coef / coef.norm())
    return torch.stack(out)


def test_shared_representation_tasks_shapes_and_teacher_fixed_by_seed():
    a = shared_representation_tasks(2, 3, 5, dim=6, rank=2, n_test=7, seed=1)
    assert a.x_train.shape == (2, 3, 5, 6) and a.y_train.shape == (2, 3, 5, 1)
    assert a.x_test.shape == (2, 3, 7, 6) and a.scale.shape == (2,)
    d5, d9, other = _teacher_directions(5, 3), _teacher_directions(9, 3), _teacher_directions(5, 4)
    # One direction u for all tasks (the shared representation), for every n; another seed differs.
    cos = (d5 @ torch.cat([d5, d9]).T).abs()
    torch.testing.assert_close(cos, torch.ones_like(cos), rtol=0, atol=1e-9)
    assert (d5[0] @ other[0]).abs() < 0.999


def test_class_partition_tasks_labels_follow_the_sets():
    data = digits()
    tasks, positive = class_partition_tasks(data, 2, 4, 30, n_test=20, seed=0)
    assert isinstance(tasks, TaskData)
    assert positive.shape == (4, 10) and (positive.sum(1) == 5).all()
    assert tasks.x_train.shape == (2, 4, 30, 64) and tasks.y_train.shape == (2, 4, 30)
    # Each training row is a real image; its label says whether its class is positive.
    img = tasks.x_train[1, 2, 0]
    cls = data.y_train[(data.x_train == img).all(1)][0]
    assert tasks.y_train[1, 2, 0].item() == int(positive[2, cls])


def test_shared_vs_separate_returns_one_number_per_member():
    tasks = shared_representation_tasks(2, 3, 8, dim=4, rank=1, n_test=20, seed=0)
    cfg = TrainConfig(epochs=3, lr=0.01, batch_size=8, optimizer="adam", loss="mse")
    out = shared_vs_separate(tasks, sizes=(4, 3, 1), config=cfg)
    assert out["shared"].shape == out["separate"].shape == (2,)
    assert out["parameters"] == {"shared": 4 * 3 + 3 + 3 * 4, "separate": 3 * (4 * 3 + 3 + 4)}


def test_small_synthetic_sweep_and_per_seed_gain():
    cfg = SyntheticSweep(num_tasks=3, dim=4, hidden=3, n_values=(4, 8), seeds=2,
                         train=TrainConfig(epochs=3, lr=0.01, batch_size=100, optimizer="adam", loss="mse",
                                           weight_decay=0.01))
    sweep = run_sweep(cfg)
    assert list(sweep.results) == [4, 8] and sweep.metric == "relative error"
    gain = per_seed_gain(sweep)
    expected = np.mean([(r["separate"] - r["shared"]).numpy() for r in sweep.results.values()], axis=0)
    np.testing.assert_allclose(gain, expected)
    assert gain.shape == (2,) and 0 < sweep.noise_floor < 1


def test_per_seed_gain_of_accuracies_is_shared_minus_separate_in_points():
    sweep = Sweep({10: {"shared": torch.tensor([0.9, 0.8], dtype=D), "separate": torch.tensor([0.8, 0.8], dtype=D)}},
                  "accuracy")
    np.testing.assert_allclose(per_seed_gain(sweep), [10.0, 0.0], atol=1e-12)


def test_default_configs_match_the_chapter():
    syn, dig = SyntheticSweep(), DigitsSweep()
    assert syn.sizes == (16, 4, 1) and syn.train.weight_decay == 0.01 and syn.seeds >= 5
    assert dig.sizes == (64, 32, 2) and dig.train.weight_decay == 0.001 and dig.seeds >= 5


def test_invalid_arguments_rejected():
    with pytest.raises(ValueError, match="rank must be an integer in"):
        shared_representation_tasks(1, 1, 1, dim=3, rank=4)
    with pytest.raises(ValueError, match="noise"):
        shared_representation_tasks(1, 1, 1, noise=-0.1)
    with pytest.raises(TypeError, match="classification Dataset"):
        class_partition_tasks("digits", 1, 1, 1)
    with pytest.raises(ValueError, match="n_per_task"):
        class_partition_tasks(digits(), 1, 1, 10**6)
    with pytest.raises(TypeError, match="tasks must be a TaskData"):
        shared_vs_separate((1, 2), sizes=(2, 2, 1), config=TrainConfig())
    tasks = shared_representation_tasks(1, 2, 3, dim=2, rank=1, n_test=2)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        shared_vs_separate(tasks, sizes=(2, 1), config=TrainConfig(loss="mse"))
    with pytest.raises(TypeError, match="SyntheticSweep or a DigitsSweep"):
        run_sweep({"n_values": (1,)})
    with pytest.raises(TypeError, match="sweep must be a Sweep"):
        per_seed_gain({})
