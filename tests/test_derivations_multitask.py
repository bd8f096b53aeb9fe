"""Tests of reglab.derivations.multitask: MT-2 soft sharing, and the registered experiments."""
import pytest
import torch
from reglab.derivations import get_result, ledger
from reglab.derivations.multitask import (
    check_soft_sharing_closed_form,
    check_soft_sharing_large_lambda,
    check_soft_sharing_small_lambda,
    pooled_fit,
    separate_fits,
    soft_sharing_solution,
    solve_soft_sharing_iteratively,
    two_related_regressions,
)

D = torch.float64


def test_results_registered_in_the_ledger():
    ids = {r.id: r for r in ledger() if r.chapter == "multitask"}
    assert set(ids) == {"MT-1", "MT-2", "MT-3"}
    assert ids["MT-2"].kind == "derivation"
    for rid in ("MT-1", "MT-3"):
        assert ids[rid].kind == "experiment" and ids[rid].expected == "increase" and ids[rid].measures


def test_mt2_check_passes_from_the_ledger():
    check = get_result("MT-2").check()
    assert check.passed, str(check)


def test_both_limits_are_registered_checks_of_mt2():
    # The limits used to run only in the chapter: the ledger now runs them too.
    labels = [part.label for part in get_result("MT-2").parts]
    assert labels == ["block system vs conjugate gradients", "limit lam -> 0: separate fits",
                      "limit lam -> inf: pooled fit"]
    for check in get_result("MT-2").checks():
        assert check.passed, str(check)


@pytest.mark.parametrize("planted", ["average of separate fits", "limits swapped (lam -> 0)",
                                     "limits swapped (lam -> inf)", "penalty gradient without 2",
                                     "penalty on one model only"])
def test_planted_errors_of_mt2_are_rejected(planted):
    # "average of separate fits" passed before the limits were registered: nothing checked them.
    assert not get_result("MT-2").check(planted=planted).passed


def test_limit_checks_compare_against_lstsq():
    small, large = check_soft_sharing_small_lambda(), check_soft_sharing_large_lambda()
    assert small.passed and large.passed
    assert small.error < 1e-6 and large.error < 1e-6


def test_soft_sharing_solution_matches_scipy_minimize():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    (XA, yA, XB, yB), _ = two_related_regressions(9, dim=3, seed=4)
    lam = 2.5

    def f(theta):
        wa, wb = theta[:3], theta[3:]
        return ((yA.numpy() - XA.numpy() @ wa) ** 2).sum() + ((yB.numpy() - XB.numpy() @ wb) ** 2).sum() + lam * ((wa - wb) ** 2).sum()

    res = scipy_optimize.minimize(f, torch.zeros(6, dtype=D).numpy(), method="BFGS", options={"gtol": 1e-10})
    wa, wb = soft_sharing_solution(XA, yA, XB, yB, lam)
    torch.testing.assert_close(torch.cat([wa, wb]), torch.as_tensor(res.x), rtol=0, atol=1e-6)


def test_first_order_conditions_hold():
    (XA, yA, XB, yB), _ = two_related_regressions(7, dim=4, seed=1)
    lam = 0.7
    wa, wb = soft_sharing_solution(XA, yA, XB, yB, lam)
    torch.testing.assert_close(XA.T @ (XA @ wa - yA) + lam * (wa - wb), torch.zeros(4, dtype=D), rtol=0, atol=1e-10)
    torch.testing.assert_close(XB.T @ (XB @ wb - yB) - lam * (wa - wb), torch.zeros(4, dtype=D), rtol=0, atol=1e-10)


def test_gap_between_models_shrinks_like_one_over_lambda():
    problem, _ = two_related_regressions(10, dim=3, seed=2)
    gaps = [torch.linalg.norm(torch.sub(*soft_sharing_solution(*problem, lam))).item() for lam in (1e3, 1e4)]
    assert gaps[1] == pytest.approx(gaps[0] / 10, rel=0.02)


def test_iterative_solver_agrees_at_zero_penalty_with_separate_fits():
    problem, _ = two_related_regressions(10, dim=3, seed=3)
    torch.testing.assert_close(torch.cat(solve_soft_sharing_iteratively(*problem, 0.0)), torch.cat(separate_fits(*problem)), rtol=0, atol=1e-9)
    assert pooled_fit(*problem).shape == (3,)


def test_invalid_arguments_rejected():
    (XA, yA, XB, yB), _ = two_related_regressions(5, dim=2)
    with pytest.raises(ValueError, match=r"lam must be in \[0, inf\), but got -1.0"):
        soft_sharing_solution(XA, yA, XB, yB, -1.0)
    with pytest.raises(ValueError, match="same number of features"):
        soft_sharing_solution(XA, yA, XB[:, :1], yB, 1.0)
    with pytest.raises(ValueError, match="XA has 5 rows but yA has 4"):
        separate_fits(XA, yA[:4], XB, yB)
    with pytest.raises(TypeError, match="XA must be a torch.Tensor"):
        pooled_fit(XA.numpy(), yA, XB, yB)
    with pytest.raises(ValueError, match="small"):
        check_soft_sharing_small_lambda(small=0.0)
    with pytest.raises(ValueError, match="large"):
        check_soft_sharing_large_lambda(large=-1.0)


def test_closed_form_check_is_fast_and_exact():
    check = check_soft_sharing_closed_form()
    assert check.passed and check.error < 1e-10


@pytest.mark.parametrize("checker", [check_soft_sharing_closed_form, check_soft_sharing_small_lambda,
                                     check_soft_sharing_large_lambda])
def test_unknown_planted_error_raises(checker):
    # A misspelt planted error must not run the right computation and pass.
    with pytest.raises(ValueError, match="no planted error 'penalty gradient without two'"):
        checker(planted="penalty gradient without two")


def test_every_planted_error_of_mt2_is_a_students_mistake():
    kinds = [p.category for p in get_result("MT-2").planted_errors()]
    assert len(kinds) == 5 and set(kinds) == {"student"}


def test_mt3_claim_gives_no_size_of_the_gain_that_its_interval_does_not_support():
    # Measured: +0.79 points, 95 % interval [+0.015, +1.57]: "about a point" overstated it.
    claim = get_result("MT-3").claim
    assert "about a point" not in claim and "on average over 10 to 160" in claim
