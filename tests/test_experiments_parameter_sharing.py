"""Tests of reglab.experiments.parameter_sharing: the stacked MNIST-1D CNN and the PS-3 run."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reglab import TrainConfig, mnist1d
from reglab.experiments.parameter_sharing import CnnVsMlp, StackedConvNet, cnn_vs_mlp, per_seed_gain

D = torch.float64


def test_parameter_count():
    assert StackedConvNet(2, channels=25).parameters_per_member() == 150 + 1900 + 1900 + 125 * 10 + 10


def test_stacked_cnn_member_equals_torch_cnn():
    net = StackedConvNet(3, length=40, channels=4, seed=1, dtype=D)
    x = torch.randn(6, 40, dtype=D)
    out = net(x)
    m = 1
    h = x.unsqueeze(1)
    for w, b in zip(net.weights, net.biases):
        h = torch.relu(F.conv1d(h, w[m], b[m], stride=2, padding=1))
    feats = h.transpose(1, 2).reshape(6, -1)  # channels last, as the stacked model flattens
    ref = feats @ net.head.weight[m].T + net.head.bias[m]
    torch.testing.assert_close(out[m], ref, rtol=0, atol=1e-12)
    assert out.shape == (3, 6, 10)


def test_stacked_cnn_member_l2():
    net = StackedConvNet(2, channels=3, dtype=D)
    m0 = 0.5 * (sum(w[0].pow(2).sum() for w in net.weights) + net.head.weight[0].pow(2).sum())
    torch.testing.assert_close(net.member_l2()[0], m0)


def test_short_run_returns_one_accuracy_per_seed():
    data = mnist1d()
    small = type(data)(data.x_train[:200], data.y_train[:200], data.x_test[:100], data.y_test[:100],
                       data.num_classes, data.name)
    cfg = CnnVsMlp(channels=3, hidden=(8,), seeds=2, eval_every=1,
                   train=TrainConfig(epochs=2, lr=0.01, batch_size=50, optimizer="adam"))
    out = cnn_vs_mlp(small, cfg)
    assert set(out["final"]) == {"CNN", "MLP"}
    assert all(v.shape == (2,) and ((0 <= v) & (v <= 1)).all() for v in out["final"].values())
    assert out["parameters"]["MLP"] == 40 * 8 + 8 + 8 * 10 + 10
    epochs, acc = out["curves"]["CNN"]
    assert list(epochs) == [1, 2] and acc.shape == (2, 2)


def test_default_config_matches_the_chapter():
    cfg = CnnVsMlp()
    assert (cfg.channels, cfg.hidden, cfg.seeds) == (25, (100, 100), 5)
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.batch_size, cfg.train.optimizer) == (20, 0.01, 50, "adam")


def test_invalid_arguments_rejected():
    with pytest.raises(ValueError, match=r"x must have shape \(b, 40\)"):
        StackedConvNet(2, channels=2)(torch.zeros(3, 2, 40))
    with pytest.raises(ValueError, match="num_models"):
        StackedConvNet(0)
    with pytest.raises(TypeError, match="data must be a Dataset"):
        cnn_vs_mlp("mnist1d")
    with pytest.raises(TypeError, match="config must be a CnnVsMlp"):
        cnn_vs_mlp(mnist1d(), {"epochs": 1})


def test_per_seed_gain_is_cnn_minus_mlp_in_points():
    result = {"final": {"CNN": np.array([0.95, 0.9, 0.93]), "MLP": np.array([0.7, 0.72, 0.9])}}
    np.testing.assert_allclose(per_seed_gain(result), [25.0, 18.0, 3.0], atol=1e-12)
    with pytest.raises(TypeError, match="result must be the dict returned by cnn_vs_mlp"):
        per_seed_gain({"final": {"CNN": np.ones(2)}})


def test_ps3_is_registered_here():
    from reglab.derivations import get_result

    result = get_result("PS-3")
    assert result.kind == "experiment" and result.expected == "increase" and result.unit == "points"


def test_chapter_does_not_credit_weight_tying_alone():
    # The CNN differs from the MLP by local windows, stride and depth as well as tied weights.
    import json

    from conftest import ROOT

    nb = json.loads((ROOT / "book" / "parameter_sharing.ipynb").read_text(encoding="utf-8"))
    prose = " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    assert "the tied, translation-equivariant network wins" not in prose
    assert "stride 2" in prose and "locally connected" in prose
