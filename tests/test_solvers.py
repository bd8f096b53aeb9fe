"""Tests of reglab.solvers: the gradient-only minimisers against known minimisers and SciPy."""
import math

import pytest
import torch

from reglab.data import quadratic_problem
from reglab.solvers import NOT_CONVERGED, heavy_ball_minimise, lbfgs_minimise

D = torch.float64


def test_heavy_ball_reaches_the_minimiser_of_a_quadratic():
    H, w_star, _, lam = quadratic_problem(5, seed=0)
    w, g = heavy_ball_minimise(lambda w: 0.5 * (w - w_star) @ H @ (w - w_star), torch.zeros(5, dtype=D),
                               L=lam.max().item(), mu=lam.min().item(), grad_tol=1e-12)
    assert g <= 1e-12 and torch.allclose(w, w_star, atol=1e-9)


def test_heavy_ball_contracts_at_the_optimal_rate_on_a_quadratic():
    # Polyak: the error of the heavy-ball method shrinks by (sqrt(kappa) - 1) / (sqrt(kappa) + 1)
    # per step on a quadratic; the step count to a tolerance follows it.
    H = torch.diag(torch.tensor([1.0, 100.0], dtype=D))
    w_star = torch.tensor([1.0, 1.0], dtype=D)
    steps = []

    def f(w):
        steps.append(1)
        return 0.5 * (w - w_star) @ H @ (w - w_star)

    w, g = heavy_ball_minimise(f, torch.zeros(2, dtype=D), L=100.0, mu=1.0, grad_tol=1e-10)
    rate = (math.sqrt(100.0) - 1) / (math.sqrt(100.0) + 1)
    assert g <= 1e-10 and torch.allclose(w, w_star, atol=1e-9)
    # 100 * rate^t <= 1e-10 within a factor (t + 1) of transient: a few hundred steps at most.
    assert len(steps) <= math.log(1e-13) / math.log(rate) + 20


def test_lbfgs_reaches_the_minimiser_of_a_smooth_convex_function():
    target = torch.tensor([1.0, -2.0, 0.5], dtype=D)
    w, g = lbfgs_minimise(lambda w: torch.logsumexp(w - target, 0) + 0.5 * (w - target).pow(2).sum(),
                          torch.zeros(3, dtype=D), grad_tol=1e-9)
    # Stationarity: softmax(w - t) + (w - t) = 0.
    assert g <= 1e-9
    assert torch.allclose(torch.softmax(w - target, 0) + (w - target), torch.zeros(3, dtype=D), atol=1e-8)


def test_lbfgs_agrees_with_a_linear_solve_and_keeps_the_dtype():
    A = torch.randn(4, 4, dtype=D, generator=torch.Generator().manual_seed(2))
    H = A @ A.T + torch.eye(4, dtype=D)  # eigenvalues >= 1
    b = torch.tensor([0.3, -1.0, 2.0, 0.5], dtype=D)
    w, g = lbfgs_minimise(lambda w: 0.5 * w @ H @ w - b @ w, torch.zeros(4, dtype=D), grad_tol=1e-8)
    # Strongly convex with mu >= 1: |w - w*| <= sqrt(n) grad_tol / mu.
    assert w.dtype == D and g <= 1e-8
    torch.testing.assert_close(w, torch.linalg.solve(H, b), rtol=0, atol=2 * 1e-8)


def test_both_minimisers_agree_on_a_ridge_objective():
    H, w_star, _, lam = quadratic_problem(6, seed=3)
    alpha = 0.7

    def f(w):
        return 0.5 * (w - w_star) @ H @ (w - w_star) + 0.5 * alpha * w @ w

    hb, _ = heavy_ball_minimise(f, torch.zeros(6, dtype=D), L=lam.max().item() + alpha, mu=lam.min().item() + alpha)
    lb, _ = lbfgs_minimise(f, torch.zeros(6, dtype=D))
    torch.testing.assert_close(hb, lb, rtol=0, atol=1e-9)


def test_minimisers_warn_when_they_stop_early():
    f = lambda w: (w - 1.0).pow(2).sum()  # noqa: E731
    with pytest.warns(RuntimeWarning, match=NOT_CONVERGED):
        heavy_ball_minimise(f, torch.zeros(2, dtype=D), L=2.0, mu=1e-3, max_steps=2)
    with pytest.warns(RuntimeWarning, match=NOT_CONVERGED):
        lbfgs_minimise(lambda w: (w - 1.0).pow(4).sum(), torch.zeros(2, dtype=D), grad_tol=1e-14, max_iter=1)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda f, w0: heavy_ball_minimise(3.0, w0, L=1.0, mu=1.0), TypeError, "objective must be callable"),
        (lambda f, w0: heavy_ball_minimise(f, w0, L=1.0, mu=0.0), ValueError, r"mu must be in \(0, inf\)"),
        (lambda f, w0: heavy_ball_minimise(f, w0, L=1.0, mu=2.0), ValueError, r"L must be in \[2, inf\)"),
        (lambda f, w0: heavy_ball_minimise(f, w0, L=1.0, mu=1.0, max_steps=0), ValueError, "max_steps must be an integer"),
        (lambda f, w0: heavy_ball_minimise(f, w0, L=1.0, mu=1.0, grad_tol=-1.0), ValueError, "grad_tol must be in"),
        (lambda f, w0: heavy_ball_minimise(f, torch.tensor([float("nan")]), L=1.0, mu=1.0), ValueError, "w0 must contain only finite"),
        (lambda f, w0: lbfgs_minimise(f, torch.zeros(2, 2)), ValueError, "w0 must have 1 dimensions"),
        (lambda f, w0: lbfgs_minimise(f, torch.zeros(2, dtype=torch.long)), TypeError, "w0 must be a floating-point"),
        (lambda f, w0: lbfgs_minimise(f, w0, grad_tol=0.0), ValueError, "grad_tol must be in"),
        (lambda f, w0: lbfgs_minimise(None, w0), TypeError, "objective must be callable"),
        (lambda f, w0: lbfgs_minimise(f, w0, max_iter=0), ValueError, "max_iter must be an integer"),
        (lambda f, w0: lbfgs_minimise(f, w0, history_size=0), ValueError, "history_size must be an integer"),
        (lambda f, w0: lbfgs_minimise(f, [0.0, 0.0]), TypeError, "w0 must be a torch.Tensor"),
    ],
)
def test_minimisers_reject_bad_input(call, error, match):
    f = lambda w: w.pow(2).sum()  # noqa: E731
    with pytest.raises(error, match=match):
        call(f, torch.zeros(2, dtype=D))
