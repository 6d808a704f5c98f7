"""No child's name, birth date, postcode, UPN or ULN in anything the jobs send, queue or publish.

The store holds them (the ``person`` table, loaded with ``upsert_people``); every outbox row, every
message handed to the notifier (digests, escalations, a delivery-failing alert, the weekly summary),
the nightly artifacts' tables and the weekly HTML report are searched for each of them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ehcp_workflow.jobs.dispatch import DeliveryFailing, run_dispatch
from ehcp_workflow.jobs.night_report import breach_summary_markdown
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.jobs.weekly import run_weekly
from ehcp_workflow.notify import RecordingNotifier
from tests.jobs.helpers import (
    AS_OF,
    BIRTH_DATES,
    LATER,
    LATER_NOW,
    NOW,
    SURNAMES,
    alerts,
    assert_no_personal_data,
    message_texts,
    stored_people,
)


def test_no_personal_data_leaves_the_store(store: Engine, tmp_path: Path) -> None:
    people = stored_people(store)
    assert {p["surname"] for p in people} == set(SURNAMES)  # the store does hold them...
    assert {p["birth_date"] for p in people} == set(BIRTH_DATES)

    nights = [run_nightly(store, as_of=AS_OF, now=NOW), run_nightly(store, as_of=LATER, now=LATER_NOW)]
    week = run_weekly(store, as_of=LATER, now=LATER_NOW, out_dir=tmp_path)
    everyone = {a["recipient"] for a in alerts(store)}
    notifier = RecordingNotifier(routes=everyone - {"caseworker:cw-002"})
    hour = dt.timedelta(hours=1)
    run_dispatch(store, notifier, now=LATER_NOW + 5 * hour, as_of=LATER, max_attempts=2)  # cw-002 fails
    with pytest.raises(DeliveryFailing):  # and fails again: given up, managers are told
        run_dispatch(store, notifier, now=LATER_NOW + 6 * hour, as_of=LATER, max_attempts=2)
    run_dispatch(store, notifier, now=LATER_NOW + 7 * hour, as_of=LATER, max_attempts=2)

    kinds = {a["kind"] for a in alerts(store)}
    assert {"overdue", "band_crossed_30", "band_crossed_52", "delivery_failing", "message"} <= kinds
    assert len(notifier.attempts) > len(everyone)  # ...and every kind of message was rendered
    assert any(m.title.startswith("EHC opening position") for m in notifier.attempts)
    assert sum(len(m.attachments) for m in notifier.attempts) > len(everyone)  # CSVs searched too
    for a in alerts(store):
        assert_no_personal_data([a["subject"], a["body"], a["last_error"]], where=f"alert {a['alert_key']}")
    assert_no_personal_data(message_texts(notifier.attempts), where="a message")
    for night in nights:
        for name, frame in (
            ("backlog-by-team", night.backlog_by_team),
            ("new breaches", night.new_breaches),
            ("band crossings", night.band_crossings),
            ("longest waits", night.longest_waits),
        ):
            assert_no_personal_data([frame.to_csv()], where=f"the {name} artifact")
        assert_no_personal_data([str(night.summary.as_dict())], where="the nightly summary")
        markdown = breach_summary_markdown(
            night.summary.as_dict(),
            band_labels=("within_20", "over_20", "over_30", "over_52", "over_100"),
            longest_waits=night.longest_waits.to_dict(orient="records"),
        )
        assert_no_personal_data([markdown], where="the breach-summary artifact")
    assert week.summary_queued and week.report.workbook.is_file()
    assert_no_personal_data([week.report.html.read_text(encoding="utf-8")], where="the weekly report")


@pytest.mark.parametrize("text", ["Hartley-Jones", "2006-01-09", "9 Jan 2006", "K999260000407", "9999999982"])
def test_the_check_would_catch_a_leak(text: str) -> None:
    with pytest.raises(AssertionError, match="personal data"):
        assert_no_personal_data([f"C0000001 ({text}): review overdue"], where="a message")
