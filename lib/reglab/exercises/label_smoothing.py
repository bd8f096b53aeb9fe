"""Self-checks of the exercises of ``book/label_smoothing.ipynb``.

Chapter: *Label smoothing*. Each judge computes its reference by a route of its own and returns,
per answer, ``(passed, detail)``; the exercises register on import, in the chapter's order (see
:mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._judging import _agree, _int_or_none, _labels_input, _NotYet, _real_input, _tensor_input
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []


_SLIDE_PREDICTION = (0.05, 0.0, 0.02, 0.08, 0.05, 0.8, 0.0, 0.0)  # the lecture's y^ for a 6: 8 entries, 0.8 at index 5


@_define("ex-label_smoothing-1", chapter="label_smoothing",
         answers=(A("y_hat", "(10,) the lecture's prediction vector completed to the digits 0 to 9",
                    "keep the slide's first five entries, put its 0.8 at digit 6 and zeros for the digits it lacks",
                    "atol 1e-6"),),
         reference="the slide's eight entries, rearranged")
def _label_smoothing_1(y_hat):
    ref = list(_SLIDE_PREDICTION[:5]) + [0.0, _SLIDE_PREDICTION[5]] + list(_SLIDE_PREDICTION[6:]) + [0.0]
    return {"y_hat": _agree(y_hat, ref, atol=1e-6)}


@_define("ex-label_smoothing-2", chapter="label_smoothing",
         inputs=(I("k", "10", "the number of classes (any k >= 2)"),
                 I("e", "0.2", "PyTorch's label_smoothing argument e (any 0 < e < 1)")),
         answers=(A("numeric", "the logit gap z_y - mean of the other logits at the minimum of "
                    "F.cross_entropy(z, y, label_smoothing=e), found numerically (a number)", "minimise over the "
                    "logits of one example until the gradient vanishes, then take the gap", "rtol 1e-6"),),
         reference="PyTorch's target read off its own gradient at z = 0 (softmax minus target); at the optimum the "
                   "softmax equals it, so the gap is the log-ratio of its entries")
def _label_smoothing_2(numeric, *, k, e):
    k, e = _int_or_none(k), _real_input("e", e)
    if not isinstance(k, int) or isinstance(k, bool) or k < 2 or not 0 < e < 1:
        raise _NotYet(f"k must be an integer >= 2 and e in (0, 1), but they are {k!r} and {e:g}")
    z = torch.zeros(1, k, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.cross_entropy(z, torch.tensor([0]), label_smoothing=e), z)
    q = (1.0 / k - g[0]).numpy()
    return {"numeric": _agree(numeric, math.log(q[0] / q[1]), rtol=1e-6)}


@_define("ex-label_smoothing-3", chapter="label_smoothing",
         inputs=(I("z", "...", "(n, k) logits of your choice (random, say)"),
                 I("y", "...", "(n,) their labels, 0 .. k-1"),
                 I("eps", "0.2", "the lecture's smoothing eps (any 0 <= eps < (k-1)/k)")),
         answers=(A("penalty_form", "(n,) (1 - e)(-log p_y) + e (log k + KL(u || p)) per example, at the logits z "
                    "and labels y", "write the smoothed target as (1 - e) one-hot + e uniform, with e = eps k / (k - 1)",
                    "rtol 1e-6"),),
         reference="torch's F.cross_entropy(z, y, label_smoothing=eps k / (k - 1), reduction='none')")
def _label_smoothing_3(penalty_form, *, z, y, eps):
    logits, eps = _tensor_input("z", z, ndim=2), _real_input("eps", eps)
    k = logits.shape[1]
    labels = _labels_input("y", y, classes=k)
    if len(labels) != logits.shape[0]:
        raise ValueError(f"y must hold one label per row of z, but got {len(labels)} labels for {logits.shape[0]} rows")
    if k < 2 or not 0 <= eps < (k - 1) / k:
        raise _NotYet(f"eps must be in [0, (k-1)/k) = [0, {(k - 1) / k:g}) for k = {k}, but it is {eps:g}")
    ref = F.cross_entropy(logits, labels, label_smoothing=eps * k / (k - 1), reduction="none")
    return {"penalty_form": _agree(penalty_form, ref, rtol=1e-6)}
