"""Self-checks of the exercises of ``book/multitask.ipynb``.

Chapter: *Multitask learning*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..stats import mean_ci
from ._judging import _agree, _as_array, _exact, _np, _outputs
from .core import Answer as A
from .core import Input as I
from .core import _define

__all__: list[str] = []


_COUNT_CASES = [(64, 32, 2, 10), (16, 4, 1, 16), (7, 5, 3, 4), (1, 1, 1, 1), (100, 7, 9, 3)]


def _count(module_list):
    return sum(p.numel() for m in module_list for p in m.parameters())


@_define("ex-multitask-1", chapter="multitask",
         answers=(A("separate_count", "a function separate_count(d, h, k, T) -> the parameters of T separate networks",
                    "each network has two layers, each with a weight matrix and a bias", "exact on 5 shapes"),
                  A("shared_count", "a function shared_count(d, h, k, T) -> the parameters of one trunk and T linear "
                    "heads", "the trunk is paid for once, the heads T times", "exact on 5 shapes")),
         reference="the parameters of torch.nn.Linear layers of those shapes, counted")
def _multitask_1(separate_count, shared_count):
    lin = torch.nn.Linear
    verdict = {}
    for name, fn, build in (("separate_count", separate_count, lambda d, h, k, T: [lin(d, h), lin(h, k)] * T),
                            ("shared_count", shared_count, lambda d, h, k, T: [lin(d, h)] + [lin(h, k)] * T)):
        got, problem = _outputs(fn, _COUNT_CASES)
        verdict[name] = (_exact(got.reshape(-1), [_count(build(*c)) for c in _COUNT_CASES]) if got is not None
                         else (False, problem))
    return verdict


def _problem(problem):
    try:
        XA, yA, XB, yB = problem
    except (TypeError, ValueError):
        raise TypeError("problem must be the four tensors (XA, yA, XB, yB) of two regressions") from None
    XA, XB = _np("problem's XA", XA, ndim=2), _np("problem's XB", XB, ndim=2)
    yA, yB = _np("problem's yA", yA).reshape(-1), _np("problem's yB", yB).reshape(-1)
    if XA.shape != (len(yA), XB.shape[1]) or XB.shape[0] != len(yB):
        raise ValueError(f"problem's shapes must fit: XA (nA, p), yA (nA,), XB (nB, p), yB (nB,); got "
                         f"{XA.shape}, {yA.shape}, {XB.shape}, {yB.shape}")
    return XA, yA, XB, yB


@_define("ex-multitask-2", chapter="multitask",
         inputs=(I("problem", "...", "(XA, yA, XB, yB): two related regressions of your choice, with p features"),),
         answers=(A("target", "(p,) the limit of lambda (w_A - w_B) as lambda -> infinity",
                    "the first block row gives lambda (w_A - w_B); where does w_A go as lambda grows?", "atol 1e-5"),),
         reference="the soft-sharing minimiser solved as one block linear system at lambda = 1e4 and 2e4, "
                   "extrapolated to lambda = infinity (Richardson)")
def _multitask_2(target, *, problem):
    XA, yA, XB, yB = _problem(problem)
    p = XA.shape[1]

    def gap(lam):
        K = np.block([[XA.T @ XA + lam * np.eye(p), -lam * np.eye(p)], [-lam * np.eye(p), XB.T @ XB + lam * np.eye(p)]])
        w = np.linalg.solve(K, np.concatenate([XA.T @ yA, XB.T @ yB]))
        return lam * (w[:p] - w[p:])

    return {"target": _agree(target, 2 * gap(2e4) - gap(1e4), atol=1e-5)}


def _swap_arms(res):
    if isinstance(res, dict) and {"shared", "separate"} <= set(res):
        return {"res": {**res, "shared": res["separate"], "separate": res["shared"]}}
    return {"res": res}


@_define("ex-multitask-3", chapter="multitask", mistake=_swap_arms,
         answers=(A("res", "what shared_vs_separate returns for the unrelated tasks at 40 examples per task: a dict "
                    "with the per-seed errors 'shared' and 'separate'", "give every task its own teacher (num_tasks=1, "
                    "a different seed each) before stacking them", "the paired 95 % interval of shared - separate "
                    "above 0"),),
         reference="the expected direction, measured on the answer's own per-seed errors: with unrelated tasks the "
                   "shared trunk is worse (paired Student-t interval)")
def _multitask_3(res):
    if not isinstance(res, dict) or not {"shared", "separate"} <= set(res):
        return {"res": (False, "it should be the dict that shared_vs_separate returns")}
    shared, separate = _as_array(res["shared"]), _as_array(res["separate"])
    if shared is None or separate is None or shared.shape != separate.shape or shared.ndim != 1:
        return {"res": (False, "its 'shared' and 'separate' should be one error per seed each")}
    diff = shared - separate
    if diff.size < 2 or not np.isfinite(diff).all():
        return {"res": (False, "it needs at least two seeds, all finite")}
    mean, half = mean_ci(diff)  # paired 95 % Student-t interval
    return {"res": (bool(mean - half > 0), "")}
