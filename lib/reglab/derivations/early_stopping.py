"""Early stopping: closed forms and derivation checks (chapter ``early_stopping``).

- ES-1: :class:`reglab.early_stopping.EarlyStopping` with patience returns the parameters of the evaluation
  with the lowest validation loss.
- ES-2: on a quadratic cost, ``tau`` steps of gradient descent from 0 with rate ``eps`` give
  :math:`Q[I - (I - \\epsilon\\Lambda)^\\tau]Q^T w^*` exactly, which is close to the L2 solution
  with :math:`\\alpha = 1/(\\tau\\epsilon)` along directions where :math:`\\tau\\epsilon\\lambda_i`
  is small (within :math:`(\\tau\\epsilon\\lambda_i)^2`).

The L2 side of ES-2 uses :func:`reglab.derivations.weight_decay.l2_solution` and
:func:`reglab.derivations.weight_decay.shrink_factors`, the closed forms of chapter
``weight_decay`` (available here as ``l2_solution`` and ``shrink_factors`` too). Experiment ES-3
(the U-shaped validation curve on MNIST-1D, early-stopped against last-epoch test accuracy) is
registered and run in :mod:`reglab.experiments.early_stopping`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_int, check_quadratic, check_real, check_tensor
from ..data import quadratic_problem
from ..early_stopping import EarlyStopping
from ..training import TrainConfig, fit
from .compare import Check, compare, exceeds
from .registry import Planted, choose, derivation, subcheck
from .weight_decay import l2_solution, shrink_factors  # the L2 closed forms of chapter weight_decay

__all__ = [
    "ES2_FAIL_MARGIN",
    "ES2_LR",
    "ES2_STEPS",
    "ES2_X_MAX",
    "check_es1",
    "check_es2",
    "check_es2_l2_agreement",
    "check_es2_needs_small_x",
    "equivalent_alpha",
    "gd_shrink_factors",
    "gd_trajectory",
    "scripted_stopping",
    "shrink_factor_table",
]

CHAPTER = "early_stopping"


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------
def equivalent_alpha(lr: float, steps: int) -> float:
    r"""The L2 penalty weight that ``steps`` steps of gradient descent at rate ``lr`` mimic.

    Parameters
    ----------
    lr : float > 0
        Learning rate :math:`\epsilon`.
    steps : int >= 1
        Number of gradient steps :math:`\tau`.

    Returns
    -------
    float
        :math:`\alpha = 1/(\tau\epsilon)`.

    Notes
    -----
    Goodfellow et al. (2016), sec. 7.8: comparing :math:`(I-\epsilon\Lambda)^\tau` with
    :math:`(\Lambda+\alpha I)^{-1}\alpha` and expanding both logarithms to first order (valid
    when :math:`\epsilon\lambda_i \ll 1` and :math:`\lambda_i \ll \alpha`) gives
    :math:`\tau = 1/(\epsilon\alpha)`. The number of steps plays the role of the inverse
    penalty weight: training longer is regularizing less.

    Examples
    --------
    >>> equivalent_alpha(0.1, 50)
    0.2
    """
    lr = check_real("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=1)
    return 1.0 / (steps * lr)


def gd_shrink_factors(eigvals: Tensor, lr: float, steps: int) -> Tensor:
    r"""How much of :math:`w^*` gradient descent from 0 has recovered after ``steps`` steps.

    Parameters
    ----------
    eigvals : Tensor of shape (n,)
        Eigenvalues :math:`\lambda_i` of the Hessian.
    lr : float > 0
    steps : int >= 0

    Returns
    -------
    Tensor of shape (n,)
        :math:`1 - (1 - \epsilon\lambda_i)^\tau`, the factor multiplying the component of
        :math:`w^*` along eigenvector :math:`i`.

    Examples
    --------
    >>> gd_shrink_factors(torch.tensor([1.0, 0.01]), 0.5, 2)
    tensor([0.7500, 0.0100])
    """
    check_tensor("eigvals", eigvals, ndim=1, floating=True, finite=True)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=0)
    return 1.0 - (1.0 - lr * eigvals) ** steps


def gd_trajectory(H: Tensor, w_star: Tensor, lr: float, steps: int) -> Tensor:
    r"""Every iterate of gradient descent from 0 on a quadratic cost, in closed form.

    Parameters
    ----------
    H : Tensor of shape (n, n), symmetric positive semi-definite
        Hessian of :math:`J(w) = J(w^*) + \tfrac12 (w-w^*)^T H (w-w^*)`.
    w_star : Tensor of shape (n,)
        Minimiser of :math:`J`.
    lr : float > 0
        Learning rate :math:`\epsilon`.
    steps : int >= 0
        Last step :math:`\tau`.

    Returns
    -------
    Tensor of shape (steps + 1, n)
        Row :math:`t` is :math:`w^{(t)} = Q[I - (I - \epsilon\Lambda)^t]Q^T w^*`, the iterate
        after :math:`t` steps of :math:`w \leftarrow w - \epsilon H(w - w^*)` from
        :math:`w^{(0)} = 0`.

    Notes
    -----
    With :math:`H = Q\Lambda Q^T`, the error :math:`Q^T(w - w^*)` is multiplied by
    :math:`I - \epsilon\Lambda` at every step and starts at :math:`-Q^T w^*`, which gives the
    formula (Goodfellow et al. 2016, eq. 7.40). It holds for any step size; the iterates
    converge to :math:`w^*` only if :math:`0 < \epsilon\lambda_i < 2` for every :math:`i`.

    Examples
    --------
    >>> H = torch.diag(torch.tensor([1.0, 0.1], dtype=torch.float64))
    >>> gd_trajectory(H, torch.ones(2, dtype=torch.float64), 0.5, 2)[-1]
    tensor([0.7500, 0.0975], dtype=torch.float64)
    """
    check_quadratic(H, w_star)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=0)
    eigvals, Q = torch.linalg.eigh(H)
    t = torch.arange(steps + 1, dtype=H.dtype).unsqueeze(1)
    factors = 1.0 - (1.0 - lr * eigvals).unsqueeze(0) ** t  # (steps + 1, n)
    return (factors * (Q.T @ w_star)) @ Q.T


def shrink_factor_table(eigvals: Tensor, lr: float, steps: int) -> dict:
    r"""Per eigen-direction: early stopping's and L2's shrink factors at :math:`\alpha = 1/(\tau\epsilon)`.

    Parameters
    ----------
    eigvals : Tensor of shape (n,), entries > 0
    lr : float > 0
    steps : int >= 1

    Returns
    -------
    dict of numpy arrays, each of shape (n,)
        ``lambda``, ``eps_lambda`` (:math:`\epsilon\lambda_i`), ``x``
        (:math:`\tau\epsilon\lambda_i = \lambda_i/\alpha`), ``early_stopping``
        (:math:`1-(1-\epsilon\lambda_i)^\tau`), ``l2`` (:math:`\lambda_i/(\lambda_i+\alpha)`),
        ``difference`` and ``bound`` (:math:`x^2`, see Notes).

    Notes
    -----
    For :math:`0 \le \epsilon\lambda \le 1` both factors lie in :math:`[x - x^2, x]` with
    :math:`x = \tau\epsilon\lambda`: Bernoulli's inequality gives
    :math:`1-(1-\epsilon\lambda)^\tau \le x` and :math:`(1-\epsilon\lambda)^\tau \le e^{-x}`
    gives :math:`\ge 1 - e^{-x} \ge x - x^2/2`, while :math:`x - x^2 \le x/(1+x) \le x`. So
    the two differ by at most :math:`x^2`: they agree where the direction is still far from
    converged (:math:`\lambda_i \ll \alpha`). Where :math:`x \gg 1` both are close to 1.
    """
    alpha = equivalent_alpha(lr, steps)
    gd = gd_shrink_factors(eigvals, lr, steps)
    l2 = shrink_factors(eigvals, alpha)
    x = steps * lr * eigvals
    out = {
        "lambda": eigvals,
        "eps_lambda": lr * eigvals,
        "x": x,
        "early_stopping": gd,
        "l2": l2,
        "difference": gd - l2,
        "bound": x**2,
    }
    return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# ES-1: early stopping returns the best-validation parameters
# ---------------------------------------------------------------------------------------------
def scripted_stopping(losses, patience: int) -> tuple[int, int]:
    """Where patience-based early stopping should stop on a loss sequence, found by brute force.

    Uses only the definition (``min_delta = 0``): stop at the first evaluation ``t`` whose
    last ``patience`` losses are all no lower than the lowest loss before them.

    Parameters
    ----------
    losses : sequence of float
    patience : int >= 1

    Returns
    -------
    (stop, best) : tuple of int
        Index of the evaluation at which training stops (the last index if it never does) and
        the index of the lowest loss up to and including it (first occurrence).

    Examples
    --------
    >>> scripted_stopping([3.0, 2.0, 2.5, 2.1, 1.0], patience=2)
    (3, 1)
    """
    patience = check_int("patience", patience, low=1)
    a = np.asarray(losses, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence, but got shape {a.shape}")
    stop = a.size - 1
    for t in range(patience, a.size):
        if a[t - patience + 1 : t + 1].min() >= a[: t - patience + 1].min():
            stop = t
            break
    return stop, int(np.argmin(a[: stop + 1]))


class _Scripted(nn.Module):
    """A model whose only parameter is set by hand to the evaluation index (a tracer)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2, dtype=torch.float64))


# How EarlyStopping is used in ES-1, and the mistakes the check rejects: (extra patience, restore?).
_USE = (0, True)
_MISUSE = {
    "last parameters returned": (0, False),  # the parameters at the stopping evaluation kept
    "patience off by one": (1, True),  # gives up only after patience + 1 bad evaluations
}


def _es1_scripted(losses, patience: int, use=_USE) -> tuple[list[float], list[float]]:
    model = _Scripted()
    extra, restores = use
    stopper = EarlyStopping(patience + extra)
    stop = len(losses) - 1
    for t, loss in enumerate(losses):
        with torch.no_grad():
            model.w.copy_(torch.tensor([t, -2.0 * t], dtype=torch.float64))
        if stopper.step(loss, model):
            stop = t
            break
    if restores:
        stopper.restore(model)
    ref_stop, ref_best = scripted_stopping(losses, patience)
    expected = [ref_stop, ref_best, ref_best, -2.0 * ref_best]
    measured = [stop, stopper.best_step, *model.w.tolist()]
    return expected, measured


def _overfitting_regression(seed: int = 0):
    """Linear regression with more features than examples and noisy labels (it overfits)."""
    g = torch.Generator().manual_seed(seed)
    d, n, n_val, noise = 40, 30, 200, 1.0
    w_true = torch.randn(d, generator=g, dtype=torch.float64) / d**0.5
    X = torch.randn(n + n_val, d, generator=g, dtype=torch.float64)
    y = X @ w_true + noise * torch.randn(n + n_val, generator=g, dtype=torch.float64)
    return X[:n], y[:n, None], X[n:], y[n:, None]


def _es1_real(patience: int = 10, use=_USE) -> tuple[list[float], list[float], dict]:
    X, y, Xv, yv = _overfitting_regression()
    model = nn.Linear(X.shape[1], 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    extra, restores = use
    stopper = EarlyStopping(patience + extra)
    snapshots: list[Tensor] = []  # every evaluated parameter vector, kept independently

    def callback(epoch, m, history):
        snapshots.append(torch.cat([p.detach().reshape(-1).clone() for p in m.parameters()]))
        if stopper.step(history.val_loss[-1], m):
            raise StopIteration

    config = TrainConfig(epochs=400, lr=0.01, batch_size=X.shape[0], momentum=0.0, loss="mse")
    history = fit(model, X, y, config=config, val=(Xv, yv), callback=callback)
    if restores:
        stopper.restore(model)
    restored = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    ref_stop, best = scripted_stopping(history.val_loss, patience)  # the definition, on the losses seen
    stopped_at = len(history.val_loss) - 1
    expected = [ref_stop, best, *snapshots[best].tolist()]
    measured = [stopped_at, stopper.best_step, *restored.tolist()]
    info = {"val_loss": history.val_loss, "stopped_at": stopped_at, "best": best}
    return expected, measured, info


@derivation(
    "ES-1",
    claim_tex=(
        r"Early stopping with patience stops where the definition says and returns the parameters of the "
        r"evaluation with the lowest validation loss (a scripted loss sequence and a linear model that "
        r"overfits)."
    ),
    chapter=CHAPTER,
    claim="Early stopping with patience stops where the definition says and returns the parameters of the "
    "evaluation with the lowest validation loss (a scripted loss sequence and a linear model that overfits).",
    label="scripted and real",
    planted=(
        Planted("last parameters returned", "the parameters at the stopping evaluation kept, restore() not called",
                kind="student"),
        Planted("patience off by one", "stops after patience + 1 evaluations without improvement (> for >=)",
                kind="student"),
    ),
)
def check_es1(*, planted=None) -> Check:
    """ES-1: restored parameters equal the snapshot at the arg-min of the validation losses.

    Two cases: a scripted loss sequence (the parameter records the evaluation index, and the
    stopping step is found by brute force from the definition) and a real linear model trained
    by :func:`reglab.training.fit` until it overfits, whose parameters are recorded at every epoch.
    The first numbers are the stopping and best indices.
    """
    use = choose(planted, _USE, _MISUSE)
    losses = [5.0, 4.0, 3.0, 3.2, 2.9, 3.0, 3.1, 2.95, 3.3, 3.4, 1.0]
    exp_s, got_s = _es1_scripted(losses, patience=3, use=use)
    exp_r, got_r, _ = _es1_real(use=use)
    return compare(
        "ES-1",
        exp_s + exp_r,
        got_s + got_r,
        atol=1e-12,
        analytic_label="definition / snapshot at arg-min",
        empirical_label="EarlyStopping",
        note="scripted: [stop, best, w...]; then the real model:\n"
        "    [stopping epoch, best epoch, weights..., bias]",
    )


# ---------------------------------------------------------------------------------------------
# ES-2: the gradient-descent trajectory on a quadratic, and its L2 counterpart
# ---------------------------------------------------------------------------------------------
def _run_gd(H: Tensor, w_star: Tensor, lr: float, steps: int) -> Tensor:
    """Actually take ``steps`` gradient steps from 0, the gradient coming from autograd."""
    w = torch.zeros_like(w_star, requires_grad=True)
    path = [w.detach().clone()]
    for _ in range(steps):
        cost = 0.5 * (w - w_star) @ H @ (w - w_star)
        (grad,) = torch.autograd.grad(cost, w)
        with torch.no_grad():
            w -= lr * grad
        path.append(w.detach().clone())
    return torch.stack(path)


def _es2_problem():
    """A 5-D quadratic whose Hessian eigenvalues span 4 to 0.01 (H, w*, Q, eigenvalues)."""
    eigvals = torch.tensor([4.0, 1.0, 0.3, 0.05, 0.01], dtype=torch.float64)
    return quadratic_problem(5, eigenvalues=eigvals, seed=3)


def _trajectory_one_step_behind(H: Tensor, w_star: Tensor, lr: float, steps: int) -> Tensor:
    """The slip (I - eps Lambda)^(t-1) for (I - eps Lambda)^t: row t holds the iterate t - 1."""
    return torch.cat([torch.zeros_like(w_star)[None], gd_trajectory(H, w_star, lr, steps - 1)])


ES2_LR, ES2_STEPS, ES2_X_MAX = 0.01, 50, 0.2
#: Where tau*eps*lambda >= 1 although eps*lambda is small, GD's share must exceed L2's by more than this.
ES2_FAIL_MARGIN = 0.1


@derivation(
    "ES-2",
    claim_tex=(
        r"On a quadratic, $\tau$ GD steps of rate $\epsilon$ from 0 give $Q[I - (I - "
        r"\epsilon\Lambda)^\tau]Q^\top w^*$ exactly; along each eigen-direction with "
        r"$\tau\epsilon\lambda_i \le 0.2$ ($\epsilon = 0.01$, $\tau = 50$) GD's share of $w^*$ is within "
        r"$(\tau\epsilon\lambda_i)^2$ of the L2 solution's at $\alpha = 1/(\tau\epsilon)$. The agreement "
        r"needs $\tau\epsilon\lambda_i$ small, not only $\epsilon\lambda_i$: along the direction with "
        r"$\epsilon\lambda_i = 0.04$ but $\tau\epsilon\lambda_i = 2$, GD's share exceeds L2's by more than "
        r"0.1."
    ),
    chapter=CHAPTER,
    claim="On a quadratic, tau GD steps of rate eps from 0 give Q[I - (I - eps Lambda)^tau]Q^T w* exactly; "
    "along each eigen-direction with tau*eps*lambda_i <= 0.2 (eps = 0.01, tau = 50) GD's share of w* is within "
    "(tau*eps*lambda_i)^2 of the L2 solution's at alpha = 1/(tau eps). The agreement needs tau*eps*lambda_i small, "
    "not only eps*lambda_i: along the direction with eps*lambda_i = 0.04 but tau*eps*lambda_i = 2, GD's share "
    "exceeds L2's by more than 0.1.",
    label="trajectory",
    planted=(
        Planted("exponent tau-1 for tau", "Q[I - (I - eps Lambda)^(tau-1)]Q^T w*, the step count off by one",
                kind="student"),
    ),
)
def check_es2(*, planted=None) -> Check:
    """ES-2 (exact part): the closed-form iterates against 60 gradient steps actually taken."""
    H, w_star, _, _ = _es2_problem()
    lr, steps = 0.2, 60
    trajectory = choose(planted, gd_trajectory, {"exponent tau-1 for tau": _trajectory_one_step_behind})
    closed = trajectory(H, w_star, lr, steps)
    run = _run_gd(H, w_star, lr, steps)
    return compare(
        "ES-2",
        closed,
        run,
        atol=1e-11,
        analytic_label="Q[I-(I-eps Lambda)^t]Q^T w*",
        empirical_label="GD steps (autograd)",
        note="every iterate t = 0..60 of a 5-D quadratic, eps = 0.2; float64\n"
        "    (tolerance: rounding over 60 steps)",
    )


@subcheck(
    "ES-2",
    label="L2 approximation",
    planted=(
        Planted("smallest factor set to 0", "the GD factor of the flattest direction taken as 0 (not yet learned)",
                kind="student"),
        Planted("alpha = tau*eps", "alpha = tau*eps for 1/(tau*eps)", kind="student"),
        Planted("exponent tau-1 in the factor", "GD factor 1 - (1 - eps lambda)^(tau-1)", kind="student"),
    ),
)
def check_es2_l2_agreement(lr: float = ES2_LR, steps: int = ES2_STEPS, *, planted=None) -> Check:
    r"""ES-2 (approximate part): GD's and L2's shrink factors where :math:`\tau\epsilon\lambda_i \le 0.2`.

    The GD factors are measured by running gradient descent and projecting the iterate on
    each eigenvector; the L2 factors come from a linear solve of the penalised problem. Each
    direction is allowed its own proven bound :math:`(\tau\epsilon\lambda_i)^2` (see
    :func:`shrink_factor_table`), not a fitted number.
    """
    H, w_star, Q, lam = _es2_problem()
    alpha = equivalent_alpha(lr, steps)
    # (alpha, steps run, flattest direction's GD factor taken as 0?)
    alpha, run_steps, flattest_zero = choose(planted, (alpha, steps, False), {
        "smallest factor set to 0": (alpha, steps, True),
        "alpha = tau*eps": (lr * steps, steps, False),
        "exponent tau-1 in the factor": (alpha, steps - 1, False),
    })
    coords = Q.T @ w_star
    gd = (Q.T @ _run_gd(H, w_star, lr, run_steps)[-1]) / coords
    if flattest_zero:
        gd = torch.where(lam == lam.min(), torch.zeros_like(gd), gd)
    l2 = (Q.T @ l2_solution(H, w_star, alpha)) / coords
    x = steps * lr * lam
    keep = x <= ES2_X_MAX
    return compare(
        "ES-2",
        l2[keep],
        gd[keep],
        atol=x[keep] ** 2,
        analytic_label="L2 factor lambda/(lambda+alpha)",
        empirical_label="GD factor (run)",
        digits=4,
        note=f"alpha = 1/(tau eps) = {equivalent_alpha(lr, steps):g}; directions with tau eps lambda <= "
        f"{ES2_X_MAX:g};\n    tolerance (tau eps lambda_i)^2 per direction",
    )



@subcheck(
    "ES-2",
    label="fails where tau*eps*lambda is large",
    planted=(
        Planted("share left for share learned",
                "GD's share read off the remaining error: (1 - eps lambda)^tau, the factor by which the error "
                "along q_i shrinks, taken for 1 - (1 - eps lambda)^tau, the share of w* recovered", kind="student"),
    ),
)
def check_es2_needs_small_x(lr: float = ES2_LR, steps: int = ES2_STEPS, *, planted=None) -> Check:
    r"""ES-2, the other side: where :math:`\tau\epsilon\lambda_i \ge 1` although :math:`\epsilon\lambda_i`
    is small, GD's share of :math:`w^*` (run) exceeds L2's (linear solve) by more than ES2_FAIL_MARGIN.

    The same run and solve as :func:`check_es2_l2_agreement`, on the directions that check leaves out.
    """
    H, w_star, Q, lam = _es2_problem()
    coords = Q.T @ w_star
    learned = (Q.T @ _run_gd(H, w_star, lr, steps)[-1]) / coords
    gd = choose(planted, learned, {"share left for share learned": 1 - learned})
    l2 = (Q.T @ l2_solution(H, w_star, equivalent_alpha(lr, steps))) / coords
    far = steps * lr * lam >= 1
    return exceeds(
        "ES-2", (gd - l2)[far], ES2_FAIL_MARGIN, value_label="GD factor (run) - L2 factor", bound_label="margin",
        digits=4,
        note=f"directions with tau eps lambda >= 1: eps lambda = {', '.join(f'{v:g}' for v in (lr * lam[far]).tolist())}, "
        f"tau eps lambda = {', '.join(f'{v:g}' for v in (steps * lr * lam[far]).tolist())}; "
        f"alpha = 1/(tau eps) = {equivalent_alpha(lr, steps):g}",
    )
