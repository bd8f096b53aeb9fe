"""Tests of reglab.derivations.bagging: the ensemble error identity and the BAG checks."""
import math

import numpy as np
import pytest
import sympy as sp
import torch

from reglab.derivations import bagging, compare, get_result
from reglab.derivations.bagging import (
    bootstrap_fraction,
    check_bag1,
    check_bag1_bracket,
    check_bag1_curve,
    check_bag1_sympy,
    check_bag2,
    check_bag2_enumeration,
    check_bag2_monte_carlo,
    check_bag3,
    check_bag3_expected,
    check_bag3_inequality,
    correlated_errors,
    ensemble_mse,
    symbolic_ensemble_mse,
)

CHECKERS = [
    check_bag1,
    check_bag1_sympy,
    check_bag1_bracket,
    check_bag1_curve,
    check_bag2,
    check_bag2_enumeration,
    check_bag2_monte_carlo,
    check_bag3,
    check_bag3_inequality,
    check_bag3_expected,
]


@pytest.mark.parametrize("v, c, k", [(1.0, 0.0, 1), (2.0, 0.5, 4), (3.0, -0.5, 7), (0.7, 0.7, 10)])
def test_ensemble_mse_equals_quadratic_form_of_the_covariance(v, c, k):
    sigma = np.full((k, k), c)
    np.fill_diagonal(sigma, v)
    ones = np.ones(k) / k
    assert ensemble_mse(v, c, k) == pytest.approx(ones @ sigma @ ones, rel=1e-12)


def test_ensemble_mse_limits():
    assert ensemble_mse(2.0, 2.0, 9) == pytest.approx(2.0)  # perfectly correlated: no gain
    assert ensemble_mse(2.0, 0.0, 8) == pytest.approx(0.25)  # uncorrelated: v / k
    assert ensemble_mse(2.0, -0.5, 5) == pytest.approx(0.0)  # c = -v/(k-1): errors cancel


def test_ensemble_mse_accepts_rounding_at_the_boundary():
    assert ensemble_mse(1.0, 1.0 + 1e-14, 3) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((-1.0, 0.0, 2), ValueError, "v must be in \\[0, inf\\), but got -1.0"),
        ((1.0, 1.5, 2), ValueError, "c must be in \\[-v/\\(k-1\\), v\\] = \\[-1, 1\\] for v = 1, k = 2"),
        ((1.0, -0.5, 4), ValueError, "c must be in \\[-v/\\(k-1\\), v\\] = \\[-0.333333, 1\\]"),
        ((1.0, -2.0, 1), ValueError, "c must be in"),
        ((1.0, 0.0, 0), ValueError, "k must be an integer in \\[1, inf\\], but got 0"),
        ((1.0, 0.0, 2.0), TypeError, "k must be an integer"),
        ((1.0, float("nan"), 2), ValueError, "c must be in \\(-inf, inf\\), but got nan"),
        (("1", 0.0, 2), TypeError, "v must be a real number"),
    ],
)
def test_invalid_ensemble_mse_arguments_rejected(args, error, match):
    with pytest.raises(error, match=match):
        ensemble_mse(*args)


def test_correlated_errors_have_the_requested_covariance():
    errors = correlated_errors(2.0, 0.6, 4, 200_000, generator=torch.Generator().manual_seed(0))
    cov = errors.T @ errors / errors.shape[0]
    # Standard error of a product moment of N(0, 2) variables: at most 2 * sqrt(2 / N) = 0.0063.
    expected = torch.full((4, 4), 0.6, dtype=torch.float64) + 1.4 * torch.eye(4, dtype=torch.float64)
    torch.testing.assert_close(cov, expected, atol=5 * 0.0063, rtol=0)


def test_correlated_errors_at_the_singular_limits():
    same = correlated_errors(1.0, 1.0, 3, 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, same[:, :1].expand(-1, 3))  # c = v: one shared error
    opposite = correlated_errors(1.0, -0.5, 3, 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(opposite.sum(1), torch.zeros(10, dtype=torch.float64), atol=1e-12, rtol=0)


def test_correlated_errors_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_samples must be an integer in \\[1, inf\\]"):
        correlated_errors(1.0, 0.0, 2, 0)
    with pytest.raises(ValueError, match="c must be in"):
        correlated_errors(1.0, 2.0, 2, 5)


def test_symbolic_expansion_is_the_mean_of_the_covariance_entries():
    general, equal = symbolic_ensemble_mse(3)
    s = {(a, b): sp.Symbol(f"sigma_{a}_{b}") for a in range(1, 4) for b in range(a, 4)}
    expected = (s[1, 1] + s[2, 2] + s[3, 3] + 2 * (s[1, 2] + s[1, 3] + s[2, 3])) / 9
    assert sp.simplify(general - expected) == 0
    v, c = sp.symbols("v c")
    assert sp.simplify(equal - (v / 3 + 2 * c / 3)) == 0


def test_symbolic_expansion_rejects_large_k():
    with pytest.raises(ValueError, match="k must be an integer in \\[1, 12\\], but got 13"):
        symbolic_ensemble_mse(13)


def test_bootstrap_fraction_values_and_limit():
    assert bootstrap_fraction(1) == 1.0
    assert bootstrap_fraction(2) == 0.75
    assert bootstrap_fraction(10**6) == pytest.approx(1 - math.exp(-1), abs=1e-6)
    with pytest.raises(ValueError, match="n must be an integer in \\[1, inf\\], but got 0"):
        bootstrap_fraction(0)


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda f: f.__name__)
def test_bag_checks_pass_and_are_registered(checker):
    check = checker()
    check.assert_passed()
    result = get_result(check.id)
    assert result.chapter == "bagging" and result.kind == "derivation"
    assert checker in [part.checker for part in result.parts]


def test_every_comparison_goes_through_the_core():
    # The private comparison that built Check objects by hand is gone.
    assert not hasattr(bagging, "_compare_entries")


def test_bag3_reports_the_smallest_gap():
    check = check_bag3()
    assert check.empirical.min() >= -1e-12
    assert "smallest gap 0" in check.note


@pytest.mark.parametrize(
    "checker, planted",
    [
        (check_bag1, "v/k + c(k-1)/k^2"),
        (check_bag1_sympy, "cross terms counted once"),
        (check_bag1_bracket, "1/k for 1/k^2"),
        (check_bag1_bracket, "j = i kept in the inner sum"),
        (check_bag1_bracket, "no expectation around the bracket"),
        (check_bag1_curve, "decreases linearly with ensemble size"),
        (check_bag2, "1/e for 1 - 1/e"),
        (check_bag2_enumeration, "1 - 1/e at every n"),
        (check_bag2_monte_carlo, "1 - 1/n"),
        (check_bag3, "spread with 1/(k-1)"),
        (check_bag3_inequality, "at least as well as its best member"),
        (check_bag3_expected, "gap (v - c)/k"),
        (check_bag3_expected, "gap v(k-1)/k, c ignored"),
    ],
)
def test_each_check_rejects_its_planted_error(checker, planted):
    assert not checker(planted=planted).passed


def test_the_lectures_slips_are_marked_with_where_they_stand():
    slips = {
        p.name: p
        for rid in ("BAG-1", "BAG-3")
        for p in get_result(rid).planted_errors()
        if p.slip
    }
    assert set(slips) == {
        "no expectation around the bracket",
        "decreases linearly with ensemble size",
    }
    assert (
        "Error decreases linearly with ensemble size"
        in slips["decreases linearly with ensemble size"].slip
    )
    assert "1/k" in slips["decreases linearly with ensemble size"].correct
    # contestable: worded as the loose phrase it is, with the case (c = 0) it was written for
    assert (
        "loose phrase"
        in slips["decreases linearly with ensemble size"].correct
    )
    assert "c = 0" in slips["decreases linearly with ensemble size"].correct


def test_the_on_average_bullet_is_not_an_erratum():
    # The first edition listed "On average the ensemble performs at least as well as any of its
    # members" as a slip. Under the lecture's model every member's expected error is v and the
    # ensemble's is v/k + (k-1)c/k <= v: on average the slide is right.
    assert not [p for p in get_result("BAG-3").planted_errors() if p.slip]
    assert "as the slide says" in get_result("BAG-3").claim
    check = check_bag3_expected()
    assert (
        check.passed
        and (check.analytic >= 0).all()
        and check.analytic.max() > 0
    )


def test_the_expected_gap_is_the_formula_minus_v():
    for v, c, k in [(2.0, 0.6, 2), (2.0, -0.4, 5), (1.0, 1.0, 7)]:
        assert v - ensemble_mse(v, c, k) == pytest.approx(
            (k - 1) * (v - c) / k
        )


def test_bag1_bracket_rejects_plausible_mistakes_by_a_clear_margin():
    # The first edition's only planted error here compared one draw with the standard error of
    # 100,000 draws: rejection was automatic. The student's mistakes fail by a wide margin.
    for name in ("1/k for 1/k^2", "j = i kept in the inner sum"):
        assert check_bag1_bracket(planted=name).ratio > 10, name
    kinds = {p.name: p.category for p in get_result("BAG-1").planted_errors()}
    assert (
        kinds["1/k for 1/k^2"]
        == kinds["j = i kept in the inner sum"]
        == "student"
    )


def test_the_curve_check_includes_the_bullets_case_c_zero():
    # The bullet "decreases linearly" follows the c = 0 bullet; the first edition checked c/v = 1/4
    # only. Now the curve is checked at c = 0 too, where the error is v/k.
    check = check_bag1_curve()
    assert check.analytic.shape == (40,)
    np.testing.assert_allclose(
        check.analytic[20:], 1.0 / np.arange(1, 21), rtol=1e-12
    )
    np.testing.assert_allclose(
        check.analytic[:20], 0.25 + 0.75 / np.arange(1, 21), rtol=1e-12
    )


def test_every_planted_error_of_the_chapter_says_who_makes_it():
    for rid in ("BAG-1", "BAG-2", "BAG-3"):
        for p in get_result(rid).planted_errors():
            assert p.category in ("slide", "student", "library"), (
                rid,
                p.name,
                p.category,
            )


def test_linear_reading_passed_the_old_limits_only_check():
    # The old BAG-1 checked the formula at points (k, c/v) only; a straight line through the
    # error at k = 1 and k = 20 agrees with the formula at both ends, so only the curve in k
    # (every k from 1 to 20) can reject "decreases linearly".
    v, c = 1.0, 0.25
    ends = np.array([ensemble_mse(v, c, 1), ensemble_mse(v, c, 20)])
    line = ends[0] + (ends[1] - ends[0]) * np.array([0.0, 1.0])
    assert compare("BAG-1", ends, line, atol=1e-12).passed
    assert not check_bag1_curve(planted="decreases linearly with ensemble size").passed


def test_monte_carlo_tolerances_are_per_entry():
    # n = 10 has a much larger standard error than n = 4000: one tolerance for all would be
    # the largest of them.
    check = check_bag2_monte_carlo()
    assert check.passed and "its own standard error" in check.note


def test_bag4_is_an_experiment_of_the_chapter():
    result = get_result("BAG-4")
    assert result.kind == "experiment" and result.chapter == "bagging"
    assert result.expected == "increase" and result.unit == "points" and result.measures
    with pytest.raises(ValueError, match="BAG-4 is an experiment"):
        result.check()


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda f: f.__name__)
def test_unknown_planted_error_raises(checker):
    with pytest.raises(ValueError, match="no planted error 'nonsense'"):
        checker(planted="nonsense")
