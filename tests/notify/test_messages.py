"""Rendering: digests, escalations and the weekly summary (pure, no delivery)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ehcp_workflow.notify import (
    MANAGERS,
    AlertItem,
    AlertKind,
    Message,
    Severity,
    WeeklySummary,
    caseworker_digest,
    caseworker_digests,
    delivery_failing_item,
    format_date,
    manager_escalation,
    weekly_summary,
)
from tests.notify.helpers import AS_OF, assert_no_personal_data, item_from_case

D = dt.timedelta


def _texts(message: Message) -> tuple[str, str, str | None]:
    return message.title, message.body, message.markdown


def test_format_date() -> None:
    assert format_date(dt.date(2024, 10, 14)) == "Mon 14 Oct 2024"
    assert format_date(dt.date(2025, 1, 5)) == "Sun 5 Jan 2025"


def test_digest_groups_cases_by_urgency_and_sorts_soonest_due_first(case_row: dict[str, object]) -> None:
    def item(ref: str, kind: AlertKind, due: dt.date | None, **kw: object) -> AlertItem:
        return item_from_case({**case_row, "case_ref": ref}, kind=kind, due_date=due, **kw)

    items = [
        item("EHC-SOON-LATER", AlertKind.DUE_IN_14, AS_OF + D(13)),
        item("EHC-BAD", AlertKind.INVALID, None, detail="request_outcome_date is before request_received"),
        item("EHC-SOON-FIRST", AlertKind.DUE_IN_2, AS_OF + D(2)),
        item("EHC-LATE-NEW", AlertKind.OVERDUE, AS_OF - D(1), days_overdue=1),
        item("EHC-TODAY", AlertKind.DUE_TODAY, AS_OF),
        item("EHC-LATE-OLD", AlertKind.STILL_OVERDUE, AS_OF - D(40), days_overdue=40),
        item("EHC-SOON-MID", AlertKind.DUE_IN_7, AS_OF + D(6)),
    ]
    message = caseworker_digest("cw-017", items, AS_OF)
    body = message.body

    order = [
        "NEW BREACHES (1 CASE)",
        "EHC-LATE-NEW",
        "DUE IN 2 DAYS (2 CASES)",
        "EHC-TODAY",
        "EHC-SOON-FIRST",
        "DUE THIS WEEK (1 CASE)",
        "EHC-SOON-MID",
        "DUE IN THE NEXT 2 WEEKS (1 CASE)",
        "EHC-SOON-LATER",
        "STILL OVERDUE (1 CASE)",
        "EHC-LATE-OLD",
        "DATA PROBLEMS (1 CASE)",
        "EHC-BAD",
    ]
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions), body
    assert message.recipient == "caseworker:cw-017"
    assert message.title == (
        "EHC deadlines Mon 14 Oct 2024: 1 new breach, 2 due in 2 days, 1 due this week, "
        "1 due in 2 weeks, 1 still overdue, 1 data problem"
    )
    assert "- EHC-LATE-OLD: final plan overdue 40 days\n" in body
    assert "- EHC-LATE-NEW: final plan overdue 1 day (was due Sun 13 Oct 2024)\n" in body
    assert "new breach today" not in body  # a digest read days later must not say "today"
    assert "final plan due Wed 16 Oct 2024, in 2 days" in body
    assert "request_outcome_date is before request_received" in body
    assert message.severity is Severity.WARNING
    assert set(message.alert_keys) == {i.key for i in items}
    assert message.markdown is not None and "### Due in 2 days (2 cases)" in message.markdown


def test_one_line_per_case_with_its_clocks_rolled_up_most_urgent_first() -> None:
    def item(clock: str, kind: AlertKind, days: int) -> AlertItem:
        return AlertItem(
            case_ref="C0012",
            clock=clock,
            kind=kind,
            due_date=AS_OF - D(days),
            days_overdue=days,
            caseworker="cw-1",
        )

    items = [
        item("decision_not_to_issue", AlertKind.STILL_OVERDUE, 40),
        item("final_plan", AlertKind.STILL_OVERDUE, 12),
        item("decision_to_assess", AlertKind.DUE_IN_7, -5),
    ]
    body = caseworker_digest("cw-1", items, AS_OF).body
    assert body.count("C0012") == 1
    assert (
        "- C0012: decision to assess due Sat 19 Oct 2024, in 5 days; "
        "decision not to issue overdue 40 days; final plan overdue 12 days\n"
    ) in body
    assert "DUE THIS WEEK (1 CASE)" in body and "STILL OVERDUE" not in body


def test_digest_lines_carry_ref_clock_and_due_date(case_row: dict[str, object]) -> None:
    item = item_from_case(case_row, kind=AlertKind.DUE_IN_7, due_date=dt.date(2024, 10, 21))
    message = caseworker_digest("cw-017", [item], AS_OF)
    assert "- EHC-2024-0042: final plan due Mon 21 Oct 2024, in 7 days\n" in message.body
    assert "SEND Regulations 2014 reg 13(2)" in message.attachments[0].content
    assert message.severity is Severity.INFO


def test_no_name_or_date_of_birth_reaches_any_message(case_row: dict[str, object]) -> None:
    items = [
        item_from_case(
            case_row, kind=kind, due_date=AS_OF - D(3), days_overdue=3, weeks_waiting=53, band="over_52"
        )
        for kind in AlertKind
        if kind is not AlertKind.DELIVERY_FAILING
    ]
    for allow in (False, True):
        digest = caseworker_digest("cw-017", items, AS_OF, allow_initials=allow)
        escalation = manager_escalation(
            [i for i in items if i.kind in {AlertKind.OVERDUE, AlertKind.INVALID}], AS_OF
        )
        assert_no_personal_data(*_texts(digest), *_texts(escalation))


def test_initials_only_when_allowed_and_only_if_they_are_initials(case_row: dict[str, object]) -> None:
    item = item_from_case(case_row, kind=AlertKind.DUE_TODAY, due_date=AS_OF)  # initials "A.H."
    assert "(AH)" not in caseworker_digest("cw-017", [item], AS_OF).body
    allowed = caseworker_digest("cw-017", [item], AS_OF, allow_initials=True)
    assert "EHC-2024-0042 (AH):" in allowed.body
    assert allowed.markdown is not None and "**EHC-2024-0042 (AH)**" in allowed.markdown

    # A full name in the initials field by mistake is dropped, not sent.
    mistaken = dataclasses.replace(item, initials="Amelia Hartley-Jones")
    assert_no_personal_data(*_texts(caseworker_digest("cw-017", [mistaken], AS_OF, allow_initials=True)))


def test_digest_refuses_someone_elses_cases_and_empty_lists(case_row: dict[str, object]) -> None:
    mine = item_from_case(case_row, kind=AlertKind.DUE_TODAY, due_date=AS_OF)
    theirs = dataclasses.replace(mine, case_ref="EHC-OTHER", caseworker="cw-099")
    with pytest.raises(ValueError, match="EHC-OTHER"):
        caseworker_digest("cw-017", [mine, theirs], AS_OF)
    with pytest.raises(ValueError):
        caseworker_digest("cw-017", [], AS_OF)


def test_unassigned_cases_go_to_the_team_then_managers() -> None:
    team_case = AlertItem(
        case_ref="EHC-T", clock="final_plan", kind=AlertKind.DUE_TODAY, due_date=AS_OF, team="East"
    )
    orphan = AlertItem(case_ref="EHC-O", clock="final_plan", kind=AlertKind.DUE_TODAY, due_date=AS_OF)
    assigned = dataclasses.replace(team_case, case_ref="EHC-A", caseworker="cw-3")

    assert caseworker_digest(None, [team_case], AS_OF).recipient == "team:East"
    assert "unassigned cases in team East" in caseworker_digest(None, [team_case], AS_OF).body
    assert caseworker_digest(None, [orphan], AS_OF).recipient == MANAGERS
    with pytest.raises(ValueError):
        caseworker_digest(None, [team_case, orphan], AS_OF)

    digests = caseworker_digests([team_case, orphan, assigned], AS_OF)
    assert [m.recipient for m in digests] == ["caseworker:cw-3", MANAGERS, "team:East"]
    assert [len(m.alert_keys) for m in digests] == [1, 1, 1]


def test_manager_escalation_is_a_summary_by_team_with_the_longest_waits(case_row: dict[str, object]) -> None:
    breach = item_from_case(
        case_row, kind=AlertKind.OVERDUE, due_date=AS_OF - D(1), days_overdue=1, weeks_waiting=25
    )
    band = AlertItem(
        case_ref="EHC-W",
        clock="backlog",
        clock_title="Waiting since the request",
        kind=AlertKind.BAND_CROSSED_52,
        band="over_52",
        weeks_waiting=53,
        team="East",
    )
    invalid = dataclasses.replace(
        breach, case_ref="EHC-BAD", kind=AlertKind.INVALID, detail="no request date", weeks_waiting=None
    )
    message = manager_escalation([invalid, band, breach], AS_OF)

    assert message.recipient == MANAGERS
    assert message.title == "EHC escalations Mon 14 Oct 2024: 1 new breach, 1 band crossing, 1 data problem"
    body = message.body
    assert (
        body.index("NEW BREACHES BY TEAM AND CLOCK")
        < body.index("WAITING-TIME BANDS CROSSED BY TEAM")
        < body.index("DATA PROBLEMS BY TEAM")
        < body.index("LONGEST WAITS AMONG TONIGHT'S ESCALATIONS (3)")
    )
    assert "- North: 1 new breach (final plan 1)" in body
    assert "- East: 1 case (over 52 weeks 1)" in body
    assert "tonight's change" in body
    lines = body[body.index("LONGEST WAITS") :].splitlines()
    assert lines[1].startswith("- EHC-W (team East): waiting 53 weeks")
    assert lines[2].startswith("- EHC-2024-0042 (team North): waiting 25 weeks")
    assert message.severity is Severity.WARNING
    assert_no_personal_data(*_texts(message))

    with pytest.raises(ValueError, match="due_in_7"):
        manager_escalation([dataclasses.replace(breach, kind=AlertKind.DUE_IN_7)], AS_OF)


def test_escalation_of_a_failing_delivery() -> None:
    failed = Message(recipient="caseworker:cw-9", title="EHC deadlines Mon 14 Oct 2024: 1 overdue", body="")
    item = delivery_failing_item(failed, attempts=4, error="connection refused", as_of=AS_OF)
    message = manager_escalation([item], AS_OF)
    assert message.severity is Severity.FAILURE
    assert "ALERTS NOT DELIVERED" in message.body
    assert "- caseworker:cw-9: " in message.body
    assert "4 attempts failed; last error: connection refused" in message.body


def test_markdown_escapes_case_references() -> None:
    item = AlertItem(case_ref="EHC_12_*A*", clock="final_plan", kind=AlertKind.DUE_TODAY, due_date=AS_OF)
    markdown = caseworker_digest(None, [item], AS_OF).markdown
    assert markdown is not None and r"**EHC\_12\_\*A\***" in markdown


def test_weekly_summary() -> None:
    summary = WeeklySummary(
        backlog={
            "North": {"within_20": 40, "over_20": 10, "over_30": 5, "over_52": 2, "over_100": 1},
            "East": {"within_20": 20, "over_52": 3},
        },
        still_overdue={"North": {"final_plan": 3, "decision_to_assess": 1}, "East": {"final_plan": 2}},
        invalid={"East": 2},
    )
    message = weekly_summary(summary, AS_OF)
    assert message.recipient == MANAGERS
    assert message.title == (
        "EHC weekly summary Mon 14 Oct 2024: 81 open requests, 6 waiting over 52 weeks, "
        "6 clocks overdue, 2 data problems"
    )
    body = message.body
    assert (
        "- All teams: 81 open requests (up to 20 weeks 60, 20-30 weeks 10, 30-52 weeks 5, "
        "52-100 weeks 5, over 100 weeks 1)"
    ) in body
    assert "- East: 23 open requests (up to 20 weeks 20, 20-30 weeks 0" in body
    assert body.index("- East:") < body.index("- North:")
    assert "over 20 weeks 21, over 30 weeks 11, over 52 weeks 6, over 100 weeks 1" in body
    assert "- North: 4 clocks overdue (final_plan 3, decision_to_assess 1)" in body
    assert "- All teams: 6 clocks overdue (final_plan 5, decision_to_assess 1)" in body
    assert "- East: 2 clocks" in body


def test_weekly_summary_with_custom_bands_and_nothing_overdue() -> None:
    summary = WeeklySummary(
        backlog={"North": {"within_10": 1, "over_10": 2}}, band_order=("within_10", "over_10")
    )
    message = weekly_summary(summary, AS_OF)
    assert "up to 10 weeks 1, over 10 weeks 2" in message.body
    assert "0 clocks overdue" in message.title and "over 52" not in message.title


def test_several_clocks_of_one_kind_are_told_apart_by_instance() -> None:
    items = [
        AlertItem(
            case_ref="EHC-1",
            clock="advice",
            instance=adviser,
            clock_title="Advice requested during the assessment",
            kind=AlertKind.OVERDUE,
            due_date=AS_OF - D(2),
            days_overdue=2,
            caseworker="cw-1",
        )
        for adviser in ("EP", "SaLT")
    ]
    message = caseworker_digest("cw-1", items, AS_OF)
    assert "advice (EP) overdue 2 days" in message.body and "advice (SaLT) overdue 2 days" in message.body
    assert len(set(message.alert_keys)) == 2


def test_a_window_closed_early_is_its_own_group_and_escalates(case_row: dict[str, object]) -> None:
    cut = item_from_case(
        case_row,
        clock="draft_representations",
        kind=AlertKind.CUT_SHORT,
        due_date=AS_OF - D(3),
        detail="final plan issued 9 days into the 15-day window",
    )
    digest = caseworker_digest("cw-017", [cut], AS_OF).body
    assert "WINDOWS CLOSED EARLY (1 CASE)" in digest
    assert "draft representations window closed early: final plan issued 9 days" in digest
    assert "overdue" not in digest.split("WINDOWS CLOSED EARLY")[1]
    escalation = manager_escalation([cut], AS_OF)
    assert escalation.title == "EHC escalations Mon 14 Oct 2024: 1 window closed early"
    assert "- North: 1 window (draft representations 1)" in escalation.body
