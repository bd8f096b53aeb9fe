"""What keeps a kernel's start and the planted errors cheap: lazy imports, kept solver results."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from reglab._lazy import lazy_module
from reglab.derivations._memo import deterministic
from reglab.derivations.label_smoothing import minimise_logits

HEAVY = ("sympy", "scipy.stats", "scipy.optimize", "scipy.spatial", "scipy.fft")


def test_importing_reglab_runs_none_of_the_heavy_modules():
    # In a fresh interpreter: each heavy module is absent or a lazy module whose code has not run.
    code = (
        "import sys, reglab\n"
        "from reglab import derivations, experiments, exercises\n"
        f"print([n for n in {HEAVY!r} if n in sys.modules and type(sys.modules[n]).__name__ != '_LazyModule'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"imported with reglab: {out.strip()}"


def test_a_lazy_module_is_the_module_once_used():
    code = (
        "import sys\n"
        "from reglab._lazy import lazy_module\n"
        "sp = lazy_module('sympy')\n"
        "assert type(sp).__name__ == '_LazyModule'\n"
        "x = sp.Symbol('x')\n"
        "import sympy\n"
        "assert sympy is sp and sympy.expand((x + 1) ** 2) == x**2 + 2 * x + 1\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_lazy_module_rejects_what_is_not_a_module_name():
    with pytest.raises(TypeError, match="name must be a module name"):
        lazy_module(3)
    with pytest.raises(ModuleNotFoundError, match="no_module_of_that_name"):
        lazy_module("no_module_of_that_name")
    assert lazy_module("math") is sys.modules["math"]  # already imported: itself


def _counted():
    calls = []

    @deterministic(maxsize=2)
    def f(x, *, scale=1.0):
        calls.append(1)
        return x * scale, [x.sum()]

    return f, calls


def test_a_kept_result_is_computed_once_per_argument_value():
    f, calls = _counted()
    first = f(torch.arange(3.0), scale=2.0)
    again = f(torch.arange(3.0), scale=2.0)  # another tensor, the same values
    assert len(calls) == 1
    torch.testing.assert_close(again[0], first[0], rtol=0, atol=0)
    f(torch.arange(3.0), scale=3.0)
    f(torch.arange(3, dtype=torch.float64), scale=2.0)
    f(torch.tensor([0.0, 1.0, 5.0]), scale=2.0)
    assert len(calls) == 4  # another keyword, dtype or value: computed anew


def test_a_kept_result_cannot_be_changed_through_a_copy():
    f, _ = _counted()
    out, (total,) = f(torch.ones(2))
    out += 10
    total += 10
    out, (total,) = f(torch.ones(2))
    assert out.tolist() == [1.0, 1.0] and total.item() == 2.0


def test_only_the_last_results_are_kept_and_unkeyable_calls_are_not():
    f, calls = _counted()
    for v in (1.0, 2.0, 3.0, 1.0):  # maxsize 2: 1.0 is gone by the fourth call
        f(torch.tensor([v]))
    assert len(calls) == 4
    g_calls = []

    @deterministic
    def g(n, generator=None):
        g_calls.append(1)
        return torch.rand(n, generator=generator)

    gen = torch.Generator().manual_seed(0)
    assert not torch.equal(g(3, generator=gen), g(3, generator=gen))  # a generator: not kept
    assert len(g_calls) == 2
    a = np.arange(4.0)
    assert deterministic(np.flip)(a).tolist() == [3.0, 2.0, 1.0, 0.0]


def test_deterministic_rejects_bad_arguments():
    with pytest.raises(TypeError, match="fn must be callable"):
        deterministic(3)
    with pytest.raises(ValueError, match="maxsize must be an int >= 1, but got 0"):
        deterministic(maxsize=0)(abs)


def test_a_kept_solver_gives_what_a_fresh_run_gives():
    kept = minimise_logits(0.1, 10)
    fresh = minimise_logits.__wrapped__(0.1, 10)
    torch.testing.assert_close(kept, fresh, rtol=0, atol=0)
