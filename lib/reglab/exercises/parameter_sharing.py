"""Self-checks of the exercises of ``book/parameter_sharing.ipynb``.

Chapter: *Parameter sharing*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._judging import _agree, _as_array, _tensor_input
from .core import Answer as A
from .core import Input as I
from .core import _define, _define_written

__all__: list[str] = []


@_define("ex-parameter_sharing-1", chapter="parameter_sharing",
         inputs=(I("w3", "...", "(3,) a kernel of size 3 (yours: any values)"),),
         answers=(A("M_strided", "(20, 40) the matrix of the stride-2 convolution with padding 1 on signals of length "
                    "40 (or (L//2 + L%2, L) for another length L)", "keep every second row of the stride-1 matrix "
                    "with 'same' padding, starting with row 0", "atol 1e-6 max |w3|"),),
         reference="F.conv1d(e_j, kernel, stride=2, padding=1) of every unit vector e_j: the matrix column by column")
def _parameter_sharing_1(M_strided, *, w3):
    w = _tensor_input("w3", w3, ndim=1)
    if len(w) != 3:
        raise ValueError(f"w3 must be a kernel of size 3 (the statement's), but has {len(w)} entries")
    M = _as_array(M_strided)
    length = M.shape[-1] if M is not None and M.ndim == 2 else 40  # a signal length of the student's choice
    columns = F.conv1d(torch.eye(length, dtype=torch.float64)[:, None], w.view(1, 1, -1), stride=2, padding=1)[:, 0]
    return {"M_strided": _agree(M_strided, columns.T, atol=1e-6 * max(1.0, float(w.abs().max())))}


def _pooled(signal, kernels, circular):
    pad = kernels.shape[-1] // 2
    padded = F.pad(signal, (pad, pad), mode="circular" if circular else "constant")
    return torch.relu(F.conv1d(padded, kernels)).mean(-1)


def _zero_shift(x, s):
    out = torch.zeros_like(x)
    L = x.shape[-1]
    if s >= 0:
        out[..., s:] = x[..., : L - s]
    else:
        out[..., : L + s] = x[..., -s:]
    return out


@_define("ex-parameter_sharing-2", chapter="parameter_sharing",
         inputs=(I("kernels", "...", "(c, 1, s) random kernels: c channels (8, say), odd size s"),
                 I("signal", "...", "(1, 1, 40) one MNIST-1D signal of your choice, e.g. a row of data.x_train")),
         answers=(A("circular_change", "the largest change of the pooled features over all circular shifts (a number)",
                    "circular padding, circular shifts, ReLU, then the mean over positions", "atol 1e-6"),
                  A("zero_change", "the same with zero padding ('same') and zero-filling shifts of -10..10 (a number)",
                    "zero padding and shifts that let zeros in", "rtol 1e-6")),
         reference="the features recomputed with F.pad + F.conv1d, shifts by torch.roll and by zero-filling")
def _parameter_sharing_2(circular_change, zero_change, *, kernels, signal):
    k, x = _tensor_input("kernels", kernels, ndim=3), _tensor_input("signal", signal)
    x = x.reshape(1, 1, -1)
    if k.shape[1] != 1 or k.shape[-1] % 2 == 0 or k.shape[-1] > x.shape[-1]:
        raise ValueError(f"kernels must have shape (c, 1, s) with an odd size s <= {x.shape[-1]}, but got {tuple(k.shape)}")
    base_c, base_z = _pooled(x, k, True), _pooled(x, k, False)
    L = x.shape[-1]
    circ = max(float((_pooled(torch.roll(x, s, -1), k, True) - base_c).abs().max()) for s in range(-L + 1, L))
    zero = max(float((_pooled(_zero_shift(x, s), k, False) - base_z).abs().max()) for s in range(-10, 11))
    return {"circular_change": _agree(circular_change, circ, atol=1e-6),
            "zero_change": _agree(zero_change, zero, rtol=1e-6, atol=1e-9)}


_define_written("ex-parameter_sharing-3", chapter="parameter_sharing",
                written="the answer is a prediction and an explanation (which model should suffer, and why); the "
                        "training runs support it but their accuracies are measurements, not values to match")
