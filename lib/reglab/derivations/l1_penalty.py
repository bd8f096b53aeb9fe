"""The L1 penalty: closed forms and derivation checks (chapter ``l1_penalty``).

- L1-1: the (sub)gradient of :math:`J + \\alpha\\|w\\|_1` is :math:`\\nabla J + \\alpha\\,\\mathrm{sign}(w)`.
- L1-2: with a diagonal Hessian the minimiser is the soft threshold
  :math:`w_i = \\mathrm{sign}(w^*_i)\\max(|w^*_i| - \\alpha/H_{ii}, 0)` (:func:`l1_solution`).
- L1-3: its two cases: exactly zero, or shifted towards zero by :math:`\\alpha/H_{ii}`.
- L1-4: the proximal step is exactly zero where the soft threshold says so; the lecture's
  subgradient update instead maps a band of width :math:`2\\epsilon\\alpha` onto itself
  (``subgradient_band``) and keeps changing sign in it; L2 has no zeros. L1-4 is checked in
  ``derivations/_l1_penalty_zeros.py``; every public name of it is imported here.
- L1-5 (beyond the lecture): L2 is MAP estimation with a Gaussian prior, L1 with a Laplace prior.

The minimisers the checks use (brute force, ISTA, the subgradient method) are in :mod:`reglab.solvers`.
Experiment L1-6 (L1 against L2 on the 8x8 digits) is registered and run in :mod:`reglab.experiments.l1_penalty`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_real, check_tensor
from ..penalties import l1_penalty, soft_threshold
from ..solvers import brute_force_l1, proximal_gradient, subgradient_descent
from ._l1_penalty_zeros import (  # L1-4 (importing registers it)
    L1_4_LATE,
    L1_4_LR,
    L1_4_STEPS,
    _diag_problem,
    _l1_4_path,  # noqa: F401 (kept importable from here, as before the split)
    _subgradient,  # noqa: F401 (kept importable from here, as before the split)
    check_l1_4,
    check_l1_4_band,
    check_l1_4_band_image,
    check_l1_4_l2,
    check_l1_4_sign_changes,
    subgradient_band,
)
from .compare import Check, compare
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "L1_4_LATE",
    "L1_4_LR",
    "L1_4_STEPS",
    "check_l1_1",
    "check_l1_2",
    "check_l1_2_ista",
    "check_l1_2_sympy",
    "check_l1_3",
    "check_l1_4",
    "check_l1_4_band",
    "check_l1_4_band_image",
    "check_l1_4_l2",
    "check_l1_4_sign_changes",
    "check_l1_5",
    "l1_solution",
    "map_alpha",
    "subgradient_band",
    "symbolic_l1_minimiser",
    "sympy_l1_solution",
]

CHAPTER = "l1_penalty"


# ---- closed forms -----------------------------------------------------------------------------
def l1_solution(w_star: Tensor, h_diag: Tensor, alpha: float) -> Tensor:
    r"""Minimiser of the quadratic approximation plus an L1 penalty, for a diagonal Hessian.

    Parameters
    ----------
    w_star : Tensor of shape (n,)
        Minimiser of the unregularized cost :math:`J`.
    h_diag : Tensor of shape (n,), entries > 0
        Diagonal :math:`H_{ii}` of the Hessian of :math:`J` at :math:`w^*`.
    alpha : float >= 0
        Penalty weight.

    Returns
    -------
    Tensor of shape (n,)
        :math:`w_i = \mathrm{sign}(w^*_i)\max(|w^*_i| - \alpha/H_{ii}, 0)`: the objective
        :math:`\sum_i \tfrac12 H_{ii}(w_i - w^*_i)^2 + \alpha|w_i|` separates into one-dimensional
        problems (lecture, "L1 regularization"; Goodfellow et al. 2016, eq. 7.23).

    Examples
    --------
    >>> l1_solution(torch.tensor([2.0, -0.3]), torch.tensor([1.0, 1.0]), 0.5)
    tensor([1.5000, -0.0000])
    """
    check_tensor("w_star", w_star, ndim=1, floating=True, finite=True)
    check_tensor("h_diag", h_diag, ndim=1, floating=True, finite=True)
    if h_diag.shape != w_star.shape:
        raise ValueError(f"h_diag must have the shape of w_star {tuple(w_star.shape)}, but got {tuple(h_diag.shape)}")
    if not bool((h_diag > 0).all()):
        raise ValueError(f"h_diag must have entries > 0 (a minimum of J), but got {h_diag.tolist()}")
    alpha = check_real("alpha", alpha, low=0.0)
    return soft_threshold(w_star, alpha / h_diag)


def symbolic_l1_minimiser() -> dict:
    r"""SymPy's piecewise minimisation of :math:`f(w) = \tfrac{h}{2}(w - w^*)^2 + \alpha|w|`.

    On each side of the kink at 0 the objective is a parabola; its stationary point is a
    candidate if it lies on that side, and the kink itself always is. Returns ``symbols``
    (w, w_star, h, alpha), ``objective``, ``branches`` (``(side, branch objective, stationary
    point, condition)`` each) and ``minimiser``, a ``sympy.Piecewise``.
    """
    import sympy as sp

    w, ws = sp.symbols("w w^*", real=True)
    h, a = sp.symbols("h alpha", positive=True)
    objective = h / 2 * (w - ws) ** 2 + a * sp.Abs(w)
    branches, pieces = [], []
    for side in (1, -1):
        f_side = h / 2 * (w - ws) ** 2 + a * side * w  # |w| = side * w on this side
        (stationary,) = sp.solve(sp.diff(f_side, w), w)
        condition = side * stationary > 0
        branches.append((side, f_side, stationary, condition))
        pieces.append((stationary, condition))
    minimiser = sp.Piecewise(*pieces, (sp.Integer(0), True))
    return {"symbols": (w, ws, h, a), "objective": objective, "branches": branches, "minimiser": minimiser}


def sympy_l1_solution(w_star, h_diag, alpha) -> list:
    """Each coordinate's exact minimiser (a ``sympy.Rational``): the best of the kink and the branch candidates.

    ``w_star`` and ``h_diag`` are sequences of numbers, taken as the exact rationals they are.
    """
    import sympy as sp

    sym = symbolic_l1_minimiser()
    w, ws, h, a = sym["symbols"]
    if len(w_star) != len(h_diag):
        raise ValueError(f"w_star and h_diag must have the same length, but got {len(w_star)} and {len(h_diag)}")
    alpha = sp.Rational(check_real("alpha", alpha, low=0.0))
    out = []
    for wi, hi in zip(w_star, h_diag):
        values = {ws: sp.Rational(check_real("w_star", wi)),
                  h: sp.Rational(check_real("h_diag", hi, low=0.0, low_open=True)), a: alpha}
        candidates = [sp.Integer(0)]
        for side, _, stationary, _ in sym["branches"]:
            point = stationary.subs(values)
            if side * point > 0:
                candidates.append(point)
        objective = sym["objective"].subs(values)
        out.append(min(candidates, key=lambda c: objective.subs(w, c)))
    return out


def map_alpha(prior: str, scale: float, *, noise_std: float = 1.0) -> float:
    r"""Penalty weight that makes penalised least squares the MAP estimate under a prior.

    With Gaussian noise of standard deviation :math:`\sigma` the negative log-likelihood is
    :math:`\|y - Xw\|^2/(2\sigma^2)` plus a constant; the negative log-prior adds
    :math:`\tfrac{\alpha}{2}\|w\|_2^2` with :math:`\alpha = 1/s^2` for a Gaussian prior :math:`N(0, s^2)`
    and :math:`\alpha\|w\|_1` with :math:`\alpha = 1/s` for a Laplace prior of scale :math:`s`.
    In units of the squared error :math:`\tfrac12\|y - Xw\|^2`, as returned, both weights are
    multiplied by :math:`\sigma^2`.

    Parameters
    ----------
    prior : {"gaussian", "laplace"}
    scale : float > 0
        Standard deviation of the Gaussian prior, or scale ``b`` of the Laplace prior.
    noise_std : float > 0
        Standard deviation :math:`\sigma` of the observation noise.

    Examples
    --------
    >>> map_alpha("gaussian", 0.5), map_alpha("laplace", 0.5)
    (4.0, 2.0)
    """
    check_choice("prior", prior, ("gaussian", "laplace"))
    scale = check_real("scale", scale, low=0.0, low_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
    return noise_std**2 / (scale**2 if prior == "gaussian" else scale)


# ---- L1-1 .. L1-3: the gradient and the soft threshold ---------------------------------------
@derivation(
    "L1-1", chapter=CHAPTER, label="autograd",
    claim_tex=(
        r"Away from 0 the gradient of $J + \alpha\lVert w\rVert_1$ is $\nabla J + "
        r"\alpha\,\mathrm{sign}(w)$."
    ),
    claim="Away from 0 the gradient of J + alpha*||w||_1 is grad J + alpha*sign(w).",
    planted=(
        Planted(
            "alpha*w for alpha*sign(w)",
            "the L2 gradient alpha*w written for the L1 one",
            kind="student",
        ),
        Planted(
            "alpha dropped",
            "grad J + sign(w), the penalty weight forgotten",
            kind="student",
        ),
        Planted(
            "alpha/2 sign(w)",
            "the 1/2 of the L2 convention (alpha/2)||w||^2 carried over to the L1 term: "
            "grad J + (alpha/2) sign(w)",
            kind="student",
        ),
        Planted(
            "penalty's gradient left out",
            "grad J alone taken as the gradient of J + alpha*||w||_1 "
            "(the penalty removed)",
            kind="control",
        ),
    ),
)
def check_l1_1(*, planted=None) -> Check:
    """L1-1: hand-derived gradient of a logistic loss plus alpha sign(w), against autograd."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(50, 6, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(50, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0).to(torch.float64)
    w = torch.randn(6, generator=g, dtype=torch.float64)
    w = torch.where(w.abs() < 0.1, w.sign() * 0.1 + w, w)  # keep away from the kink
    alpha = 0.3
    Xn, yn, wn = X.numpy(), y.numpy(), w.numpy()
    grad_j = -(Xn * (yn / (1.0 + np.exp(yn * (Xn @ wn))))[:, None]).mean(
        0
    )  # d/dw mean log(1 + e^{-y x.w})
    penalty = choose(
        planted,
        alpha * np.sign(wn),
        {
            "alpha*w for alpha*sign(w)": alpha * wn,
            "alpha dropped": np.sign(wn),
            "alpha/2 sign(w)": alpha / 2 * np.sign(wn),
            "penalty's gradient left out": 0.0,
        },
    )
    wt = w.clone().requires_grad_(True)
    cost = torch.nn.functional.softplus(-y * (X @ wt)).mean() + alpha * l1_penalty([wt])
    (auto,) = torch.autograd.grad(cost, wt)
    return compare(
        "L1-1", grad_j + penalty, auto, atol=1e-12,
        analytic_label="grad J + alpha sign(w) (by hand)", empirical_label="autograd",
        note="logistic loss, 50 random points, 6 weights with |w_i| >= 0.1,\n    alpha = 0.3",
    )


@derivation(
    "L1-2", chapter=CHAPTER, label="brute force",
    claim_tex=(
        r"With diagonal $H$ the minimiser of the quadratic plus $\alpha\lVert w\rVert_1$ is $w_i = "
        r"\mathrm{sign}(w^*_i)\max(\lvert w^*_i\rvert - \alpha/H_{ii}, 0)$: it equals the exact minimiser "
        r"found by brute force over all sign patterns, by ISTA and by SymPy's piecewise minimisation."
    ),
    claim="With diagonal H the minimiser of the quadratic plus alpha*||w||_1 is "
    "w_i = sign(w*_i) max(|w*_i| - alpha/H_ii, 0): it equals the exact minimiser found by brute force "
    "over all sign patterns, by ISTA and by SymPy's piecewise minimisation.",
    planted=(
        Planted(
            "alpha*H_ii for alpha/H_ii",
            "threshold alpha*H_ii in the formula instead of alpha/H_ii",
            kind="student",
        ),
        Planted(
            "sign(w*_i) dropped",
            "max(w*_i - alpha/H_ii, 0), the lecture's case w*_i > 0 used for every sign",
            kind="student",
        ),
    ),
)
def check_l1_2(*, planted=None) -> Check:
    """L1-2: the soft-threshold formula against exact enumeration of all 3^n sign patterns."""
    w_star, h_diag, alpha = _diag_problem()
    formula = choose(planted, l1_solution, {
        "alpha*H_ii for alpha/H_ii": lambda w, h, a: soft_threshold(w, a * h),
        "sign(w*_i) dropped": lambda w, h, a: torch.clamp(w - a / h, min=0.0),
    })
    return compare(
        "L1-2", formula(w_star, h_diag, alpha), brute_force_l1(torch.diag(h_diag), w_star, alpha), atol=1e-12,
        analytic_label="soft threshold", empirical_label="brute force (3^6 sign patterns)",
        note="6 coordinates, alpha = 0.5, H = diag(1, 2, 0.5, 4, 3, 1); float64",
    )


@subcheck(
    "L1-2",
    label="ISTA",
    planted=(
        Planted(
            "ISTA threshold alpha for eps*alpha",
            "the proximal step thresholds at alpha, not at step size "
            "times alpha",
            kind="student",
        ),
        Planted(
            "1/2 of the quadratic dropped",
            "threshold alpha/(2 H_ii), from H_ii (w - w*)^2 without the 1/2",
            kind="student",
        ),
    ),
)
def check_l1_2_ista(steps: int = 400, *, planted=None) -> Check:
    """L1-2 again: the formula against proximal gradient descent (ISTA) run to convergence.

    With step :math:`1/\\max_i H_{ii}` each coordinate's error contracts by at least
    :math:`1 - \\min H/\\max H = 7/8` per step, so 400 steps leave less than 1e-20 of it.
    """
    w_star, h_diag, alpha = _diag_problem()
    lr = 1.0 / float(h_diag.max())  # 1/4: the slip's threshold lr * (alpha / lr) is alpha exactly
    formula, ista_alpha, ista_lr = choose(planted, (l1_solution, alpha, None), {
        "ISTA threshold alpha for eps*alpha": (l1_solution, alpha / lr, lr),
        "1/2 of the quadratic dropped": (lambda w, h, a: soft_threshold(w, a / (2 * h)), alpha, None),
    })
    ista = proximal_gradient(torch.diag(h_diag), w_star, ista_alpha, steps=steps, lr=ista_lr)[-1]
    return compare("L1-2", formula(w_star, h_diag, alpha), ista, atol=1e-12,
                   analytic_label="soft threshold", empirical_label=f"ISTA, {steps} steps")


@subcheck(
    "L1-2",
    label="SymPy",
    planted=(
        Planted(
            "shift alpha for alpha/H_ii",
            "the minimiser moved by the constant pull alpha, not by "
            "alpha/H_ii",
            kind="student",
        ),
    ),
)
def check_l1_2_sympy(*, planted=None) -> Check:
    """L1-2 again: the formula against SymPy's exact piecewise minimisation (rational arithmetic)."""
    w_star, h_diag, alpha = _diag_problem()
    exact = sympy_l1_solution(w_star.tolist(), h_diag.tolist(), alpha)
    formula = choose(planted, l1_solution, {"shift alpha for alpha/H_ii": lambda w, h, a: soft_threshold(w, a)})
    return compare(
        "L1-2", formula(w_star, h_diag, alpha), np.array([float(v) for v in exact]), atol=1e-14,
        analytic_label="soft threshold", empirical_label="SymPy piecewise minimum",
        note="SymPy uses the exact rationals of the float inputs;\n    tolerance: a few float64 rounding steps",
    )


@derivation(
    "L1-3", chapter=CHAPTER, label="ISTA",
    claim_tex=(
        r"Coordinates with $\lvert w^*_i\rvert \le \alpha/H_{ii}$ become exactly 0; the others move "
        r"towards 0 by $\alpha/H_{ii}$."
    ),
    claim="Coordinates with |w*_i| <= alpha/H_ii become exactly 0; the others move towards 0 by alpha/H_ii.",
    planted=(
        Planted(
            "shift alpha for alpha/H_ii",
            "the constant pull alpha read as the shift of the minimiser",
            kind="student",
        ),
        Planted(
            "alpha*H_ii for alpha/H_ii",
            "zero case |w*_i| <= alpha*H_ii and shift alpha*H_ii",
            kind="student",
        ),
    ),
)
def check_l1_3(*, planted=None) -> Check:
    """L1-3: the case test ``|w*_i| <= alpha/H_ii`` and the shift ``alpha/H_ii``, against ISTA's exact zeros and shifts."""
    w_star, h_diag, alpha = _diag_problem()
    threshold = choose(planted, alpha / h_diag, {
        "shift alpha for alpha/H_ii": torch.full_like(h_diag, alpha), "alpha*H_ii for alpha/H_ii": alpha * h_diag,
    })
    predicted_zero = (w_star.abs() <= threshold).to(torch.float64)
    w = proximal_gradient(torch.diag(h_diag), w_star, alpha, steps=400, w0=w_star)[-1]
    kept = predicted_zero == 0
    # signed shift towards zero: a coordinate that crossed zero would show a shift above |w*_i|
    return compare(
        "L1-3", torch.cat([predicted_zero, threshold[kept]]),
        torch.cat([(w == 0).to(torch.float64), (w_star.abs() - torch.sign(w_star) * w)[kept]]), atol=1e-12,
        analytic_label="[zero?] + shifts alpha/H_ii", empirical_label="ISTA: [w_i == 0.0] + shifts",
        note="first 6 numbers: 1 if the coordinate is zero; then the shift\n"
        "    |w*_i| - sign(w*_i) w_i of each coordinate predicted non-zero",
    )


# ---- L1-5: L2 and L1 as MAP estimates ---------------------------------------------------------
def _orthogonal_design(n: int = 40, d: int = 6, noise_std: float = 0.5, seed: int = 2):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
    X = q * torch.tensor([3.0, 2.5, 2.0, 1.5, 1.0, 0.8], dtype=torch.float64)[:d]  # X^T X diagonal
    w_true = torch.tensor([1.0, -0.6, 0.0, 0.3, 0.0, -0.2], dtype=torch.float64)[:d]
    return X, X @ w_true + noise_std * torch.randn(n, generator=g, dtype=torch.float64)


def _map_by_coordinate_search(X, y, noise_std, prior, scale, sweeps: int = 2) -> Tensor:
    """Maximise log p(y | X, w) + log p(w) (``torch.distributions``) one coordinate at a time.

    Along one coordinate the log posterior is concave: its maximum is where the derivative
    (autograd) changes sign from + to -; Brent's method finds it to 1e-14, even at the kink of
    the Laplace prior at 0.
    """
    from scipy.optimize import brentq
    from torch.distributions import Laplace, Normal

    def f64(v):  # python floats would become float32 parameters of the distributions
        return torch.tensor(v, dtype=torch.float64)

    def log_posterior(w):
        p = Normal(f64(0.0), f64(scale)) if prior == "gaussian" else Laplace(f64(0.0), f64(scale))
        return Normal(X @ w, f64(noise_std)).log_prob(y).sum() + p.log_prob(w).sum()

    w = torch.zeros(X.shape[1], dtype=torch.float64)
    bound = 2.0 * float(torch.linalg.lstsq(X, y.unsqueeze(1)).solution.abs().max()) + 1.0
    for _ in range(sweeps):
        for i in range(w.shape[0]):
            def slope(v, i=i):
                trial = w.clone()
                trial[i] = v
                trial.requires_grad_(True)
                return float(torch.autograd.grad(log_posterior(trial), trial)[0][i])

            w[i] = brentq(slope, -bound, bound, xtol=1e-14)
    return w


@derivation(
    "L1-5", chapter=CHAPTER, label="MAP search",
    claim_tex=(
        r"(beyond) The L2 solution is the MAP estimate under a Gaussian prior, the L1 solution under a "
        r"Laplace prior."
    ),
    claim="(beyond) The L2 solution is the MAP estimate under a Gaussian prior, the L1 solution under a Laplace prior.",
    planted=(
        Planted(
            "noise variance forgotten",
            "alpha = 1/s^2 and 1/b, without the factor sigma^2 of squared-error "
            "units",
            kind="student",
        ),
        Planted(
            "Laplace weight sigma^2/b^2",
            "the Gaussian's square carried over to the Laplace prior",
            kind="student",
        ),
    ),
)
def check_l1_5(*, planted=None) -> Check:
    """L1-5: the penalised closed forms (alpha from :func:`map_alpha`) against the arg-max of the log
    posterior, for linear regression with an orthogonal design (:math:`H = X^TX` diagonal)."""
    noise_std, s_gauss, b_laplace = 0.5, 0.3, 0.1
    X, y = _orthogonal_design(noise_std=noise_std)
    h = (X * X).sum(0)
    w_star = X.T @ y / h  # least squares (X^T X is diagonal)
    alpha_l2 = map_alpha("gaussian", s_gauss, noise_std=noise_std)
    alpha_l2, alpha_l1 = choose(planted, (alpha_l2, map_alpha("laplace", b_laplace, noise_std=noise_std)), {
        "noise variance forgotten": (map_alpha("gaussian", s_gauss), map_alpha("laplace", b_laplace)),
        "Laplace weight sigma^2/b^2": (alpha_l2, noise_std**2 / b_laplace**2),
    })
    return compare(
        "L1-5", torch.cat([h / (h + alpha_l2) * w_star, l1_solution(w_star, h, alpha_l1)]),
        torch.cat([_map_by_coordinate_search(X, y, noise_std, "gaussian", s_gauss),
                   _map_by_coordinate_search(X, y, noise_std, "laplace", b_laplace)]), atol=1e-10,
        analytic_label="penalised closed forms [L2, L1]", empirical_label="arg-max log posterior",
        note="[Gaussian, Laplace]; sigma = 0.5, Gaussian prior std 0.3,\n"
        "    Laplace scale 0.1; the search brackets each maximum to 1e-14",
    )
