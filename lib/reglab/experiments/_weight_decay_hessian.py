"""Chapter ``weight_decay``, WD-5: the quadratic model of a trained network's output layer.

Part of :mod:`reglab.experiments.weight_decay`, which imports every public name of this module
and registers WD-5 beside its configuration, summary and per-seed effect; kept apart so that
each file stays readable. The run: train a small network, take its output layer to the exact
unregularized minimum, predict weight decay from the Hessian there, and retrain to compare.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int, check_real
from ..data import Dataset
from ..derivations.weight_decay import l2_solution
from ..penalties import l2_penalty
from ..solvers import lbfgs_minimise
from ..training import TrainConfig, accuracy, fit

__all__ = [
    "HessianPrediction",
    "HessianPredictionConfig",
    "predict_and_retrain",
    "predict_and_retrain_seeds",
]


@dataclass(frozen=True)
class HessianPredictionConfig:
    """Settings of :func:`predict_and_retrain`.

    Attributes
    ----------
    hidden : int
        Hidden tanh units of the network.
    epochs, lr, batch_size : int, float, int
        SGD training of the whole network before its output layer is studied.
    alphas : tuple of float
        Penalty weights to predict and retrain.
    grad_tol : float
        L-BFGS tolerance on the largest gradient entry of the output layer's objective.
    seed : int
        Initialisation and minibatch order.
    """

    hidden: int = 16
    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 100
    alphas: tuple = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    grad_tol: float = 1e-8
    seed: int = 0

    def __post_init__(self):
        check_int("hidden", self.hidden, low=1)
        check_int("epochs", self.epochs, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size, low=1)
        if len(self.alphas) == 0:
            raise ValueError("alphas must list at least one penalty weight, but got an empty tuple")
        for i, a in enumerate(self.alphas):
            check_real(f"alphas[{i}]", a, low=0.0, low_open=True)
        check_real("grad_tol", self.grad_tol, low=0.0, low_open=True)
        check_int("seed", self.seed, low=0)


@dataclass(frozen=True)
class HessianPrediction:
    """What :func:`predict_and_retrain` measured.

    Attributes
    ----------
    alphas : numpy.ndarray of shape (A,)
    w_star : Tensor of shape (p,)
        Unregularized minimum of the output layer (weights and bias of each class, flattened).
    eigvals : Tensor of shape (p,)
        Eigenvalues of the Hessian at ``w_star`` (ascending; the smallest are zero).
    eigvecs : Tensor of shape (p, p)
        Matching eigenvectors as columns.
    predicted, retrained : Tensor of shape (A, p)
        :math:`(H+\\alpha I)^{-1}Hw^*`, and the minimiser of
        :math:`J + \\tfrac{\\alpha}{2}\\|w\\|^2` found by L-BFGS.
    test_accuracy_star : float
    test_accuracy_predicted, test_accuracy_retrained : numpy.ndarray of shape (A,)
    train_accuracy_network : float
        Training accuracy of the SGD-trained network the layer comes from.
    curvature_ratio : numpy.ndarray of shape (A,)
        :math:`d^T H(\\tilde w) d \\,/\\, d^T H(w^*) d` along the move :math:`d = \\tilde w - w^*`
        of the retrained weights: how much more (> 1) the true cost curves at the retrained
        point than the quadratic model, fitted at :math:`w^*`, assumes.
    """

    alphas: np.ndarray
    w_star: Tensor
    eigvals: Tensor
    eigvecs: Tensor
    predicted: Tensor
    retrained: Tensor
    test_accuracy_star: float
    test_accuracy_predicted: np.ndarray
    test_accuracy_retrained: np.ndarray
    train_accuracy_network: float
    curvature_ratio: np.ndarray

    def relative_error(self) -> np.ndarray:
        """Error relative to the move, per alpha.

        :math:`\\|w_{pred} - w_{retrain}\\| / \\|w_{retrain} - w^*\\|`, shape (A,).
        """
        move = (self.retrained - self.w_star).norm(dim=1)
        return ((self.predicted - self.retrained).norm(dim=1) / move).numpy()

    def norm_excess(self) -> np.ndarray:
        """Per alpha, how much longer the retrained weights are than predicted, in per cent.

        :math:`100\\,(\\|w_{retrain}\\| / \\|w_{pred}\\| - 1)`, shape (A,): positive where the
        quadratic model over-shrinks.
        """
        return 100 * (self.retrained.norm(dim=1) / self.predicted.norm(dim=1) - 1).numpy()

    def norms(self) -> dict:
        """Norms of w*, the predictions and the retrained weights (arrays of shape (A,))."""
        return {
            "star": self.w_star.norm().item(),
            "predicted": self.predicted.norm(dim=1).numpy(),
            "retrained": self.retrained.norm(dim=1).numpy(),
        }


def _with_ones(features: Tensor) -> Tensor:
    return torch.cat([features, torch.ones(features.shape[0], 1, dtype=features.dtype)], dim=1)


def predict_and_retrain(data: Dataset, config: HessianPredictionConfig | None = None) -> HessianPrediction:
    r"""Predict weight decay on a trained network's output layer from its Hessian, then retrain.

    A network ``d -> hidden (tanh) -> classes`` is trained with SGD. Its hidden layer is then
    frozen, and its output layer (weights and biases, flattened into :math:`w`) is taken to
    the exact minimum :math:`w^*` of the training cross-entropy :math:`J(w)` by L-BFGS. The
    Hessian :math:`H` of :math:`J` at :math:`w^*` (autograd) gives the quadratic model's
    prediction :math:`(H+\alpha I)^{-1}Hw^*`; retraining minimises
    :math:`J + \tfrac{\alpha}{2}\|w\|^2` itself, from zero.

    Parameters
    ----------
    data : Dataset
        Classification data with float64 inputs whose training set the network cannot
        separate (so :math:`w^*` is finite), e.g. MNIST-1D.
    config : HessianPredictionConfig, optional

    Returns
    -------
    HessianPrediction

    Notes
    -----
    The output layer's cost is convex in :math:`w` (softmax regression on fixed features), so
    :math:`w^*` and every retrained minimiser are global, unique up to the shift of all classes'
    weights by a common vector, which leaves the softmax unchanged; those directions are the
    Hessian's zero eigenvalues. L-BFGS started from zero never moves along them, and the L2
    penalty sets them to zero, so the comparison is well defined.

    Examples
    --------
    >>> from reglab import mnist1d
    >>> r = predict_and_retrain(mnist1d(), HessianPredictionConfig(epochs=1, alphas=(0.01,)))
    >>> r.predicted.shape
    torch.Size([1, 170])
    """
    if not isinstance(data, Dataset) or data.num_classes < 2:
        raise TypeError(f"data must be a classification Dataset, but got {data!r}")
    if data.x_train.dtype != torch.float64:
        raise TypeError(
            "data must hold float64 inputs (the Hessian is compared in float64), "
            f"but got {data.x_train.dtype}"
        )
    config = config or HessianPredictionConfig()
    if not isinstance(config, HessianPredictionConfig):
        raise TypeError(f"config must be a HessianPredictionConfig, but got {type(config).__name__}")
    k, h = data.num_classes, config.hidden
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        # float64 from the start, so the initial weights do not depend on the default dtype
        f64 = torch.float64
        net = nn.Sequential(
            nn.Linear(data.x_train.shape[1], h, dtype=f64), nn.Tanh(), nn.Linear(h, k, dtype=f64)
        )
    sgd = TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size, seed=config.seed)
    fit(net, data.x_train, data.y_train, config=sgd)
    with torch.no_grad():
        train_acc = accuracy(net(data.x_train), data.y_train).item()
        # hidden features with a constant 1 appended, so that w holds each class's weights and bias
        phi = _with_ones(net[1](net[0](data.x_train)))
        phi_test = _with_ones(net[1](net[0](data.x_test)))

    def J(w):
        return F.cross_entropy(phi @ w.view(k, h + 1).T, data.y_train)

    def test_acc(w):
        return accuracy(phi_test @ w.view(k, h + 1).T, data.y_test).item()

    zero = torch.zeros(k * (h + 1), dtype=torch.float64)
    w_star, _ = lbfgs_minimise(J, zero, grad_tol=config.grad_tol)
    H = torch.autograd.functional.hessian(J, w_star)
    H = 0.5 * (H + H.T)
    lam, Q = torch.linalg.eigh(H)
    # Round-off leaves the zero eigenvalues at about -1e-17: clip to the PSD matrix they stand for.
    H_psd = Q @ torch.diag(lam.clamp(min=0)) @ Q.T
    H_psd = 0.5 * (H_psd + H_psd.T)
    predicted, retrained = [], []
    for a in config.alphas:
        predicted.append(l2_solution(H_psd, w_star, a))
        w, _ = lbfgs_minimise(lambda w: J(w) + a * l2_penalty([w]), zero, grad_tol=config.grad_tol)
        retrained.append(w)
    predicted, retrained = torch.stack(predicted), torch.stack(retrained)
    ratios = []
    for w in retrained:
        d = w - w_star
        _, Hd_there = torch.autograd.functional.hvp(J, w, d)
        ratios.append((d @ Hd_there / (d @ H @ d)).item())
    return HessianPrediction(
        alphas=np.asarray(config.alphas, dtype=np.float64),
        w_star=w_star,
        eigvals=lam.clamp(min=0),
        eigvecs=Q,
        predicted=predicted,
        retrained=retrained,
        test_accuracy_star=test_acc(w_star),
        test_accuracy_predicted=np.array([test_acc(w) for w in predicted]),
        test_accuracy_retrained=np.array([test_acc(w) for w in retrained]),
        train_accuracy_network=train_acc,
        curvature_ratio=np.array(ratios),
    )


def predict_and_retrain_seeds(
    data: Dataset, config: HessianPredictionConfig | None = None, *, num_seeds: int = 5
) -> list[HessianPrediction]:
    """:func:`predict_and_retrain` for seeds ``config.seed``, ``config.seed + 1``, ...

    Each seed trains its own network (initialisation and minibatch order), so each has its own
    output layer, Hessian and minimum :math:`w^*`.

    Parameters
    ----------
    data : Dataset
    config : HessianPredictionConfig, optional
    num_seeds : int >= 1

    Returns
    -------
    list of HessianPrediction, one per seed

    Examples
    --------
    >>> from reglab import mnist1d
    >>> runs = predict_and_retrain_seeds(mnist1d(), HessianPredictionConfig(epochs=1, alphas=(0.01,)), num_seeds=2)
    >>> len(runs)
    2
    """
    num_seeds = check_int("num_seeds", num_seeds, low=1)
    config = config or HessianPredictionConfig()
    if not isinstance(config, HessianPredictionConfig):
        raise TypeError(f"config must be a HessianPredictionConfig, but got {type(config).__name__}")
    return [predict_and_retrain(data, dataclasses.replace(config, seed=config.seed + s)) for s in range(num_seeds)]
