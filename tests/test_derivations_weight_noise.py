"""WN-1 and WN-2 (the flatness measures of WN-3 are tested in test_curvature.py)."""
import pytest
import torch
from reglab.derivations import get_result
from reglab.derivations import weight_noise as wn
from torch import nn

UNSQUARED = "unsquared norm (the slide)"
ETA_AS_SD = "eta read as a standard deviation"
TRACE_DROPPED = "tr(Hess) term dropped"


def test_results_are_registered_in_the_chapter():
    for rid, kind in [("WN-1", "derivation"), ("WN-2", "derivation"), ("WN-3", "experiment")]:
        r = get_result(rid)
        assert r.kind == kind and r.chapter == "weight_noise"


def test_linear_checks_pass_and_the_unsquared_norm_is_rejected():
    wn.check_linear_exact().assert_passed()
    wn.check_linear_monte_carlo(num_draws=20000).assert_passed()
    assert not wn.check_linear_monte_carlo(num_draws=20000, planted=UNSQUARED).passed


def test_linear_penalty_does_not_depend_on_the_weights():
    X = torch.randn(6, 3, dtype=torch.float64)
    y = torch.randn(6, dtype=torch.float64)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    gap = wn.linear_weight_noise_risk(X, y, w, 0.3) - wn.linear_weight_noise_risk(X, y, w, 0.0)
    (grad,) = torch.autograd.grad(gap, w)
    assert grad.abs().max() < 1e-12


def test_first_order_check_passes_and_gradient_term_alone_is_rejected():
    check = wn.check_first_order(num_pairs=20000)
    check.assert_passed()
    model, X, y = wn.tiny_network()
    terms = wn.first_order_terms(model, X, y)
    assert abs(terms["grad_sq"] - float(check.empirical)) > 10 * check.tolerance


def test_first_order_terms_match_finite_differences():
    model, X, y = wn.tiny_network(seed=2)
    terms = wn.first_order_terms(model, X, y)
    # Second difference of the mean squared error along each coordinate gives 2 (g_i^2 + r H_ii):
    # summing over coordinates gives 2 * prediction.
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    h = 1e-4
    total = 0.0
    for i in range(theta.numel()):
        values = []
        for s in (-h, 0.0, h):
            t = theta.clone()
            t[i] += s
            torch.nn.utils.vector_to_parameters(t, model.parameters())
            with torch.no_grad():
                values.append((model(X).reshape(-1) - y).pow(2).mean().item())
        total += (values[0] - 2 * values[1] + values[2]) / h**2
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    assert total / 2 == pytest.approx(terms["prediction"], rel=1e-5)


def test_hutchinson_trace_is_unbiased_for_the_exact_trace():
    model, X, y = wn.tiny_network()
    exact = wn.first_order_terms(model, X, y)["trace"]
    estimate = wn.hutchinson_trace(model, X, num_probes=4000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(estimate, exact, atol=0.15, rtol=0.0)


def test_common_random_numbers_make_the_remainder_shrink_with_eta():
    model, X, y = wn.tiny_network()
    pred = wn.first_order_terms(model, X, y)["prediction"]
    big, _ = wn.excess_risk_monte_carlo(model, X, y, 0.01, num_pairs=20000)
    small, _ = wn.excess_risk_monte_carlo(model, X, y, 0.001, num_pairs=20000)
    tiny, se = wn.excess_risk_monte_carlo(model, X, y, 0.00001, num_pairs=20000)
    # Same draws: the difference between eta values is the remainder, which is O(eta) for small eta
    # (ten times smaller eta, about ten times smaller remainder).
    assert 5 * abs(small - tiny) < abs(big - tiny)
    assert abs(tiny - pred) < 4 * se


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: wn.linear_weight_noise_risk(torch.ones(2, 3, dtype=torch.float64), torch.ones(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64), -0.1), ValueError, r"eta must be in \[0, inf\)"),
        (lambda: wn.linear_weight_noise_risk(torch.ones(2, 3, dtype=torch.float64), torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), 0.1), ValueError, "w has 2 entries but X has 3 columns"),
        (lambda: wn.first_order_terms("net", torch.ones(2, 3), torch.ones(2)), TypeError, "model must be an nn.Module"),
        (lambda: wn.first_order_terms(nn.Linear(3, 1).double(), torch.ones(2, 3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)), ValueError, "X has 2 rows but y has 3"),
        (lambda: wn.excess_risk_monte_carlo(nn.Linear(3, 1).double(), torch.ones(2, 3, dtype=torch.float64), torch.ones(2, dtype=torch.float64), 0.0), ValueError, r"eta must be in \(0, inf\)"),
        (lambda: wn.hutchinson_trace(nn.Linear(3, 1).double(), torch.ones(2, 3, dtype=torch.float64), num_probes=0), ValueError, "num_probes must be an integer"),
        (lambda: wn.tiny_network(hidden=0), ValueError, "hidden must be an integer"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_every_check_and_planted_error_of_the_chapter():
    for rid in ("WN-1", "WN-2"):
        result = get_result(rid)
        assert len(result.parts) == 2
        for check in result.checks():
            check.assert_passed()
        for name in result.planted:
            assert not result.check(planted=name).passed, (rid, name)


def test_the_unsquared_norm_is_the_lecture_slip():
    slips = [p for p in get_result("WN-1").planted_errors() if p.slip]
    assert [p.name for p in slips] == [UNSQUARED]
    assert "||grad_W y^||]" in slips[0].slip and "^2" in slips[0].correct


def test_second_differences_reject_the_gradient_term_alone():
    # The sampling-free check tells the trace term apart as well.
    check = wn.check_first_order_differences()
    check.assert_passed()
    assert not wn.check_first_order_differences(planted=TRACE_DROPPED).passed


def test_monte_carlo_checks_use_compare_mc_with_the_mean_standard_error():
    check = wn.check_linear_monte_carlo(num_draws=20000)
    assert "own standard error" in check.note
    assert not wn.check_linear_monte_carlo(num_draws=20000, planted=ETA_AS_SD).passed


@pytest.mark.parametrize("check", [wn.check_linear_exact, wn.check_first_order_differences])
def test_an_unknown_planted_error_is_refused(check):
    with pytest.raises(ValueError, match="no planted error 'typo'"):
        check(planted="typo")


def test_every_planted_error_is_the_one_its_part_declares():
    # The wrong computations stand beside the right one under the declared names: each declared
    # name is accepted by its part's checker, and makes it fail.
    for rid in ("WN-1", "WN-2"):
        for part in get_result(rid).parts:
            for planted in part.planted:
                assert not part.run(rid, planted.name).passed, (rid, planted.name)


def test_every_planted_error_says_who_makes_it():
    kinds = {p.name: p.category for rid in ("WN-1", "WN-2") for p in get_result(rid).planted_errors()}
    assert kinds == {UNSQUARED: "slide", ETA_AS_SD: "student", TRACE_DROPPED: "student",
                     "trace term halved": "student"}


def test_wn3_claim_says_the_minima_are_compared_at_different_training_losses():
    # The noise-trained networks end at a higher training loss: "flatter" is measured after the
    # same budget, not at equal fit.
    claim = get_result("WN-3").claim
    assert "same training budget" in claim and "higher training loss" in claim
