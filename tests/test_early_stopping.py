"""Tests of reglab.early_stopping (EarlyStopping with patience, best parameters, resuming)."""
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab import EarlyStopping, TrainConfig, fit
from reglab.derivations.early_stopping import scripted_stopping


def _tracer() -> torch.nn.Linear:
    return torch.nn.Linear(1, 1, bias=False, dtype=torch.float64)


def _run(stopper, losses, model=None):
    """Feed losses; the model's weight records the evaluation index. Returns the stop index."""
    model = model or _tracer()
    for t, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(t))
        if stopper.step(loss, model):
            return t
    return None


def test_stops_after_patience_evaluations_without_improvement():
    stopper = EarlyStopping(patience=3)
    assert _run(stopper, [5.0, 4.0, 4.5, 4.2, 4.0, 3.0]) == 4
    assert stopper.best_step == 1 and stopper.best_loss == 4.0
    assert stopper.num_bad_steps == 3 and stopper.should_stop


def test_improvement_resets_the_count():
    stopper = EarlyStopping(patience=2)
    assert _run(stopper, [5.0, 6.0, 4.0, 6.0, 3.0, 6.0]) is None
    assert stopper.best_step == 4 and stopper.num_bad_steps == 1


def test_equal_loss_is_not_an_improvement():
    stopper = EarlyStopping(patience=1)
    assert _run(stopper, [2.0, 2.0]) == 1
    assert stopper.best_step == 0


def test_min_delta_counts_small_gains_as_no_improvement():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert _run(stopper, [1.0, 0.95, 0.92, 0.5]) == 2
    assert stopper.best_step == 0 and stopper.best_loss == 1.0
    loose = EarlyStopping(patience=2, min_delta=0.01)
    assert _run(loose, [1.0, 0.95, 0.92, 0.5]) is None
    assert loose.best_step == 3


def test_restore_loads_the_best_parameters():
    stopper = EarlyStopping(patience=2)
    model = _tracer()
    _run(stopper, [3.0, 1.0, 2.0, 2.5], model)
    assert model.weight.item() == 3.0  # the last evaluated parameters
    assert stopper.restore(model) is model
    assert model.weight.item() == 1.0


def test_saved_copy_is_not_changed_by_later_training():
    stopper = EarlyStopping(patience=5)
    model = _tracer()
    with torch.no_grad():
        model.weight.fill_(7.0)
    stopper.step(1.0, model)
    with torch.no_grad():
        model.weight.fill_(-1.0)
    assert stopper.best_state["weight"].item() == 7.0
    stopper.best_state["weight"].fill_(0.0)  # best_state is a copy too
    assert stopper.restore(model).weight.item() == 7.0


def test_buffers_are_kept_with_the_parameters():
    model = torch.nn.BatchNorm1d(2)
    stopper = EarlyStopping(patience=1)
    model.running_mean.fill_(3.0)
    stopper.step(0.5, model)
    model.running_mean.fill_(-3.0)
    stopper.restore(model)
    assert torch.equal(model.running_mean, torch.full((2,), 3.0))


@settings(max_examples=60, deadline=None)
@given(
    losses=st.lists(st.floats(min_value=-5, max_value=5, allow_nan=False), min_size=1, max_size=30),
    patience=st.integers(min_value=1, max_value=5),
)
def test_agrees_with_brute_force_definition(losses, patience):
    stopper = EarlyStopping(patience=patience)
    stop = _run(stopper, losses)
    ref_stop, ref_best = scripted_stopping(losses, patience)
    assert (len(losses) - 1 if stop is None else stop) == ref_stop
    assert stopper.best_step == ref_best


def test_state_survives_torch_save_and_resumes_identically():
    losses = [3.0, 2.0, 2.5, 1.5, 1.7, 1.8, 1.9, 1.6]
    whole = EarlyStopping(patience=3, min_delta=0.05)
    model = _tracer()
    assert _run(whole, losses, model) == 6

    first = EarlyStopping(patience=3, min_delta=0.05)
    model_a = _tracer()
    assert _run(first, losses[:5], model_a) is None
    buffer = io.BytesIO()
    torch.save({"stopper": first.state_dict(), "model": model_a.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)  # weights_only: the state holds only numbers and tensors

    resumed = EarlyStopping(patience=1)
    resumed.load_state_dict(saved["stopper"])
    assert (resumed.patience, resumed.min_delta) == (3, 0.05)
    model_b = _tracer()
    stop = None
    for t, loss in enumerate(losses[5:], start=5):
        with torch.no_grad():
            model_b.weight.fill_(float(t))
        if resumed.step(loss, model_b):
            stop = t
            break
    assert stop == 6
    assert (resumed.best_step, resumed.best_loss) == (whole.best_step, whole.best_loss)
    assert resumed.restore(model_b).weight.item() == 3.0


def test_fresh_state_round_trip():
    stopper = EarlyStopping(patience=4)
    other = EarlyStopping(patience=1)
    other.load_state_dict(stopper.state_dict())
    assert other.patience == 4 and other.best_step is None and math.isinf(other.best_loss)


def test_works_as_a_fit_callback():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 40, generator=g, dtype=torch.float64)
    y = X[:, :1] + torch.randn(30, 1, generator=g, dtype=torch.float64)
    Xv = torch.randn(100, 40, generator=g, dtype=torch.float64)
    yv = Xv[:, :1] + torch.randn(100, 1, generator=g, dtype=torch.float64)
    model = torch.nn.Linear(40, 1, dtype=torch.float64)
    stopper = EarlyStopping(patience=5)
    snapshots = []

    def callback(epoch, m, history):
        snapshots.append(m.weight.detach().clone())
        if stopper.step(history.val_loss[-1], m):
            raise StopIteration

    config = TrainConfig(epochs=300, lr=0.01, batch_size=30, momentum=0.0, loss="mse")
    history = fit(model, X, y, config=config, val=(Xv, yv), callback=callback)
    assert len(history.val_loss) < 300  # it stopped
    best = min(range(len(history.val_loss)), key=history.val_loss.__getitem__)
    assert stopper.best_step == best
    assert torch.equal(stopper.restore(model).weight, snapshots[best])


@pytest.mark.parametrize("patience", [0, -1])
def test_invalid_patience_rejected(patience):
    with pytest.raises(ValueError, match=r"patience must be an integer in \[1, inf\], but got"):
        EarlyStopping(patience)


@pytest.mark.parametrize("patience", [1.5, True, "3", None])
def test_non_integer_patience_rejected(patience):
    with pytest.raises(TypeError, match="patience must be an integer"):
        EarlyStopping(patience)


@pytest.mark.parametrize("min_delta", [-0.1, float("nan"), float("inf")])
def test_invalid_min_delta_rejected(min_delta):
    with pytest.raises(ValueError, match="min_delta must be in"):
        EarlyStopping(2, min_delta=min_delta)


def test_min_delta_is_keyword_only():
    with pytest.raises(TypeError):
        EarlyStopping(2, 0.1)


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf"), torch.tensor(float("nan"))])
def test_non_finite_val_loss_rejected(loss):
    with pytest.raises(ValueError, match="val_loss must be a finite number, but got"):
        EarlyStopping(2).step(loss, _tracer())


def test_val_loss_must_be_one_number():
    with pytest.raises(ValueError, match="single number"):
        EarlyStopping(2).step(torch.ones(2), _tracer())
    with pytest.raises(TypeError, match="val_loss must be a real number"):
        EarlyStopping(2).step("0.3", _tracer())


def test_tensor_val_loss_accepted():
    stopper = EarlyStopping(2)
    stopper.step(torch.tensor(0.25, dtype=torch.float64), _tracer())
    assert stopper.best_loss == 0.25


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        EarlyStopping(2).step(1.0, {"w": torch.ones(1)})
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        EarlyStopping(2).restore(None)


def test_restore_before_any_step_raises():
    with pytest.raises(RuntimeError, match="at least one call to step"):
        EarlyStopping(2).restore(_tracer())


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda s: s.pop("best_state"), ValueError, "missing keys"),
        (lambda s: s.update(extra=1), ValueError, "unknown keys"),
        (lambda s: s.update(patience=0), ValueError, "patience"),
        (lambda s: s.update(num_bad_steps=5), ValueError, "num_bad_steps"),
        (lambda s: s.update(best_step=0), ValueError, "inconsistent"),
        (lambda s: s.update(best_state=[1, 2]), TypeError, "state_dict"),
        (lambda s: s.update(best_loss=float("nan")), ValueError, "best_loss"),
    ],
)
def test_load_state_dict_rejects_bad_state(change, error, match):
    stopper = EarlyStopping(2)
    _run(stopper, [3.0, 1.0, 2.0])
    state = stopper.state_dict()
    change(state)
    with pytest.raises(error, match=match):
        EarlyStopping(2).load_state_dict(state)


def test_load_state_dict_needs_a_dict():
    with pytest.raises(TypeError, match="state must be a dict"):
        EarlyStopping(2).load_state_dict([("patience", 2)])


def test_repr_names_the_settings():
    assert repr(EarlyStopping(3, min_delta=0.5)).startswith("EarlyStopping(patience=3, min_delta=0.5")
