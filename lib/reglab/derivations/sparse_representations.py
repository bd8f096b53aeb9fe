"""Sparse representations: k-sparse codes and the activation penalty (chapter ``sparse_representations``).

- SP-2: with orthonormal atoms the best k-sparse code keeps the k largest ``abs(W^T x)``
  (:func:`topk_orthonormal`), checked against :func:`best_k_sparse` (every support) and OMP;
  with orthogonal atoms of any lengths the rule divides by the lengths (:func:`topk_orthogonal`).
- SP-3: greedy OMP can miss the best support of a general dictionary (:func:`greedy_trap`):
  its residual agrees with the closed form, and exceeds the brute-force optimum.
- SP-4 (beyond the lecture): the best non-negative code under an L1 penalty is
  ``relu(z - alpha)``: the penalty raises every unit's threshold by alpha.

A checker's planted mistakes stand beside the right computation in the table it gives ``choose``.
SP-1 and SP-5 (an L1 penalty on an MLP's activations, measured) and OMP's miss rate are in
:mod:`reglab.experiments.sparse_representations`; the lecture's pictures of sparsity in
:mod:`reglab.plotting`; :func:`sparse_residual` and :func:`dct_dictionary` live in
:mod:`reglab.sparse_coding` (imported here).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor

from .._lazy import lazy_module
from .._validation import check_int, check_real, check_tensor
from ..sparse_coding import dct_dictionary, omp, sparse_residual
from .compare import Check, compare, exceeds
from .registry import Planted, choose, derivation, subcheck

optimize = lazy_module("scipy.optimize")

__all__ = [
    "best_k_sparse", "check_sp2", "check_sp2_omp", "check_sp2_orthogonal", "check_sp3", "check_sp3_misses",
    "check_sp4", "dct_dictionary", "greedy_trap", "greedy_trap_residuals", "nonnegative_l1_code", "sparse_residual",
    "topk_orthogonal", "topk_orthonormal",
]

CHAPTER = "sparse_representations"


def _check_problem(W, x, k):
    check_tensor("W", W, ndim=2, floating=True, finite=True)
    check_tensor("x", x, ndim=(1, 2), floating=True, finite=True)
    if x.shape[-1] != W.shape[0]:
        raise ValueError(f"x must have {W.shape[0]} entries per signal (the rows of W), "
                         f"but got shape {tuple(x.shape)}")
    k = check_int("k", k, low=1)
    if k > W.shape[1]:
        raise ValueError(f"The number of non-zeros k cannot be more than the number of atoms: k={k}, "
                         f"but W has {W.shape[1]} columns")
    return k


def best_k_sparse(W: Tensor, x: Tensor, k: int, *, max_supports: int = 200_000) -> Tensor:
    r"""The exact best code with at most k non-zeros, by least squares on every support of size k.

    Parameters
    ----------
    W : Tensor of shape (d, m)
        Dictionary, atoms as columns.
    x : Tensor of shape (d,) or (n, d)
    k : int in [1, m]
    max_supports : int
        Refuse problems with more than this many supports, C(m, k) (the search is exponential).

    Returns
    -------
    h : Tensor of shape (m,) or (n, m)
        :math:`\arg\min_{\lVert h\rVert_0 \le k} \lVert x - W h\rVert^2` (the first best support
        in lexicographic order if several tie).

    Notes
    -----
    Supports smaller than k never do better than one of their supersets of size k (least
    squares on more atoms cannot fit worse), so the supports of size exactly k suffice. The
    problem is NP-hard in general (Natarajan 1995): this is for small m and k only.

    Examples
    --------
    >>> W = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    >>> best_k_sparse(W, torch.tensor([2.0, 2.0], dtype=torch.float64), 1).round(decimals=6)
    tensor([0., 0., 2.], dtype=torch.float64)
    """
    k = _check_problem(W, x, k)
    m = W.shape[1]
    count = math.comb(m, k)
    if count > check_int("max_supports", max_supports, low=1):
        raise ValueError(f"brute force over C({m}, {k}) = {count} supports is more than "
                         f"max_supports={max_supports}")
    X = x.reshape(-1, W.shape[0])
    supports = torch.tensor(list(itertools.combinations(range(m), k)), dtype=torch.long)  # (C, k)
    A = W.T[supports].transpose(1, 2)  # (C, d, k)
    B = X.T.unsqueeze(0).expand(count, -1, -1)  # (C, d, n)
    coef = torch.linalg.pinv(A) @ B  # (C, k, n): least squares (minimum norm if A is rank deficient)
    err = (B - A @ coef).pow(2).sum(1)  # (C, n)
    best = err.argmin(0)  # (n,)
    h = torch.zeros(X.shape[0], m, dtype=W.dtype)
    h.scatter_(1, supports[best], coef[best, :, torch.arange(X.shape[0])])
    return h.reshape(m) if x.dim() == 1 else h


def topk_orthonormal(W: Tensor, x: Tensor, k: int) -> Tensor:
    r"""Closed-form best k-sparse code for orthonormal atoms: keep the k largest ``abs(W^T x)``.

    Parameters
    ----------
    W : Tensor of shape (d, m), with :math:`W^\top W = I`
    x : Tensor of shape (d,) or (n, d)
    k : int in [1, m]

    Returns
    -------
    h : Tensor of shape (m,) or (n, m)

    Notes
    -----
    With :math:`W^\top W = I`, :math:`\lVert x - Wh\rVert^2 = \lVert x - WW^\top x\rVert^2 +
    \lVert W^\top x - h\rVert^2` (Pythagoras), so the best h with k non-zeros copies the k
    largest entries of :math:`c = W^\top x` and the error is the rest's energy
    (lecture: "efficiently solvable when W is constrained to be orthogonal").
    """
    k = _check_problem(W, x, k)
    gram_err = (W.T @ W - torch.eye(W.shape[1], dtype=W.dtype)).abs().max().item()
    if gram_err > 1e-6:
        raise ValueError(f"W must have orthonormal columns (W^T W = I), but W^T W differs from I "
                         f"by {gram_err:.2g}")
    c = x @ W
    return _keep_top(c.abs(), c, k)


def _keep_top(scores: Tensor, coef: Tensor, k: int) -> Tensor:
    """The code that keeps, in each row, the k largest ``scores``, with coefficients ``coef``."""
    keep = scores.topk(k, dim=-1).indices
    return torch.zeros_like(coef).scatter(-1, keep, coef.gather(-1, keep))


def _random_orthonormal(d: int, m: int, generator: torch.Generator) -> Tensor:
    q, r = torch.linalg.qr(torch.randn(d, m, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def topk_orthogonal(W: Tensor, x: Tensor, k: int) -> Tensor:
    r"""Closed-form best k-sparse code for orthogonal atoms of any lengths.

    Keep the k largest :math:`|w_j^\top x| / \lVert w_j\rVert` with coefficients
    :math:`w_j^\top x / \lVert w_j\rVert^2`; for unit atoms this is :func:`topk_orthonormal`.

    Parameters
    ----------
    W : Tensor of shape (d, m), with :math:`W^\top W` diagonal and positive
    x : Tensor of shape (d,) or (n, d)
    k : int in [1, m]

    Returns
    -------
    h : Tensor of shape (m,) or (n, m)

    Notes
    -----
    With :math:`W = QD`, :math:`Q^\top Q = I`, :math:`D` diagonal, write :math:`g = Dh`: then
    :math:`Wh = Qg` and :math:`\lVert h\rVert_0 = \lVert g\rVert_0`, so the best g keeps the
    k largest :math:`|q_j^\top x|` (:func:`topk_orthonormal`). Orthogonal columns suffice for
    the problem to be easy (lecture: "efficiently solvable when W is constrained to be
    orthogonal"); ranking by :math:`|w_j^\top x|` itself is right only for equal lengths.
    """
    k = _check_problem(W, x, k)
    lengths = W.norm(dim=0)
    gram = W.T @ W
    off = (gram - torch.diag(torch.diagonal(gram))).abs().max().item()
    if off > 1e-6 * float(lengths.max()) ** 2 or bool((lengths == 0).any()):
        raise ValueError(f"W must have orthogonal non-zero columns (W^T W diagonal), but its off-diagonal "
                         f"entries reach {off:.2g}")
    c = x @ W
    return _keep_top(c.abs() / lengths, c / lengths.pow(2), k)


def _signed_greedy(W: Tensor, X: Tensor, k: int) -> Tensor:
    """OMP that picks the atom with the largest *signed* correlation (the planted mistake)."""
    H = torch.zeros(X.shape[0], W.shape[1], dtype=W.dtype)
    for i, x in enumerate(X):
        chosen: list[int] = []
        r = x.clone()
        for _ in range(k):
            corr = (r @ W) / W.norm(dim=0)
            corr[chosen] = -math.inf
            chosen.append(int(corr.argmax()))
            coef = torch.linalg.lstsq(W[:, chosen], x.unsqueeze(1)).solution.squeeze(1)
            r = x - W[:, chosen] @ coef
        H[i, chosen] = coef
    return H


@derivation(
    "SP-2",
    claim_tex=r"With orthonormal atoms the best code with $\lVert h\rVert_0 \le k$ keeps the $k$ largest $\lvert "
    r"W^\top x\rvert$ (brute force over all supports, and OMP, find the same code); with orthogonal "
    r"atoms of other lengths it keeps the $k$ largest $\lvert w_j^\top x\rvert / \lVert w_j\rVert$, "
    r"with coefficients $w_j^\top x / \lVert w_j\rVert^2$ (brute force).",
    chapter=CHAPTER,
    claim="With orthonormal atoms the best code with ||h||_0 <= k keeps the k largest |W^T x| "
    "(brute force over all supports, and OMP, find the same code); with orthogonal atoms of "
    "other lengths it keeps the k largest |w_j^T x| / ||w_j||, with coefficients "
    "w_j^T x / ||w_j||^2 (brute force).",
    label="brute force, orthonormal basis",
    planted=(
        Planted("signed top-k", "keeps the k largest entries of W^T x, not the k largest |W^T x|", kind="student"),
        Planted("W x for W^T x", "codes the signal with the dictionary itself, W x, instead of its transpose "
                "W^T x (the two agree only for a symmetric W): the k largest |W x|", kind="student"),
        Planted("top-k of x", "keeps the k largest entries |x_i| of the signal itself, not of its code W^T x "
                "(no transform at all)", kind="control"),
    ),
)
def check_sp2(d: int = 10, k: int = 3, n_signals: int = 20, seed: int = 0, *, planted=None) -> Check:
    """SP-2: closed form (top k of abs(W^T x)) vs brute force over all C(d, k) supports.

    W is a random orthonormal basis of R^d (square, like the DCT of the chapter), so that the
    planted "W x for W^T x" (the dictionary not transposed) and "top-k of x" are defined.
    """
    g = torch.Generator().manual_seed(seed)
    W = _random_orthonormal(d, d, g)
    X = torch.randn(n_signals, d, generator=g, dtype=torch.float64)
    c, untransposed = X @ W, X @ W.T  # rows: W^T x, and W x
    closed = choose(planted, lambda: topk_orthonormal(W, X, k), {
        "signed top-k": lambda: _keep_top(c, c, k),  # the k largest entries of W^T x, signs and all
        "W x for W^T x": lambda: _keep_top(untransposed.abs(), untransposed, k),
        "top-k of x": lambda: _keep_top(X.abs(), X, k),  # the signal's own largest samples as the code
    })()
    brute = best_k_sparse(W, X, k)
    return compare(
        "SP-2", closed, brute, atol=1e-10,
        analytic_label="closed form (k largest |W^T x|)",
        empirical_label=f"brute force over C({d},{k})={math.comb(d, k)} supports",
        note=f"{n_signals} random signals, W a random orthonormal basis of R^{d}, k = {k}",
        label="brute force, orthonormal basis",
    )


@subcheck(
    "SP-2",
    label="OMP, orthonormal columns",
    planted=Planted("OMP without |.|", "OMP picks the atom with the largest signed correlation, not the "
                    "largest |correlation|", kind="student"),
)
def check_sp2_omp(d: int = 12, m: int = 8, k: int = 3, n_signals: int = 20, seed: int = 1, *, planted=None) -> Check:
    """SP-2: closed form vs OMP, for orthonormal columns that do not span R^d (x outside the span)."""
    g = torch.Generator().manual_seed(seed)
    W = _random_orthonormal(d, m, g)
    X = torch.randn(n_signals, d, generator=g, dtype=torch.float64)
    greedy = choose(planted, omp, {"OMP without |.|": _signed_greedy})(W, X, k)
    return compare(
        "SP-2", topk_orthonormal(W, X, k), greedy, atol=1e-10,
        analytic_label="closed form (k largest |W^T x|)", empirical_label="our omp",
        note=f"{n_signals} random signals, W with orthonormal columns ({d}x{m}), k = {k}",
        label="OMP, orthonormal columns",
    )


@subcheck(
    "SP-2",
    label="brute force, orthogonal columns of other lengths",
    planted=(
        Planted("orthonormal rule", "ranks orthogonal atoms of different lengths by |w_j^T x| (Exercise 12.1)",
                kind="student"),
        Planted("unscaled coefficients", "takes w_j^T x as the coefficient, not w_j^T x / ||w_j||^2",
                kind="student"),
    ),
)
def check_sp2_orthogonal(d: int = 12, m: int = 8, k: int = 3, n_signals: int = 20, seed: int = 2,
                         *, planted=None) -> Check:
    """SP-2: orthogonal columns of lengths 0.25..8: the normalised rule vs brute force."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.logspace(-2, 3, m, base=2, dtype=torch.float64)
    W = _random_orthonormal(d, m, g) * lengths
    X = torch.randn(n_signals, d, generator=g, dtype=torch.float64)
    c = X @ W
    closed = choose(planted, lambda: topk_orthogonal(W, X, k), {
        "orthonormal rule": lambda: _keep_top(c.abs(), c / lengths.pow(2), k),
        "unscaled coefficients": lambda: _keep_top(c.abs() / lengths, c, k),
    })()
    brute = best_k_sparse(W, X, k)
    return compare(
        "SP-2", closed, brute, atol=1e-10,
        analytic_label="k largest |w_j^T x| / ||w_j||",
        empirical_label=f"brute force over C({m},{k}) supports",
        note=f"{n_signals} random signals, W = Q D ({d}x{m}), atom lengths 0.25 to 8, k = {k}",
        label="brute force, orthogonal columns of other lengths",
    )


def greedy_trap(theta: float = math.pi / 6, beta: float = 0.8) -> tuple[Tensor, Tensor, int]:
    r"""A dictionary and signal on which greedy OMP with k = 2 misses the exact 2-sparse code.

    Parameters
    ----------
    theta : float in (0, pi/2)
        Angle between the decoy atom and the plane of the two true atoms.
    beta : float in (0, 1)
        Weight of the second true atom.

    Returns
    -------
    (W, x, k) : Tensor (3, 3), Tensor (3,), int
        Atoms :math:`w_1 = e_1`, :math:`w_2 = e_2`, the decoy
        :math:`w_3 = \cos\theta\,(e_1 + e_2)/\sqrt2 + \sin\theta\, e_3`; signal
        :math:`x = e_1 + \beta e_2 = w_1 + \beta w_2`; k = 2.

    Notes
    -----
    The decoy points between the two true atoms, so it correlates more with x than either:
    :math:`w_3^\top x = \cos\theta\,(1+\beta)/\sqrt2 > 1` when :math:`\cos\theta > \sqrt2/(1+\beta)`.
    OMP takes it first and can never drop it; no second atom together with the decoy spans x.
    """
    theta = check_real("theta", theta, low=0.0, high=math.pi / 2, low_open=True, high_open=True)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    c, s = math.cos(theta), math.sin(theta)
    r = c / math.sqrt(2)
    W = torch.tensor([[1.0, 0.0, r], [0.0, 1.0, r], [0.0, 0.0, s]], dtype=torch.float64)
    x = torch.tensor([1.0, beta, 0.0], dtype=torch.float64)
    return W, x, 2


def greedy_trap_residuals(theta: float = math.pi / 6, beta: float = 0.8) -> dict:
    r"""Closed forms for :func:`greedy_trap`: what OMP picks and both squared residuals.

    Returns
    -------
    dict
        ``first`` (the atom OMP picks first, 0-based), ``second``, ``optimum`` (the best
        residual, 0: x = w1 + beta w2) and ``omp`` (OMP's squared residual).

    Notes
    -----
    Step 1: correlations 1, beta and :math:`\cos\theta(1+\beta)/\sqrt2`. After the decoy, the
    residual :math:`r = x - (w_3^\top x) w_3` has correlations :math:`1 - q` with :math:`w_1` and
    :math:`\beta - q` with :math:`w_2`, :math:`q = \cos^2\theta(1+\beta)/2`. If it takes
    :math:`w_1`, the span of :math:`\{w_1, w_3\}` holds :math:`e_1` and
    :math:`u \propto (\cos\theta/\sqrt2)\,e_2 + \sin\theta\,e_3`, and the part of
    :math:`\beta e_2` outside it has squared norm
    :math:`\beta^2 \sin^2\theta / (\cos^2\theta/2 + \sin^2\theta)`.
    """
    c, s = math.cos(theta), math.sin(theta)
    corr = [1.0, beta, c * (1 + beta) / math.sqrt(2)]
    first = int(np.argmax(np.abs(corr)))
    q = c * c * (1 + beta) / 2
    second = 0 if abs(1 - q) >= abs(beta - q) else 1
    if first != 2 or second != 0:
        raise ValueError(f"with theta={theta:.4g} and beta={beta:.4g} OMP does not take the decoy and then "
                         f"w1 (it takes atoms {first} and {second}): choose cos(theta) > sqrt(2)/(1 + beta)")
    omp_residual = beta**2 * s * s / (c * c / 2 + s * s)
    return {"first": first, "second": second, "optimum": 0.0, "omp": omp_residual}


def _best_residual(W: Tensor, x: Tensor, k: int) -> Tensor:
    """||x - Wh||^2 of the best k-sparse code, by brute force over every support."""
    return sparse_residual(W, x, best_k_sparse(W, x, k))


def _greedy_path_residual(W: Tensor, x: Tensor, k: int) -> Tensor:
    """Planted: the brute force over the supports that hold OMP's first atom only."""
    first = int((x @ W).abs().div(W.norm(dim=0)).argmax())
    supports = [s for s in itertools.combinations(range(W.shape[1]), k) if first in s]
    return min(
        sparse_residual(W, x, torch.zeros(W.shape[1], dtype=W.dtype).index_put(
            (torch.tensor(s),), torch.linalg.lstsq(W[:, list(s)], x.unsqueeze(1)).solution.squeeze(1)))
        for s in supports
    )


def _omp_residual(W: Tensor, x: Tensor, k: int) -> Tensor:
    """||x - Wh||^2 of our OMP's code."""
    return sparse_residual(W, x, omp(W, x, k))


def _matching_pursuit_residual(W: Tensor, x: Tensor, k: int) -> Tensor:
    """Planted: plain matching pursuit (the newest coefficient only, no refit of the chosen ones)."""
    r, h = x.clone(), torch.zeros(W.shape[1], dtype=W.dtype)
    for _ in range(k):
        j = int((r @ W).abs().argmax())
        h[j] += r @ W[:, j]
        r = x - W @ h
    return sparse_residual(W, x, h)


_AGREE = 1e-10  # both SP-3 residuals: closed form against computation


@derivation(
    "SP-3",
    claim_tex=r"For a general dictionary greedy OMP can miss the best $k$-sparse code: on a constructed 3-atom "
    r"example ($k = 2$) its squared residual is strictly larger than the optimum, 0, found by brute "
    r"force over all supports; both residuals match their closed forms.",
    chapter=CHAPTER,
    claim="For a general dictionary greedy OMP can miss the best k-sparse code: on a constructed "
    "3-atom example (k = 2) its squared residual is strictly larger than the optimum, 0, "
    "found by brute force over all supports; both residuals match their closed forms.",
    label="closed form vs brute force and OMP",
    planted=Planted("matching pursuit", "plain matching pursuit for OMP: the newest coefficient only, no refit "
                    "of the chosen ones", kind="student"),
)
def check_sp3(theta: float = math.pi / 6, beta: float = 0.8, *, planted=None) -> Check:
    """SP-3, first part: [optimum, OMP] squared residuals, closed form vs brute force and our OMP."""
    W, x, k = greedy_trap(theta, beta)
    expected = greedy_trap_residuals(theta, beta)
    pursue = choose(planted, _omp_residual, {"matching pursuit": _matching_pursuit_residual})
    return compare(
        "SP-3", [expected["optimum"], expected["omp"]], torch.stack([_best_residual(W, x, k), pursue(W, x, k)]),
        atol=_AGREE, analytic_label="closed form [optimum, OMP] ||x - Wh||^2",
        empirical_label="[brute force over all supports, our omp]",
        digits=5, label="closed form vs brute force and OMP",
    )


@subcheck(
    "SP-3",
    label="OMP misses the optimum",
    planted=Planted("greedy-path brute force", "the brute force searches only the supports that contain OMP's "
                    "first atom (the ones the greedy path visits), so it cannot find what greedy misses",
                    kind="student"),
)
def check_sp3_misses(theta: float = math.pi / 6, beta: float = 0.8, *, planted=None) -> Check:
    """SP-3, second part: OMP's squared residual minus the brute-force optimum exceeds rounding.

    The bound is 1000 times the agreement tolerance of :func:`check_sp3`, so a gap at rounding
    level (OMP finding the optimum) fails.
    """
    W, x, k = greedy_trap(theta, beta)
    search = choose(planted, _best_residual, {"greedy-path brute force": _greedy_path_residual})
    gap = float(_omp_residual(W, x, k) - search(W, x, k))
    return exceeds(
        "SP-3", gap, 1e3 * _AGREE, value_label="OMP's residual minus the optimum (our omp, brute force)",
        bound_label="rounding bound", digits=5, label="OMP misses the optimum",
        note=f"OMP takes the decoy w3 first (correlation {math.cos(theta) * (1 + beta) / math.sqrt(2):.4f} "
        f"> 1) and so cannot reach x = w1 + {beta:g} w2",
    )


def nonnegative_l1_code(z: Tensor, alpha: float) -> Tensor:
    r"""Best non-negative code near z under an L1 penalty: :math:`\max(z - \alpha, 0)`.

    Notes
    -----
    :math:`\arg\min_{h \ge 0} \tfrac12\lVert h - z\rVert^2 + \alpha\lVert h\rVert_1`: on
    :math:`h \ge 0` the penalty is linear, :math:`\alpha \sum_i h_i`, so each coordinate
    minimises :math:`\tfrac12(h_i - z_i)^2 + \alpha h_i` over :math:`h_i \ge 0`, at
    :math:`h_i = \max(z_i - \alpha, 0)`: a ReLU whose threshold is raised by alpha.
    """
    check_tensor("z", z, floating=True, finite=True)
    alpha = check_real("alpha", alpha, low=0.0)
    return torch.relu(z - alpha)


@derivation(
    "SP-4",
    claim_tex=r"(Beyond the lecture) The best non-negative code under an L1 penalty $\alpha$ is $\mathrm{relu}(z "
    r"- \alpha)$: the penalty switches off every unit whose input is below $\alpha$.",
    chapter=CHAPTER,
    claim="(Beyond the lecture) The best non-negative code under an L1 penalty alpha is relu(z - alpha): "
    "the penalty switches off every unit whose input is below alpha.",
    label="closed form vs L-BFGS-B",
    planted=(
        Planted("soft threshold", "forgets h >= 0: the two-sided soft threshold sign(z) max(|z| - alpha, 0)",
                kind="student"),
        Planted("threshold alpha/2", "drops the 1/2 of the square: relu(z - alpha/2)", kind="student"),
        Planted(
            "penalty without alpha (the slide)",
            "the penalty written ||h||_1 without its weight, i.e. alpha = 1: the threshold is relu(z - 1) "
            "whatever penalty weight is chosen",
            slip='slides on representational sparsity (after "Recap"), bullet "Add a L1 penalty on the '
            'representation:" and its formula "J(theta) = sum_{i=1}^{N} L(f(x_i; theta), y_i) + ||h||_1"',
            correct="the penalty needs its weight alpha >= 0, J(theta) = sum_i [L(f(x_i; theta), y_i) + "
            "alpha ||h(x_i; theta)||_1], as the lecture's regularised objective J~ = J + alpha Omega(theta) "
            "has (the recap slides before it drop alpha from the parameter penalty too); as written the "
            "weight is 1, twenty times the 0.05 at which every network of the chapter already collapses",
        ),
    ),
)
def check_sp4(alpha: float = 0.3, units: int = 12, seed: int = 0, *, planted=None) -> Check:
    """SP-4: closed form relu(z - alpha) vs a bound-constrained numerical minimiser (L-BFGS-B)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(units, generator=g, dtype=torch.float64)
    z_np = z.numpy()

    def objective(h):
        return 0.5 * np.sum((h - z_np) ** 2) + alpha * np.sum(np.abs(h)), (h - z_np) + alpha * np.sign(h)

    found = optimize.minimize(objective, np.ones(units), jac=True, method="L-BFGS-B",
                              bounds=[(0.0, None)] * units, options={"ftol": 1e-15, "gtol": 1e-12})
    closed = choose(planted, lambda: nonnegative_l1_code(z, alpha), {
        "soft threshold": lambda: torch.sign(z) * torch.relu(z.abs() - alpha),
        "threshold alpha/2": lambda: torch.relu(z - alpha / 2),
        "penalty without alpha (the slide)": lambda: nonnegative_l1_code(z, 1.0),
    })()
    return compare(
        "SP-4", closed, found.x, atol=1e-7, label="closed form vs L-BFGS-B",
        analytic_label="closed form relu(z - alpha)", empirical_label="L-BFGS-B with h >= 0",
        note=f"{units} units, alpha = {alpha}; {int((z_np > 0).sum())} have z > 0 "
        f"but only {int((z_np > alpha).sum())} have z > alpha",
    )
