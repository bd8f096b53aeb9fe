"""Bootstrap resampling and bagged ensembles (lecture: "Bagging", "Model averaging").

Bagging (Bootstrap AGGregatING, Breiman 1996) trains ``k`` models, each on its own bootstrap
resample of the training set (``n`` draws with replacement, Efron 1979), and averages their
outputs. The members of a bag are trained at once as one :class:`~reglab.stacked.StackedMLP`
by :func:`~reglab.training.fit_stacked`, whose ``member_indices`` are the bootstrap samples.
:func:`error_moments` measures what the lecture's analysis of the ensemble needs: each
member's mean squared error ``v`` and the mean product ``c`` of two members' errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from ._validation import check_choice, check_int, check_tensor
from .training import History, StackedMLP, TrainConfig, fit_stacked

__all__ = [
    "bootstrap_indices",
    "out_of_bag_mask",
    "ensemble_average",
    "BaggedModels",
    "fit_bagged",
    "ErrorMoments",
    "error_moments",
]

_KINDS = ("probabilities", "logits", "regression")


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, but got {type(generator).__name__}")


def bootstrap_indices(n: int, num_bags: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``num_bags`` bootstrap samples of ``n`` indices each, with replacement.

    Parameters
    ----------
    n : int >= 1
        Size of the training set (and of every bootstrap sample).
    num_bags : int >= 1
        Number of samples (ensemble members).
    generator : torch.Generator, optional
        Source of randomness; the global generator if omitted.

    Returns
    -------
    LongTensor of shape (num_bags, n)
        Row ``b`` lists the training examples of bag ``b``; every entry is uniform on
        ``{0, ..., n-1}``, independently of all others.

    Notes
    -----
    Efron (1979). An example is left out of one bag with probability ``(1 - 1/n)^n``, so a bag
    holds on average a fraction ``1 - (1 - 1/n)^n -> 1 - 1/e ~ 0.632`` of the distinct
    examples (result BAG-2 of the chapter *Bagging*).

    Examples
    --------
    >>> idx = bootstrap_indices(5, 3, generator=torch.Generator().manual_seed(0))
    >>> idx.shape, idx.dtype
    (torch.Size([3, 5]), torch.int64)
    """
    n = check_int("n", n, low=1)
    num_bags = check_int("num_bags", num_bags, low=1)
    _check_generator(generator)
    return torch.randint(0, n, (num_bags, n), generator=generator)


def out_of_bag_mask(indices: Tensor, n: int) -> Tensor:
    """Which examples each bag left out.

    Parameters
    ----------
    indices : LongTensor of shape (num_bags, m)
        Bootstrap samples, e.g. from :func:`bootstrap_indices`; entries in ``[0, n)``.
    n : int >= 1
        Size of the training set.

    Returns
    -------
    BoolTensor of shape (num_bags, n)
        ``True`` where example ``i`` does not occur in bag ``b`` ("out of bag").

    Notes
    -----
    Breiman (1996) estimates a bagged model's test error without a test set by predicting each
    training example with only the members that never saw it (the out-of-bag estimate).

    Examples
    --------
    >>> out_of_bag_mask(torch.tensor([[0, 0, 2]]), 3)
    tensor([[False,  True, False]])
    """
    check_tensor("indices", indices, ndim=2)
    n = check_int("n", n, low=1)
    if indices.dtype != torch.long:
        raise TypeError(f"indices must be a LongTensor, but got dtype {indices.dtype}")
    if indices.numel() and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(
            f"indices must lie in [0, {n - 1}] for n = {n}, but got values from "
            f"{indices.min().item()} to {indices.max().item()}"
        )
    counts = torch.zeros(indices.shape[0], n, dtype=torch.long, device=indices.device)
    counts.scatter_add_(1, indices, torch.ones_like(indices))
    return counts == 0


def ensemble_average(outputs: Tensor, *, kind: str = "probabilities", dim: int = 0) -> Tensor:
    """Average the members' outputs into the ensemble's output.

    Parameters
    ----------
    outputs : Tensor of shape (M, n, k), or (M, n) for ``kind="regression"``
        Member ``m``'s outputs in row ``m`` (logits for classifiers). ``dim`` selects another
        member dimension, e.g. ``dim=1`` for (groups, M, n, k).
    kind : {"probabilities", "logits", "regression"}
        ``"probabilities"``: mean of the members' softmax probabilities (the usual bagged
        classifier); ``"logits"``: mean of the logits (its softmax is the normalised geometric
        mean of the members' probabilities); ``"regression"``: mean of the raw outputs.
    dim : int
        The member dimension.

    Returns
    -------
    Tensor
        ``outputs`` with dimension ``dim`` averaged away: probabilities, logits or outputs.

    Notes
    -----
    Lecture, "Model averaging": the ensemble predicts ``(1/k) sum_i f_i(x)``, so its error is
    the mean of the members' errors ``(1/k) sum_i eps_i``.

    Examples
    --------
    >>> ensemble_average(torch.tensor([[1.0], [3.0]]), kind="regression")
    tensor([2.])
    """
    check_choice("kind", kind, _KINDS)
    check_tensor("outputs", outputs, floating=True)
    min_dims = 1 if kind == "regression" else 2
    if outputs.dim() < min_dims + 1:
        raise ValueError(
            f"outputs must have a member dimension and at least {min_dims} more "
            f"for kind={kind!r}, but got shape {tuple(outputs.shape)}"
        )
    dim = check_int("dim", dim, low=-outputs.dim(), high=outputs.dim() - 1)
    if kind != "regression" and dim % outputs.dim() == outputs.dim() - 1:
        raise ValueError(f"dim must not be the class dimension (the last), but got dim={dim}")
    if kind == "probabilities":
        return torch.softmax(outputs, dim=-1).mean(dim)
    return outputs.mean(dim)


@dataclass
class BaggedModels:
    """A bag of networks trained at once, and the bootstrap samples they saw.

    Attributes
    ----------
    model : StackedMLP
        The ``M`` members as one stacked module.
    indices : LongTensor of shape (M, n)
        Training examples of each member.
    history : History
        What :func:`~reglab.training.fit_stacked` measured.
    """

    model: StackedMLP
    indices: Tensor
    history: History

    def outputs(self, X: Tensor) -> Tensor:
        """Every member's raw outputs (logits), shape (M, n, k), in eval mode, no gradients."""
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            out = self.model(X)
        self.model.train(was_training)
        return out

    def predict(self, X: Tensor, *, kind: str = "probabilities") -> Tensor:
        """The ensemble's output on ``X`` (see :func:`ensemble_average`), shape (n, k)."""
        return ensemble_average(self.outputs(X), kind=kind)


def fit_bagged(
    X: Tensor,
    y: Tensor,
    *,
    num_members: int,
    sizes: Sequence[int],
    config: TrainConfig,
    bootstrap: bool = True,
    generator: torch.Generator | None = None,
    val: tuple[Tensor, Tensor] | None = None,
    dtype: torch.dtype | None = None,
) -> BaggedModels:
    """Train ``num_members`` MLPs at once, each on its own bootstrap resample of (X, y).

    Parameters
    ----------
    X : Tensor of shape (n, d)
    y : LongTensor of shape (n,), or float Tensor of shape (n, k) for ``config.loss="mse"``
    num_members : int >= 1
        Ensemble size ``M`` (e.g. several bags of ``k`` members, split afterwards).
    sizes : sequence of int
        Layer widths of every member, ``sizes[0] == d``.
    config : TrainConfig
        Training settings; ``config.seed`` seeds the initialisation and minibatch order.
    bootstrap : bool
        Resample the training set for each member (bagging); ``False`` trains every member on
        all of ``X`` (members then differ only by initialisation and minibatch order).
    generator : torch.Generator, optional
        Draws the bootstrap samples; default a generator seeded with ``config.seed + 1``.
    val : (X_val, y_val), optional
        Passed on to :func:`~reglab.training.fit_stacked`.
    dtype : torch.dtype, optional
        Parameter type; default ``X.dtype``.

    Returns
    -------
    BaggedModels

    Examples
    --------
    >>> X, y = torch.randn(30, 4, dtype=torch.float64), torch.arange(30) % 3
    >>> bag = fit_bagged(X, y, num_members=5, sizes=(4, 8, 3), config=TrainConfig(epochs=2))
    >>> bag.predict(X).shape
    torch.Size([30, 3])
    """
    check_tensor("X", X, ndim=2, floating=True)
    num_members = check_int("num_members", num_members, low=1)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, but got {type(config).__name__}")
    if not isinstance(bootstrap, bool):
        raise TypeError(f"bootstrap must be True or False, but got {bootstrap!r}")
    _check_generator(generator)
    sizes = list(sizes)
    if not sizes or sizes[0] != X.shape[1]:
        raise ValueError(
            f"sizes[0] must equal the number of features of X ({X.shape[1]}), but got sizes={sizes}"
        )
    n = X.shape[0]
    if bootstrap:
        generator = generator if generator is not None else torch.Generator().manual_seed(config.seed + 1)
        indices = bootstrap_indices(n, num_members, generator=generator)
    else:
        indices = torch.arange(n).expand(num_members, n).clone()
    model = StackedMLP(num_members, sizes, seed=config.seed, dtype=dtype or X.dtype)
    history = fit_stacked(model, X, y, config=config, member_indices=indices, val=val)
    return BaggedModels(model=model, indices=indices, history=history)


@dataclass(frozen=True)
class ErrorMoments:
    """Second moments of the members' errors on one data set (see :func:`error_moments`).

    Attributes
    ----------
    matrix : Tensor of shape (M, M)
        ``matrix[m, m'] = E_x[e_m(x) . e_m'(x)]``, the mean product of two members' errors
        (uncentred, as the lecture defines v and c).
    ensemble_error : float
        ``E_x ||(1/M) sum_m e_m(x)||^2``, measured directly on the averaged prediction.
    spread : float
        ``(1/M) sum_m E_x ||f_m(x) - f_bar(x)||^2``, how far the members scatter around the
        ensemble's prediction (Krogh and Vedelsby's "ambiguity").
    """

    matrix: Tensor
    ensemble_error: float
    spread: float

    @property
    def num_members(self) -> int:
        """The number of members ``M``."""
        return self.matrix.shape[0]

    @property
    def member_errors(self) -> Tensor:
        """Each member's mean squared error, the diagonal of ``matrix``, shape (M,)."""
        return self.matrix.diagonal()

    @property
    def v(self) -> float:
        """The members' mean squared error: the mean of the diagonal."""
        return self.matrix.diagonal().mean().item()

    @property
    def c(self) -> float:
        """The mean product of two different members' errors: the mean off-diagonal entry."""
        M = self.num_members
        if M < 2:
            raise ValueError("c needs at least 2 members, but there is 1")
        return ((self.matrix.sum() - self.matrix.diagonal().sum()) / (M * (M - 1))).item()

    @property
    def correlation(self) -> Tensor:
        """``matrix`` normalised by ``sqrt(v_m v_m')``, shape (M, M), ones on the diagonal."""
        d = self.matrix.diagonal().sqrt()
        return self.matrix / (d[:, None] * d[None, :])


def error_moments(predictions: Tensor, targets: Tensor) -> ErrorMoments:
    """Measure the members' squared errors and the products of their errors.

    Parameters
    ----------
    predictions : Tensor of shape (M, n, k) or (M, n)
        Member ``m``'s prediction for every example, e.g. class probabilities.
    targets : Tensor of shape (n, k) or (n,)
        What the prediction should be, e.g. one-hot labels.

    Returns
    -------
    ErrorMoments
        With ``e_m(x) = f_m(x) - t(x)`` summed over the last dimension and averaged over the
        ``n`` examples: ``matrix``, ``ensemble_error`` and ``spread``.

    Notes
    -----
    Lecture, "Model averaging": with ``v = E[e_i^2]`` and ``c = E[e_i e_j]`` the averaged
    prediction has expected squared error ``v/k + (k-1)c/k``. For probabilities and one-hot
    targets, a member's error ``v_m`` is its Brier score.

    Examples
    --------
    >>> m = error_moments(torch.tensor([[1.0, 2.0], [3.0, 2.0]]), torch.tensor([2.0, 2.0]))
    >>> m.v, m.c, m.ensemble_error
    (0.5, -0.5, 0.0)
    """
    check_tensor("predictions", predictions, ndim=(2, 3), floating=True, finite=True)
    check_tensor("targets", targets, ndim=predictions.dim() - 1, floating=True, finite=True)
    if predictions.shape[1:] != targets.shape:
        raise ValueError(
            f"targets must have the shape of one member's predictions {tuple(predictions.shape[1:])}, "
            f"but got {tuple(targets.shape)}"
        )
    pred = predictions.to(torch.float64)
    if pred.dim() == 2:
        pred = pred.unsqueeze(-1)
    errors = pred - targets.to(torch.float64).reshape(pred.shape[1:])
    n = errors.shape[1]
    flat = errors.reshape(errors.shape[0], -1)
    matrix = flat @ flat.T / n
    mean_error = errors.mean(0)
    spread = (pred - pred.mean(0)).pow(2).sum(-1).mean()
    return ErrorMoments(
        matrix=matrix,
        ensemble_error=mean_error.pow(2).sum(-1).mean().item(),
        spread=spread.item(),
    )
