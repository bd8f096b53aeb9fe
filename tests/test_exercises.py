"""reglab.exercises: the self-checks of the book's exercises (checks that need a chapter's state
are exercised by tests/test_student.py, which runs the student notebooks)."""
import doctest
import math
import pkgutil
import sys
from pathlib import Path

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


def test_every_exercise_states_its_reference_and_tolerances():
    for ex in exercises():
        if ex.answers:
            assert ex.reference and all(a.tolerance and a.hint and a.what for a in ex.answers), ex.label
            assert check_call(ex.label).startswith(f'check_exercise("{ex.label}", ')
        else:
            assert ex.written, f"{ex.label}: an exercise without answers must say why"


@pytest.mark.parametrize("label,right,wrong,hidden", [
    ("ex-early_stopping-2", {"tau_half": 693}, {"tau_half": 692}, "693"),
    ("ex-sparse_representations-2", {"mu": math.sqrt(2 / 40)}, {"mu": 1 / math.sqrt(40)}, "0.223"),
    ("ex-bagging-1", {"c_ex": -0.5}, {"c_ex": -2.0}, "-0.5"),
    ("ex-weight_decay-1", {"exact": math.log(2) / -math.log(1 - 5e-4), "steps": 1386},
     {"exact": math.log(2) / 5e-4, "steps": 1386}, "1385.9"),
    ("ex-label_smoothing-2", {"numeric": math.log(1 + 10 * 0.8 / 0.2)}, {"numeric": math.log(0.8 * 9 / 0.2)}, "3.71"),
])
def test_right_answer_is_correct_and_a_plausible_mistake_is_not(label, right, wrong, hidden, capsys):
    inputs = {"ex-early_stopping-2": {"lr": 0.05, "lam": 0.02}, "ex-bagging-1": {"v": 2.0, "k": 5},
              "ex-weight_decay-1": {"lr": 0.05, "alpha": 1e-2}, "ex-label_smoothing-2": {"k": 10, "e": 0.2}}.get(label, {})
    assert check_exercise(label, **right, **inputs).passed
    assert capsys.readouterr().out == "correct\n"
    result = check_exercise(label, **wrong, **inputs)
    out = capsys.readouterr().out
    assert not result.passed and out.startswith("not yet: ") and hidden not in out, out


def test_functions_are_checked_by_calling_them():
    def elastic_net(w_star, h, a1, a2):
        return math.copysign(max(abs(w_star) - a1 / h, 0.0), w_star) * h / (h + a2)

    assert check_exercise("ex-l1_penalty-1", elastic_net=elastic_net)
    assert not check_exercise("ex-l1_penalty-1", elastic_net=lambda w, h, a1, a2: elastic_net(w, h, a1, 0.0))
    result = check_exercise("ex-l1_penalty-1", elastic_net=lambda *args: 1 / 0)
    assert "ZeroDivisionError" in result.message


def test_counts_of_the_multitask_exercise():
    assert check_exercise("ex-multitask-1", separate_count=lambda d, h, k, T: T * ((d + 1) * h + (h + 1) * k),
                          shared_count=lambda d, h, k, T: (d + 1) * h + T * (h + 1) * k)
    result = check_exercise("ex-multitask-1", separate_count=lambda d, h, k, T: T * (d * h + h * k),
                            shared_count=lambda d, h, k, T: (d + 1) * h + T * (h + 1) * k)
    assert result.not_yet == ("separate_count",)


def test_wrong_shapes_and_types_are_not_yet_not_errors():
    assert "shape" in check_exercise("ex-label_smoothing-1", y_hat=[0.1] * 8).message
    assert "numbers" in check_exercise("ex-label_smoothing-1", y_hat="0.8").message
    assert "NaN" in check_exercise("ex-label_smoothing-1", y_hat=[float("nan")] * 10).message
    assert "not given yet" in check_exercise("ex-label_smoothing-1", y_hat=...).message
    # an input the stub leaves as ... is named by the notebook variable the student must define
    assert "define eps_one first" in check_exercise("ex-early_stopping-2", tau_half=693, lr=..., lam=0.02).message


def test_the_lecture_vector_completed():
    assert check_exercise("ex-label_smoothing-1", y_hat=torch.tensor([0.05, 0, 0.02, 0.08, 0.05, 0, 0.8, 0, 0, 0]))
    assert not check_exercise("ex-label_smoothing-1", y_hat=[0.05, 0, 0.02, 0.08, 0.05, 0.8, 0, 0, 0, 0])


def test_planted_answers_are_rejected():
    right = {"tau_half": 693}
    assert planted_answer("ex-early_stopping-2", **right) == {"tau_half": 694}
    assert not check_exercise("ex-early_stopping-2", **planted_answer("ex-early_stopping-2", **right), lr=0.05, lam=0.02)
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
    with pytest.raises(TypeError, match="lam"):
        check_exercise("ex-early_stopping-2", tau_half=693, lr=0.05)
    with pytest.raises(TypeError, match="steps"):
        check_exercise("ex-early_stopping-2", tau_half=693, lr=0.05, lam=0.02, steps=3)
    with pytest.raises(TypeError, match="tau_half"):
        planted_answer("ex-early_stopping-2", tau=693)


def test_bad_inputs_rejected_with_their_name():
    with pytest.raises(TypeError, match="lr"):
        check_exercise("ex-early_stopping-2", tau_half=693, lr="fast", lam=0.02)
    with pytest.raises(TypeError, match="kernel"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), kernel="w3")


def test_exercises_answered_in_words_have_no_check():
    written = [e for e in exercises() if not e.answers]
    assert [e.label for e in written] == ["ex-parameter_sharing-3"]
    with pytest.raises(ValueError, match="words"):
        check_exercise("ex-parameter_sharing-3")
    with pytest.raises(ValueError, match="words"):
        check_call("ex-parameter_sharing-3")
    with pytest.raises(ValueError, match="words"):
        planted_answer("ex-parameter_sharing-3")


def test_records_validate_their_fields():
    with pytest.raises(ValueError, match="name"):
        Answer("not an identifier", "what", "hint", "exact")
    with pytest.raises(ValueError, match="label"):
        Exercise(label="dropout-2", chapter="dropout", answers=(), inputs={}, reference="")
    with pytest.raises(TypeError, match="passed"):
        ExerciseResult(label="ex-dropout-1", passed="yes")


def test_non_finite_or_misshapen_inputs_rejected_with_their_name():
    with pytest.raises(ValueError, match="lr"):
        check_exercise("ex-early_stopping-2", tau_half=693, lr=float("nan"), lam=0.02)
    with pytest.raises(ValueError, match="kernel must have 1 dimensions"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), kernel=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="kernel must contain only finite values"):
        check_exercise("ex-parameter_sharing-1", M_strided=torch.zeros(20, 40), kernel=[1.0, float("inf"), 0.0])


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


def _examples():
    import reglab.exercises.core  # noqa: F401

    finder = doctest.DocTestFinder()
    names = [n for n in sys.modules if n == "reglab.exercises" or n.startswith("reglab.exercises.")]
    return [ex for n in names for test in finder.find(sys.modules[n]) for ex in test.examples]


def test_no_docstring_example_shows_a_right_answer():
    # help(check_exercise) and the reference pages must never reveal an exercise's answer.
    examples = _examples()
    assert any("check_exercise(" in ex.source for ex in examples)
    for ex in examples:
        if "check_exercise(" in ex.source:
            assert "correct" not in ex.want.replace("not yet", "").split(), ex.source
            assert "True" not in ex.want.split(), ex.source
