"""Tests of reglab.adversarial: FGSM, PGD, robust accuracy, the adversarial-training transform."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab.adversarial import AdversarialTransform, fgsm, pgd, robust_accuracy
from reglab.training import StackedMLP, TrainConfig, fit_stacked

DT = torch.float64


def _linear(d=6, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(d, 2, dtype=DT)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(DT)


def _batch(n=8, d=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g, dtype=DT), torch.randint(0, 3, (n,), generator=g)


def test_fgsm_on_linear_model_steps_along_sign_of_margin_weights():
    model = _linear()
    x = torch.rand(4, 6, dtype=DT)
    y = torch.zeros(4, dtype=torch.long)
    w = (model.weight[1] - model.weight[0]).detach()
    x_adv = fgsm(model, x, y, 0.03)
    torch.testing.assert_close(x_adv - x, 0.03 * w.sign().expand(4, -1), rtol=0, atol=1e-15)
    with torch.no_grad():
        gained = (model(x_adv) - model(x))[:, 1] - (model(x_adv) - model(x))[:, 0]
    torch.testing.assert_close(gained, torch.full((4,), 0.03 * w.abs().sum().item(), dtype=DT))


def test_fgsm_matches_torch_autograd_reference():
    model = _mlp()
    x, y = _batch()
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(model(xr), y).backward()
    expected = x + 0.1 * xr.grad.sign()
    torch.testing.assert_close(fgsm(model, x, y, 0.1), expected, rtol=0, atol=1e-15)


def test_fgsm_respects_clamp_and_eps():
    model = _mlp()
    x, y = _batch()
    x_adv = fgsm(model, x, y, 0.4, clamp=(0.0, 1.0))
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() <= 0.4 + 1e-15


def test_fgsm_with_zero_eps_returns_the_input_and_leaves_parameter_grads_alone():
    model = _mlp()
    x, y = _batch()
    torch.testing.assert_close(fgsm(model, x, y, 0.0), x, rtol=0, atol=0)
    fgsm(model, x, y, 0.1)
    assert all(p.grad is None for p in model.parameters())


def test_fgsm_works_inside_no_grad():
    model = _mlp()
    x, y = _batch()
    with torch.no_grad():
        x_adv = fgsm(model, x, y, 0.1)
    assert not torch.equal(x_adv, x)


def test_fgsm_custom_loss_gives_a_targeted_step():
    model = _mlp()
    x, y = _batch()
    goal = torch.full_like(y, 2)
    x_adv = fgsm(model, x, goal, 0.05, loss_fn=lambda out, t: -F.cross_entropy(out, t, reduction="sum"))
    with torch.no_grad():
        before = F.cross_entropy(model(x), goal)
        after = F.cross_entropy(model(x_adv), goal)
    assert after < before


def test_fgsm_attacks_each_stacked_member_with_its_own_gradient():
    model = StackedMLP(3, (5, 7, 3), seed=0, dtype=DT)
    x, y = _batch()
    x_adv = fgsm(model, x, y, 0.1)
    assert x_adv.shape == (3, 8, 5)
    for m in range(3):
        alone = fgsm(lambda inp, m=m: model(inp)[m], x, y, 0.1)
        torch.testing.assert_close(x_adv[m], alone, rtol=0, atol=0)


@pytest.mark.parametrize("eps", [-0.1, math.nan, math.inf])
def test_invalid_eps_rejected(eps):
    x, y = _batch()
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\), but got"):
        fgsm(_mlp(), x, y, eps)


def test_non_numeric_eps_rejected():
    x, y = _batch()
    with pytest.raises(TypeError, match="eps must be a real number"):
        fgsm(_mlp(), x, y, "0.1")


@pytest.mark.parametrize(
    "clamp, message",
    [
        ((1.0, 0.0), r"low < high, but got \(1.0, 0.0\)"),
        ((0.5, 0.5), "low < high"),
        ((0.0,), r"a pair \(low, high\)"),
        ("01", r"a pair \(low, high\)"),
        ((0.0, math.inf), r"clamp\[1\] must be in \(-inf, inf\)"),
        ((math.nan, 1.0), r"clamp\[0\] must be in"),
    ],
)
def test_invalid_clamp_rejected(clamp, message):
    x, y = _batch()
    with pytest.raises(ValueError, match=message):
        fgsm(_mlp(), x, y, 0.1, clamp=clamp)


def test_invalid_model_and_inputs_rejected():
    x, y = _batch()
    with pytest.raises(TypeError, match="model must be an nn.Module or a callable"):
        fgsm("model", x, y, 0.1)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        fgsm(_mlp(), torch.ones(8, 5, dtype=torch.long), y, 0.1)
    with pytest.raises(ValueError, match="x holds 8 examples but y holds 7 labels"):
        fgsm(_mlp(), x, y[:7], 0.1)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        fgsm(_mlp(), x, y, 0.1, loss_fn=lambda out, t: F.cross_entropy(out, t, reduction="none"))


def test_pgd_stays_in_the_ball_and_in_the_clamp_range():
    model = _mlp()
    x, y = _batch(n=50)
    x_adv = pgd(model, x, y, 0.2, step_size=0.07, steps=8, clamp=(0.0, 1.0), generator=torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= 0.2 + 1e-12
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_without_random_start_and_one_full_step_is_fgsm():
    model = _mlp()
    x, y = _batch()
    torch.testing.assert_close(
        pgd(model, x, y, 0.1, step_size=0.1, steps=1, random_start=False), fgsm(model, x, y, 0.1), rtol=0, atol=1e-15
    )


def test_pgd_is_reproducible_with_a_generator_and_raises_the_loss():
    model = _mlp()
    x, y = _batch(n=50)
    runs = [pgd(model, x, y, 0.1, step_size=0.03, steps=10, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    with torch.no_grad():
        assert F.cross_entropy(model(runs[0]), y) > F.cross_entropy(model(x), y)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(step_size=0.0, steps=3), ValueError, r"step_size must be in \(0, inf\)"),
        (dict(step_size=0.1, steps=0), ValueError, r"steps must be an integer in \[1, inf\], but got 0"),
        (dict(step_size=0.1, steps=2.5), TypeError, "steps must be an integer"),
        (dict(step_size=0.1, steps=2, random_start=1), TypeError, "random_start must be a bool"),
    ],
)
def test_invalid_pgd_settings_rejected(kwargs, error, message):
    x, y = _batch()
    with pytest.raises(error, match=message):
        pgd(_mlp(), x, y, 0.1, **kwargs)


def test_robust_accuracy_at_zero_eps_is_clean_accuracy_and_falls_under_attack():
    model = StackedMLP(2, (5, 7, 3), seed=0, dtype=DT)
    x, y = _batch(n=40)
    with torch.no_grad():
        clean = (model(x).argmax(-1) == y).double().mean(-1)
    torch.testing.assert_close(robust_accuracy(model, x, y, 0.0), clean)
    for attack in ("fgsm", "pgd"):
        assert (robust_accuracy(model, x, y, 0.5, attack=attack, generator=torch.Generator().manual_seed(0)) <= clean).all()
    assert robust_accuracy(model, x, y, 0.1, attack="random", generator=torch.Generator().manual_seed(0)).shape == (2,)


def test_robust_accuracy_rejects_unknown_attack():
    x, y = _batch()
    with pytest.raises(ValueError, match="attack must be one of 'fgsm', 'pgd', 'random', but got 'cw'"):
        robust_accuracy(_mlp(), x, y, 0.1, attack="cw")


def test_transform_replaces_the_stated_fraction_of_each_batch():
    model = StackedMLP(2, (5, 7, 3), seed=0, dtype=DT)
    xb = torch.rand(2, 10, 5, dtype=DT)
    yb = torch.randint(0, 3, (2, 10))
    x_new, y_new = AdversarialTransform(0.1, fraction=0.3)(xb, yb, model)
    assert torch.equal(y_new, yb) and torch.equal(x_new[:, 3:], xb[:, 3:])
    torch.testing.assert_close(x_new[:, :3], fgsm(model, xb[:, :3], yb[:, :3], 0.1), rtol=0, atol=0)
    same, _ = AdversarialTransform(0.1, fraction=0.0)(xb, yb, model)
    assert same is xb
    x_pgd, _ = AdversarialTransform(0.1, fraction=1.0, attack="pgd", clamp=(0, 1))(xb, yb, model)
    assert (x_pgd - xb).abs().max() <= 0.1 + 1e-12


def test_transform_trains_stacked_models_through_fit_stacked():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(60, 5, generator=g, dtype=DT)
    y = (X[:, 0] > 0.5).long()
    model = StackedMLP(2, (5, 8, 2), seed=0, dtype=DT)
    history = fit_stacked(model, X, y, config=TrainConfig(epochs=2, batch_size=20), transform=AdversarialTransform(0.05))
    assert len(history.train_loss) == 2 and len(history.train_loss[0]) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(eps=0.1, fraction=1.5), r"fraction must be in \[0, 1\], but got 1.5"),
        (dict(eps=-1.0), r"eps must be in \[0, inf\)"),
        (dict(eps=0.1, attack="bim"), "attack must be one of 'fgsm', 'pgd'"),
        (dict(eps=0.1, steps=3), "steps and step_size apply to attack='pgd' only"),
        (dict(eps=0.1, clamp=(1, 0)), "low < high"),
    ],
)
def test_invalid_transform_settings_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdversarialTransform(**kwargs)


def test_attacks_leave_batchnorm_statistics_alone():
    import torch
    from torch import nn

    from reglab import fgsm, pgd

    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double().train()
    before = {n: b.clone() for n, b in model.named_buffers()}
    x = torch.rand(16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(16, dtype=torch.long)
    fgsm(model, x, y, 0.1)
    pgd(model, x, y, 0.1, step_size=0.05, steps=3, generator=torch.Generator().manual_seed(1))
    for n, b in model.named_buffers():
        assert torch.equal(b, before[n]), f"{n} changed"
    model.eval()
    fgsm(model, x, y, 0.1)  # eval mode: BatchNorm's buffers feed the backward pass


def test_robust_accuracy_measures_in_eval_mode_and_restores_the_mode():
    import torch
    from torch import nn

    from reglab import robust_accuracy

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.9), nn.Linear(8, 3)).double().train()
    x = torch.rand(32, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = model.eval()(x).argmax(-1)
    model.train()
    assert robust_accuracy(model, x, y, 0.0).item() == 1.0  # dropout off while measuring
    assert model.training


def test_inputs_outside_clamp_are_rejected_so_attacks_stay_in_the_ball():
    import pytest
    import torch
    from torch import nn

    from reglab import fgsm, pgd, robust_accuracy

    model = nn.Linear(3, 2).double()
    x = torch.tensor([[1.2, 0.5, 0.5]], dtype=torch.float64)
    y = torch.zeros(1, dtype=torch.long)
    for attack in (lambda: fgsm(model, x, y, 0.1, clamp=(0, 1)),
                   lambda: pgd(model, x, y, 0.1, step_size=0.05, steps=2, clamp=(0, 1)),
                   lambda: robust_accuracy(model, x, y, 0.0, clamp=(0, 1))):
        with pytest.raises(ValueError, match=r"x must lie within clamp=\(0, 1\)"):
            attack()
    inside = torch.tensor([[1.0, 0.0, 0.5]], dtype=torch.float64)
    adv = pgd(model, inside, y, 0.1, step_size=0.05, steps=5, clamp=(0, 1), generator=torch.Generator().manual_seed(0))
    assert (adv - inside).abs().max() <= 0.1 + 1e-12 and adv.min() >= 0 and adv.max() <= 1
