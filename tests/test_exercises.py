"""reglab.exercises: every self-check against its reference answer, the same answer written
differently, plausible mistakes and the untouched stub (BOOK_SPEC 12).

Fast: no notebook is executed. Each exercise's case (the end of this file) builds small
inputs (synthetic, or the chapter's own generators) standing for what the chapter leaves in the
kernel, and computes the reference answer the way the chapter's solution does. :func:`run` then
does what a student notebook does: it executes the exercise's stub cell in a namespace holding
those chapter names (and stale values of every answer's name, as a chapter that used the name
before would leave them), assigns the student's answer (and any input the stub lets them
change), and evaluates the check cell's call.
"""
import doctest
import functools
import math
import pkgutil
import pydoc
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import reglab
import torch
from reglab import (
    Answer,
    Exercise,
    ExerciseResult,
    check_call,
    check_exercise,
    exercise,
    exercises,
    planted_answer,
)
from reglab.exercises.core import Input

CHECKED = [e.label for e in exercises() if e.answers]


def test_every_checked_exercise_has_a_case():
    assert sorted(CASES) == sorted(CHECKED)
    assert len(CHECKED) == 41


def _status(result: ExerciseResult) -> str:
    return result.message.split(":")[0].split(" (")[0]


def _scalars(answer: dict) -> list[str]:
    """The reference's numbers as a reader would see them printed (for the no-leak check)."""
    shown = []
    for v in answer.values():
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, (float, np.floating)) and abs(v) > 1e-3 and not float(v).is_integer():
            shown.append(f"{v:.3g}")
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and abs(v) > 9:
            shown.append(str(int(v)))
    return shown


@pytest.mark.parametrize("label", CHECKED)
def test_reference_answer_is_correct(label, capsys):
    c = case(label)
    result = run(label, c.chapter, **c.right)
    assert result.passed and capsys.readouterr().out == "correct\n", result.message


@pytest.mark.parametrize("label", CHECKED)
def test_the_same_answer_written_differently_is_correct(label):
    c = case(label)
    assert c.same, f"{label}: give at least one other way of writing the right answer"
    for i, variant in enumerate(c.same):
        result = run(label, c.chapter, **variant)
        assert result.passed, f"{label}, variant {i}: {result.message}"


@pytest.mark.parametrize("label", CHECKED)
def test_plausible_mistakes_are_not_yet(label):
    c = case(label)
    assert len(c.wrong) >= 2, f"{label}: give at least two plausible wrong answers"
    for i, variant in enumerate(c.wrong):
        result = run(label, c.chapter, **variant)  # never an exception
        assert not result.passed and result.message.startswith("not yet: "), f"{label}, mistake {i}: {result.message}"
        for shown in _scalars(c.right):
            assert shown not in result.message, f"{label}, mistake {i}: the message shows the answer {shown}"


@pytest.mark.parametrize("label", CHECKED)
def test_the_untouched_stub_is_not_answered_yet(label, capsys):
    c = case(label)
    result = run(label, c.chapter)
    assert not result.passed and result.not_yet == exercise(label).names
    assert capsys.readouterr().out.startswith("not answered yet ("), result.message


@pytest.mark.parametrize("label", CHECKED)
def test_a_planted_error_is_not_yet(label):
    c = case(label)
    answers = {k: v for k, v in c.right.items() if k in exercise(label).names}
    inputs = {k: v for k, v in c.right.items() if k not in answers}
    result = run(label, c.chapter, **inputs, **planted_answer(label, **answers))
    assert not result.passed and result.message.startswith("not yet: "), result.message


# ---- the cases BOOK_SPEC 12 and issue 20 name, one test each -----------------------------------

def test_torch_s_own_dropout_is_not_the_answer():
    c = case("ex-dropout-1")
    assert not run("ex-dropout-1", c.chapter, ours=torch.nn.Dropout(p=0.1)).passed
    assert run("ex-dropout-1", c.chapter, ours=reglab.Dropout(keep_prob=1 - 0.1)).passed


def test_the_untouched_dropout_1_stub_is_not_answered_yet_after_the_chapter_defined_ours():
    result = run("ex-dropout-1", {"ours": reglab.dropout(torch.ones(3), keep_prob=0.8)})
    assert result.message == "not answered yet (ours is still `...`)"


@pytest.mark.parametrize("label", ["ex-dropout-2", "ex-dropout-4"])
def test_a_leftover_global_p_does_not_reach_the_judge(label):
    assert "p" not in exercise(label).input_names and "=p" not in check_call(label).replace(" ", "")
    c = case(label)
    assert c.chapter["p"] == 0.9  # what the chapter's plotting loop leaves
    assert run(label, c.chapter, **c.right).passed  # the answer at the statement's p = 0.5
    assert not run(label, c.chapter, **c.wrong[0]).passed  # the same computed with the leftover p


def test_dropout_4_accepts_a_network_of_any_size():
    c = case("ex-dropout-4")
    sizes = {tuple(np.shape(v["W1"])) for v in c.same + [c.right]}
    assert len(sizes) >= 2
    for variant in c.same:
        assert run("ex-dropout-4", c.chapter, **variant).passed


def test_bagging_1_does_not_accept_one_member():
    c = case("ex-bagging-1")
    result = run("ex-bagging-1", c.chapter, k_ex=1, c_ex=-2.0)
    assert not result.passed and "k_ex" in result.message


def test_bagging_2_labels_outside_0_and_1_are_not_yet_not_an_error():
    c = case("ex-bagging-2")
    result = run("ex-bagging-2", c.chapter, **{**c.right, "labels": [2, 0, 0, 0, 0]})
    assert result.not_yet[:2] == ("member_probs", "labels")


def test_the_multitask_res_of_the_related_tasks_is_not_yet():
    c = case("ex-multitask-3")
    assert not run("ex-multitask-3", c.chapter, res=_swap(c.right["res"])).passed


def _swap(res):
    return {"shared": res["separate"], "separate": res["shared"]}


# ---- the stub: it declares and explains every name the check reads -----------------------------

def _assignments(source: str):
    import ast

    tree = ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.unparse(node)
        yield node.targets[0].id, lines[node.lineno - 1], lines[node.lineno - 2]


@pytest.mark.parametrize("label", CHECKED)
def test_the_stub_sets_only_the_check_s_names_each_explained(label):
    ex = exercise(label)
    names = []
    for name, line, above in _assignments(ex.stub()):
        names.append(name)
        assert "  # " in line or above.startswith("# "), f"{label}: {name} is set without a comment saying what it is"
    assert names == list(ex.input_names + ex.names)
    assert all(line.startswith("#") or " = " in line for line in ex.stub().splitlines())
    assert all(len(line) <= 79 for line in ex.stub().splitlines() + ex.check_line().splitlines())
    for a in ex.answers:
        assert f"{a.name} = ...  #" in ex.stub() or f"\n{a.name} = ...\n" in ex.stub(), f"{label}: {a.name}"


@pytest.mark.parametrize("label", CHECKED)
def test_the_check_reads_exactly_the_stub_s_names(label):
    import ast

    ex = exercise(label)
    call = ast.parse(ex.check_line()).body[0].value
    assert [k.arg for k in call.keywords] == list(ex.names + ex.input_names)
    assert all(isinstance(k.value, ast.Name) and k.value.id == k.arg for k in call.keywords)


def test_every_exercise_states_its_reference_and_tolerances():
    for ex in exercises():
        if ex.answers:
            assert ex.reference and all(a.tolerance and a.hint and a.what for a in ex.answers), ex.label
            assert all(i.what for i in ex.inputs), ex.label
            assert check_call(ex.label).startswith(f'check_exercise("{ex.label}", ')
        else:
            assert ex.written, f"{ex.label}: an exercise without answers must say why"


# ---- what is printed, and what raises -------------------------------------------------------

def test_functions_are_checked_by_calling_them():
    result = check_exercise("ex-l1_penalty-1", elastic_net=lambda *args: 1 / 0)
    assert "ZeroDivisionError" in result.message and not result.passed
    result = check_exercise("ex-l1_penalty-1", elastic_net=lambda *args: "zero")
    assert "numbers" in result.message
    result = check_exercise("ex-multitask-1", separate_count=3, shared_count=lambda d, h, k, T: d)
    assert result.not_yet == ("separate_count", "shared_count") and "function" in result.message


def test_wrong_shapes_and_types_are_not_yet_not_errors():
    assert "shape" in check_exercise("ex-label_smoothing-1", y_hat=[0.1] * 8).message
    assert "numbers" in check_exercise("ex-label_smoothing-1", y_hat="0.8").message
    assert "NaN" in check_exercise("ex-label_smoothing-1", y_hat=[float("nan")] * 10).message
    assert "numbers" in check_exercise("ex-label_smoothing-1", y_hat={"six": 0.8}).message


def test_a_partly_answered_stub_names_what_is_missing():
    result = check_exercise("ex-dropout-3", alone=..., X_ridge=torch.ones(3, 2), y_ridge=torch.ones(3))
    assert result.message == "not answered yet (alone is still `...`)"
    c = case("ex-dropout-2")
    result = run("ex-dropout-2", c.chapter, dropout_ratio=c.right["dropout_ratio"])
    assert result.message == "not yet: ridge_ratio: not answered yet (still `...`)"
    assert result.not_yet == ("ridge_ratio",)


def test_an_input_the_student_chooses_must_be_defined():
    c = case("ex-augmentation-1")
    answer = {"formula": c.right["formula"]}
    result = run("ex-augmentation-1", c.chapter, **answer)  # X, y, w, Sigma still the stub's ...
    assert result.message == "not yet: define X, y, w, Sigma first (still `...`)"


def test_planted_answers_are_rejected():
    assert planted_answer("ex-early_stopping-2", tau_half=693) == {"tau_half": 694}
    assert not check_exercise("ex-early_stopping-2", **planted_answer("ex-early_stopping-2", tau_half=693))
    wrong = planted_answer("ex-multitask-3", res={"shared": np.ones(5), "separate": np.zeros(5)})
    assert wrong["res"]["shared"].sum() == 0


def test_unknown_label_rejected():
    with pytest.raises(ValueError, match="label"):
        check_exercise("ex-nowhere-1", x=1)
    with pytest.raises(ValueError, match="label"):
        exercise("dropout-2")
    with pytest.raises(TypeError, match="label"):
        exercise(2)
    with pytest.raises(ValueError, match="label"):
        check_call("ex-nowhere-1")
    with pytest.raises(TypeError):
        exercises("ex-dropout-1")  # takes no argument


def test_missing_or_unexpected_keywords_rejected():
    with pytest.raises(TypeError, match="y_ridge"):
        check_exercise("ex-dropout-3", alone=[1.0], X_ridge=torch.ones(3, 1))
    with pytest.raises(TypeError, match="steps"):
        check_exercise("ex-early_stopping-2", tau_half=693, steps=3)
    with pytest.raises(TypeError, match="tau_half"):
        planted_answer("ex-early_stopping-2", tau=693)
    with pytest.raises(TypeError, match="p"):  # the statement fixes p: it is no input
        check_exercise("ex-dropout-2", dropout_ratio=1, ridge_ratio=1, X_ridge=torch.ones(2, 1),
                       y_ridge=torch.ones(2), p=0.5)


def test_bad_inputs_rejected_with_their_name():
    with pytest.raises(TypeError, match="min_delta"):
        check_exercise("ex-early_stopping-1", stopped_at=4, best_step=2, min_delta="small")
    with pytest.raises(TypeError, match="w3"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), w3="w3")
    with pytest.raises(ValueError, match="w3 must be a kernel of size 3"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), w3=torch.zeros(5))
    with pytest.raises(ValueError, match="x4"):
        check_exercise("ex-dropout-4", gap=1.0, x4=torch.zeros(2, 20), W1=torch.zeros(3, 20), b1=torch.zeros(3),
                       W2=torch.zeros(1, 3), b2=torch.zeros(1), keep_prob=0.5)
    with pytest.raises(TypeError, match="bagged"):
        check_exercise("ex-bagging-3", oob_acc=0.5, bagged="bag", x_train=torch.zeros(3, 2), y_train=torch.zeros(3))


def test_non_finite_or_misshapen_inputs_rejected_with_their_name():
    with pytest.raises(ValueError, match="alpha_value"):
        check_exercise("ex-weight_decay-1", exact=1.0, steps=1, alpha_value=float("nan"))
    with pytest.raises(ValueError, match="w3 must have 1 dimensions"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), w3=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="w3 must contain only finite values"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), w3=[1.0, float("inf"), 0.0])


def test_exercises_answered_in_words_have_no_check():
    written = [e for e in exercises() if not e.answers]
    assert [e.label for e in written] == ["ex-parameter_sharing-3"]
    with pytest.raises(ValueError, match="words"):
        check_exercise("ex-parameter_sharing-3")
    with pytest.raises(ValueError, match="words"):
        check_call("ex-parameter_sharing-3")
    with pytest.raises(ValueError, match="words"):
        planted_answer("ex-parameter_sharing-3")
    with pytest.raises(ValueError, match="words"):
        written[0].stub()


def test_records_validate_their_fields():
    with pytest.raises(ValueError, match="name"):
        Answer("not an identifier", "what", "hint", "exact")
    with pytest.raises(ValueError, match="name"):
        Input("x-4", "X_reg", "what")
    with pytest.raises(ValueError, match="value"):
        Input("x4", "", "what")
    with pytest.raises(ValueError, match="label"):
        Exercise(label="dropout-2", chapter="dropout", answers=(), inputs=(), reference="")
    with pytest.raises(ValueError, match="twice"):
        Exercise(label="ex-x-1", chapter="x", answers=(Answer("a", "w", "h", "t"),), inputs=(Input("a", "1", "w"),),
                 reference="r", judge=lambda a: {})
    with pytest.raises(TypeError, match="passed"):
        ExerciseResult(label="ex-dropout-1", passed="yes")


# ---- no answer in any docstring or help() ----------------------------------------------------

ANSWERS_THAT_MUST_NOT_SHOW = ["693", "Dropout(0.9)", "keep_prob=0.9", "0.2236", "1385.9", "1386", "-0.5,",
                              "= -0.5", "c_ex=-0.5", "[0.05, 0, 0.02, 0.08, 0.05, 0, 0.8"]


def _examples():
    import reglab.exercises.core  # noqa: F401

    finder = doctest.DocTestFinder()
    names = [n for n in sys.modules if n == "reglab.exercises" or n.startswith("reglab.exercises.")]
    return [ex for n in names for test in finder.find(sys.modules[n]) for ex in test.examples]


def test_no_docstring_example_shows_a_right_answer():
    examples = _examples()
    assert any("check_exercise(" in ex.source for ex in examples)
    for ex in examples:
        if "check_exercise(" in ex.source:
            assert "correct" not in ex.want.replace("not yet", "").split(), ex.source
            assert "True" not in ex.want.split(), ex.source


def test_help_shows_no_answer():
    names = [n for n in sys.modules if n == "reglab.exercises" or n.startswith("reglab.exercises.")]
    pages = [pydoc.render_doc(sys.modules[n], renderer=pydoc.plaintext) for n in names]
    pages += [pydoc.render_doc(obj, renderer=pydoc.plaintext) for obj in (check_exercise, check_call, planted_answer,
                                                                         exercise, Exercise, Input, Answer)]
    for page in pages:
        for answer in ANSWERS_THAT_MUST_NOT_SHOW:
            assert answer not in page, f"help() shows {answer!r}"


# ---- the package: one module per chapter, registered in the book's order ----------------------

def _chapters_in_book_order():
    import yaml

    toc = yaml.safe_load((Path(__file__).resolve().parent.parent / "_toc.yml").read_text())
    return [Path(c["file"]).name for part in toc["parts"] for c in part["chapters"] if "/appendix/" not in c["file"]]


def test_each_chapter_module_registers_its_own_exercises_in_book_order():
    order = _chapters_in_book_order()
    chapters = [ex.chapter for ex in exercises()]
    assert chapters == sorted(chapters, key=order.index), "exercises() must list the chapters in _toc.yml's order"
    for ex in exercises():
        if ex.judge is not None:
            assert ex.judge.__module__ == f"reglab.exercises.{ex.chapter}", ex.label
    modules = {m.name for m in pkgutil.iter_modules(sys.modules["reglab.exercises"].__path__) if not m.name.startswith("_")}
    assert modules - {"core"} == set(order)


def test_the_package_exports_the_public_names():
    package = sys.modules["reglab.exercises"]
    namespace = {}
    exec("from reglab.exercises import *", namespace)  # noqa: S102 (what reglab/__init__ does)
    assert sorted(package.__all__) == sorted(n for n in namespace if not n.startswith("__"))
    assert set(package.__all__) <= set(reglab.__all__)
    assert package.check_exercise is check_exercise


def test_a_comment_too_wide_for_the_line_goes_above_the_name():
    stub = exercise("ex-dropout-2").stub()
    assert "\ndropout_ratio = ...\n" in stub and "\nX_ridge = X_reg  # (60, 4)" in stub


# ================================================================================================
# The cases: for every checked exercise, the chapter's names its stub reads, the reference answer
# (computed as the chapter's solution computes it), the same answer written differently, and
# plausible mistakes. A dict of a case assigns names after the stub, as a student's code would:
# the answers, and any input the stub leaves to the student.
# ================================================================================================

@dataclass
class Case:
    chapter: dict
    right: dict
    same: list = field(default_factory=list)
    wrong: list = field(default_factory=list)


CASES = {}


def _case(label):
    def register(build):
        CASES[label] = build
        return build

    return register


@functools.cache
def case(label) -> Case:
    return CASES[label]()


def run(label, chapter, **assigned) -> ExerciseResult:
    """The stub cell, then the student's assignments, then the check cell, as in a notebook."""
    ex = exercise(label)
    stale = {a.name: torch.zeros(3) for a in ex.answers}  # a chapter that used the names before
    namespace = {"torch": torch, "np": np, **stale, **chapter}
    exec(ex.stub(), namespace)  # noqa: S102 (the notebook's cell)
    namespace.update(assigned)
    namespace["check_exercise"] = check_exercise
    return eval(ex.check_line().rstrip(";"), namespace)


def _f64(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---- regimes ------------------------------------------------------------------------------------

@functools.cache
def _poly_data():
    from reglab import polynomial_regression

    return polynomial_regression(20, true_degree=3, noise=0.3, seed=0)[0]


def _free_constant_fit(X, y, alpha):
    D = torch.diag(torch.tensor([0.0] + [1.0] * (X.shape[1] - 1), dtype=X.dtype))
    return torch.linalg.solve(X.T @ X + alpha * D, X.T @ y)


@_case("ex-regimes-1")
def _():
    from reglab.derivations.regimes import polynomial_features, ridge_solution

    data, alphas = _poly_data(), np.logspace(-8, 2, 9)
    X12 = polynomial_features(data.x_train, 12)
    norms = [_free_constant_fit(X12, data.y_train, a)[1:].norm().item() for a in alphas]
    w_big = _free_constant_fit(X12, data.y_train, 1e8)
    limit = [data.y_train.mean().item()] + [0.0] * 12
    return Case({"data": data, "ALPHAS": alphas}, {"penalised_norms": norms, "w_big": w_big},
                same=[{"penalised_norms": np.array(norms), "w_big": limit}],
                wrong=[{"penalised_norms": [_free_constant_fit(X12, data.y_train, a).norm().item() for a in alphas],
                        "w_big": w_big},  # the constant counted in the norm
                       {"penalised_norms": norms, "w_big": ridge_solution(X12, data.y_train, 1e8)}])  # all penalised


@_case("ex-regimes-2")
def _():
    from reglab.experiments.regimes import polynomial_regimes

    more = polynomial_regimes(list(range(13)), num_seeds=20, n_train=200, noise=0.3).test_summary()
    fewer = polynomial_regimes(list(range(13)), num_seeds=20, n_train=20, noise=0.3).test_summary()
    return Case({}, {"more_summary": more}, same=[{"more_summary": more[:, 0].tolist()}],
                wrong=[{"more_summary": fewer}, {"more_summary": more.T}, {"more_summary": more[:12]}])


def _norm_derivative(X, y, alpha):
    from reglab.derivations.regimes import ridge_solution

    w = ridge_solution(X, y, alpha)
    formula = -2 * w @ torch.linalg.solve(X.T @ X + alpha * torch.eye(X.shape[1], dtype=X.dtype), w)
    U, S, _ = torch.linalg.svd(X, full_matrices=False)
    return formula, (((S / (S**2 + alpha)) ** 2) * (U.T @ y) ** 2).sum(), (S / (S**2 + alpha)) * (U.T @ y) ** 2


@_case("ex-regimes-3")
def _():
    from reglab.derivations.regimes import polynomial_features

    data = _poly_data()
    formula, svd_norm2, unsquared = _norm_derivative(polynomial_features(data.x_train, 8), data.y_train, 0.05)
    X4 = polynomial_features(data.x_train, 4)
    f4, n4, _ = _norm_derivative(X4, data.y_train, 0.3)
    return Case({"data": data, "polynomial_features": polynomial_features}, {"formula": formula, "svd_norm2": svd_norm2},
                same=[{"formula": formula.item(), "svd_norm2": float(svd_norm2)},
                      {"X8": X4, "alpha": 0.3, "formula": f4, "svd_norm2": n4}],
                wrong=[{"formula": -formula, "svd_norm2": svd_norm2}, {"formula": formula / 2, "svd_norm2": svd_norm2},
                       {"formula": formula, "svd_norm2": unsquared.sum()}])


# ---- weight_decay -------------------------------------------------------------------------------

def _halving(alpha, lr=0.05):
    from reglab import weight_decay_step

    w, steps = torch.tensor([1.0]), 0
    while w.item() > 0.5:
        w = weight_decay_step(w, torch.zeros(1), lr=lr, alpha=alpha)
        steps += 1
    return float(np.log(2) / -np.log(1 - lr * alpha)), steps


@_case("ex-weight_decay-1")
def _():
    exact, steps = _halving(1e-2)
    exact3, steps3 = _halving(1e-3)
    return Case({}, {"exact": exact, "steps": steps},
                same=[{"exact": np.float64(exact), "steps": float(steps)},
                      {"alpha_value": 1e-3, "exact": exact3, "steps": steps3}],
                wrong=[{"exact": np.log(2) / (0.05 * 1e-2), "steps": steps},  # the small-eps approximation
                       {"exact": exact, "steps": steps - 1},
                       {"exact": exact3, "steps": steps3}])  # the other alpha's answer


@_case("ex-weight_decay-2")
def _():
    from reglab import polynomial_regression
    from reglab.derivations.regimes import polynomial_features, ridge_solution

    points, _ = polynomial_regression(30, seed=2)
    X, y = polynomial_features(points.x_train, 6), points.y_train
    w_ls = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)
    X3 = polynomial_features(points.x_train, 3)
    return Case({}, {"X": X, "y": y, "H_ls": X.T @ X, "w_ls": w_ls},
                same=[{"X": X.numpy(), "y": y.tolist(), "H_ls": (X.T @ X).numpy(), "w_ls": w_ls.numpy()},
                      {"X": X3, "y": y, "H_ls": X3.T @ X3, "w_ls": torch.linalg.pinv(X3) @ y}],
                wrong=[{"X": X, "y": y, "H_ls": 2 * X.T @ X, "w_ls": w_ls},
                       {"X": X, "y": y, "H_ls": X @ X.T, "w_ls": w_ls},
                       {"X": X, "y": y, "H_ls": X.T @ X, "w_ls": ridge_solution(X, y, 1.0)}])


@_case("ex-weight_decay-3")
def _():
    from reglab.derivations.weight_decay import shrink_factors

    lam = torch.cat([torch.logspace(-5, 1, 20, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)])
    Q, _ = torch.linalg.qr(_f64(24, 24, seed=3))
    positive = lam[lam > 0]
    effective = {k: shrink_factors(positive, 10.0**-k).sum().item() for k in (1, 2, 3)}
    return Case({"prediction": SimpleNamespace(eigvals=lam, eigvecs=Q)}, {"effective": effective},
                same=[{"effective": {k: torch.tensor(v) for k, v in effective.items()}},
                      {"effective": {k: float((lam / (lam + 10.0**-k)).sum()) for k in (3, 2, 1)}}],
                wrong=[{"effective": {k: float((positive > 10.0**-k).sum()) for k in (1, 2, 3)}},  # a hard count
                       {"effective": {k: len(positive) - v for k, v in effective.items()}},  # the removed ones
                       {"effective": [effective[1], effective[2], effective[3]]},
                       {"effective": {1: effective[1], 2: effective[2]}}])


# ---- l1_penalty ---------------------------------------------------------------------------------

@_case("ex-l1_penalty-1")
def _():
    from reglab import soft_threshold

    def elastic_net(w_star, h, alpha1, alpha2):
        return float(soft_threshold(torch.tensor([w_star]), alpha1 / h)) * h / (h + alpha2)

    def piecewise(w_star, h, alpha1, alpha2):
        if abs(w_star) <= alpha1 / h:
            return 0.0
        return (h * w_star - math.copysign(alpha1, w_star)) / (h + alpha2)

    return Case({}, {"elastic_net": elastic_net}, same=[{"elastic_net": piecewise}],
                wrong=[{"elastic_net": lambda w, h, a1, a2: elastic_net(w, h, a1, 0.0)},  # no L2 scaling
                       {"elastic_net": lambda w, h, a1, a2: elastic_net(w, 1.0, a1, a2 / h) if h else 0.0},
                       {"elastic_net": lambda w, h, a1, a2: math.copysign(max(abs(w) - a1, 0.0), w) * h / (h + a2)},
                       {"elastic_net": lambda *args: 1 / 0}])


@_case("ex-l1_penalty-2")
def _():
    from reglab.derivations import l1_penalty as derivations

    H, w_star = torch.tensor([[1.0, 0.8], [0.8, 1.0]]), torch.tensor([1.0, 0.3])
    naive = derivations.l1_solution(w_star, torch.diagonal(H).clone(), 0.3)
    exact = derivations.brute_force_l1(H.double(), w_star.double(), 0.3)
    ista = derivations.proximal_gradient(H.double(), w_star.double(), 0.3, steps=5000)[-1]
    return Case({}, {"naive": naive, "exact": exact},
                same=[{"naive": naive.tolist(), "exact": [round(v, 7) for v in exact.tolist()]},
                      {"naive": naive, "exact": ista}],
                wrong=[{"naive": naive, "exact": naive}, {"naive": w_star, "exact": exact},
                       {"naive": naive, "exact": torch.linalg.solve(H + 0.3 * torch.eye(2), H @ w_star)}])


def _subgradient(h1, w1, lr):
    from reglab.derivations import l1_penalty as derivations

    path = derivations.subgradient_descent(h1, w1, 0.5, steps=5000, lr=lr, w0=w1)
    return lr * (0.5 + h1.item() * abs(w1.item())), path[-2000:, 0].abs().max().item(), path


@_case("ex-l1_penalty-3")
def _():
    band, late, path = _subgradient(torch.tensor([[0.5]]), torch.tensor([0.2]), 0.001)  # float32, as the chapter
    h64, w64 = torch.tensor([[0.8]], dtype=torch.float64), torch.tensor([-0.3], dtype=torch.float64)
    band2, late2, _ = _subgradient(h64, w64, 0.01)
    return Case({}, {"band": band, "late": late},
                same=[{"band": torch.tensor(band), "late": np.float32(late)},
                      {"h1": h64, "w1": w64, "lr_value": 0.01, "band": band2, "late": late2}],
                wrong=[{"band": 0.001 * 0.5, "late": late},  # eps alpha: the H|w*| part forgotten
                       {"band": band, "late": path[:, 0].abs().max().item()},  # from the start
                       {"w1": torch.tensor([2.0]), "band": band, "late": late}])  # a minimiser that is not 0


# ---- early_stopping -----------------------------------------------------------------------------

def _stops(min_delta):
    from reglab import EarlyStopping

    stopper, model = EarlyStopping(patience=2, min_delta=min_delta), torch.nn.Linear(1, 1)
    for t, loss in enumerate([1.0, 0.9, 0.85, 0.84, 0.835, 0.80, 0.79, 0.70]):
        if stopper.step(loss, model):
            return t, stopper.best_step
    return None, stopper.best_step


@_case("ex-early_stopping-1")
def _():
    (stop, best), (stop0, best0) = _stops(0.02), _stops(0.0)
    return Case({}, {"stopped_at": stop, "best_step": best},
                same=[{"stopped_at": np.int64(stop), "best_step": torch.tensor(best)},
                      {"min_delta": 0.0, "stopped_at": stop0, "best_step": best0},
                      {"min_delta": 0, "stopped_at": stop0, "best_step": float(best0)}],
                wrong=[{"stopped_at": stop - 1, "best_step": best}, {"stopped_at": stop, "best_step": stop},
                       {"stopped_at": None, "best_step": best0},  # the other run's answer
                       {"min_delta": 0.0, "stopped_at": stop, "best_step": best}])


@_case("ex-early_stopping-2")
def _():
    tau_half = int(np.ceil(np.log(2) / -np.log(1 - 0.05 * 0.02)))
    return Case({}, {"tau_half": tau_half},
                same=[{"tau_half": float(tau_half)}, {"tau_half": torch.tensor(tau_half)}, {"tau_half": np.int64(tau_half)}],
                wrong=[{"tau_half": tau_half - 1},  # rounded down
                       {"tau_half": int(np.ceil(np.log(2) / (0.05 * 0.02)))},  # from the approximation
                       {"tau_half": np.log(2) / -np.log(1 - 0.05 * 0.02)}])  # not a whole number of steps


def _stiff(lr):
    from reglab.derivations import early_stopping as derivations

    Q2 = torch.tensor([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]], dtype=torch.float64)
    H2 = Q2 @ torch.diag(torch.tensor([1.0, 0.05], dtype=torch.float64)) @ Q2.T
    w2 = torch.tensor([1.0, 1.5], dtype=torch.float64)
    path = derivations.gd_trajectory(H2, w2, lr, 12)
    return (Q2[:, 0] @ path.T) / (Q2[:, 0] @ w2), (Q2[:, 1] @ path.T) / (Q2[:, 1] @ w2)


@_case("ex-early_stopping-3")
def _():
    (stiff, flat), (stiff15, _) = _stiff(2.5), _stiff(1.5)
    return Case({}, {"stiff": stiff},
                same=[{"stiff": stiff.tolist()}, {"lr": 1.5, "stiff": stiff15.double()}],
                wrong=[{"stiff": flat}, {"stiff": stiff[1:]}, {"stiff": 1 - stiff}, {"lr": 1.5, "stiff": stiff}])


# ---- bagging ------------------------------------------------------------------------------------

@_case("ex-bagging-1")
def _():
    return Case({}, {"c_ex": -2.0 / (5 - 1)},
                same=[{"c_ex": np.float32(-0.5)}, {"v_ex": 1.0, "k_ex": 2, "c_ex": -1.0},
                      {"v_ex": 3.5, "k_ex": 8, "c_ex": torch.tensor(-0.5)}],
                wrong=[{"c_ex": -2.0 / 5}, {"c_ex": -2.0}, {"k_ex": 1, "c_ex": -2.0}, {"c_ex": 2.0}])


def _three_members():
    p_true = torch.tensor([[0.9, 0.9, 0.6, 0.1, 0.1], [0.9, 0.9, 0.1, 0.6, 0.1], [0.9, 0.9, 0.1, 0.1, 0.6]],
                          dtype=torch.float64)
    return torch.stack([p_true, 1 - p_true], dim=-1)


@_case("ex-bagging-2")
def _():
    member_probs, labels = _three_members(), torch.zeros(5, dtype=torch.long)
    pair = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    right = {"member_probs": member_probs, "labels": labels, "pair": pair}
    same_classes = member_probs.flip(-1)  # the same classifiers with the classes' names swapped
    return Case({}, right,
                same=[{"member_probs": member_probs.tolist(), "labels": [0] * 5, "pair": [0.0, 2.0]},
                      {"member_probs": same_classes.numpy(), "labels": np.ones(5), "pair": [[0.5], [-3.0]]}],
                wrong=[{**right, "labels": [2, 0, 0, 0, 0]},  # a label that is no class
                       {**right, "member_probs": member_probs[[0, 0, 0]]},  # identical members: no loss
                       {**right, "pair": [[1.0], [1.0]]},
                       {**right, "member_probs": member_probs * 0.9},  # rows that are no probabilities
                       {**right, "labels": [0, 0, 0, 0, -1]}])


@functools.cache
def _tiny_data():
    from reglab import Dataset

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (90,), generator=g)
    return Dataset(x[:60], y[:60], x[60:], y[60:], num_classes=3, name="tiny")


def _bag(bootstrap, members=8, width=6):
    from reglab import TrainConfig, fit_bagged

    data = _tiny_data()
    config = TrainConfig(epochs=2, lr=0.05, optimizer="adam", batch_size=20, seed=1)
    return fit_bagged(data.x_train, data.y_train, num_members=members, sizes=(5, width, 3), config=config,
                      bootstrap=bootstrap, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


@_case("ex-bagging-3")
def _():
    from reglab import accuracy, ensemble_average, out_of_bag_mask

    data, bag = _tiny_data(), _bag(True, members=10)
    oob = out_of_bag_mask(bag.indices, data.x_train.shape[0])
    probs = torch.softmax(bag.outputs(data.x_train), dim=-1)
    weights, covered = oob.double().unsqueeze(-1), oob.any(dim=0)
    oob_probs = (probs * weights).sum(0)[covered] / weights.sum(0)[covered]
    oob_acc = (oob_probs.argmax(-1) == data.y_train[covered]).double().mean().item()
    in_bag = accuracy(ensemble_average(bag.outputs(data.x_train)), data.y_train).item()
    assert abs(in_bag - oob_acc) > 0.01, "the tiny bag must tell in-bag from out-of-bag accuracy"
    return Case({"bag": bag, "data": data}, {"oob_acc": oob_acc},
                same=[{"oob_acc": torch.tensor(oob_acc)}, {"oob_acc": round(oob_acc, 3)}],
                wrong=[{"oob_acc": in_bag}, {"oob_acc": 100 * oob_acc}, {"oob_acc": [oob_acc, oob_acc]}])


@_case("ex-bagging-4")
def _():
    import torch.nn.functional as F
    from reglab import error_moments

    data = _tiny_data()

    def moments(bag, x, y):
        return error_moments(torch.softmax(bag.outputs(x), dim=-1), F.one_hot(y, 3).double())

    full, wider, bagged = _bag(False), _bag(False, width=9), _bag(True)
    mf = moments(full, data.x_test, data.y_test)
    return Case({"data": data}, {"full": full, "mf": mf},
                same=[{"full": wider, "mf": moments(wider, data.x_test, data.y_test)}],
                wrong=[{"full": bagged, "mf": moments(bagged, data.x_test, data.y_test)},  # bootstrap samples
                       {"full": full, "mf": moments(full, data.x_train, data.y_train)},  # on the training set
                       {"full": full, "mf": {"v": mf.v, "c": mf.c}},
                       {"full": full.outputs(data.x_test), "mf": mf}])


# ---- dropout ------------------------------------------------------------------------------------

@functools.cache
def _ridge_example():
    g = torch.Generator().manual_seed(11)
    scales = torch.tensor([0.3, 1.0, 3.0, 10.0], dtype=torch.float64)
    Z = torch.randn(60, 4, generator=g, dtype=torch.float64)
    Z[:, 1] = 0.6 * Z[:, 0] + 0.8 * Z[:, 1]
    y = Z @ torch.tensor([1.0, -0.5, 0.8, 0.3], dtype=torch.float64) + 0.5 * torch.randn(60, generator=g, dtype=torch.float64)
    return Z * scales, y


def _rescaled(X, y, p, alpha_from_big=False):
    from reglab.derivations import dropout as derivations

    X_big = X.clone()
    X_big[:, 0] *= 100

    def ridge(X, y, alpha):
        return torch.linalg.solve(X.T @ X + alpha * torch.eye(X.shape[1], dtype=X.dtype), X.T @ y)

    alpha = (1 - p) / p * float(((X_big if alpha_from_big else X) ** 2).sum(0).mean())
    return {"dropout_ratio": derivations.dropout_ridge_solution(X_big, y, p) / derivations.dropout_ridge_solution(X, y, p),
            "ridge_ratio": ridge(X_big, y, alpha) / ridge(X, y, alpha)}


@_case("ex-dropout-1")
def _():
    from reglab import Dropout

    return Case({"ours": torch.ones(3)}, {"ours": Dropout(0.9)},
                same=[{"ours": Dropout(keep_prob=0.9)}, {"ours": Dropout(1 - 0.1)}],
                wrong=[{"ours": torch.nn.Dropout(p=0.1)}, {"ours": Dropout(0.1)}, {"ours": torch.ones(3)},
                       {"ours": "Dropout(0.9)"}])


@_case("ex-dropout-2")
def _():
    X, y = _ridge_example()
    right = _rescaled(X, y, 0.5)
    X3 = X[:, 1:]
    return Case({"X_reg": X, "y_reg": y, "p": 0.9}, right,
                same=[{k: v.numpy() for k, v in right.items()}, {"X_ridge": X3, **_rescaled(X3, y, 0.5)}],
                wrong=[_rescaled(X, y, 0.9),  # with the p a plotting loop left
                       {**right, "ridge_ratio": _rescaled(X, y, 0.5, alpha_from_big=True)["ridge_ratio"]},
                       {k: 1 / v for k, v in right.items()}])


@_case("ex-dropout-3")
def _():
    from reglab.derivations import dropout as derivations

    X, y = _ridge_example()
    alone = (X.T @ y) / (X**2).sum(0)
    return Case({"X_reg": X, "y_reg": y, "p": 0.9}, {"alone": alone},
                same=[{"alone": alone.tolist()}, {"alone": derivations.dropout_ridge_solution(X, y, 1e-10)}],
                wrong=[{"alone": derivations.dropout_ridge_solution(X, y, 1.0)},  # least squares
                       {"alone": 1e-9 * derivations.dropout_ridge_solution(X, y, 1e-9)},  # test-time weights
                       {"alone": (X.T @ y) / (X**2).sum()}])


def _network(d, h, k, seed):
    g = torch.Generator().manual_seed(seed)
    return {"x4": torch.randn(5, d, generator=g, dtype=torch.float64),
            "W1": torch.randn(h, d, generator=g, dtype=torch.float64), "b1": torch.randn(h, generator=g, dtype=torch.float64),
            "W2": torch.randn(k, h, generator=g, dtype=torch.float64), "b2": torch.randn(k, generator=g, dtype=torch.float64)}


def _gaps(net, p):
    from reglab import ensemble_mean

    x4, W1, b1, W2, b2 = (net[n] for n in ("x4", "W1", "b1", "W2", "b2"))
    d, h = W1.shape[1], W1.shape[0]

    def hidden_only(r):
        return (torch.relu(x4 @ W1.T + b1) * r[:, None, :]) @ W2.T + b2

    def inputs_too(r):
        return (torch.relu((x4 * r[:, None, :d]) @ W1.T + b1) * r[:, None, d:]) @ W2.T + b2

    gaps = []
    for fn, n in ((hidden_only, h), (inputs_too, d + h)):
        exact = ensemble_mean(fn, n, p, dtype=torch.float64)
        gaps.append((exact - fn(torch.full((1, n), p, dtype=torch.float64))[0]).abs())
    return gaps


@_case("ex-dropout-4")
def _():
    net, other = _network(3, 8, 1, seed=4), _network(2, 5, 2, seed=5)
    hidden, both = _gaps(net, 0.5)
    return Case({"p": 0.9}, {**net, "gap": float(both.max())},
                same=[{**net, "gap": both.max()}, {**other, "keep_prob": 0.8, "gap": float(_gaps(other, 0.8)[1].max())}],
                wrong=[{**net, "gap": float(_gaps(net, 0.9)[1].max())},  # with the p a plotting loop left
                       {**net, "gap": float(hidden.max())},  # the hidden units only
                       {**net, "gap": float(both.mean())}])


# ---- augmentation -------------------------------------------------------------------------------

def _noisy_regression(N, d, seed):
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(N, d, generator=g, dtype=torch.float64), torch.randn(N, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    L = torch.tril(torch.randn(d, d, generator=g, dtype=torch.float64))
    return {"X": X, "y": y, "w": w, "Sigma": L @ L.T}


@_case("ex-augmentation-1")
def _():
    def formula(X, y, w, Sigma):
        return (y - X @ w).pow(2).sum() + len(y) * w @ Sigma @ w

    given, other = _noisy_regression(20, 3, seed=5), _noisy_regression(7, 2, seed=6)
    X, y, w, S = given.values()
    return Case({"X": _f64(30, 5), "y": _f64(30)}, {**given, "formula": formula(**given)},
                same=[{**given, "formula": float(formula(**given))}, {**other, "formula": formula(**other)},
                      {**given, "Sigma": torch.diag(S.diagonal()), "formula": formula(X, y, w, torch.diag(S.diagonal()))}],
                wrong=[{**given, "formula": (y - X @ w).pow(2).sum() + w @ S @ w},  # one row of noise
                       {**given, "formula": (y - X @ w).pow(2).sum() + len(y) * S.trace() * w @ w},  # isotropic
                       {**given, "formula": formula(**given) / len(y)},  # a mean, not a sum
                       {**given, "Sigma": -S, "formula": formula(X, y, w, -S)}])  # no covariance


@_case("ex-augmentation-2")
def _():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(40, 64, generator=g, dtype=torch.float64), torch.arange(40) % 10
    means = torch.stack([x[y == c].mean(0) for c in range(10)])
    images = means.reshape(10, 8, 8)
    dist = torch.cdist(images.flip(-1).reshape(10, 64), means)
    return Case({"digit_data": SimpleNamespace(x_train=x, y_train=y)}, {"dist": dist},
                same=[{"dist": dist.numpy()}, {"dist": dist.tolist()}],
                wrong=[{"dist": torch.cdist(images.flip(-2).reshape(10, 64), means)},  # upside down
                       {"dist": torch.cdist(means, means)},  # not mirrored
                       {"dist": torch.cdist(images.transpose(-1, -2).reshape(10, 64), means)},  # transposed
                       {"dist": dist**2}])


@_case("ex-augmentation-3")
def _():
    from sklearn.linear_model import Ridge

    def sk(X, y, alpha):
        return Ridge(alpha=alpha, fit_intercept=False).fit(X.numpy(), y.numpy()).coef_

    given, other = _noisy_regression(20, 3, seed=5), _noisy_regression(12, 4, seed=7)
    X, y, Xo, yo = given["X"], given["y"], other["X"], other["y"]
    data = {"X_fit": X, "y_fit": y}
    return Case({"X": X, "y": y}, {**data, "sk": sk(X, y, 20 * 0.7**2)},
                same=[{**data, "sk": torch.tensor(sk(X, y, 20 * 0.7**2))},
                      {"X_fit": Xo, "y_fit": yo, "sigma": 0.3, "sk": sk(Xo, yo, 12 * 0.3**2)}],
                wrong=[{**data, "sk": sk(X, y, 0.7**2)},  # the mean's weight
                       {**data, "sk": sk(X, y, 20 * 0.7)},  # sigma, not its square
                       {**data, "sk": sk(X, y, 20 * 0.7**2)[:2]}])


# ---- weight_noise -------------------------------------------------------------------------------

@functools.cache
def _linear_example():
    g = torch.Generator().manual_seed(0)
    X = 1.5 * torch.randn(8, 5, generator=g, dtype=torch.float64)
    w = torch.randn(5, generator=g, dtype=torch.float64)
    return X, X @ w + torch.randn(8, generator=g, dtype=torch.float64), w


@_case("ex-weight_noise-1")
def _():
    X, y, w = _linear_example()

    def formula(b, eta, bias_noise=1.0):
        return (X @ w + b - y).pow(2).mean() + eta * (X.pow(2).sum(-1) + bias_noise).mean()

    return Case({"X": X, "y": y, "w": w}, {"formula": formula(0.7, 0.2)},
                same=[{"formula": formula(0.7, 0.2).item()}, {"b": -1.3, "noise_var": 0.05, "formula": formula(-1.3, 0.05)}],
                wrong=[{"formula": formula(0.7, 0.2, bias_noise=0.0)},  # the bias's noise forgotten
                       {"formula": formula(0.7, 0.2**2)},  # eta read as a standard deviation
                       {"formula": formula(0.0, 0.2)}])


def _hessian_traces(net, x, biases=True):
    params = dict(net.named_parameters())
    names = [n for n in params if biases or "bias" not in n]

    def out(flat, xi):
        sizes = [params[n].numel() for n in names]
        new = {n: t.reshape(params[n].shape) for n, t in zip(names, torch.split(flat, sizes))}
        return torch.func.functional_call(net, {**params, **new}, (xi[None],))[0, 0]

    flat = torch.cat([params[n].detach().reshape(-1) for n in names])
    return torch.stack([torch.func.hessian(out)(flat, xi).diagonal().sum() for xi in x]).detach()


@_case("ex-weight_noise-2")
def _():
    from reglab.derivations import weight_noise as derivations

    net = derivations.tiny_network()[0]
    X_many, other = _f64(40, 3, seed=2), _f64(7, 3, seed=3)
    trace = _hessian_traces(net, X_many)
    input_hessian = torch.stack([torch.func.hessian(lambda v: net(v[None])[0, 0])(xi).trace() for xi in X_many]).detach()
    return Case({"net": net}, {"X_many": X_many, "trace": trace},
                same=[{"X_many": X_many, "trace": trace.numpy()}, {"X_many": other, "trace": _hessian_traces(net, other)}],
                wrong=[{"X_many": X_many, "trace": _hessian_traces(net, X_many, biases=False)},
                       {"X_many": X_many, "trace": input_hessian}, {"X_many": X_many, "trace": trace[:-1]}])


def _perturbed(net, X_tiny, eta, draws, seed):
    from reglab import perturbed_outputs

    shared = perturbed_outputs(net, X_tiny, eta, draws, generator=torch.Generator().manual_seed(seed)).reshape(draws, 4)
    per_example = torch.stack([perturbed_outputs(net, X_tiny[i:i + 1], eta, draws,
                                                 generator=torch.Generator().manual_seed(seed + 10 + i)).reshape(draws)
                               for i in range(4)], dim=1)
    return {"shared": shared, "per_example": per_example}


@_case("ex-weight_noise-3")
def _():
    from reglab.derivations import weight_noise as derivations

    net, X_tiny, y_tiny = derivations.tiny_network()
    right = _perturbed(net, X_tiny, 0.05, 100_000, seed=3)
    with torch.no_grad():
        clean = net(X_tiny).reshape(1, 4).expand(100_000, 4)
    return Case({"net": net, "X_tiny": X_tiny, "y_tiny": y_tiny}, right,
                same=[{k: v.numpy() for k, v in _perturbed(net, X_tiny, 0.05, 20_000, seed=40).items()},
                      {"eta_ex": 0.2, **_perturbed(net, X_tiny, 0.2, 50_000, seed=50)}],
                wrong=[{"shared": right["per_example"], "per_example": right["shared"]},  # the schemes swapped
                       {**right, "per_example": clean},  # no noise
                       _perturbed(net, X_tiny, 0.1, 100_000, seed=60),  # eta doubled
                       {**right, "shared": right["shared"][:500]}])


# ---- label_smoothing ----------------------------------------------------------------------------

@_case("ex-label_smoothing-1")
def _():
    y_hat = torch.tensor([0.05, 0.0, 0.02, 0.08, 0.05, 0.0, 0.8, 0.0, 0.0, 0.0], dtype=torch.float64)
    return Case({}, {"y_hat": y_hat}, same=[{"y_hat": y_hat.tolist()}, {"y_hat": np.float32(y_hat.numpy())}],
                wrong=[{"y_hat": [0.05, 0.0, 0.02, 0.08, 0.05, 0.8, 0.0, 0.0, 0.0, 0.0]},  # 0.8 left at index 5
                       {"y_hat": [0.05, 0.0, 0.02, 0.08, 0.05, 0.0, 0.8, 0.0]},  # eight entries
                       {"y_hat": (y_hat + 0.01) / (y_hat + 0.01).sum()}])  # no zero left


def _numeric_gap(k, e):
    import torch.nn.functional as F

    z = torch.zeros(1, k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([z], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z, torch.tensor([0]), label_smoothing=e)
        loss.backward()
        return loss

    opt.step(closure)
    return (z[0, 0] - z[0, 1:].mean()).item()


@_case("ex-label_smoothing-2")
def _():
    from reglab.derivations import label_smoothing as derivations

    numeric = _numeric_gap(10, 0.2)
    return Case({}, {"numeric": numeric},
                same=[{"numeric": math.log(1 + 10 * (1 - 0.2) / 0.2)},
                      {"k": 5, "e": 0.3, "numeric": _numeric_gap(5, 0.3)}],
                wrong=[{"numeric": derivations.optimal_logit_gap(0.2, 10)},  # e read as the lecture's eps
                       {"numeric": math.log(1 + 9 * (1 - 0.2) / 0.2)},
                       {"k": 5, "numeric": numeric}])


def _penalty_form(z, y, eps, convert=True, kl_reversed=False, inverse=False):
    from reglab.derivations import label_smoothing as derivations

    k = z.shape[1]
    e = derivations.pytorch_label_smoothing(eps, k) if convert else eps
    e = eps * (k - 1) / k if inverse else e
    logp = torch.log_softmax(z, -1)
    u = torch.full((k,), 1 / k, dtype=torch.float64)
    kl = (logp.exp() * (logp - math.log(1 / k))).sum(-1) if kl_reversed else (u * (math.log(1 / k) - logp)).sum(-1)
    return (1 - e) * (-logp.gather(1, y[:, None])[:, 0]) + e * (math.log(k) + kl)


@_case("ex-label_smoothing-3")
def _():
    g = torch.Generator().manual_seed(7)
    z, y = 2 * torch.randn(5, 10, generator=g, dtype=torch.float64), torch.randint(0, 10, (5,), generator=g)
    z4, y4 = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.tensor([0, 3, 1])
    given = {"z": z, "y": y}
    return Case({"eps": 0.1}, {**given, "penalty_form": _penalty_form(z, y, 0.2)},
                same=[{**given, "penalty_form": _penalty_form(z, y, 0.2).tolist()},
                      {"z": z4, "y": y4, "eps": 0.5, "penalty_form": _penalty_form(z4, y4, 0.5)}],
                wrong=[{**given, "penalty_form": _penalty_form(z, y, 0.2, convert=False)},
                       {**given, "penalty_form": _penalty_form(z, y, 0.2, kl_reversed=True)},
                       {**given, "penalty_form": _penalty_form(z, y, 0.2, inverse=True)}])  # converted backwards


# ---- multitask ----------------------------------------------------------------------------------

@_case("ex-multitask-1")
def _():
    def separate_count(d, h, k, T):
        return T * ((d + 1) * h + (h + 1) * k)

    def shared_count(d, h, k, T):
        return (d + 1) * h + T * (h + 1) * k

    return Case({}, {"separate_count": separate_count, "shared_count": shared_count},
                same=[{"separate_count": lambda d, h, k, T: torch.tensor(T * (d * h + h + h * k + k)),
                       "shared_count": lambda d, h, k, T: float(d * h + h + T * h * k + T * k)}],
                wrong=[{"separate_count": lambda d, h, k, T: T * (d * h + h * k), "shared_count": shared_count},
                       {"separate_count": separate_count, "shared_count": lambda d, h, k, T: T * (d + 1) * h + (h + 1) * k},
                       {"separate_count": separate_count, "shared_count": 2740}])


def _limit(problem):
    from reglab.derivations import multitask as derivations

    XA, yA, _, _ = problem
    return XA.T @ (yA - XA @ derivations.pooled_fit(*problem))


@_case("ex-multitask-2")
def _():
    from reglab.derivations import multitask as derivations

    problem = derivations.two_related_regressions(12, dim=4, seed=0)[0]
    other = derivations.two_related_regressions(9, dim=3, seed=1)[0]
    wa, wb = derivations.soft_sharing_solution(*problem, 10.0)
    _, _, XB, yB = problem
    return Case({}, {"problem": problem, "target": _limit(problem)},
                same=[{"problem": problem, "target": _limit(problem).numpy()}, {"problem": other, "target": _limit(other)}],
                wrong=[{"problem": problem, "target": 10.0 * (wa - wb)},  # at lambda = 10: not the limit
                       {"problem": problem, "target": -_limit(problem)},
                       {"problem": problem, "target": XB.T @ (yB - XB @ derivations.pooled_fit(*problem))}])


@_case("ex-multitask-3")
def _():
    shared = torch.tensor([0.88, 0.91, 0.85, 0.87, 0.90], dtype=torch.float64)
    separate = torch.tensor([0.48, 0.50, 0.47, 0.49, 0.46], dtype=torch.float64)
    right = {"res": {"shared": shared, "separate": separate, "parameters": {"shared": 100, "separate": 400}}}
    return Case({}, right, same=[{"res": {"shared": shared.tolist(), "separate": separate.numpy()}}],
                wrong=[{"res": {"shared": separate, "separate": shared}},  # the related tasks' outcome
                       {"res": {"shared": separate + 0.001 * torch.tensor([1, -1, 1, -1, 0]), "separate": separate}},
                       {"res": {"shared": shared[:1], "separate": separate[:1]}},
                       {"res": [shared, separate]}])


# ---- parameter_sharing --------------------------------------------------------------------------

@_case("ex-parameter_sharing-1")
def _():
    from reglab.derivations import parameter_sharing as derivations

    w3 = torch.tensor([0.3, -1.2, 0.7], dtype=torch.float64)
    M = derivations.conv1d_as_matrix(w3, 40, padding="same")
    M30 = derivations.conv1d_as_matrix(w3, 31, padding="same")[::2]
    return Case({}, {"w3": w3, "M_strided": M[::2]},
                same=[{"w3": w3.tolist(), "M_strided": M[::2].numpy()}, {"w3": w3, "M_strided": M30}],
                wrong=[{"w3": w3, "M_strided": M[1::2]}, {"w3": w3, "M_strided": M},
                       {"w3": w3, "M_strided": derivations.conv1d_as_matrix(w3.flip(0), 40, padding="same")[::2]}])


def _pooled_changes(kernels, signal, circular_shifts_for_zero=False):
    from reglab.derivations import parameter_sharing as derivations

    def pooled(v, padding):
        return torch.relu(derivations.conv1d_reference(v, kernels, padding=padding)).mean(-1)

    base, base_zero = pooled(signal, "circular"), pooled(signal, "same")
    circular = max(float((pooled(derivations.shift(signal, s), "circular") - base).abs().max()) for s in range(-39, 40))
    zero = max(float((pooled(derivations.shift(signal, s, circular=circular_shifts_for_zero), "same")
                      - base_zero).abs().max()) for s in range(-10, 11))
    return {"circular_change": circular, "zero_change": zero}


@_case("ex-parameter_sharing-2")
def _():
    kernels, signal = _f64(8, 1, 5, seed=0), _f64(1, 1, 40, seed=1)
    right = _pooled_changes(kernels, signal)
    fewer = {"kernels": _f64(4, 1, 3, seed=2), "signal": signal}
    return Case({"data": SimpleNamespace(x_train=_f64(5, 40))}, {"kernels": kernels, "signal": signal, **right},
                same=[{"kernels": kernels, "signal": signal[0, 0], **right}, {**fewer, **_pooled_changes(**fewer)}],
                wrong=[{"kernels": kernels, "signal": signal, "circular_change": right["zero_change"],
                        "zero_change": right["circular_change"]},
                       {"kernels": kernels, "signal": signal, **_pooled_changes(kernels, signal, True)},
                       {"kernels": kernels, "signal": signal, **right, "zero_change": 0.0}])


# ---- sparse_representations ---------------------------------------------------------------------

def _rule_counts(trials):
    from reglab.derivations import sparse_representations as derivations

    g = torch.Generator().manual_seed(5)
    Q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    W = Q * torch.tensor([0.2, 0.5, 1.0, 2.0, 4.0, 8.0], dtype=torch.float64)
    counts = {"wrong": 0, "right": 0}
    for _ in range(trials):
        x = torch.randn(6, generator=g, dtype=torch.float64)
        best = derivations.sparse_residual(W, x, derivations.best_k_sparse(W, x, 2))
        c = W.T @ x
        for scores, name in [(c.abs(), "wrong"), (c.abs() / W.norm(dim=0), "right")]:
            S = scores.topk(2).indices
            h = torch.zeros(6, dtype=torch.float64)
            h[S] = torch.linalg.lstsq(W[:, S], x.unsqueeze(1)).solution.squeeze(1)
            counts[name] += bool(derivations.sparse_residual(W, x, h) <= best + 1e-10)
    return {"right_rule": counts["right"], "wrong_rule": counts["wrong"]}


@_case("ex-sparse_representations-1")
def _():
    right = _rule_counts(200)
    return Case({}, right, same=[{"trials": 40, **_rule_counts(40)}, {k: float(v) for k, v in right.items()}],
                wrong=[{**right, "right_rule": 199}, {**right, "wrong_rule": 200},
                       {"right_rule": right["wrong_rule"], "wrong_rule": right["right_rule"]},
                       {**right, "right_rule": 1.0}])  # a fraction, not a count


@_case("ex-sparse_representations-2")
def _():
    from reglab.derivations import sparse_representations as derivations

    W = torch.cat([torch.eye(40, dtype=torch.float64), derivations.dct_dictionary(40)], dim=1)
    mu = (W.T @ W - torch.eye(80, dtype=torch.float64)).abs().max().item()
    return Case({}, {"mu": mu}, same=[{"mu": math.sqrt(2 / 40)}, {"mu": torch.tensor(mu)}],
                wrong=[{"mu": 1 / math.sqrt(40)}, {"mu": (W.T @ W).abs().max().item()}, {"mu": mu**2}])


def _among_alive(hidden_layers, seeds, alive_only=True):
    hidden = torch.cat(hidden_layers, dim=-1)
    alive = (hidden > 0).any(dim=1) if alive_only else torch.ones(hidden.shape[0], hidden.shape[2], dtype=torch.bool)
    off = (hidden == 0).double()
    fraction = (off * alive.unsqueeze(1)).sum(dim=(1, 2)) / (alive.sum(1) * hidden.shape[1])
    return fraction.reshape(-1, seeds).numpy()


@_case("ex-sparse_representations-3")
def _():
    layers = [torch.relu(_f64(6, 20, 4, seed=1) - 0.8), torch.relu(_f64(6, 20, 3, seed=2) - 0.5)]
    layers[0][:, :, 1] = 0.0  # a dead unit in every network
    chapter = {"sweep": {"hidden": layers}, "config": SimpleNamespace(seeds=2)}
    right = _among_alive(layers, 2)
    return Case(chapter, {"among_alive": right}, same=[{"among_alive": right.tolist()}],
                wrong=[{"among_alive": _among_alive(layers, 2, alive_only=False)},  # dead units counted
                       {"among_alive": right.T}, {"among_alive": right.mean(1)}])


@functools.cache
def _sweeps():
    from reglab import TrainConfig
    from reglab.experiments import sparse_representations as experiments

    data = _tiny_data()
    train = TrainConfig(epochs=2, lr=0.01, batch_size=20, optimizer="adam", seed=0)
    config = experiments.SparsityConfig(alphas=(0.0, 0.02), seeds=2, sizes=(5, 6, 6, 3), train=train)
    sweep = experiments.activation_penalty_sweep(data, config)
    strong = experiments.activation_penalty_sweep(data, experiments.SparsityConfig(alphas=(0.05,), seeds=2,
                                                                                 sizes=(5, 6, 6, 3), train=train))
    return data, sweep, strong


def _objective_parts_on(x, y, seeds, summed=False, run=True):
    from reglab import evaluate_stacked

    def objective_parts(result):
        last = slice(-seeds, None) if len(result["alphas"]) > 1 else slice(None)
        model = result["model"]
        ce = evaluate_stacked(model, x, y)["loss"][last].mean().item() if run else 0.0
        h = torch.cat(model.hidden, dim=-1)[last].abs().sum(-1)
        return ce, (h.sum(-1) if summed else h.mean(-1)).mean().item()

    return objective_parts


@_case("ex-sparse_representations-4")
def _():
    import torch.nn.functional as F

    data, sweep, strong = _sweeps()

    def by_hand(result):
        model = result["model"]
        logits = model(data.x_train)
        members = range(len(result["alphas"]) * 2 - 2, len(result["alphas"]) * 2)
        ce = np.mean([F.cross_entropy(logits[m], data.y_train).item() for m in members])
        return ce, torch.cat(model.hidden, dim=-1)[-2:].abs().sum(-1).mean().item()

    chapter = {"sweep": sweep, "data": data, "config": SimpleNamespace(seeds=2)}
    return Case(chapter, {"strong": strong, "objective_parts": _objective_parts_on(data.x_train, data.y_train, 2)},
                same=[{"strong": strong, "objective_parts": by_hand}],
                wrong=[{"strong": strong, "objective_parts": _objective_parts_on(data.x_test, data.y_test, 2)},
                       {"strong": strong, "objective_parts": _objective_parts_on(data.x_train, data.y_train, 2, summed=True)},
                       {"strong": strong, "objective_parts": lambda result: result["accuracy"]},
                       {"strong": {"alphas": [0.05]}, "objective_parts": by_hand}])


# ---- adversarial_training -----------------------------------------------------------------------

@functools.cache
def _attacked():
    from reglab import StackedMLP, TrainConfig, fit_stacked
    from reglab.experiments.adversarial_training import one_member

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(60, 64, generator=g, dtype=torch.float64), torch.randint(0, 10, (60,), generator=g)
    stack = StackedMLP(3, (64, 16, 10), seed=0, dtype=torch.float64)
    fit_stacked(stack, x, y, config=TrainConfig(epochs=5, lr=0.05, batch_size=20, optimizer="adam", seed=0))
    return {"seed0": one_member(stack, 0), "robust": stack, "X_test": x, "y_test": y, "INDEX": 3}


def _smallest(model, x, label, targeted=True):
    import torch.nn.functional as F
    from reglab import pgd

    goals = torch.tensor([g for g in range(10) if g != int(label)])
    smallest = {}
    for eps in np.round(np.arange(0.02, 0.4001, 0.02), 2):
        loss_fn = (lambda logits, goal: -F.cross_entropy(logits, goal, reduction="sum")) if targeted else None
        x_goal = pgd(model, x.expand(len(goals), -1), goals if targeted else torch.full_like(goals, int(label)),
                     float(eps), step_size=float(eps) / 8, steps=30, clamp=(0, 1),
                     generator=torch.Generator().manual_seed(0), loss_fn=loss_fn)
        with torch.no_grad():
            predicted = model(x_goal).argmax(-1)
        for g, p in zip(goals.tolist(), predicted.tolist()):
            if (p == g if targeted else p != int(label)) and g not in smallest:
                smallest[g] = float(eps)
    return smallest


@_case("ex-adversarial_training-1")
def _():
    chapter = _attacked()
    model, x, label = chapter["seed0"], chapter["X_test"][3], chapter["y_test"][3]
    smallest = _smallest(model, x, label)
    assert len(smallest) >= 3 and len(set(smallest.values())) >= 2, "the tiny network must make the goals differ"
    shifted = {g: round(eps + 0.1, 2) for g, eps in smallest.items()}
    return Case(chapter, {"smallest": smallest},
                same=[{"smallest": {torch.tensor(g): np.float32(eps) for g, eps in smallest.items()}},
                      {"smallest": {g: min(eps + 0.02, 0.4) for g, eps in smallest.items()}}],
                wrong=[{"smallest": shifted}, {"smallest": {}},
                       {"smallest": {**smallest, int(label): 0.02}},  # the true class is no goal
                       {"smallest": list(smallest.values())}])


def _input_gradients(model, x, y, reduction="sum"):
    import torch.nn.functional as F

    x_req = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(x_req), y, reduction=reduction), x_req)
    return g


@_case("ex-adversarial_training-2")
def _():
    chapter = _attacked()
    g = _input_gradients(chapter["seed0"], chapter["X_test"], chapter["y_test"])
    ratio = g.abs().sum(1) / g.norm(dim=1)
    g_mean = _input_gradients(chapter["seed0"], chapter["X_test"], chapter["y_test"], reduction="mean")
    ratio_mean = g_mean.abs().sum(1) / g_mean.norm(dim=1)
    return Case(chapter, {"l1_over_l2": ratio, "predicted": ratio / math.sqrt(2 / math.pi)},
                same=[{"l1_over_l2": ratio_mean, "predicted": (ratio_mean / math.sqrt(2 / math.pi)).numpy()}],
                wrong=[{"l1_over_l2": 1 / ratio, "predicted": ratio / math.sqrt(2 / math.pi)},
                       {"l1_over_l2": ratio, "predicted": ratio},
                       {"l1_over_l2": ratio, "predicted": ratio * math.sqrt(2 / math.pi)}])


def _fgsm_accuracies(model, x, y, eps):
    from reglab import fgsm

    with torch.no_grad():
        predicted_labels = model(x).argmax(-1)
    out = {}
    for name, labels in (("acc_true", y), ("acc_pred", predicted_labels)):
        x_adv = fgsm(model, x, labels, eps, clamp=(0, 1))
        with torch.no_grad():
            out[name] = (model(x_adv).argmax(-1) == y).double().mean(1).numpy()
    return out


@_case("ex-adversarial_training-3")
def _():
    chapter = _attacked()
    model, x, y = chapter["robust"], chapter["X_test"], chapter["y_test"]
    right = _fgsm_accuracies(model, x, y, 0.1)
    with torch.no_grad():
        clean = (model(x).argmax(-1) == y).double().mean(1).numpy()
    assert abs(right["acc_true"] - right["acc_pred"]).max() > 0.02 and abs(clean - right["acc_true"]).max() > 0.02
    return Case(chapter, right, same=[{k: v.tolist() for k, v in right.items()}],
                wrong=[{"acc_true": right["acc_pred"], "acc_pred": right["acc_true"]},
                       _fgsm_accuracies(model, x, y, 0.3),  # another eps than the statement's
                       {"acc_true": clean, "acc_pred": clean}])
