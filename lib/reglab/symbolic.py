"""Exact expectations with SymPy: Gaussian moments of polynomials, floats as exact rationals.

A derivation that averages a squared error over Gaussian noise (noise on the inputs, on the
weights) can be checked without sampling: expand the error as a polynomial in the noise
variables and replace every monomial by its moment.

- :func:`gaussian_expectation`: E[p(e)] for independent e_i ~ N(0, sigma^2), exactly;
- :func:`rational_matrix`: a float array as a SymPy matrix of exact rationals, so that the
  expansion carries no rounding error.
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np
import torch

from ._lazy import lazy_module

sp = lazy_module("sympy")

__all__ = ["gaussian_expectation", "rational_matrix"]


def gaussian_expectation(poly: sp.Poly, sigma) -> sp.Expr:
    """Exact expectation of a polynomial in independent N(0, sigma^2) variables.

    Parameters
    ----------
    poly : sympy.Poly
        A polynomial whose generators are the noise variables.
    sigma : sympy expression
        Their common standard deviation.

    Returns
    -------
    sympy expression
        Each monomial replaced by its moment, E[e^k] = sigma^k (k-1)!! for even k and 0 for
        odd k (independence makes the moment of a product the product of the moments).

    Examples
    --------
    >>> e, s = sp.symbols("e s")
    >>> gaussian_expectation(sp.Poly((1 + e) ** 2, e), s)
    s**2 + 1
    >>> gaussian_expectation(sp.Poly(e**4, e), 2)  # 3 sigma^4
    48
    """
    if not isinstance(poly, sp.Poly):
        raise TypeError(f"poly must be a sympy.Poly in the noise variables, but got {type(poly).__name__}")
    _check_sigma(sigma)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for k in powers:
            if k % 2:
                term = 0
                break
            term *= sigma**k * sp.factorial2(k - 1)
        total += term
    return sp.expand(total)


def _check_sigma(sigma) -> None:
    """``sigma`` is a SymPy expression or a real number, not NaN or negative."""
    if isinstance(sigma, sp.Basic):
        if sigma.is_number and (sigma.is_real is False or sigma == sp.nan or bool(sigma.is_negative)):
            raise ValueError(f"sigma must be a standard deviation >= 0 (or a symbol), but got {sigma}")
        return
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
        raise TypeError(f"sigma must be a sympy expression or a real number, but got {type(sigma).__name__} {sigma!r}")
    if not sigma >= 0:  # also rejects NaN
        raise ValueError(f"sigma must be a standard deviation >= 0 (or a symbol), but got {sigma!r}")


def rational_matrix(a) -> sp.Matrix:
    """A float array as a SymPy matrix of exact rationals (denominators up to 10^6).

    Parameters
    ----------
    a : array-like or Tensor of shape (n,) or (n, m)
        Finite real numbers; a vector becomes a column.

    Returns
    -------
    sympy.Matrix of shape (n, 1) or (n, m)
        Each entry the closest fraction with a denominator of at most 10^6
        (``fractions.Fraction.limit_denominator``), exact for decimals such as 0.25.

    Examples
    --------
    >>> rational_matrix([[0.5, 0.25], [1 / 3, -2.0]])
    Matrix([
    [1/2, 1/4],
    [1/3,  -2]])
    """
    _check_array(a)

    def exact(v):
        return sp.Rational(Fraction(float(v)).limit_denominator(10**6))

    return sp.Matrix(np.asarray(a, dtype=object).tolist()).applyfunc(exact)


def _check_array(a) -> None:
    """``a`` is a 1-D or 2-D array of finite real numbers (any container NumPy accepts)."""
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"a must be an array of real numbers, but got {type(a).__name__} {a!r}")
    try:
        values = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        values = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a must be an array of real numbers, but got {type(a).__name__}") from exc
    if values.ndim not in (1, 2):
        raise ValueError(f"a must have 1 or 2 dimensions, but got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("a must contain only finite values, but it contains NaN or inf")
