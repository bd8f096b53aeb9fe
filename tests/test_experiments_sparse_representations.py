"""Tests of reglab.experiments.sparse_representations (the SP-1 / SP-5 runs)."""
import numpy as np
import pytest
import torch
from reglab import Dataset, TrainConfig
from reglab.experiments import sparse_representations as spx


def _toy():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(120, 8, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    return Dataset(X[:80], y[:80], X[80:], y[80:], 2, "toy")


def _config(alphas=(0.0, 0.5)):
    return spx.SparsityConfig(alphas=alphas, seeds=2, sizes=(8, 6, 2), compare_alpha=0.5,
                              train=TrainConfig(epochs=2, lr=1e-2, batch_size=40, optimizer="adam"))


def test_activation_penalty_sweep_shapes_on_a_small_problem():
    data = _toy()
    found = spx.activation_penalty_sweep(data, _config())
    for key in ("accuracy", "inactive", "dead"):
        assert found[key].shape == (2, 2)
        assert ((0 <= found[key]) & (found[key] <= 1)).all()
    assert found["hidden"][0].shape == (4, 40, 6)
    with pytest.raises(ValueError, match="config.alphas must be"):
        spx.activation_penalty_sweep(data, spx.SparsityConfig(alphas=(-1.0,), seeds=2))


def test_arms_are_paired_same_start_for_every_alpha():
    # With alpha = 0 in both arms the two arms are the same networks: identical results.
    found = spx.activation_penalty_sweep(_toy(), _config(alphas=(0.0, 0.0)))
    np.testing.assert_array_equal(found["accuracy"][0], found["accuracy"][1])
    np.testing.assert_array_equal(found["inactive"][0], found["inactive"][1])


def test_paired_effect_is_the_per_seed_difference():
    sweep = {"alphas": np.array([0.0, 0.01]), "inactive": np.array([[0.4, 0.5], [0.7, 0.6]])}
    np.testing.assert_allclose(spx.paired_effect(sweep, "inactive", 0.01), [30.0, 10.0])
    with pytest.raises(ValueError, match="no penalty weight 0.02"):
        spx.paired_effect(sweep, "inactive", 0.02)


def test_effects_are_the_paired_differences_at_the_compared_alpha():
    sweep = {"alphas": np.array([0.0, 0.5]), "inactive": np.array([[0.4, 0.5], [0.7, 0.6]]),
             "accuracy": np.array([[0.8, 0.9], [0.85, 0.8]])}
    found = spx.effects(sweep, _config())
    np.testing.assert_allclose(found["SP-1"], [30.0, 10.0])
    np.testing.assert_allclose(found["SP-5"], [5.0, -10.0])
    with pytest.raises(TypeError, match="config must be a SparsityConfig"):
        spx.effects(sweep, None)


def test_sp1_and_sp5_are_registered_here():
    from reglab.derivations import get_result

    for rid in ("SP-1", "SP-5"):
        result = get_result(rid)
        assert result.kind == "experiment" and result.chapter == "sparse_representations"


def test_omp_miss_rate_is_a_fraction_and_omp_is_never_better():
    found = spx.omp_miss_rate(5, 9, 2, 60, seed=3)
    assert 0.0 <= found["missed"] <= 1.0
    assert (found["ratio"] >= 1 - 1e-9).all()


def test_chapter_calls_sp5_a_gain_in_test_accuracy_not_a_regularizing_effect():
    import json

    from conftest import ROOT

    nb = json.loads((ROOT / "book" / "sparse_representations.ipynb").read_text(encoding="utf-8"))
    prose = " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    assert "we measure that" not in prose
    assert "not a regularizing effect in the sense of a smaller generalisation gap" in prose
