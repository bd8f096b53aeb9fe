"""Sensitivity and curvature of stacked networks: how flat is a minimum?

Measures of the weight-noise chapter (WN-3: weight noise finds flatter minima, Hochreiter &
Schmidhuber 1995, 1997), usable on any :class:`~reglab.stacked.StackedMLP`, every member at once:

- :func:`jacobian_sq_norm`: the mean over examples of :math:`\\|\\nabla_W \\hat y(x)\\|_F^2`,
  the regulariser that weight noise adds to a squared error (to first order in its variance);
- :func:`top_hessian_eigenvalue`: the largest eigenvalue of the Hessian of the training loss,
  by power iteration on Hessian-vector products.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._validation import check_int, check_tensor
from .stacked import StackedMLP

__all__ = ["jacobian_sq_norm", "top_hessian_eigenvalue"]


def _check_stacked(model, X):
    if not isinstance(model, StackedMLP):
        raise TypeError(f"model must be a StackedMLP, but got {type(model).__name__}")
    check_tensor("X", X, ndim=2, floating=True)
    if X.shape[1] != model.sizes[0]:
        raise ValueError(f"X has {X.shape[1]} features but the model expects {model.sizes[0]}")


def jacobian_sq_norm(model: StackedMLP, X: Tensor, *, chunk_size: int = 250) -> Tensor:
    """Mean over examples of ||grad_W y^(x)||_F^2 (all outputs, weight matrices only), per member.

    Parameters
    ----------
    model : StackedMLP
        M members with ReLU hidden layers.
    X : Tensor of shape (n, d)
    chunk_size : int
        Examples processed at once (bounds memory).

    Returns
    -------
    Tensor of shape (M,)
        (1/n) sum_n sum_c ||d y^_c(x_n) / dW||^2: the regulariser of WN-2 for squared error on
        several outputs, eta times this being the penalty that weight noise adds.

    Notes
    -----
    Exact and fast: the gradient of output c with respect to a weight matrix, for one example,
    is the outer product of the back-propagated signal delta and the layer's input a, so its
    squared norm is ||delta||^2 ||a||^2. All outputs are propagated at once.

    Examples
    --------
    A linear layer (no hidden layer): the gradient of output c is e_c x^T, so with k = 2 outputs
    the measure is 2 ||x||^2 = 6 for x = (1, 1, 1).

    >>> model = StackedMLP(2, (3, 2), dtype=torch.float64)
    >>> jacobian_sq_norm(model, torch.ones(4, 3, dtype=torch.float64))
    tensor([6., 6.], dtype=torch.float64)
    """
    _check_stacked(model, X)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    total = torch.zeros(model.num_models, dtype=X.dtype)
    for chunk in X.split(chunk_size):
        total += _jacobian_sq_norm_sum(model, chunk)
    return total / X.shape[0]


def _jacobian_sq_norm_sum(model: StackedMLP, X: Tensor) -> Tensor:
    """Sum over the rows of X of ||grad_W y^(x)||_F^2, per member (see jacobian_sq_norm)."""
    with torch.no_grad():
        acts, pre = [X.unsqueeze(0).expand(model.num_models, -1, -1)], []
        for i, layer in enumerate(model.layers):
            z = torch.baddbmm(layer.bias.unsqueeze(1), acts[-1], layer.weight.transpose(1, 2))
            pre.append(z)
            if i < len(model.layers) - 1:
                acts.append(torch.relu(z))
        k = model.sizes[-1]
        delta = torch.eye(k, dtype=X.dtype).expand(model.num_models, X.shape[0], k, k)  # (M, n, c, out)
        total = torch.zeros(model.num_models, dtype=X.dtype)
        for i in range(len(model.layers) - 1, -1, -1):
            total += (delta.pow(2).sum(-1) * acts[i].pow(2).sum(-1).unsqueeze(-1)).sum(dim=(1, 2))
            if i:
                w = model.layers[i].weight  # (M, out, in)
                delta = torch.einsum("mnco,moi->mnci", delta, w) * (pre[i - 1] > 0).unsqueeze(2)
    return total


def top_hessian_eigenvalue(
    model: StackedMLP,
    X: Tensor,
    Y: Tensor,
    *,
    iterations: int = 30,
    return_vectors: bool = False,
    generator=None,
):
    """Largest-magnitude eigenvalue of the Hessian of each member's training loss, by power iteration.

    Parameters
    ----------
    model : StackedMLP
    X : Tensor of shape (n, d)
    Y : Tensor of shape (n, k)
        Regression targets; the loss is mean over examples of ||y^ - y||^2 (``loss="mse"``).
    iterations : int
    return_vectors : bool
        Also return the eigenvectors, one tensor per weight matrix (shape (M, out, in)),
        each member's unit norm.
    generator : torch.Generator, optional
        Start vectors.

    Returns
    -------
    Tensor of shape (M,), or (Tensor, list of Tensor) if ``return_vectors``

    Notes
    -----
    Uses Hessian-vector products (Pearlmutter 1994) with respect to the weight matrices, never
    the Hessian itself. The loss summed over members has a block-diagonal Hessian (members share
    nothing), so one product serves all members, each normalised separately.

    Examples
    --------
    A linear model y^ = w.x + b: the Hessian of the mean of (y^ - y)^2 in w is 2 X^T X / n,
    here diag(4, 1).

    >>> model = StackedMLP(1, (2, 1), dtype=torch.float64)
    >>> X = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> top = top_hessian_eigenvalue(model, X, torch.zeros(2, 1, dtype=torch.float64),
    ...                              generator=torch.Generator().manual_seed(0))
    >>> round(top.item(), 8)
    4.0
    """
    _check_stacked(model, X)
    check_tensor("Y", Y, ndim=2, floating=True)
    iterations = check_int("iterations", iterations, low=1)
    M = model.num_models
    weights = model.weights()
    loss = (model(X) - Y).pow(2).sum(-1).mean(-1).sum()
    grads = torch.autograd.grad(loss, weights, create_graph=True)
    v = [torch.randn(w.shape, generator=generator, dtype=w.dtype) for w in weights]
    eig = torch.zeros(M, dtype=X.dtype)
    for _ in range(iterations):
        norm = torch.sqrt(sum(u.pow(2).sum(dim=(1, 2)) for u in v)).view(M, 1, 1)
        v = [u / norm for u in v]
        hv = torch.autograd.grad(grads, weights, grad_outputs=v, retain_graph=True)
        eig = sum((a * b).sum(dim=(1, 2)) for a, b in zip(v, hv)).detach()
        vectors, v = v, [h.detach() for h in hv]
    return (eig, vectors) if return_vectors else eig
