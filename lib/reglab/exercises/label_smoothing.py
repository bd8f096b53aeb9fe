"""Self-checks of the exercises of ``book/label_smoothing.ipynb``.

Chapter: *Label smoothing*. Each judge computes its reference by a route of its own and returns,
per answer, ``(passed, detail)``; the exercises register on import, in the chapter's order (see
:mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .core import Answer as A
from .core import _agree, _define, _real_input, _tensor_input

__all__: list[str] = []


_SLIDE_PREDICTION = (0.05, 0.0, 0.02, 0.08, 0.05, 0.8, 0.0, 0.0)  # the lecture's y^ for a 6: 8 entries, 0.8 at index 5


@_define("ex-label_smoothing-1", chapter="label_smoothing",
         answers=(A("y_hat", "the lecture's prediction vector completed to 10 entries (digits 0 to 9)",
                    "keep the slide's first five entries, put its 0.8 at digit 6 and zeros for the digits it lacks",
                    "atol 1e-6"),),
         reference="the slide's eight entries, rearranged")
def _label_smoothing_1(y_hat):
    ref = list(_SLIDE_PREDICTION[:5]) + [0.0, _SLIDE_PREDICTION[5]] + list(_SLIDE_PREDICTION[6:]) + [0.0]
    return {"y_hat": _agree(y_hat, ref, atol=1e-6)}


@_define("ex-label_smoothing-2", chapter="label_smoothing", inputs={"k": "k", "e": "e"},
         answers=(A("numeric", "the logit gap z_y - mean of the other logits at the minimum of "
                    "F.cross_entropy(z, y, label_smoothing=e), found numerically", "minimise over the logits of one "
                    "example until the gradient vanishes, then take the gap", "rtol 1e-6"),),
         reference="PyTorch's target read off its own gradient at z = 0 (softmax minus target); at the optimum the "
                   "softmax equals it, so the gap is the log-ratio of its entries")
def _label_smoothing_2(numeric, *, k, e):
    k, e = int(k), _real_input("e", e)
    z = torch.zeros(1, k, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.cross_entropy(z, torch.tensor([0]), label_smoothing=e), z)
    q = (1.0 / k - g[0]).numpy()
    return {"numeric": _agree(numeric, math.log(q[0] / q[1]), rtol=1e-6)}


@_define("ex-label_smoothing-3", chapter="label_smoothing", inputs={"logits": "z", "labels": "y", "eps": "eps"},
         answers=(A("penalty_form", "(1 - e)(-log p_y) + e (log k + KL(u || p)) per example, on the logits z and labels y",
                    "write the smoothed target as (1 - e) one-hot + e uniform, with e = eps k / (k - 1)", "rtol 1e-10"),),
         reference="torch's F.cross_entropy(z, y, label_smoothing=eps k / (k - 1), reduction='none')")
def _label_smoothing_3(penalty_form, *, logits, labels, eps):
    z, eps = _tensor_input("logits", logits, ndim=2), _real_input("eps", eps)
    k = z.shape[1]
    ref = F.cross_entropy(z, labels, label_smoothing=eps * k / (k - 1), reduction="none")
    return {"penalty_form": _agree(penalty_form, ref, rtol=1e-10)}
