"""The alert outbox on both backends: the UNIQUE key stops a duplicate alert, and a claim is fenced
(a dispatcher whose lease ran out cannot renew it or overwrite the next holder's result)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ehcp_workflow.db import alert_key, enqueue_alerts
from ehcp_workflow.db.outbox import ALERT, NO_RESULT, Claim, ThreadHeartbeat
from ehcp_workflow.db.types import utcnow


def _alert(episode: str = "2026-12-01") -> dict[str, object]:
    return {
        "alert_key": alert_key("C-001", "final_plan", "due_soon", episode),
        "case_ref": "C-001",
        "clock": "final_plan",
        "kind": "due_soon",
        "episode": episode,
        "due_date": date(2026, 12, 1),
        "recipient": "team:north",
        "subject": "C-001: final plan due 1 December",
        "created_at": utcnow(),
    }


def test_alert_key_is_unambiguous() -> None:
    assert alert_key("C/1", "x", "y", date(2026, 1, 2)) == "C%2F1/x/y/2026-01-02"
    assert alert_key("a/b", "c", "d", "e") != alert_key("a", "b/c", "d", "e")


def test_duplicate_alert_key_is_rejected(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(ALERT), _alert())
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.insert(ALERT), _alert())
    with engine.connect() as conn:
        row = conn.execute(sa.select(ALERT.c.status, ALERT.c.attempts)).one()
    assert tuple(row) == ("queued", 0)  # server defaults


def test_status_is_checked(engine: sa.Engine) -> None:
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.insert(ALERT), {**_alert(), "status": "lost"})


def test_enqueue_skips_alerts_already_queued(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert enqueue_alerts(conn, [_alert(), _alert("2027-01-01")]) == 2
    with engine.begin() as conn:  # a second (or concurrent) run queues only what is new
        assert enqueue_alerts(conn, [_alert(), _alert("2027-02-01")]) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ALERT)).scalar_one() == 3


# --- the claim is fenced ---------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)


def _rows(engine: sa.Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        return {r.id: dict(r._mapping) for r in conn.execute(sa.select(ALERT))}


def test_a_claim_whose_lease_ran_out_can_neither_renew_nor_overwrite(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        enqueue_alerts(conn, [_alert(), _alert("2027-01-01")])
    clock = [T0]
    first = Claim.take(engine, now=T0, lease=LEASE, max_attempts=5, clock=lambda: clock[0])
    ids = {r["id"] for r in first.rows}
    assert len(ids) == 2 and first.held() == ids

    clock[0] = T0 + LEASE / 2  # within the lease: renewed to a full lease from now
    assert first.renew() == ids
    assert {r["next_attempt_at"] for r in _rows(engine).values()} == {T0 + LEASE / 2 + LEASE}

    later = T0 + 2 * LEASE  # the lease ran out; a second dispatcher takes the rows and records one
    second = Claim.take(engine, now=later, lease=LEASE, max_attempts=5, clock=lambda: later)
    assert {r["id"] for r in second.rows} == ids
    one = min(ids)
    assert second.sent([one]) == {one}
    before = _rows(engine)

    clock[0] = later  # the first wakes up: every write it tries is refused, and it lets go
    assert first.sent(ids) == set()
    assert first.failed(ids, error="late failure", retry_in=timedelta(minutes=10)) == set()
    assert first.renew(ids) == set() and first.held() == set()
    assert _rows(engine) == before  # nothing of the second's claim or result was touched
    assert before[one]["status"] == "sent" and before[one]["sent_at"] == later
    (other,) = ids - {one}
    assert second.renew() == {other}  # the second still holds the rest


def test_a_claim_that_ran_out_unclaimed_is_not_written_either(engine: sa.Engine) -> None:
    """Past its lease a claim is over even if nobody took the rows: another dispatcher may be
    about to, so a late result would race it. The row stays claimable, its attempt counted."""
    with engine.begin() as conn:
        enqueue_alerts(conn, [_alert()])
    late = [T0]
    claim = Claim.take(engine, now=T0, lease=LEASE, max_attempts=5, clock=lambda: late[0])
    late[0] = T0 + LEASE
    assert claim.sent(claim.held()) == set()
    (row,) = _rows(engine).values()
    assert (row["status"], row["attempts"], row["last_error"]) == ("queued", 1, NO_RESULT)


def test_the_thread_heartbeat_beats_until_the_block_ends_and_survives_a_failed_beat() -> None:
    calls: list[int] = []
    beaten = threading.Event()

    def beat() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database briefly unreachable")  # logged, and the next beat comes
        if len(calls) >= 3:
            beaten.set()

    with ThreadHeartbeat(every=timedelta(milliseconds=1)).running(beat) as thread:
        assert beaten.wait(30)
    assert isinstance(thread, threading.Thread) and not thread.is_alive()  # stopped with the block
