"""Small linear-algebra and quadrature helpers that several chapters' self-checks share (private)."""
from __future__ import annotations

import itertools
import math

import numpy as np

__all__: list[str] = []


def _lstsq(A_, b):
    return np.linalg.lstsq(A_, b, rcond=None)[0]


def _ridge(X, y, alpha, D=None):
    """argmin ||y - Xw||^2 + alpha ||D w||^2 as an augmented least-squares problem."""
    D = np.eye(X.shape[1]) if D is None else D
    return _lstsq(np.vstack([X, math.sqrt(alpha) * D]), np.concatenate([y, np.zeros(D.shape[0])]))


def _quadratic_expectation(fn, dim, scale):
    """E[fn(z)] for z ~ N(0, scale^2 I_dim) and fn a polynomial of degree <= 3 (Gauss-Hermite, 2 nodes)."""
    if dim > 16:
        raise ValueError(f"the check handles up to 16 noisy coordinates, but got {dim}")
    nodes = np.array(list(itertools.product((-1.0, 1.0), repeat=dim))) * scale  # weights 2^-dim each
    return float(np.mean([fn(z) for z in nodes]))
