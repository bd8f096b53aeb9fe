"""Label smoothing: LS-1, LS-2, LS-3, LS-4.

If a training label is right with probability 1 - eps and otherwise one of the other k - 1
classes at random, the expected one-hot target is the smoothed target (LS-1):
1 - eps for the recorded class and eps/(k-1) for every other class.

PyTorch's ``label_smoothing=e`` mixes the one-hot target with the uniform distribution
instead, (1 - e) onehot + e/k, which puts 1 - e(k-1)/k on the true class. The two coincide
for e = eps k/(k-1) (LS-2).

With smoothed targets the cross-entropy has a finite minimiser over the logits: the softmax
equals the target, so every wrong class sits log((1-eps)(k-1)/eps) below the true one (LS-3).
Without smoothing the infimum is not attained: gradient descent drives the gap up without bound.

LS-4 (noisy MNIST-1D labels, calibration) is an experiment, registered and run in
:mod:`reglab.experiments.label_smoothing`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_int, check_real
from ..noise import corrupt_labels, smooth_labels, smoothed_cross_entropy
from ._memo import deterministic
from .compare import Check, compare, compare_mc
from .registry import Planted, choose, derivation, subcheck

__all__ = [
    "TARGET_DRAWS",
    "check_finite_logits",
    "check_lecture_example",
    "check_pytorch_relation",
    "check_pytorch_target",
    "check_targets",
    "check_unbounded_gap",
    "logit_gap_path",
    "minimise_logits",
    "optimal_logit_gap",
    "pytorch_label_smoothing",
]

CHAPTER = "label_smoothing"
#: Corrupted labels simulated by the Monte Carlo check of LS-1.
TARGET_DRAWS = 400_000


def _check_k_eps(num_classes, eps):
    num_classes = check_int("num_classes", num_classes, low=2)
    eps = check_real("eps", eps, low=0.0, high=1.0, high_open=True)
    return num_classes, eps


def pytorch_label_smoothing(eps: float, num_classes: int) -> float:
    """PyTorch's ``label_smoothing`` value that reproduces our eps: ``eps * k / (k - 1)``.

    Parameters
    ----------
    eps : float in [0, (k-1)/k]
        Our smoothing: 1 - eps on the labelled class, eps/(k-1) on each other class.
    num_classes : int >= 2

    Returns
    -------
    float in [0, 1]

    Notes
    -----
    PyTorch's target is (1 - e) onehot + e/k: the labelled class gets 1 - e (k-1)/k and each
    other class e/k. Setting e/k = eps/(k-1) gives e = eps k/(k-1), and then the labelled class
    gets 1 - eps as well. PyTorch accepts e <= 1 only, so eps beyond (k-1)/k (targets that
    favour a wrong class) has no PyTorch equivalent.

    Examples
    --------
    >>> round(pytorch_label_smoothing(0.09, 10), 12)
    0.1
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    limit = (num_classes - 1) / num_classes
    if eps > limit:
        raise ValueError(
            f"eps must be <= (k-1)/k = {limit:g} for PyTorch's label_smoothing (which must be <= 1), "
            f"but got {eps}"
        )
    return eps * num_classes / (num_classes - 1)


def optimal_logit_gap(eps: float, num_classes: int) -> float:
    """Gap between the true class's logit and every other logit at the smoothed-CE optimum.

    Parameters
    ----------
    eps : float in (0, 1)
    num_classes : int >= 2

    Returns
    -------
    float
        ``log((1 - eps) (k - 1) / eps)``: the log-ratio of the smoothed target's entries.

    Examples
    --------
    >>> round(optimal_logit_gap(0.1, 10), 4)
    4.3944
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    if eps == 0:
        raise ValueError("eps must be in (0, 1): without smoothing the optimal gap is infinite, but got 0.0")
    return math.log((1 - eps) * (num_classes - 1) / eps)


# ----------------------------------------------------------------------------- LS-1
def _torch_target(label: int, num_classes: int, eps: float) -> Tensor:
    """1 - eps on the label and eps/k (PyTorch's e/k) on each other class: a planted mistake."""
    q = torch.full((num_classes,), eps / num_classes, dtype=torch.float64)
    q[label] = 1 - eps
    return q


@derivation(
    "LS-1",
    claim_tex=(
        r"Smoothed targets are $1 - \epsilon$ for the labelled class and $\epsilon/(k-1)$ for the others: "
        r"the expected one-hot code of a label that is wrong with probability $\epsilon$ (simulated), and "
        r"for the lecture's MNIST example a vector of ten entries, $1 - \epsilon$ at index 6, summing to "
        r"1."
    ),
    chapter=CHAPTER,
    claim="Smoothed targets are 1 - eps for the labelled class and eps/(k-1) for the others: the expected "
    "one-hot code of a label that is wrong with probability eps (simulated), and for the lecture's "
    "MNIST example a vector of ten entries, 1 - eps at index 6, summing to 1.",
    label="Monte Carlo",
    planted=(Planted("eps/k for eps/(k-1) on the wrong classes", "1 - eps on the label and eps/k on each other "
                     "class: PyTorch's e/k (its mixture with the uniform distribution) taken for the lecture's "
                     "eps/(k-1)", kind="library"),),
)
def check_targets(
    *, eps: float = 0.1, num_classes: int = 10, label: int = 6, num_draws: int = TARGET_DRAWS, seed: int = 0,
    planted=None,
) -> Check:
    """LS-1: smoothed target vs the frequencies of a corrupted label (simulated noise model).

    Each class's frequency has its own binomial standard error sqrt(q (1 - q) / draws);
    :func:`~reglab.derivations.compare.compare_mc` holds the k intervals jointly at 99.9 %.
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    label = check_int("label", label, low=0, high=num_classes - 1)
    num_draws = check_int("num_draws", num_draws, low=2)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    recorded = corrupt_labels(torch.full((num_draws,), label), eps, num_classes, generator=g)
    freq = torch.bincount(recorded, minlength=num_classes).to(torch.float64) / num_draws
    stderr = (freq * (1 - freq) / num_draws).sqrt()
    target = choose(planted, lambda: smooth_labels(torch.tensor([label]), num_classes, eps)[0],
                    {"eps/k for eps/(k-1) on the wrong classes": lambda: _torch_target(label, num_classes, eps)})
    return compare_mc(
        "LS-1",
        target(),
        freq,
        stderr,
        analytic_label="1 - eps, eps/(k-1)",
        empirical_label=f"frequencies, {num_draws} corruptions",
        digits=4,
        note=f"label {label} of k = {num_classes}, eps = {eps}; binomial standard errors",
    )


@subcheck(
    "LS-1",
    label="the lecture's MNIST example",
    planted=(
        Planted(
            "the slide's 8-entry vector",
            "the slide's one-hot vector for the digit 6, [0 0 0 0 0 1 0 0], completed to the ten digits with "
            "zeros for the two it leaves out and smoothed by the rule: its 1 - eps stands at index 5 (the digit 5, "
            "the sixth place) and index 6 gets eps/9",
            slip='slide "Solution: Smooth Labels": "For example, in MNIST for digit 6: '
            'y = [0 0 0 0 0 1 0 0]" (and y^ = [0.05 0 0.02 0.08 0.05 0.8 0 0], also 8 entries)',
            correct="ten entries indexed by the digits 0 to 9, the 1 at index 6: y = [0 0 0 0 0 0 1 0 0 0]; "
            "smoothed, 1 - eps at index 6 and eps/9 at the nine others, summing to 1",
        ),
    ),
)
def check_lecture_example(*, eps: float = 0.1, planted=None) -> Check:
    """LS-1 for the lecture's example, the digit 6 of MNIST's ten digits.

    The lecture's rule (replace 0 by eps/(k-1) and 1 by 1 - eps, k = 10) applied to the one-hot
    code of the digit 6, against :func:`~reglab.labels.smooth_labels`: the ten entries, then their sum.
    """
    _, eps = _check_k_eps(10, eps)
    k, digit = 10, 6
    # the slide's vector has 8 entries; completed with zeros for the digits 8 and 9, its 1 stays at index 5
    one_hot = choose(planted, F.one_hot(torch.tensor(digit), k).tolist(),
                     {"the slide's 8-entry vector": [0, 0, 0, 0, 0, 1, 0, 0] + [0, 0]})
    rule = np.array([1 - eps if v == 1 else eps / (k - 1) for v in one_hot])
    ours = smooth_labels(torch.tensor([digit]), k, eps)[0].numpy()
    return compare(
        "LS-1",
        np.append(rule, rule.sum()),
        np.append(ours, ours.sum()),
        atol=1e-12,
        analytic_label="the rule on the one-hot code of 6, then the sum",
        empirical_label="smooth_labels(6, k = 10)",
        digits=4,
        note=f"the lecture's MNIST example, the digit 6 among ten (indices 0 to 9), eps = {eps}",
    )


# ----------------------------------------------------------------------------- LS-2
@derivation(
    "LS-2",
    claim_tex=(
        r"PyTorch's `label_smoothing=e` targets $(1 - e)\,\mathrm{onehot} + e/k$ (read from the gradient "
        r"of its loss); ours with $\epsilon$ equals PyTorch's with $e = \epsilon k/(k-1)$: the targets and "
        r"the loss values agree."
    ),
    chapter=CHAPTER,
    claim="PyTorch's label_smoothing=e targets (1 - e) onehot + e/k (read from the gradient of its loss); "
    "ours with eps equals PyTorch's with e = eps k/(k-1): the targets and the loss values agree.",
    label="loss values",
    planted=(Planted("PyTorch's e taken as eps (eps/k for eps/(k-1))", "F.cross_entropy(label_smoothing=eps): "
                     "PyTorch's eps/k on the wrong classes taken for the lecture's eps/(k-1)", kind="library"),),
)
def check_pytorch_relation(
    *, epsilons=(0.05, 0.1, 0.3), num_classes: int = 10, n: int = 64, seed: int = 0, planted=None
) -> Check:
    """LS-2: our smoothed cross-entropy with eps vs ``F.cross_entropy(label_smoothing=eps k/(k-1))``."""
    num_classes = check_int("num_classes", num_classes, low=2)
    n = check_int("n", n, low=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    logits = 3 * torch.randn(n, num_classes, generator=g, dtype=torch.float64)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    converted = choose(planted, pytorch_label_smoothing,
                       {"PyTorch's e taken as eps (eps/k for eps/(k-1))": lambda eps, k: eps})
    ours = [smoothed_cross_entropy(logits, labels, e).item() for e in epsilons]
    theirs = [
        F.cross_entropy(logits, labels, label_smoothing=converted(e, num_classes)).item()
        for e in epsilons
    ]
    return compare(
        "LS-2",
        np.array(ours),
        np.array(theirs),
        rtol=1e-12,
        atol=1e-12,
        analytic_label="smoothed_cross_entropy(eps)",
        empirical_label="F.cross_entropy(e = eps k/(k-1))",
        note=f"eps = {', '.join(map(str, epsilons))}; k = {num_classes}; {n} random logits",
    )


@subcheck("LS-2", label="targets from the gradient",
          planted=(Planted("conversion inverted: e = eps (k-1)/k", "e = eps (k-1)/k: the conversion applied the "
                           "wrong way round", kind="student"),))
def check_pytorch_target(*, eps: float = 0.2, num_classes: int = 10, seed: int = 0, planted=None) -> Check:
    """LS-2, the targets themselves: PyTorch's target read from the gradient of its loss.

    For cross-entropy against a target q, the gradient with respect to the logits is
    softmax(z) - q, so q = softmax(z) - grad. That q, at e = eps k/(k-1), against
    :func:`~reglab.labels.smooth_labels` with eps.
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    z = torch.randn(num_classes, num_classes, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.arange(num_classes)
    converted = choose(planted, pytorch_label_smoothing,
                       {"conversion inverted: e = eps (k-1)/k": lambda eps, k: eps * (k - 1) / k})
    loss = F.cross_entropy(z, labels, label_smoothing=converted(eps, num_classes), reduction="sum")
    (grad,) = torch.autograd.grad(loss, z)
    theirs = torch.softmax(z.detach(), -1) - grad
    return compare(
        "LS-2",
        smooth_labels(labels, num_classes, eps),
        theirs,
        atol=1e-12,
        analytic_label="smooth_labels(eps)",
        empirical_label="softmax - grad of F.cross_entropy",
        note=f"eps = {eps}, k = {num_classes}, every label once",
    )


# ----------------------------------------------------------------------------- LS-3
@deterministic
def minimise_logits(eps: float, num_classes: int, *, label: int = 0, max_iter: int = 100) -> Tensor:
    """Minimise the smoothed cross-entropy of one example over its logits, numerically.

    Damped Newton's method with the Hessian from autograd (the loss is convex; its Hessian
    diag(p) - p p^T is singular along the all-ones direction, so each step is the minimum-norm
    least-squares solution), with backtracking until the loss decreases.

    Parameters
    ----------
    eps : float in (0, 1)
    num_classes : int >= 2
    label : int
    max_iter : int

    Returns
    -------
    Tensor of shape (k,), float64
        The minimising logits, shifted to mean zero (logits are defined up to a constant).
    """
    num_classes, eps = _check_k_eps(num_classes, eps)
    label = check_int("label", label, low=0, high=num_classes - 1)
    max_iter = check_int("max_iter", max_iter, low=1)
    y = torch.tensor([label])

    def loss(z):
        return smoothed_cross_entropy(z.unsqueeze(0), y, eps)

    z = torch.zeros(num_classes, dtype=torch.float64)
    for _ in range(max_iter):
        grad = torch.func.grad(loss)(z)
        if grad.abs().max() < 1e-13:
            break
        hessian = torch.func.jacrev(torch.func.grad(loss))(z)
        step = torch.linalg.lstsq(hessian, grad.unsqueeze(1), driver="gelsd").solution[:, 0]
        t, current = 1.0, loss(z)
        while loss(z - t * step) > current + 1e-12 * abs(current) and t > 1e-8:
            t /= 2
        z = z - t * step
    return z - z.mean()


@deterministic
def logit_gap_path(eps, num_classes: int, *, steps: int = 1000, lr: float = 1.0) -> np.ndarray:
    """Gap (true logit minus any other) along gradient descent on one example's logits from zero.

    Parameters
    ----------
    eps : float in [0, 1), or a sequence of them
        0 gives plain cross-entropy. Several values are run side by side.
    num_classes : int >= 2
    steps : int
    lr : float > 0

    Returns
    -------
    numpy.ndarray of shape (steps + 1,), or (len(eps), steps + 1)
        The gap after each step; it converges to :func:`optimal_logit_gap` for eps > 0 and
        grows without bound (like the log of the number of steps) for eps = 0.

    Examples
    --------
    >>> path = logit_gap_path([0.0, 0.1], 10, steps=2000)
    >>> round(float(path[1, -1]), 4), bool(path[0, -1] > path[0, 1000] > path[1, -1])
    (4.3944, True)
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    single = np.ndim(eps) == 0
    values = [eps] if single else list(eps)
    if not values:
        raise ValueError("eps must hold at least one value, but got an empty sequence")
    values = [_check_k_eps(num_classes, e)[1] for e in values]
    steps = check_int("steps", steps, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    E = len(values)
    e = torch.tensor(values, dtype=torch.float64) if E > 1 else values[0]
    z = torch.zeros(E, 1, num_classes, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(1, dtype=torch.long)
    gaps = [np.zeros(E)]
    for _ in range(steps):
        loss = smoothed_cross_entropy(z, y, e).sum()
        (grad,) = torch.autograd.grad(loss, z)
        with torch.no_grad():
            z -= lr * grad
        gaps.append((z[:, 0, 0] - z[:, 0, 1]).detach().numpy().copy())
    path = np.stack(gaps, axis=1)
    return path[0] if single else path


@derivation(
    "LS-3",
    claim_tex=(
        r"With smoothing the optimal logits are finite: softmax equals the smoothed target and the logit "
        r"gap is $\log\frac{(1-\epsilon)(k-1)}{\epsilon}$ (Newton's minimiser); without smoothing gradient "
        r"descent's gap grows without bound, like $\log t$: $e^{g} + (k-1)g$, $g$ the gap, rises by $k$ "
        r"times the learning rate per step."
    ),
    chapter=CHAPTER,
    claim="With smoothing the optimal logits are finite: softmax equals the smoothed target and the logit "
    "gap is log((1-eps)(k-1)/eps) (Newton's minimiser); without smoothing gradient descent's gap grows "
    "without bound, like log t: e^gap + (k-1) gap rises by lr k per step.",
    label="Newton minimiser",
    planted=(Planted("gap log((1-eps)/eps), without (k-1)", "the gap log((1-eps)/eps): the ratio of the "
                     "target's entries without the k - 1 that divides eps among the wrong classes", kind="student"),),
)
def check_finite_logits(*, epsilons=(0.01, 0.1, 0.3), num_classes: int = 10, planted=None) -> Check:
    """LS-3: closed-form gap and softmax at the optimum vs a numerical minimiser (Newton)."""
    num_classes = check_int("num_classes", num_classes, low=2)
    gap_formula = choose(planted, optimal_logit_gap,
                         {"gap log((1-eps)/eps), without (k-1)": lambda e, k: math.log((1 - e) / e)})
    analytic, empirical = [], []
    for e in epsilons:
        z = minimise_logits(e, num_classes)
        p = torch.softmax(z, -1)
        gap = gap_formula(e, num_classes)
        analytic += [gap, 1 - e, e / (num_classes - 1)]
        empirical += [(z[0] - z[1:]).mean().item(), p[0].item(), p[1:].mean().item()]
    return compare(
        "LS-3",
        np.array(analytic),
        np.array(empirical),
        atol=1e-8,
        analytic_label="[gap, 1-eps, eps/(k-1)]",
        empirical_label="Newton: [gap, softmax true, other]",
        note=f"gap = log((1-eps)(k-1)/eps); eps = {', '.join(map(str, epsilons))}; k = {num_classes}",
    )


@subcheck("LS-3", label="eps = 0, gradient descent", planted=(
    Planted("only the true logit moves", "the gap's step taken from the true logit's gradient alone, "
            "lr (k-1) e^-g / (1 + (k-1) e^-g): the k - 1 wrong logits, which fall as the true one rises, "
            "forgotten; e^gap + (k-1) gap then rises by lr (k-1) per step", kind="student"),
    Planted("the gap settles at eps = 0", "a finite optimum at eps = 0 as well: the gap stops rising "
            "(a control: the rise set to 0)", kind="control"),
))
def check_unbounded_gap(*, num_classes: int = 10, lr: float = 1.0, steps=(300, 1000, 3000), planted=None) -> Check:
    """LS-3 at eps = 0: the gap of gradient descent on plain cross-entropy grows like log t.

    By symmetry the wrong logits stay equal; with gap g the loss is log(1 + (k-1) e^-g) and a
    step raises g by lr k e^-g / (1 + (k-1) e^-g). So e^g + (k-1) g rises by lr k per step (in
    the limit of small steps, which the late steps are): g ~ log(lr k t), unbounded, and the loss
    keeps falling at every finite gap. Compared: the rise of e^g + (k-1) g over windows of
    steps, along :func:`logit_gap_path`, with lr k times the window's length.
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    steps = [check_int("steps", t, low=1) for t in steps]
    path = logit_gap_path(0.0, num_classes, steps=max(steps), lr=lr)
    g = path[steps]
    invariant = np.exp(g) + (num_classes - 1) * g
    windows = np.diff(np.array(steps, dtype=np.float64))
    rise = lr * num_classes * windows
    predicted = choose(planted, rise, {"only the true logit moves": lr * (num_classes - 1) * windows,
                                       "the gap settles at eps = 0": np.zeros_like(windows)})
    return compare(
        "LS-3",
        predicted,
        np.diff(invariant),
        atol=2e-3 * rise,
        analytic_label="lr k (t2 - t1)",
        empirical_label="rise of e^gap + (k-1) gap",
        digits=5,
        note=f"tolerance 0.2 % (finite steps); eps = 0, k = {num_classes}, lr = {lr}: windows between steps {', '.join(map(str, steps))}; "
        f"the gap there: {', '.join(f'{v:.3f}' for v in g)}",
    )

