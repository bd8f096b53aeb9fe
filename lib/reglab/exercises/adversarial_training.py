"""Self-checks of the exercises of ``book/adversarial_training.ipynb``.

Chapter: *Adversarial examples and adversarial training*. Each judge computes its reference by a
route of its own and returns, per answer, ``(passed, detail)``; the exercises register on
import, in the chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .core import Answer as A
from .core import _agree, _define, _real_input, _tensor_input

__all__: list[str] = []


def _targeted_pgd(model, x, goals, eps, steps=30):
    x0 = x.expand(len(goals), -1)
    xa = x0.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xa), goals, reduction="sum"), xa)
        with torch.no_grad():
            xa = (xa - eps / 8 * g.sign()).clamp(x0 - eps, x0 + eps).clamp(0, 1)
    with torch.no_grad():
        return model(xa).argmax(-1) == goals


@_define("ex-adversarial_training-1", chapter="adversarial_training",
         inputs={"model": "seed0", "x": "X_test[INDEX]", "label": "y_test[INDEX]"},
         answers=(A("smallest", "dict: goal class -> the smallest eps on the grid 0.02, 0.04, ..., 0.4 at which targeted "
                    "PGD reaches it (goals never reached left out)", "PGD ascends its loss: to reach a goal, make the "
                    "goal's cross-entropy fall", "within two grid steps (0.04) per goal"),),
         reference="the library's own targeted PGD (30 signed steps of eps/8 from the clean image, no random start, "
                   "projected on the eps-box and [0, 1]) on the same grid")
def _adversarial_training_1(smallest, *, model, x, label):
    if not isinstance(smallest, dict):
        return {"smallest": (False, "it should be a dict from goal class to eps")}
    x = _tensor_input("x", x, ndim=1)
    goals = torch.tensor([g for g in range(10) if g != int(label)])
    ref = {}
    for eps in np.round(np.arange(0.02, 0.4001, 0.02), 2):
        for g, ok in zip(goals.tolist(), _targeted_pgd(model, x, goals, float(eps)).tolist()):
            if ok and g not in ref:
                ref[g] = float(eps)
    beyond = 0.42  # a goal not reached on the grid
    try:
        got = [float(smallest.get(g, beyond)) for g in goals.tolist()]
    except (TypeError, ValueError):
        return {"smallest": (False, "its values should be numbers")}
    return {"smallest": _agree(got, [ref.get(g, beyond) for g in goals.tolist()], atol=0.04 + 1e-9)}


@_define("ex-adversarial_training-2", chapter="adversarial_training", inputs={"model": "seed0", "x": "X_test", "y": "y_test"},
         answers=(A("l1_over_l2", "(n,) ||g||_1 / ||g||_2 of each test image's input gradient g of the cross-entropy",
                    "one gradient per image: differentiate the summed loss with respect to the images", "rtol 1e-8"),
                  A("predicted", "(n,) the first-order prediction of FGSM's loss gain over a random sign vector's change",
                    "compare eps ||g||_1 with the mean size of eps |g^T s| for random signs s", "rtol 1e-8")),
         reference="input gradients by autograd of the summed cross-entropy (an MLP treats the images independently, "
                   "so row i is image i's own gradient); the ratio of ||g||_1 to sqrt(2/pi) ||g||_2")
def _adversarial_training_2(l1_over_l2, predicted, *, model, x, y):
    x = _tensor_input("x", x, ndim=2)
    xs = x.clone().requires_grad_(True)
    (grads,) = torch.autograd.grad(F.cross_entropy(model(xs), y, reduction="sum"), xs)
    ratio = (grads.abs().sum(1) / grads.norm(dim=1)).numpy()
    return {"l1_over_l2": _agree(l1_over_l2, ratio, rtol=1e-8), "predicted": _agree(predicted, ratio / math.sqrt(2 / math.pi), rtol=1e-8)}


@_define("ex-adversarial_training-3", chapter="adversarial_training",
         inputs={"model": "robust", "x": "X_test", "y": "y_test", "eps": "EPS"},
         answers=(A("acc_true", "(SEEDS,) FGSM accuracy of each adversarially trained network, attack built from the "
                    "true labels", "FGSM at eps with the true labels, then accuracy against the true labels", "atol 0.005"),
                  A("acc_pred", "(SEEDS,) the same with the attack built from each network's own predictions",
                    "build each network's attack from its own clean predictions; score against the true labels",
                    "atol 0.005")),
         reference="the library's own FGSM: autograd of each member's summed cross-entropy on its own copy of the test "
                   "set, one signed step of eps, clipped to [0, 1]")
def _adversarial_training_3(acc_true, acc_pred, *, model, x, y, eps):
    x, eps = _tensor_input("x", x, ndim=2), _real_input("eps", eps)
    with torch.no_grad():
        members = model(x).shape[0]
        own = model(x).argmax(-1)
    ref = {}
    for name, labels in (("acc_true", y.expand(members, -1)), ("acc_pred", own)):
        xs = x.expand(members, -1, -1).clone().requires_grad_(True)
        logits = model(xs)
        (g,) = torch.autograd.grad(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum"), xs)
        with torch.no_grad():
            ref[name] = (model((xs + eps * g.sign()).clamp(0, 1)).argmax(-1) == y).double().mean(1).numpy()
    return {"acc_true": _agree(acc_true, ref["acc_true"], atol=0.005), "acc_pred": _agree(acc_pred, ref["acc_pred"], atol=0.005)}
