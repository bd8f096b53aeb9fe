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
    np.testing.assert_allclose(
        run.near_zero_gain(), 100 * (run.near_zero[3] - run.near_zero[1])
    )
    assert (
        run.near_zero >= run.exact_zero
    ).all()  # exact zeros are among the small weights
    assert run.pixel_zero_share("L1 proximal").shape == (64,)
    np.testing.assert_allclose(
        run.accuracy_difference("L1 proximal"),
        100 * (run.test_accuracy[3] - run.test_accuracy[1]),
    )
    assert (
        run.crossed.shape == run.weights.shape
        and run.crossed.dtype == torch.bool
    )
    share = run.crossing_share()
    assert share.shape == (4, 2) and np.nanmax(share) <= 1


def test_the_penalties_are_compared_at_the_same_weight():
    # The first edition compared L1 at alpha = 3e-3 with L2 at 1e-2.
    config = exp.L1DigitsConfig()
    assert config.alpha_l2 == config.alpha_l1
    assert "same weight" in exp.L1_6.claim and "1e-3" in exp.L1_6.measures


def test_the_measure_can_fail_for_l2():
    # The first edition measured the share of weights exactly 0, which SGD with weight decay
    # never produces: L2 could not win. A strong L2 penalty puts many weights below 1e-3.
    config = exp.L1DigitsConfig(seeds=2, hidden=8, epochs=3, alpha_l2=2.0)
    run = exp.run_l1_digits(config)
    assert (run.exact_zero[1] == 0).all() and (run.near_zero[1] > 0.5).all()
    assert (run.near_zero_gain() < 0).all()


def test_sign_changes_are_counted_in_the_last_epoch_only():
    config = exp.L1DigitsConfig(seeds=2, hidden=8, epochs=2)
    run = exp.run_l1_digits(config)
    sub = run.crossing_share()[exp.SETTINGS.index("L1 subgradient")]
    assert (sub > 0.5).all()  # the subgradient update hops across zero


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
