"""Tests of reglab.derivations.regimes: closed forms against trusted references, REG results."""
import numpy as np
import pytest
import torch
from numpy.polynomial import legendre
from sklearn.linear_model import Ridge

from reglab.data import polynomial_regression
from reglab.derivations import get_result
from reglab.derivations.regimes import (
    REG1_FINE,
    check_reg1,
    check_reg1_monotone,
    check_reg1_svd_norm,
    fit_polynomial,
    polynomial_features,
    ridge_solution,
)


def _design(n=25, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)


# --- polynomial_features -----------------------------------------------------------------------
@pytest.mark.parametrize("degree", [0, 1, 2, 7, 15])
def test_polynomial_features_are_numpys_legendre_vandermonde(degree):
    x = torch.linspace(-1, 1, 33, dtype=torch.float64)
    expected = torch.as_tensor(legendre.legvander(x.numpy(), degree))
    assert torch.allclose(polynomial_features(x, degree), expected, atol=1e-12)
    assert torch.equal(polynomial_features(x.unsqueeze(1), degree), polynomial_features(x, degree))


def test_polynomial_features_reject_bad_input():
    with pytest.raises(ValueError, match=r"x must have shape \(n,\) or \(n, 1\)"):
        polynomial_features(torch.zeros(4, 2), 3)
    with pytest.raises(ValueError, match=r"degree must be an integer in \[0, inf\]"):
        polynomial_features(torch.zeros(4), -1)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        polynomial_features(torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="x must contain only finite values"):
        polynomial_features(torch.tensor([0.0, float("nan")]), 2)


# --- ridge_solution ----------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1e-6, 0.1, 1.0, 30.0])
def test_ridge_solution_matches_scikit_learn(alpha):
    # scikit-learn minimises ||y - Xw||^2 + alpha ||w||^2, the same minimiser as ours.
    X, y = _design()
    reference = Ridge(alpha=alpha, fit_intercept=False, solver="svd").fit(X.numpy(), y.numpy()).coef_
    assert np.allclose(ridge_solution(X, y, alpha).numpy(), reference, rtol=1e-10, atol=1e-12)


def test_ridge_at_zero_is_least_squares_and_handles_wide_designs_when_alpha_positive():
    X, y = _design()
    assert torch.allclose(ridge_solution(X, y, 0.0), torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1))
    wide, y_wide = _design(n=3, d=6)
    w = ridge_solution(wide, y_wide, 0.5)
    # Stationarity of 1/2||Xw - y||^2 + alpha/2 ||w||^2.
    assert torch.allclose(wide.T @ (wide @ w - y_wide) + 0.5 * w, torch.zeros(6, dtype=torch.float64), atol=1e-12)


def test_ridge_norm_decreases_with_alpha():
    X, y = _design()
    norms = [ridge_solution(X, y, a).norm().item() for a in np.logspace(-4, 3, 30)]
    assert np.all(np.diff(norms) < 0)


def test_ridge_solution_rejects_bad_input():
    X, y = _design()
    with pytest.raises(ValueError, match=r"alpha must be in \[0, inf\), but got -1.0"):
        ridge_solution(X, y, -1.0)
    with pytest.raises(ValueError, match="alpha must be in"):
        ridge_solution(X, y, float("inf"))
    with pytest.raises(ValueError, match="X has 25 rows but y has 24 entries"):
        ridge_solution(X, y[:-1], 1.0)
    with pytest.raises(TypeError, match="X and y must have the same dtype"):
        ridge_solution(X, y.float(), 1.0)
    with pytest.raises(ValueError, match="y must have 1 dimensions"):
        ridge_solution(X, y.unsqueeze(1), 1.0)
    wide, y_wide = _design(n=3, d=6)
    with pytest.raises(ValueError, match="X\\^T X \\+ alpha\\*I is singular"):
        ridge_solution(wide, y_wide, 0.0)


# --- fit_polynomial ----------------------------------------------------------------------------
def test_fit_polynomial_matches_numpys_legendre_fit():
    data, _ = polynomial_regression(30, seed=3)
    x, y = data.x_train[:, 0], data.y_train
    expected = legendre.legfit(x.numpy(), y.numpy(), 6)
    assert np.allclose(fit_polynomial(x, y, 6).numpy(), expected, rtol=1e-9, atol=1e-10)


def test_fit_polynomial_interpolates_with_the_minimum_norm_when_underdetermined():
    data, _ = polynomial_regression(5, seed=0)
    coef = fit_polynomial(data.x_train, data.y_train, 9)
    X = polynomial_features(data.x_train, 9)
    assert torch.allclose(X @ coef, data.y_train, atol=1e-10)
    assert torch.allclose(coef, torch.linalg.pinv(X) @ data.y_train, atol=1e-10)


def test_fit_polynomial_rejects_bad_input():
    data, _ = polynomial_regression(10)
    with pytest.raises(ValueError, match="alpha must be in"):
        fit_polynomial(data.x_train, data.y_train, 3, alpha=-0.5)
    with pytest.raises(ValueError, match="degree must be an integer"):
        fit_polynomial(data.x_train, data.y_train, -2)
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        fit_polynomial(data.x_train, data.y_train[:9], 3)


# --- results -----------------------------------------------------------------------------------
def test_reg1_passes():
    check = get_result("REG-1").check()
    assert check.passed, str(check)
    assert [c.label for c in get_result("REG-1").checks()] == [
        "normal equations vs augmented least squares",
        "norm from the SVD",
        "norm decreases strictly (fine grid)",
    ]


def test_reg1_monotonicity_is_decided_by_its_own_comparison_on_a_fine_grid():
    # The first edition set the verdict outside the comparison (dataclasses.replace after compare)
    # and tested 7 values of alpha. Now the decreases are the printed numbers that decide.
    assert (
        len(REG1_FINE) == 301
        and REG1_FINE[0] == 0.0
        and REG1_FINE[-1] == pytest.approx(100.0)
    )
    check = check_reg1_monotone()
    assert check.kind == "bound" and check.passed == check.decided
    assert check.empirical.shape == (300,) and check.empirical.min() > 0
    wrong = check_reg1_monotone(planted="constant left unpenalised")
    assert (
        not wrong.passed
        and wrong.passed == wrong.decided
        and "short of the bound" in wrong.error_text()
    )
    for checker in (check_reg1, check_reg1_svd_norm):
        assert checker().kind == "agree"


@pytest.mark.parametrize(
    "name",
    [
        "penalty without its 1/2",
        "fitted-value factor",
        "constant left unpenalised",
    ],
)
def test_reg1_rejects_its_planted_errors(name):
    # The first edition's REG-1 declared no planted error: nothing showed that it could fail.
    assert not get_result("REG-1").check(planted=name).passed


def test_reg1_planted_errors_say_who_makes_them():
    kinds = {p.name: p.category for p in get_result("REG-1").planted_errors()}
    assert kinds == {
        "penalty without its 1/2": "student",
        "fitted-value factor": "student",
        "constant left unpenalised": "library",
    }


@pytest.mark.parametrize(
    "checker", [check_reg1, check_reg1_svd_norm, check_reg1_monotone]
)
def test_reg1_checkers_refuse_a_planted_error_they_do_not_know(checker):
    with pytest.raises(ValueError, match="no planted error 'made up' here"):
        checker(planted="made up")
