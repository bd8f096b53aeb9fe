"""Tests of reglab.experiments.adversarial_training (the ADV-2..ADV-4 runs) on a small problem."""
import matplotlib
import numpy as np
import pytest
import torch
from reglab import Dataset, TrainConfig
from reglab.experiments import adversarial_training as advx


def _setup():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(90, 6, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0.5).long()
    data = Dataset(X[:60], y[:60], X[60:], y[60:], 2, "toy")
    config = advx.AdversarialConfig(seeds=3, sizes=(6, 5, 2), train=TrainConfig(epochs=2, lr=0.1, batch_size=30),
                                    linear_train=TrainConfig(epochs=2, lr=0.1, batch_size=30),
                                    eps_grid=(0.0, 0.1), pgd_steps=3)
    return data, config


def test_the_two_arms_are_paired():
    # With eps = 0 adversarial training is standard training: the same networks come out only
    # if both arms share initialisations and minibatch orders.
    data, config = _setup()
    config.eps = 0.0
    a, b = advx.train_standard(data, config), advx.train_adversarial(data, config)
    for la, lb in zip(a.layers, b.layers):
        torch.testing.assert_close(la.weight, lb.weight)


def test_runs_have_one_value_per_seed():
    data, config = _setup()
    standard, robust, linear = (advx.train_standard(data, config), advx.train_adversarial(data, config),
                                advx.train_linear(data, config))
    curves = advx.accuracy_curves(standard, data, config)
    assert {k: v.shape for k, v in curves.items()} == {a: (2, 3) for a in advx.ATTACKS}
    measured = advx.evaluation(robust, data, config)
    assert set(measured) == {"clean", "FGSM", "PGD-3"}
    found = advx.transfer_rates(standard, {"linear softmax classifiers": linear, "adversarially trained": robust},
                                data, config)
    assert found["white_box"].shape == (3,)
    assert list(found["rates"])[-1] == "control: random signs, same ε"
    for v in found["rates"].values():
        assert v.shape == (3,) and (np.isnan(v) | ((0 <= v) & (v <= 1))).all()


def test_per_seed_effects_of_adv2_to_adv4():
    _, config = _setup()  # eps 0.1 sits at index 1 of the grid (0.0, 0.1)
    curves = {"fgsm": np.array([[0.9, 0.8, 0.7], [0.5, 0.6, 0.4]])}
    np.testing.assert_allclose(advx.fgsm_minus_clean(curves, torch.tensor([0.9, 0.9, 0.8]), config),
                               [-40.0, -30.0, -40.0], atol=1e-9)
    standard = {"PGD-3": np.array([0.1, 0.2, 0.3])}
    robust = {"PGD-3": np.array([0.4, 0.2, 0.35])}
    np.testing.assert_allclose(advx.pgd_gain(standard, robust, config), [30.0, 0.0, 5.0], atol=1e-9)
    found = {"rates": {"other standard networks": np.array([0.6, 0.7, 0.8]), advx.CONTROL: np.array([0.1, 0.1, 0.2])}}
    np.testing.assert_allclose(advx.transfer_minus_noise(found), [50.0, 60.0, 60.0], atol=1e-9)


def test_curves_table_one_row_per_size_at_the_nearest_grid_size():
    _, config = _setup()
    curves = {a: np.array([[1.0, 1.0, 1.0], [0.5, 0.6, 0.7]]) for a in advx.ATTACKS}
    lines = advx.curves_table(curves, config, sizes=(0.02, 0.09)).splitlines()
    assert lines[0].split() == ["eps", "random", "fgsm", "pgd"]
    assert lines[1].startswith("0.000") and lines[2].startswith("0.100")
    assert lines[2].split()[1:4] == ["60.0", "±", "24.8"]


def test_one_member_is_a_row_of_the_stack():
    data, config = _setup()
    standard = advx.train_standard(data, config)
    member = advx.one_member(standard, 2)
    torch.testing.assert_close(member(data.x_test), standard(data.x_test)[2])
    p = advx.confidences(member, data.x_test)
    torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[0], dtype=p.dtype))
    with pytest.raises(ValueError, match=r"m must be an integer in \[0, 2\], but got 3"):
        advx.one_member(standard, 3)


def test_plot_attack_draws_the_three_images_and_the_confidences():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, 16, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0.5).long()
    data = Dataset(X[:30], y[:30], X[30:], y[30:], 2, "toy 4x4")
    config = advx.AdversarialConfig(seeds=2, sizes=(16, 5, 2), train=TrainConfig(epochs=2, lr=0.1, batch_size=10))
    model = advx.one_member(advx.train_standard(data, config), 0)
    fig, axes = plt.subplots(1, 4)
    p_clean, p_adv = advx.plot_attack(axes, model, X[35], y[35], 0.2)
    assert p_clean.shape == p_adv.shape == (2,)
    assert axes[1].get_title() == "+ 0.20 × sign(∇ₓJ)"
    assert axes[0].images[0].get_array().shape == (4, 4) and len(axes[3].patches) == 4
    with pytest.raises(ValueError, match="x must be a square image flattened, but it has 15 pixels"):
        advx.plot_attack(axes, model, X[35, :15], y[35], 0.2)
    plt.close(fig)


def test_adv2_to_adv4_are_registered_here():
    from reglab.derivations import get_result

    assert {get_result(r).chapter for r in ("ADV-2", "ADV-3", "ADV-4")} == {"adversarial_training"}


def test_noise_control_counts_the_transfer_rates_population():
    # The first edition's control counted every image the source gets right (the white-box
    # population), while the transfer rate counts only images that fooled the source and that
    # the target gets right: the control now uses the same images, targets and rule.
    data, config = _setup()
    config.eps = 0.3
    standard = advx.train_standard(data, config)
    found = advx.transfer_rates(standard, {}, data, config)
    x, y, S = data.x_test, data.y_test, config.seeds
    signs = torch.rand((S, *x.shape), generator=torch.Generator().manual_seed(config.noise_seed), dtype=x.dtype) < 0.5
    noise = (x + config.eps * (2 * signs - 1)).clamp(0, 1)
    with torch.no_grad():
        clean = standard(x).argmax(-1)
        expected = []
        for s in range(S):
            rates = []
            for t in range(S):
                if t == s:
                    continue
                eligible = found["source_fooled"][s] & (clean[t] == y)
                wrong = standard(noise[s])[t].argmax(-1) != y
                rates.append(float((wrong & eligible).sum()) / float(eligible.sum()))
            expected.append(np.mean(rates))
    assert found["source_fooled"].any(dim=1).all()
    np.testing.assert_allclose(found["rates"][advx.CONTROL], expected, atol=1e-12)


def test_chapter_states_paired_differences_where_it_compares():
    # "costs no clean accuracy" (0.1 +- 1.4), "FGSM does not flatter them" (2.1 vs 4.0) and "the
    # attack from the true labels is the stronger one" (80.9 +- 2.7 vs 82.7 +- 2.3) were read off
    # unpaired numbers; the chapter now pastes the paired intervals.
    import json

    from conftest import ROOT

    nb = json.loads((ROOT / "book" / "adversarial_training.ipynb").read_text(encoding="utf-8"))
    prose = " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    assert "costs no clean accuracy" not in prose and "does not flatter" not in prose
    assert prose.count("indistinguishable from zero") >= 2
    for key in ("adv_gap_diff:", "adv_gap_diff_02:", "adv_leak_diff:"):
        assert key in prose, key
