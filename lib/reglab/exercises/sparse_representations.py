"""Self-checks of the exercises of ``book/sparse_representations.ipynb``.

Chapter: *Sparse representations*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._lazy import lazy_module
from .._validation import check_int
from ._judging import _agree, _exact, _int_or_none, _labels_input, _NotYet, _np, _outputs, _tensor_input
from .core import Answer as A
from .core import Input as I
from .core import _define

fft = lazy_module("scipy.fft")

__all__: list[str] = []


@_define("ex-sparse_representations-1", chapter="sparse_representations",
         inputs=(I("trials", "200", "the number of random signals you try both rules on"),),
         answers=(A("right_rule", "on how many of the `trials` signals your corrected rule found the optimal "
                    "support (an integer)", "rank the atoms by how much of the squared error each removes on its own",
                    "all of them"),
                  A("wrong_rule", "on how many the rule 'k largest |w_j^T x|' did (an integer)", "rank by |w_j^T x| "
                    "as the slide does", "fewer than all")),
         reference="what the counts must be: the corrected rule is exact, so it finds the optimal support on every "
                   "trial; the slide's rule misses on some when the atoms' lengths differ (a weak check: counts only)")
def _sparse_representations_1(right_rule, wrong_rule, *, trials):
    trials = check_int("trials", _int_or_none(trials), low=1)
    wrong = _int_or_none(wrong_rule)
    return {"right_rule": _exact(_int_or_none(right_rule), trials),
            "wrong_rule": (isinstance(wrong, int) and not isinstance(wrong, bool) and 0 <= wrong < trials, "")}


@_define("ex-sparse_representations-2", chapter="sparse_representations",
         answers=(A("mu", "the coherence of W = [I C] (a number): the largest |w_i^T w_j| over pairs of different atoms",
                    "take the largest absolute off-diagonal entry of W^T W", "rtol 1e-6"),),
         reference="the orthonormal DCT-II matrix from scipy.fft.dct beside the identity; largest off-diagonal |Gram| entry")
def _sparse_representations_2(mu):
    W = np.hstack([np.eye(40), fft.dct(np.eye(40), norm="ortho", axis=0).T])
    G = np.abs(W.T @ W) - np.eye(80)
    return {"mu": _agree(mu, G.max(), rtol=1e-6)}


@_define("ex-sparse_representations-3", chapter="sparse_representations",
         inputs=(I("hidden_layers", 'sweep["hidden"]', "the SP-1 networks' test activations: a list of "
                   "(25 networks, 1000 test examples, 64 units), one per hidden layer"),
                 I("n_seeds", "config.seeds", "networks per alpha (5); the networks are alpha-major")),
         answers=(A("among_alive", "(alphas, seeds): per alpha (rows) and seed (columns), the fraction of inactive "
                    "(example, unit) pairs among the units active on at least one test example", "count only the "
                    "living units: the denominator is their number times the number of examples", "rtol 1e-9"),),
         reference="NumPy, member by member, over the concatenated hidden layers")
def _sparse_representations_3(among_alive, *, hidden_layers, n_seeds):
    if not isinstance(hidden_layers, (list, tuple)) or not hidden_layers:
        raise TypeError(f"hidden_layers must be a list of activation tensors, but got {type(hidden_layers).__name__}")
    h = np.concatenate([_np(f"hidden_layers[{i}]", t, ndim=3) for i, t in enumerate(hidden_layers)], axis=-1)
    seeds = check_int("n_seeds", _int_or_none(n_seeds), low=1)
    if h.shape[0] % seeds:
        raise ValueError(f"the number of networks ({h.shape[0]}) must be a multiple of n_seeds ({seeds})")
    ref = []
    for member in h:
        alive = (member > 0).any(0)
        ref.append((member[:, alive] == 0).mean() if alive.any() else 0.0)
    return {"among_alive": _agree(among_alive, np.reshape(ref, (-1, seeds)), rtol=1e-9)}


def _sweep(name, result):
    if not isinstance(result, dict) or not {"model", "alphas"} <= set(result) or not hasattr(result["model"], "hidden"):
        raise _NotYet(f"{name} should be what activation_penalty_sweep returns (a dict with its 'model')")
    return result


@_define("ex-sparse_representations-4", chapter="sparse_representations",
         inputs=(I("strong", "...", "the five alpha = 0.05 networks: what activation_penalty_sweep(data, "
                   "SparsityConfig(alphas=(0.05,))) returns"),
                 I("sweep_sp1", "sweep", "the SP-1 sweep above; its alpha = 0.02 networks are the last n_seeds"),
                 I("x_train", "data.x_train", "(4000, 40) the training signals"),
                 I("y_train", "data.y_train", "(4000,) their labels"),
                 I("n_seeds", "config.seeds", "networks per alpha (5)")),
         answers=(A("objective_parts", "a function objective_parts(result) -> (mean training cross-entropy, mean "
                    "||h||_1 of the training activations) over a sweep's networks of its last alpha",
                    "both terms on the training set, where the objective is defined: each network's mean "
                    "cross-entropy and the L1 norm of its hidden activations per example, averaged over the networks",
                    "rtol 1e-6, on both sweeps"),),
         reference="the networks run on the training set: their logits through torch's F.cross_entropy member by "
                   "member, ||h||_1 from the hidden activations of that run")
def _sparse_representations_4(objective_parts, *, strong, sweep_sp1, x_train, y_train, n_seeds):
    results = (_sweep("strong", strong), _sweep("sweep_sp1", sweep_sp1))
    x, y = _tensor_input("x_train", x_train, ndim=2), _labels_input("y_train", y_train)
    seeds = check_int("n_seeds", _int_or_none(n_seeds), low=1)
    # the student's function first, on the sweeps as they are (their .hidden: the test activations)
    got, problem = _outputs(objective_parts, [(r,) for r in results])
    ref = []
    for result in results:
        model = result["model"]
        members = range(len(result["alphas"]) * seeds - seeds, len(result["alphas"]) * seeds)
        with torch.no_grad():
            logits = model(x_train if isinstance(x_train, torch.Tensor) else x)
        h = torch.cat(model.hidden, dim=-1)
        ref.append([np.mean([F.cross_entropy(logits[m], y).item() for m in members]),
                    np.mean([h[m].abs().sum(-1).mean().item() for m in members])])
    if got is None:
        return {"objective_parts": (False, problem)}
    return {"objective_parts": _agree(got, ref, rtol=1e-6)}
