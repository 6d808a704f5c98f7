"""A regional deployment, for real: three councils in one PostgreSQL store, a Prefect server on
PostgreSQL, a process work pool with two ``prefect worker`` processes, the ``regional-nightly`` flow
fanning out one ``nightly-council`` run per council, and a worker killed with SIGKILL mid-night.

What "right" means is fixed independently of Prefect: the same three council files imported into a
SQLite store and run council by council with :func:`run_nightly` in this process. After each night
the PostgreSQL store must hold exactly the reference's alerts (key, recipient, status), clock states
and transition events: nothing lost, nothing duplicated, whichever worker ran what.

The kill is made deterministic without sleeping: the test holds the store's write lock (the
PostgreSQL advisory lock every night takes before it reads the previous states), so each council's
run stops inside its night's transaction. The first run seen waiting on it (``pg_stat_activity``,
mapped to its process through its client port) is killed with its worker; then the lock is let go.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.db import make_engine, upgrade_database
from ehcp_workflow.db.engine import WRITE_LOCK_KEY
from ehcp_workflow.db.models import Alert, ClockState, EhcpCase, EventLog, table_of
from ehcp_workflow.jobs.nightly import SOURCE, run_nightly
from tests.conftest import POSTGRES_ADMIN_URL, _admin_connect
from tests.regional.cluster import BIN, POOL, REPO, Cluster, descendants, socket_owner, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

COUNCILS = ("886", "887", "888")
CASES_PER_COUNCIL = 40
NIGHT_1 = dt.date(2026, 11, 20)  # a Friday: the store's first (opening) night
NIGHT_2 = dt.date(2026, 11, 27)  # a week on: new breaches and due-soon alerts, per council
#: How long a council's run may stay Running before the regional flow presumes it lost. A night
#: here takes a few seconds once started (a loaded machine: tens); this is the only wait the kill
#: adds to the test. A run that is slow rather than dead and gets re-run too is harmless by design,
#: so the assertions below allow it: the store must still match the reference exactly.
STALL_AFTER_S = 60

ALERT = table_of(Alert)
CASE = table_of(EhcpCase)
CLOCK_STATE = table_of(ClockState)
EVENT_LOG = table_of(EventLog)


@dataclass(frozen=True)
class Snapshot:
    alerts: frozenset[tuple[str, str, str]]
    states: frozenset[tuple[Any, ...]]
    events: Counter[tuple[Any, ...]]


def snapshot(engine: Engine) -> Snapshot:
    """What the nights wrote: outbox rows, clock states and the nightly's transition events."""
    with engine.connect() as conn:
        alerts = conn.execute(select(ALERT.c.alert_key, ALERT.c.recipient, ALERT.c.status)).all()
        states = conn.execute(
            select(
                CASE.c.case_ref,
                CLOCK_STATE.c.clock,
                CLOCK_STATE.c.instance,
                CLOCK_STATE.c.status,
                CLOCK_STATE.c.due_date,
                CLOCK_STATE.c.band,
                CLOCK_STATE.c.as_of,
            ).join(CASE, CASE.c.id == CLOCK_STATE.c.case_id)
        ).all()
        events = conn.execute(
            select(CASE.c.case_ref, EVENT_LOG.c.field, EVENT_LOG.c.old_value, EVENT_LOG.c.new_value)
            .join(CASE, CASE.c.id == EVENT_LOG.c.case_id)
            .where(EVENT_LOG.c.source == SOURCE)
        ).all()
    return Snapshot(
        alerts=frozenset((str(a), str(r), str(s)) for a, r, s in alerts),
        states=frozenset(tuple(row) for row in states),
        events=Counter(tuple(row) for row in events),
    )


def assert_same(got: Snapshot, want: Snapshot, context: Any) -> None:
    """``got == want``, or a failure that shows what differs (and ``context``: the runs)."""
    if got == want:
        return
    lines = [f"the store differs from the reference; runs: {json.dumps(context, default=str)[:3000]}"]
    for name in ("alerts", "states"):
        mine, theirs = getattr(got, name), getattr(want, name)
        lines += [f"{name} only in the store: {sorted(mine - theirs)[:8]}"]
        lines += [f"{name} only in the reference: {sorted(theirs - mine)[:8]}"]
    lines += [f"events only in the store: {list((got.events - want.events).items())[:8]}"]
    lines += [f"events only in the reference: {list((want.events - got.events).items())[:8]}"]
    raise AssertionError("\n".join(lines))


# --- the councils, the reference, the databases ---------------------------------------------------


@pytest.fixture(scope="module")
def council_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three councils in the project's CSV format, with the same caseworker ids (cw-001...) in each:
    the ids repeat across councils, as they do in a real region."""
    from ehcp_workflow.demo import generate_council, write_council_csv

    folder = tmp_path_factory.mktemp("councils")
    files = []
    for la in COUNCILS:
        demo = generate_council(CASES_PER_COUNCIL, int(la), NIGHT_1)
        cases, advice = demo.cases.copy(), demo.advice.copy()
        cases["la"] = la
        for frame, column in ((cases, "case_ref"), (cases, "person_ref"), (advice, "case_ref")):
            frame[column] = la + "-" + frame[column].astype(str)
        path = folder / f"council-{la}.csv"
        write_council_csv(Caseload(cases=cases, advice=advice, source=demo.source), path)
        files.append(path)
    return files


def import_councils(url: str, files: list[Path]) -> None:
    """Load the councils through the project's importer (``ehcp import``), one file each."""
    from ehcp_workflow.cli.importing import import_file

    upgrade_database(url)
    for path in files:
        import_file(path, actor="regional-test", database_url=url)


def night_now(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def reference(council_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[dt.date, Snapshot]:
    """The right answer: the same files in SQLite, each council's night run in this process."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
    import_councils(url, council_files)
    engine = make_engine(url)
    found = {}
    try:
        for day in (NIGHT_1, NIGHT_2):
            for la in COUNCILS:
                run_nightly(engine, as_of=day, now=night_now(day), council=la)
            found[day] = snapshot(engine)
    finally:
        engine.dispose()
    return found


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str]]:
    """(the case store, Prefect's own database): two throw-away PostgreSQL databases."""
    try:
        admin = _admin_connect()
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(message)
    suffix = secrets.token_hex(4)
    names = (f"ehcp_regional_{suffix}", f"prefect_regional_test_{suffix}")
    with admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    base = make_url(POSTGRES_ADMIN_URL)
    store = base.set(drivername="postgresql+psycopg", database=names[0])
    prefect = base.set(drivername="postgresql+asyncpg", database=names[1])
    try:
        yield store.render_as_string(hide_password=False), prefect.render_as_string(hide_password=False)
    finally:
        with _admin_connect() as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def region(
    databases: tuple[str, str],
    council_files: list[Path],
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """The store loaded, a Prefect server on PostgreSQL, the pool, the deployment and two workers."""
    store_url, prefect_url = databases
    cluster = Cluster(
        home=tmp_path_factory.mktemp("prefect-home"), prefect_db_url=prefect_url, store_url=store_url
    )
    try:
        server = cluster.start_server()
        # while the server migrates its database: load the store, compute the reference
        import_councils(store_url, council_files)
        request.getfixturevalue("reference")
        cluster.wait_healthy(server)
        cluster.run([str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"])
        # the project's own deployment file, as an operator would deploy it (from the checkout)
        cluster.run(
            [
                str(BIN / "prefect"),
                "--no-prompt",
                "deploy",
                "--prefect-file",
                "deployments/prefect.yaml",
                "--name",
                "nightly-council",
            ]
        )
        cluster.start_worker("worker-1")
        cluster.start_worker("worker-2")
        yield cluster
    finally:
        cluster.stop()


def start_regional(cluster: Cluster, day: dt.date) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.regional.regional_child", day.isoformat(), str(STALL_AFTER_S)]
    return subprocess.Popen(
        args, cwd=REPO, env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(regional: subprocess.Popen[str], cluster: Cluster) -> dict[str, Any]:
    out, err = regional.communicate(timeout=420)
    logs = "\n".join(f"--- {p.name}\n{p.tail(15)}" for p in cluster.processes)
    assert regional.returncode == 0, f"the regional night failed:\n{err[-4000:]}\n{logs}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def first_night(region: Cluster) -> dict[str, Any]:
    return finish(start_regional(region, NIGHT_1), region)


# --- the tests ----------------------------------------------------------------------------------


def test_each_council_runs_as_its_own_flow_run_and_sees_only_its_own_cases(
    region: Cluster, first_night: dict[str, Any], reference: dict[dt.date, Snapshot]
) -> None:
    nights = first_night["councils"]
    assert sorted(nights) == list(COUNCILS)
    assert {n["state"] for n in nights.values()} == {"COMPLETED"}

    store = make_engine(region.store_url)
    try:
        got = snapshot(store)
        with store.connect() as conn:
            owned = conn.execute(
                select(ALERT.c.recipient, CASE.c.la).join(CASE, CASE.c.case_ref == ALERT.c.case_ref)
            ).all()
    finally:
        store.dispose()
    # the same alerts, states and events as each council's night run on its own
    assert_same(got, reference[NIGHT_1], first_night)
    # every recipient is a council's, and an alert about a case goes to the case's council only
    assert all(r.startswith("council:") for _, r, _ in got.alerts)
    assert {r.split("/")[0] for _, r, _ in got.alerts} == {f"council:{la}" for la in COUNCILS}
    assert owned and all(recipient.startswith(f"council:{la}/") for recipient, la in owned)
    # caseworker ids repeat between councils; their alerts do not
    for la in COUNCILS:
        assert any(r == f"council:{la}/caseworker:cw-001" for _, r, _ in got.alerts)

    # artifacts: each council's, keyed with its code, from runs of that council only (its
    # completed run among them), about its own cases
    council_of = {r["id"]: (r["parameters"] or {}).get("council") for r in region.flow_runs()}
    artifacts = region.artifacts()
    for la in COUNCILS:
        for key in (f"breach-summary-{la}", f"backlog-by-team-{la}"):
            mine = [a for a in artifacts if a["key"] == key]
            assert {council_of[a["flow_run_id"]] for a in mine} == {la}, key
            assert nights[la]["flow_run_id"] in {a["flow_run_id"] for a in mine}, key
        for summary in (a for a in artifacts if a["key"] == f"breach-summary-{la}"):
            assert f"Council {la}" in summary["data"]
            assert not any(f"{other}-C" in summary["data"] for other in COUNCILS if other != la)
    assert not [a for a in artifacts if a["key"] in ("breach-summary", "backlog-by-team")]


def test_a_worker_killed_mid_night_loses_nothing_and_duplicates_nothing(
    region: Cluster, first_night: dict[str, Any], reference: dict[dt.date, Snapshot]
) -> None:
    import psycopg

    store = make_url(region.store_url)
    lock = psycopg.connect(
        host=store.host, port=store.port, user=store.username, dbname=store.database, autocommit=True
    )
    try:
        lock.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK_KEY,))
        regional = start_regional(region, NIGHT_2)

        def waiting_run() -> int | None:
            """The pid of a council's run waiting for the write lock, mid-night (or None yet)."""
            rows = lock.execute(
                "SELECT client_port FROM pg_stat_activity WHERE datname = %s "
                "AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                (store.database,),
            ).fetchall()
            for (port,) in rows:
                if port is not None and (owner := socket_owner(int(port))) is not None:
                    return owner
            return None

        stuck = wait_for("a council's run to wait on the store's write lock", waiting_run, within=240)
        worker = next(
            p for p in region.processes if p.name.startswith("worker-") and stuck in descendants(p.pid)
        )
        tonight = [
            r for r in region.flow_runs() if (r["parameters"] or {}).get("as_of") == NIGHT_2.isoformat()
        ]
        on_worker = set(descendants(worker.pid))
        killed = {
            r["parameters"]["council"]: r["id"]
            for r in tonight
            if r.get("infrastructure_pid") and int(r["infrastructure_pid"]) in on_worker
        }
        assert killed, f"no run of {NIGHT_2} found on {worker.name}"
        worker.kill_with_children()  # the worker's machine is gone, mid-transaction
    finally:
        lock.close()  # lets the write lock go: the surviving runs carry on
    result = finish(regional, region)

    nights = result["councils"]
    assert {n["state"] for n in nights.values()} == {"COMPLETED"}
    for la, night in nights.items():
        if la in killed:  # lost, marked crashed, and run again on the surviving worker
            assert night["attempts"] >= 2, night
            assert "presumed lost" in night["history"][0]
            assert region.flow_run(killed[la])["state"]["type"] == "CRASHED"

    engine = make_engine(region.store_url)
    try:
        got = snapshot(engine)
        with engine.connect() as conn:
            keys = conn.execute(select(ALERT.c.alert_key)).scalars().all()
    finally:
        engine.dispose()
    assert len(keys) == len(set(keys))
    # no transition logged twice or missing, every state and alert as the reference has them
    assert_same(got, reference[NIGHT_2], {"killed": killed, **result})
    assert len(got.alerts) > len(reference[NIGHT_1].alerts)  # the second night did queue new alerts
