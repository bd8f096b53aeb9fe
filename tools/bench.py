"""Measure the book's budgets (BOOK_SPEC section 6), side by side in one run.

Usage: python tools/bench.py [--skip-notebooks] [--repeats N]

1. Every notebook executed afresh, each in a kernel of its own (a temporary copy; the book is
   not touched): wall time and the kernel's peak resident memory, against 40 s and 1.5 GB each,
   and the book's total against 200 s.
2. The library against what it teaches or replaces, timed alternately in one process and
   reported as medians of repeats:
   - ``dropout`` vs ``torch.nn.functional.dropout`` (budget: ratio <= 1.2),
   - ``omp`` vs scikit-learn's ``orthogonal_mp`` (budget: ratio <= 1.0),
   - ``l2_penalty`` over a whole model vs a plain loop over its weight tensors,
   - 5 seeds trained as one stacked model vs 5 sequential runs (a speed-up factor).
Exit status 1 if a budget is missed.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent

from tools.execute_notebooks import execute, find_notebooks

NOTEBOOK_SECONDS = 40.0
BOOK_SECONDS = 200.0
NOTEBOOK_MB = 1536.0


def _interleaved(first, second, repeats: int) -> tuple[float, float]:
    """Median seconds of two callables, alternating which runs first."""
    a, b = [], []
    first(), second()  # warm up
    for i in range(repeats):
        order = (first, second) if i % 2 == 0 else (second, first)
        for fn in order:
            start = time.perf_counter()
            fn()
            (a if fn is first else b).append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def bench_penalty(repeats: int) -> dict:
    from reglab.penalties import l2_penalty

    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(256, 256) for _ in range(8)])
    params = [p for p in model.parameters() if p.dim() >= 2]

    def loop():
        total = torch.zeros(())
        for p in params:
            total = total + (p * p).sum()
        return 0.5 * total

    ours, ref = _interleaved(lambda: l2_penalty(model), loop, repeats)
    return {"name": "l2_penalty(model) vs a loop over weights (8 x 256x256)", "ours": ours, "ref": ref, "budget": 1.5}


def bench_seeds(repeats: int) -> dict:
    from reglab.data import mnist1d
    from reglab.training import StackedMLP, TrainConfig, fit_stacked

    data = mnist1d()
    config = TrainConfig(epochs=3, lr=0.05, batch_size=100)

    def stacked():
        model = StackedMLP(5, (40, 100, 100, 10), seed=0, dtype=torch.float64)
        fit_stacked(model, data.x_train, data.y_train, config=config)

    def sequential():
        for seed in range(5):
            model = StackedMLP(1, (40, 100, 100, 10), seed=seed, dtype=torch.float64)
            fit_stacked(model, data.x_train, data.y_train, config=config)

    ours, ref = _interleaved(stacked, sequential, max(1, repeats // 5))
    return {"name": "5 seeds as one stacked model vs 5 sequential runs (3 epochs MNIST-1D)", "ours": ours, "ref": ref,
            "budget": None}


def library_rows(repeats: int) -> list[dict]:
    rows = []
    try:
        from tools.bench_dropout import bench_dropout

        r = bench_dropout(repeats=repeats)
        rows.append({"name": r["name"] + " vs F.dropout", "ours": r["ours_s"], "ref": r["torch_s"], "budget": 1.2})
    except ImportError as exc:
        rows.append({"name": f"dropout: not measured ({exc})", "ours": None, "ref": None, "budget": 1.2})
    try:
        from tools.bench_omp import bench_omp

        r = bench_omp(repeats=repeats)
        rows.append({"name": f"omp vs orthogonal_mp: {r['problem']}", "ours": r["ours_ms"] / 1e3,
                     "ref": r["reference_ms"] / 1e3, "budget": 1.0})
    except ImportError as exc:
        rows.append({"name": f"omp: not measured ({exc})", "ours": None, "ref": None, "budget": 1.0})
    rows.append(bench_penalty(repeats))
    rows.append(bench_seeds(repeats))
    return rows


def notebook_rows() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "book"
        shutil.copytree(ROOT / "book", copy, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
        shutil.copy(ROOT / "_toc.yml", Path(tmp) / "_toc.yml")  # the results ledger reads the chapter order
        for nb in find_notebooks([str(copy)]):
            m = execute(nb)
            rows.append({"notebook": nb.relative_to(copy).as_posix(), **m})
            print(f"  {rows[-1]['notebook']}: {m['seconds']} s, {m['peak_memory_mb']} MB", flush=True)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    ok = True
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if not args.skip_notebooks:
        print("Notebooks, executed afresh:")
        rows = notebook_rows()
        print(
            f"\n| notebook | time (s) | peak memory (MB) | budget ({NOTEBOOK_SECONDS:g} s, {NOTEBOOK_MB:g} MB) |"
            "\n| --- | ---: | ---: | --- |"
        )
        for r in rows:
            within = r["seconds"] <= NOTEBOOK_SECONDS and (r["peak_memory_mb"] or 0) <= NOTEBOOK_MB
            ok &= within
            print(f"| {r['notebook']} | {r['seconds']:.1f} | {r['peak_memory_mb']} | {'ok' if within else 'MISSED'} |")
        total = sum(r["seconds"] for r in rows)
        ok &= total <= BOOK_SECONDS
        print(
            f"| total ({len(rows)} notebooks) | {total:.1f} | max {max(r['peak_memory_mb'] or 0 for r in rows)} "
            f"| {BOOK_SECONDS:g} s: {'ok' if total <= BOOK_SECONDS else 'MISSED'} |\n"
        )
    print("| library vs reference (medians, interleaved) | ours (ms) | reference (ms) | ratio | budget |")
    print("| --- | ---: | ---: | ---: | --- |")
    for r in library_rows(args.repeats):
        if r["ours"] is None:
            print(f"| {r['name']} | | | | missing |")
            ok = False
            continue
        ratio = r["ours"] / r["ref"]
        if r["budget"] is None:
            verdict = f"speed-up x{1 / ratio:.1f}"
        else:
            within = ratio <= r["budget"]
            ok &= within
            verdict = f"<= {r['budget']}: {'ok' if within else 'MISSED'}"
        print(f"| {r['name']} | {r['ours'] * 1e3:.3f} | {r['ref'] * 1e3:.3f} | {ratio:.2f} | {verdict} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
