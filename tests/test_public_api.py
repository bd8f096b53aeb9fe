"""The public API: declared, importable, and every public name has a bad-input test.

A name counts as covered when some test function in tests/ refers to it (in its body or its
parametrization) and expects an exception with ``pytest.raises``. Names that take no user input are listed in
NO_INPUT with the reason.
"""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

import reglab

TESTS = Path(__file__).resolve().parent

# Public names that accept no argument a user could get wrong.
NO_INPUT = {
    "COLORS": "a constant dictionary of colours",
    "use_book_style": "takes no arguments",
    "History": "a plain record filled in by the training loops",
    "BaggedModels": "a record returned by fit_bagged, not built by users",
    "ErrorMoments": "a record returned by error_moments, not built by users",
}

# Closed forms named in the library's public contract (BOOK_SPEC section 5).
CONTRACT = {
    "weight_decay": ["l2_solution", "shrink_factors"],
    "l1_penalty": ["l1_solution"],
    "bagging": ["ensemble_mse"],
    "dropout": ["dropout_linear_objective", "dropout_ridge_solution"],
    "early_stopping": ["equivalent_alpha"],
    "adversarial_training": ["linear_fgsm_shift"],
}


def _covered_names() -> set[str]:
    covered: set[str] = set()
    for path in TESTS.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test"):
                continue
            # pytest.raises(ValueError | TypeError | a parametrized exception class)
            raises = any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "raises"
                for n in ast.walk(node)
            )
            if raises:
                for n in ast.walk(node):
                    if isinstance(n, ast.Name):
                        covered.add(n.id)
                    elif isinstance(n, ast.Attribute):
                        covered.add(n.attr)
                    elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                        covered.add(n.value)
    return covered


COVERED = _covered_names()


def test_all_is_declared_without_duplicates():
    assert len(reglab.__all__) == len(set(reglab.__all__)), "a public name is exported twice"
    for name in reglab.__all__:
        assert hasattr(reglab, name), f"reglab.__all__ lists {name}, which reglab does not define"


@pytest.mark.parametrize("name", sorted(reglab.__all__))
def test_public_name_has_a_bad_input_test(name):
    if name in NO_INPUT:
        return
    obj = getattr(reglab, name)
    if not callable(obj):
        pytest.fail(f"{name} is public data; add it to NO_INPUT with a reason or make it private")
    assert name in COVERED, f"no test calls {name} with bad input and expects ValueError/TypeError"


@pytest.mark.parametrize("chapter,name", [(c, n) for c, names in CONTRACT.items() for n in names])
def test_contract_closed_form_exists_and_has_a_bad_input_test(chapter, name):
    module = importlib.import_module(f"reglab.derivations.{chapter}")
    assert callable(getattr(module, name, None)), f"reglab.derivations.{chapter}.{name} is missing"
    assert name in COVERED, f"no test calls {name} with bad input and expects ValueError/TypeError"


@pytest.mark.parametrize("name", sorted(reglab.__all__))
def test_public_name_is_documented(name):
    obj = getattr(reglab, name)
    if name in NO_INPUT and not callable(obj):
        return
    doc = inspect.getdoc(obj)
    assert doc and len(doc.split()) >= 5, f"{name} needs a docstring"


# --- every public callable, fed nonsense for its required arguments --------------------------

BAD_VALUES = {
    "None": None,
    "a string": "not a value",
    "NaN": float("nan"),
    "a negative integer": -3,
    "a NaN tensor": "NAN_TENSOR",
}


def _required(obj) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


WALK = [(name, label) for name in sorted(reglab.__all__)
        if name not in NO_INPUT and callable(getattr(reglab, name)) and _required(getattr(reglab, name))
        for label in BAD_VALUES]


@pytest.mark.parametrize("name,label", WALK)
def test_nonsense_is_rejected_at_the_entry_point_naming_the_argument(name, label):
    import torch

    obj = getattr(reglab, name)
    params = _required(obj)
    value = torch.full((3, 4), float("nan")) if BAD_VALUES[label] == "NAN_TENSOR" else BAD_VALUES[label]
    args = [value for p in params if p.kind is not p.KEYWORD_ONLY]
    kwargs = {p.name: value for p in params if p.kind is p.KEYWORD_ONLY}
    if label == "a NaN tensor":
        # Elementwise operations may propagate NaN (as torch's do); they must not fail from inside.
        try:
            obj(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            info = pytest.ExceptionInfo.from_exception(exc)
        else:
            return
    else:
        with pytest.raises((ValueError, TypeError)) as info:
            obj(*args, **kwargs)
    message = str(info.value)
    assert any(p.name in message for p in params), (
        f"{name}({label} for {[p.name for p in params]}) raised {type(info.value).__name__}: "
        f"{message!r}, which names none of the arguments"
    )
