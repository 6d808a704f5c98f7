"""The alert outbox: the UNIQUE key stops a duplicate alert on both backends."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from ehcp_workflow.db import alert_key, enqueue_alerts
from ehcp_workflow.db.outbox import ALERT
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
