"""Tests of reglab.data: shapes, determinism, known answers, bad input."""
import numpy as np
import pytest
import torch

from reglab.data import Dataset, digits, mnist1d, polynomial_regression, quadratic_problem


# --- mnist1d -----------------------------------------------------------------------------------
def test_mnist1d_has_the_documented_shape_and_classes():
    d = mnist1d()
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.x_train.dtype == torch.float64 and d.y_train.dtype == torch.long
    assert d.num_classes == 10 and set(d.y_train.unique().tolist()) == set(range(10))


def test_mnist1d_is_deterministic_and_follows_the_dtype():
    a, b = mnist1d(), mnist1d(dtype=torch.float32)
    assert torch.equal(a.x_train.float(), b.x_train)
    assert torch.equal(mnist1d().y_test, a.y_test)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_mnist1d_rejects_seeds_out_of_range(bad):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 4294967295\]"):
        mnist1d(seed=bad)


def test_mnist1d_rejects_non_integer_seeds():
    with pytest.raises(TypeError, match="seed must be an integer"):
        mnist1d(seed=1.0)


# --- digits ------------------------------------------------------------------------------------
def test_digits_are_the_scaled_scikit_learn_images():
    from sklearn.datasets import load_digits

    d = digits()
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    all_images = torch.cat([d.x_train, d.x_test]) * 16
    reference = torch.as_tensor(load_digits().data, dtype=torch.float64)
    # The split is a permutation of the bundled images.
    assert torch.equal(all_images.sum(0), reference.sum(0))


def test_digits_split_is_stratified():
    d = digits(test_fraction=0.2, seed=1)
    train_share = torch.bincount(d.y_train) / len(d.y_train)
    test_share = torch.bincount(d.y_test) / len(d.y_test)
    assert (train_share - test_share).abs().max() < 0.02


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, float("nan")])
def test_digits_rejects_bad_test_fractions(bad):
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
        digits(test_fraction=bad)


def test_digits_rejects_bad_seed():
    with pytest.raises(TypeError, match="seed must be an integer"):
        digits(seed="0")


# --- Dataset -----------------------------------------------------------------------------------
def _toy():
    x = torch.arange(20, dtype=torch.float64).reshape(10, 2)
    y = torch.arange(10) % 2
    return Dataset(x, y, x[:3], y[:3], 2, "toy")


def test_validation_split_partitions_the_training_set():
    rest, (xv, yv) = _toy().validation_split(0.3, seed=0)
    assert len(xv) == 3 and len(rest.x_train) == 7
    together = torch.cat([rest.x_train[:, 0], xv[:, 0]]).sort().values
    assert torch.equal(together, _toy().x_train[:, 0])


def test_subset_keeps_the_test_set_and_is_seeded():
    a, b = _toy().subset(4, seed=3), _toy().subset(4, seed=3)
    assert torch.equal(a.x_train, b.x_train) and len(a.x_train) == 4
    assert torch.equal(a.x_test, _toy().x_test)


def test_dataset_methods_reject_bad_input():
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\)"):
        _toy().validation_split(1.0)
    with pytest.raises(ValueError, match=r"n_train must be an integer in \[1, 10\]"):
        _toy().subset(11)
    with pytest.raises(TypeError, match="seed must be an integer"):
        _toy().subset(3, seed=0.5)


def test_dataset_repr_names_the_shapes():
    assert repr(_toy()) == "Dataset('toy': train (10, 2), test (3, 2), classes=2)"


# --- polynomial_regression ---------------------------------------------------------------------
def test_noise_free_polynomial_data_lie_on_the_polynomial():
    data, coef = polynomial_regression(50, n_test=30, true_degree=4, noise=0.0, seed=2)
    assert coef.shape == (5,)
    x = data.x_train[:, 0]
    assert torch.allclose(data.y_train, sum(c * x**i for i, c in enumerate(coef)))
    assert data.x_test.shape == (30, 1) and data.num_classes == 0


def test_polynomial_noise_has_the_stated_standard_deviation():
    data, coef = polynomial_regression(20000, n_test=1, true_degree=2, noise=0.5, seed=0)
    x = data.x_train[:, 0]
    residual = data.y_train - sum(c * x**i for i, c in enumerate(coef))
    # The standard error of a sample std from 20000 Gaussian draws is 0.5/sqrt(40000) = 0.0025.
    assert residual.std().item() == pytest.approx(0.5, abs=4 * 0.0025)
    assert -1 <= x.min() and x.max() <= 1


def test_polynomial_coefficients_do_not_depend_on_the_sample_size():
    assert torch.equal(polynomial_regression(5, seed=4)[1], polynomial_regression(500, seed=4)[1])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_train=0), "n_train"),
        (dict(n_train=10, n_test=0), "n_test"),
        (dict(n_train=10, true_degree=-1), "true_degree"),
        (dict(n_train=10, noise=-0.1), "noise"),
        (dict(n_train=10, seed=-1), "seed"),
    ],
)
def test_polynomial_regression_rejects_values_out_of_range(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be"):
        polynomial_regression(**kwargs)


def test_polynomial_regression_rejects_a_non_integer_size():
    with pytest.raises(TypeError, match="n_train must be an integer"):
        polynomial_regression(10.0)


# --- quadratic_problem -------------------------------------------------------------------------
def test_quadratic_problem_has_the_requested_spectrum():
    lam = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64)
    H, w_star, Q, eig = quadratic_problem(3, eigenvalues=lam, seed=1)
    assert torch.allclose(torch.linalg.eigvalsh(H), lam)
    assert torch.allclose(Q.T @ Q, torch.eye(3, dtype=torch.float64))
    assert torch.equal(H, H.T) and w_star.shape == (3,)


def test_quadratic_problem_default_spectrum_is_log_spaced():
    _, _, _, eig = quadratic_problem(4)
    assert np.allclose(np.log10(eig.numpy()), [-2, -1, 0, 1])


def test_quadratic_problem_rejects_bad_input():
    with pytest.raises(ValueError, match=r"eigenvalues must have shape \(3,\)"):
        quadratic_problem(3, eigenvalues=torch.ones(2))
    with pytest.raises(ValueError, match="eigenvalues must all be > 0"):
        quadratic_problem(2, eigenvalues=torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"dim must be an integer in \[1, inf\]"):
        quadratic_problem(0)


def test_mnist1d_is_generated_once_then_read_from_the_cache(tmp_path, monkeypatch):
    from reglab import data as data_module

    monkeypatch.setenv("REGLAB_CACHE", str(tmp_path))
    data_module._mnist1d_arrays.cache_clear()
    generated = data_module._mnist1d_arrays(7)
    (stored,) = tmp_path.glob("mnist1d-*-seed7.npz")
    data_module._mnist1d_arrays.cache_clear()
    read = data_module._mnist1d_arrays(7)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(generated, read))
    stored.write_bytes(b"not an npz file")  # a damaged cache is generated anew, not an error
    data_module._mnist1d_arrays.cache_clear()
    again = data_module._mnist1d_arrays(7)
    assert all(np.array_equal(a, b) for a, b in zip(generated, again))
    with np.load(stored) as replaced:
        assert np.array_equal(replaced["x"], generated[0])
    data_module._mnist1d_arrays.cache_clear()


def test_mnist1d_cache_can_be_turned_off(tmp_path, monkeypatch):
    from reglab import data as data_module

    monkeypatch.setenv("REGLAB_CACHE", "")
    assert data_module._cache_dir() is None
    monkeypatch.delenv("REGLAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_module._cache_dir() == tmp_path / "reglab"
