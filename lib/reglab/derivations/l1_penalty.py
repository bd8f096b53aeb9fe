"""The L1 penalty: closed forms and derivation checks (chapter ``l1_penalty``).

- L1-1: the (sub)gradient of :math:`J + \\alpha\\|w\\|_1` is :math:`\\nabla J + \\alpha\\,\\mathrm{sign}(w)`.
- L1-2: with a diagonal Hessian the minimiser is the soft threshold
  :math:`w_i = \\mathrm{sign}(w^*_i)\\max(|w^*_i| - \\alpha/H_{ii}, 0)` (:func:`l1_solution`).
- L1-3: its two cases: exactly zero, or shifted towards zero by :math:`\\alpha/H_{ii}`.
- L1-4: L1 gives exact zeros and L2 does not; the lecture's subgradient update never lands on
  zero, the proximal step does.
- L1-5 (beyond the lecture): L2 is MAP estimation with a Gaussian prior, L1 with a Laplace prior.
- L1-6 (experiment): L1 against L2 on the 8x8 handwritten digits, accuracy and fraction of zero
  weights.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_int, check_real, check_tensor
from ..penalties import l1_penalty, l1_step, soft_threshold, weight_decay_step
from .core import Check, compare, derivation, experiment

__all__ = [
    "l1_solution",
    "brute_force_l1",
    "proximal_gradient",
    "subgradient_descent",
    "symbolic_l1_minimiser",
    "sympy_l1_solution",
    "map_alpha",
    "check_l1_1",
    "check_l1_2",
    "check_l1_2_ista",
    "check_l1_2_sympy",
    "check_l1_3",
    "check_l1_4",
    "check_l1_5",
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


@derivation("L1-1", chapter=CHAPTER, claim="Away from 0 the gradient of J + alpha*||w||_1 is grad J + alpha*sign(w).")
def check_l1_1() -> Check:
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
        empirical_label="autograd of J + alpha l1_penalty",
        note="logistic loss on 50 random points, 6 weights with |w_i| >= 0.1, alpha = 0.3",
    )


@derivation(
    "L1-2",
    chapter=CHAPTER,
    claim="With diagonal H the minimiser is w_i = sign(w*_i) max(|w*_i| - alpha/H_ii, 0).",
)
def check_l1_2() -> Check:
    """L1-2: the soft-threshold formula against exact enumeration of all 3^n sign patterns."""
    w_star, h_diag, alpha = _diag_problem()
    return compare(
        "L1-2",
        l1_solution(w_star, h_diag, alpha),
        brute_force_l1(torch.diag(h_diag), w_star, alpha),
        atol=1e-12,
        analytic_label="soft threshold",
        empirical_label="brute force over 3^6 sign patterns",
        note="6 coordinates, alpha = 0.5, H = diag(1, 2, 0.5, 4, 3, 1); float64",
    )


def check_l1_2_ista(steps: int = 400) -> Check:
    """L1-2 again: the formula against proximal gradient descent (ISTA) run to convergence.

    With step :math:`1/\\max_i H_{ii}` each coordinate's error contracts by at least
    :math:`1 - \\min H/\\max H = 7/8` per step, so 400 steps leave less than 1e-20 of it.
    """
    w_star, h_diag, alpha = _diag_problem()
    path = proximal_gradient(torch.diag(h_diag), w_star, alpha, steps=steps)
    return compare(
        "L1-2",
        l1_solution(w_star, h_diag, alpha),
        path[-1],
        atol=1e-12,
        analytic_label="soft threshold",
        empirical_label=f"ISTA, {steps} steps",
    )


def check_l1_2_sympy() -> Check:
    """L1-2 again: the formula against SymPy's exact piecewise minimisation (rational arithmetic)."""
    w_star, h_diag, alpha = _diag_problem()
    exact = sympy_l1_solution(w_star.tolist(), h_diag.tolist(), alpha)
    return compare(
        "L1-2",
        l1_solution(w_star, h_diag, alpha),
        np.array([float(v) for v in exact]),
        atol=1e-14,
        analytic_label="soft threshold",
        empirical_label="SymPy piecewise minimum",
        note="SymPy works with the exact rationals of the float inputs; tolerance: a few float64 rounding steps",
    )


@derivation(
    "L1-3",
    chapter=CHAPTER,
    claim="Coordinates with |w*_i| <= alpha/H_ii become exactly 0; the others move towards 0 by alpha/H_ii.",
)
def check_l1_3() -> Check:
    """L1-3: which coordinates are exactly zero, and the shift of the others, measured with ISTA.

    Analytic: the case test :math:`|w^*_i| \\le \\alpha/H_{ii}` (1 = zero) and the shift
    :math:`\\alpha/H_{ii}` of each coordinate outside it. Empirical: whether ISTA's iterate is
    exactly 0.0 (floating-point equality) and :math:`|w^*_i| - |w_i|` for the others.
    """
    w_star, h_diag, alpha = _diag_problem()
    threshold = alpha / h_diag
    predicted_zero = (w_star.abs() <= threshold).to(torch.float64)
    w = proximal_gradient(torch.diag(h_diag), w_star, alpha, steps=400, w0=w_star)[-1]
    measured_zero = (w == 0).to(torch.float64)
    kept = predicted_zero == 0
    same_sign = bool((torch.sign(w[kept]) == torch.sign(w_star[kept])).all())
    analytic = torch.cat([predicted_zero, threshold[kept]])
    empirical = torch.cat([measured_zero, (w_star.abs() - w.abs())[kept]])
    if not same_sign:  # a sign flip is a failure of the "shifted towards zero" case
        empirical = empirical + float("nan")
    return compare(
        "L1-3",
        analytic,
        empirical,
        atol=1e-12,
        analytic_label="[zero?] + shifts alpha/H_ii",
        empirical_label="ISTA: [w_i == 0.0] + |w*_i| - |w_i|",
        note="first 6 numbers: 1 if the coordinate is zero; then the shift of each non-zero coordinate",
    )


@derivation(
    "L1-4",
    chapter=CHAPTER,
    claim="L1 gives exact zeros and L2 none; the subgradient update never lands on 0, the proximal step does.",
)
def check_l1_4() -> Check:
    """L1-4: exact zeros after 2000 steps of three updates started at w*.

    Predicted: the proximal (soft-threshold) update reaches the zeros of :func:`l1_solution`;
    the subgradient update :func:`reglab.penalties.l1_step` has none (from 0 its next step is
    :math:`\\epsilon H w^* \\ne 0`, so it cannot settle there); L2 shrinks by the factor
    :math:`H_{ii}/(H_{ii}+\\alpha)` and has none. The last number counts how many of the
    subgradient's 2000 x 6 iterates were exactly zero.
    """
    w_star, h_diag, alpha = _diag_problem()
    H, lr, steps = torch.diag(h_diag), 0.05, 2000
    prox = proximal_gradient(H, w_star, alpha, steps=steps, lr=lr, w0=w_star)
    sub = subgradient_descent(H, w_star, alpha, steps=steps, lr=lr, w0=w_star)
    w = w_star.clone()
    for _ in range(steps):
        w = weight_decay_step(w, H @ (w - w_star), lr=lr, alpha=alpha)
    l2_closed = h_diag / (h_diag + alpha) * w_star
    predicted = [
        int((l1_solution(w_star, h_diag, alpha) == 0).sum()),
        0,
        int((l2_closed == 0).sum()),
        0,
    ]
    measured = [int((prox[-1] == 0).sum()), int((sub[-1] == 0).sum()), int((w == 0).sum()), int((sub[1:] == 0).sum())]
    return compare(
        "L1-4",
        predicted,
        measured,
        atol=0.5,
        analytic_label="predicted exact zeros",
        empirical_label="counted",
        digits=4,
        note="[proximal, subgradient, L2 (weight_decay_step), subgradient zeros over all iterates]; eps = 0.05; counts are integers, so atol 0.5 means equal",
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
)
def check_l1_5() -> Check:
    """L1-5: arg-max of the log posterior (torch.distributions, coordinate search) vs the penalised closed forms.

    Linear regression with an orthogonal design, so :math:`H = X^TX` is diagonal. Closed forms
    (in squared-error units): :math:`H_{ii}/(H_{ii}+\\alpha) w^*_i` with
    :math:`\\alpha = \\sigma^2/s^2`, and :func:`l1_solution` with :math:`\\alpha = \\sigma^2/b`.
    """
    noise_std, s_gauss, b_laplace = 0.5, 0.3, 0.1
    X, y = _orthogonal_design(noise_std=noise_std)
    h = (X * X).sum(0)
    w_star = X.T @ y / h  # least squares (X^T X is diagonal)
    ridge = h / (h + map_alpha("gaussian", s_gauss, noise_std=noise_std)) * w_star
    lasso = l1_solution(w_star, h, map_alpha("laplace", b_laplace, noise_std=noise_std))
    map_gauss = _map_by_coordinate_search(X, y, noise_std, "gaussian", s_gauss)
    map_laplace = _map_by_coordinate_search(X, y, noise_std, "laplace", b_laplace)
    return compare(
        "L1-5",
        torch.cat([ridge, lasso]),
        torch.cat([map_gauss, map_laplace]),
        atol=1e-10,
        analytic_label="penalised closed forms [L2, L1]",
        empirical_label="arg-max log posterior [Gaussian, Laplace]",
        note="sigma = 0.5, Gaussian prior std 0.3, Laplace scale 0.1; the search brackets each "
        "coordinate's maximum to 1e-14",
    )


L1_6 = experiment(
    "L1-6",
    chapter=CHAPTER,
    claim="(beyond) On the 8x8 handwritten digits an MLP trained with an L1 penalty and proximal steps has "
    "more than half of its weights exactly zero; L2 and the subgradient update leave none (5 seeds).",
)
