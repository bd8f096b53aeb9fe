"""Tests of reglab.derivations.early_stopping (ES-1, ES-2 and the closed forms behind them)."""
import numpy as np
import pytest
import torch
from reglab.data import quadratic_problem
from reglab.derivations import early_stopping as es
from reglab.derivations import get_result, ledger


def _problem(dim=4, seed=0):
    eig = torch.tensor([3.0, 1.0, 0.2, 0.01], dtype=torch.float64)[:dim]
    return quadratic_problem(dim, eigenvalues=eig, seed=seed)


def test_equivalent_alpha_is_inverse_of_steps_times_lr():
    assert es.equivalent_alpha(0.1, 50) == pytest.approx(0.2)
    assert es.equivalent_alpha(0.01, 1) == pytest.approx(100.0)


@pytest.mark.parametrize("lr, steps, error", [(0.0, 10, ValueError), (-0.1, 10, ValueError), (float("nan"), 10, ValueError),
                                              (0.1, 0, ValueError), (0.1, 2.5, TypeError), ("0.1", 10, TypeError)])
def test_equivalent_alpha_bad_input(lr, steps, error):
    with pytest.raises(error, match="lr|steps"):
        es.equivalent_alpha(lr, steps)


def test_gd_trajectory_matches_an_explicit_loop_in_numpy():
    H, w_star, _, _ = _problem()
    lr, steps = 0.3, 25
    path = es.gd_trajectory(H, w_star, lr, steps)
    assert path.shape == (steps + 1, 4)
    Hn, wn, w = H.numpy(), w_star.numpy(), np.zeros(4)
    for t in range(steps + 1):
        np.testing.assert_allclose(path[t].numpy(), w, atol=1e-13)
        w = w - lr * Hn @ (w - wn)


def test_gd_trajectory_starts_at_zero_and_converges_to_w_star():
    H, w_star, _, _ = _problem(dim=3)
    path = es.gd_trajectory(H, w_star, 0.5, 2000)
    assert torch.equal(path[0], torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(path[-1], w_star, atol=1e-10, rtol=0)


def test_gd_trajectory_is_exact_even_for_a_diverging_step():
    H, w_star, _, _ = _problem(dim=2)
    path = es.gd_trajectory(H, w_star, 0.8, 5)  # 0.8 * 3 > 2: diverges, formula still exact
    w = torch.zeros(2, dtype=torch.float64)
    for _ in range(5):
        w = w - 0.8 * H @ (w - w_star)
    torch.testing.assert_close(path[-1], w, atol=1e-12, rtol=1e-12)


def test_gd_trajectory_bad_input():
    H, w_star, _, _ = _problem()
    with pytest.raises(ValueError, match="H must have shape"):
        es.gd_trajectory(H[:3, :3], w_star, 0.1, 3)
    with pytest.raises(ValueError, match="symmetric"):
        es.gd_trajectory(H + torch.triu(torch.ones_like(H), 1), w_star, 0.1, 3)
    with pytest.raises(TypeError, match="same dtype"):
        es.gd_trajectory(H.float(), w_star, 0.1, 3)
    with pytest.raises(ValueError, match="finite"):
        es.gd_trajectory(H, w_star * float("nan"), 0.1, 3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        es.gd_trajectory(H.numpy(), w_star, 0.1, 3)
    with pytest.raises(ValueError, match="steps"):
        es.gd_trajectory(H, w_star, 0.1, -1)
    with pytest.raises(ValueError, match="lr"):
        es.gd_trajectory(H, w_star, 0.0, 3)


def test_shrink_factors_values_and_limits():
    lam = torch.tensor([2.0, 0.5, 1e-4], dtype=torch.float64)
    torch.testing.assert_close(es.gd_shrink_factors(lam, 0.25, 2), 1 - (1 - 0.25 * lam) ** 2)
    torch.testing.assert_close(es.gd_shrink_factors(lam, 0.25, 0), torch.zeros(3, dtype=torch.float64))


def test_shrink_factor_bad_input():
    with pytest.raises(ValueError, match="lr"):
        es.gd_shrink_factors(torch.ones(2), -0.1, 3)
    with pytest.raises(ValueError, match="steps"):
        es.gd_shrink_factors(torch.ones(2), 0.1, -3)
    with pytest.raises(ValueError, match="eigvals must have 1 dimensions"):
        es.gd_shrink_factors(torch.ones(2, 2), 0.1, 3)
    with pytest.raises(TypeError, match="floating-point"):
        es.gd_shrink_factors(torch.ones(2, dtype=torch.long), 0.1, 3)


def test_l2_side_comes_from_the_weight_decay_chapter():
    from reglab.derivations import weight_decay

    assert es.l2_solution is weight_decay.l2_solution and es.shrink_factors is weight_decay.shrink_factors
    H, w_star, _, lam = _problem()
    w = es.l2_solution(H, w_star, 0.3)
    np.testing.assert_allclose(w.numpy(), np.linalg.solve(H.numpy() + 0.3 * np.eye(4), H.numpy() @ w_star.numpy()), atol=1e-13)
    np.testing.assert_allclose(es.shrink_factor_table(lam, 0.01, 30)["l2"], (lam / (lam + 1 / 0.3)).numpy(), rtol=1e-14)


def test_table_difference_is_within_the_proven_bound():
    g = torch.Generator().manual_seed(4)
    for _ in range(20):
        lam = torch.rand(8, generator=g, dtype=torch.float64) * 5 + 1e-3
        lr = float(torch.rand(1, generator=g)) / 5.0  # eps * lambda <= 1
        steps = int(torch.randint(1, 400, (1,), generator=g))
        table = es.shrink_factor_table(lam, lr, steps)
        assert np.all(np.abs(table["difference"]) <= table["bound"] + 1e-15)
        np.testing.assert_allclose(table["x"], lam.numpy() / es.equivalent_alpha(lr, steps))


def test_table_agreement_improves_as_eps_lambda_shrinks():
    lam = torch.tensor([1.0], dtype=torch.float64)
    gaps = [abs(es.shrink_factor_table(lam * s, 0.01, 10)["difference"][0]) for s in (1.0, 0.1, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2]


def test_scripted_stopping_definition():
    assert es.scripted_stopping([3.0, 2.0, 2.5, 2.1, 1.0], 2) == (3, 1)
    assert es.scripted_stopping([3.0, 2.0, 1.0], 1) == (2, 2)  # never stops: last index
    assert es.scripted_stopping([1.0], 5) == (0, 0)
    with pytest.raises(ValueError, match="non-empty"):
        es.scripted_stopping([], 2)
    with pytest.raises(ValueError, match="patience"):
        es.scripted_stopping([1.0, 2.0], 0)


@pytest.mark.parametrize("check", [es.check_es1, es.check_es2, es.check_es2_l2_agreement, es.check_es2_needs_small_x])
def test_checks_pass(check):
    result = check()
    assert result.id in ("ES-1", "ES-2")
    assert result.passed, str(result)


def test_es2_l2_half_is_registered_and_rejects_a_zero_factor():
    from reglab.derivations import get_result

    result = get_result("ES-2")
    assert [p.label for p in result.parts] == ["trajectory", "L2 approximation", "fails where tau*eps*lambda is large"]
    # The first edition allowed one scalar atol (the largest bound) for all three factors, so it
    # passed with the smallest GD factor set to 0; per-direction bounds reject it.
    for name in ("smallest factor set to 0", "alpha = tau*eps", "exponent tau-1 in the factor", "exponent tau-1 for tau"):
        assert not result.check(planted=name).passed, name


def test_es2_agreement_needs_tau_eps_lambda_small_not_eps_lambda():
    lam = torch.tensor([0.3], dtype=torch.float64)
    table = es.shrink_factor_table(lam, 0.01, 1000)  # eps*lambda = 0.003 but tau*eps*lambda = 3
    assert table["eps_lambda"][0] < 0.01 and abs(table["difference"][0]) > 0.19


def test_es2_asserts_the_failure_where_tau_eps_lambda_is_large():
    # The claim "needs tau*eps*lambda small, not only eps*lambda" used to be shown in a table only;
    # now a one-sided check asserts it, and a plausible misreading of GD's share fails it.
    check = es.check_es2_needs_small_x()
    assert check.kind == "bound" and check.passed == check.decided and check.passed
    assert float(check.empirical.min()) > es.ES2_FAIL_MARGIN
    assert "eps lambda = 0.04" in check.note and "tau eps lambda = 2" in check.note
    assert not es.check_es2_needs_small_x(planted="share left for share learned").passed
    assert "not only eps*lambda_i" in get_result("ES-2").claim and "more than 0.1" in get_result("ES-2").claim


def test_every_planted_error_of_the_chapter_says_who_makes_it():
    for rid in ("ES-1", "ES-2"):
        for p in get_result(rid).planted_errors():
            assert p.category in ("slide", "student", "library", "control"), (rid, p.name)


def test_es1_rejects_the_last_parameters_and_an_off_by_one_patience():
    from reglab.derivations import get_result

    result = get_result("ES-1")
    for name in ("last parameters returned", "patience off by one"):
        assert not result.check(planted=name).passed, name


def test_es1_real_model_overfits_and_stops_early():
    _, _, info = es._es1_real()
    losses = info["val_loss"]
    assert info["stopped_at"] < 399  # stopped well before the last epoch
    assert min(losses) < losses[0] and losses[-1] > min(losses)  # down, then up


def test_ledger_lists_every_result_of_the_chapter():
    results = {r.id: r for r in ledger() if r.chapter == "early_stopping"}
    assert sorted(results) == ["ES-1", "ES-2", "ES-3"]
    assert results["ES-3"].kind == "experiment" and results["ES-3"].expected == "increase"
    assert results["ES-1"].check().passed and results["ES-2"].check().passed


@pytest.mark.parametrize("check", [es.check_es1, es.check_es2, es.check_es2_l2_agreement, es.check_es2_needs_small_x])
def test_unknown_planted_error_raises(check):
    with pytest.raises(ValueError, match="no planted error 'nonsense'"):
        check(planted="nonsense")
