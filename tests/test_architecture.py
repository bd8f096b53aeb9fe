"""The library's house rules: no import cycle, rooms of a readable size, three wings per chapter.

BOOK_SPEC section 5 and STYLE 20-23: imports go one way (base modules, mechanisms, derivations,
experiments, the page); no module imports its own package from below; every chapter of _toc.yml
has one module in each wing; an experiment is registered where it is run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"
PACKAGE = LIB / "reglab"
MAX_LINES = 500
WINGS = ("derivations", "experiments", "exercises")
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = sorted(
    Path(e["file"]).name for part in TOC["parts"] for e in part["chapters"] if "/appendix/" not in e["file"]
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIB).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The reglab modules that module ``name`` imports at module level (functions' bodies aside)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in tree.body:
        nodes = [node]
        if isinstance(node, (ast.If, ast.Try)):
            nodes = list(ast.walk(node))
        for n in nodes:
            if isinstance(n, ast.Import):
                found |= {a.name for a in n.names if a.name.startswith("reglab")}
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    base = here.split(".")
                    base = base[: len(base) - (n.level - 1)]
                    target = ".".join(base + ([n.module] if n.module else []))
                else:
                    target = n.module or ""
                if not target.startswith("reglab"):
                    continue
                for alias in n.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def test_no_module_imports_its_own_package_from_below():
    offenders = []
    for name, targets in GRAPH.items():
        for target in targets:
            if _is_package(target) and (name.startswith(target + ".")):
                offenders.append(f"{name} imports its own package {target}")
    assert not offenders, offenders


def test_no_import_cycle():
    # A package's __init__ importing its own submodules is the top-down direction; leave those
    # edges out, then every remaining cycle is a real one.
    edges = {n: {t for t in ts if not (_is_package(n) and t.startswith(n + "."))} for n, ts in GRAPH.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for t in sorted(edges[node]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[node] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [n])
    assert not cycles, cycles


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_library_module_over_500_lines(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES}); split it by concern"


@pytest.mark.parametrize("wing", WINGS)
def test_each_wing_has_one_module_per_chapter(wing):
    have = sorted(p.stem for p in (PACKAGE / wing).glob("*.py") if not p.stem.startswith("_"))
    extra = {"derivations": {"compare", "registry"}, "experiments": set(), "exercises": {"core"}}[wing]
    assert sorted(set(have) - extra) == CHAPTERS


def test_experiments_are_registered_where_they_run():
    import reglab  # noqa: F401 (registers both wings)
    from reglab.derivations import ledger

    for path in (PACKAGE / "derivations").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "experiment"]
        assert not calls, f"{path.name} registers an experiment; register it in experiments/{path.name}"
    for result in ledger():
        if result.kind == "experiment":
            source = (PACKAGE / "experiments" / f"{result.chapter}.py").read_text(encoding="utf-8")
            assert f'"{result.id}"' in source, f"{result.id} is not registered in experiments/{result.chapter}.py"
