"""Go-live without a flood: the opening night, and "new" meaning new since the last night that ran."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
from sqlalchemy import Engine

from ehcp_workflow.core.alerting import alert_candidates
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.core.figures import headline
from ehcp_workflow.db import load_caseload
from ehcp_workflow.jobs.dispatch import pending_alerts, render_messages, run_dispatch
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.jobs.opening import only_new, suppressed_rows
from ehcp_workflow.notify import RecordingNotifier
from ehcp_workflow.notify.body import outbox_rows
from ehcp_workflow.notify.limits import CHANNEL_LIMITS, fits
from tests.jobs.helpers import AS_OF, LATER, LATER_NOW, NOW, alerts

D = dt.timedelta


def _sent_per_recipient(store: Engine, now: dt.datetime, as_of: dt.date) -> RecordingNotifier:
    notifier = RecordingNotifier()
    run_dispatch(store, notifier, now=now, as_of=as_of)
    return notifier


def test_the_first_night_sends_one_opening_position_and_one_worklist_per_recipient(store: Engine) -> None:
    night = run_nightly(store, as_of=AS_OF, now=NOW).summary

    assert night.opening and night.baseline and night.new_breaches == 0 and night.band_crossings == 0
    rows = alerts(store)
    per_clock = [a for a in rows if a["kind"] != "message"]
    assert len(per_clock) > 50  # the demo council has plenty overdue: else this proves nothing
    assert {a["status"] for a in per_clock} == {"suppressed"}  # recorded, never sent
    messages = [a for a in rows if a["kind"] == "message"]
    assert night.messages_queued == night.alerts_queued == len(messages)
    assert night.alerts_suppressed == len(per_clock)
    keys = sorted(a["alert_key"] for a in messages)
    assert f"opening-position/{AS_OF.isoformat()}" in keys
    recipients = Counter(a["recipient"] for a in messages)
    assert recipients["managers"] == 1 + (f"opening-worklist/{AS_OF}/managers" in keys)
    assert max(recipients.values()) <= 2 and all(n == 1 for r, n in recipients.items() if r != "managers")
    assert {"caseworker:cw-001", "team:South", "team:West"} <= set(recipients)

    notifier = _sent_per_recipient(store, NOW + D(hours=5), AS_OF)
    assert len(notifier.sent) == len(messages)  # nothing else goes out
    figures = headline(
        evaluate_caseload(load_caseload(store), load_catalogue(), as_of=AS_OF),
        ("within_20", "over_20", "over_30", "over_52", "over_100"),
    )
    [position] = [m for m in notifier.sent if m.title.startswith("EHC opening position")]
    assert (
        f"{figures.open_requests:,} open requests, {figures.overdue_clocks:,} clocks overdue"
        in position.title
    )
    assert "CLOCKS OVERDUE BY HOW LONG" in position.body and "LONGEST WAITS" in position.body
    assert "new breach" not in position.title
    for message in notifier.sent:
        assert all(fits(message, limit) for limit in CHANNEL_LIMITS)
        assert "(new breach" not in message.body  # nothing is new on a first night

    # a re-run of the first night queues nothing more
    again = run_nightly(store, as_of=AS_OF, now=NOW + D(hours=2)).summary
    assert again.alerts_queued == 0


def test_the_next_night_sends_only_what_changed(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    _sent_per_recipient(store, NOW + D(hours=5), AS_OF)

    later = run_nightly(store, as_of=LATER, now=LATER_NOW).summary

    assert not later.opening and later.messages_queued == 0
    fresh = [a for a in alerts(store) if a["status"] == "queued"]
    breaches = [a for a in fresh if a["kind"] == "overdue"]
    assert breaches, "clocks must fall due during the week (else this proves nothing)"
    # new breaches only: due on or after the last night that ran (not overdue then)
    assert all(a["due_date"] >= AS_OF for a in breaches)
    assert later.new_breaches == len({a["alert_key"].removesuffix("/managers") for a in breaches})
    assert not [a for a in fresh if a["kind"] == "still_overdue"]  # a Tuesday: no weekly reminder
    messages = render_messages(
        pending_alerts(store, now=LATER_NOW + D(hours=5), max_attempts=5), as_of=LATER, allow_initials=False
    )
    assert len(messages) == len({m.recipient for m in messages})  # one per recipient
    assert sum(1 for m in messages if m.recipient == "managers") == 1


def test_an_old_breach_is_still_overdue_not_new() -> None:
    candidates = pd.DataFrame(
        {
            "kind": ["overdue", "overdue", "overdue", "band_crossed_30", "band_crossed_30", "due_in_7"],
            "due_date": pd.to_datetime(["2016-03-01", "2024-10-14", "2024-10-13", None, None, "2024-10-20"]),
            # a band crossing's episode is the request's receipt date
            "episode": ["x", "x", "x", "2024-03-18", "2024-03-17", "x"],
        }
    )
    kept = only_new(candidates, dt.date(2024, 10, 14))
    # due 14 Oct: not overdue on the night of the 14th, so new; due 13 Oct or 2016: old.
    # received 18 Mar 2024: over 30 weeks (210 days) from 15 Oct, new; received 17 Mar: over on
    # the night of the 14th already, old.
    assert kept["due_date"].dt.strftime("%Y-%m-%d").fillna("-").tolist() == ["2024-10-14", "-", "2024-10-20"]
    assert kept["episode"].tolist() == ["x", "2024-03-18", "x"]


def test_baseline_on_demand_gives_a_new_opening_position_instead_of_alerts(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    before = {a["alert_key"] for a in alerts(store)}

    night = run_nightly(store, as_of=LATER, now=LATER_NOW, baseline=True).summary

    assert night.opening and not night.baseline  # state existed: transitions are still logged
    added = [a for a in alerts(store) if a["alert_key"] not in before]
    assert {a["status"] for a in added if a["kind"] != "message"} <= {"suppressed"}
    assert any(a["alert_key"] == f"opening-position/{LATER.isoformat()}" for a in added)
    assert night.transitions_logged > 0


def test_suppressed_rows_in_batches_are_the_rows_of_one_batch(store: Engine) -> None:
    """An opening night queues its suppressed alerts a batch at a time (memory at 1M cases): the
    rows, their order and their keys are those of one batch, each marked suppressed."""
    evaluation = evaluate_caseload(load_caseload(store), load_catalogue(), as_of=AS_OF)
    candidates = alert_candidates(evaluation, weekly_digest=False)
    assert len(candidates) > 20  # else batches of 7 prove little
    titles = {c.id: c.title for c in load_catalogue().clocks}
    whole = [r for b in suppressed_rows(candidates, titles=titles, now=NOW, size=10**9) for r in b]
    batched = list(suppressed_rows(candidates, titles=titles, now=NOW, size=7))
    assert len(batched) == -(-len(candidates) // 7)
    assert [r for b in batched for r in b] == whole
    assert {r["status"] for r in whole} == {"suppressed"}
    assert whole == [{**r, "status": "suppressed"} for r in outbox_rows(candidates, titles=titles, now=NOW)]
