"""AUG-2: Gaussian input noise on linear regression is ridge regression (Bishop 1995)."""
import pytest
import sympy as sp
import torch
from sklearn.linear_model import Ridge

from reglab.derivations import augmentation as aug
from reglab.derivations import get_result


def problem(seed=0, n=15, d=4):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    return X, y


def test_results_are_registered_in_the_chapter():
    assert get_result("AUG-2").kind == "derivation" and get_result("AUG-2").chapter == "augmentation"
    assert get_result("AUG-1").kind == "experiment" and get_result("AUG-3").kind == "experiment"


def test_exact_and_monte_carlo_checks_pass():
    aug.check_input_noise_exact().assert_passed()
    aug.check_input_noise_monte_carlo(num_draws=5000).assert_passed()


def test_ridge_solution_matches_scikit_learn():
    X, y = problem()
    sigma = 0.3
    ours = aug.input_noise_ridge_solution(X, y, sigma)
    reference = Ridge(alpha=X.shape[0] * sigma**2, fit_intercept=False).fit(X.numpy(), y.numpy()).coef_
    torch.testing.assert_close(ours, torch.as_tensor(reference), rtol=1e-10, atol=1e-12)


def test_ridge_solution_is_the_minimiser_of_the_expected_objective():
    X, y = problem(1)
    w = aug.input_noise_ridge_solution(X, y, 0.5).requires_grad_(True)
    aug.input_noise_objective(X, y, w, 0.5).backward()
    assert w.grad.abs().max() < 1e-10


def test_sympy_expectation_is_the_closed_form_polynomial():
    X, y = problem(2, n=2, d=2)
    expr, sigma, w = aug.sympy_input_noise_expectation(X.numpy(), y.numpy())
    # d/d(sigma^2) of the expectation is N ||w||^2 exactly.
    s2 = sp.Symbol("s2", positive=True)
    coeff = sp.expand(expr.subs(sigma, sp.sqrt(s2))).coeff(s2, 1)
    assert sp.simplify(coeff - 2 * sum(v**2 for v in w)) == 0


def test_unregularised_limit_and_noisy_copies_approach_ridge():
    X, y = problem(3)
    torch.testing.assert_close(aug.input_noise_ridge_solution(X, y, 0.0), torch.linalg.lstsq(X, y.unsqueeze(1)).solution[:, 0])
    g = torch.Generator().manual_seed(0)
    target = aug.input_noise_ridge_solution(X, y, 0.4)
    few = (aug.noisy_copies_solution(X, y, 0.4, 5, generator=g) - target).norm()
    many = (aug.noisy_copies_solution(X, y, 0.4, 2000, generator=g) - target).norm()
    assert many < few and many < 0.05


def test_simulation_tells_the_right_penalty_from_one_without_the_factor_n():
    X, y = problem(4, n=20, d=3)
    w = torch.ones(3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    losses = (y - (X + 0.4 * torch.randn(20000, 20, 3, generator=g, dtype=torch.float64)) @ w).pow(2).sum(-1)
    mean, se = losses.mean(), losses.std() / 20000**0.5
    right = aug.input_noise_objective(X, y, w, 0.4)
    wrong = (y - X @ w).pow(2).sum() + 0.4**2 * w.pow(2).sum()
    assert abs(mean - right) < aug.Z_999 * se < abs(mean - wrong)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: aug.input_noise_objective(torch.ones(3, 2, dtype=torch.float64), torch.ones(3, dtype=torch.float64), torch.ones(2, dtype=torch.float64), -1.0), ValueError, r"sigma must be in \[0, inf\)"),
        (lambda: aug.input_noise_objective(torch.ones(3, 2, dtype=torch.float64), torch.ones(4, dtype=torch.float64), torch.ones(2, dtype=torch.float64), 1.0), ValueError, "X has 3 rows but y has 4"),
        (lambda: aug.input_noise_objective(torch.ones(3, 2, dtype=torch.float64), torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 1.0), ValueError, "w has 3 entries but X has 2 columns"),
        (lambda: aug.input_noise_ridge_solution(torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 1.0), ValueError, "X must have 2 dimensions"),
        (lambda: aug.input_noise_ridge_solution(torch.ones(3, 2, dtype=torch.long), torch.ones(3), 1.0), TypeError, "X must be a floating-point"),
        (lambda: aug.noisy_copies_solution(torch.ones(3, 2, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 0.1, 0), ValueError, r"copies must be an integer in \[1, inf\]"),
        (lambda: aug.check_input_noise_monte_carlo(num_draws=1), ValueError, "num_draws must be an integer"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_every_check_and_planted_error_of_aug2():
    result = get_result("AUG-2")
    assert [p.label for p in result.parts] == ["SymPy, exact", "Monte Carlo"]
    for check in result.checks():
        check.assert_passed()
    for name in result.planted:
        assert not result.check(planted=name).passed, name


def test_the_missing_factor_n_is_rejected_exactly():
    check = aug.check_input_noise_exact(planted="penalty sigma^2 ||w||^2 (N dropped)")
    assert not check.passed and check.error > 1


def test_an_unknown_planted_error_is_refused():
    with pytest.raises(ValueError, match="no planted error"):
        aug.check_input_noise_exact(planted="penalty N sigma ||w||^2 (sigma for sigma^2)")  # the other part's
    with pytest.raises(ValueError, match="no planted error 'N'"):
        aug.check_input_noise_monte_carlo(planted="N")


def test_mixed_dtypes_are_rejected():
    X, y = problem()
    with pytest.raises(TypeError, match="X and y must have the same dtype"):
        aug.input_noise_ridge_solution(X, y.float(), 0.1)


def test_the_monte_carlo_check_draws_the_stated_noise():
    assert str(aug.MC_DRAWS) in aug.check_input_noise_monte_carlo().empirical_label


def test_experiments_state_direction_and_measure():
    for rid, direction in (("AUG-1", "decrease"), ("AUG-3", "increase")):
        r = get_result(rid)
        assert r.expected == direction and r.measures and r.unit == "points" and r.chapter == "augmentation"


def test_every_planted_error_of_aug2_is_a_students_mistake():
    assert {p.category for p in get_result("AUG-2").planted_errors()} == {"student"}
