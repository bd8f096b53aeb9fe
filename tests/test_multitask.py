"""Tests of reglab.multitask: stacked multitask networks, soft sharing, the training loop."""
import pytest
import torch
from torch import nn

from reglab import TrainConfig
from reglab.multitask import MultitaskMLP, evaluate_multitask, fit_multitask, soft_sharing_penalty

D = torch.float64


def _member_task_network(net: MultitaskMLP, m: int, t: int) -> nn.Sequential:
    """The plain torch network that member m uses for task t (a trusted reference)."""
    layers = []
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        g = 0 if w.shape[1] == 1 else t
        lin = nn.Linear(w.shape[-1], w.shape[-2]).to(D)
        with torch.no_grad():
            lin.weight.copy_(w[m, g])
            lin.bias.copy_(b[m, g, 0])
        layers.append(lin)
        if i < len(net.weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("shared_layers", [0, 1, 2])
def test_forward_matches_per_task_torch_networks(shared_layers):
    net = MultitaskMLP(3, (5, 7, 1), 4, shared_layers=shared_layers, seed=2, dtype=D)
    x = torch.randn(3, 4, 6, 5, dtype=D)
    out = net(x)
    assert out.shape == (3, 4, 6, 1)
    for m in range(3):
        for t in range(4):
            ref = _member_task_network(net, m, t)(x[m, t])
            torch.testing.assert_close(out[m, t], ref, rtol=0, atol=1e-12)


def test_shared_trunk_is_one_set_of_parameters_per_member():
    net = MultitaskMLP(2, (6, 8, 3), 5, shared_layers=1, dtype=D)
    assert net.weights[0].shape == (2, 1, 8, 6)
    assert net.weights[1].shape == (2, 5, 3, 8)
    assert net.parameters_per_member() == 6 * 8 + 8 + 5 * (8 * 3 + 3)
    separate = MultitaskMLP(2, (6, 8, 3), 5, shared_layers=0, dtype=D)
    assert separate.parameters_per_member() == 5 * (6 * 8 + 8 + 8 * 3 + 3)


def test_input_shared_by_members_equals_repeated_input():
    net = MultitaskMLP(3, (4, 5, 2), 2, shared_layers=1, dtype=D)
    x = torch.randn(2, 7, 4, dtype=D)
    torch.testing.assert_close(net(x), net(x.expand(3, -1, -1, -1)))


def test_trunk_gradient_pools_all_tasks_heads_see_only_their_task():
    net = MultitaskMLP(1, (3, 4, 1), 3, shared_layers=1, seed=0, dtype=D)
    x = torch.randn(3, 5, 3, dtype=D)
    out = net(x)
    out[0, 1].sum().backward()  # only task 1 contributes
    assert net.weights[0].grad.abs().sum() > 0
    head_grad = net.weights[1].grad[0, :, 0]
    assert head_grad[1].abs().sum() > 0
    assert head_grad[0].abs().sum() == 0 and head_grad[2].abs().sum() == 0


def test_members_train_independently():
    x = torch.randn(2, 10, 3, dtype=D)
    y = torch.randn(2, 10, 1, dtype=D)
    cfg = TrainConfig(epochs=5, lr=0.05, batch_size=4, optimizer="adam", loss="mse", seed=0)
    both = MultitaskMLP(2, (3, 4, 1), 2, shared_layers=1, seed=3, dtype=D)
    moved = MultitaskMLP(2, (3, 4, 1), 2, shared_layers=1, seed=3, dtype=D)
    fit_multitask(both, x, y, config=cfg)
    # Start member 1 elsewhere: member 0's trained parameters must not change.
    with torch.no_grad():
        for w in moved.weights:
            w[1].mul_(-3.0)
    fit_multitask(moved, x, y, config=cfg)
    torch.testing.assert_close(both.weights[0][0], moved.weights[0][0], rtol=0, atol=1e-12)


def test_training_lowers_the_loss_and_evaluate_reports_per_task():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 40, 2, generator=g, dtype=D)
    y = (x[..., :1] - 2 * x[..., 1:]).tanh()
    net = MultitaskMLP(2, (2, 8, 1), 3, shared_layers=1, seed=0, dtype=D)
    before = evaluate_multitask(net, x, y)["loss"]
    hist = fit_multitask(net, x, y, config=TrainConfig(epochs=50, lr=0.02, batch_size=40, optimizer="adam", loss="mse"))
    after = evaluate_multitask(net, x, y)["loss"]
    assert before.shape == after.shape == (2, 3)
    assert (after < before).all()
    assert len(hist.train_loss) == 50 and len(hist.train_loss[0]) == 2


def test_classification_accuracy_shape():
    x = torch.randn(2, 6, 3, dtype=D)
    y = torch.randint(0, 2, (2, 6))
    net = MultitaskMLP(4, (3, 5, 2), 2, shared_layers=1, dtype=D)
    res = evaluate_multitask(net, x, y, loss="cross_entropy")
    assert res["accuracy"].shape == (4, 2)
    assert ((res["accuracy"] >= 0) & (res["accuracy"] <= 1)).all()


def test_soft_sharing_penalty_is_squared_distance():
    a, b = nn.Linear(3, 2).to(D), nn.Linear(3, 2).to(D)
    expected = sum(((pa - pb) ** 2).sum() for pa, pb in zip(a.parameters(), b.parameters()))
    torch.testing.assert_close(soft_sharing_penalty(a, b), expected)
    assert soft_sharing_penalty(a, a).item() == 0.0


def test_soft_sharing_penalty_gradient_pulls_models_together():
    wa = torch.tensor([1.0, 2.0], dtype=D, requires_grad=True)
    wb = torch.tensor([0.0, 4.0], dtype=D, requires_grad=True)
    soft_sharing_penalty([wa], [wb]).backward()
    torch.testing.assert_close(wa.grad, 2 * (wa - wb).detach())
    torch.testing.assert_close(wb.grad, -2 * (wa - wb).detach())


def test_soft_sharing_penalty_named_pairs():
    a = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).to(D)
    b = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(D)
    only_first = soft_sharing_penalty(a, b, names=["0.weight", "0.bias"])
    torch.testing.assert_close(only_first, ((a[0].weight - b[0].weight) ** 2).sum() + ((a[0].bias - b[0].bias) ** 2).sum())
    enc = nn.Module()
    enc.encoder = nn.Linear(3, 4).to(D)
    pair = soft_sharing_penalty(enc, a, names=[("encoder.weight", "0.weight")])
    torch.testing.assert_close(pair, ((enc.encoder.weight - a[0].weight) ** 2).sum())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_models=0, sizes=(2, 3, 1), num_tasks=2, shared_layers=1), ValueError, "num_models"),
        (dict(num_models=1, sizes=(2,), num_tasks=2, shared_layers=0), ValueError, "sizes"),
        (dict(num_models=1, sizes=(2, 0, 1), num_tasks=2, shared_layers=0), ValueError, r"sizes\[1\]"),
        (dict(num_models=1, sizes=(2, 3, 1), num_tasks=0, shared_layers=0), ValueError, "num_tasks"),
        (dict(num_models=1, sizes=(2, 3, 1), num_tasks=2, shared_layers=3), ValueError, r"shared_layers must be an integer in \[0, 2\], but got 3"),
        (dict(num_models=1, sizes=(2, 3, 1), num_tasks=2, shared_layers=1.0), TypeError, "shared_layers"),
    ],
)
def test_invalid_multitask_mlp_arguments_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        MultitaskMLP(kwargs.pop("num_models"), kwargs.pop("sizes"), kwargs.pop("num_tasks"), **kwargs)


def test_wrong_input_shape_rejected():
    net = MultitaskMLP(2, (3, 4, 1), 2, shared_layers=1)
    with pytest.raises(ValueError, match=r"x must have shape \(2, n, 3\)"):
        net(torch.zeros(3, 5, 3))


def test_invalid_soft_sharing_arguments_rejected():
    a, b = nn.Linear(3, 2), nn.Linear(3, 3)
    with pytest.raises(ValueError, match="shape"):
        soft_sharing_penalty(a, b)
    with pytest.raises(TypeError, match="model_a must be an nn.Module or an iterable of tensors"):
        soft_sharing_penalty(3.0, b)
    with pytest.raises(ValueError, match="model_b has no parameter 'nope'"):
        soft_sharing_penalty(a, b, names=[("weight", "nope")])
    with pytest.raises(TypeError, match="names can only be given"):
        soft_sharing_penalty([torch.zeros(2)], [torch.zeros(2)], names=["w"])
    with pytest.raises(ValueError, match="as many tensors"):
        soft_sharing_penalty([torch.zeros(2)], [torch.zeros(2), torch.zeros(1)])
    with pytest.raises(ValueError, match="same parameter names"):
        soft_sharing_penalty(nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="empty"):
        soft_sharing_penalty(a, a, names=[])


def test_invalid_training_data_rejected():
    net = MultitaskMLP(2, (3, 4, 1), 2, shared_layers=1, dtype=D)
    cfg = TrainConfig(epochs=1, loss="mse")
    with pytest.raises(ValueError, match=r"X must have shape \(2, n, d\)"):
        fit_multitask(net, torch.zeros(3, 4, 3, dtype=D), torch.zeros(3, 4, 1, dtype=D), config=cfg)
    with pytest.raises(ValueError, match="one target per row"):
        fit_multitask(net, torch.zeros(2, 4, 3, dtype=D), torch.zeros(2, 5, 1, dtype=D), config=cfg)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        fit_multitask(net, torch.zeros(2, 4, 3, dtype=D), torch.zeros(2, 4, 1, dtype=D), config={})
    with pytest.raises(TypeError, match="integer class labels"):
        fit_multitask(net, torch.zeros(2, 4, 3, dtype=D), torch.zeros(2, 4, dtype=D), config=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="config.optimizer"):
        fit_multitask(net, torch.zeros(2, 4, 3, dtype=D), torch.zeros(2, 4, 1, dtype=D), config=TrainConfig(optimizer="adamw", loss="mse"))
    with pytest.raises(ValueError, match="loss must be one of"):
        evaluate_multitask(net, torch.zeros(2, 4, 3, dtype=D), torch.zeros(2, 4, 1, dtype=D), loss="hinge")


def test_zero_sample_weight_equals_training_without_those_rows():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 6, 3, generator=g, dtype=D)
    y = torch.randn(2, 6, 1, generator=g, dtype=D)
    cfg = TrainConfig(epochs=20, lr=0.05, batch_size=100, optimizer="adam", loss="mse", seed=0)
    padded = MultitaskMLP(1, (3, 4, 1), 2, shared_layers=1, seed=7, dtype=D)
    plain = MultitaskMLP(1, (3, 4, 1), 2, shared_layers=1, seed=7, dtype=D)
    weight = torch.ones(2, 6, dtype=D)
    weight[:, 4:] = 0.0  # the last two rows of every task are padding
    fit_multitask(padded, x, y, config=cfg, sample_weight=weight)
    fit_multitask(plain, x[:, :4], y[:, :4], config=cfg)
    for a, b in zip(padded.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_invalid_sample_weight_rejected():
    net = MultitaskMLP(2, (3, 4, 1), 2, shared_layers=1, dtype=D)
    x, y = torch.zeros(2, 4, 3, dtype=D), torch.zeros(2, 4, 1, dtype=D)
    cfg = TrainConfig(epochs=1, loss="mse")
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2, 4\) or \(2, 2, 4\)"):
        fit_multitask(net, x, y, config=cfg, sample_weight=torch.ones(2, 5, dtype=D))
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        fit_multitask(net, x, y, config=cfg, sample_weight=-torch.ones(2, 4, dtype=D))
    with pytest.raises(ValueError, match="positive total"):
        fit_multitask(net, x, y, config=cfg, sample_weight=torch.zeros(2, 4, dtype=D))


def test_weight_decay_per_model_equals_training_each_task_alone():
    # T separate networks trained together must each get the penalty alpha that it gets when
    # trained alone. The loss is a mean over tasks, so SGD's step is scaled by T to compare.
    # (Adding alpha * member_l2() to the mean loss, as before, penalised them T times harder.)
    T, n, alpha, lr = 3, 8, 0.5, 0.05
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(T, n, 3, generator=g, dtype=D), torch.randn(T, n, 1, generator=g, dtype=D)

    def config(step):
        return TrainConfig(epochs=15, lr=step, batch_size=n, optimizer="sgd", momentum=0.0, loss="mse",
                           weight_decay=alpha)

    joint = MultitaskMLP(1, (3, 4, 1), T, shared_layers=0, seed=0, dtype=D)
    start = [w.detach().clone() for w in joint.parameters()]
    fit_multitask(joint, x, y, config=config(lr * T))
    for t in range(T):
        alone = MultitaskMLP(1, (3, 4, 1), 1, shared_layers=0, seed=0, dtype=D)
        with torch.no_grad():
            for p, p0 in zip(alone.parameters(), start):
                p.copy_(p0[:, t : t + 1])
        fit_multitask(alone, x[t : t + 1], y[t : t + 1], config=config(lr))
        for p, q in zip(alone.parameters(), joint.parameters()):
            torch.testing.assert_close(p[:, 0], q[:, t], rtol=0, atol=1e-12)


def test_shared_trunk_and_heads_get_one_penalty_alpha_on_the_summed_objective():
    # With lr = 0 nothing moves; compare the gradient fit_multitask follows with the gradient of
    # sum_t L_t + alpha * member_l2(), divided by T.
    T, n, alpha = 4, 6, 0.3
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(T, n, 3, generator=g, dtype=D), torch.randn(T, n, 1, generator=g, dtype=D)
    net = MultitaskMLP(1, (3, 5, 1), T, shared_layers=1, seed=2, dtype=D)
    summed = ((net(x) - y) ** 2).sum(-1).mean(-1).sum() + alpha * net.member_l2().sum()
    expected = torch.autograd.grad(summed / T, list(net.parameters()))
    step = TrainConfig(epochs=1, lr=1.0, batch_size=n, optimizer="sgd", momentum=0.0, loss="mse", weight_decay=alpha)
    before = [p.detach().clone() for p in net.parameters()]
    fit_multitask(net, x, y, config=step)
    for p, p0, e in zip(net.parameters(), before, expected):
        torch.testing.assert_close(p0 - p.detach(), e, rtol=0, atol=1e-12)
