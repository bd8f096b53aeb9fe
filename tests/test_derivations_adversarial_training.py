"""Tests of reglab.derivations.adversarial_training (ADV-1, ADV-5 and the transfer helper)."""

import numpy as np
import pytest
import torch
from reglab.derivations import get_result, ledger
from reglab.derivations.adversarial_training import (
    check_adv1,
    check_adv1_growth,
    check_adv5,
    growth_table,
    linear_fgsm_shift,
    vertex_max_shift,
)
from reglab.experiments.adversarial_training import transfer_matrix
from scipy.optimize import linprog


def test_linear_fgsm_shift_is_eps_times_l1_norm_per_row():
    w = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, -4.0]], dtype=torch.float64)
    torch.testing.assert_close(linear_fgsm_shift(w, 0.1), torch.tensor([0.35, 0.4], dtype=torch.float64))


@pytest.mark.parametrize("d", [1, 3, 8])
def test_closed_form_matches_brute_force_and_an_lp_solver(d):
    w = torch.randn(d, generator=torch.Generator().manual_seed(d), dtype=torch.float64)
    closed = linear_fgsm_shift(w, 0.2).item()
    assert vertex_max_shift(w, 0.2).item() == pytest.approx(closed, rel=1e-12)
    solved = linprog(-w.numpy(), bounds=(-0.2, 0.2), method="highs")
    assert -solved.fun == pytest.approx(closed, rel=1e-9)


def test_invalid_inputs_rejected_with_clear_messages():
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\), but got -1.0"):
        linear_fgsm_shift(torch.ones(3), -1.0)
    with pytest.raises(ValueError, match="w must have at least 1 dimension"):
        linear_fgsm_shift(torch.tensor(1.0), 0.1)
    with pytest.raises(TypeError, match="w must be a torch.Tensor"):
        linear_fgsm_shift([1.0, 2.0], 0.1)
    with pytest.raises(ValueError, match=r"w.shape\[0\] must be an integer in \[1, 20\], but got 21"):
        vertex_max_shift(torch.ones(21, dtype=torch.float64), 0.1)


@pytest.mark.parametrize("checker", [check_adv1, check_adv5], ids=["ADV-1", "ADV-5"])
def test_derivation_checks_pass(checker):
    checker().assert_passed()


def test_growth_check_passes_and_the_largest_shift_grows_like_d():
    check_adv1_growth(dims=(8, 64, 512), total=4096).assert_passed()
    table = growth_table(dims=(16, 256, 4096))
    slope_max = np.polyfit(np.log(table["d"]), np.log(table["lp_max"]), 1)[0]
    slope_random = np.polyfit(np.log(table["d"]), np.log(table["random_shift"]), 1)[0]
    assert slope_max == pytest.approx(1.0, abs=0.02)
    assert slope_random == pytest.approx(0.5, abs=0.1)
    np.testing.assert_allclose(table["lp_max"], table["closed_max"], rtol=1e-9)


def test_transfer_matrix_counts_by_hand():
    y = torch.tensor([0, 1, 2, 3])
    source_fooled = torch.tensor([[True, False, True, True], [False, True, False, False]])
    clean = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 0]])  # target 1 is wrong on clean example 3
    predictions = torch.tensor(
        [
            [[1, 1, 0, 0], [1, 1, 2, 3]],
            [[0, 0, 2, 3], [0, 0, 2, 3]],
        ]
    )
    error, transfer = transfer_matrix(source_fooled, predictions, clean, y)
    torch.testing.assert_close(error, torch.tensor([[0.75, 0.25], [0.25, 0.25]], dtype=torch.float64))
    # source 0 -> target 1: eligible examples 0 and 2 (target 1 is wrong on clean 3), fooled on 0
    assert transfer[0, 1].item() == 0.5
    assert transfer[0, 0].item() == 1.0
    assert transfer[1, 0].item() == 1.0 and transfer[1, 1].item() == 1.0


def test_transfer_matrix_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"source_fooled must have shape \(2, 4\)"):
        transfer_matrix(
            torch.zeros(3, 4, dtype=torch.bool),
            torch.zeros(2, 2, 4, dtype=torch.long),
            torch.zeros(2, 4, dtype=torch.long),
            torch.zeros(4, dtype=torch.long),
        )


def test_ledger_lists_the_chapter_results():
    ids = {r.id: r.kind for r in ledger() if r.chapter == "adversarial_training"}
    assert {"ADV-1", "ADV-5"} <= {i for i, k in ids.items() if k == "derivation"}
    assert {"ADV-2", "ADV-3", "ADV-4"} <= {i for i, k in ids.items() if k == "experiment"}


def test_growth_is_a_subcheck_of_adv1_and_uses_each_dimensions_standard_error():
    result = get_result("ADV-1")
    assert [p.label for p in result.parts] == ["vertices and fgsm()", "growth with d (LP solver)"]
    table = growth_table(dims=(4, 64, 1024), total=4096)
    assert table["lp_stderr"].shape == (3,)
    # eps * d * sd(|w|) / sqrt(total): the standard error grows with d, one per entry
    assert (np.diff(table["lp_stderr"]) > 0).all()


@pytest.mark.parametrize("name", ["eps·‖w‖₂", "eps·‖w‖∞", "x - eps·sign", "E|w| = 1", "grows like sqrt(d)"])
def test_adv1_rejects_its_planted_errors(name):
    # In the first edition no mistake was ever tried: the wrong norm, or FGSM stepping
    # against the gradient, would not have been noticed.
    assert not get_result("ADV-1").check(planted=name).passed


@pytest.mark.parametrize("name", ["eps·‖w‖₂", "x - eps·sign"])
def test_adv5_rejects_its_planted_errors(name):
    assert not get_result("ADV-5").check(planted=name).passed


def test_experiments_state_direction_and_unit():
    for rid, direction in (("ADV-2", "decrease"), ("ADV-3", "increase"), ("ADV-4", "increase")):
        result = get_result(rid)
        assert result.expected == direction and result.unit == "points" and result.measures


@pytest.mark.parametrize("checker", [check_adv1, check_adv1_growth, check_adv5])
def test_unknown_planted_error_raises(checker):
    with pytest.raises(ValueError, match="no planted error 'eps·‖w‖₃'"):
        checker(planted="eps·‖w‖₃")


def test_every_planted_error_says_who_makes_it():
    for rid in ("ADV-1", "ADV-5"):
        assert {p.category for p in get_result(rid).planted_errors()} == {"student"}, rid


def test_adv4_claim_compares_with_noise_on_the_same_images():
    assert "same images" in get_result("ADV-4").claim
