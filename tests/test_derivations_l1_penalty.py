"""Tests of reglab.derivations.l1_penalty (L1-1 .. L1-5 and the solvers behind them)."""
import numpy as np
import pytest
import torch
from reglab import l1_step, soft_threshold
from reglab.derivations import l1_penalty as l1
from reglab.derivations import ledger
from sklearn.linear_model import Lasso

F64 = torch.float64


def test_l1_solution_examples_and_both_cases():
    w = l1.l1_solution(torch.tensor([2.0, -0.3, -3.0, 0.5]), torch.tensor([1.0, 1.0, 2.0, 1.0]), 0.5)
    torch.testing.assert_close(w, torch.tensor([1.5, 0.0, -2.75, 0.0]))
    assert (w[[1, 3]] == 0).all()  # |w*| <= alpha / h: exactly zero (boundary included)


def test_l1_solution_equals_soft_threshold_and_alpha_zero_is_identity():
    g = torch.Generator().manual_seed(0)
    w_star = torch.randn(20, generator=g, dtype=F64)
    h = torch.rand(20, generator=g, dtype=F64) + 0.1
    torch.testing.assert_close(l1.l1_solution(w_star, h, 0.7), soft_threshold(w_star, 0.7 / h))
    torch.testing.assert_close(l1.l1_solution(w_star, h, 0.0), w_star)


def test_l1_solution_matches_scikit_learn_lasso_on_an_orthogonal_design():
    g = torch.Generator().manual_seed(1)
    n, d = 60, 5
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=F64))
    X = (q * torch.tensor([4.0, 3.0, 2.0, 1.0, 0.5], dtype=F64)).numpy()
    y = X @ np.array([1.0, -0.5, 0.05, 0.0, 2.0]) + 0.1 * np.random.default_rng(0).standard_normal(n)
    alpha = 0.01
    # scikit-learn minimises ||y - Xw||^2 / (2n) + alpha ||w||_1, i.e. H = X^T X / n.
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, y).coef_
    h = (X * X).sum(0) / n
    w_star = (X.T @ y) / (n * h)
    ours = l1.l1_solution(torch.as_tensor(w_star), torch.as_tensor(h), alpha).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    assert np.count_nonzero(ours == 0) == np.count_nonzero(ref == 0) > 0


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((torch.ones(3), torch.ones(2), 0.1), ValueError, "h_diag must have the shape"),
        ((torch.ones(3), torch.tensor([1.0, 0.0, 1.0]), 0.1), ValueError, "h_diag must have entries > 0"),
        ((torch.ones(3), torch.ones(3), -0.1), ValueError, r"alpha must be in \[0, inf\)"),
        ((torch.ones(3), torch.ones(3), float("nan")), ValueError, "alpha"),
        ((torch.ones(3, dtype=torch.long), torch.ones(3), 0.1), TypeError, "w_star must be a floating-point"),
        ((torch.ones(3), torch.ones(3), "0.1"), TypeError, "alpha must be a real number"),
        ((torch.ones(2, 2), torch.ones(2, 2), 0.1), ValueError, "w_star must have 1 dimensions"),
        (([1.0, 2.0], torch.ones(2), 0.1), TypeError, "w_star must be a torch.Tensor"),
        ((torch.tensor([1.0, float("inf")]), torch.ones(2), 0.1), ValueError, "finite"),
    ],
)
def test_l1_solution_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        l1.l1_solution(*args)


def _general_problem(n=5, seed=3):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(2 * n, n, generator=g, dtype=F64)
    return A.T @ A / (2 * n), torch.randn(n, generator=g, dtype=F64) * 1.5


def test_brute_force_matches_scikit_learn_for_a_non_diagonal_hessian():
    H, w_star = _general_problem()
    # J = 1/2 (w - w*)^T H (w - w*) is least squares with X = chol(H)^T, y = X w*, n_samples = 1 row scaling.
    L = torch.linalg.cholesky(H)
    X, y = L.T.numpy(), (L.T @ w_star).numpy()
    n = X.shape[0]
    alpha = 0.4
    ref = Lasso(alpha=alpha / n, fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, y).coef_
    np.testing.assert_allclose(l1.brute_force_l1(H, w_star, alpha).numpy(), ref, atol=1e-8)


def test_soft_threshold_formula_is_wrong_for_a_non_diagonal_hessian():
    H, w_star = _general_problem()
    exact = l1.brute_force_l1(H, w_star, 0.4)
    naive = l1.l1_solution(w_star, torch.diagonal(H).clone(), 0.4)
    assert (exact - naive).abs().max() > 0.05


def test_proximal_gradient_converges_to_the_exact_minimiser_for_any_hessian():
    H, w_star = _general_problem()
    path = l1.proximal_gradient(H, w_star, 0.4, steps=3000)
    assert path.shape == (3001, 5)
    torch.testing.assert_close(path[-1], l1.brute_force_l1(H, w_star, 0.4), atol=1e-10, rtol=0)


def test_subgradient_descent_never_lands_on_zero_and_proximal_does():
    h = torch.tensor([1.0, 2.0], dtype=F64)
    w_star = torch.tensor([0.1, 1.0], dtype=F64)  # first coordinate belongs at zero for alpha = 0.5
    sub = l1.subgradient_descent(torch.diag(h), w_star, 0.5, steps=500, lr=0.01, w0=w_star)
    prox = l1.proximal_gradient(torch.diag(h), w_star, 0.5, steps=500, lr=0.01, w0=w_star)
    assert not (sub[1:, 0] == 0).any()
    assert sub[-50:, 0].abs().max() <= 0.01 * (0.5 + 1.0 * 0.1) + 1e-15  # largest excursion eps(alpha + h|w*|)
    assert prox[-1, 0] == 0.0 and (prox[-100:, 0] == 0).all()


def test_solver_bad_input():
    H, w_star = _general_problem()
    with pytest.raises(ValueError, match="positive definite"):
        l1.proximal_gradient(-H, w_star, 0.1, steps=3)
    with pytest.raises(ValueError, match="symmetric"):
        l1.brute_force_l1(H + torch.triu(torch.ones_like(H), 1), w_star, 0.1)
    with pytest.raises(ValueError, match="n must be <= 10"):
        l1.brute_force_l1(torch.eye(11, dtype=F64), torch.ones(11, dtype=F64), 0.1)
    with pytest.raises(ValueError, match="w0 must have the shape"):
        l1.subgradient_descent(H, w_star, 0.1, steps=3, lr=0.1, w0=torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="lr"):
        l1.subgradient_descent(H, w_star, 0.1, steps=3, lr=0.0)
    with pytest.raises(TypeError, match="steps"):
        l1.proximal_gradient(H, w_star, 0.1, steps=2.0)
    with pytest.raises(ValueError, match="H must have shape"):
        l1.proximal_gradient(H[:2, :2], w_star, 0.1, steps=2)


def test_symbolic_minimiser_is_the_soft_threshold():
    import sympy as sp

    sym = l1.symbolic_l1_minimiser()
    w, ws, h, a = sym["symbols"]
    assert isinstance(sym["minimiser"], sp.Piecewise)
    for wv, hv, av in [(2, 1, 1), (-3, 2, 1), (sp.Rational(1, 3), 1, 1), (-sp.Rational(1, 5), 4, 1)]:
        value = sym["minimiser"].subs({ws: wv, h: hv, a: av})
        expected = sp.sign(wv) * sp.Max(sp.Abs(wv) - sp.Rational(av) / hv, 0)
        assert sp.simplify(value - expected) == 0


def test_sympy_solution_agrees_on_random_inputs():
    g = torch.Generator().manual_seed(5)
    w_star = torch.randn(5, generator=g, dtype=F64)
    h = torch.rand(5, generator=g, dtype=F64) + 0.2
    exact = l1.sympy_l1_solution(w_star.tolist(), h.tolist(), 0.3)
    np.testing.assert_allclose([float(v) for v in exact], l1.l1_solution(w_star, h, 0.3).numpy(), atol=1e-14)
    with pytest.raises(ValueError, match="same length"):
        l1.sympy_l1_solution([1.0], [1.0, 2.0], 0.3)
    with pytest.raises(ValueError, match="h_diag"):
        l1.sympy_l1_solution([1.0], [0.0], 0.3)


def test_map_alpha_values_and_bad_input():
    assert l1.map_alpha("gaussian", 0.5) == pytest.approx(4.0)
    assert l1.map_alpha("laplace", 0.5) == pytest.approx(2.0)
    assert l1.map_alpha("laplace", 0.5, noise_std=2.0) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="prior must be one of"):
        l1.map_alpha("cauchy", 1.0)
    with pytest.raises(ValueError, match="scale"):
        l1.map_alpha("gaussian", 0.0)
    with pytest.raises(ValueError, match="noise_std"):
        l1.map_alpha("gaussian", 1.0, noise_std=-1.0)


@pytest.mark.parametrize(
    "check",
    [
        l1.check_l1_1,
        l1.check_l1_2,
        l1.check_l1_2_ista,
        l1.check_l1_2_sympy,
        l1.check_l1_3,
        l1.check_l1_4,
        l1.check_l1_4_band,
        l1.check_l1_4_band_image,
        l1.check_l1_4_sign_changes,
        l1.check_l1_4_l2,
        l1.check_l1_5,
    ],
)
def test_checks_pass(check):
    result = check()
    assert result.passed, str(result)


def test_l1_2_registers_brute_force_ista_and_sympy():
    result = ledger_result("L1-2")
    assert [p.label for p in result.parts] == ["brute force", "ISTA", "SymPy"]
    assert "alpha*H_ii for alpha/H_ii" in result.planted
    assert not result.check(planted="alpha*H_ii for alpha/H_ii").passed


def test_l1_4_fails_without_the_penalty_which_the_old_count_of_zeros_did_not():
    result = ledger_result("L1-4")
    assert [p.label for p in result.parts] == [
        "proximal: exact zeros",
        "subgradient: band",
        "subgradient: the band is its own image",
        "subgradient: sign changes",
        "L2: no zeros",
    ]
    # The first edition counted exact zeros only: with the penalty removed from l1_step and
    # weight_decay_step the counts (0 and 0) did not change. Now each removal fails.
    for name in ("penalty removed from the update", "decay removed from weight_decay_step",
                 "threshold removed from the proximal step"):
        assert not result.check(planted=name).passed, name


def test_a_wrong_penalty_weight_passes_containment_but_not_the_band_image():
    # The first edition's band check tested containment only: the lecture's update with the
    # penalty weight halved stays in a narrower band inside the true one, and passed.
    w_star, h, alpha = l1._diag_problem()
    zero = w_star.abs() <= alpha / h
    band = l1.subgradient_band(w_star, h, alpha, l1.L1_4_LR)
    late = l1._l1_4_path(l1._subgradient(alpha / 2))[-l1.L1_4_LATE :, zero]
    inside = (
        (late - band["centre"][zero]).abs() <= band["half_width"][zero]
    ).all()
    assert bool(inside)  # what containment alone accepted
    check = l1.check_l1_4_band_image(
        planted="penalty weight alpha/2 in the update"
    )
    assert (
        not check.passed and check.ratio > 1000
    )  # rejected by a clear margin
    # and the student's "band centred at 0", which containment rejected by a ratio of only 1.2
    assert l1.check_l1_4_band_image(planted="band centred at 0").ratio > 1000


def test_the_band_image_check_passes_with_the_points_beside_zero():
    check = l1.check_l1_4_band_image()
    assert check.passed and not check.rounding
    # the images of -+1e-6 lie (1 - eps H) * 1e-6 inside the edges
    assert check.error == pytest.approx(
        (1 - l1.L1_4_LR * 0.5) * 1e-6, rel=1e-6
    )


def test_controls_are_kept_but_each_part_rejects_a_plausible_mistake():
    for rid in ("L1-1", "L1-2", "L1-3", "L1-4", "L1-5"):
        for part in ledger_result(rid).parts:
            kinds = {p.name: p.category for p in part.planted}
            assert set(kinds.values()) <= {
                "student",
                "library",
                "control",
                "slide",
            }, (rid, kinds)
            assert set(kinds.values()) - {"control"}, (rid, part.label)
    controls = {
        p.name
        for rid in ("L1-1", "L1-4")
        for p in ledger_result(rid).planted_errors()
        if p.category == "control"
    }
    assert controls == {
        "penalty's gradient left out",
        "threshold removed from the proximal step",
        "penalty removed from the update",
        "decay removed from weight_decay_step",
    }


def test_l1_1_is_not_an_erratum():
    # The slide's "grad J~(w) = H(w - w*)" is the gradient of the quadratic approximation of the
    # unregularised J (Goodfellow et al. write J-hat), as the slide's next bullet says: no slip.
    assert not [p for p in ledger_result("L1-1").planted_errors() if p.slip]
    assert not l1.check_l1_1(planted="alpha/2 sign(w)").passed


def test_subgradient_band_is_invariant_and_has_width_two_eps_alpha():
    h = torch.tensor([0.5, 1.0], dtype=F64)
    w_star = torch.tensor([0.2, -0.05], dtype=F64)
    band = l1.subgradient_band(w_star, h, 0.5, 0.05)
    torch.testing.assert_close(2 * band["half_width"], torch.full((2,), 2 * 0.05 * 0.5, dtype=F64))
    lo, hi = band["centre"] - band["half_width"], band["centre"] + band["half_width"]
    v = torch.linspace(0, 1, 2001, dtype=F64)[:, None] * (hi - lo) + lo  # the whole band
    after = torch.stack([l1_step(row, h * (row - w_star), lr=0.05, alpha=0.5) for row in v])
    assert bool(((after >= lo - 1e-15) & (after <= hi + 1e-15)).all())
    assert band["max_run"].tolist() == [2.0, 2.0]


def test_ledger_lists_every_result_of_the_chapter():
    results = {r.id: r for r in ledger() if r.chapter == "l1_penalty"}
    assert sorted(results) == ["L1-1", "L1-2", "L1-3", "L1-4", "L1-5", "L1-6"]
    assert results["L1-6"].kind == "experiment" and results["L1-6"].expected == "increase"
    assert all(results[i].kind == "derivation" for i in ["L1-1", "L1-2", "L1-3", "L1-4", "L1-5"])


def ledger_result(rid):
    from reglab.derivations import get_result

    return get_result(rid)


@pytest.mark.parametrize(
    "check",
    [
        l1.check_l1_1,
        l1.check_l1_2_ista,
        l1.check_l1_4,
        l1.check_l1_4_band,
        l1.check_l1_4_band_image,
        l1.check_l1_5,
    ],
)
def test_unknown_planted_error_raises(check):
    with pytest.raises(ValueError, match="no planted error 'nonsense'"):
        check(planted="nonsense")
