"""Tests of reglab.derivations.dropout: closed forms, their checks and bad input."""
import pytest
import sympy as sp
import torch

from reglab.derivations import dropout as d
from reglab.derivations import get_result

DT = torch.float64


def _problem(N=6, D=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, D, generator=g, dtype=DT), torch.randn(N, generator=g, dtype=DT)


@pytest.mark.parametrize("rid", [f"DO-{k}" for k in range(1, 10)])
def test_results_are_registered_in_the_dropout_chapter(rid):
    result = get_result(rid)
    assert result.chapter == "dropout"
    assert result.kind == ("experiment" if rid in ("DO-7", "DO-8") else "derivation")


def test_objective_at_keep_prob_one_is_least_squares():
    X, y = _problem()
    w = torch.randn(3, dtype=DT)
    torch.testing.assert_close(d.dropout_linear_objective(X, y, w, 1.0), (y - X @ w).pow(2).sum())


def test_objective_matches_enumeration_on_a_random_problem():
    X, y = _problem(N=2, D=5, seed=3)
    w = torch.randn(5, dtype=DT)
    torch.testing.assert_close(d.dropout_linear_objective(X, y, w, 0.35), d.enumerated_objective(X, y, w, 0.35))


@pytest.mark.parametrize("keep_prob", [0.2, 0.7, 1.0])
def test_ridge_solution_zeroes_the_autograd_gradient(keep_prob):
    X, y = _problem()
    w = d.dropout_ridge_solution(X, y, keep_prob).requires_grad_(True)
    (grad,) = torch.autograd.grad(d.dropout_linear_objective(X, y, w, keep_prob), w)
    torch.testing.assert_close(grad, torch.zeros(3, dtype=DT), atol=1e-10, rtol=0)


def test_effective_weights_shrink_as_keep_prob_falls():
    # The test-time weights p w* solve ridge with penalty ((1-p)/p)||Gamma v||^2: ||Gamma p w*||
    # falls monotonically as p falls (ridge in the coordinates Gamma v).
    X, y = _problem(N=30, D=4)
    gamma = X.pow(2).sum(0).sqrt()
    norms = [(gamma * p * d.dropout_ridge_solution(X, y, p)).norm().item() for p in (1.0, 0.8, 0.5, 0.2, 0.05)]
    assert norms == sorted(norms, reverse=True)


def test_symbolic_expectation_equals_closed_form_identically():
    assert d.objective_symbolic(2, 3)["difference"] == 0


def test_derivation_steps_all_pass():
    for check in d.objective_steps(0.45):
        check.assert_passed()


def test_monte_carlo_objective_within_its_interval():
    d.objective_monte_carlo(0.7, draws=60_000).assert_passed()


def test_sgd_with_dropout_converges_to_the_closed_form():
    d.ridge_sgd(0.6, chains=12, steps=2500).assert_passed()


def test_weight_scaling_gap_vanishes_at_keep_prob_one_and_not_below():
    assert d.weight_scaling_gap(1.0)["gap"] < 1e-12
    assert d.weight_scaling_gap(0.5)["gap"] > 0.05


def test_nonlinear_gap_check_reports_gap_beyond_monte_carlo_tolerance():
    check = d.check_nonlinear_gap(0.5, draws=50_000)
    check.assert_passed()
    gap = d.weight_scaling_gap(0.5)["gap"]
    assert gap > 3 * check.tolerance


def test_closed_forms_reject_bad_input():
    X, y = _problem()
    w = torch.zeros(3, dtype=DT)
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\], but got 0.0"):
        d.dropout_linear_objective(X, y, w, 0.0)
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\], but got nan"):
        d.dropout_ridge_solution(X, y, float("nan"))
    with pytest.raises(ValueError, match="X has 6 rows but y has 5 entries"):
        d.dropout_ridge_solution(X, y[:5], 0.5)
    with pytest.raises(ValueError, match="w has 2 entries but X has 3 columns"):
        d.dropout_linear_objective(X, y, w[:2], 0.5)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        d.dropout_ridge_solution(y, y, 0.5)
    with pytest.raises(TypeError, match="X must be a floating-point tensor"):
        d.dropout_ridge_solution(X.long(), y, 0.5)
    with pytest.raises(ValueError, match="X must contain only finite values"):
        d.dropout_ridge_solution(X * float("inf"), y, 0.5)


def test_helpers_reject_bad_input():
    X, y = _problem()
    with pytest.raises(ValueError, match="scaling must be one of"):
        d.sgd_with_dropout(X, y, 0.5, scaling="none", steps=3, burn_in=1)
    with pytest.raises(ValueError, match=r"burn_in must be an integer in \[0, 2\]"):
        d.sgd_with_dropout(X, y, 0.5, steps=3, burn_in=3)
    with pytest.raises(ValueError, match="lr must be in"):
        d.sgd_with_dropout(X, y, 0.5, lr=0.0)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        d.weight_scaling_gap(1.5)
    with pytest.raises(ValueError, match=r"N must be an integer in \[1, 4\]"):
        d.objective_symbolic(5, 2)
