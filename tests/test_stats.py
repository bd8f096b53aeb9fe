"""Confidence intervals for multi-seed results."""
import math

import numpy as np
import pytest

from reglab.stats import format_ci, mean_ci


def test_interval_matches_student_t_by_hand():
    values = [0.90, 0.92, 0.91, 0.93, 0.89]
    mean, half = mean_ci(values)
    # t quantile for 4 degrees of freedom at 97.5 %: 2.7764451
    expected = 2.7764451 * np.std(values, ddof=1) / math.sqrt(5)
    assert mean == pytest.approx(0.91) and half == pytest.approx(expected, rel=1e-6)


def test_interval_covers_the_true_mean_at_the_stated_rate():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        m, h = mean_ci(rng.normal(1.0, 2.0, size=5))
        covered += abs(m - 1.0) <= h
    # 95 % nominal; 2000 trials give a standard error of 0.5 %.
    assert 0.93 <= covered / 2000 <= 0.97


def test_format_ci_scales_to_percent():
    assert format_ci([0.5, 0.5, 0.5]) == "50.0 ± 0.0 %"


@pytest.mark.parametrize("values", [[1.0], [], [1.0, float("nan")]])
def test_too_few_or_nonfinite_values_rejected(values):
    with pytest.raises(ValueError, match="values must"):
        mean_ci(values)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, float("nan")])
def test_invalid_confidence_rejected(confidence):
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        mean_ci([1.0, 2.0], confidence)


def test_format_ci_rejects_too_few_values():
    with pytest.raises(ValueError, match="at least 2 measurements"):
        format_ci([0.5])
