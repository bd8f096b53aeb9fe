"""Tests of reglab.symbolic: exact Gaussian moments and exact rationals, against known values."""
import math

import numpy as np
import pytest
import sympy as sp
import torch

from reglab.symbolic import gaussian_expectation, rational_matrix


@pytest.mark.parametrize("k", range(9))
def test_moments_of_one_gaussian_are_double_factorials(k):
    e, s = sp.symbols("e s", positive=True)
    expected = 0 if k % 2 else s**k * sp.factorial2(k - 1)
    assert sp.simplify(gaussian_expectation(sp.Poly(e**k, e), s) - expected) == 0


def test_moments_of_independent_variables_multiply():
    e1, e2, s = sp.symbols("e1 e2 s")
    # E[e1^2 e2^4] = s^2 * 3 s^4; odd powers of either variable vanish.
    assert gaussian_expectation(sp.Poly(e1**2 * e2**4 + e1 * e2**2 + 5, e1, e2), s) == 3 * s**6 + 5


def test_expectation_of_a_squared_error_is_bias_plus_variance_term():
    # E (a - (x + e) w)^2 = (a - x w)^2 + w^2 sigma^2, with e ~ N(0, sigma^2).
    a, x, w, e, s = sp.symbols("a x w e s")
    poly = sp.Poly(sp.expand((a - (x + e) * w) ** 2), e)
    assert sp.expand(gaussian_expectation(poly, s) - ((a - x * w) ** 2 + w**2 * s**2)) == 0


def test_expectation_matches_monte_carlo_for_a_numeric_sigma():
    e1, e2 = sp.symbols("e1 e2")
    p = sp.Poly((1 + e1 - 2 * e2) ** 4, e1, e2)
    exact = float(gaussian_expectation(p, sp.Rational(1, 2)))
    g = torch.Generator().manual_seed(0)
    z = 0.5 * torch.randn(200000, 2, generator=g, dtype=torch.float64)
    values = (1 + z[:, 0] - 2 * z[:, 1]) ** 4
    se = values.std().item() / math.sqrt(values.numel())
    assert abs(values.mean().item() - exact) < 4 * se


def test_rational_matrix_is_exact_for_decimals_and_keeps_the_shape():
    m = rational_matrix(np.array([[0.5, -0.25], [1.75, 3.0]]))
    assert m == sp.Matrix([[sp.Rational(1, 2), sp.Rational(-1, 4)], [sp.Rational(7, 4), 3]])
    column = rational_matrix(torch.tensor([0.1, 0.2], dtype=torch.float64))
    assert column.shape == (2, 1) and column[0] == sp.Rational(1, 10)
    assert rational_matrix([1 / 3])[0] == sp.Rational(1, 3)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: gaussian_expectation("e**2", sp.Symbol("s")), TypeError, "poly must be a sympy.Poly"),
        (lambda: gaussian_expectation(sp.Poly(sp.Symbol("e") ** 2), "s"), TypeError, "sigma must be a sympy expression"),
        (lambda: gaussian_expectation(sp.Poly(sp.Symbol("e") ** 2), -1.0), ValueError, "sigma must be a standard deviation"),
        (lambda: gaussian_expectation(sp.Poly(sp.Symbol("e") ** 2), float("nan")), ValueError, "sigma must be a standard deviation"),
        (lambda: gaussian_expectation(sp.Poly(sp.Symbol("e") ** 2), sp.Integer(-2)), ValueError, "sigma must be a standard deviation"),
        (lambda: rational_matrix(None), TypeError, "a must be an array of real numbers"),
        (lambda: rational_matrix("0.5"), TypeError, "a must be an array of real numbers"),
        (lambda: rational_matrix([[0.5, float("nan")]]), ValueError, "a must contain only finite values"),
        (lambda: rational_matrix(np.zeros((2, 2, 2))), ValueError, "a must have 1 or 2 dimensions"),
        (lambda: rational_matrix(0.5), ValueError, "a must have 1 or 2 dimensions"),
        (lambda: rational_matrix([["x", 1.0]]), TypeError, "a must be an array of real numbers"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
