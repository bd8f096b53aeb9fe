"""Tests of reglab.derivations.parameter_sharing: tied dense matrices, equivariance."""
import pytest
import torch
from reglab.derivations import get_result, ledger
from reglab.derivations.parameter_sharing import (
    check_conv_equals_tied_dense,
    check_equivariance_zero_padding,
    check_shared_gradient_is_sum,
    check_zero_padding_border,
    conv1d_as_matrix,
    conv1d_reference,
    conv_parameter_count,
    dense_parameter_count,
    shift,
    zero_padding_border,
)
from torch import nn

D = torch.float64


def test_results_registered_in_the_ledger():
    ids = {r.id: r.kind for r in ledger() if r.chapter == "parameter_sharing"}
    assert ids == {"PS-1": "derivation", "PS-2": "derivation", "PS-3": "experiment"}
    assert [p.label for p in get_result("PS-1").parts] == ["tied matrix vs F.conv1d", "gradient of a tied weight"]
    assert [p.label for p in get_result("PS-2").parts] == ["circular padding, every shift",
                                                          "zero padding: where it breaks"]


def test_padding_offset_slip_needs_an_even_kernel_to_be_seen():
    # With only the odd kernel of the first edition (k = 5), k // 2 == (k - 1) // 2 and the
    # wrong offset passed; the even kernel makes the check reject it.
    assert check_conv_equals_tied_dense(kernel_sizes=(5,), planted="padding offset k // 2").passed
    assert not check_conv_equals_tied_dense(planted="padding offset k // 2").passed
    assert not check_conv_equals_tied_dense(planted="kernel flipped").passed


def test_zero_padding_border_is_exact_not_a_bound():
    # The first edition checked agreement k - 1 away from the edges: a margin that is too wide
    # passed. The border check rejects it, and the wrong edges too.
    assert check_zero_padding_border().passed
    assert not check_zero_padding_border(planted="border width k - 1").passed
    assert not check_zero_padding_border(planted="edges of the unshifted window").passed


def test_zero_padding_border_is_checked_for_an_even_kernel_too():
    # PS-1 stresses even kernels; the first border check used k = 5 only, where the extra zero's
    # side does not matter, so scipy.ndimage's split (k // 2 on the left) passed it.
    assert check_zero_padding_border(kernel_sizes=(5,), planted="extra zero on the left").passed
    check = check_zero_padding_border(planted="extra zero on the left")
    assert not check.passed and check.error == 1.0
    assert "kernels 5, 4" in check.note
    for s in (1, 3, -5, 8):
        found, differs = check_equivariance_zero_padding(s, k=4)
        assert found.passed and torch.equal(differs, zero_padding_border(17, 4, s)), s


def test_planted_errors_say_who_makes_them():
    kinds = {p.name: p.kind for rid in ("PS-1", "PS-2") for p in get_result(rid).planted_errors()}
    assert kinds["kernel flipped"] == "library" and kinds["extra zero on the left"] == "library"
    assert set(kinds.values()) <= {"student", "library"}


def test_ps3_claim_does_not_credit_tying_alone():
    # The CNN differs from the MLP by locality, stride and depth as well as by tied weights.
    claim = get_result("PS-3").claim
    assert "does not separate" in claim and "locality" in claim


def test_zero_padding_border_by_hand():
    # k = 5: two padded zeros each side. Shift 3 right: 1, 2 (left of the new edge) and 15, 16.
    assert torch.nonzero(zero_padding_border(17, 5, 3)).flatten().tolist() == [1, 2, 15, 16]
    assert torch.nonzero(zero_padding_border(17, 5, -5)).flatten().tolist() == [0, 1, 12, 13]
    assert torch.nonzero(zero_padding_border(17, 5, 1)).flatten().tolist() == [0, 15, 16]
    assert not zero_padding_border(17, 5, 0).any()
    # k = 4: one zero on the left, two on the right (torch's split).
    assert torch.nonzero(zero_padding_border(10, 4, 3)).flatten().tolist() == [1, 2, 8, 9]
    assert torch.nonzero(zero_padding_border(10, 4, -3)).flatten().tolist() == [0, 7]


@pytest.mark.parametrize("rid", ["PS-1", "PS-2"])
def test_derivations_pass_from_the_ledger(rid):
    check = get_result(rid).check()
    assert check.passed, str(check)


def test_small_matrix_by_hand():
    w = torch.tensor([1.0, 2.0, 3.0], dtype=D)
    expected_valid = torch.tensor([[1, 2, 3, 0], [0, 1, 2, 3]], dtype=D)
    torch.testing.assert_close(conv1d_as_matrix(w, 4), expected_valid)
    expected_same = torch.tensor([[2, 3, 0, 0], [1, 2, 3, 0], [0, 1, 2, 3], [0, 0, 1, 2]], dtype=D)
    torch.testing.assert_close(conv1d_as_matrix(w, 4, padding="same"), expected_same)
    expected_circ = torch.tensor([[2, 3, 0, 1], [1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2]], dtype=D)
    torch.testing.assert_close(conv1d_as_matrix(w, 4, padding="circular"), expected_circ)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("padding", ["valid", "same", "circular"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_matrix_matches_torch_conv1d(padding, k):
    g = torch.Generator().manual_seed(k)
    w = torch.randn(3, 2, k, generator=g, dtype=D)
    x = torch.randn(5, 2, 9, generator=g, dtype=D)
    if padding == "circular":
        conv = nn.Conv1d(2, 3, k, padding="same", padding_mode="circular", bias=False).to(D)
    else:
        conv = nn.Conv1d(2, 3, k, padding=padding, bias=False).to(D)
    with torch.no_grad():
        conv.weight.copy_(w)
    dense = (x.reshape(5, -1) @ conv1d_as_matrix(w, 9, padding=padding).T).reshape(5, 3, -1)
    torch.testing.assert_close(dense, conv(x).detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(conv1d_reference(x, w, padding=padding), conv(x).detach(), rtol=0, atol=1e-12)


def test_matrix_is_toeplitz_with_k_free_values():
    w = torch.tensor([0.5, -1.0, 2.0], dtype=D)
    M = conv1d_as_matrix(w, 8)
    for d in range(-M.shape[0] + 1, M.shape[1]):
        diag = torch.diagonal(M, d)
        assert (diag == diag[0]).all()
    assert set(M.unique().tolist()) == {0.0, 0.5, -1.0, 2.0}


def test_circular_matrix_commutes_with_the_cyclic_shift():
    w = torch.randn(4, dtype=D)
    M = conv1d_as_matrix(w, 10, padding="circular")
    P = torch.roll(torch.eye(10, dtype=D), 1, dims=0)  # P @ x == roll(x, 1)
    x = torch.randn(10, dtype=D)
    torch.testing.assert_close(P @ x, shift(x, 1))
    torch.testing.assert_close(P @ M, M @ P, rtol=0, atol=1e-12)


def test_shift_zero_fill_and_circular():
    x = torch.arange(1.0, 6.0)
    assert shift(x, 2).tolist() == [4.0, 5.0, 1.0, 2.0, 3.0]
    assert shift(x, 2, circular=False).tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]
    assert shift(x, -2, circular=False).tolist() == [3.0, 4.0, 5.0, 0.0, 0.0]


def test_zero_padding_differs_only_near_borders():
    check, differs = check_equivariance_zero_padding(4)
    assert check.passed
    idx = torch.nonzero(differs).flatten().tolist()
    assert idx and all(i < 4 + 4 or i >= 17 - 4 for i in idx)


def test_gradient_of_tied_kernel_is_sum_over_copies():
    assert check_shared_gradient_is_sum().passed


def test_parameter_counts():
    assert conv_parameter_count(5, 1, 25) == 150
    assert conv_parameter_count(3, 25, 25, bias=False) == 1875
    assert dense_parameter_count(40, 100) == 4100


def test_invalid_arguments_rejected():
    w = torch.randn(3, dtype=D)
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', 'circular', but got 'full'"):
        conv1d_as_matrix(w, 5, padding="full")
    with pytest.raises(ValueError, match=r"length must be an integer in \[1, inf\], but got 0"):
        conv1d_as_matrix(w, 0)
    with pytest.raises(ValueError, match="cannot be larger than the signal length"):
        conv1d_as_matrix(w, 2)
    with pytest.raises(ValueError, match="kernel must have 1 or 3 dimensions"):
        conv1d_as_matrix(torch.randn(2, 3, dtype=D), 5)
    with pytest.raises(TypeError, match="kernel must be a floating-point tensor"):
        conv1d_as_matrix(torch.tensor([1, 2]), 5)
    with pytest.raises(TypeError, match="kernel must be a torch.Tensor"):
        conv1d_as_matrix([1.0, 2.0], 5)
    with pytest.raises(ValueError, match=r"s must be an integer in \[-3, 3\], but got 4"):
        shift(torch.zeros(3), 4)
    with pytest.raises(ValueError, match="x must have at least one dimension"):
        shift(torch.tensor(1.0), 0)
    with pytest.raises(ValueError, match="k must be an integer"):
        conv_parameter_count(0)
    with pytest.raises(ValueError, match=r"s must be an integer in \[-16, 16\], but got 17"):
        zero_padding_border(17, 5, 17)


def test_channel_mismatch_rejected():
    with pytest.raises(ValueError, match="x has 2 channels but the kernel expects 3"):
        conv1d_reference(torch.zeros(4, 2, 9, dtype=D), torch.zeros(1, 3, 3, dtype=D))


@pytest.mark.parametrize("rid", ["PS-1", "PS-2"])
def test_every_planted_error_is_rejected(rid):
    result = get_result(rid)
    assert len(result.planted) >= 3
    for name in result.planted:
        assert not result.check(planted=name).passed, name


@pytest.mark.parametrize("checker", [check_conv_equals_tied_dense, check_shared_gradient_is_sum,
                                     check_zero_padding_border])
def test_unknown_planted_error_raises(checker):
    with pytest.raises(ValueError, match="no planted error 'kernel reversed'"):
        checker(planted="kernel reversed")


def test_flipped_kernel_matrix_is_the_true_convolution():
    # The planted "kernel flipped" builds the matrix of a convolution: torch's conv1d with the
    # kernel reversed.
    from reglab.derivations.parameter_sharing import _matrix_of_flipped_kernel

    w = torch.tensor([1.0, 2.0, 4.0], dtype=D)
    x = torch.randn(3, 9, dtype=D)
    M = _matrix_of_flipped_kernel(w.reshape(1, 1, 3), 9, "same")
    torch.testing.assert_close(x @ M.T, conv1d_reference(x, w.flip(0), padding="same"), rtol=0, atol=1e-12)
