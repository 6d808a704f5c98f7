"""Benchmark of the case store: bulk import and full read of N cases, on SQLite and PostgreSQL.

Each figure is set against what the bare driver does with the same rows:

* **read**: ``load_caseload`` (Core select -> ``pd.read_sql`` -> contract dtypes) against a raw DBAPI
  ``cursor.execute(sql).fetchall()`` of the same SQL (cases and advice) — the floor for any read.
* **import**: ``upsert_caseload`` (validate, diff against the store, write six tables and one
  event-log row per recorded value, all in one transaction) against the same bare fetch, and against
  a raw ``cursor.executemany`` of the N flat case rows into one scratch table (the floor for writing
  the caseload once, with no history and no normalisation).

The caseload comes from ``ehcp_workflow.demo.generate_council`` (a calibrated synthetic council);
if that module is missing, a plain numpy caseload is built instead.

Usage::

    .venv/bin/python -m bench.store                       # 100k cases, both backends
    .venv/bin/python -m bench.store --n 20000 --backends sqlite
    .venv/bin/python -m bench.store --read-n 1000000      # also a 1M-case read (imported in chunks)
    .venv/bin/python -m bench.store --n 0 --read-n 1000000  # only the 1M-case read

PostgreSQL: ``--postgres-url`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) is
used to create and drop a scratch database ``ehcp_bench_<random>``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    BOOL_COLUMNS,
    CASE_COLUMNS,
    DATE_COLUMNS,
    Caseload,
    empty_advice,
    empty_cases,
)
from ehcp_workflow.db import load_caseload, make_engine, upgrade_database, upsert_caseload
from ehcp_workflow.db.read import advice_select, case_select

AS_OF = dt.date(2026, 11, 20)


# --- data -----------------------------------------------------------------------------------------


def synthetic_caseload(n: int, seed: int = 1) -> Caseload:
    """A plain numpy caseload (used only when ``ehcp_workflow.demo`` is not available)."""
    rng = np.random.default_rng(seed)
    cases = empty_cases(n)
    cases["case_ref"] = pd.array([f"C{i:08d}" for i in range(n)], dtype="string")
    cases["person_ref"] = pd.array([f"P{i:08d}" for i in range(n)], dtype="string")
    cases["la"] = pd.array(["886"] * n, dtype="string")
    cases["team"] = pd.array(rng.choice(["north", "south", "east", "west"], n), dtype="string")
    cases["caseworker"] = pd.array([f"cw{i}" for i in rng.integers(0, 200, n)], dtype="string")
    received = np.datetime64(AS_OF, "D") - rng.integers(0, 1000, n).astype("timedelta64[D]")
    cases["request_received"] = received.astype("datetime64[s]")
    decided = rng.random(n) < 0.8
    outcome = received + rng.integers(20, 60, n).astype("timedelta64[D]")
    cases["request_outcome_date"] = np.where(decided, outcome, np.datetime64("NaT")).astype("datetime64[s]")
    cases["request_outcome"] = np.where(decided, "Y", "A")
    m = n // 2
    advice = empty_advice(m)
    advice["case_ref"] = cases["case_ref"].iloc[:m].to_numpy()
    advice["provider"] = pd.array(rng.choice(list(ADVICE_PROVIDERS), m), dtype="string")
    advice["requested"] = (received[:m] + 30).astype("datetime64[s]")
    return Caseload(cases=cases, advice=advice, source=f"bench:n={n},seed={seed}")


def council(n: int, seed: int = 1) -> Caseload:
    try:
        from ehcp_workflow.demo import generate_council
    except ImportError:
        return synthetic_caseload(n, seed)
    return generate_council(n, seed, AS_OF)


def chunks(caseload: Caseload, size: int) -> Iterator[Caseload]:
    """The caseload in pieces of ``size`` cases (advice following its cases)."""
    refs = caseload.cases["case_ref"]
    for start in range(0, len(refs), size):
        part = caseload.cases.iloc[start : start + size]
        advice = caseload.advice[caseload.advice["case_ref"].isin(part["case_ref"])]
        yield Caseload(cases=part, advice=advice, unrecorded=caseload.unrecorded, source=caseload.source)


# --- databases ------------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(backend: str, postgres_url: str) -> Iterator[str]:
    """A throw-away database URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ehcp-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg

    admin = make_url(postgres_url)
    name = f"ehcp_bench_{secrets.token_hex(4)}"

    def admin_connection() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            password=admin.password,
            dbname=admin.database,
            autocommit=True,
        )

    with admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bare_fetch(engine: Engine) -> int:
    """Raw DBAPI fetch of exactly the rows ``load_caseload`` reads (same SQL, literal parameters)."""
    dialect = engine.dialect
    statements = [
        str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for stmt in (case_select(dialect.name, with_ids=True), advice_select(dialect.name))
    ]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        rows = 0
        for sql in statements:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
        cursor.close()
        raw.rollback()
        return rows
    finally:
        raw.close()


def bare_insert(engine: Engine, caseload: Caseload) -> None:
    """Raw ``executemany`` of the flat case rows into one scratch table, in one transaction."""
    sqlite = engine.dialect.name == "sqlite"
    kinds = {
        c: "DATE" if c in DATE_COLUMNS else "BOOLEAN" if c in BOOL_COLUMNS else "TEXT" for c in CASE_COLUMNS
    }
    columns: list[list[Any]] = []
    for col in CASE_COLUMNS:
        series = caseload.cases[col]
        if kinds[col] == "DATE":
            values = series.to_numpy(dtype="datetime64[s]").astype("datetime64[D]").tolist()
            columns.append([v.isoformat() if sqlite and v is not None else v for v in values])
        else:
            columns.append([None if v is pd.NA or v is None else v for v in series.astype(object)])
    rows = list(zip(*columns, strict=True))
    placeholder = "?" if sqlite else "%s"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if sqlite:
            cursor.execute("BEGIN")
        cursor.execute("DROP TABLE IF EXISTS bench_flat")
        cursor.execute(f"CREATE TABLE bench_flat ({', '.join(f'{c} {kinds[c]}' for c in CASE_COLUMNS)})")
        cursor.executemany(
            f"INSERT INTO bench_flat VALUES ({', '.join([placeholder] * len(CASE_COLUMNS))})", rows
        )
        cursor.execute("DROP TABLE bench_flat")
        raw.commit()
    finally:
        raw.close()


# --- runs -----------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    n: int
    advice: int
    events: int
    import_s: float | None
    reimport_s: float | None
    bare_insert_s: float | None
    load_s: float
    fetch_s: float


def run(
    backend: str, n: int, postgres_url: str, *, chunk: int | None = None, read_only: bool = False
) -> Result:
    caseload = council(n)
    with scratch_database(backend, postgres_url) as url:
        upgrade_database(url)
        engine = make_engine(url)
        try:
            events = 0
            start = time.perf_counter()
            for part in chunks(caseload, chunk or n):
                with Session(engine) as session:
                    events += upsert_caseload(session, part, actor="bench").events
            import_s = time.perf_counter() - start
            reimport_s = bare_s = None
            if not read_only:
                with Session(engine) as session:
                    reimport_s, summary = timed(lambda: upsert_caseload(session, caseload, actor="bench"))
                assert not summary.changed, "re-import of the same caseload must change nothing"
                bare_s, _ = timed(lambda: bare_insert(engine, caseload))
            load_s, loaded = timed(lambda: load_caseload(engine), repeat=3 if n <= 200_000 else 2)
            assert len(loaded) == n
            fetch_s, _ = timed(lambda: bare_fetch(engine), repeat=3 if n <= 200_000 else 2)
        finally:
            engine.dispose()
    return Result(
        backend,
        n,
        len(caseload.advice),
        events,
        import_s,
        reimport_s,
        bare_s,
        load_s,
        fetch_s,
    )


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _x(num: float | None, den: float | None) -> str:
    return "–" if num is None or not den else f"{num / den:.1f}×"


def table(results: list[Result]) -> str:
    head = (
        "| backend | cases | advice rows | events | import s | re-import s | bare insert s | load s "
        "| bare fetch s | import / fetch | import / bare insert | load / fetch |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.n:,} | {r.advice:,} | {r.events:,} | {_s(r.import_s)} | {_s(r.reimport_s)} "
            f"| {_s(r.bare_insert_s)} | {_s(r.load_s)} | {_s(r.fetch_s)} | {_x(r.import_s, r.fetch_s)} "
            f"| {_x(r.import_s, r.bare_insert_s)} | {_x(r.load_s, r.fetch_s)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="cases for the import + read run (0: skip)")
    parser.add_argument("--read-n", type=int, default=0, help="also a read-only run of this many cases")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    results = []
    for backend in args.backends.split(","):
        if args.n:
            results.append(run(backend, args.n, args.postgres_url))
            print(table(results[-1:]).splitlines()[-1], flush=True)
        if args.read_n:
            # The big store is filled by 100k-case imports (one transaction each); their total time is
            # reported, but this run is about the read.
            results.append(run(backend, args.read_n, args.postgres_url, chunk=100_000, read_only=True))
            print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
