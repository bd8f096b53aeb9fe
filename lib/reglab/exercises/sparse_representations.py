"""Self-checks of the exercises of ``book/sparse_representations.ipynb``.

Chapter: *Sparse representations*. Each judge computes its reference by a route of its own and
returns, per answer, ``(passed, detail)``; the exercises register on import, in the chapter's
order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.fft import dct

from .core import Answer as A
from .core import _agree, _define, _exact, _int_or_none, _np

__all__: list[str] = []


@_define("ex-sparse_representations-1", chapter="sparse_representations", inputs={"trials": "200"},
         answers=(A("right_rule", "on how many of the 200 signals your corrected rule found the optimal support",
                    "rank the atoms by how much of the squared error each removes on its own", "all of them"),
                  A("wrong_rule", "on how many the rule 'k largest |w_j^T x|' did", "rank by |w_j^T x| as the slide "
                    "does", "fewer than all")),
         reference="what the counts must be: the corrected rule is exact, so it finds the optimal support on every "
                   "trial; the slide's rule misses on some when the atoms' lengths differ (a weak check: counts only)")
def _sparse_representations_1(right_rule, wrong_rule, *, trials):
    return {"right_rule": _exact(_int_or_none(right_rule), int(trials)),
            "wrong_rule": (isinstance(_int_or_none(wrong_rule), int) and 0 <= _int_or_none(wrong_rule) < int(trials), "")}


@_define("ex-sparse_representations-2", chapter="sparse_representations",
         answers=(A("mu", "the coherence of W = [I C]: the largest |w_i^T w_j| over pairs of different atoms",
                    "take the largest absolute off-diagonal entry of W^T W", "rtol 1e-9"),),
         reference="the orthonormal DCT-II matrix from scipy.fft.dct beside the identity; largest off-diagonal |Gram| entry")
def _sparse_representations_2(mu):
    W = np.hstack([np.eye(40), dct(np.eye(40), norm="ortho", axis=0).T])
    G = np.abs(W.T @ W) - np.eye(80)
    return {"mu": _agree(mu, G.max(), rtol=1e-9)}


@_define("ex-sparse_representations-3", chapter="sparse_representations",
         inputs={"hidden": 'sweep["hidden"]', "seeds": "config.seeds"},
         answers=(A("among_alive", "per alpha (rows) and seed (columns), the fraction of inactive (example, unit) pairs "
                    "among the units active on at least one test example", "count only the living units: the "
                    "denominator is their number times the number of examples", "rtol 1e-9"),),
         reference="NumPy, member by member, over the concatenated hidden layers")
def _sparse_representations_3(among_alive, *, hidden, seeds):
    h = np.concatenate([_np(f"hidden[{i}]", t, ndim=3) for i, t in enumerate(hidden)], axis=-1)
    ref = []
    for member in h:
        alive = (member > 0).any(0)
        ref.append((member[:, alive] == 0).mean())
    return {"among_alive": _agree(among_alive, np.reshape(ref, (-1, int(seeds))), rtol=1e-9)}


@_define("ex-sparse_representations-4", chapter="sparse_representations",
         inputs={"strong": "strong", "sweep": "sweep", "x": "data.x_train", "y": "data.y_train",
                 "seeds": "config.seeds"},
         answers=(A("objective_parts", "a function objective_parts(result) -> (mean training cross-entropy, mean "
                    "||h||_1 of the training activations) over a sweep's networks of its last alpha",
                    "both terms on the training set, where the objective is defined: each network's mean "
                    "cross-entropy and the L1 norm of its hidden activations per example, averaged over the networks",
                    "rtol 1e-6, on both sweeps"),),
         reference="the networks run on the training set: their logits through torch's F.cross_entropy member by "
                   "member, ||h||_1 from the hidden activations of that run")
def _sparse_representations_4(objective_parts, *, strong, sweep, x, y, seeds):
    if not callable(objective_parts):
        return {"objective_parts": (False, "it should be a function")}
    got, ref = [], []
    for result in (strong, sweep):
        model = result["model"]
        members = range(len(result["alphas"]) * seeds - seeds, len(result["alphas"]) * seeds)
        with torch.no_grad():
            logits = model(x)
        h = torch.cat(model.hidden, dim=-1)
        ref.append([np.mean([F.cross_entropy(logits[m], y).item() for m in members]),
                    np.mean([h[m].abs().sum(-1).mean().item() for m in members])])
        try:
            got.append([float(v) for v in objective_parts(result)])
        except Exception as err:  # noqa: BLE001 (a student's function may fail in any way: report it)
            return {"objective_parts": (False, f"calling it raised {type(err).__name__}: {err}")}
    return {"objective_parts": _agree(got, ref, rtol=1e-6)}
