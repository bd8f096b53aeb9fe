"""Time reglab's `omp` against scikit-learn's `orthogonal_mp` on the same batch of problems.

Usage: python tools/bench_omp.py [--repeats N]

Both solve the same problems (a dictionary W of shape (64, 128) with unit-norm columns,
256 signals, k = 8 non-zeros, float64). The two are timed alternately, repeat after repeat,
so that a load on the machine hits both alike; the medians and their ratio are reported
(goal: ratio <= 1, i.e. ours no slower). `bench_omp()` returns the numbers as a dict for
`make bench`.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.linear_model import orthogonal_mp

from reglab.sparse_coding import omp


def _problem(d: int, m: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d, m, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return W, X


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_omp(
    *, repeats: int = 21, d: int = 64, m: int = 128, n_signals: int = 256, k: int = 8, seed: int = 0
) -> dict:
    """Median time of our `omp` and of `sklearn.linear_model.orthogonal_mp` on one batch.

    Returns
    -------
    dict
        ``name``, ``problem`` (a description), ``ours_ms`` and ``reference_ms`` (medians),
        ``ratio`` (ours / reference; goal <= 1), ``goal``, ``passed`` and ``max_abs_diff``
        (largest difference between the two solutions, which must agree).
    """
    W, X = _problem(d, m, n_signals, seed)
    W_np, Y_np = W.numpy(), np.ascontiguousarray(X.numpy().T)  # scikit-learn: signals as columns

    def ours():
        return omp(W, X, k)

    def reference():
        return orthogonal_mp(W_np, Y_np, n_nonzero_coefs=k)

    diff = float(np.abs(ours().numpy() - reference().T).max())  # also warms both up
    t_ours, t_ref = [], []
    for i in range(repeats):
        first, second = (ours, reference) if i % 2 == 0 else (reference, ours)
        a, b = _seconds(first), _seconds(second)
        t_ours.append(a if first is ours else b)
        t_ref.append(b if first is ours else a)
    ours_ms = 1e3 * statistics.median(t_ours)
    ref_ms = 1e3 * statistics.median(t_ref)
    return {
        "name": "omp vs sklearn orthogonal_mp",
        "problem": (
            f"W ({d}, {m}) unit-norm columns, {n_signals} signals, k = {k}, float64, "
            f"{repeats} interleaved repeats"
        ),
        "ours_ms": ours_ms,
        "reference_ms": ref_ms,
        "ratio": ours_ms / ref_ms,
        "goal": "ratio <= 1 (no slower than scikit-learn)",
        "passed": ours_ms <= ref_ms,
        "max_abs_diff": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    result = bench_omp(repeats=parser.parse_args().repeats)
    print(f"{result['name']}: {result['problem']}")
    print(
        f"  reglab omp {result['ours_ms']:.2f} ms | sklearn orthogonal_mp {result['reference_ms']:.2f} ms"
        f" | ratio {result['ratio']:.2f} ({'ok' if result['passed'] else 'SLOWER'}; goal <= 1)"
        f" | solutions differ by at most {result['max_abs_diff']:.1e}"
    )


if __name__ == "__main__":
    main()
