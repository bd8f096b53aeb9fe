"""Self-checks of the exercises of ``book/l1_penalty.ipynb``.

Chapter: *The L1 penalty and sparsity*. Each judge computes its reference by a route of its own
and returns, per answer, ``(passed, detail)``; the exercises register on import, in the
chapter's order (see :mod:`reglab.exercises.core`).
"""
from __future__ import annotations

import numpy as np

from .._lazy import lazy_module
from ._judging import _agree, _NotYet, _np, _outputs, _real_input
from .core import Answer as A
from .core import Input as I
from .core import _define

optimize = lazy_module("scipy.optimize")

__all__: list[str] = []


_ELASTIC_CASES = [(1.5, 1.0, 0.5, 0.5), (-2.0, 3.0, 1.0, 2.0), (0.3, 2.0, 1.0, 0.1), (2.5, 0.5, 0.2, 1.0),
                  (-0.2, 1.0, 0.5, 3.0), (4.0, 0.25, 0.1, 0.05), (-3.0, 2.0, 0.7, 0.0)]


def _elastic_minimum(w_star, h, a1, a2):
    f = lambda w: 0.5 * h * (w - w_star) ** 2 + a1 * abs(w) + 0.5 * a2 * w**2
    r = abs(w_star) + 1
    best = optimize.minimize_scalar(f, bounds=(-r, r), method="bounded", options={"xatol": 1e-12}).x
    return 0.0 if f(0.0) <= f(best) else best


@_define("ex-l1_penalty-1", chapter="l1_penalty",
         answers=(A("elastic_net", "a function elastic_net(w_star, h, alpha1, alpha2) -> the minimiser of f (a float)",
                    "on each side of 0 set f'(w) = 0, keep the point if it lies on that side, otherwise the kink w = 0",
                    "atol 1e-6 on 7 problems (both signs of w*, inside and outside the threshold)"),),
         reference="f minimised numerically (bounded Brent, xatol 1e-12) and compared with f(0)")
def _l1_penalty_1(elastic_net):
    got, problem = _outputs(elastic_net, _ELASTIC_CASES)
    if got is None:
        return {"elastic_net": (False, problem)}
    return {"elastic_net": _agree(got, [_elastic_minimum(*c) for c in _ELASTIC_CASES], atol=1e-6)}


@_define("ex-l1_penalty-2", chapter="l1_penalty",
         answers=(A("naive", "(2,) l1_solution(w_star, diag(H), alpha): the soft threshold, coordinate by coordinate",
                    "soft-threshold each w*_i at alpha / H_ii", "atol 1e-6"),
                  A("exact", "(2,) the exact minimiser of 1/2 (w - w*)^T H (w - w*) + alpha ||w||_1", "minimise the full "
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
    return {"naive": _agree(naive, soft, atol=1e-6), "exact": _agree(exact, res.x[:2] - res.x[2:], atol=1e-6)}


def _subgradient_path(h, w_star, alpha, lr, steps, dtype):
    """The lecture's update replayed in ``dtype`` (the student's tensors may be float32)."""
    h, w_star, lr, alpha = dtype(h), dtype(w_star), dtype(lr), dtype(alpha)
    w, path = w_star, [w_star]
    for _ in range(steps):
        w = dtype(w - lr * (h * (w - w_star) + alpha * np.sign(w)))
        path.append(w)
    return np.array(path, dtype=np.float64)


@_define("ex-l1_penalty-3", chapter="l1_penalty",
         inputs=(I("h1", "torch.tensor([[0.5]])", "(1, 1) the Hessian H of one coordinate (any H > 0)"),
                 I("w1", "torch.tensor([0.2])", "(1,) its w*, with |w*| < alpha / H (any such)"),
                 I("alpha", "0.5", "the L1 weight (any alpha > 0)"),
                 I("lr_value", "0.001", "the step size eps of the band and the run you report")),
         answers=(A("band", "the band eps (alpha + H |w*|) at eps = lr_value (a number)", "the largest step of "
                    "eq-l1-update near 0 is eps times the size of the bracket", "rtol 1e-6"),
                  A("late", "the largest |w| over the last 2000 of 5000 subgradient steps from w0 = w*, at lr_value",
                    "run derivations.subgradient_descent for 5000 steps from w0 = w* and look at the last 2000",
                    "rtol 1e-6 (float64 or float32 arithmetic)")),
         reference="the subgradient iteration replayed in NumPy, in float64 and in float32")
def _l1_penalty_3(band, late, *, h1, w1, alpha, lr_value):
    lr, alpha = _real_input("lr_value", lr_value), _real_input("alpha", alpha)
    h, w_star = _np("h1", h1).reshape(-1), _np("w1", w1).reshape(-1)
    if h.shape != (1,) or w_star.shape != (1,):
        raise ValueError(f"h1 and w1 must describe one coordinate (one number each), but got {h.size} and {w_star.size}")
    if h[0] <= 0 or alpha <= 0 or lr <= 0:
        raise _NotYet("h1, alpha and lr_value must be > 0")
    if abs(w_star[0]) >= alpha / h[0]:
        raise _NotYet(f"the exercise is about a coordinate whose minimiser is 0: choose |w1| < alpha / h1 = {alpha / h[0]:g}")
    ref_band = lr * (alpha + h[0] * abs(w_star[0]))
    verdicts = [_agree(late, np.abs(_subgradient_path(h[0], w_star[0], alpha, lr, 5000, dtype)[-2000:]).max(),
                       rtol=1e-6) for dtype in (np.float64, np.float32)]
    return {"band": _agree(band, ref_band, rtol=1e-6), "late": max(verdicts, key=lambda v: v[0])}
