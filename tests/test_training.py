"""Tests of reglab.training: seeding, the loops, stacked models, bad input."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab.training import (
    StackedMLP,
    TrainConfig,
    accuracy,
    evaluate_stacked,
    fit,
    fit_stacked,
    seed_everything,
)


def _blobs(n=60, d=3, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + 3.0 * F.one_hot(y, d).double()
    return X, y


# --- seed_everything ---------------------------------------------------------------------------
def test_seed_everything_makes_every_generator_repeat():
    import random

    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_seed_everything_returns_a_seeded_generator():
    a = torch.rand(2, generator=seed_everything(5))
    b = torch.rand(2, generator=seed_everything(5))
    assert torch.equal(a, b)


def test_seed_everything_rejects_negative_seeds():
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, "):
        seed_everything(-1)


@pytest.mark.parametrize("bad", [1.5, True, "0"])
def test_seed_everything_rejects_non_integer_seeds(bad):
    with pytest.raises(TypeError, match="seed must be an integer"):
        seed_everything(bad)


# --- accuracy ----------------------------------------------------------------------------------
def test_accuracy_of_plain_and_stacked_logits():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    assert accuracy(logits, y).item() == pytest.approx(2 / 3)
    stacked = torch.stack([logits, -logits])
    assert accuracy(stacked, y).tolist() == pytest.approx([2 / 3, 1 / 3])


def test_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="logits have 2 rows but y has 3 labels"):
        accuracy(torch.zeros(2, 4), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="logits must have 2 or 3 dimensions"):
        accuracy(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="y must be a torch.Tensor"):
        accuracy(torch.zeros(2, 2), [0, 1])


# --- fit ---------------------------------------------------------------------------------------
def test_fit_learns_separable_blobs():
    X, y = _blobs()
    torch.manual_seed(0)
    model = nn.Linear(3, 3).double()
    history = fit(model, X, y, config=TrainConfig(epochs=30, lr=0.1, batch_size=20), val=(X, y))
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] == 1.0
    assert history.eval_epochs == list(range(1, 31))


def test_fit_weight_decay_is_torch_sgd_weight_decay_on_weights_only():
    # Full batch, no momentum: one epoch is one step of SGD on J + alpha/2 ||W||^2 (bias not decayed).
    X, y = _blobs()
    torch.manual_seed(1)
    model = nn.Linear(3, 3).double()
    reference = copy.deepcopy(model)
    lr, alpha = 0.2, 0.5
    fit(model, X, y, config=TrainConfig(epochs=1, lr=lr, batch_size=len(y), momentum=0.0, weight_decay=alpha))
    opt = torch.optim.SGD(
        [{"params": [reference.weight], "weight_decay": alpha}, {"params": [reference.bias], "weight_decay": 0.0}],
        lr=lr,
    )
    F.cross_entropy(reference(X), y).backward()
    opt.step()
    assert torch.allclose(model.weight, reference.weight, rtol=1e-12, atol=1e-14)
    assert torch.allclose(model.bias, reference.bias, rtol=1e-12, atol=1e-14)


def test_fit_callback_can_stop_training():
    X, y = _blobs()
    model = nn.Linear(3, 3).double()

    def stop_after_two(epoch, model, history):
        if epoch == 1:
            raise StopIteration

    history = fit(model, X, y, config=TrainConfig(epochs=10), callback=stop_after_two)
    assert len(history.train_loss) == 2


def test_fit_rejects_bad_input():
    X, y = _blobs()
    model = nn.Linear(3, 3).double()
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        fit(lambda x: x, X, y, config=TrainConfig())
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        fit(model, X, y, config={"epochs": 1})
    with pytest.raises(ValueError, match="X has 60 rows but y has 59"):
        fit(model, X, y[:-1], config=TrainConfig())
    with pytest.raises(TypeError, match="X must be a torch.Tensor"):
        fit(model, X.numpy(), y, config=TrainConfig())


# --- fit_stacked, evaluate_stacked -------------------------------------------------------------
def test_summed_objective_gives_each_member_its_own_gradient():
    X, y = _blobs()
    model = StackedMLP(3, (3, 5, 3), seed=2, dtype=torch.float64)
    out = model(X)
    per_member = torch.stack([F.cross_entropy(out[m], y) for m in range(3)])
    per_member.sum().backward()
    joint = model.layers[0].weight.grad[1].clone()
    model.zero_grad()
    F.cross_entropy(model(X)[1], y).backward()
    assert torch.allclose(joint, model.layers[0].weight.grad[1])


def test_fit_stacked_decays_each_member_with_its_own_alpha():
    # Full batch, no momentum, one epoch: member m takes one SGD step on its loss + alpha_m/2 ||W_m||^2.
    X, y = _blobs()
    model = StackedMLP(3, (3, 4, 3), seed=1, dtype=torch.float64)
    start = copy.deepcopy(model)
    alphas = torch.tensor([0.0, 0.1, 1.0], dtype=torch.float64)
    lr = 0.3
    fit_stacked(model, X, y, config=TrainConfig(epochs=1, lr=lr, batch_size=len(y), momentum=0.0), weight_decay=alphas)
    out = start(X)
    loss = sum(F.cross_entropy(out[m], y) for m in range(3))
    loss.backward()
    for layer_now, layer_before in zip(model.layers, start.layers):
        decayed = layer_before.weight.grad + alphas.view(3, 1, 1) * layer_before.weight.detach()
        assert torch.allclose(layer_now.weight, layer_before.weight - lr * decayed, rtol=1e-10, atol=1e-12)
        assert torch.allclose(layer_now.bias, layer_before.bias - lr * layer_before.bias.grad, rtol=1e-10, atol=1e-12)


def test_fit_stacked_weight_decay_shrinks_norms():
    X, y = _blobs()
    model = StackedMLP(2, (3, 8, 3), seed=0, dtype=torch.float64)
    fit_stacked(model, X, y, config=TrainConfig(epochs=20, lr=0.1, batch_size=20), weight_decay=torch.tensor([0.0, 0.5]))
    norms = model.member_l2()
    assert norms[1] < norms[0]


def test_fit_stacked_member_indices_restrict_the_training_data():
    # A member trained on no example of class 2 never predicts it well on that class.
    X, y = _blobs(n=90)
    keep = torch.nonzero(y != 2).squeeze(1)
    indices = torch.stack([keep, keep])
    model = StackedMLP(2, (3, 8, 3), seed=0, dtype=torch.float64)
    fit_stacked(model, X, y, config=TrainConfig(epochs=20, lr=0.1, batch_size=20), member_indices=indices)
    acc = evaluate_stacked(model, X[y == 2], y[y == 2])["accuracy"]
    assert (acc < 0.5).all()


def test_fit_stacked_keep_best_restores_the_best_validation_epoch():
    X, y = _blobs(n=90)
    Xv, yv = _blobs(n=30, seed=1)
    model = StackedMLP(2, (3, 16, 3), seed=0, dtype=torch.float64)
    history = fit_stacked(model, X, y, config=TrainConfig(epochs=8, lr=0.5, batch_size=10), val=(Xv, yv), keep_best=True)
    val = np.asarray(history.val_loss)
    assert history.best_epoch == (val.argmin(0) + 1).tolist()
    restored = evaluate_stacked(model, Xv, yv)["loss"].numpy()
    assert np.allclose(restored, val.min(0), rtol=1e-10)


def test_fit_stacked_history_has_one_column_per_member():
    X, y = _blobs()
    model = StackedMLP(4, (3, 4, 3), seed=0, dtype=torch.float64)
    history = fit_stacked(model, X, y, config=TrainConfig(epochs=3), val=(X, y), eval_every=2)
    assert np.asarray(history.train_loss).shape == (3, 4)
    assert history.eval_epochs == [2, 3]


def test_fit_stacked_rejects_bad_input():
    X, y = _blobs()
    model = StackedMLP(2, (3, 4, 3), seed=0, dtype=torch.float64)
    config = TrainConfig(epochs=1)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        fit_stacked(model, X, y, config=None)
    with pytest.raises(TypeError, match="model.num_models must be an integer"):
        fit_stacked(nn.Linear(3, 3), X, y, config=config)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        fit_stacked(model, X.unsqueeze(0), y, config=config)
    with pytest.raises(ValueError, match="X has 60 rows but y has 10"):
        fit_stacked(model, X, y[:10], config=config)
    with pytest.raises(ValueError, match="weight_decay must be >= 0 for every member"):
        fit_stacked(model, X, y, config=config, weight_decay=torch.tensor([0.1, -0.1]))
    with pytest.raises(ValueError, match="member_indices must have 2 rows"):
        fit_stacked(model, X, y, config=config, member_indices=torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="keep_best needs val"):
        fit_stacked(model, X, y, config=config, keep_best=True)
    with pytest.raises(ValueError, match="optimizer 'adamw' is not supported"):
        fit_stacked(model, X, y, config=TrainConfig(optimizer="adamw"))
    with pytest.raises(ValueError, match="eval_every must be an integer in"):
        fit_stacked(model, X, y, config=config, eval_every=0)


def test_evaluate_stacked_reports_each_member_and_keeps_the_mode():
    X, y = _blobs()
    model = StackedMLP(3, (3, 4, 3), seed=0, dtype=torch.float64)
    model.train()
    result = evaluate_stacked(model, X, y)
    assert result["loss"].shape == (3,) and result["accuracy"].shape == (3,)
    assert model.training
    with pytest.raises(ValueError, match="loss must be one of"):
        evaluate_stacked(model, X, y, loss="l1")
