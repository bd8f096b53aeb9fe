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

from ._judging import _agree, _labels_input, _tensor_input
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []

_EPS_FGSM = 0.1  # Exercise 13.3's attack size
_GRID = np.round(np.arange(0.02, 0.4001, 0.02), 2)  # Exercise 13.1's grid of eps


def _model(name, model):
    if not callable(model):
        raise TypeError(f"{name} must be a network (a function of the images), but got {type(model).__name__}")
    return model


def _targeted_pgd(model, x, goals, eps, steps=30):
    """Targeted PGD from ``x`` towards each goal at each eps, all at once: (len(eps), len(goals)) reached.

    Row (e, g) of the batch is its own attack (the loss is summed, so its gradient is its own).
    """
    eps = torch.as_tensor(eps, dtype=x.dtype).reshape(-1, 1, 1)
    x0 = x.expand(eps.shape[0], len(goals), -1)
    targets = goals.expand(eps.shape[0], -1).reshape(-1)
    xa = x0.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xa.reshape(-1, x.shape[-1])), targets, reduction="sum"), xa)
        with torch.no_grad():
            xa = (xa - eps / 8 * g.sign()).clamp(x0 - eps, x0 + eps).clamp(0, 1)
    with torch.no_grad():
        return (model(xa.reshape(-1, x.shape[-1])).argmax(-1) == targets).reshape(eps.shape[0], -1)


@_define("ex-adversarial_training-1", chapter="adversarial_training",
         inputs=(I("net0", "seed0", "seed 0 of the standard networks: (n, 64) images -> (n, 10) logits"),
                 I("image", "X_test[INDEX]", "(64,) test image INDEX, pixels in [0, 1]"),
                 I("image_label", "y_test[INDEX]", "its true class")),
         answers=(A("smallest", "dict goal class -> the smallest eps on the grid 0.02, 0.04, ..., 0.4 at which targeted "
                    "PGD reaches it (goals never reached left out)", "PGD ascends its loss: to reach a goal, make the "
                    "goal's cross-entropy fall", "within two grid steps (0.04) per goal"),),
         reference="the library's own targeted PGD (30 signed steps of eps/8 from the clean image, no random start, "
                   "projected on the eps-box and [0, 1]) on the same grid")
def _adversarial_training_1(smallest, *, net0, image, image_label):
    model, x = _model("net0", net0), _tensor_input("image", image, ndim=1)
    x = image.detach() if isinstance(image, torch.Tensor) and image.is_floating_point() else x
    label = int(_labels_input("image_label", torch.as_tensor(image_label).reshape(1))[0])
    if not isinstance(smallest, dict):
        return {"smallest": (False, "it should be a dict from goal class to eps")}
    with torch.no_grad():
        classes = model(x[None]).shape[-1]
    goals = torch.tensor([g for g in range(classes) if g != label])
    ref = {}
    for eps, reached in zip(_GRID.tolist(), _targeted_pgd(model, x, goals, _GRID).tolist()):
        for g, ok in zip(goals.tolist(), reached):
            if ok and g not in ref:
                ref[g] = float(eps)
    beyond = 0.42  # a goal not reached on the grid
    try:
        got = {int(k): float(v) for k, v in smallest.items()}
    except (TypeError, ValueError):
        return {"smallest": (False, "its keys should be classes and its values numbers")}
    if set(got) - set(goals.tolist()):
        return {"smallest": (False, "its keys should be the goal classes, the true class left out")}
    return {"smallest": _agree([got.get(g, beyond) for g in goals.tolist()], [ref.get(g, beyond) for g in goals.tolist()],
                               atol=0.04 + 1e-9)}


@_define("ex-adversarial_training-2", chapter="adversarial_training",
         inputs=(I("net0", "seed0", "seed 0 of the standard networks: (n, 64) images -> (n, 10) logits"),
                 I("images", "X_test", "(450, 64) the test images"),
                 I("labels", "y_test", "(450,) their classes")),
         answers=(A("l1_over_l2", "(450,) ||g||_1 / ||g||_2 of each test image's input gradient g of the cross-entropy",
                    "one gradient per image: differentiate the summed loss with respect to the images", "rtol 1e-6"),
                  A("predicted", "(450,) the first-order prediction of FGSM's loss gain over a random sign vector's "
                    "change, per image", "compare eps ||g||_1 with the mean size of eps |g^T s| for random signs s",
                    "rtol 1e-6")),
         reference="input gradients by autograd of the summed cross-entropy (an MLP treats the images independently, "
                   "so row i is image i's own gradient); the ratio of ||g||_1 to sqrt(2/pi) ||g||_2")
def _adversarial_training_2(l1_over_l2, predicted, *, net0, images, labels):
    model, x = _model("net0", net0), _tensor_input("images", images, ndim=2)
    xs = (images.detach() if isinstance(images, torch.Tensor) else x).clone().requires_grad_(True)
    y = _labels_input("labels", labels)
    (grads,) = torch.autograd.grad(F.cross_entropy(model(xs), y, reduction="sum"), xs)
    grads = grads.double()
    ratio = (grads.abs().sum(1) / grads.norm(dim=1)).numpy()
    return {"l1_over_l2": _agree(l1_over_l2, ratio, rtol=1e-6),
            "predicted": _agree(predicted, ratio / math.sqrt(2 / math.pi), rtol=1e-6)}


@_define("ex-adversarial_training-3", chapter="adversarial_training",
         inputs=(I("robust_nets", "robust", "the adversarially trained networks, stacked: (n, 64) -> (5, n, 10)"),
                 I("images", "X_test", "(450, 64) the test images"),
                 I("labels", "y_test", "(450,) their classes")),
         answers=(A("acc_true", "(5,) FGSM accuracy of each adversarially trained network at eps = 0.1, attack built "
                    "from the true labels", "FGSM at eps with the true labels, then accuracy against the true labels",
                    "atol 0.005"),
                  A("acc_pred", "(5,) the same with the attack built from each network's own predictions",
                    "build each network's attack from its own clean predictions; score against the true labels",
                    "atol 0.005")),
         reference="the library's own FGSM at the statement's eps = 0.1: autograd of each member's summed "
                   "cross-entropy on its own copy of the test set, one signed step of eps, clipped to [0, 1]")
def _adversarial_training_3(acc_true, acc_pred, *, robust_nets, images, labels):
    model, x = _model("robust_nets", robust_nets), _tensor_input("images", images, ndim=2)
    x = images.detach() if isinstance(images, torch.Tensor) and images.is_floating_point() else x
    y = _labels_input("labels", labels)
    with torch.no_grad():
        out = model(x)
    if out.dim() != 3:
        raise ValueError(f"robust_nets must be a stacked model, (n, d) -> (members, n, classes), but gives {tuple(out.shape)}")
    members, own = out.shape[0], out.argmax(-1)
    ref = {}
    for name, targets in (("acc_true", y.expand(members, -1)), ("acc_pred", own)):
        xs = x.expand(members, -1, -1).clone().requires_grad_(True)
        logits = model(xs)
        (g,) = torch.autograd.grad(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                   reduction="sum"), xs)
        with torch.no_grad():
            ref[name] = (model((xs + _EPS_FGSM * g.sign()).clamp(0, 1)).argmax(-1) == y).double().mean(1).numpy()
    return {"acc_true": _agree(acc_true, ref["acc_true"], atol=0.005), "acc_pred": _agree(acc_pred, ref["acc_pred"], atol=0.005)}
