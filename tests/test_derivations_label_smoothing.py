"""LS-1..LS-3: smoothed targets, the relation to PyTorch, finite optimal logits."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab.derivations import get_result
from reglab.derivations import label_smoothing as ls
from reglab.noise import smooth_labels, smoothed_cross_entropy

# The old LS-1 tolerance: this many standard errors (99.9 %), at the largest variance, for every entry.
ls_Z_999 = 3.2905


def test_results_are_registered_in_the_chapter():
    for rid in ("LS-1", "LS-2", "LS-3"):
        assert get_result(rid).kind == "derivation" and get_result(rid).chapter == "label_smoothing"
    assert get_result("LS-4").kind == "experiment"


def test_all_checks_pass():
    ls.check_targets(num_draws=100000).assert_passed()
    ls.check_pytorch_relation().assert_passed()
    ls.check_finite_logits(epsilons=(0.05, 0.2)).assert_passed()


@pytest.mark.parametrize("k", [2, 5, 10])
def test_pytorch_target_equals_ours_with_the_converted_value(k):
    eps = 0.4 * (k - 1) / k
    e = ls.pytorch_label_smoothing(eps, k)
    labels = torch.arange(k)
    theirs = (1 - e) * F.one_hot(labels, k).double() + e / k
    torch.testing.assert_close(theirs, smooth_labels(labels, k, eps))


def test_pytorch_relation_fails_without_the_conversion():
    logits = torch.randn(20, 10, dtype=torch.float64)
    labels = torch.randint(0, 10, (20,))
    ours = smoothed_cross_entropy(logits, labels, 0.2)
    assert not torch.allclose(ours, F.cross_entropy(logits, labels, label_smoothing=0.2))


def test_largest_eps_is_the_uniform_target():
    k = 4
    assert ls.pytorch_label_smoothing((k - 1) / k, k) == pytest.approx(1.0)
    torch.testing.assert_close(smooth_labels(torch.tensor([2]), k, (k - 1) / k), torch.full((1, k), 0.25, dtype=torch.float64))


def test_newton_minimiser_has_zero_gradient_and_the_closed_form_gap():
    z = ls.minimise_logits(0.15, 6, label=3).requires_grad_(True)
    loss = smoothed_cross_entropy(z.unsqueeze(0), torch.tensor([3]), 0.15)
    (grad,) = torch.autograd.grad(loss, z)
    assert grad.abs().max() < 1e-12
    others = torch.cat([z[:3], z[4:]]).detach()
    torch.testing.assert_close(z[3].detach() - others, torch.full((5,), ls.optimal_logit_gap(0.15, 6), dtype=torch.float64))


def test_gap_path_converges_with_smoothing_and_keeps_growing_without():
    path = ls.logit_gap_path([0.0, 0.2], 10, steps=1000)
    assert path.shape == (2, 1001)
    assert path[1, -1] == pytest.approx(ls.optimal_logit_gap(0.2, 10), abs=1e-9)
    # Without smoothing every tenfold increase of the steps adds about log(10) to the gap.
    growth = path[0, 1000] - path[0, 100]
    assert growth == pytest.approx(math.log(10), rel=0.05)
    assert np.all(np.diff(path[0]) > 0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ls.pytorch_label_smoothing(0.95, 10), ValueError, r"eps must be <= \(k-1\)/k = 0.9"),
        (lambda: ls.pytorch_label_smoothing(1.0, 10), ValueError, r"eps must be in \[0, 1\), but got 1.0"),
        (lambda: ls.pytorch_label_smoothing(0.1, 1), ValueError, "num_classes must be an integer"),
        (lambda: ls.optimal_logit_gap(0.0, 10), ValueError, "the optimal gap is infinite"),
        (lambda: ls.optimal_logit_gap(-0.1, 10), ValueError, r"eps must be in \[0, 1\)"),
        (lambda: ls.minimise_logits(0.1, 3, label=3), ValueError, r"label must be an integer in \[0, 2\]"),
        (lambda: ls.logit_gap_path([], 10), ValueError, "at least one value"),
        (lambda: ls.logit_gap_path(0.1, 10, lr=0.0), ValueError, r"lr must be in \(0, inf\)"),
        (lambda: ls.check_targets(num_draws=1), ValueError, "num_draws must be an integer"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_each_frequency_has_its_own_standard_error():
    # With the largest binomial standard error applied to every entry (the old check), PyTorch's
    # eps/k on the wrong classes passed: its difference, eps/(k-1) - eps/k, is below that
    # tolerance. Each entry's own standard error rejects it.
    from reglab.derivations.compare import bonferroni_z

    eps, k, draws = 0.1, 10, 400000
    old_tolerance = ls_Z_999 * math.sqrt(max(q * (1 - q) for q in (1 - eps, eps / (k - 1))) / draws)
    assert eps / (k - 1) - eps / k < old_tolerance
    check = ls.check_targets(planted="eps/k for eps/(k-1) on the wrong classes")
    assert not check.passed
    assert check.tolerance < eps / (k - 1) - eps / k
    assert check.tolerance == pytest.approx(bonferroni_z(k, 0.999) * math.sqrt(eps / (k - 1) * (1 - eps / (k - 1)) / draws), rel=0.05)


def test_every_check_and_planted_error_of_the_chapter():
    for rid in ("LS-1", "LS-2", "LS-3"):
        result = get_result(rid)
        assert len(result.parts) == 2
        for check in result.checks():
            check.assert_passed()
        for name in result.planted:
            assert not result.check(planted=name).passed, (rid, name)


def test_the_slides_eight_entry_vector_is_a_lecture_slip_and_is_rejected():
    slips = [p for p in get_result("LS-1").planted_errors() if p.slip]
    assert [p.name for p in slips] == ["the slide's 8-entry vector"]
    assert "Smooth Labels" in slips[0].slip and "[0 0 0 0 0 1 0 0]" in slips[0].slip
    check = ls.check_lecture_example(planted="the slide's 8-entry vector")
    assert not check.passed


def test_the_slides_vector_is_rejected_on_its_values_not_its_length():
    # It used to be rejected by its length alone (8 entries against 10). Completed to ten entries,
    # it still fails: 1 - eps stands at index 5 and the digit 6 gets eps/9; the sums agree.
    check = ls.check_lecture_example(planted="the slide's 8-entry vector")
    assert check.analytic.shape == check.empirical.shape == (11,)
    diff = abs(check.analytic - check.empirical)
    assert diff[5] > 0.8 and diff[6] > 0.8 and diff[-1] < 1e-12
    assert check.error == pytest.approx(diff.max())


def test_unsmoothed_gap_grows_like_log_t():
    check = ls.check_unbounded_gap()
    check.assert_passed()
    assert not ls.check_unbounded_gap(planted="the gap settles at eps = 0").passed


def test_the_unbounded_gap_rejects_a_plausible_mistake_not_only_its_control():
    # The old planted error set the rise to 0; forgetting that the wrong logits fall too (a rise of
    # lr (k-1) per step instead of lr k) is off by a tenth, 50 times the tolerance of 0.2 %.
    kinds = {p.name: p.kind for p in get_result("LS-3").planted_errors()}
    assert kinds["the gap settles at eps = 0"] == "control" and kinds["only the true logit moves"] == "student"
    check = ls.check_unbounded_gap(planted="only the true logit moves")
    assert not check.passed and check.error > 40 * check.tolerance


def test_every_planted_error_of_the_chapter_says_who_makes_it():
    for rid in ("LS-1", "LS-2", "LS-3"):
        for p in get_result(rid).planted_errors():
            assert p.category in ("slide", "student", "library", "control"), (rid, p.name)


def test_an_unknown_planted_error_is_refused():
    with pytest.raises(ValueError, match="no planted error"):
        ls.check_pytorch_relation(planted="conversion inverted: e = eps (k-1)/k")  # the other part's mistake
    with pytest.raises(ValueError, match="no planted error 'eps'"):
        ls.check_targets(planted="eps")


def test_the_monte_carlo_check_simulates_the_stated_draws():
    assert str(ls.TARGET_DRAWS) in ls.check_targets().empirical_label


def test_gap_without_k_minus_1_is_rejected():
    assert not ls.check_finite_logits(planted="gap log((1-eps)/eps), without (k-1)").passed
