"""The Check result, the one comparison path, planted errors and the registry of the ledger."""
import json
import math

import numpy as np
import pytest
import torch

from reglab.derivations import core
from reglab.derivations.core import (
    Check,
    CheckFailed,
    Planted,
    compare,
    compare_mc,
    derivation,
    experiment,
    format_number,
    ledger_markdown,
    subcheck,
)


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
    assert check.tolerance == pytest.approx(core.bonferroni_z(2, 0.999) * 0.001)
    assert compare_mc("T-13", [0.5, 0.8], [0.55, 0.8005], [0.1, 0.001]).passed


def test_monte_carlo_bonferroni_widens_with_entries():
    assert core.bonferroni_z(10, 0.999) > core.bonferroni_z(1, 0.999) > 3.2
    note = compare_mc("T-13", [0.5] * 10, [0.5] * 10, [0.01] * 10).note
    assert "Bonferroni" in note and "10 entries" in note


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, math.nan])
def test_monte_carlo_confidence_validated(confidence):
    with pytest.raises(ValueError, match="confidence must be in"):
        compare_mc("T-13", 0.5, 0.5, 0.01, confidence=confidence)


def test_registry_rejects_an_id_registered_twice():
    @derivation("T-10", chapter="_tests", claim="one claim", planted={"p": "a mistake"})
    def first(*, planted=None):
        return compare("T-10", 1.0, 1.0, atol=1.0)

    with pytest.raises(ValueError, match="registered twice"):
        experiment("T-10", chapter="_tests", claim="one claim", expected="increase")
    with pytest.raises(ValueError, match="registered twice"):
        derivation("T-10", chapter="_tests", claim="one claim")(first)


def test_planted_errors_run_the_checker_with_the_mistake():
    @derivation("T-14", chapter="_tests", claim="2 = 1 + 1", label="sum", planted={"off by one": "1 + 2"})
    def check_sum(*, planted=None):
        return compare("T-14", 2.0, 1.0 + (2.0 if planted == "off by one" else 1.0), atol=1e-12)

    @subcheck("T-14", label="product", planted=[Planted("squared", "2 * 2", slip="slide 3", correct="2 * 1")])
    def check_product(*, planted=None):
        return compare("T-14", 2.0, 2.0 * (2.0 if planted == "squared" else 1.0), atol=1e-12)

    result = core.get_result("T-14")
    assert result.planted == ("off by one", "squared")
    assert [c.label for c in result.checks()] == ["sum", "product"]
    assert result.check().passed
    assert not result.check(planted="off by one").passed
    assert not result.check(planted="squared").passed
    with pytest.raises(ValueError, match="declares no planted error"):
        result.check(planted="nonsense")
    with pytest.raises(ValueError, match="already has a check labelled"):
        subcheck("T-14", label="product")(check_product)


def test_planted_checker_must_take_the_keyword():
    with pytest.raises(TypeError, match="keyword argument 'planted'"):
        @derivation("T-15", chapter="_tests", claim="c", planted={"p": "a mistake"})
        def no_keyword():
            return compare("T-15", 1.0, 1.0, atol=1.0)


def test_lecture_slip_needs_the_correct_statement():
    with pytest.raises(ValueError, match="correct statement"):
        Planted("slip", "a mistake", slip="slide 4")


def test_experiment_verdict_follows_the_interval():
    experiment("T-16", chapter="_tests", claim="c", expected="increase", measures="gain", unit="points")
    o = core.record_outcome("T-16", effect=1.0, low=0.5, high=1.5, seeds=5, display=False)
    assert o.verdict == "supported"
    assert core.record_outcome("T-16", effect=0.2, low=-0.1, high=0.5, seeds=5, display=False).verdict == "not shown"
    assert core.record_outcome("T-16", per_seed=[-1.0, -1.1, -0.9, -1.0, -1.05], display=False).verdict == "contradicted"
    with pytest.raises(ValueError, match="at least 5 seeds"):
        core.record_outcome("T-16", per_seed=[1.0, 2.0, 3.0], display=False)
    with pytest.raises(ValueError, match="expected must be one of"):
        experiment("T-17", chapter="_tests", claim="c", expected="up")


def test_outcome_is_read_back_from_the_stored_outputs(tmp_path, monkeypatch):
    # record_outcome glues through MyST-NB; capture what it would store in the notebook.
    import myst_nb
    import nbformat

    experiment("T-18", chapter="_tests_nb", claim="c", expected="decrease", measures="error", unit="")
    stored = []

    def fake_display(data, raw=False, metadata=None):
        stored.append({"output_type": "display_data", "data": data, "metadata": metadata})

    monkeypatch.setattr("myst_nb.ext.glue.ipy_display", fake_display)
    core.record_outcome("T-18", effect=-0.1, low=-0.2, high=-0.05, seeds=5, display=False)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.from_dict(o) for o in stored]
    nb.cells = [cell]
    nbformat.validate(nb)  # the stored record must be a valid notebook output
    nbformat.write(nb, tmp_path / "_tests_nb.ipynb")
    o = core.get_result("T-18").outcome(tmp_path)
    assert (o.effect, o.low, o.high, o.seeds, o.verdict) == (-0.1, -0.2, -0.05, 5, "supported")
    assert myst_nb


def test_ledger_markdown_lists_every_check_and_what_it_rejects():
    from reglab.derivations.core import Part, Result

    check = compare("T-11", 2.0, 2.0, atol=1e-9)
    part = Part("enumeration", lambda: check, (Planted("alpha*w", "wrong sign"),))
    rows = [(Result("T-11", "tests", "a claim with alpha*w | pipe", "derivation", (part,)), (check,))]
    table = ledger_markdown(rows, rejected={("T-11", "alpha*w"): True})
    assert "| T-11 | a claim with alpha\\*w \\| pipe" in table and ": agree |" in table
    assert "alpha\\*w (rejected)" in table.splitlines()[-1]
    assert "NOT rejected" in ledger_markdown(rows, rejected={("T-11", "alpha*w"): False})
    assert isinstance(check, Check)
