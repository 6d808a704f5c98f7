"""The bulk write paths (:mod:`ehcp_workflow.db.bulk`) on both backends: rows written below
SQLAlchemy's per-row layer read back exactly as rows written through Core, in the order given,
and the outbox's bulk queueing skips taken keys (stored before, or twice in one call)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ehcp_workflow.db import alert_key, enqueue_alerts
from ehcp_workflow.db.bulk import insert_dicts
from ehcp_workflow.db.models import EhcpCase, Person, table_of
from ehcp_workflow.db.outbox import ALERT
from ehcp_workflow.db.write import EVENT, EventRows, WriteContext, write_events

CASE = table_of(EhcpCase)
PERSON = table_of(Person)
#: Microseconds set and unset: sqlite3's text for a datetime differs between the two.
STAMPS = (datetime(2026, 12, 1, 6, 30, 0, tzinfo=UTC), datetime(2026, 12, 1, 6, 30, 0, 120, tzinfo=UTC))


def _alert(episode: str, created_at: datetime, due: date | None = date(2026, 12, 1)) -> dict[str, Any]:
    return {
        "alert_key": alert_key("C-001", "final_plan", "due_soon", episode),
        "case_ref": "C-001",
        "clock": "final_plan",
        "kind": "due_soon",
        "episode": episode,
        "due_date": due,
        "recipient": "team:north",
        "status": "queued",
        "attempts": 0,
        "subject": "C-001: final plan due",
        "body": "{}",
        "created_at": created_at,
    }


def _read(engine: sa.Engine, table: sa.Table, order: sa.ColumnElement[Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(order))]


def test_queued_alerts_read_back_as_core_writes_them(engine: sa.Engine) -> None:
    core = [_alert("core-a", STAMPS[0]), _alert("core-b", STAMPS[1], due=None)]
    bulk = [_alert("bulk-a", STAMPS[0]), _alert("bulk-b", STAMPS[1], due=None)]
    with engine.begin() as conn:
        conn.execute(sa.insert(ALERT), core)
        assert enqueue_alerts(conn, bulk) == 2
    rows = {r["episode"]: r for r in _read(engine, ALERT, ALERT.c.id)}
    for name in ("a", "b"):
        by_core, by_bulk = rows[f"core-{name}"], rows[f"bulk-{name}"]
        for column in ("due_date", "created_at", "status", "attempts", "subject", "body", "recipient"):
            assert by_bulk[column] == by_core[column], column
    with engine.connect() as conn:  # the stored text too, not only what the type makes of it
        raw = conn.execute(
            sa.text("SELECT episode, CAST(created_at AS TEXT), CAST(due_date AS TEXT) FROM alert")
        ).all()
    stored = {episode: (created, due) for episode, created, due in raw}
    assert stored["bulk-a"] == stored["core-a"] and stored["bulk-b"] == stored["core-b"]


def test_queueing_skips_taken_keys_and_keeps_the_order_given(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert enqueue_alerts(conn, [_alert("2026-01-01", STAMPS[0])]) == 1
    offered = [_alert(e, STAMPS[0]) for e in ("2026-03-01", "2026-01-01", "2026-02-01", "2026-03-01")]
    with engine.begin() as conn:
        # one stored before, one offered twice in this very call: two new rows, no error
        assert enqueue_alerts(conn, offered) == 2
    episodes = [r["episode"] for r in _read(engine, ALERT, ALERT.c.id)]
    assert episodes == ["2026-01-01", "2026-03-01", "2026-02-01"]


def test_queueing_twice_in_one_transaction(engine: sa.Engine) -> None:
    """A night queues its alerts and then its suppressed ones in one transaction (PostgreSQL's
    path makes and drops a temporary table each time)."""
    with engine.begin() as conn:
        assert enqueue_alerts(conn, [_alert("x", STAMPS[0])]) == 1
        assert enqueue_alerts(conn, [{**_alert("y", STAMPS[0]), "status": "suppressed"}]) == 1
    assert [r["status"] for r in _read(engine, ALERT, ALERT.c.id)] == ["queued", "suppressed"]


def test_events_read_back_as_core_writes_them_in_the_order_given(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        case_id = conn.execute(
            sa.insert(CASE).returning(CASE.c.id), {"case_ref": "C-001", "created_at": STAMPS[0]}
        ).scalar_one()
        for stamp in STAMPS:
            ctx = WriteContext(actor="me", source="test", reason="why", now=stamp)
            conn.execute(
                sa.insert(EVENT),
                {
                    "case_id": case_id,
                    "field": "core",
                    "old_value": None,
                    "new_value": "1",
                    "actor": ctx.actor,
                    "source": ctx.source,
                    "reason": ctx.reason,
                    "recorded_at": stamp,
                },
            )
            rows = EventRows(ctx)
            rows.add([case_id, case_id], ["bulk-1", "bulk-2"], [None, "a"], ["1", None])
            write_events(conn, [rows])
    events = _read(engine, EVENT, EVENT.c.id)
    assert [e["field"] for e in events] == ["core", "bulk-1", "bulk-2"] * 2
    for group in (events[0:3], events[3:6]):
        assert {e["recorded_at"] for e in group} == {group[0]["recorded_at"]}
        assert {(e["actor"], e["source"], e["reason"]) for e in group} == {("me", "test", "why")}
    assert [(e["old_value"], e["new_value"]) for e in events[1:3]] == [(None, "1"), ("a", None)]
    with engine.connect() as conn:
        text = conn.execute(
            sa.text("SELECT field, CAST(recorded_at AS TEXT) FROM event_log ORDER BY id")
        ).all()
    assert text[0][1] == text[1][1] == text[2][1] and text[3][1] == text[4][1] == text[5][1]


def test_inserted_dicts_are_stored_as_core_stores_them_defaults_included(engine: sa.Engine) -> None:
    """The import's bulk inserts: the same stored text as Core's, and the columns a row leaves out
    filled with the table's Python-side defaults (``created_at``: the clock, once per insert)."""
    rows = [
        {"case_ref": "C-001", "created_at": STAMPS[1], "request_received": date(2026, 1, 5), "team": "north"},
        {"case_ref": "C-002", "created_at": STAMPS[0], "request_received": None, "team": None},
    ]
    bulk = [{**r, "case_ref": r["case_ref"] + "b"} for r in rows]
    with engine.begin() as conn:
        conn.execute(sa.insert(CASE), rows)
        assert insert_dicts(conn, CASE, bulk) == 2
        conn.execute(sa.insert(PERSON), [{"person_ref": "P-core"}])
        assert insert_dicts(conn, PERSON, [{"person_ref": "P-bulk-1"}, {"person_ref": "P-bulk-2"}]) == 2
    with engine.connect() as conn:
        text = {
            ref: (created, received, team)
            for ref, created, received, team in conn.execute(
                sa.text(
                    "SELECT case_ref, CAST(created_at AS TEXT), CAST(request_received AS TEXT), team "
                    "FROM ehcp_case"
                )
            )
        }
        people = {r.person_ref: r.created_at for r in conn.execute(sa.select(PERSON))}
        stamp_text = dict(
            conn.execute(sa.text("SELECT person_ref, CAST(created_at AS TEXT) FROM person")).all()
        )
    assert text["C-001b"] == text["C-001"] and text["C-002b"] == text["C-002"]
    assert text["C-001"][1] is not None and text["C-002"][1] is None
    assert all(isinstance(v, datetime) and v.tzinfo is not None for v in people.values())  # filled
    assert people["P-bulk-1"] == people["P-bulk-2"]  # one instant for the whole insert
    if engine.dialect.name == "sqlite":  # filled by the application's default, as Core does, not
        # the server's: SQLite's CURRENT_TIMESTAMP has no fraction, SQLAlchemy's text always six digits
        assert len(stamp_text["P-bulk-1"]) == len(stamp_text["P-core"]) == len("2026-12-05 13:00:00.000000")
    with engine.begin() as conn, pytest.raises(ValueError, match="must carry the columns"):
        insert_dicts(conn, PERSON, [{"person_ref": "P-x"}, {"person_ref": "P-y", "upn": "A"}])
