"""Sparse representations: an L1 penalty on hidden activations, and orthogonal matching pursuit.

Two ways to make the *representation* h sparse instead of the parameters (lecture, "Sparse
representations"):

- a soft penalty :math:`\\alpha \\lVert h \\rVert_1` added to the loss, with the activations
  collected by forward hooks (:class:`ActivationL1`) or read from a model that keeps them
  (:func:`activation_l1`); :func:`fraction_inactive` measures the effect;
- a hard constraint :math:`\\lVert h \\rVert_0 \\le k`, solved greedily by orthogonal matching
  pursuit (:func:`omp`), for one signal or a whole batch at once; :func:`learn_dictionary`
  alternates it with a least-squares update of the atoms (sparse coding);
  :func:`sparse_residual` scores a code and :func:`dct_dictionary` is a fixed orthonormal
  dictionary (the cosines) to compare a learned one with.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from ._validation import check_int, check_real, check_tensor, randn_like_device

__all__ = ["activation_l1", "ActivationL1", "dct_dictionary", "fraction_inactive", "omp", "learn_dictionary",
           "sparse_residual"]

# omp runs on one thread while the (signals x atoms) correlation matrix has at most this many
# entries (the thread count is restored afterwards).
_ONE_THREAD_BELOW = 1 << 20


def _as_list(activations, name: str) -> list[Tensor]:
    if isinstance(activations, Tensor):
        tensors = [activations]
    elif isinstance(activations, (list, tuple)):
        tensors = list(activations)
    else:
        raise TypeError(f"{name} must be a Tensor or a list of Tensors, but got {type(activations).__name__}")
    if not tensors:
        raise ValueError(f"{name} must hold at least one tensor, but got none")
    for i, t in enumerate(tensors):
        check_tensor(f"{name}[{i}]", t, ndim=(2, 3), floating=True)
        if t.shape[:-1] != tensors[0].shape[:-1]:
            raise ValueError(
                f"{name} must share their leading (member, example) shape, but {name}[0] has "
                f"{tuple(tensors[0].shape[:-1])} and {name}[{i}] has {tuple(t.shape[:-1])}"
            )
    return tensors


def activation_l1(activations) -> Tensor:
    r"""The L1 norm of the hidden activations, summed over units and layers, averaged over examples.

    Parameters
    ----------
    activations : Tensor or sequence of Tensor
        Each of shape (b, units) or, for stacked models, (M, b, units), e.g.
        ``StackedMLP.hidden`` after a forward pass. All share the leading shape.

    Returns
    -------
    Tensor
        A scalar, or shape (M,) for stacked activations: one penalty per member.

    Notes
    -----
    The representational penalty of the lecture ("Sparse representations"),
    :math:`\Omega(h) = \frac1b \sum_{i=1}^{b} \lVert h^{(i)} \rVert_1`, where :math:`h^{(i)}`
    concatenates the hidden layers of example :math:`i`. Multiply it by the penalty weight
    :math:`\alpha` and add it to the loss.

    Examples
    --------
    >>> activation_l1(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))
    tensor(3.)
    """
    tensors = _as_list(activations, "activations")
    return sum(t.abs().sum(-1).mean(-1) for t in tensors)


class ActivationL1:
    r"""Collect hidden activations with forward hooks and penalise their L1 norm.

    Used as a context manager: entering registers a forward hook on each module, leaving
    removes them. After every forward pass of the model, :meth:`penalty` returns
    ``alpha * activation_l1(latest outputs)``. The object is also callable with any
    arguments (returning the penalty), so it can be passed directly as the ``extra_loss``
    of :func:`reglab.training.fit_stacked`.

    Parameters
    ----------
    modules : nn.Module, nn.ModuleList or iterable of nn.Module
        The modules whose outputs are the representation (a ``ModuleList`` is taken as its
        members) (e.g. the ``nn.ReLU`` layers of an
        ``nn.Sequential``, or the hidden ``StackedLinear`` layers of a ``StackedMLP`` with
        ``transform=torch.relu``).
    alpha : float or Tensor of shape (M,)
        Penalty weight, one per member for stacked models (so one run sweeps alpha).
    transform : callable, optional
        Applied to each hooked output before it is stored (e.g. ``torch.relu`` when the
        hooked module is the linear layer before the nonlinearity).

    Attributes
    ----------
    activations : list of Tensor
        The latest output of each module, in the order of ``modules``.

    Notes
    -----
    Objective (lecture, "Sparse representations"; Goodfellow et al. 2016, sec. 7.10):
    :math:`\tilde J(\theta) = J(\theta) + \alpha\,\Omega(h)` with
    :math:`\Omega(h) = \lVert h \rVert_1`, averaged over the minibatch.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> with ActivationL1(net[1], alpha=0.1) as act:
    ...     out = net(torch.ones(5, 3))
    ...     penalty = act.penalty()
    >>> penalty.shape
    torch.Size([])
    """

    def __init__(self, modules, alpha, *, transform: Callable[[Tensor], Tensor] | None = None):
        if isinstance(modules, nn.Module) and not isinstance(modules, nn.ModuleList):
            modules = [modules]
        if not isinstance(modules, Iterable):
            raise TypeError(
                f"modules must be an nn.Module or an iterable of them, but got {type(modules).__name__}"
            )
        self.modules = list(modules)
        if not self.modules:
            raise ValueError("modules must hold at least one nn.Module, but got none")
        for i, m in enumerate(self.modules):
            if not isinstance(m, nn.Module):
                raise TypeError(f"modules[{i}] must be an nn.Module, but got {type(m).__name__}")
        if isinstance(alpha, Tensor) and alpha.numel() > 1:
            check_tensor("alpha", alpha, ndim=1, floating=True, finite=True)
            if (alpha < 0).any():
                raise ValueError(f"alpha must be >= 0 for every member, but got {alpha.tolist()}")
        else:
            alpha = check_real("alpha", alpha, low=0.0)
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, but got {type(transform).__name__}")
        self.alpha = alpha
        self.transform = transform
        self.activations: list[Tensor | None] = [None] * len(self.modules)
        self._handles: list = []

    def _hook(self, index: int):
        def store(module, inputs, output):
            self.activations[index] = output if self.transform is None else self.transform(output)

        return store

    def __enter__(self) -> "ActivationL1":
        if self._handles:
            raise RuntimeError("this ActivationL1 is already active: leave it before entering again")
        self.activations = [None] * len(self.modules)
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.modules)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def penalty(self) -> Tensor:
        """``alpha`` times :func:`activation_l1` of the latest activations (scalar or (M,))."""
        missing = [i for i, a in enumerate(self.activations) if a is None]
        if missing:
            raise RuntimeError(
                f"no activation recorded for modules {missing}: "
                "run a forward pass inside the 'with' block first"
            )
        value = activation_l1(self.activations)
        alpha = self.alpha.to(value) if isinstance(self.alpha, Tensor) else self.alpha
        return alpha * value

    def __call__(self, *args, **kwargs) -> Tensor:
        return self.penalty()

    def __repr__(self) -> str:
        alpha = self.alpha.tolist() if isinstance(self.alpha, Tensor) else self.alpha
        return f"ActivationL1(modules={len(self.modules)}, alpha={alpha}, active={bool(self._handles)})"


def fraction_inactive(activations, *, threshold: float = 0.0, per_unit: bool = False) -> Tensor:
    r"""The fraction of hidden activations that are off (at most ``threshold``).

    Parameters
    ----------
    activations : Tensor or sequence of Tensor
        Each of shape (n, units) or (M, n, units); layers are pooled.
    threshold : float >= 0
        A value ``h <= threshold`` counts as inactive (ReLU units give exact zeros).
    per_unit : bool
        If False (default), the fraction of (example, unit) pairs that are inactive: on
        average, how few units fire for one input (representational sparsity). If True, the
        fraction of units inactive on *every* example ("dead" units).

    Returns
    -------
    Tensor (float64)
        A scalar, or shape (M,) for stacked activations.

    Examples
    --------
    >>> h = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    >>> fraction_inactive(h).item(), fraction_inactive(h, per_unit=True).item()
    (0.75, 0.5)
    """
    tensors = _as_list(activations, "activations")
    threshold = check_real("threshold", threshold, low=0.0)
    if not isinstance(per_unit, bool):
        raise TypeError(f"per_unit must be True or False, but got {per_unit!r}")
    off = torch.cat([t.detach() <= threshold for t in tensors], dim=-1)
    if per_unit:
        off = off.all(dim=-2)
    else:
        off = off.flatten(-2)
    return off.to(torch.float64).mean(-1)


def omp(W: Tensor, x: Tensor, k: int, *, tol: float | None = None) -> Tensor:
    r"""Orthogonal matching pursuit: a code h with at most ``k`` non-zeros such that Wh is close to x.

    Greedy: starting from h = 0, repeatedly add the atom (column of W) most correlated with
    the current residual, then refit the coefficients of all chosen atoms by least squares.
    A batch of signals is solved at once (the selections and the Cholesky updates are
    vectorised over the batch).

    Parameters
    ----------
    W : Tensor of shape (d, m)
        The dictionary, atoms as columns (unit-norm columns, as usual; otherwise each atom's
        correlation is divided by its norm when choosing).
    x : Tensor of shape (d,) or (n, d)
        One signal or a batch of ``n`` signals, same floating dtype as W.
    k : int in [1, m]
        Largest number of non-zeros per code.
    tol : float >= 0, optional
        Also stop, per signal, once the squared residual norm is at most ``tol``.

    Returns
    -------
    h : Tensor of shape (m,) or (n, m)
        The codes; at most ``k`` non-zeros each. Fewer when a signal is already represented
        exactly, when ``tol`` is met, or when the next atom would be linearly dependent on
        the chosen ones (then, as scikit-learn does, that signal stops). Not differentiable.

    Notes
    -----
    Approximately solves :math:`\arg\min_{h,\ \lVert h \rVert_0 \le k} \lVert x - W h \rVert^2`
    (lecture, "Sparse representations"), which is NP-hard in general (Natarajan 1995). Step
    :math:`t`: :math:`j_t = \arg\max_j |w_j^\top r_{t-1}| / \lVert w_j \rVert`, then
    :math:`h_S = (W_S^\top W_S)^{-1} W_S^\top x` on the support :math:`S = \{j_1..j_t\}`
    (Pati et al. 1993), with the Cholesky factor of :math:`W_S^\top W_S` grown by one row per
    step as in scikit-learn's ``_cholesky_omp`` (Rubinstein et al. 2008); the residual's
    correlations :math:`W^\top r_t` are updated in coefficient space, so a step needs no
    triangular solve. With orthonormal columns it returns the exact optimum: the k largest
    :math:`|W^\top x|`. Batches of at most 2**20 (signal, atom) pairs run on one thread (the
    thread count is restored afterwards): their operations are too small to share.

    Examples
    --------
    >>> W = torch.eye(3, dtype=torch.float64)
    >>> omp(W, torch.tensor([0.5, -2.0, 1.0], dtype=torch.float64), 2)
    tensor([ 0., -2.,  1.], dtype=torch.float64)
    """
    check_tensor("W", W, ndim=2, floating=True, finite=True)
    check_tensor("x", x, ndim=(1, 2), floating=True, finite=True)
    d, m = W.shape
    if x.shape[-1] != d:
        raise ValueError(
            f"x must have {d} entries per signal (the rows of W), but got shape {tuple(x.shape)}"
        )
    if x.dtype != W.dtype:
        raise TypeError(f"x and W must have the same dtype, but got {x.dtype} and {W.dtype}")
    k = check_int("k", k, low=1)
    if k > m:
        raise ValueError(
            f"The number of non-zeros k cannot be more than the number of atoms: k={k}, but W has {m} columns"
        )
    if tol is not None:
        tol = check_real("tol", tol, low=0.0)
    X = x.reshape(-1, d)
    threads = torch.get_num_threads()
    # Each step is a handful of small tensor operations: sharing them between threads saves
    # little, and on a busy machine waiting for a second thread costs far more than the work.
    if X.shape[0] * m <= _ONE_THREAD_BELOW:
        torch.set_num_threads(1)
    try:
        with torch.no_grad():
            h = _batch_omp(W, X, k, tol)
    finally:
        torch.set_num_threads(threads)
    return h.reshape(m) if x.dim() == 1 else h


def sparse_residual(W: Tensor, x: Tensor, h: Tensor) -> Tensor:
    r"""Squared reconstruction error :math:`\lVert x - W h\rVert^2` of codes h.

    (Used by the checks SP-2 and SP-3 in :mod:`reglab.derivations.sparse_representations`.)

    Parameters
    ----------
    W : Tensor of shape (d, m)
    x : Tensor of shape (d,) or (n, d)
    h : Tensor of shape (m,) or (n, m)

    Returns
    -------
    Tensor of shape () or (n,)

    Examples
    --------
    >>> W = torch.eye(2, dtype=torch.float64)
    >>> sparse_residual(W, torch.tensor([3.0, 4.0], dtype=torch.float64),
    ...                 torch.tensor([3.0, 0.0], dtype=torch.float64)).item()
    16.0
    """
    check_tensor("W", W, ndim=2, floating=True)
    check_tensor("x", x, ndim=(1, 2), floating=True)
    check_tensor("h", h, ndim=(1, 2), floating=True)
    if h.shape[-1] != W.shape[1] or x.shape[-1] != W.shape[0]:
        raise ValueError(f"W has shape {tuple(W.shape)}, so x must end in {W.shape[0]} and h in "
                         f"{W.shape[1]}, but got {tuple(x.shape)} and {tuple(h.shape)}")
    return (x - h @ W.T).pow(2).sum(-1)


def dct_dictionary(d: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    r"""The orthonormal DCT-II basis of length-d signals, atoms (cosines) as columns.

    Returns
    -------
    Tensor of shape (d, d)
        Column j is :math:`\sqrt{(2 - \delta_{j0})/d}\,\cos(\pi (t + \tfrac12) j / d)`,
        t = 0..d-1: slowly varying atoms first. :math:`W^\top W = I`, so the best k-sparse code
        keeps the k largest DCT coefficients (SP-2).

    Examples
    --------
    >>> W = dct_dictionary(4)
    >>> bool(torch.allclose(W.T @ W, torch.eye(4, dtype=torch.float64)))
    True
    """
    d = check_int("d", d, low=1)
    t = torch.arange(d, dtype=dtype).unsqueeze(1) + 0.5
    j = torch.arange(d, dtype=dtype).unsqueeze(0)
    W = torch.cos(math.pi * t * j / d) * math.sqrt(2.0 / d)
    W[:, 0] = W[:, 0] / math.sqrt(2.0)
    return W


def learn_dictionary(
    X: Tensor, m: int, k: int, *, iterations: int = 10, seed: int = 0
) -> tuple[Tensor, list[float]]:
    r"""Learn a dictionary in which the signals have k-sparse codes (sparse coding, MOD).

    Alternates two steps: code every signal with :func:`omp` (at most k atoms), then refit all
    atoms at once by least squares with the codes fixed, and rescale them to unit norm.

    Parameters
    ----------
    X : Tensor of shape (n, d)
        Training signals.
    m : int >= k
        Number of atoms (m > d gives an overcomplete dictionary).
    k : int >= 1
        Non-zeros per code.
    iterations : int >= 1
        Rounds of (code, update).
    seed : int
        Seed of the initial atoms (m distinct training signals, normalised).

    Returns
    -------
    (W, errors) : Tensor of shape (d, m), list of float
        Unit-norm atoms as columns, and the mean squared residual
        :math:`\frac1n \sum_i \lVert x_i - W h_i\rVert^2` after each coding step.

    Notes
    -----
    Minimises :math:`\sum_i \lVert x_i - W h_i\rVert^2` subject to
    :math:`\lVert h_i\rVert_0 \le k` by block coordinate descent: the atom update
    :math:`W = X^\top H (H^\top H)^{+}` is the method of optimal directions (Engan et al. 1999);
    Olshausen & Field (1996) learned such dictionaries from natural images with an L1 penalty
    instead of the hard constraint. An atom that no code uses is replaced by the signal that
    is worst reconstructed.

    Examples
    --------
    >>> X = torch.randn(200, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> W, errors = learn_dictionary(X, 12, 2, iterations=3)
    >>> W.shape, len(errors)
    (torch.Size([8, 12]), 3)
    """
    check_tensor("X", X, ndim=2, floating=True, finite=True)
    n, d = X.shape
    m = check_int("m", m, low=1, high=n)
    k = check_int("k", k, low=1)
    if k > m:
        raise ValueError(
            f"The number of non-zeros k cannot be more than the number of atoms: k={k}, but m={m}"
        )
    iterations = check_int("iterations", iterations, low=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    W = X[torch.randperm(n, generator=g)[:m].to(X.device)].T.clone()
    W = _unit_columns(W, g)
    errors = []
    for _ in range(iterations):
        H = omp(W, X, k)
        residual = (X - H @ W.T).pow(2).sum(1)
        errors.append(residual.mean().item())
        W = torch.linalg.lstsq(H, X, driver="gelsd").solution.T  # argmin_W ||X - H W^T||_F
        unused = (H != 0).sum(0) == 0
        if bool(unused.any()):
            worst = residual.argsort(descending=True)[: int(unused.sum())]
            W[:, unused] = X[worst].T
        W = _unit_columns(W, g)
    return W, errors


def _unit_columns(W: Tensor, g: torch.Generator) -> Tensor:
    norms = W.norm(dim=0)
    dead = norms <= torch.finfo(W.dtype).eps
    if bool(dead.any()):
        W[:, dead] = randn_like_device((W.shape[0], int(dead.sum())), like=W, generator=g)
        norms = W.norm(dim=0)
    return W / norms


def _batch_omp(W: Tensor, X: Tensor, k: int, tol: float | None) -> Tensor:
    """OMP for the rows of X (n, d) at once, on validated inputs; returns (n, m).

    Works in coefficient space: with L L^T = W_S^T W_S (Cholesky), the columns of
    Q = W_S L^{-T} are an orthonormal basis of the chosen atoms. We keep C = Q^T W (the
    basis' correlations with every atom) and z = Q^T x, each grown by one row per step, so
    the residual's correlations W^T r = W^T x - C^T z are updated without any per-step
    solve; one triangular solve L^T h_S = z at the end gives the coefficients.
    """
    n, m = X.shape[0], W.shape[1]
    eps = torch.finfo(W.dtype).eps
    norms = W.norm(dim=0)
    inv_norm = torch.where(norms > 0, 1.0 / norms.clamp_min(eps), torch.zeros_like(norms))
    gram = W.T @ W
    corr0 = X @ W  # W^T x
    alpha = corr0  # W^T r, r the current residual
    dev = W.device
    rows = torch.arange(n, device=dev)
    proj = torch.zeros(n, k, m, dtype=W.dtype, device=dev)  # C = Q^T W, one row per chosen atom
    z = torch.zeros(n, k, dtype=W.dtype, device=dev)  # Q^T x
    L = torch.zeros(n, k, k, dtype=W.dtype, device=dev)
    idx = torch.zeros(n, k, dtype=torch.long, device=dev)  # chosen atoms (0 with coefficient 0 once stopped)
    chosen = torch.zeros(n, m, dtype=torch.bool, device=dev)
    energy = X.pow(2).sum(1)  # squared residual norm, ||x||^2 - ||z||^2
    tiny = 100 * eps * energy.sqrt()  # a residual this orthogonal to every atom is exhausted
    active = torch.ones(n, dtype=torch.bool, device=dev)
    if tol is not None:
        active &= energy > tol
    steps = 0
    for t in range(k):
        if not bool(active.any()):
            break
        best, j = (alpha.abs() * inv_norm).masked_fill(chosen, -1.0).max(dim=1)
        w = proj[:, :t].gather(2, j.view(n, 1, 1).expand(n, t, 1)).squeeze(-1)  # Q^T w_j
        g = gram[j, j]
        diag2 = g - w.pow(2).sum(1)
        active &= (best > tiny) & (diag2 > eps * g)
        # A stopped signal gets a dummy slot (L row [0 .. 0 1], z = 0, C row 0): its
        # coefficient there is exactly 0 and its earlier ones are unchanged.
        keep = active.to(W.dtype)
        diag = torch.where(active, diag2.clamp_min(eps).sqrt(), torch.ones_like(diag2))
        w = w * keep.unsqueeze(1)
        c = (gram[j] - torch.einsum("nt,ntm->nm", w, proj[:, :t])) * (keep / diag).unsqueeze(1)
        zt = (corr0[rows, j] - (w * z[:, :t]).sum(1)) * keep / diag
        proj[:, t], z[:, t], L[:, t, :t], L[:, t, t] = c, zt, w, diag
        idx[:, t] = torch.where(active, j, torch.zeros_like(j))
        chosen[rows, j] |= active
        alpha = alpha - zt.unsqueeze(1) * c
        energy = energy - zt.pow(2)
        steps = t + 1
        if tol is not None:
            active &= energy > tol
    Lt = L[:, :steps, :steps].transpose(1, 2)
    coef = torch.linalg.solve_triangular(Lt, z[:, :steps].unsqueeze(-1), upper=True).squeeze(-1)
    return torch.zeros(n, m, dtype=W.dtype, device=dev).scatter_add_(1, idx[:, :steps], coef)
