"""Tests of reglab.sparse_coding: activation L1 penalty, fraction inactive, OMP, dictionary learning."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import orthogonal_mp
from torch import nn

from reglab import StackedMLP, TrainConfig, fit_stacked
from reglab.sparse_coding import ActivationL1, activation_l1, fraction_inactive, learn_dictionary, omp


def _problem(d, m, n, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d, m, generator=g, dtype=dtype)
    W = W / W.norm(dim=0)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    return W, X


# ---- omp ------------------------------------------------------------------------------------


@pytest.mark.parametrize("d, m, k", [(64, 128, 8), (20, 30, 5), (10, 10, 10), (5, 40, 1)])
@pytest.mark.parametrize("seed", [0, 1])
def test_omp_matches_sklearn_orthogonal_mp(d, m, k, seed):
    W, X = _problem(d, m, 50, seed)
    ours = omp(W, X, k).numpy()
    ref = orthogonal_mp(W.numpy(), X.numpy().T, n_nonzero_coefs=k).T
    np.testing.assert_array_equal(ours != 0, ref != 0)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_omp_tol_matches_sklearn_tol_when_k_allows_every_atom():
    W, X = _problem(16, 24, 30, 3)
    tol = 2.0
    ours = omp(W, X, 24, tol=tol).numpy()
    ref = orthogonal_mp(W.numpy(), X.numpy().T, tol=tol).T
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    assert (((X.numpy() - ours @ W.numpy().T) ** 2).sum(1) <= tol + 1e-9).all()


def test_omp_single_signal_equals_its_row_of_the_batch():
    W, X = _problem(12, 20, 6, 4)
    batch = omp(W, X, 4)
    for i in range(X.shape[0]):
        single = omp(W, X[i], 4)
        assert single.shape == (20,)
        torch.testing.assert_close(single, batch[i], rtol=0, atol=1e-12)


def test_omp_gives_at_most_k_nonzeros():
    W, X = _problem(30, 60, 40, 5)
    h = omp(W, X, 7)
    assert h.shape == (40, 60)
    assert ((h != 0).sum(1) <= 7).all()


def test_perfect_signal_recovery_with_incoherent_dictionary():
    # Identity + orthonormal DCT-like basis (random rotation): a 3-sparse signal is recovered.
    d = 32
    g = torch.Generator().manual_seed(6)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    W = torch.cat([torch.eye(d, dtype=torch.float64), Q], dim=1)
    h_true = torch.zeros(2 * d, dtype=torch.float64)
    h_true[[3, 17, 40]] = torch.tensor([1.5, -2.0, 1.0], dtype=torch.float64)
    h = omp(W, W @ h_true, 3)
    torch.testing.assert_close(h, h_true, rtol=0, atol=1e-12)


def test_omp_with_orthonormal_dictionary_keeps_the_k_largest_correlations():
    g = torch.Generator().manual_seed(7)
    Q, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
    x = torch.randn(10, generator=g, dtype=torch.float64)
    c = Q.T @ x
    keep = c.abs().topk(4).indices
    expected = torch.zeros(10, dtype=torch.float64)
    expected[keep] = c[keep]
    torch.testing.assert_close(omp(Q, x, 4), expected, rtol=0, atol=1e-12)


def test_omp_divides_correlations_by_atom_norms():
    W = torch.tensor([[1.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
    x = torch.tensor([2.0, 1.0], dtype=torch.float64)  # |w2^T x| = 10 > 2, but per unit norm 1 < 2
    torch.testing.assert_close(omp(W, x, 1), torch.tensor([2.0, 0.0], dtype=torch.float64))


def test_omp_float32_close_to_float64():
    W, X = _problem(20, 40, 10, 8)
    h64 = omp(W, X, 5)
    h32 = omp(W.float(), X.float(), 5)
    assert h32.dtype == torch.float32
    torch.testing.assert_close(h32.double(), h64, rtol=0, atol=1e-4)


def test_omp_stops_on_exact_fit_and_on_dependent_atoms():
    W = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)  # atoms 0 and 1 equal
    x = torch.tensor([3.0, 0.0], dtype=torch.float64)
    h = omp(W, x, 3)
    assert (h != 0).sum() == 1
    torch.testing.assert_close(W @ h, x)
    assert omp(W, torch.zeros(2, dtype=torch.float64), 2).abs().sum() == 0


def test_omp_restores_the_thread_count():
    before = torch.get_num_threads()
    W, X = _problem(8, 12, 4, 9)
    omp(W, X, 2)
    assert torch.get_num_threads() == before


def test_omp_rejects_k_larger_than_the_number_of_atoms():
    W, X = _problem(8, 12, 3, 0)
    with pytest.raises(ValueError, match="cannot be more than the number of atoms: k=13, but W has 12"):
        omp(W, X, 13)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k": 0}, ValueError, r"k must be an integer in \[1, inf\], but got 0"),
        ({"k": 2.0}, TypeError, "k must be an integer"),
        ({"k": 2, "tol": -1.0}, ValueError, r"tol must be in \[0, inf\)"),
        ({"W": torch.ones(8, dtype=torch.float64)}, ValueError, "W must have 2 dimensions"),
        ({"W": np.ones((8, 12))}, TypeError, "W must be a torch.Tensor"),
        ({"x": torch.ones(7, dtype=torch.float64)}, ValueError, "x must have 8 entries per signal"),
        ({"x": torch.ones(2, 3, 8, dtype=torch.float64)}, ValueError, "x must have 1 or 2 dimensions"),
        ({"x": torch.ones(8, dtype=torch.float32)}, TypeError, "same dtype"),
        ({"x": torch.ones(8, dtype=torch.long)}, TypeError, "x must be a floating-point tensor"),
        ({"x": torch.full((8,), float("nan"), dtype=torch.float64)}, ValueError, "only finite"),
    ],
)
def test_omp_bad_input_rejected(kwargs, error, match):
    W, X = _problem(8, 12, 3, 0)
    args = {"W": W, "x": X[0], "k": 2, **kwargs}
    with pytest.raises(error, match=match):
        omp(args.pop("W"), args.pop("x"), args.pop("k"), **args)


# ---- activation penalty ---------------------------------------------------------------------


def test_activation_l1_sums_units_and_layers_and_averages_examples():
    h1 = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    h2 = torch.tensor([[4.0], [0.0]])
    assert activation_l1([h1, h2]).item() == pytest.approx((3 + 3 + 4) / 2)
    stacked = torch.stack([h1, 2 * h1])
    torch.testing.assert_close(activation_l1(stacked), torch.tensor([3.0, 6.0]))


def test_activation_l1_hooks_match_the_direct_computation():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(7, 5)
    with ActivationL1([net[1], net[3]], alpha=0.5) as act:
        net(x)
        got = act.penalty()
    h1 = net[1](net[0](x))
    h2 = net[3](net[2](h1))
    expected = 0.5 * (h1.abs().sum(1).mean() + h2.abs().sum(1).mean())
    torch.testing.assert_close(got, expected)
    assert all(not m._forward_hooks for m in net)  # hooks removed on exit


def test_activation_l1_on_a_stacked_mlp_gives_one_penalty_per_member():
    model = StackedMLP(3, (4, 5, 5, 2), seed=1, dtype=torch.float64)
    alpha = torch.tensor([0.0, 0.1, 1.0], dtype=torch.float64)
    x = torch.randn(6, 4, dtype=torch.float64)
    with ActivationL1(model.layers[:-1], alpha, transform=torch.relu) as act:
        model(x)
        got = act()
    torch.testing.assert_close(got, alpha * activation_l1(model.hidden))


def test_activation_penalty_raises_inactive_fraction_in_fit_stacked():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(200, 6, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    model = StackedMLP(2, (6, 16, 2), seed=0, dtype=torch.float64)
    alpha = torch.tensor([0.0, 0.1], dtype=torch.float64)
    penalty = ActivationL1(model.layers[:-1], alpha, transform=torch.relu)
    config = TrainConfig(epochs=8, lr=2e-2, batch_size=100, optimizer="adam")
    with penalty:
        fit_stacked(model, X, y, config=config, extra_loss=penalty)
    model(X)
    off = fraction_inactive(model.hidden)
    assert off[1] > off[0]


def test_activation_l1_penalty_before_a_forward_pass_is_an_error():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with ActivationL1(net[1], alpha=1.0) as act:
        with pytest.raises(RuntimeError, match="run a forward pass"):
            act.penalty()


@pytest.mark.parametrize(
    "modules, alpha, error, match",
    [
        ([], 1.0, ValueError, "at least one nn.Module"),
        (["relu"], 1.0, TypeError, r"modules\[0\] must be an nn.Module"),
        (3, 1.0, TypeError, "modules must be an nn.Module or an iterable"),
        (nn.ReLU(), -0.1, ValueError, r"alpha must be in \[0, inf\)"),
        (nn.ReLU(), torch.tensor([0.1, -0.1]), ValueError, "alpha must be >= 0 for every member"),
        (nn.ReLU(), "big", TypeError, "alpha must be a real number"),
    ],
)
def test_activation_l1_bad_input_rejected(modules, alpha, error, match):
    with pytest.raises(error, match=match):
        ActivationL1(modules, alpha)


def test_activation_l1_function_bad_input_rejected():
    with pytest.raises(ValueError, match="at least one tensor"):
        activation_l1([])
    with pytest.raises(ValueError, match="must share their leading"):
        activation_l1([torch.ones(3, 2), torch.ones(4, 2)])
    with pytest.raises(ValueError, match="2 or 3 dimensions"):
        activation_l1(torch.ones(3))


# ---- fraction_inactive ------------------------------------------------------------------------


def test_fraction_inactive_per_entry_and_per_unit():
    h = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    assert fraction_inactive(h).item() == pytest.approx(3 / 6)
    assert fraction_inactive(h, per_unit=True).item() == pytest.approx(1 / 3)
    assert fraction_inactive(h, threshold=1.5).item() == pytest.approx(4 / 6)
    stacked = torch.stack([h, torch.ones_like(h)])
    torch.testing.assert_close(fraction_inactive(stacked), torch.tensor([0.5, 0.0], dtype=torch.float64))


def test_fraction_inactive_bad_input_rejected():
    with pytest.raises(ValueError, match=r"threshold must be in \[0, inf\)"):
        fraction_inactive(torch.ones(2, 2), threshold=-1.0)
    with pytest.raises(TypeError, match="per_unit must be True or False"):
        fraction_inactive(torch.ones(2, 2), per_unit=1)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        fraction_inactive([[0.0, 1.0]])


# ---- learn_dictionary ---------------------------------------------------------------------------


def test_learned_dictionary_has_unit_atoms_and_fits_better_than_its_start():
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(10, 15, generator=g, dtype=torch.float64)
    codes = torch.zeros(300, 15, dtype=torch.float64)
    for i in range(300):
        codes[i, torch.randperm(15, generator=g)[:2]] = torch.randn(2, generator=g, dtype=torch.float64)
    X = codes @ atoms.T
    W, errors = learn_dictionary(X, 15, 2, iterations=8, seed=1)
    assert W.shape == (10, 15)
    torch.testing.assert_close(W.norm(dim=0), torch.ones(15, dtype=torch.float64))
    assert errors[-1] < 0.5 * errors[0]


def test_learn_dictionary_bad_input_rejected():
    X = torch.randn(20, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"m must be an integer in \[1, 20\]"):
        learn_dictionary(X, 21, 2)
    with pytest.raises(ValueError, match="cannot be more than the number of atoms"):
        learn_dictionary(X, 3, 4)
    with pytest.raises(ValueError, match=r"iterations must be an integer in \[1, inf\]"):
        learn_dictionary(X, 5, 2, iterations=0)
