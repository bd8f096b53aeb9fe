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
    sizes_in_words,
    sizes_where,
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


def _sweep(metric, gaps):
    """A Sweep whose paired differences (separate - shared) at n = 1, 2, ... are ``gaps``."""
    results = {}
    for n, gap in enumerate(gaps, start=1):
        shared = torch.full((len(gap),), 0.5, dtype=D)
        results[n] = {"shared": shared, "separate": shared + torch.tensor(gap, dtype=D)}
    return Sweep(results, metric)


def test_sizes_where_reads_the_paired_interval_in_the_metrics_direction():
    gaps = [[0.1, 0.12, 0.11], [-0.1, -0.12, -0.11], [0.1, -0.1, 0.0]]
    # Relative error: separate - shared > 0 favours sharing; the undecided size is in neither list.
    err = _sweep("relative error", gaps)
    assert sizes_where(err) == [1] and sizes_where(err, favours_sharing=False) == [2]
    # Accuracy: higher is better, so the same numbers favour the separate networks.
    acc = _sweep("accuracy", gaps)
    assert sizes_where(acc) == [2] and sizes_where(acc, favours_sharing=False) == [1]


def test_sizes_where_agrees_with_the_interval_of_mean_ci():
    from reglab import mean_ci

    sweep = _sweep("relative error", [[0.02, 0.3, -0.01, 0.1, 0.05], [0.01, 0.02, 0.015, 0.03, 0.01]])
    for n, r in sweep.results.items():
        m, h = mean_ci(np.asarray(r["separate"] - r["shared"]))
        assert (n in sizes_where(sweep)) == (m - h > 0)


def test_sizes_in_words():
    assert sizes_in_words([20, 40, 80, 160]) == "20, 40, 80 and 160"
    assert sizes_in_words((5, 10)) == "5 and 10"
    assert sizes_in_words([5]) == "5"
    assert sizes_in_words([]) == "none"


def test_summary_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="sweep must be a Sweep"):
        sizes_where({1: {}})
    with pytest.raises(TypeError, match="favours_sharing must be True or False"):
        sizes_where(_sweep("accuracy", [[0.1, 0.2]]), favours_sharing="yes")
    with pytest.raises(TypeError, match="sizes must be a list of integers"):
        sizes_in_words("20, 40")
    with pytest.raises(TypeError, match=r"sizes\[1\] must be an integer"):
        sizes_in_words([20, 40.5])


def test_mt1_and_mt3_are_registered_here():
    from reglab.derivations import get_result

    for rid, unit in (("MT-1", ""), ("MT-3", "points")):
        result = get_result(rid)
        assert result.kind == "experiment" and result.expected == "increase" and result.unit == unit


# ---- the chapter's sentences say what MT-1 and MT-3 measured ---------------------------------

def _chapter_text():
    import json

    from conftest import ROOT

    nb = json.loads((ROOT / "book" / "multitask.ipynb").read_text(encoding="utf-8"))
    prose = " ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    figures = " ".join(str(c["metadata"].get("mystnb", {})) for c in nb["cells"])
    return " ".join(prose.split()), figures


def test_chapter_drops_the_untested_reason_and_the_point_size_claims():
    # "each head has as many parameters as its task has examples" was never tested, and the
    # separate networks, with more parameters per example, did better; "about a point" and
    # "slightly ahead at 10 images" overstated intervals that include zero.
    prose, figures = _chapter_text()
    assert "as many parameters" not in prose and "as many parameters" not in figures
    assert "about a point" not in prose and "about a point" not in figures
    assert "slightly ahead" not in figures
    assert "we have not tested why" in prose.lower()
