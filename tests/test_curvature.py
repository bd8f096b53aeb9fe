"""Tests of reglab.curvature: the flatness measures against autograd's full Jacobian and Hessian."""
import pytest
import torch
from torch import nn

from reglab.curvature import jacobian_sq_norm, top_hessian_eigenvalue
from reglab.stacked import StackedMLP

D = torch.float64


def test_jacobian_norm_matches_autograd_jacobian():
    model = StackedMLP(3, (5, 7, 6, 4), seed=0, dtype=D)
    X = torch.randn(9, 5, dtype=D, generator=torch.Generator().manual_seed(1))
    weights = {n: p.detach() for n, p in model.named_parameters() if n.endswith("weight")}
    others = {n: p.detach() for n, p in model.named_parameters() if not n.endswith("weight")}

    def summed(w, x):  # the sum over members has each member's gradient in its own block
        return torch.func.functional_call(model, {**w, **others}, (x.unsqueeze(0),)).sum(0).squeeze(0)

    jac = torch.func.vmap(torch.func.jacrev(summed), in_dims=(None, 0))(weights, X)
    reference = sum(v.pow(2).sum(dim=(0, 1, 3, 4)) for v in jac.values()) / X.shape[0]
    torch.testing.assert_close(jacobian_sq_norm(model, X), reference, rtol=1e-10, atol=1e-12)


def test_jacobian_norm_does_not_depend_on_the_chunk_size():
    model = StackedMLP(2, (4, 6, 3), seed=1, dtype=D)
    X = torch.randn(11, 4, dtype=D, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(jacobian_sq_norm(model, X, chunk_size=3), jacobian_sq_norm(model, X), rtol=1e-13, atol=0)


def test_jacobian_norm_of_a_linear_layer_is_outputs_times_squared_input_norm():
    model = StackedMLP(2, (3, 4), seed=0, dtype=D)
    X = torch.randn(6, 3, dtype=D, generator=torch.Generator().manual_seed(0))
    expected = 4 * X.pow(2).sum(1).mean()
    torch.testing.assert_close(jacobian_sq_norm(model, X), expected.expand(2))


def test_power_iteration_finds_the_top_eigenvalue_of_the_full_hessian():
    model = StackedMLP(2, (3, 4, 2), seed=1, dtype=D)
    g = torch.Generator().manual_seed(5)
    X = torch.randn(10, 3, dtype=D, generator=g)
    Y = torch.randn(10, 2, dtype=D, generator=g)
    top = top_hessian_eigenvalue(model, X, Y, iterations=300, generator=torch.Generator().manual_seed(0))
    others = {n: p.detach() for n, p in model.named_parameters() if not n.endswith("weight")}
    w = {n: p.detach() for n, p in model.named_parameters() if n.endswith("weight")}
    for m in range(2):
        shapes = [v[m].shape for v in w.values()]
        flat = torch.cat([v[m].reshape(-1) for v in w.values()])

        def loss(t, m=m, shapes=shapes):
            parts, i = {}, 0
            for (name, v), s in zip(w.items(), shapes):
                block = v.clone()
                block[m] = t[i : i + s.numel()].reshape(s)
                parts[name] = block
                i += s.numel()
            out = torch.func.functional_call(model, {**parts, **others}, (X,))[m]
            return (out - Y).pow(2).sum(-1).mean()

        eigenvalues = torch.linalg.eigvalsh(torch.func.jacrev(torch.func.jacrev(loss))(flat))
        assert top[m].item() == pytest.approx(eigenvalues[-1].item(), rel=1e-6)


def test_power_iteration_returns_unit_eigenvectors_per_member():
    model = StackedMLP(3, (3, 5, 2), seed=2, dtype=D)
    X, Y = torch.randn(8, 3, dtype=D), torch.randn(8, 2, dtype=D)
    top, vectors = top_hessian_eigenvalue(model, X, Y, iterations=5, return_vectors=True)
    assert top.shape == (3,) and [v.shape for v in vectors] == [w.shape for w in model.weights()]
    norms = sum(v.pow(2).sum(dim=(1, 2)) for v in vectors)
    torch.testing.assert_close(norms, torch.ones(3, dtype=D))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: jacobian_sq_norm(nn.Linear(3, 1), torch.ones(2, 3)), TypeError, "model must be a StackedMLP"),
        (lambda: jacobian_sq_norm(StackedMLP(2, (3, 2)), torch.ones(2, 4)), ValueError, "X has 4 features but the model expects 3"),
        (lambda: jacobian_sq_norm(StackedMLP(2, (3, 2)), torch.ones(2, 3, dtype=torch.long)), TypeError, "X must be a floating-point"),
        (lambda: jacobian_sq_norm(StackedMLP(2, (3, 2)), torch.ones(2, 3), chunk_size=0), ValueError, "chunk_size must be an integer"),
        (lambda: top_hessian_eigenvalue(StackedMLP(2, (3, 2)), torch.ones(2, 3), torch.ones(2, 2), iterations=0), ValueError, "iterations must be an integer"),
        (lambda: top_hessian_eigenvalue(StackedMLP(2, (3, 2)), torch.ones(2, 3), torch.ones(2)), ValueError, "Y must have 2 dimensions"),
        (lambda: top_hessian_eigenvalue("net", torch.ones(2, 3), torch.ones(2, 2)), TypeError, "model must be a StackedMLP"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
