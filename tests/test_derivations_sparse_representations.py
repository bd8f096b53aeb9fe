"""Tests of reglab.derivations.sparse_representations (SP-1..SP-4)."""
import itertools
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.fft  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import orthogonal_mp  # noqa: E402

from reglab import Dataset, TrainConfig, omp  # noqa: E402
from reglab.derivations import get_result  # noqa: E402
from reglab.derivations import sparse_representations as sr  # noqa: E402


@pytest.mark.parametrize("check", [sr.check_sp2, sr.check_sp3, sr.check_sp4])
def test_checks_pass(check):
    result = check()
    result.assert_passed()
    assert result.id in str(result)


def test_results_are_registered_in_this_chapter():
    kinds = {"SP-1": "experiment", "SP-2": "derivation", "SP-3": "derivation", "SP-4": "derivation"}
    for rid, kind in kinds.items():
        result = get_result(rid)
        assert result.chapter == "sparse_representations"
        assert result.kind == kind


def _numpy_brute_force(W, x, k):
    best, best_h = np.inf, None
    for support in itertools.combinations(range(W.shape[1]), k):
        A = W[:, support]
        coef = np.linalg.lstsq(A, x, rcond=None)[0]
        err = np.sum((x - A @ coef) ** 2)
        if err < best - 1e-12:
            best, best_h = err, np.zeros(W.shape[1])
            best_h[list(support)] = coef
    return best_h, best


def test_best_k_sparse_matches_a_plain_loop_over_supports():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 8, generator=g, dtype=torch.float64)
    X = torch.randn(6, 5, generator=g, dtype=torch.float64)
    h = sr.best_k_sparse(W, X, 2)
    for i in range(X.shape[0]):
        ref_h, ref_err = _numpy_brute_force(W.numpy(), X[i].numpy(), 2)
        np.testing.assert_allclose(h[i].numpy(), ref_h, atol=1e-10)
        assert sr.sparse_residual(W, X[i], h[i]).item() == pytest.approx(ref_err, abs=1e-10)


def test_best_k_sparse_is_never_worse_than_omp():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(6, 10, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    X = torch.randn(100, 6, generator=g, dtype=torch.float64)
    best = sr.sparse_residual(W, X, sr.best_k_sparse(W, X, 3))
    greedy = sr.sparse_residual(W, X, omp(W, X, 3))
    assert (best <= greedy + 1e-10).all()


def test_greedy_trap_also_traps_sklearn_orthogonal_mp():
    W, x, k = sr.greedy_trap()
    ref = orthogonal_mp(W.numpy(), x.numpy(), n_nonzero_coefs=k)
    err = np.sum((x.numpy() - W.numpy() @ ref) ** 2)
    assert err == pytest.approx(sr.greedy_trap_residuals()["omp"], abs=1e-12)
    assert set(np.flatnonzero(ref)) == {0, 2}


def test_greedy_trap_residuals_refuse_parameters_without_a_trap():
    with pytest.raises(ValueError, match="OMP does not take the decoy"):
        sr.greedy_trap_residuals(theta=1.2, beta=0.8)


def test_sp3_fails_when_there_is_no_counterexample(monkeypatch):
    # If OMP found the optimum, SP-3 must not pass, even though the numbers would agree.
    monkeypatch.setattr(sr, "omp", sr.best_k_sparse)
    monkeypatch.setattr(sr, "greedy_trap_residuals", lambda t, b: {"optimum": 0.0, "omp": 0.0})
    assert not sr.check_sp3().passed


def test_omp_miss_rate_is_a_fraction_and_omp_is_never_better():
    found = sr.omp_miss_rate(5, 9, 2, 60, seed=3)
    assert 0.0 <= found["missed"] <= 1.0
    assert (found["ratio"] >= 1 - 1e-9).all()


def test_dct_dictionary_is_orthonormal_and_equals_scipy_dct():
    W = sr.dct_dictionary(16)
    torch.testing.assert_close(W.T @ W, torch.eye(16, dtype=torch.float64))
    x = np.random.default_rng(0).standard_normal(16)
    np.testing.assert_allclose((torch.tensor(x) @ W).numpy(), scipy.fft.dct(x, norm="ortho"), atol=1e-12)


def test_topk_orthonormal_rejects_a_dictionary_that_is_not_orthonormal():
    with pytest.raises(ValueError, match="W must have orthonormal columns"):
        sr.topk_orthonormal(2 * torch.eye(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 1)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: sr.best_k_sparse(torch.eye(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 4),
         ValueError, "cannot be more than the number of atoms"),
        (lambda: sr.best_k_sparse(torch.eye(30, dtype=torch.float64), torch.ones(30, dtype=torch.float64), 10,
                                  max_supports=1000),
         ValueError, "more than max_supports=1000"),
        (lambda: sr.best_k_sparse(torch.eye(3, dtype=torch.float64), torch.ones(4, dtype=torch.float64), 1),
         ValueError, "x must have 3 entries"),
        (lambda: sr.greedy_trap(theta=2.0), ValueError, "theta must be in"),
        (lambda: sr.greedy_trap(beta=1.0), ValueError, r"beta must be in \(0, 1\)"),
        (lambda: sr.nonnegative_l1_code(torch.ones(2), -1.0), ValueError, r"alpha must be in \[0, inf\)"),
        (lambda: sr.sparse_residual(torch.eye(2), torch.ones(2), torch.ones(3)), ValueError, "h in 2"),
        (lambda: sr.dct_dictionary(0), ValueError, r"d must be an integer in \[1, inf\]"),
        (lambda: sr.sparsity_illustration(nonzeros=9), ValueError,
         r"nonzeros must be an integer in \[1, 6\]"),
    ],
)
def test_bad_input_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_sparsity_illustration_products_and_sparsity():
    pictures = sr.sparsity_illustration()
    y, A, x = pictures["parameter"]
    torch.testing.assert_close(y, A @ x)
    assert (A == 0).any() and (x != 0).all()
    y, B, h = pictures["representation"]
    torch.testing.assert_close(y, B @ h)
    assert (B != 0).all() and int((h != 0).sum()) == 2
    fig, ax = plt.subplots()
    sr.draw_product(ax, y, B, h, title="test")
    plt.close(fig)
    with pytest.raises(ValueError, match="y and v must have shapes"):
        sr.draw_product(ax, y, B, h[:3])


def test_activation_penalty_sweep_shapes_on_a_small_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(120, 8, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    data = Dataset(X[:80], y[:80], X[80:], y[80:], 2, "toy")
    config = sr.SparsityConfig(alphas=(0.0, 0.5), seeds=2, sizes=(8, 6, 2),
                               train=TrainConfig(epochs=2, lr=1e-2, batch_size=40, optimizer="adam"))
    found = sr.activation_penalty_sweep(data, config)
    for key in ("accuracy", "inactive", "dead"):
        assert found[key].shape == (2, 2)
        assert ((0 <= found[key]) & (found[key] <= 1)).all()
    assert found["hidden"][0].shape == (4, 40, 6)
    with pytest.raises(ValueError, match="config.alphas must be"):
        sr.activation_penalty_sweep(data, sr.SparsityConfig(alphas=(-1.0,), seeds=2))


def test_nonnegative_l1_code_switches_off_inputs_below_alpha():
    z = torch.tensor([-1.0, 0.2, 0.5, 2.0], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.0, 0.2, 1.7], dtype=torch.float64)
    torch.testing.assert_close(sr.nonnegative_l1_code(z, 0.3), expected)
    assert math.isclose(sr.nonnegative_l1_code(z, 0.0)[3].item(), 2.0)
