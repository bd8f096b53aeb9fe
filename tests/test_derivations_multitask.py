"""Tests of reglab.derivations.multitask: MT-1 task makers and sweep, MT-2 soft sharing."""
import pytest
import torch

from reglab import TrainConfig, digits
from reglab.derivations import get_result, ledger
from reglab.derivations.multitask import (
    TaskData,
    check_soft_sharing_closed_form,
    check_soft_sharing_limits,
    class_partition_tasks,
    pooled_fit,
    separate_fits,
    shared_representation_tasks,
    shared_vs_separate,
    soft_sharing_solution,
    solve_soft_sharing_iteratively,
    two_related_regressions,
)

D = torch.float64


def test_results_registered_in_the_ledger():
    ids = {r.id: r for r in ledger() if r.chapter == "multitask"}
    assert set(ids) == {"MT-1", "MT-2"}
    assert ids["MT-1"].kind == "experiment" and ids["MT-2"].kind == "derivation"


def test_mt2_check_passes_from_the_ledger():
    check = get_result("MT-2").check()
    assert check.passed, str(check)


def test_limits_pass():
    for check in check_soft_sharing_limits():
        assert check.passed, str(check)


def test_soft_sharing_solution_matches_scipy_minimize():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    (XA, yA, XB, yB), _ = two_related_regressions(9, dim=3, seed=4)
    lam = 2.5

    def f(theta):
        wa, wb = theta[:3], theta[3:]
        return ((yA.numpy() - XA.numpy() @ wa) ** 2).sum() + ((yB.numpy() - XB.numpy() @ wb) ** 2).sum() + lam * ((wa - wb) ** 2).sum()

    res = scipy_optimize.minimize(f, torch.zeros(6, dtype=D).numpy(), method="BFGS", options={"gtol": 1e-10})
    wa, wb = soft_sharing_solution(XA, yA, XB, yB, lam)
    torch.testing.assert_close(torch.cat([wa, wb]), torch.as_tensor(res.x), rtol=0, atol=1e-6)


def test_first_order_conditions_hold():
    (XA, yA, XB, yB), _ = two_related_regressions(7, dim=4, seed=1)
    lam = 0.7
    wa, wb = soft_sharing_solution(XA, yA, XB, yB, lam)
    torch.testing.assert_close(XA.T @ (XA @ wa - yA) + lam * (wa - wb), torch.zeros(4, dtype=D), rtol=0, atol=1e-10)
    torch.testing.assert_close(XB.T @ (XB @ wb - yB) - lam * (wa - wb), torch.zeros(4, dtype=D), rtol=0, atol=1e-10)


def test_gap_between_models_shrinks_like_one_over_lambda():
    problem, _ = two_related_regressions(10, dim=3, seed=2)
    gaps = [torch.linalg.norm(torch.sub(*soft_sharing_solution(*problem, lam))).item() for lam in (1e3, 1e4)]
    assert gaps[1] == pytest.approx(gaps[0] / 10, rel=0.02)


def test_iterative_solver_agrees_at_zero_penalty_with_separate_fits():
    problem, _ = two_related_regressions(10, dim=3, seed=3)
    torch.testing.assert_close(torch.cat(solve_soft_sharing_iteratively(*problem, 0.0)), torch.cat(separate_fits(*problem)), rtol=0, atol=1e-9)
    assert pooled_fit(*problem).shape == (3,)


def _teacher_directions(n, seed):
    """Rank 1 without noise: y_t = v_t relu(u.x) is linear, v_t u.x, where y_t != 0.

    Least squares on those rows recovers v_t u for every task: unit vectors, shape (T, d).
    """
    tasks = shared_representation_tasks(1, 3, n, dim=6, rank=1, noise=0.0, n_test=60, seed=seed)
    out = []
    for t in range(3):
        x, y = tasks.x_test[0, t], tasks.y_test[0, t, :, 0]
        active = y.abs() > 1e-12
        coef = torch.linalg.lstsq(x[active], y[active].unsqueeze(1)).solution[:, 0]
        out.append(coef / coef.norm())
    return torch.stack(out)


def test_shared_representation_tasks_shapes_and_teacher_fixed_by_seed():
    a = shared_representation_tasks(2, 3, 5, dim=6, rank=2, n_test=7, seed=1)
    assert a.x_train.shape == (2, 3, 5, 6) and a.y_train.shape == (2, 3, 5, 1)
    assert a.x_test.shape == (2, 3, 7, 6) and a.scale.shape == (2,)
    d5, d9, other = _teacher_directions(5, 3), _teacher_directions(9, 3), _teacher_directions(5, 4)
    # One direction u for all tasks (the shared representation), for every n; another seed differs.
    cos = (d5 @ torch.cat([d5, d9]).T).abs()
    torch.testing.assert_close(cos, torch.ones_like(cos), rtol=0, atol=1e-9)
    assert (d5[0] @ other[0]).abs() < 0.999


def test_class_partition_tasks_labels_follow_the_sets():
    data = digits()
    tasks, positive = class_partition_tasks(data, 2, 4, 30, n_test=20, seed=0)
    assert isinstance(tasks, TaskData)
    assert positive.shape == (4, 10) and (positive.sum(1) == 5).all()
    assert tasks.x_train.shape == (2, 4, 30, 64) and tasks.y_train.shape == (2, 4, 30)
    # Each training row is a real image; its label says whether its class is positive.
    img = tasks.x_train[1, 2, 0]
    cls = data.y_train[(data.x_train == img).all(1)][0]
    assert tasks.y_train[1, 2, 0].item() == int(positive[2, cls])


def test_shared_vs_separate_returns_one_number_per_member():
    tasks = shared_representation_tasks(2, 3, 8, dim=4, rank=1, n_test=20, seed=0)
    cfg = TrainConfig(epochs=3, lr=0.01, batch_size=8, optimizer="adam", loss="mse")
    out = shared_vs_separate(tasks, sizes=(4, 3, 1), config=cfg)
    assert out["shared"].shape == out["separate"].shape == (2,)
    assert out["parameters"] == {"shared": 4 * 3 + 3 + 3 * 4, "separate": 3 * (4 * 3 + 3 + 4)}


def test_invalid_arguments_rejected():
    (XA, yA, XB, yB), _ = two_related_regressions(5, dim=2)
    with pytest.raises(ValueError, match=r"lam must be in \[0, inf\), but got -1.0"):
        soft_sharing_solution(XA, yA, XB, yB, -1.0)
    with pytest.raises(ValueError, match="same number of features"):
        soft_sharing_solution(XA, yA, XB[:, :1], yB, 1.0)
    with pytest.raises(ValueError, match="XA has 5 rows but yA has 4"):
        separate_fits(XA, yA[:4], XB, yB)
    with pytest.raises(TypeError, match="XA must be a torch.Tensor"):
        pooled_fit(XA.numpy(), yA, XB, yB)
    with pytest.raises(ValueError, match="rank must be an integer in"):
        shared_representation_tasks(1, 1, 1, dim=3, rank=4)
    with pytest.raises(ValueError, match="noise"):
        shared_representation_tasks(1, 1, 1, noise=-0.1)
    with pytest.raises(TypeError, match="classification Dataset"):
        class_partition_tasks("digits", 1, 1, 1)
    with pytest.raises(ValueError, match="n_per_task"):
        class_partition_tasks(digits(), 1, 1, 10**6)
    with pytest.raises(TypeError, match="tasks must be a TaskData"):
        shared_vs_separate((1, 2), sizes=(2, 2, 1), config=TrainConfig())
    tasks = shared_representation_tasks(1, 2, 3, dim=2, rank=1, n_test=2)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        shared_vs_separate(tasks, sizes=(2, 1), config=TrainConfig(loss="mse"))
    with pytest.raises(ValueError, match="small"):
        check_soft_sharing_limits(small=0.0)


def test_closed_form_check_is_fast_and_exact():
    check = check_soft_sharing_closed_form()
    assert check.passed and check.error < 1e-10
