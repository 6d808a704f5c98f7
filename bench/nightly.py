"""Benchmark: the nightly compliance check over a large demo council, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.nightly --cases 1000000 --url sqlite:////tmp/ehcp-bench-1m.db
    .venv/bin/python -m bench.nightly --cases 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/ehcp_bench

Builds the store once (``upsert_caseload`` of ``generate_council(cases)``; reused when it already
holds that many cases), then times one nightly run (:func:`ehcp_workflow.jobs.nightly.run_nightly`,
exactly what the flow's task calls): the first night (baseline) and a second night, with peak
memory (tracemalloc of Python allocations, and the process's max RSS), against a bare driver read
of the same case rows (``SELECT`` of the case table's columns, ``fetchall``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
import tracemalloc

from sqlalchemy import func, select, text
from sqlmodel import Session

from ehcp_workflow.db import make_engine, upgrade_database, upsert_caseload
from ehcp_workflow.db.models import EhcpCase, table_of
from ehcp_workflow.demo import generate_council
from ehcp_workflow.jobs.nightly import run_nightly

AS_OF = dt.date(2026, 11, 20)


def _ensure_store(url: str, cases: int) -> float | None:
    upgrade_database(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(table_of(EhcpCase))).scalar_one()
    if have >= cases:
        return None
    t0 = time.perf_counter()
    caseload = generate_council(cases, 11, AS_OF)
    with Session(engine) as session:
        upsert_caseload(session, caseload, source="bench", actor="bench")
    return time.perf_counter() - t0


def _bare_read(url: str) -> float:
    engine = make_engine(url)
    cols = ", ".join(c.name for c in table_of(EhcpCase).columns)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT {cols} FROM ehcp_case").fetchall()
    elapsed = time.perf_counter() - t0
    assert rows
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--url", required=True)
    args = ap.parse_args()

    built = _ensure_store(args.url, args.cases)
    engine = make_engine(args.url)
    with engine.begin() as conn:  # a clean outbox and state: the first night is the baseline
        for table in ("alert", "clock_state"):
            conn.execute(text(f"DELETE FROM {table}"))
    bare = _bare_read(args.url)
    results = []
    for night in (AS_OF, AS_OF + dt.timedelta(days=1)):
        tracemalloc.start()
        t0 = time.perf_counter()
        r = run_nightly(engine, as_of=night, now=dt.datetime.now(dt.UTC))
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results.append((night, elapsed, peak, r.summary))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    backend = engine.dialect.name
    print(f"backend: {backend}, cases: {args.cases:,}" + (f", store built in {built:.0f} s" if built else ""))
    print(f"bare driver read of the case table: {bare:.2f} s")
    print()
    print("| night | wall time (s) | ratio to bare read | Python peak (MiB) | alerts queued | transitions |")
    print("|---|---:|---:|---:|---:|---:|")
    for night, elapsed, peak, s in results:
        print(
            f"| {night} {'(baseline)' if s.baseline else ''} | {elapsed:.1f} | {elapsed / bare:.1f}x | "
            f"{peak / 2**20:,.0f} | {s.alerts_queued:,} | {s.transitions_logged:,} |"
        )
    print(f"\nprocess max RSS: {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
