"""Benchmark: the nightly at scale, end to end through the command line, on SQLite or PostgreSQL.

    make bench-nightly CASES=200000
    .venv/bin/python -m bench.nightly --cases 200000                     # SQLite in /tmp
    .venv/bin/python -m bench.nightly --cases 1000000 \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/ehcp_bench

What a council would run, as separate processes: ``ehcp demo-data`` writes a synthetic council and
its review history (CSV), ``ehcp db upgrade`` and two ``ehcp import`` build the store (skipped when
the store already holds that many cases: ``--rebuild`` forces it), then ``ehcp nightly`` runs twice,
the first night (an opening night: every clock state written) and the next night (only changes).

Every time is set against what the bare driver does with the same tables **in the same run**
(the machine is shared, so absolute times are noisy; a ratio measured minutes apart is not):

* a night against a *bare fetch* of the tables it reads: ``cursor.execute(sql).fetchall()`` of the
  nightly's own SELECTs (cases, advice, review cycles, clock states), taken just before that night
  (the first night finds no clock state, the later night the first night's);
* the import against a *bare insert* of the same case rows (``executemany`` into one flat table).

Each night's time is the whole ``ehcp nightly`` process (interpreter start and imports included);
its stage profile (read, evaluate, diff, write, ...) is the line the job logs. Peak RSS is the
process's, from ``wait4``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from ehcp_workflow.db import make_engine
from ehcp_workflow.db.models import EhcpCase, table_of

AS_OF = dt.date(2026, 11, 20)
EHCP = [str(Path(sys.executable).parent / "ehcp")]


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds, peak RSS (MiB), what it wrote on stderr."""

    seconds: float
    rss_mib: float
    stderr: str


def _run(args: list[str], env: dict[str, str]) -> Run:
    """Run ``args`` to completion, timing the whole process; fail loudly on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}):\n{stderr}")
    return Run(seconds, usage.ru_maxrss / 1024, stderr)


def _cases(engine: Engine) -> int:
    with engine.connect() as conn:
        try:
            return int(conn.execute(select(func.count()).select_from(table_of(EhcpCase))).scalar_one())
        except Exception:  # no schema yet
            return 0


def nightly_reads(engine: Engine) -> list[str]:
    """The SELECTs a night issues for its data, as SQL text for the raw driver."""
    from ehcp_workflow.db.read import advice_select, case_select, review_select
    from ehcp_workflow.jobs.nightly import previous_states_select

    dialect = engine.dialect
    return [
        str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for stmt in (
            case_select(dialect.name, with_ids=True, with_extras=True),
            advice_select(dialect.name),
            review_select(dialect.name),
            previous_states_select(dialect.name),
        )
    ]


def bare_fetch(engine: Engine) -> tuple[float, int]:
    """Seconds and rows of ``cursor.execute(sql).fetchall()`` of every table a night reads."""
    statements = nightly_reads(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        rows = 0
        t0 = time.perf_counter()
        for sql in statements:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
        elapsed = time.perf_counter() - t0
        cursor.close()
        raw.rollback()
        return elapsed, rows
    finally:
        raw.close()


def bare_insert(engine: Engine, csv: Path) -> tuple[float, int]:
    """Seconds of a raw ``executemany`` of the caseload file's rows into one flat table."""
    import csv as csvmod

    with csv.open(newline="") as f:
        reader = csvmod.reader(f)
        header = next(reader)
        rows = [tuple(v or None for v in row) for row in reader]
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    cols = ", ".join(f'"{c}" TEXT' for c in header)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP TABLE IF EXISTS bench_flat")
        cursor.execute(f"CREATE TABLE bench_flat ({cols})")
        raw.commit()
        t0 = time.perf_counter()
        cursor.executemany(f"INSERT INTO bench_flat VALUES ({', '.join([mark] * len(header))})", rows)
        raw.commit()
        elapsed = time.perf_counter() - t0
        cursor.execute("DROP TABLE bench_flat")
        raw.commit()
        return elapsed, len(rows)
    finally:
        raw.close()


def _reset(engine: Engine) -> None:
    """Forget earlier nights: no clock state, no alert (the first night is first again).

    The event log is append-only (a trigger refuses deletes): earlier runs' transitions stay in it.
    """
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alert"))
        conn.execute(text("DELETE FROM clock_state"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def _stages(stderr: str) -> str:
    found = re.findall(r"nightly stages: (.*)", stderr)
    return found[-1] if found else "(no stage line)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=200_000)
    ap.add_argument("--url", help="store URL (default: a SQLite file in --dir)")
    ap.add_argument("--dir", type=Path, help="working folder (default: /tmp/ehcp-bench-<cases>)")
    ap.add_argument("--rebuild", action="store_true", help="import again even if the store is full")
    args = ap.parse_args(argv)

    work = (args.dir or Path(f"/tmp/ehcp-bench-{args.cases}")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    url = args.url or f"sqlite:///{work / 'store.db'}"
    env = {**os.environ, "EHCP_DATABASE_URL": url, "EHCP_LOG_LEVEL": "INFO"}
    csv = work / "council.csv"
    events = work / "council.events.csv"
    report: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        report.append(line)

    if not csv.exists() or not events.exists():
        r = _run([*EHCP, "demo-data", str(csv), "--cases", str(args.cases)], env)
        say(f"ehcp demo-data: {r.seconds:.1f} s")
    engine = make_engine(url)
    imported: Run | None = None
    if args.rebuild or _cases(engine) < args.cases:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            engine = make_engine(url)
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        _run([*EHCP, "db", "upgrade"], env)
        imported = _run([*EHCP, "import", str(csv), "--actor", "bench"], env)
        history = _run([*EHCP, "import", str(events), "--actor", "bench"], env)
        say(f"ehcp import (cases): {imported.seconds:.1f} s, {imported.rss_mib:,.0f} MiB RSS")
        say(f"ehcp import (review history): {history.seconds:.1f} s, {history.rss_mib:,.0f} MiB RSS")
    else:
        _run([*EHCP, "db", "upgrade"], env)  # a reused store may predate this code's migrations
    _reset(engine)

    backend = engine.dialect.name
    results: list[tuple[str, Run, float, int]] = []
    for label, night in (("first night", AS_OF), ("later night", AS_OF + dt.timedelta(days=1))):
        fetch, rows = bare_fetch(engine)
        r = _run([*EHCP, "nightly", "--as-of", night.isoformat(), "--timings"], env)
        results.append((label, r, fetch, rows))
    insert_s: float | None = None
    if imported is not None:
        insert_s, _ = bare_insert(engine, csv)

    say("")
    say(f"backend: {backend}, cases: {args.cases:,}, store: {url.split('@')[-1]}")
    say(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    say("")
    say("| night | ehcp nightly (s) | bare fetch (s) | rows fetched | ratio | target | peak RSS (MiB) |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    targets = {"first night": 4.0, "later night": 2.0}
    for label, r, fetch, rows in results:
        say(
            f"| {label} | {r.seconds:.1f} | {fetch:.2f} | {rows:,} | **{r.seconds / fetch:.1f}x** "
            f"| {targets[label]:.0f}x | {r.rss_mib:,.0f} |"
        )
    if imported is not None and insert_s:
        say("")
        say(
            f"import of the cases: {imported.seconds:.1f} s against a bare insert of the same rows "
            f"{insert_s:.2f} s: **{imported.seconds / insert_s:.1f}x** (target 3x)"
        )
    say("")
    for label, r, _, _ in results:
        say(f"{label} stages: {_stages(r.stderr)}")
    (work / "report.md").write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
