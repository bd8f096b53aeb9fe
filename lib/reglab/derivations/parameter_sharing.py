"""Parameter sharing: convolution as a dense layer whose weights are tied (chapter ``parameter_sharing``).

A 1-D convolution with kernel ``w`` of size ``k`` is the dense layer ``y = M x`` whose matrix
``M`` repeats ``w`` along its diagonals (a Toeplitz matrix; circulant with circular padding):
``L_out * L`` entries of which only ``k`` are free. :func:`conv1d_as_matrix` builds ``M``
entry by entry, so it can be checked against ``torch.nn.functional.conv1d`` (PS-1); the shift
commutes with it exactly under circular padding, and with zero padding everywhere except at
the positions :func:`zero_padding_border` predicts (PS-2). The MNIST-1D experiment PS-3 is
registered and run in :mod:`reglab.experiments.parameter_sharing`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_choice, check_int, check_tensor
from .compare import Check, compare
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "PADDINGS",
    "check_conv_equals_tied_dense",
    "check_equivariance_circular",
    "check_equivariance_zero_padding",
    "check_shared_gradient_is_sum",
    "check_zero_padding_border",
    "conv1d_as_matrix",
    "conv1d_reference",
    "conv_parameter_count",
    "dense_parameter_count",
    "shift",
    "zero_padding_border",
]

#: Paddings understood by :func:`conv1d_as_matrix` (as in ``torch.nn.Conv1d``).
PADDINGS = ("valid", "same", "circular")


def _pad_sizes(k: int, padding: str) -> tuple[int, int]:
    """Left and right padding for a kernel of size ``k`` (torch's split for even ``k``)."""
    if padding == "valid":
        return 0, 0
    left = (k - 1) // 2
    return left, k - 1 - left


def _check_kernel(kernel) -> Tensor:
    check_tensor("kernel", kernel, ndim=(1, 3), floating=True, finite=True)
    return kernel if kernel.dim() == 3 else kernel.reshape(1, 1, -1)


def conv1d_as_matrix(kernel: Tensor, length: int, *, padding: str = "valid") -> Tensor:
    r"""The dense (Toeplitz) matrix of a 1-D convolution layer without bias.

    Parameters
    ----------
    kernel : Tensor of shape (k,) or (C_out, C_in, k)
        The kernel, in ``torch.nn.functional.conv1d``'s layout (which, like every deep
        learning library, computes a cross-correlation: the kernel is not flipped).
    length : int >= 1
        Length ``L`` of the input signal.
    padding : {"valid", "same", "circular"}
        ``"valid"``: no padding, output length ``L - k + 1``; ``"same"``: zeros, output length
        ``L``; ``"circular"``: the signal wraps around, output length ``L``.

    Returns
    -------
    Tensor of shape (C_out * L_out, C_in * L)
        ``M`` with ``M @ x.reshape(C_in * L) == conv1d(x).reshape(C_out * L_out)`` for a single
        signal ``x`` of shape (C_in, L) (channel-major flattening). For a kernel of shape (k,)
        the shape is (L_out, L).

    Notes
    -----
    Row ``i`` of output channel ``o`` holds ``M[(o, i), (c, i + j - left)] = w[o, c, j]``
    (index taken modulo ``L`` for circular padding, dropped when it falls into zero padding):
    every row is the previous one shifted by one column, so each diagonal is constant
    (Toeplitz) and one kernel entry appears ``L_out`` times. This is the lecture's "force sets
    of parameters to be equal" (Goodfellow et al. 2016, sec. 9.1-9.2).

    Examples
    --------
    >>> conv1d_as_matrix(torch.tensor([1.0, 2.0]), 3)
    tensor([[1., 2., 0.],
            [0., 1., 2.]])
    """
    w = _check_kernel(kernel)
    length = check_int("length", length, low=1)
    check_choice("padding", padding, PADDINGS)
    if padding == "valid" and w.shape[-1] > length:
        raise ValueError(f"the kernel size ({w.shape[-1]}) cannot be larger than the signal length ({length}) without padding")
    return _tied_matrix(w, length, padding, left=_pad_sizes(w.shape[-1], padding)[0])


def _tied_matrix(w: Tensor, length: int, padding: str, *, left: int) -> Tensor:
    """Entry by entry from eq. (eq-ps-toeplitz), with ``left`` zeros padded on the left."""
    c_out, c_in, k = w.shape
    l_out = length - k + 1 if padding == "valid" else length
    M = torch.zeros(c_out, l_out, c_in, length, dtype=w.dtype)
    for i in range(l_out):
        for j in range(k):
            col = i + j - left
            if padding == "circular":
                col %= length
            elif not 0 <= col < length:
                continue  # this tap sees a padded zero
            M[:, i, :, col] += w[:, :, j]
    return M.reshape(c_out * l_out, c_in * length)


def conv1d_reference(x: Tensor, kernel: Tensor, *, padding: str = "valid") -> Tensor:
    """``torch.nn.functional.conv1d`` with the paddings of :func:`conv1d_as_matrix`.

    Parameters
    ----------
    x : Tensor of shape (n, C_in, L) or (n, L) for a single channel
    kernel : Tensor of shape (k,) or (C_out, C_in, k)
    padding : {"valid", "same", "circular"}

    Returns
    -------
    Tensor of shape (n, C_out, L_out) (or (n, L_out) for a kernel of shape (k,))
    """
    w = _check_kernel(kernel)
    check_tensor("x", x, ndim=(2, 3), floating=True)
    check_choice("padding", padding, PADDINGS)
    xs = x.unsqueeze(1) if x.dim() == 2 else x
    if xs.shape[1] != w.shape[1]:
        raise ValueError(f"x has {xs.shape[1]} channels but the kernel expects {w.shape[1]}")
    if padding != "valid":  # pad explicitly: the same split as torch's padding="same"
        xs = F.pad(xs, _pad_sizes(w.shape[-1], padding), mode="circular" if padding == "circular" else "constant")
    out = F.conv1d(xs, w)
    return out.squeeze(1) if kernel.dim() == 1 else out


def shift(x: Tensor, s: int, *, circular: bool = True) -> Tensor:
    """Translate signals by ``s`` positions to the right along the last dimension.

    With ``circular=True`` what leaves at one end comes back at the other (``torch.roll``);
    otherwise zeros enter and what leaves is lost.

    Parameters
    ----------
    x : Tensor of shape (..., L)
    s : int, ``-L <= s <= L``

    Examples
    --------
    >>> shift(torch.tensor([1.0, 2.0, 3.0]), 1, circular=False)
    tensor([0., 1., 2.])
    """
    check_tensor("x", x)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension (the signal), but got a scalar")
    L = x.shape[-1]
    s = check_int("s", s, low=-L, high=L)
    if circular:
        return torch.roll(x, s, dims=-1)
    out = torch.zeros_like(x)
    if s >= 0:
        out[..., s:] = x[..., : L - s]
    else:
        out[..., : L + s] = x[..., -s:]
    return out


def conv_parameter_count(k: int, c_in: int = 1, c_out: int = 1, *, bias: bool = True) -> int:
    """Free parameters of a 1-D convolution layer: ``c_out * c_in * k`` (+ ``c_out`` biases)."""
    k, c_in, c_out = (check_int(n, v, low=1) for n, v in (("k", k), ("c_in", c_in), ("c_out", c_out)))
    return c_out * c_in * k + (c_out if bias else 0)


def dense_parameter_count(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """Free parameters of an untied dense layer: ``out * in`` (+ ``out`` biases)."""
    in_features = check_int("in_features", in_features, low=1)
    out_features = check_int("out_features", out_features, low=1)
    return out_features * in_features + (out_features if bias else 0)


def zero_padding_border(length: int, k: int, s: int) -> Tensor:
    r"""Where ``shift(conv(x), s)`` and ``conv(shift(x, s))`` can differ, zero padding ("same").

    A zero-filling shift by ``s > 0`` empties positions ``0 .. s-1`` and drops the last ``s``
    samples. With ``left`` and ``right`` padded zeros (``left = (k-1)//2``), output ``i`` reads
    inputs ``i - left .. i + right``, so the two sides differ only where that window reaches
    across an edge of the shifted window: positions ``s - right .. s - 1`` and
    ``L - right .. L - 1``; for ``s < 0``, positions ``0 .. left - 1`` and
    ``L + s .. L + s + left - 1``. Everywhere else they are equal exactly.

    Parameters
    ----------
    length : int
        Signal length ``L``.
    k : int
        Kernel size.
    s : int, ``-L < s < L``
        The shift.

    Returns
    -------
    Tensor of shape (L,), bool
        True at the positions where the two sides differ for a generic signal and kernel.

    Examples
    --------
    >>> torch.nonzero(zero_padding_border(17, 5, 3)).flatten().tolist()
    [1, 2, 15, 16]
    """
    length = check_int("length", length, low=1)
    k = check_int("k", k, low=1, high=length)
    s = check_int("s", s, low=-length + 1, high=length - 1)
    return _border(length, k, s, width=None, shifted=True)


def _border(length: int, k: int, s: int, *, width: int | None, shifted: bool, split=None) -> Tensor:
    left, right = _pad_sizes(k, "same") if split is None else split  # split: a planted (left, right)
    if width is not None:  # a planted error: one margin for both sides
        left = right = width
    mask = torch.zeros(length, dtype=torch.bool)
    edge = s if shifted else 0
    if s > 0:
        mask[max(edge - right, 0):max(edge, 0)] = True
        mask[length - right:] = True
    elif s < 0:
        mask[:left] = True
        end = length + s if shifted else length
        mask[end:end + left] = True
    return mask


# ----------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------


def _random_problem(seed: int, *, c_in=2, c_out=3, k=5, length=17, n=4):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, k, generator=g, dtype=torch.float64)
    x = torch.randn(n, c_in, length, generator=g, dtype=torch.float64)
    return w, x


def _matrix(w: Tensor, length: int, padding: str) -> Tensor:
    return _tied_matrix(w, length, padding, left=_pad_sizes(w.shape[-1], padding)[0])


def _matrix_of_flipped_kernel(w: Tensor, length: int, padding: str) -> Tensor:
    """Planted: the matrix of a true convolution (the kernel reversed)."""
    return _matrix(w.flip(-1), length, padding)


def _matrix_centred(w: Tensor, length: int, padding: str) -> Tensor:
    """Planted: ``k // 2`` zeros on the left for "same" and circular padding."""
    return _tied_matrix(w, length, padding, left=0 if padding == "valid" else w.shape[-1] // 2)


#: Kernel sizes the PS-1 check uses: odd, and even (where torch puts the extra zero on the right).
_KERNEL_SIZES = (5, 4)


@derivation(
    "PS-1",
    claim_tex=(
        r"A 1-D convolution layer (a cross-correlation, as torch computes it; valid, same or circular "
        r"padding; odd and even kernels) equals a dense layer whose matrix repeats the kernel along its "
        r"diagonals (Toeplitz), and the gradient of each tied kernel entry is the sum of the gradients of "
        r"its copies."
    ),
    chapter="parameter_sharing",
    claim=("A 1-D convolution layer (a cross-correlation, as torch computes it; valid, same or "
           "circular padding; odd and even kernels) equals a dense layer whose matrix repeats the "
           "kernel along its diagonals (Toeplitz), and the gradient of each tied kernel entry is "
           "the sum of the gradients of its copies."),
    label="tied matrix vs F.conv1d",
    planted=(
        Planted("kernel flipped", "builds the matrix of a true convolution (kernel reversed), "
                "the textbook definition and numpy.convolve's, while the layer computes a cross-correlation",
                kind="library"),
        Planted("padding offset k // 2", "puts k // 2 zeros on the left for 'same' and circular "
                "padding, the centre of an odd kernel; torch puts (k - 1) // 2 (wrong for even k)",
                kind="student"),
    ),
)
def check_conv_equals_tied_dense(*, paddings=PADDINGS, kernel_sizes=_KERNEL_SIZES, seed: int = 0,
                                 planted: str | None = None) -> Check:
    """PS-1: the tied matrix (our index loop) times ``x`` vs ``F.conv1d``, every padding, float64."""
    matrix = choose(planted, _matrix, {
        "kernel flipped": _matrix_of_flipped_kernel,
        "padding offset k // 2": _matrix_centred,
    })
    conv, dense = [], []
    for padding in paddings:
        check_choice("padding", padding, PADDINGS)
        for k in kernel_sizes:
            w, x = _random_problem(seed, k=k)
            n, _, L = x.shape
            M = matrix(w, L, padding)
            dense.append((x.reshape(n, -1) @ M.T).reshape(-1))
            conv.append(conv1d_reference(x, w, padding=padding).reshape(-1))
    w, x = _random_problem(seed)
    return compare(
        "PS-1",
        torch.cat(conv),
        torch.cat(dense),
        atol=1e-10,
        analytic_label="F.conv1d",
        empirical_label="dense layer, tied matrix",
        note=(f"paddings {', '.join(paddings)}; kernels of size {', '.join(map(str, kernel_sizes))}; "
              f"{x.shape[0]} signals, {x.shape[1]} -> {w.shape[0]} channels, length {x.shape[-1]}"),
    )


def _sum_over_copies(copies: Tensor, grad: Tensor) -> Tensor:
    return (copies * grad).sum()


def _mean_over_copies(copies: Tensor, grad: Tensor) -> Tensor:
    """Planted: the mean of the copies' gradients."""
    return (copies * grad).sum() / copies.sum()


@subcheck(
    "PS-1",
    label="gradient of a tied weight",
    planted=Planted("mean over copies", "takes the gradient of a shared weight as the mean of its "
                    "copies' gradients (as if averaging the copies) instead of their sum", kind="student"),
)
def check_shared_gradient_is_sum(*, seed: int = 0, planted: str | None = None) -> Check:
    """The gradient of a tied weight is the sum of the gradients of its copies (autograd twice).

    Autograd through ``F.conv1d`` gives dL/dw directly; autograd through the *untied* dense
    matrix gives dL/dM, whose entries are then summed over the positions where each kernel
    entry is copied ("same" padding).
    """
    tied_gradient = choose(planted, _sum_over_copies, {"mean over copies": _mean_over_copies})
    w, x = _random_problem(seed)
    n, _, L = x.shape
    target = torch.randn(n, w.shape[0], L, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    wt = w.clone().requires_grad_(True)
    ((conv1d_reference(x, wt, padding="same") - target) ** 2).sum().backward()
    M = conv1d_as_matrix(w, L, padding="same").requires_grad_(True)
    (((x.reshape(n, -1) @ M.T).reshape(n, w.shape[0], L) - target) ** 2).sum().backward()
    # Which kernel entry sits at each matrix position: the matrix of each one-hot kernel.
    summed = torch.zeros_like(w)
    for idx in torch.cartesian_prod(*(torch.arange(s) for s in w.shape)):
        one_hot = torch.zeros_like(w)
        one_hot[tuple(idx)] = 1.0
        copies = conv1d_as_matrix(one_hot, L, padding="same")
        summed[tuple(idx)] = tied_gradient(copies, M.grad)
    return compare(
        "PS-1",
        wt.grad,
        summed,
        atol=1e-9,
        analytic_label="autograd dL/dw (conv)",
        empirical_label="sum of dL/dM over tied copies",
    )


@derivation(
    "PS-2",
    claim_tex=(
        r"Convolution is translation equivariant: with circular padding, shifting then convolving equals "
        r"convolving then shifting, for every shift; with zero padding the two differ exactly at the "
        r"positions within the padding width of the shifted window's edges (for odd and even kernels; an "
        r"even kernel is padded unevenly)."
    ),
    chapter="parameter_sharing",
    claim=("Convolution is translation equivariant: with circular padding, shifting then convolving "
           "equals convolving then shifting, for every shift; with zero padding the two differ "
           "exactly at the positions within the padding width of the shifted window's edges "
           "(for odd and even kernels; an even kernel is padded unevenly)."),
    label="circular padding, every shift",
    planted=(
        Planted("zero padding is exact too", "claims the identity for zero ('same') padding, "
                "with the signal wrapped around by the shift", kind="student"),
        Planted("shift direction", "moves the output the other way: shift(conv(x), -s) "
                "against conv(shift(x, s))", kind="student"),
    ),
)
def check_equivariance_circular(*, seed: int = 0, planted: str | None = None) -> Check:
    """PS-2: ``shift(conv(x), s)`` vs ``conv(shift(x, s))`` for every shift ``s``, circular padding."""
    padding, sign = choose(planted, ("circular", 1), {  # the padding, and the output shift's sign
        "zero padding is exact too": ("same", 1),
        "shift direction": ("circular", -1),
    })
    w, x = _random_problem(seed)
    L = x.shape[-1]
    shifts = range(-L + 1, L)
    y = conv1d_reference(x, w, padding=padding)
    conv_then_shift = torch.stack([shift(y, sign * s) for s in shifts])
    shifted = torch.stack([shift(x, s) for s in shifts])  # (shifts, n, C_in, L): one conv for all
    shift_then_conv = conv1d_reference(shifted.flatten(0, 1), w, padding=padding).reshape(conv_then_shift.shape)
    return compare(
        "PS-2",
        conv_then_shift,
        shift_then_conv,
        atol=1e-12,
        analytic_label="shift(conv(x))",
        empirical_label="conv(shift(x))",
        note=f"all {len(shifts)} shifts of {x.shape[0]} signals of length {L}, {padding} padding",
    )


def check_equivariance_zero_padding(s: int, *, k: int = 5, seed: int = 0) -> tuple[Check, Tensor]:
    """PS-2 with zero padding and one shift: where the two sides differ, against the prediction.

    Parameters
    ----------
    s : int
        The shift (zeros enter, what leaves is lost).
    k : int
        The kernel size (odd or even).

    Returns
    -------
    (Check, Tensor)
        The check of the measured positions that differ (in at least one signal or channel, by
        more than 1e-12) against :func:`zero_padding_border`, and the measured mask of shape (L,).
    """
    w, x = _random_problem(seed, k=check_int("k", k, low=1, high=17))
    s = check_int("s", s, low=-x.shape[-1] + 1, high=x.shape[-1] - 1)
    differs = _differs(w, x, s)
    predicted = zero_padding_border(x.shape[-1], w.shape[-1], s)
    return _border_check([predicted], [differs], [s], [w.shape[-1]]), differs


def _differs(w: Tensor, x: Tensor, s: int) -> Tensor:
    a = shift(conv1d_reference(x, w, padding="same"), s, circular=False)
    b = conv1d_reference(shift(x, s, circular=False), w, padding="same")
    return ((a - b).abs() > 1e-12).any(dim=(0, 1))


def _border_check(predicted, measured, shifts, kernel_sizes) -> Check:
    sizes = ", ".join(map(str, kernel_sizes))
    return compare(
        "PS-2",
        torch.stack(predicted).double(),
        torch.stack(measured).double(),
        atol=1e-12,
        analytic_label="predicted border (1 = differs)",
        empirical_label="measured |difference| > 1e-12",
        note=(f"zero padding, kernel{'s' if len(kernel_sizes) > 1 else ''} {sizes}, "
              f"shifts {', '.join(map(str, shifts))}: "
              f"{int(torch.stack(measured).sum())} positions differ, "
              f"{int(torch.stack(predicted).sum())} predicted"),
    )


def _border_of_receptive_field(length: int, k: int, s: int) -> Tensor:
    """Planted: a margin of k - 1 (the whole receptive field) on both sides."""
    return _border(length, k, s, width=k - 1, shifted=True)


def _border_of_unshifted_window(length: int, k: int, s: int) -> Tensor:
    """Planted: the border at the signal's own ends, as if the shift did not move the edge."""
    return _border(length, k, s, width=None, shifted=False)


def _border_centred_left(length: int, k: int, s: int) -> Tensor:
    """Planted: k // 2 zeros on the left and (k - 1) // 2 on the right (the extra one on the left)."""
    return _border(length, k, s, width=None, shifted=True, split=(k // 2, (k - 1) // 2))


@subcheck(
    "PS-2",
    label="zero padding: where it breaks",
    planted=(
        Planted("border width k - 1", "predicts differences up to k - 1 positions from the edges "
                "(the whole receptive field) instead of the padding width", kind="student"),
        Planted("edges of the unshifted window", "puts the border at the signal's ends 0 and L - 1, "
                "ignoring that the shift moves the edge of the window", kind="student"),
        Planted("extra zero on the left", "pads an even kernel with k // 2 zeros on the left and (k - 1) // 2 "
                "on the right, centring it at k // 2 as scipy.ndimage.correlate1d does; torch's 'same' puts "
                "the extra zero on the right (the same split for odd k)", kind="library"),
    ),
)
def check_zero_padding_border(*, shifts=(1, 3, -5, 8), kernel_sizes=_KERNEL_SIZES, seed: int = 0,
                              planted: str | None = None) -> Check:
    """PS-2, zero padding: the measured positions that differ vs :func:`zero_padding_border`.

    For an odd and an even kernel (``kernel_sizes``, as PS-1): with an even kernel the padding
    is uneven, ``(k - 1) // 2`` zeros on the left and one more on the right, and the border on
    each side has its own width.
    """
    border = choose(planted, zero_padding_border, {
        "border width k - 1": _border_of_receptive_field,
        "edges of the unshifted window": _border_of_unshifted_window,
        "extra zero on the left": _border_centred_left,
    })
    predicted, measured = [], []
    for k in kernel_sizes:
        w, x = _random_problem(seed, k=k)
        L = x.shape[-1]
        predicted += [border(L, k, s) for s in shifts]
        measured += [_differs(w, x, s) for s in shifts]
    return _border_check(predicted, measured, shifts, kernel_sizes)
