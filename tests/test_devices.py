"""Tensors the library creates follow the device and dtype of their inputs (BOOK_SPEC 9).

Without a GPU, the "meta" device stands in for one: a function that creates a CPU tensor where it
should follow its input (``torch.randn`` without ``device=``, a CPU ``torch.arange`` used as an
index) fails or returns a CPU tensor when given meta inputs. Where a function looks at the
values (label ranges, OMP's stopping rule), meta tensors cannot be used; those run on CUDA in the
``gpu``-marked tests, which skip with a message on a machine without one.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab
from reglab import (
    Dropout,
    StackedMLP,
    WeightNoise,
    add_gaussian_noise,
    apply_randomly,
    dropout,
    ensemble_mean,
    expected_calibration_error,
    fgsm,
    negate,
    perturbed_parameters,
    random_image_shift,
    random_ramp,
    random_rotation,
    random_scale,
    random_shift,
    reverse,
    shift_signals,
    smooth_labels,
    smoothed_cross_entropy,
)

DTYPES = [torch.float32, torch.float64]
META = torch.device("meta")


def _cpu_gen():
    return torch.Generator().manual_seed(0)


SIGNAL_FUNCTIONS = {
    "add_gaussian_noise": lambda x, g: add_gaussian_noise(x, 0.1, generator=g),
    "dropout": lambda x, g: dropout(x, 0.8, generator=g),
    "Dropout": lambda x, g: Dropout(0.8, generator=g)(x),
    "random_shift": lambda x, g: random_shift(x, max_shift=2, generator=g),
    "shift_signals": lambda x, g: shift_signals(x, 1),
    "random_scale": lambda x, g: random_scale(x, low=0.5, high=1.5, generator=g),
    "random_ramp": lambda x, g: random_ramp(x, max_slope=0.3, generator=g),
    "apply_randomly": lambda x, g: apply_randomly(negate, x, 0.5, generator=g),
    "reverse": lambda x, g: reverse(x),
}
IMAGE_FUNCTIONS = {
    "random_image_shift": lambda x, g: random_image_shift(x, max_shift=1, generator=g),
    "random_rotation": lambda x, g: random_rotation(x, max_degrees=10.0, generator=g),
}


@pytest.mark.parametrize("with_generator", [False, True], ids=["global", "cpu-generator"])
@pytest.mark.parametrize("name", sorted(SIGNAL_FUNCTIONS) + sorted(IMAGE_FUNCTIONS))
def test_random_transforms_follow_the_input_device(name, with_generator):
    fn = {**SIGNAL_FUNCTIONS, **IMAGE_FUNCTIONS}[name]
    shape = (4, 64) if name in IMAGE_FUNCTIONS else (4, 40)
    x = torch.empty(shape, device=META)
    out = fn(x, _cpu_gen() if with_generator else None)
    assert out.device == META and out.shape == x.shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SIGNAL_FUNCTIONS) + sorted(IMAGE_FUNCTIONS))
def test_random_transforms_keep_the_dtype(name, dtype):
    fn = {**SIGNAL_FUNCTIONS, **IMAGE_FUNCTIONS}[name]
    shape = (4, 64) if name in IMAGE_FUNCTIONS else (4, 40)
    x = torch.rand(shape, dtype=dtype, generator=_cpu_gen())
    assert fn(x, _cpu_gen()).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_cpu_generator_gives_the_same_draws_whatever_the_device(dtype):
    # Drawing on the generator's own device keeps a seeded result the same on CPU and elsewhere.
    x = torch.zeros(3, 40, dtype=dtype)
    a = add_gaussian_noise(x, 1.0, generator=_cpu_gen())
    b = add_gaussian_noise(x.to(META), 1.0, generator=_cpu_gen())
    assert b.device == META and a.dtype == dtype


def test_weight_noise_and_perturbed_parameters_follow_the_parameters():
    layer = nn.Linear(5, 3).to(META)
    noise = WeightNoise(0.1, generator=_cpu_gen()).to(META)
    assert noise(layer.weight).device == META
    with perturbed_parameters(layer, 0.1, generator=_cpu_gen()) as added:
        assert all(v.device == META for v in added.values())


@pytest.mark.parametrize("dtype", DTYPES)
def test_stacked_mlp_and_fgsm_follow_device_and_dtype(dtype):
    net = StackedMLP(2, (40, 8, 10), seed=0, dtype=dtype).to(META)
    x = torch.empty(2, 6, 40, device=META, dtype=dtype)
    assert net(x).device == META and net(x).dtype == dtype
    model = nn.Sequential(nn.Linear(40, 10)).to(device=META, dtype=dtype)
    x = torch.empty(6, 40, device=META, dtype=dtype)
    y = torch.zeros(6, dtype=torch.long, device=META)
    adv = fgsm(model, x, y, 0.1)
    assert adv.device == META and adv.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_in_float32_out(dtype):
    logits = torch.randn(5, 4, dtype=dtype, generator=_cpu_gen())
    labels = torch.tensor([0, 1, 2, 3, 0])
    assert smoothed_cross_entropy(logits, labels, 0.1).dtype == dtype
    assert smooth_labels(labels, 4, 0.1, dtype=dtype).dtype == dtype
    torch.testing.assert_close(
        smoothed_cross_entropy(logits, labels, 0.1),
        F.cross_entropy(logits, labels, label_smoothing=0.1 * 4 / 3),
    )
    w = torch.randn(6, dtype=dtype, generator=_cpu_gen())
    assert ensemble_mean(lambda r: r @ w, 6, 0.5, dtype=dtype).dtype == dtype
    probs = torch.softmax(logits, -1)
    assert torch.isfinite(expected_calibration_error(probs, labels))


def test_smoothed_cross_entropy_with_a_masked_logit_matches_cross_entropy_at_eps_0():
    logits = torch.tensor([[2.0, float("-inf"), 0.5], [0.1, 0.2, float("-inf")]])
    labels = torch.tensor([0, 1])
    ours = smoothed_cross_entropy(logits, labels, 0.0)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, F.cross_entropy(logits, labels))
    stacked = smoothed_cross_entropy(logits.expand(2, 2, 3), labels, torch.tensor([0.0, 0.1]))
    assert torch.isfinite(stacked[0]) and torch.isinf(stacked[1])


def test_ensemble_mean_builds_masks_one_chunk_at_a_time():
    seen = []

    def fn(r):
        seen.append(r.shape[0])
        return r.sum(1)

    total = ensemble_mean(fn, 10, 0.5, chunk_size=100)
    assert max(seen) == 100 and sum(seen) == 2**10
    assert total.item() == pytest.approx(5.0)


# --- on a GPU, where there is one --------------------------------------------------------


@pytest.fixture
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: the gpu-marked tests run where there is one")
    return torch.device("cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(SIGNAL_FUNCTIONS) + sorted(IMAGE_FUNCTIONS))
def test_random_transforms_run_on_cuda(cuda, name):
    fn = {**SIGNAL_FUNCTIONS, **IMAGE_FUNCTIONS}[name]
    shape = (4, 64) if name in IMAGE_FUNCTIONS else (4, 40)
    x = torch.rand(shape, device=cuda)
    for g in (None, _cpu_gen(), torch.Generator(device=cuda).manual_seed(0)):
        assert fn(x, g).device.type == "cuda"


@pytest.mark.gpu
def test_labels_omp_and_training_run_on_cuda(cuda):
    labels = torch.randint(0, 10, (50,), device=cuda)
    assert reglab.corrupt_labels(labels, 0.2, 10, generator=_cpu_gen()).device.type == "cuda"
    assert smooth_labels(labels, 10, 0.1).device.type == "cuda"
    W = torch.linalg.qr(torch.randn(8, 8, device=cuda, dtype=torch.float64))[0]
    assert reglab.omp(W, torch.randn(3, 8, device=cuda, dtype=torch.float64), 2).device.type == "cuda"
    net = StackedMLP(2, (40, 8, 10), seed=0).to(cuda)
    X, y = torch.randn(64, 40, device=cuda), torch.randint(0, 10, (64,), device=cuda)
    cfg = reglab.TrainConfig(epochs=2, batch_size=16, lr=0.01)
    reglab.fit_stacked(net, X, y, cfg, val=(X, y), keep_best=True)
    assert reglab.evaluate_stacked(net, X, y)["accuracy"].device.type == "cuda"


def test_ensemble_mean_works_on_a_float32_network_by_default():
    layer = nn.Linear(6, 2)  # float32, as torch builds it
    out = ensemble_mean(lambda r: layer(r), 6, 0.5)
    assert out.dtype == torch.float32 and out.shape == (2,)
