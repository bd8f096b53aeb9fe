"""Tests of reglab.experiments.l1_penalty (experiment L1-6), on a small, fast configuration."""
import numpy as np
import torch
from reglab.experiments import l1_penalty as exp


def test_border_mask_has_28_pixels_of_an_8x8_image():
    m = exp.border_mask()
    assert m.shape == (64,) and int(m.sum()) == 28 and not m.reshape(8, 8)[1:-1, 1:-1].any()


def test_small_run_pairs_members_and_counts_exact_zeros():
    config = exp.L1DigitsConfig(seeds=2, hidden=8, epochs=2)
    run = exp.run_l1_digits(config)
    assert run.test_accuracy.shape == run.exact_zero.shape == (4, 2)
    assert run.n_weights == 64 * 8 + 8 * 10 and run.n_biases == 8 + 10
    assert run.steps == 2 * int(np.ceil(run.data.x_train.shape[0] / 200))
    assert (run.exact_zero[:3] == 0).all()  # no penalty, L2, subgradient: no exact zero
    assert (run.exact_zero[3] > 0).all()
    np.testing.assert_allclose(run.zero_share_gain(), 100 * (run.exact_zero[3] - run.exact_zero[1]))
    assert run.pixel_zero_share("L1 proximal").shape == (64,)


def test_members_of_every_setting_start_from_the_same_initialisation():
    torch.manual_seed(0)
    config = exp.L1DigitsConfig(seeds=2, hidden=4, epochs=1, lr=1e-12)  # practically no training
    run = exp.run_l1_digits(config)
    w = run.first_layer
    torch.testing.assert_close(w[0], w[2], atol=1e-9, rtol=0)
    assert not torch.allclose(w[0], w[1])


def test_the_experiment_is_registered_beside_its_run():
    from reglab.derivations import get_result

    assert get_result("L1-6") is exp.L1_6
    assert exp.L1_6.kind == "experiment" and exp.L1_6.chapter == "l1_penalty" and exp.L1_6.expected == "increase"
