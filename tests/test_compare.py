"""reglab.derivations.compare: the Check result and the one comparison path."""
import math

import numpy as np
import pytest
import torch
from reglab.derivations.compare import CheckFailed, bonferroni_z, compare, compare_mc, format_number


def test_compare_passes_within_absolute_tolerance():
    check = compare("T-1", 1.0, 1.0 + 1e-6, atol=1e-5)
    assert check.passed and check.error == pytest.approx(1e-6, rel=1e-3)


def test_compare_fails_outside_tolerance_and_message_has_both_numbers():
    check = compare("T-2", 1.0, 1.1, atol=1e-3, analytic_label="closed form", empirical_label="solver")
    assert not check.passed
    with pytest.raises(CheckFailed) as info:
        check.assert_passed()
    text = str(info.value)
    assert "closed form = 1" in text and "solver = 1.1" in text and "1.0e-03" in text and "DISAGREE" in text


def test_relative_tolerance_applies_per_entry():
    assert compare("T-3", [100.0, 1.0], [100.5, 1.0], rtol=0.01).passed
    assert not compare("T-3", [100.0, 1.0], [100.0, 1.02], rtol=0.01).passed


def test_array_tolerances_are_per_entry():
    # A scalar atol of 1 would pass both; per entry, the second entry allows only 0.1.
    assert compare("T-3", [1.0, 2.0], [1.5, 2.05], atol=[1.0, 0.1]).passed
    assert not compare("T-3", [1.0, 2.0], [1.5, 2.5], atol=[1.0, 0.1]).passed


def test_printed_difference_and_tolerance_belong_to_the_deciding_entry():
    # Entry 0 has the larger difference (0.5, allowed 10); entry 1 decides (0.2, allowed 0.1).
    check = compare("T-3", [1.0, 2.0], [1.5, 2.2], atol=[10.0, 0.1])
    assert not check.passed
    assert check.error == pytest.approx(0.2) and check.tolerance == pytest.approx(0.1)
    assert "max diff 0.2 (tolerance 1.0e-01)" in str(check)


def test_tensors_and_arrays_are_accepted():
    check = compare("T-4", torch.tensor([1.0, 2.0], dtype=torch.float32), np.array([1.0, 2.0]), atol=1e-12)
    assert check.passed and check.analytic.dtype == np.float64


@pytest.mark.parametrize("bad", [[1.0, math.nan], [math.inf, 1.0]])
def test_non_finite_values_are_errors(bad):
    with pytest.raises(ValueError, match="must be finite"):
        compare("T-5", [1.0, 1.0], bad, atol=1.0)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        compare("X", [], [], atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"atol": -1.0}, {"rtol": math.nan}, {"atol": math.inf}, {"atol": [1.0, math.nan]}])
def test_invalid_tolerance_rejected(kwargs):
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        compare("T-6", [1.0, 1.0], [1.0, 1.0], **kwargs)


def test_tolerance_that_does_not_broadcast_rejected():
    with pytest.raises(ValueError, match="does not broadcast"):
        compare("T-6", [1.0, 1.0], [1.0, 1.0], atol=[1.0, 1.0, 1.0])


def test_missing_tolerance_rejected():
    with pytest.raises(ValueError, match="cannot both be 0"):
        compare("T-7", 1.0, 1.0)


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="same shape"):
        compare("T-8", [1.0, 2.0], [1.0], atol=1.0)


def test_bad_id_rejected():
    with pytest.raises(TypeError, match="id must be a non-empty string"):
        compare("", 1.0, 1.0, atol=1.0)


def test_rounding_level_differences_print_as_a_bound_so_outputs_survive_other_cpus():
    a = compare("T-9", 0.3, 0.1 + 0.2, atol=1e-10)
    b = compare("T-9", 0.3, 0.3, atol=1e-10)
    assert str(a) == str(b)
    assert "agree to rounding (below 1.0e-10)" in str(a)
    assert "e-17" not in str(a) and "max diff" not in str(a)


def test_real_differences_print_with_two_digits():
    check = compare("T-9", 1.0, 1.00123, atol=0.01)
    assert "max diff 0.0012 (tolerance 1.0e-02): agree" in str(check)


def test_values_at_rounding_level_print_as_zero():
    check = compare("T-9", [1.0, 0.0], [1.0, 3e-17], atol=1e-9)
    assert "computed = [1, 0]" in str(check)


def test_format_number_drops_negative_zero():
    assert format_number(-0.0) == "0"
    assert format_number(-1e-20, 3) == "-1e-20"


def test_monte_carlo_uses_each_entrys_own_standard_error():
    # One noisy entry (se 0.1) and one precise entry (se 0.001) off by 0.01: the largest standard
    # error applied to every entry would pass; each entry's own must not.
    check = compare_mc("T-13", [0.5, 0.8], [0.5, 0.81], [0.1, 0.001], confidence=0.999)
    assert not check.passed
    assert check.tolerance == pytest.approx(bonferroni_z(2, 0.999) * 0.001)
    assert compare_mc("T-13", [0.5, 0.8], [0.55, 0.8005], [0.1, 0.001]).passed


def test_monte_carlo_bonferroni_widens_with_entries():
    assert bonferroni_z(10, 0.999) > bonferroni_z(1, 0.999) > 3.2
    note = compare_mc("T-13", [0.5] * 10, [0.5] * 10, [0.01] * 10).note
    assert "Bonferroni" in note and "10 entries" in note


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, math.nan])
def test_monte_carlo_confidence_validated(confidence):
    with pytest.raises(ValueError, match="confidence must be in"):
        compare_mc("T-13", 0.5, 0.5, 0.01, confidence=confidence)




def test_exceeds_passes_only_strictly_above_the_bound():
    from reglab.derivations.compare import exceeds

    held = exceeds("T-40", [0.3, 0.2, 0.1], 0.0, value_label="decrease")
    assert held.passed and held.decided and held.error == pytest.approx(-0.1)
    assert "smallest margin above the bound 0.1" in str(held) and "holds" in str(held)
    failed = exceeds("T-40", [0.3, 0.0], 0.0)
    assert not failed.passed and not failed.decided and "FAILS" in str(failed)
    assert failed.ratio == float("inf")
    with pytest.raises(ValueError, match="does not broadcast"):
        exceeds("T-40", [1.0, 2.0], [0.0, 0.0, 0.0])


def test_a_verdict_replaced_after_the_comparison_is_visible():
    import dataclasses

    check = compare("T-41", 1.0, 1.5, atol=0.1)
    forced = dataclasses.replace(check, passed=True)
    assert forced.passed != forced.decided
