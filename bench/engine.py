"""Benchmark: the clock engine over 1,000,000 synthetic cases with their review history, beside
the per-case oracle the tests hold it to.

    .venv/bin/python -m bench.engine                 # 1,000,000 cases, oracle sample 20,000
    .venv/bin/python -m bench.engine --cases 200000  # smaller

The demo council carries every review cycle (about 3.2 per plan), so each plan has an instance of
each review clock per cycle and one s.44 period per cycle plus the open one. Reports cases/second
for the engine and for the oracle (``tests/oracle.py``, run from the repository root) on a sample,
and the ratio. Timings are the best of ``--repeat`` runs, after one warm-up, on whatever machine
runs this (docs/performance.md says which).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import tracemalloc

import numpy as np

from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.demo import generate_council
from tests.oracle import evaluate_caseload_per_case

AS_OF = dt.date(2026, 11, 20)


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    catalogue = load_catalogue()
    t0 = time.perf_counter()
    caseload = generate_council(args.cases, args.seed, AS_OF)
    gen = time.perf_counter() - t0
    n_adv = len(caseload.advice)

    evaluate_caseload(caseload, catalogue, as_of=AS_OF)  # warm-up (holiday table, imports)
    vec = _best(lambda: evaluate_caseload(caseload, catalogue, as_of=AS_OF), args.repeat)
    tracemalloc.start()
    ev = evaluate_caseload(caseload, catalogue, as_of=AS_OF)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_clock_rows = sum(len(a.status) for _, a in ev._all())

    keep = np.zeros(len(caseload), dtype=bool)
    keep[: args.sample] = True
    sample = caseload.subset(keep)
    per = _best(lambda: evaluate_caseload_per_case(sample, catalogue, as_of=AS_OF), 1)
    plans = int(caseload.cases["plan_start"].notna().sum())
    cycles = len(caseload.review_history)

    vec_rate = args.cases / vec
    per_rate = args.sample / per
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"caseload: {args.cases:,} cases, {n_adv:,} advice requests (generated in {gen:.1f} s)")
    print(f"review history: {cycles:,} cycles over {plans:,} plans ({cycles / max(plans, 1):.2f} per plan)")
    print(f"clock rows evaluated: {n_clock_rows:,}")
    print()
    print("| evaluator | cases | best time (s) | cases/second |")
    print("|---|---:|---:|---:|")
    print(f"| engine (vectorised, numpy) | {args.cases:,} | {vec:.3f} | {vec_rate:,.0f} |")
    print(f"| oracle (per case, pendulum; tests only) | {args.sample:,} | {per:.3f} | {per_rate:,.0f} |")
    print()
    print(f"ratio engine / oracle: {vec_rate / per_rate:,.0f}x")
    print(f"peak memory allocated by one vectorised pass (tracemalloc): {peak / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
