"""The nightly compliance check (``run_nightly``) against a real store, on SQLite and PostgreSQL.

What must hold whatever the scheduler does: a night re-run, a past date replayed, two runs at once,
each queue every alert exactly once; the first night is a baseline, later nights log what changed;
a dry run writes nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.db import make_engine
from ehcp_workflow.db.models import EhcpCase, table_of
from ehcp_workflow.jobs.nightly import NightlySummary, run_nightly
from tests.jobs.helpers import (
    AS_OF,
    LATER,
    LATER_NOW,
    NOW,
    alert_keys,
    clock_events,
    clock_state,
    council,
    load_store,
    table_counts,
)

CASE = table_of(EhcpCase)


def test_a_night_run_twice_queues_nothing_the_second_time(store: Engine) -> None:
    first = run_nightly(store, as_of=AS_OF, now=NOW).summary
    keys = alert_keys(store)
    state = clock_state(store)

    again = run_nightly(store, as_of=AS_OF, now=NOW + dt.timedelta(hours=3)).summary

    assert first.alerts_queued == first.alerts_considered > 0  # the opening messages
    assert first.alerts_queued + first.alerts_suppressed == len(keys)
    assert again.alerts_considered == first.alerts_considered
    assert again.alerts_queued == 0
    assert alert_keys(store) == keys  # the count of alert rows, and the rows, are unchanged
    assert clock_state(store) == state
    assert again.transitions_logged == 0 and not again.baseline
    assert clock_events(store) == []


def test_replaying_a_night_after_a_later_one_queues_nothing_and_keeps_the_later_state(
    store: Engine,
) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    later = run_nightly(store, as_of=LATER, now=LATER_NOW).summary
    keys, state, events = alert_keys(store), clock_state(store), clock_events(store)
    assert later.transitions_logged > 0  # the later night moved the state on (else this proves nothing)

    replay = run_nightly(store, as_of=AS_OF, now=LATER_NOW + dt.timedelta(hours=1)).summary

    assert replay.alerts_queued == 0
    assert alert_keys(store) == keys
    assert clock_state(store) == state  # not rewound to AS_OF: statuses, due dates, as_of, updated_at
    assert {row[6] for row in state} == {AS_OF, LATER}
    assert clock_events(store) == events  # no "overdue -> due_soon" events from going back in time
    assert replay.transitions_logged == 0
    assert any("replay of 2024-10-15" in note for note in replay.notes), replay.notes


def _at_once(url: str, as_of: dt.date, now: dt.datetime) -> list[NightlySummary]:
    """Two ``run_nightly`` on the same night, each with its own engine, released together."""
    barrier = threading.Barrier(2)
    results: list[NightlySummary] = []
    errors: list[BaseException] = []

    def night() -> None:
        engine = make_engine(url)
        try:
            barrier.wait(timeout=30)
            results.append(run_nightly(engine, as_of=as_of, now=now).summary)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=night, name=f"nightly-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a nightly run hung"
    # Both runs succeed: the loser of the race waits for the store's write lock and then finds
    # everything done. (Before the fix it failed: "database is locked" on SQLite, a duplicate
    # clock_state row on PostgreSQL.)
    assert not errors, errors
    return results


def test_two_runs_at_once_queue_each_alert_exactly_once(store: Engine, store_url: str) -> None:
    single = run_nightly(store, as_of=AS_OF, now=NOW, dry_run=True).summary  # what one run queues
    assert table_counts(store)["alert"] == 0

    first_night = _at_once(store_url, AS_OF, NOW)

    keys = alert_keys(store)
    total = single.alerts_queued + single.alerts_suppressed  # an opening night's outbox rows
    assert len(keys) == len(set(keys)) == total > single.alerts_queued > 0
    assert sorted(s.alerts_queued + s.alerts_suppressed for s in first_night) == [0, total]
    assert sorted(s.baseline for s in first_night) == [False, True]  # one baseline; the other saw it
    state = clock_state(store)
    assert len({row[:3] for row in state}) == len(state)  # one state per (case, clock, instance)

    second_night = _at_once(store_url, LATER, LATER_NOW)

    keys = alert_keys(store)
    assert len(keys) == len(set(keys))
    queued = sorted(s.alerts_queued for s in second_night)
    assert queued[0] == 0 and len(keys) == total + queued[1]
    events = clock_events(store)
    logged = sorted(s.transitions_logged for s in second_night)
    assert logged[0] == 0 and len(events) == logged[1] > 0  # the transitions are logged once
    assert max(Counter((e["case_id"], e["field"]) for e in events).values()) == 1


def test_first_night_is_a_baseline_and_the_next_logs_clock_transitions(store: Engine) -> None:
    first = run_nightly(store, as_of=AS_OF, now=NOW).summary
    assert first.baseline and first.transitions_logged == 0
    assert clock_events(store) == []  # no event per clock for the state found on the first night
    before = {(r[0], r[1]): r for r in clock_state(store)}
    # The clocks that must breach within the week: running on AS_OF, due before LATER.
    breaching = {
        key
        for key, r in before.items()
        if r[3] in ("pending", "due_soon") and r[4] is not None and AS_OF < r[4] < LATER
    }
    assert breaching, "the demo council should have clocks falling due during the week"

    second = run_nightly(store, as_of=LATER, now=LATER_NOW).summary

    after = {(r[0], r[1]): r for r in clock_state(store)}
    events = clock_events(store)
    assert not second.baseline and second.transitions_logged == len(events) > 0
    clock_changes = {
        (e["case_id"], e["field"].removeprefix("clock.")): e for e in events if e["field"] != "backlog.band"
    }
    for key in breaching:  # e.g. a review report due on Friday, still not sent, is overdue by Tuesday
        event = clock_changes[key]
        assert (
            (event["old_value"], event["new_value"])
            == (before[key][3], "overdue")
            == (
                before[key][3],
                after[key][3],
            )
        )
        assert after[key][6] == LATER
    # every logged clock event is a real change between the stored states, and nothing else is logged
    for (case_id, clock), e in clock_changes.items():
        assert e["field"] == f"clock.{clock}"
        assert e["old_value"] == before[(case_id, clock)][3] != after[(case_id, clock)][3] == e["new_value"]
        assert e["actor"] == "nightly" and "2024-10-22" in e["reason"]
    logged_statuses = {"due_soon", "overdue", "met", "late", "invalid", "excepted"}
    changed = {
        key
        for key in after
        if key in before and before[key][3] != after[key][3] and after[key][3] in logged_statuses
    }
    assert set(clock_changes) == changed
    # the 52-week band crossed during the week is a backlog.band event on the final_plan clock's case
    bands = [e for e in events if e["field"] == "backlog.band"]
    assert [(e["old_value"], e["new_value"]) for e in bands] == [("over_30", "over_52")]
    unchanged = [r for key, r in after.items() if key in before and r[3:6] == before[key][3:6]]
    assert unchanged and all(r[6] == AS_OF for r in unchanged)  # only changes are rewritten


def test_a_dry_run_writes_nothing(store: Engine) -> None:
    empty = table_counts(store)

    dry = run_nightly(store, as_of=AS_OF, now=NOW, dry_run=True).summary

    assert dry.dry_run and dry.alerts_queued > 0  # it says what a real night would queue...
    assert table_counts(store) == empty  # ...and writes none of it
    real = run_nightly(store, as_of=AS_OF, now=NOW).summary
    assert real.alerts_queued == dry.alerts_queued and real.baseline == dry.baseline
    written: dict[str, Any] = {"counts": table_counts(store), "state": clock_state(store)}

    later_dry = run_nightly(store, as_of=LATER, now=LATER_NOW, dry_run=True).summary

    assert later_dry.transitions_logged > 0 and later_dry.alerts_queued > 0
    assert {"counts": table_counts(store), "state": clock_state(store)} == written


def test_two_requests_to_one_adviser_are_two_clocks(db_url: str) -> None:
    """A case may ask the same adviser twice (``advice_request.seq``). Each request is its own clock
    state (``instance`` 0 and 1); before the fix both mapped to one row and every night failed on the
    unique key, for the whole council."""
    caseload = council()
    extra = caseload.advice[
        (caseload.advice["case_ref"] == "C0000044")
        & (caseload.advice["provider"] == "educational_psychology")
    ].copy()
    assert len(extra) == 1
    extra["requested"] = pd.Timestamp("2024-09-04")  # 6 weeks: due Wed 16 Oct, during the week
    extra["received"] = pd.NaT
    advice = pd.concat([caseload.advice, extra], ignore_index=True)
    load_store(db_url, Caseload(cases=caseload.cases, advice=advice, source=caseload.source))
    store = make_engine(db_url)
    try:
        first = run_nightly(store, as_of=AS_OF, now=NOW).summary
        second = run_nightly(store, as_of=LATER, now=LATER_NOW).summary

        assert first.baseline and not second.baseline
        with store.connect() as conn:
            case_id = conn.execute(select(CASE.c.id).where(CASE.c.case_ref == "C0000044")).scalar_one()
        ep = sorted(
            (r[2], r[3], r[4])
            for r in clock_state(store)
            if r[:2] == (case_id, "advice:educational_psychology")
        )
        statuses = {due: status for _, status, due in ep}
        assert [i for i, _, _ in ep] == [0, 1]
        assert statuses == {dt.date(2024, 10, 16): "overdue", dt.date(2024, 11, 23): "pending"}
        events = [e for e in clock_events(store) if e["case_id"] == case_id]
        assert [(e["field"], e["old_value"], e["new_value"]) for e in events] == [
            ("clock.advice:educational_psychology", "due_soon", "overdue")
        ]
        keys = [k for k in alert_keys(store) if k.startswith("C0000044/advice%3Aeducational_psychology/")]
        assert keys and all("/2024-09-04" in k for k in keys)  # the new request's episode
        assert len(keys) == len(set(keys))
        # a third night changes nothing for the pending request and keeps both states
        run_nightly(store, as_of=LATER, now=LATER_NOW + dt.timedelta(hours=1))
        assert (
            len([r for r in clock_state(store) if r[:2] == (case_id, "advice:educational_psychology")]) == 2
        )
    finally:
        store.dispose()
