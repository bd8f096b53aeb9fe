"""Time reglab's dropout against torch.nn.functional.dropout on the same tensor.

Usage: python tools/bench_dropout.py

Both run in one process, interleaved (ours, torch, ours, torch, ...), on a (256, 1024) float32
tensor in training mode with keep probability 0.8 (torch's p = 0.2). The medians and their
ratio are printed; the budget (BOOK_SPEC section 6) is a ratio of at most 1.2.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from reglab.dropout import dropout

BUDGET = 1.2


def _time(fn, x, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn(x)
    return (time.perf_counter() - start) / inner


def bench_dropout(shape=(256, 1024), keep_prob: float = 0.8, *, repeats: int = 15, inner: int = 5) -> dict:
    """Median seconds per call of ours and torch's dropout, measured interleaved.

    Returns
    -------
    dict
        ``{"name", "ours_s", "torch_s", "ratio", "budget", "within_budget"}``; ``ratio`` is
        ours / torch.
    """
    x = torch.randn(*shape)
    ours = lambda t: dropout(t, keep_prob)  # noqa: E731
    theirs = lambda t: F.dropout(t, p=1 - keep_prob, training=True)  # noqa: E731
    for fn in (ours, theirs):  # warm-up
        _time(fn, x, inner)
    ours_t, torch_t = [], []
    for _ in range(repeats):
        ours_t.append(_time(ours, x, inner))
        torch_t.append(_time(theirs, x, inner))
    a, b = statistics.median(ours_t), statistics.median(torch_t)
    return {
        "name": f"dropout {tuple(shape)} float32, keep_prob={keep_prob}",
        "ours_s": a,
        "torch_s": b,
        "ratio": a / b,
        "budget": BUDGET,
        "within_budget": a / b <= BUDGET,
    }


def main() -> int:
    r = bench_dropout()
    print(f"{r['name']}: reglab {r['ours_s'] * 1e3:.3f} ms, torch.nn.functional.dropout "
          f"{r['torch_s'] * 1e3:.3f} ms, ratio {r['ratio']:.2f} (budget {r['budget']})")
    return 0 if r["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
