"""Tests of reglab.derivations.sparse_representations (SP-2..SP-4) and its pictures."""
import itertools
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.fft
import torch
from reglab import omp
from reglab.derivations import get_result
from reglab.derivations import sparse_representations as sr
from reglab import plotting as pictures
from sklearn.linear_model import orthogonal_mp


@pytest.mark.parametrize("check", [sr.check_sp2, sr.check_sp2_omp, sr.check_sp2_orthogonal, sr.check_sp3, sr.check_sp4])
def test_checks_pass(check):
    result = check()
    result.assert_passed()
    assert result.id in str(result)


def test_results_are_registered_in_this_chapter():
    kinds = {"SP-1": "experiment", "SP-2": "derivation", "SP-3": "derivation", "SP-4": "derivation",
             "SP-5": "experiment"}
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
        (lambda: pictures.sparsity_illustration(nonzeros=9), ValueError,
         r"nonzeros must be an integer in \[1, 6\]"),
    ],
)
def test_bad_input_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_sparsity_illustration_products_and_sparsity():
    made = pictures.sparsity_illustration()
    y, A, x = made["parameter"]
    torch.testing.assert_close(y, A @ x)
    assert (A == 0).any() and (x != 0).all()
    y, B, h = made["representation"]
    torch.testing.assert_close(y, B @ h)
    assert (B != 0).all() and int((h != 0).sum()) == 2
    fig, ax = plt.subplots()
    pictures.draw_product(ax, y, B, h, title="test")
    plt.close(fig)
    with pytest.raises(ValueError, match="y and v must have shapes"):
        pictures.draw_product(ax, y, B, h[:3])


def test_nonnegative_l1_code_switches_off_inputs_below_alpha():
    z = torch.tensor([-1.0, 0.2, 0.5, 2.0], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.0, 0.2, 1.7], dtype=torch.float64)
    torch.testing.assert_close(sr.nonnegative_l1_code(z, 0.3), expected)
    assert math.isclose(sr.nonnegative_l1_code(z, 0.0)[3].item(), 2.0)


# ---- planted errors that the first edition's checks let through -------------------------


def test_sp2_rejects_the_signed_top_k_and_the_top_k_of_x():
    # The old check compared the closed form with brute force on the right rule only: a signed
    # top-k, or the k largest samples of x taken as the code, was never tried.
    result = get_result("SP-2")
    for name in ("signed top-k", "top-k of x", "OMP without |.|", "orthonormal rule", "unscaled coefficients"):
        assert not result.check(planted=name).passed, name


def test_orthogonal_columns_suffice_with_the_normalised_rule():
    # The lecture: "efficiently solvable when W is constrained to be orthogonal". True for any
    # column lengths, once the correlations are divided by the lengths (exercise 1).
    g = torch.Generator().manual_seed(4)
    q, _ = torch.linalg.qr(torch.randn(7, 5, generator=g, dtype=torch.float64))
    W = q * torch.tensor([0.1, 0.5, 1.0, 3.0, 9.0], dtype=torch.float64)
    X = torch.randn(30, 7, generator=g, dtype=torch.float64)
    torch.testing.assert_close(sr.topk_orthogonal(W, X, 2), sr.best_k_sparse(W, X, 2))
    torch.testing.assert_close(sr.topk_orthogonal(q, X, 2), sr.topk_orthonormal(q, X, 2))
    with pytest.raises(ValueError, match="orthogonal non-zero columns"):
        sr.topk_orthogonal(torch.ones(3, 2, dtype=torch.float64), X[:, :3], 1)


def test_sp3_rejects_a_brute_force_restricted_to_the_greedy_path():
    # Searching only the supports that contain OMP's first atom finds OMP's own residual.
    assert not get_result("SP-3").check(planted="greedy-path brute force").passed
    assert not get_result("SP-3").check(planted="matching pursuit").passed


def test_sp4_rejects_the_unconstrained_soft_threshold():
    assert not get_result("SP-4").check(planted="soft threshold").passed
    assert not get_result("SP-4").check(planted="threshold alpha/2").passed


def test_sp1_and_sp5_state_their_direction():
    for rid in ("SP-1", "SP-5"):
        result = get_result(rid)
        assert result.expected == "increase" and result.unit == "points" and result.measures


@pytest.mark.parametrize("check", [sr.check_sp2, sr.check_sp2_omp, sr.check_sp2_orthogonal, sr.check_sp3, sr.check_sp4])
def test_an_unknown_planted_error_is_refused(check):
    with pytest.raises(ValueError, match="no planted error 'typo'"):
        check(planted="typo")


def test_each_part_rejects_exactly_the_planted_errors_it_declares():
    for rid in ("SP-2", "SP-3", "SP-4"):
        for part in get_result(rid).parts:
            for planted in part.planted:
                assert not part.run(rid, planted.name).passed, (rid, planted.name)
