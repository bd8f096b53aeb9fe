"""Property-based tests (hypothesis) of the closed forms and regularizers."""
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.derivations.bagging import ensemble_mse
from reglab.derivations.weight_decay import shrink_factors
from reglab.noise import smooth_labels
from reglab.penalties import soft_threshold

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
nonneg = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
settings.register_profile("book", max_examples=200, deadline=None)
settings.load_profile("book")


@given(st.lists(finite, min_size=1, max_size=20), nonneg)
def test_soft_threshold_shrinks_magnitudes_and_never_flips_signs(values, t):
    w = torch.tensor(values, dtype=torch.float64)
    out = soft_threshold(w, t)
    assert (out.abs() <= w.abs()).all()
    assert (out * w >= 0).all()
    # Entries inside the threshold are exactly zero; the others move by exactly t.
    inside = w.abs() <= t
    assert (out[inside] == 0).all()
    assert torch.allclose((w.abs() - out.abs())[~inside], torch.tensor(t, dtype=torch.float64).expand((~inside).sum()))


@given(st.lists(st.floats(min_value=1e-6, max_value=1e6), min_size=1, max_size=20), nonneg)
def test_shrink_factors_lie_in_zero_one(eigvals, alpha):
    f = shrink_factors(torch.tensor(eigvals, dtype=torch.float64), alpha)
    assert ((f > 0) & (f <= 1)).all()


@given(st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=20))
def test_shrink_factors_tend_to_one_as_alpha_vanishes(eigvals):
    lam = torch.tensor(eigvals, dtype=torch.float64)
    previous = shrink_factors(lam, 1.0)
    for alpha in (1e-2, 1e-4, 1e-8):
        current = shrink_factors(lam, alpha)
        assert (current >= previous).all()
        previous = current
    assert torch.allclose(previous, torch.ones_like(previous), atol=1e-4)


@given(st.integers(min_value=2, max_value=50), st.floats(min_value=0.0, max_value=0.99), st.data())
def test_smoothed_targets_are_distributions(k, eps, data):
    labels = torch.tensor(data.draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=30)))
    targets = smooth_labels(labels, k, eps)
    assert targets.shape == (len(labels), k)
    assert (targets >= 0).all()
    assert torch.allclose(targets.sum(1), torch.ones(len(labels), dtype=targets.dtype))
    assert torch.allclose(targets[torch.arange(len(labels)), labels], torch.full((len(labels),), 1 - eps, dtype=targets.dtype))


@given(st.floats(min_value=1e-6, max_value=1e6), st.floats(min_value=0.0, max_value=1.0), st.integers(1, 1000))
def test_ensemble_error_lies_between_v_over_k_and_v(v, ratio, k):
    c = ratio * v
    e = ensemble_mse(v, c, k)
    assert v / k * (1 - 1e-12) <= e <= v * (1 + 1e-12)
    if k == 1:
        assert math.isclose(e, v)
