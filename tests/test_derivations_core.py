"""The Check result, the comparison and the registry behind the results ledger."""
import math

import numpy as np
import pytest
import torch

from reglab.derivations.core import (
    Check,
    CheckFailed,
    compare,
    derivation,
    experiment,
    format_number,
    ledger_markdown,
)


def test_compare_passes_within_absolute_tolerance():
    check = compare("T-1", 1.0, 1.0 + 1e-12, atol=1e-9)
    assert check.passed and check.error == pytest.approx(1e-12, rel=1e-3)


def test_compare_fails_outside_tolerance_and_message_has_both_numbers():
    check = compare("T-2", 1.0, 1.1, atol=1e-3, analytic_label="closed form", empirical_label="solver")
    assert not check.passed
    with pytest.raises(CheckFailed) as info:
        check.assert_passed()
    text = str(info.value)
    assert "closed form = 1" in text and "solver = 1.1" in text and "1.0e-03" in text


def test_relative_tolerance_applies_per_entry():
    assert compare("T-3", [100.0, 1.0], [100.5, 1.0], rtol=0.01).passed
    assert not compare("T-3", [100.0, 1.0], [100.0, 1.02], rtol=0.01).passed


def test_tensors_and_arrays_are_accepted():
    check = compare("T-4", torch.tensor([1.0, 2.0], dtype=torch.float64), np.array([1.0, 2.0]), atol=1e-12)
    assert check.passed and check.analytic.dtype == np.float64


def test_nan_never_passes():
    check = compare("T-5", [1.0, math.nan], [1.0, math.nan], atol=1.0)
    assert not check.passed


@pytest.mark.parametrize("kwargs", [{"atol": -1.0}, {"rtol": math.nan}, {"atol": math.inf}])
def test_invalid_tolerance_rejected(kwargs):
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        compare("T-6", 1.0, 1.0, **kwargs)


def test_missing_tolerance_rejected():
    with pytest.raises(ValueError, match="cannot both be 0"):
        compare("T-7", 1.0, 1.0)


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="same shape"):
        compare("T-8", [1.0, 2.0], [1.0], atol=1.0)


def test_bad_id_rejected():
    with pytest.raises(TypeError, match="id must be a non-empty string"):
        compare("", 1.0, 1.0, atol=1.0)


def test_tiny_errors_print_as_a_bound_so_outputs_survive_thread_count():
    a = compare("T-9", 0.3, 0.1 + 0.2, atol=1e-10)
    b = compare("T-9", 0.3, 0.3, atol=1e-10)
    assert str(a) == str(b)
    assert "< 1e-13" in str(a)


def test_format_number_drops_negative_zero():
    assert format_number(-0.0) == "0"
    assert format_number(-1e-20, 3) == "-1e-20"


def test_registry_rejects_conflicting_claims():
    @derivation("T-10", chapter="tests", claim="one claim")
    def first():
        return compare("T-10", 1.0, 1.0, atol=1.0)

    with pytest.raises(ValueError, match="registered twice"):
        experiment("T-10", chapter="tests", claim="another claim")


def test_ledger_markdown_lists_experiments_and_checks():
    from reglab.derivations.core import Result

    check = compare("T-11", 2.0, 2.0, atol=1e-9)
    rows = [
        (Result("T-11", "tests", "a claim", "derivation", lambda: check), check),
        (Result("T-12", "tests", "measured | claim", "experiment"), None),
    ]
    table = ledger_markdown(rows)
    assert "| T-11 | a claim |" in table and "yes" in table
    assert "measured \\| claim" in table and "experiment" in table
    assert isinstance(check, Check)
