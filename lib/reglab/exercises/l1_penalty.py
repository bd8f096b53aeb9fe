"""Self-checks of the exercises of ``book/l1_penalty.ipynb``.

Chapter: *The L1 penalty and sparsity*. Each judge computes its reference by a route of its own
and returns, per answer, ``(passed, detail)``; the exercises register on import, in the
chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from .core import Answer as A
from .core import _agree, _define, _np, _real_input

__all__: list[str] = []


_ELASTIC_CASES = [(1.5, 1.0, 0.5, 0.5), (-2.0, 3.0, 1.0, 2.0), (0.3, 2.0, 1.0, 0.1), (2.5, 0.5, 0.2, 1.0),
                  (-0.2, 1.0, 0.5, 3.0), (4.0, 0.25, 0.1, 0.05), (-3.0, 2.0, 0.7, 0.0)]


def _elastic_minimum(w_star, h, a1, a2):
    f = lambda w: 0.5 * h * (w - w_star) ** 2 + a1 * abs(w) + 0.5 * a2 * w**2
    r = abs(w_star) + 1
    best = optimize.minimize_scalar(f, bounds=(-r, r), method="bounded", options={"xatol": 1e-12}).x
    return 0.0 if f(0.0) <= f(best) else best


@_define("ex-l1_penalty-1", chapter="l1_penalty",
         answers=(A("elastic_net", "a function elastic_net(w_star, h, alpha1, alpha2) returning the minimiser (a float)",
                    "on each side of 0 set f'(w) = 0, keep the point if it lies on that side, otherwise the kink w = 0",
                    "atol 1e-6 on 7 problems (both signs of w*, inside and outside the threshold)"),),
         reference="f minimised numerically (bounded Brent, xatol 1e-12) and compared with f(0)")
def _l1_penalty_1(elastic_net):
    if not callable(elastic_net):
        return {"elastic_net": (False, f"it should be a function, but it is a {type(elastic_net).__name__}")}
    try:
        got = [float(elastic_net(*case)) for case in _ELASTIC_CASES]
    except Exception as err:  # noqa: BLE001 (a student's function may fail in any way: report it)
        return {"elastic_net": (False, f"calling it raised {type(err).__name__}: {err}")}
    return {"elastic_net": _agree(got, [_elastic_minimum(*c) for c in _ELASTIC_CASES], atol=1e-6)}


@_define("ex-l1_penalty-2", chapter="l1_penalty",
         answers=(A("naive", "l1_solution(w_star, diag(H), alpha): the soft threshold, coordinate by coordinate",
                    "soft-threshold each w*_i at alpha / H_ii", "atol 1e-9"),
                  A("exact", "the exact minimiser of 1/2 (w - w*)^T H (w - w*) + alpha ||w||_1", "minimise the full "
                    "objective, with the off-diagonal entries of H", "atol 1e-6")),
         reference="soft threshold in NumPy; the exact minimiser as a smooth problem in (u, v) >= 0 with w = u - v, "
                   "solved by L-BFGS-B")
def _l1_penalty_2(naive, exact):
    H, w_star, alpha = np.array([[1.0, 0.8], [0.8, 1.0]]), np.array([1.0, 0.3]), 0.3
    soft = np.sign(w_star) * np.maximum(np.abs(w_star) - alpha / np.diag(H), 0)

    def f(uv):
        u, v = uv[:2], uv[2:]
        d = u - v - w_star
        g = H @ d
        return 0.5 * d @ g + alpha * (u + v).sum(), np.concatenate([g + alpha, -g + alpha])

    res = optimize.minimize(f, np.zeros(4), jac=True, method="L-BFGS-B", bounds=[(0, None)] * 4,
                            options={"ftol": 1e-15, "gtol": 1e-12})
    return {"naive": _agree(naive, soft, atol=1e-9), "exact": _agree(exact, res.x[:2] - res.x[2:], atol=1e-6)}


def _subgradient_path(h, w_star, alpha, lr, steps):
    w, path = w_star.copy(), [w_star.copy()]
    for _ in range(steps):
        w = w - lr * (h @ (w - w_star) + alpha * np.sign(w))
        path.append(w)
    return np.array(path)


@_define("ex-l1_penalty-3", chapter="l1_penalty", inputs={"lr": "lr_value", "h": "h1", "w_star": "w1", "alpha": "0.5"},
         setup="h1 (a 1 x 1 Hessian) and w1 (w*, with |w*| < alpha / H for alpha = 0.5); lr_value: your last step size",
         answers=(A("band", "the band eps (alpha + H |w*|) for the last step size", "the largest step of eq-l1-update "
                    "near 0 is eps times the size of the bracket", "rtol 1e-12"),
                  A("late", "the largest |w| over the last 2000 of 5000 subgradient steps from w0 = w*, last step size",
                    "run derivations.subgradient_descent for 5000 steps from w0 = w* and look at the last 2000", "rtol 1e-6")),
         reference="the subgradient iteration replayed in NumPy")
def _l1_penalty_3(band, late, *, lr, h, w_star, alpha):
    lr, alpha = _real_input("lr", lr), _real_input("alpha", alpha)
    h, w_star = _np("h", h, ndim=2), _np("w_star", w_star, ndim=1)
    path = _subgradient_path(h, w_star, alpha, lr, 5000)
    ref_band = lr * (alpha + float(np.abs(h).max()) * float(np.abs(w_star).max()))
    return {"band": _agree(band, ref_band, rtol=1e-12), "late": _agree(late, np.abs(path[-2000:]).max(), rtol=1e-6)}
