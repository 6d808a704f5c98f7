"""Fault injection for the nightly: a night killed at any point leaves the store as it was, and the
next run records exactly what an uninterrupted night records (no alert lost, none doubled).

A "kill" is a ``BaseException`` raised before the N-th SQL statement the dying run sends (nothing
in the job may catch it, as nothing survives a SIGKILL), at points drawn at random over every
statement of the opening night and of an ordinary night; and one real ``kill -9`` of a child
process at a statement in the middle of its night. After each kill the store must be byte-for-byte
what it was before the night (one transaction); the re-run must leave the same clock states,
outbox keys and transition events as a reference store that was never interrupted.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from ehcp_workflow.db import make_engine
from ehcp_workflow.jobs.nightly import run_nightly
from tests.jobs.helpers import AS_OF, NOW, OPENED, load_store

REPO = Path(__file__).resolve().parents[2]
OPENED_NOW = NOW - (AS_OF - OPENED)
NIGHTS = ((OPENED, OPENED_NOW), (AS_OF, NOW))
#: The tables a night writes.
WRITTEN = ("clock_state", "alert", "event_log")


class Killed(BaseException):
    """The process died here (a BaseException: no ``except Exception`` in the job may catch it)."""


def _dump(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the tables a night writes, as text, in a stable order."""
    with engine.connect() as conn:
        return {
            table: sorted(tuple(str(v) for v in row) for row in conn.execute(text(f"SELECT * FROM {table}")))
            for table in WRITTEN
        }


def _outcome(engine: Engine) -> dict[str, Any]:
    """What a night leaves, in terms that do not depend on the backend or on row ids."""
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("SELECT alert_key FROM alert"))]
        states = sorted(
            tuple(str(v) for v in r)
            for r in conn.execute(
                text(
                    "SELECT c.case_ref, s.clock, s.instance, s.status FROM clock_state s "
                    "JOIN ehcp_case c ON c.id = s.case_id"
                )
            )
        )
        transitions = sorted(
            tuple(str(v) for v in r)
            for r in conn.execute(
                text(
                    "SELECT c.case_ref, e.field, e.old_value, e.new_value FROM event_log e "
                    "JOIN ehcp_case c ON c.id = e.case_id WHERE e.field LIKE 'clock.%' OR e.field LIKE 'backlog.%'"
                )
            )
        )
        statuses = sorted(
            tuple(str(v) for v in r) for r in conn.execute(text("SELECT alert_key, status FROM alert"))
        )
    assert len(keys) == len(set(keys)), "an alert was queued twice"
    return {"keys": sorted(keys), "states": states, "transitions": transitions, "statuses": statuses}


def _counting(engine: Engine) -> Callable[[], int]:
    """Count the statements ``engine`` sends from now on."""
    sent = [0]

    def count(*_: object) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    return lambda: sent[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted store (SQLite): each night's outcome, and how many statements it sent."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}"
    load_store(url)
    engine = make_engine(url)
    counted = _counting(engine)
    try:
        outcomes, statements = [], []
        for as_of, now in NIGHTS:
            before = counted()
            run_nightly(engine, as_of=as_of, now=now)
            statements.append(counted() - before)
            outcomes.append(_outcome(engine))
    finally:
        engine.dispose()
    return {"outcomes": outcomes, "statements": statements}


@pytest.fixture
def store(db_url: str) -> Iterator[str]:
    load_store(db_url)
    yield db_url


def _kill_at(engine: Engine, nth: int) -> list[int]:
    sent = [0]

    def maybe_die(*_: object) -> None:
        sent[0] += 1
        if sent[0] == nth:
            raise Killed(f"killed before statement {nth}")

    event.listen(engine, "before_cursor_execute", maybe_die)
    return sent


def test_a_night_killed_at_random_points_leaves_nothing_half_written(
    store: str, reference: dict[str, Any]
) -> None:
    rng = random.Random(20261205)
    engine = make_engine(store)
    try:
        for night, (as_of, now) in enumerate(NIGHTS):
            total = reference["statements"][night]
            points = sorted({1, total, *(rng.randint(1, total) for _ in range(3))})
            finished = False
            for nth in points:
                before = _dump(engine)
                doomed = make_engine(store)  # the dying process's own connections
                sent = _kill_at(doomed, nth)
                try:
                    run_nightly(doomed, as_of=as_of, now=now)
                    finished = True  # this backend sent fewer statements than nth: a whole night
                except Killed:
                    pass
                finally:
                    doomed.dispose()
                if finished:
                    break
                where = f"night {as_of}, killed before statement {nth} of {sent[0]}"
                assert _dump(engine) == before, f"half-written: {where}"
            if not finished:
                run_nightly(engine, as_of=as_of, now=now)  # the next run, uninterrupted
            assert _outcome(engine) == reference["outcomes"][night], f"night {as_of} after its kills"
    finally:
        engine.dispose()


CHILD = """
import datetime as dt, os, signal, sys
from sqlalchemy import event
from ehcp_workflow.db import make_engine
from ehcp_workflow.jobs.nightly import run_nightly

url, nth, as_of, now = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
engine = make_engine(url)
sent = [0]

@event.listens_for(engine, "before_cursor_execute")
def die(*_):
    sent[0] += 1
    if sent[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)

run_nightly(engine, as_of=dt.date.fromisoformat(as_of), now=dt.datetime.fromisoformat(now))
print("finished", flush=True)
"""


def test_a_night_killed_with_sigkill_mid_write_is_rerun_cleanly(
    store: str, reference: dict[str, Any]
) -> None:
    engine = make_engine(store)
    try:
        as_of, now = NIGHTS[0]
        run_nightly(engine, as_of=as_of, now=now)
        as_of, now = NIGHTS[1]
        before = _dump(engine)
        nth = max(2, reference["statements"][1] // 2)  # well into the night's writes
        child = subprocess.run(
            [sys.executable, "-c", CHILD, store, str(nth), as_of.isoformat(), now.isoformat()],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert child.returncode == -9, (child.returncode, child.stdout, child.stderr[-2000:])
        assert "finished" not in child.stdout
        assert _dump(engine) == before, "a SIGKILLed night left rows behind"
        run_nightly(engine, as_of=as_of, now=now)
        assert _outcome(engine) == reference["outcomes"][1]
    finally:
        engine.dispose()
