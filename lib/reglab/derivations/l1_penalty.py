"""The L1 penalty: closed forms and derivation checks (chapter ``l1_penalty``).

- L1-1: the (sub)gradient of :math:`J + \\alpha\\|w\\|_1` is :math:`\\nabla J + \\alpha\\,\\mathrm{sign}(w)`.
- L1-2: with a diagonal Hessian the minimiser is the soft threshold
  :math:`w_i = \\mathrm{sign}(w^*_i)\\max(|w^*_i| - \\alpha/H_{ii}, 0)` (:func:`l1_solution`).
- L1-3: its two cases: exactly zero, or shifted towards zero by :math:`\\alpha/H_{ii}`.
- L1-4: the proximal step is exactly zero where the soft threshold says so; the lecture's
  subgradient update instead keeps changing sign in a band of width :math:`2\\epsilon\\alpha`
  (:func:`subgradient_band`); L2 has no zeros.
- L1-5 (beyond the lecture): L2 is MAP estimation with a Gaussian prior, L1 with a Laplace prior.
- L1-6 (experiment, registered here, run by :mod:`reglab.experiments.l1_penalty`): L1 against
  L2 on the 8x8 handwritten digits, share of exactly-zero weights.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_int, check_real, check_tensor
from ..penalties import l1_penalty, l1_step, soft_threshold, weight_decay_step
from .compare import Check, compare
from .registry import Planted, derivation, experiment, subcheck

__all__ = [
    "brute_force_l1",
    "check_l1_1",
    "check_l1_2",
    "check_l1_2_ista",
    "check_l1_2_sympy",
    "check_l1_3",
    "check_l1_4",
    "check_l1_4_band",
    "check_l1_4_l2",
    "check_l1_4_sign_changes",
    "check_l1_5",
    "l1_solution",
    "map_alpha",
    "proximal_gradient",
    "subgradient_band",
    "subgradient_descent",
    "symbolic_l1_minimiser",
    "sympy_l1_solution",
]

CHAPTER = "l1_penalty"


# ---------------------------------------------------------------------------------------------
# Closed form and independent solvers
# ---------------------------------------------------------------------------------------------
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
        :math:`w_i = \mathrm{sign}(w^*_i)\max(|w^*_i| - \alpha/H_{ii}, 0)`.

    Notes
    -----
    The objective :math:`\sum_i \tfrac12 H_{ii}(w_i - w^*_i)^2 + \alpha|w_i|` separates into
    one-dimensional problems; each is solved by the soft threshold (lecture, "L1
    regularization"; Goodfellow et al. 2016, eq. 7.23). Coordinates with
    :math:`|w^*_i| \le \alpha/H_{ii}` are exactly zero, the others move towards zero by
    :math:`\alpha/H_{ii}`.

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
    return torch.sign(w_star) * torch.clamp(w_star.abs() - alpha / h_diag, min=0.0)


def _check_problem(H: Tensor, w_star: Tensor, alpha) -> float:
    check_tensor("H", H, ndim=2, floating=True, finite=True)
    check_tensor("w_star", w_star, ndim=1, floating=True, finite=True)
    n = w_star.shape[0]
    if H.shape != (n, n):
        raise ValueError(f"H must have shape ({n}, {n}) to match w_star, but got {tuple(H.shape)}")
    if not torch.allclose(H, H.T, rtol=0.0, atol=1e-12 * max(float(H.abs().max()), 1.0)):
        raise ValueError("H must be symmetric (it is a Hessian), but H differs from its transpose")
    if float(torch.linalg.eigvalsh(H).min()) <= 0:
        raise ValueError("H must be positive definite (w_star a strict minimum of J), but it has an eigenvalue <= 0")
    return check_real("alpha", alpha, low=0.0)


def _objective(H: np.ndarray, w_star: np.ndarray, alpha: float, w: np.ndarray) -> float:
    r = w - w_star
    return 0.5 * r @ H @ r + alpha * np.abs(w).sum()


def brute_force_l1(H: Tensor, w_star: Tensor, alpha: float) -> Tensor:
    r"""Exact minimiser of :math:`\tfrac12(w-w^*)^T H (w-w^*) + \alpha\|w\|_1` by enumeration.

    Tries all :math:`3^n` sign patterns :math:`s \in \{-1, 0, +1\}^n`. For each pattern the
    coordinates with :math:`s_i = 0` are fixed at zero and the others solve the linear
    stationarity condition :math:`H_{AA} w_A = (H w^*)_A - \alpha s_A`; a pattern is feasible if
    the solution has the signs assumed. The feasible candidate with the lowest objective is the
    minimiser. No property of :math:`H` beyond positive definiteness is used (it need not be
    diagonal), so this is an independent check of :func:`l1_solution`.

    Parameters
    ----------
    H : Tensor of shape (n, n), symmetric positive definite, n <= 10
    w_star : Tensor of shape (n,)
    alpha : float >= 0

    Returns
    -------
    Tensor of shape (n,), float64 (zeros are exact)

    Examples
    --------
    >>> H = torch.eye(2, dtype=torch.float64)
    >>> brute_force_l1(H, torch.tensor([2.0, -0.3], dtype=torch.float64), 0.5)
    tensor([1.5000, 0.0000], dtype=torch.float64)
    """
    alpha = _check_problem(H, w_star, alpha)
    n = w_star.shape[0]
    if n > 10:
        raise ValueError(f"brute_force_l1 enumerates 3^n sign patterns: n must be <= 10, but got {n}")
    Hn = H.detach().cpu().numpy().astype(np.float64)
    ws = w_star.detach().cpu().numpy().astype(np.float64)
    b = Hn @ ws
    best_w, best_f = np.zeros(n), _objective(Hn, ws, alpha, np.zeros(n))
    for signs in itertools.product((-1.0, 0.0, 1.0), repeat=n):
        s = np.asarray(signs)
        active = s != 0
        if not active.any():
            continue
        w = np.zeros(n)
        w[active] = np.linalg.solve(Hn[np.ix_(active, active)], b[active] - alpha * s[active])
        if np.all(np.sign(w[active]) == s[active]):
            f = _objective(Hn, ws, alpha, w)
            if f < best_f:
                best_w, best_f = w, f
    return torch.as_tensor(best_w, dtype=torch.float64)


def proximal_gradient(H: Tensor, w_star: Tensor, alpha: float, *, steps: int, lr: float | None = None, w0: Tensor | None = None) -> Tensor:
    r"""ISTA on :math:`\tfrac12(w-w^*)^T H (w-w^*) + \alpha\|w\|_1`: a gradient step, then a soft threshold.

    Parameters
    ----------
    H : Tensor of shape (n, n), symmetric positive definite
    w_star : Tensor of shape (n,)
    alpha : float >= 0
    steps : int >= 0
    lr : float > 0, optional
        Step size; default :math:`1/\lambda_{\max}(H)`, which guarantees convergence.
    w0 : Tensor of shape (n,), optional
        Starting point (default zero).

    Returns
    -------
    Tensor of shape (steps + 1, n)
        The iterates :math:`w^{(t+1)} = \mathrm{soft}(w^{(t)} - \epsilon H(w^{(t)} - w^*), \epsilon\alpha)`.

    Notes
    -----
    Daubechies, Defrise and De Mol (2004); Beck and Teboulle (2009). The threshold sets
    coordinates to exactly zero, unlike the subgradient update of :func:`subgradient_descent`.
    """
    alpha = _check_problem(H, w_star, alpha)
    steps = check_int("steps", steps, low=0)
    lr = 1.0 / float(torch.linalg.eigvalsh(H).max()) if lr is None else check_real("lr", lr, low=0.0, low_open=True)
    w = torch.zeros_like(w_star) if w0 is None else _check_start(w0, w_star)
    path = [w]
    for _ in range(steps):
        w = soft_threshold(w - lr * (H @ (w - w_star)), lr * alpha)
        path.append(w)
    return torch.stack(path)


def subgradient_descent(H: Tensor, w_star: Tensor, alpha: float, *, steps: int, lr: float, w0: Tensor | None = None) -> Tensor:
    r"""The lecture's update :math:`w \leftarrow w - \epsilon(\nabla J(w) + \alpha\,\mathrm{sign}(w))` on the quadratic.

    Parameters
    ----------
    H, w_star, alpha, steps : as :func:`proximal_gradient`
    lr : float > 0
    w0 : Tensor of shape (n,), optional
        Starting point (default zero).

    Returns
    -------
    Tensor of shape (steps + 1, n)
        The iterates, each made by :func:`reglab.penalties.l1_step`.
    """
    alpha = _check_problem(H, w_star, alpha)
    steps = check_int("steps", steps, low=0)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    w = torch.zeros_like(w_star) if w0 is None else _check_start(w0, w_star)
    path = [w]
    for _ in range(steps):
        w = l1_step(w, H @ (w - w_star), lr=lr, alpha=alpha)
        path.append(w)
    return torch.stack(path)


def _check_start(w0: Tensor, w_star: Tensor) -> Tensor:
    check_tensor("w0", w0, ndim=1, floating=True, finite=True)
    if w0.shape != w_star.shape:
        raise ValueError(f"w0 must have the shape of w_star {tuple(w_star.shape)}, but got {tuple(w0.shape)}")
    return w0.to(w_star.dtype)


def symbolic_l1_minimiser():
    r"""SymPy's piecewise minimisation of :math:`f(w) = \tfrac{h}{2}(w - w^*)^2 + \alpha|w|`.

    On each side of the kink at 0 the objective is a smooth parabola; its stationary point is
    a candidate if it lies on that side, and the kink itself is always a candidate.

    Returns
    -------
    dict
        ``symbols`` (w, w_star, h, alpha), ``objective``, ``branches`` (a list of
        ``(side, branch objective, stationary point, condition)``) and ``minimiser``, a
        ``sympy.Piecewise``.
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
    """Minimise each 1-D objective exactly with SymPy, from the candidates of each branch.

    Parameters
    ----------
    w_star, h_diag : sequences of numbers
        Converted to the exact rationals they represent (a float is a binary fraction).
    alpha : number >= 0

    Returns
    -------
    list of sympy.Rational
        For each coordinate, the candidate (a branch's stationary point on its own side, or
        the kink at 0) with the lowest objective value.
    """
    import sympy as sp

    sym = symbolic_l1_minimiser()
    w, ws, h, a = sym["symbols"]
    if len(w_star) != len(h_diag):
        raise ValueError(f"w_star and h_diag must have the same length, but got {len(w_star)} and {len(h_diag)}")
    alpha = sp.Rational(check_real("alpha", alpha, low=0.0))
    out = []
    for wi, hi in zip(w_star, h_diag):
        values = {
            ws: sp.Rational(check_real("w_star", wi)),
            h: sp.Rational(check_real("h_diag", hi, low=0.0, low_open=True)),
            a: alpha,
        }
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
    :math:`\|y - Xw\|^2/(2\sigma^2)` plus a constant. Adding the negative log-prior gives
    :math:`J + \tfrac{\alpha}{2}\|w\|_2^2` with :math:`\alpha = 1/s^2` for a Gaussian prior
    :math:`N(0, s^2)`, and :math:`J + \alpha\|w\|_1` with :math:`\alpha = 1/s` for a Laplace
    prior of scale :math:`s`, where :math:`J` is the negative log-likelihood. Measured in units
    of the squared error :math:`\tfrac12\|y - Xw\|^2` instead, both weights are multiplied by
    :math:`\sigma^2`, which is what this function returns.

    Parameters
    ----------
    prior : {"gaussian", "laplace"}
    scale : float > 0
        Standard deviation of the Gaussian prior, or scale ``b`` of the Laplace prior.
    noise_std : float > 0
        Standard deviation :math:`\sigma` of the observation noise.

    Returns
    -------
    float

    Examples
    --------
    >>> map_alpha("gaussian", 0.5), map_alpha("laplace", 0.5)
    (4.0, 2.0)
    """
    check_choice("prior", prior, ("gaussian", "laplace"))
    scale = check_real("scale", scale, low=0.0, low_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
    return noise_std**2 / (scale**2 if prior == "gaussian" else scale)


# ---------------------------------------------------------------------------------------------
# Derivation checks
# ---------------------------------------------------------------------------------------------
def _diag_problem():
    """A diagonal problem with both cases and both signs (exact binary fractions)."""
    w_star = torch.tensor([1.5, -0.7, 0.2, -2.4, 0.9, -0.05], dtype=torch.float64)
    h_diag = torch.tensor([1.0, 2.0, 0.5, 4.0, 3.0, 1.0], dtype=torch.float64)
    return w_star, h_diag, 0.5


def _soft_threshold_formula(w_star: Tensor, h_diag: Tensor, alpha: float, planted: str | None = None) -> Tensor:
    """The closed form of L1-2, or a planted mistake in it."""
    if planted == "alpha*H_ii for alpha/H_ii":
        return torch.sign(w_star) * torch.clamp(w_star.abs() - alpha * h_diag, min=0.0)
    if planted == "sign(w*_i) dropped":
        return torch.clamp(w_star - alpha / h_diag, min=0.0)
    if planted == "1/2 of the quadratic dropped":
        return torch.sign(w_star) * torch.clamp(w_star.abs() - alpha / (2 * h_diag), min=0.0)
    return l1_solution(w_star, h_diag, alpha)


@derivation(
    "L1-1",
    chapter=CHAPTER,
    claim="Away from 0 the gradient of J + alpha*||w||_1 is grad J + alpha*sign(w).",
    label="autograd",
    planted=(
        Planted("alpha*w for alpha*sign(w)", "the L2 gradient alpha*w written for the L1 one"),
        Planted("alpha dropped", "grad J + sign(w), the penalty weight forgotten"),
        Planted(
            "penalty's gradient left out",
            "grad J alone taken as the gradient of J + alpha*||w||_1",
            slip='slide "L1 Weight Decay" (quadratic analysis): "Gradient is again: '
            'grad_w J~(w) = H(w - w*)"',
            correct="H(w - w*) is the gradient of the unregularised J; the gradient of J~ adds alpha*sign(w)",
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
    margins = yn * (Xn @ wn)
    grad_j = -(Xn * (yn / (1.0 + np.exp(margins)))[:, None]).mean(0)  # d/dw mean log(1 + e^{-y x.w})
    if planted == "alpha*w for alpha*sign(w)":
        analytic = grad_j + alpha * wn
    elif planted == "alpha dropped":
        analytic = grad_j + np.sign(wn)
    elif planted == "penalty's gradient left out":
        analytic = grad_j
    else:
        analytic = grad_j + alpha * np.sign(wn)
    wt = w.clone().requires_grad_(True)
    cost = torch.nn.functional.softplus(-y * (X @ wt)).mean() + alpha * l1_penalty([wt])
    (auto,) = torch.autograd.grad(cost, wt)
    return compare(
        "L1-1",
        analytic,
        auto,
        atol=1e-12,
        analytic_label="grad J + alpha sign(w) (by hand)",
        empirical_label="autograd",
        note="logistic loss, 50 random points, 6 weights with |w_i| >= 0.1,\n    alpha = 0.3",
    )


@derivation(
    "L1-2",
    chapter=CHAPTER,
    claim="With diagonal H the minimiser of the quadratic plus alpha*||w||_1 is "
    "w_i = sign(w*_i) max(|w*_i| - alpha/H_ii, 0): it equals the exact minimiser found by brute force "
    "over all sign patterns, by ISTA and by SymPy's piecewise minimisation.",
    label="brute force",
    planted={
        "alpha*H_ii for alpha/H_ii": "threshold alpha*H_ii in the formula instead of alpha/H_ii",
        "sign(w*_i) dropped": "max(w*_i - alpha/H_ii, 0), the lecture's case w*_i > 0 used for every sign",
    },
)
def check_l1_2(*, planted=None) -> Check:
    """L1-2: the soft-threshold formula against exact enumeration of all 3^n sign patterns."""
    w_star, h_diag, alpha = _diag_problem()
    return compare(
        "L1-2",
        _soft_threshold_formula(w_star, h_diag, alpha, planted),
        brute_force_l1(torch.diag(h_diag), w_star, alpha),
        atol=1e-12,
        analytic_label="soft threshold",
        empirical_label="brute force (3^6 sign patterns)",
        note="6 coordinates, alpha = 0.5, H = diag(1, 2, 0.5, 4, 3, 1); float64",
    )


@subcheck(
    "L1-2",
    label="ISTA",
    planted={
        "ISTA threshold alpha for eps*alpha": "the proximal step thresholds at alpha, not at step size times alpha",
        "1/2 of the quadratic dropped": "threshold alpha/(2 H_ii), from H_ii (w - w*)^2 without the 1/2",
    },
)
def check_l1_2_ista(steps: int = 400, *, planted=None) -> Check:
    """L1-2 again: the formula against proximal gradient descent (ISTA) run to convergence.

    With step :math:`1/\\max_i H_{ii}` each coordinate's error contracts by at least
    :math:`1 - \\min H/\\max H = 7/8` per step, so 400 steps leave less than 1e-20 of it.
    """
    w_star, h_diag, alpha = _diag_problem()
    H = torch.diag(h_diag)
    if planted == "ISTA threshold alpha for eps*alpha":
        lr = 1.0 / float(h_diag.max())
        w = torch.zeros_like(w_star)
        for _ in range(steps):
            w = soft_threshold(w - lr * (H @ (w - w_star)), alpha)
        ista = w
    else:
        ista = proximal_gradient(H, w_star, alpha, steps=steps)[-1]
    return compare(
        "L1-2",
        _soft_threshold_formula(w_star, h_diag, alpha, planted),
        ista,
        atol=1e-12,
        analytic_label="soft threshold",
        empirical_label=f"ISTA, {steps} steps",
    )


@subcheck(
    "L1-2",
    label="SymPy",
    planted={
        "shift alpha for alpha/H_ii": "the minimiser moved by the constant pull alpha, not by alpha/H_ii",
    },
)
def check_l1_2_sympy(*, planted=None) -> Check:
    """L1-2 again: the formula against SymPy's exact piecewise minimisation (rational arithmetic)."""
    w_star, h_diag, alpha = _diag_problem()
    exact = sympy_l1_solution(w_star.tolist(), h_diag.tolist(), alpha)
    if planted == "shift alpha for alpha/H_ii":
        analytic = torch.sign(w_star) * torch.clamp(w_star.abs() - alpha, min=0.0)
    else:
        analytic = l1_solution(w_star, h_diag, alpha)
    return compare(
        "L1-2",
        analytic,
        np.array([float(v) for v in exact]),
        atol=1e-14,
        analytic_label="soft threshold",
        empirical_label="SymPy piecewise minimum",
        note="SymPy uses the exact rationals of the float inputs;\n"
        "    tolerance: a few float64 rounding steps",
    )


@derivation(
    "L1-3",
    chapter=CHAPTER,
    claim="Coordinates with |w*_i| <= alpha/H_ii become exactly 0; the others move towards 0 by alpha/H_ii.",
    label="ISTA",
    planted={
        "shift alpha for alpha/H_ii": "the constant pull alpha read as the shift of the minimiser",
        "alpha*H_ii for alpha/H_ii": "zero case |w*_i| <= alpha*H_ii and shift alpha*H_ii",
    },
)
def check_l1_3(*, planted=None) -> Check:
    """L1-3: which coordinates are exactly zero, and the shift of the others, measured with ISTA.

    Analytic: the case test :math:`|w^*_i| \\le \\alpha/H_{ii}` (1 = zero) and the shift
    :math:`\\alpha/H_{ii}` of each coordinate outside it. Empirical: whether ISTA's iterate is
    exactly 0.0 (floating-point equality) and :math:`|w^*_i| - |w_i|` for the others.
    """
    w_star, h_diag, alpha = _diag_problem()
    if planted == "shift alpha for alpha/H_ii":
        threshold = torch.full_like(h_diag, alpha)
    elif planted == "alpha*H_ii for alpha/H_ii":
        threshold = alpha * h_diag
    else:
        threshold = alpha / h_diag
    predicted_zero = (w_star.abs() <= threshold).to(torch.float64)
    w = proximal_gradient(torch.diag(h_diag), w_star, alpha, steps=400, w0=w_star)[-1]
    measured_zero = (w == 0).to(torch.float64)
    kept = predicted_zero == 0
    # signed shift towards zero: a coordinate that crossed zero would show a shift above |w*_i|
    analytic = torch.cat([predicted_zero, threshold[kept]])
    empirical = torch.cat([measured_zero, (w_star.abs() - torch.sign(w_star) * w)[kept]])
    return compare(
        "L1-3",
        analytic,
        empirical,
        atol=1e-12,
        analytic_label="[zero?] + shifts alpha/H_ii",
        empirical_label="ISTA: [w_i == 0.0] + shifts",
        note="first 6 numbers: 1 if the coordinate is zero; then the shift\n"
        "    |w*_i| - sign(w*_i) w_i of each coordinate predicted non-zero",
    )


# ---- L1-4: exact zeros need the proximal step ------------------------------------------------
L1_4_LR, L1_4_STEPS, L1_4_LATE = 0.05, 2000, 1000


def subgradient_band(w_star: Tensor, h_diag: Tensor, alpha: float, lr: float) -> dict:
    r"""Where the subgradient update must stay, for coordinates whose minimiser is 0.

    For :math:`H_{ii}\lvert w^*_i\rvert < \alpha` the update
    :math:`w \leftarrow w - \epsilon(H_{ii}(w - w^*_i) + \alpha\,\mathrm{sign}(w))` maps the band
    :math:`[\epsilon H_{ii} w^*_i - \epsilon\alpha,\ \epsilon H_{ii} w^*_i + \epsilon\alpha]`
    (width :math:`2\epsilon\alpha`, largest excursion :math:`\epsilon(\alpha + H_{ii}\lvert w^*_i\rvert)`)
    into itself, and a positive iterate loses at least :math:`\epsilon(\alpha - H_{ii} w^*_i)` per step
    (a negative one gains :math:`\epsilon(\alpha + H_{ii} w^*_i)`), so it changes sign after at most
    ``max_run`` steps of one sign.

    Returns
    -------
    dict of Tensors of shape (n,)
        ``centre`` (:math:`\epsilon H_{ii} w^*_i`), ``half_width`` (:math:`\epsilon\alpha`) and
        ``max_run`` (:math:`\lceil(\alpha + H_{ii}\lvert w^*_i\rvert)/(\alpha - H_{ii}\lvert w^*_i\rvert)\rceil`);
        only meaningful where ``h_diag * |w_star| < alpha``.
    """
    pull = h_diag * w_star.abs()
    return {
        "centre": lr * h_diag * w_star,
        "half_width": torch.full_like(w_star, lr * alpha),
        "max_run": torch.ceil((alpha + pull) / (alpha - pull)),
    }


def _l1_4_runs(update: str):
    w_star, h_diag, alpha = _diag_problem()
    H, lr = torch.diag(h_diag), L1_4_LR
    if update == "subgradient":
        return subgradient_descent(H, w_star, alpha, steps=L1_4_STEPS, lr=lr, w0=w_star)
    if update == "subgradient without penalty":
        return subgradient_descent(H, w_star, 0.0, steps=L1_4_STEPS, lr=lr, w0=w_star)
    if update.startswith("weight decay"):
        a = 0.0 if update.endswith("without decay") else alpha
        w, path = w_star.clone(), [w_star]
        for _ in range(L1_4_STEPS):
            w = weight_decay_step(w, H @ (w - w_star), lr=lr, alpha=a)
            path.append(w)
        return torch.stack(path)
    if update == "proximal":
        return proximal_gradient(H, w_star, alpha, steps=L1_4_STEPS, lr=lr, w0=w_star)
    if update in ("proximal without threshold", "proximal threshold alpha"):
        t = 0.0 if update == "proximal without threshold" else alpha
        w, path = w_star.clone(), [w_star]
        for _ in range(L1_4_STEPS):
            w = soft_threshold(w - lr * (H @ (w - w_star)), t)
            path.append(w)
        return torch.stack(path)
    raise ValueError(update)


def _zero_set(w_star, h_diag, alpha) -> Tensor:
    return w_star.abs() <= alpha / h_diag


@derivation(
    "L1-4",
    chapter=CHAPTER,
    claim="On the diagonal quadratic of L1-2 (eps = 0.05, 2000 steps from w*), the proximal step is exactly 0 "
    "from some step on on exactly the coordinates |w*_i| <= alpha/H_ii; there the lecture's subgradient update "
    "stays in the band eps*H_ii*w*_i +- eps*alpha and changes sign at least every max_run_i + 1 steps, "
    "never settling at 0; L2 weight decay converges to H_ii/(H_ii + alpha) w*_i, with no zero.",
    label="proximal: exact zeros",
    planted={
        "threshold removed from the proximal step": "the proximal step without its soft threshold (plain GD)",
        "proximal threshold alpha for eps*alpha": "the proximal step thresholds at alpha instead of eps*alpha",
        "zero set |w*_i| <= alpha*H_ii": "the zeros predicted with alpha*H_ii for alpha/H_ii",
    },
)
def check_l1_4(*, planted=None) -> Check:
    """L1-4 (proximal part): the coordinates held at exactly 0.0 over the last 1000 steps.

    Predicted: the zero set :math:`\\lvert w^*_i\\rvert \\le \\alpha/H_{ii}` of the soft threshold
    (1 = zero). Measured: 1 if the proximal iterate is exactly 0.0 at every one of the last
    1000 of its 2000 steps (floating-point equality), else 0.
    """
    w_star, h_diag, alpha = _diag_problem()
    predicted = (w_star.abs() <= alpha * h_diag) if planted == "zero set |w*_i| <= alpha*H_ii" else _zero_set(w_star, h_diag, alpha)
    update = {"threshold removed from the proximal step": "proximal without threshold",
              "proximal threshold alpha for eps*alpha": "proximal threshold alpha"}.get(planted, "proximal")
    path = _l1_4_runs(update)
    held = (path[-L1_4_LATE:] == 0).all(dim=0)
    return compare(
        "L1-4",
        predicted.to(torch.float64),
        held.to(torch.float64),
        atol=0.5,
        analytic_label="zeros of the soft threshold",
        empirical_label="proximal: 0.0 at every late step",
        note="1 = zero (0/1 values: atol 0.5 means equal); eps = 0.05,\n    last 1000 of 2000 steps",
    )


@subcheck(
    "L1-4",
    label="subgradient: band",
    planted={
        "penalty removed from the update": "the subgradient update without alpha*sign(w) (plain GD)",
        "band centred at 0": "the band taken as [-eps*alpha, eps*alpha], ignoring the pull eps*H_ii*w*_i",
    },
)
def check_l1_4_band(*, planted=None) -> Check:
    """L1-4 (subgradient part): the lowest and highest late iterate within eps*alpha of the band's centre.

    For each coordinate of the zero set, the band predicted by :func:`subgradient_band` is
    :math:`\\epsilon H_{ii} w^*_i \\pm \\epsilon\\alpha`; the check compares the lowest and the
    highest of the last 1000 subgradient iterates with the centre, each allowed
    :math:`\\epsilon\\alpha` (per entry).
    """
    w_star, h_diag, alpha = _diag_problem()
    zero = _zero_set(w_star, h_diag, alpha)
    band = subgradient_band(w_star, h_diag, alpha, L1_4_LR)
    centre = torch.zeros_like(w_star) if planted == "band centred at 0" else band["centre"]
    path = _l1_4_runs("subgradient without penalty" if planted == "penalty removed from the update" else "subgradient")
    late = path[-L1_4_LATE:, zero]
    empirical = torch.stack([late.min(0).values, late.max(0).values], dim=1).reshape(-1)
    analytic = centre[zero].repeat_interleave(2)
    slack = 1e-12  # rounding in 2000 float64 steps
    return compare(
        "L1-4",
        analytic,
        empirical,
        atol=band["half_width"][zero].repeat_interleave(2) + slack,
        analytic_label="band centre eps H w*",
        empirical_label="subgradient [min, max], late steps",
        digits=4,
        note=f"coordinates with |w*_i| <= alpha/H_ii; tolerance eps*alpha = {L1_4_LR * alpha:g}\n"
        "    (the band's half-width), last 1000 of 2000 steps",
    )


@subcheck(
    "L1-4",
    label="subgradient: sign changes",
    planted={
        "L2 step for the L1 step": "weight_decay_step (a pull proportional to w) used as the L1 update",
    },
)
def check_l1_4_sign_changes(*, planted=None) -> Check:
    """L1-4 (subgradient part): every window of max_run + 1 late iterates holds both signs.

    Predicted by the rule (:func:`subgradient_band`): 1, the share of windows of
    ``max_run + 1`` consecutive late iterates that contain a positive and a negative value.
    Measured: that share over the last 1000 iterates, per coordinate of the zero set.
    """
    w_star, h_diag, alpha = _diag_problem()
    zero = _zero_set(w_star, h_diag, alpha)
    band = subgradient_band(w_star, h_diag, alpha, L1_4_LR)
    path = _l1_4_runs("weight decay" if planted == "L2 step for the L1 step" else "subgradient")
    late = path[-L1_4_LATE:]
    shares, tol = [], []
    for i in torch.nonzero(zero).reshape(-1).tolist():
        k = int(band["max_run"][i]) + 1
        windows = late[:, i].unfold(0, k, 1)
        both = (windows > 0).any(1) & (windows < 0).any(1)
        shares.append(both.double().mean())
        tol.append(0.5 / windows.shape[0])  # half a window: one window without a sign change fails
    return compare(
        "L1-4",
        torch.ones(len(shares), dtype=torch.float64),
        torch.stack(shares),
        atol=np.array(tol),
        analytic_label="share with both signs (rule)",
        empirical_label="subgradient, late windows",
        digits=4,
        note="windows of m_i + 1 steps, m_i = ceil((alpha + H|w*|)/(alpha - H|w*|))",
    )


@subcheck(
    "L1-4",
    label="L2: no zeros",
    planted={
        "decay removed from weight_decay_step": "the L2 step without its decay term (plain GD)",
        "L2 factor alpha/(H_ii + alpha)": "the share removed, alpha/(H_ii + alpha), taken as the share kept",
    },
)
def check_l1_4_l2(*, planted=None) -> Check:
    """L1-4 (L2 part): weight decay converges to H_ii/(H_ii + alpha) w*_i, none of them zero."""
    w_star, h_diag, alpha = _diag_problem()
    factor = alpha / (h_diag + alpha) if planted == "L2 factor alpha/(H_ii + alpha)" else h_diag / (h_diag + alpha)
    path = _l1_4_runs("weight decay without decay" if planted == "decay removed from weight_decay_step" else "weight decay")
    return compare(
        "L1-4",
        factor * w_star,
        path[-1],
        rtol=1e-9,
        analytic_label="H/(H + alpha) w*",
        empirical_label="weight decay, 2000 steps",
        note="no entry is zero; eps = 0.05 (contraction at least 0.95 per step)",
    )


def _orthogonal_design(n: int = 40, d: int = 6, noise_std: float = 0.5, seed: int = 2):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
    X = q * torch.tensor([3.0, 2.5, 2.0, 1.5, 1.0, 0.8], dtype=torch.float64)[:d]  # X^T X diagonal
    w_true = torch.tensor([1.0, -0.6, 0.0, 0.3, 0.0, -0.2], dtype=torch.float64)[:d]
    y = X @ w_true + noise_std * torch.randn(n, generator=g, dtype=torch.float64)
    return X, y


def _log_posterior(w: Tensor, X: Tensor, y: Tensor, noise_std: float, prior: str, scale: float) -> Tensor:
    """log p(y | X, w) + log p(w) with Gaussian noise, up to the evidence (a scalar tensor)."""
    from torch.distributions import Laplace, Normal

    def f64(v):  # python floats would become float32 parameters of the distributions
        return torch.tensor(v, dtype=torch.float64)

    likelihood = Normal(X @ w, f64(noise_std)).log_prob(y).sum()
    p = Normal(f64(0.0), f64(scale)) if prior == "gaussian" else Laplace(f64(0.0), f64(scale))
    return likelihood + p.log_prob(w).sum()


def _map_by_coordinate_search(X, y, noise_std, prior, scale, sweeps: int = 2) -> Tensor:
    """Maximise the log posterior one coordinate at a time.

    Along one coordinate the log posterior is concave, so its maximum is where the derivative
    (autograd of the ``torch.distributions`` log densities) changes sign from + to -; Brent's
    method finds that point to 1e-14 even when it is the kink of the Laplace prior at 0.
    """
    from scipy.optimize import brentq

    w = torch.zeros(X.shape[1], dtype=torch.float64)
    bound = 2.0 * float(torch.linalg.lstsq(X, y.unsqueeze(1)).solution.abs().max()) + 1.0
    for _ in range(sweeps):
        for i in range(w.shape[0]):
            def slope(v, i=i):
                trial = w.clone()
                trial[i] = v
                trial.requires_grad_(True)
                (grad,) = torch.autograd.grad(_log_posterior(trial, X, y, noise_std, prior, scale), trial)
                return float(grad[i])

            w[i] = brentq(slope, -bound, bound, xtol=1e-14)
    return w


@derivation(
    "L1-5",
    chapter=CHAPTER,
    claim="(beyond) The L2 solution is the MAP estimate under a Gaussian prior, the L1 solution under a Laplace prior.",
    label="MAP search",
    planted={
        "noise variance forgotten": "alpha = 1/s^2 and 1/b, without the factor sigma^2 of squared-error units",
        "Laplace weight sigma^2/b^2": "the Gaussian's square carried over to the Laplace prior",
    },
)
def check_l1_5(*, planted=None) -> Check:
    """L1-5: arg-max of the log posterior (torch.distributions, coordinate search) vs the penalised closed forms.

    Linear regression with an orthogonal design, so :math:`H = X^TX` is diagonal. Closed forms
    (in squared-error units): :math:`H_{ii}/(H_{ii}+\\alpha) w^*_i` with
    :math:`\\alpha = \\sigma^2/s^2`, and :func:`l1_solution` with :math:`\\alpha = \\sigma^2/b`.
    """
    noise_std, s_gauss, b_laplace = 0.5, 0.3, 0.1
    X, y = _orthogonal_design(noise_std=noise_std)
    h = (X * X).sum(0)
    w_star = X.T @ y / h  # least squares (X^T X is diagonal)
    alpha_l2 = map_alpha("gaussian", s_gauss, noise_std=noise_std)
    alpha_l1 = map_alpha("laplace", b_laplace, noise_std=noise_std)
    if planted == "noise variance forgotten":
        alpha_l2, alpha_l1 = map_alpha("gaussian", s_gauss), map_alpha("laplace", b_laplace)
    elif planted == "Laplace weight sigma^2/b^2":
        alpha_l1 = noise_std**2 / b_laplace**2
    ridge = h / (h + alpha_l2) * w_star
    lasso = l1_solution(w_star, h, alpha_l1)
    map_gauss = _map_by_coordinate_search(X, y, noise_std, "gaussian", s_gauss)
    map_laplace = _map_by_coordinate_search(X, y, noise_std, "laplace", b_laplace)
    return compare(
        "L1-5",
        torch.cat([ridge, lasso]),
        torch.cat([map_gauss, map_laplace]),
        atol=1e-10,
        analytic_label="penalised closed forms [L2, L1]",
        empirical_label="arg-max log posterior",
        note="[Gaussian, Laplace]; sigma = 0.5, Gaussian prior std 0.3,\n"
        "    Laplace scale 0.1; the search brackets each maximum to 1e-14",
    )


L1_6 = experiment(
    "L1-6",
    chapter=CHAPTER,
    claim="(beyond) On the 8x8 handwritten digits, a one-hidden-layer MLP trained with an L1 penalty and "
    "proximal steps has a larger share of exactly-zero weights than the same MLP trained with L2 "
    "(difference per seed, 5 seeds).",
    expected="increase",
    measures="share of weights exactly 0, L1 proximal minus L2",
    unit="points",
)
