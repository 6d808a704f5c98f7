"""Single-case functions: validation, the change plus its event, history, and replay."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from ehcp_workflow.db import (
    CaseNotFound,
    assign_case,
    case_events,
    get_case,
    list_cases,
    record_event,
    replay_case_state,
    request_advice,
    upsert_caseload,
    upsert_people,
)
from ehcp_workflow.problems import InputError

WHO = {"actor": "alice", "source": "command:test", "reason": "phone call with parent"}


@pytest.fixture
def loaded(session, caseload):
    upsert_caseload(session, caseload, actor="importer")
    return session


def test_record_event_writes_the_change_and_one_event(loaded) -> None:
    events = record_event(loaded, "C-002", "request_outcome_date", date(2026, 11, 3), **WHO)
    assert [(e.field, e.old_value, e.new_value) for e in events] == [
        ("request_outcome_date", None, "2026-11-03")
    ]
    event = events[0]
    assert (event.actor, event.source, event.reason, event.case_ref) == (
        "alice",
        "command:test",
        WHO["reason"],
        "C-002",
    )
    assert event.recorded_at.utcoffset() == timedelta(0)
    assert get_case(loaded, "C-002")["request_outcome_date"] == date(2026, 11, 3)
    # the same value again is not a change
    assert record_event(loaded, "C-002", "request_outcome_date", date(2026, 11, 3), **WHO) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("request_outcome", "Z", "is not one of"),
        ("request_outcome_date", datetime(2026, 11, 3, 9, 0), "calendar date"),
        ("request_outcome_date", "2026-11-03", "calendar date"),
        ("reassessment_agreed", "yes", "true/false"),
        ("shoe_size", "9", "not a case field"),
        ("case_ref", "C-999", "not a case field"),
        ("team", "  ", "empty text"),
        ("request_outcome_date", date(2026, 9, 1), "before request_received"),  # received 2026-10-01
        ("exception_decision_to_assess_start", date(2026, 10, 2), "record the exception ground"),
    ],
)
def test_record_event_refuses_bad_values(loaded, field, value, message) -> None:
    before = len(case_events(loaded, "C-002"))
    with pytest.raises(InputError, match=message):
        record_event(loaded, "C-002", field, value, **WHO)
    assert len(case_events(loaded, "C-002")) == before


def test_end_before_start_is_refused_from_either_side(loaded) -> None:
    record_event(loaded, "C-002", "reassessment_requested", date(2026, 5, 1), **WHO)
    record_event(loaded, "C-002", "reassessment_decision_date", date(2026, 6, 1), **WHO)
    with pytest.raises(InputError, match=r"reassessment_decision_date .* is before reassessment_requested"):
        record_event(loaded, "C-002", "reassessment_requested", date(2026, 7, 1), **WHO)


def test_unknown_case(loaded) -> None:
    with pytest.raises(CaseNotFound):
        record_event(loaded, "nope", "plan_start", date(2026, 1, 1), **WHO)
    with pytest.raises(CaseNotFound):
        get_case(loaded, "nope")


def test_exception_with_its_period_and_evidence(loaded) -> None:
    record_event(loaded, "C-002", "exception_decision_to_assess", "d", **WHO)
    record_event(loaded, "C-002", "exception_decision_to_assess_start", date(2026, 10, 5), **WHO)
    record_event(loaded, "C-002", "exception_decision_to_assess_evidence", "family abroad 5 weeks", **WHO)
    with pytest.raises(InputError, match="before"):
        record_event(loaded, "C-002", "exception_decision_to_assess_end", date(2026, 10, 1), **WHO)
    record_event(loaded, "C-002", "exception_decision_to_assess_end", date(2026, 11, 9), **WHO)
    case = get_case(loaded, "C-002")
    assert case["exception_decision_to_assess_end"] == date(2026, 11, 9)
    assert replay_case_state(loaded, "C-002") == case
    # clearing the ground removes the exception and logs its details as cleared
    events = record_event(loaded, "C-002", "exception_decision_to_assess", None, **WHO)
    assert {e.field for e in events} == {
        "exception_decision_to_assess",
        "exception_decision_to_assess_start",
        "exception_decision_to_assess_end",
        "exception_decision_to_assess_evidence",
    }
    assert replay_case_state(loaded, "C-002") == get_case(loaded, "C-002")


def test_review_meeting_later_than_the_last_starts_a_new_review(engine, loaded) -> None:
    before = get_case(loaded, "C-001")
    events = record_event(loaded, "C-001", "review_meeting", date(2026, 6, 1), **WHO)
    cleared = {e.field for e in events if e.new_value is None}
    assert cleared == {
        "review_report_sent",
        "review_outcome",
        "review_decision_letter",
        "amendment_notice",
        "amended_plan_issued",
    }
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM annual_review")).scalar_one() == 2
    # correcting the meeting date to an earlier one corrects the latest review in place
    record_event(loaded, "C-001", "review_meeting", date(2026, 5, 28), **WHO)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM annual_review")).scalar_one() == 2
    assert before["review_meeting"] != get_case(loaded, "C-001")["review_meeting"]
    assert replay_case_state(loaded, "C-001") == get_case(loaded, "C-001")


def test_assign_case_keeps_history(engine, loaded) -> None:
    events = assign_case(loaded, "C-001", caseworker="carol", team="south", actor="manager")
    assert {(e.field, e.old_value, e.new_value) for e in events} == {
        ("caseworker", "alice", "carol"),
        ("team", "north", "south"),
    }
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.caseworker, a.assigned_until IS NULL AS open FROM assignment a "
                "JOIN ehcp_case c ON c.id = a.case_id WHERE c.case_ref = 'C-001' ORDER BY a.id"
            )
        ).all()
    assert [(r.caseworker, bool(r.open)) for r in rows] == [("alice", False), ("carol", True)]
    assert [c.case_ref for c in list_cases(loaded, caseworker="carol")] == ["C-001"]
    assert [c.case_ref for c in list_cases(loaded, team="south")] == ["C-001", "C-002"]
    assert list_cases(loaded, team="south", caseworker="bob")[0].case_ref == "C-002"


def test_advice_requests(loaded) -> None:
    record = request_advice(loaded, "C-002", provider="social_care", requested=date(2026, 10, 20), **WHO)
    assert record.seq == 2  # the second social-care request in this case
    record_event(loaded, "C-002", "advice.social_care.2.received", date(2026, 11, 2), **WHO)
    with pytest.raises(InputError, match="before requested"):
        record_event(loaded, "C-002", "advice.social_care.1.received", date(2026, 10, 1), **WHO)
    with pytest.raises(InputError, match="no request 7"):
        record_event(loaded, "C-002", "advice.social_care.7.received", date(2026, 11, 2), **WHO)
    with pytest.raises(InputError, match="not one of"):
        request_advice(loaded, "C-002", provider="astrology", requested=date(2026, 10, 20), **WHO)
    advice = {(a.provider, a.seq): a for a in get_case(loaded, "C-002").advice}
    assert advice[("social_care", 2)].received == date(2026, 11, 2)
    assert replay_case_state(loaded, "C-002") == get_case(loaded, "C-002")


def test_replay_after_a_mixed_history(loaded, caseload) -> None:
    record_event(loaded, "C-003", "person_ref", "P-9", **WHO)
    record_event(loaded, "C-003", "request_outcome", "N", **WHO)
    record_event(loaded, "C-003", "request_outcome_date", date(2026, 10, 10), **WHO)
    record_event(loaded, "C-003", "reassessment_agreed", True, **WHO)
    assign_case(loaded, "C-003", caseworker="dan", team=None, actor="manager")
    record_event(loaded, "C-003", "plan_start", date(2026, 12, 1), **WHO)
    record_event(loaded, "C-003", "plan_start", None, **WHO)
    upsert_caseload(loaded, caseload, actor="importer")  # the next import puts the file's values back
    for ref in ("C-001", "C-002", "C-003"):
        assert replay_case_state(loaded, ref) == get_case(loaded, ref)
    assert get_case(loaded, "C-003")["person_ref"] is None


def test_people_are_stored_but_never_logged(engine, loaded) -> None:
    import pandas as pd

    people = pd.DataFrame(
        {
            "person_ref": ["P-1", "P-7"],
            "surname": ["Smith", "Jones"],
            "birth_date": pd.to_datetime(["2015-03-01", None]),
        }
    )
    assert upsert_people(loaded, people, actor="importer") == 2
    with engine.connect() as conn:
        names = dict(conn.execute(sa.text("SELECT person_ref, surname FROM person")).all())
        logged = conn.execute(
            sa.text("SELECT count(*) FROM event_log WHERE new_value = 'Smith'")
        ).scalar_one()
    assert names["P-1"] == "Smith" and names["P-7"] == "Jones"
    assert logged == 0
    assert "surname" not in get_case(loaded, "C-001").fields
