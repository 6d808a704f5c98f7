"""``ehcp case list|record|assign`` on the small CSV caseload (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import date

from tests.cli.conftest import AS_OF, events_of, said


def _rows(output: str) -> list[dict[str, str]]:
    lines = [line for line in output.splitlines() if "," in line]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _get_case(url: str, ref: str):
    from sqlalchemy.orm import Session

    from ehcp_workflow.db import get_case, make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return get_case(session, ref)
    finally:
        engine.dispose()


def test_list_filters_and_lookups(loaded) -> None:
    every = _rows(loaded("case", "list", "--as-of", AS_OF, "-f", "csv").output)
    assert [r["case_ref"] for r in every][:2] == ["C-05", "C-04"]  # most overdue first
    assert len(every) == 8
    c01 = next(r for r in every if r["case_ref"] == "C-01")
    assert (c01["weeks_waiting"], c01["band"], c01["clock"], c01["status"]) == (
        "4",
        "within_20",
        "decision_to_assess",
        "due_soon",
    )
    assert next(r for r in every if r["case_ref"] == "C-08")["clock"] == ""  # refused: nothing running

    mine = _rows(loaded("case", "list", "--caseworker", "alice", "--as-of", AS_OF, "-f", "csv").output)
    assert sorted(r["case_ref"] for r in mine) == ["C-01", "C-02", "C-07"]
    south = _rows(loaded("case", "list", "--team", "south", "--as-of", AS_OF, "-f", "csv").output)
    assert sorted(r["case_ref"] for r in south) == ["C-04", "C-05", "C-06", "C-08"]

    overdue = _rows(loaded("case", "list", "--status", "overdue", "--as-of", AS_OF, "-f", "csv").output)
    assert sorted(r["case_ref"] for r in overdue) == ["C-02", "C-03", "C-04", "C-05", "C-07"]
    assert all(r["status"] == "overdue" for r in overdue)
    c02 = next(r for r in overdue if r["case_ref"] == "C-02")
    assert (c02["clock"], c02["days_overdue"], c02["other_clocks"]) == ("decision_not_to_issue", "70", "1")

    soon = _rows(loaded("case", "list", "--due-within", "14", "--as-of", AS_OF, "-f", "csv").output)
    assert [(r["case_ref"], r["clock"], r["due_date"]) for r in soon] == [
        ("C-07", "review_decision", "2026-06-08"),
        ("C-01", "decision_to_assess", "2026-06-15"),
    ]
    band = _rows(loaded("case", "list", "--band", "over_30", "--as-of", AS_OF, "-f", "csv").output)
    assert [r["case_ref"] for r in band] == ["C-03"]
    met = _rows(
        loaded(
            "case", "list", "--status", "met", "--clock", "decision_to_assess", "--as-of", AS_OF, "-f", "csv"
        ).output
    )
    assert sorted(r["case_ref"] for r in met) == ["C-02", "C-03", "C-04", "C-05", "C-06", "C-07", "C-08"]

    limited = loaded("case", "list", "--as-of", AS_OF, "--limit", "3")
    assert limited.exit_code == 0
    assert "8 matching case(s) (showing 3; --limit 0 for all)" in limited.output

    # references that are not cases
    result = loaded("case", "show", "C-99")
    assert result.exit_code == 2 and "No case 'C-99' in the store." in result.output
    result = loaded("case", "show", "P-03")
    assert result.exit_code == 2 and "P-03 is a person; their case(s): C-03." in result.output

    bad = loaded("case", "list", "--band", "over_9")
    assert bad.exit_code == 2 and "over_9" in bad.output
    bad = loaded("case", "list", "--clock", "tea_break")
    assert bad.exit_code == 2 and "unknown clock" in bad.output


#: Refused records: the arguments and what the message must say. Nothing is recorded for any.
REFUSALS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("C-07", "frobnicate", "2026-05-20"), "'frobnicate' is not one of"),
    (("C-07", "review-report", "2026-02-30"), "is not a date"),
    (("C-07", "review-decision", "2026-05-20"), "needs --value"),
    (("C-07", "review-decision", "2026-05-20", "--value", "Q"), "'Q' is not one of A (amend)"),
    (("C-07", "review-report", "2026-05-20", "--value", "x"), "takes no --value"),
    (("C-07", "review-report", "2026-05-20", "--ground", "c"), "takes no --ground"),
    (("C-02", "exception", "2026-01-01", "--value", "final_plan"), "needs --ground"),
    (("C-02", "exception", "2026-01-01", "--value", "review", "--ground", "c"), "not a clock with exception"),
    (("C-02", "advice-requested", "2026-01-01", "--value", "astrology"), "not an advice provider"),
    (("C-02", "advice-received", "2026-01-01", "--value", "paediatrics"), "no request for paediatrics"),
    (("C-01", "withdrawn", "2026-05-05", "--value", "x"), "takes no --value"),
    (("C-08", "withdrawn", "2026-05-05"), "nothing is awaiting a decision"),
    # an end before its start: the store refuses and names the field
    (
        ("C-07", "review-report", "2026-05-01"),
        "review_report_sent: review_report_sent (2026-05-01) is before",
    ),
    (
        ("C-02", "decision-to-assess", "2025-11-01", "--value", "Y"),
        "request_outcome_date (2025-11-01) is before",
    ),
    (("C-99", "review-report", "2026-05-20"), "No case 'C-99'"),
    # an event dated after today: it has not happened yet (planned dates excepted)
    (("C-07", "review-report", "2099-01-05"), "is dated 2099-01-05, after today"),
    # an event before the one it depends on
    (
        ("C-06", "review-meeting", "2025-01-01"),
        "review_meeting (2025-01-01) is before plan_start (2025-10-10)",
    ),
    (("C-02", "plan-issued", "2025-12-20"), "is before request_outcome_date (2026-01-09)"),
)


def test_record_refuses_clearly_and_records_nothing(loaded, url) -> None:
    before = {ref: len(events_of(url, ref)) for ref in ("C-01", "C-02", "C-07", "C-08")}
    for args, message in REFUSALS:
        result = loaded("case", "record", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in said(result), (args, result.output)
    assert {ref: len(events_of(url, ref)) for ref in before} == before


def test_record_decision_and_review_steps(loaded, url) -> None:
    result = loaded(
        "case", "record", "C-01", "decision-to-assess", "2026-05-29", "--value", "yes", "--as-of", AS_OF
    )
    assert result.exit_code == 0, result.output
    assert "decision_to_assess" in result.output.split("Clocks that changed")[1]
    case = _get_case(url, "C-01")
    assert (case["request_outcome"], case["request_outcome_date"]) == ("Y", date(2026, 5, 29))

    result = loaded(
        "case", "record", "C-07", "review-decision", "2026-05-20", "--value", "amend", "--as-of", AS_OF
    )
    assert result.exit_code == 0, result.output
    changed = result.output.split("Clocks that changed")[1]
    assert "review_decision" in changed and "amendment_notice" in changed
    assert _get_case(url, "C-07")["review_outcome"] == "A"

    again = loaded("case", "record", "C-07", "review-decision", "2026-05-20", "--value", "A")
    assert again.exit_code == 0
    assert "Nothing changed: C-07 already records that." in again.output

    result = loaded("case", "record", "C-03", "withdrawn", "2026-05-01", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    case = _get_case(url, "C-03")
    assert (case["assessment_outcome"], case["assessment_outcome_date"]) == ("W", date(2026, 5, 1))
    assert "Backlog: over_30, 35 weeks → not open." in result.output

    result = loaded("case", "record", "C-02", "plan-issued", "2026-05-22", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    case = _get_case(url, "C-02")
    assert (case["assessment_outcome"], case["plan_start"]) == ("Y", date(2026, 5, 22))


def test_exception_and_advice_on_one_case(loaded, url) -> None:
    # An exception ground with its start, then its end (refused before the start).
    result = loaded(
        "case",
        "record",
        "C-02",
        "exception",
        "2026-02-01",
        "--value",
        "final_plan",
        "--ground",
        "C",
        "--as-of",
        AS_OF,
    )
    assert result.exit_code == 0, result.output
    changed = result.output.split("Clocks that changed")[1]
    assert "final_plan" in changed and "excepted" in changed
    case = _get_case(url, "C-02")
    assert (case["exception_final_plan"], case["exception_final_plan_start"]) == ("c", date(2026, 2, 1))
    result = loaded("case", "record", "C-02", "exception-end", "2026-01-15", "--value", "final_plan")
    assert result.exit_code == 2
    assert "exception_final_plan_end (2026-01-15) is before exception_final_plan_start" in said(result)
    assert (
        loaded("case", "record", "C-02", "exception-end", "2026-03-01", "--value", "final_plan").exit_code
        == 0
    )
    assert _get_case(url, "C-02")["exception_final_plan_end"] == date(2026, 3, 1)

    # A request for advice, then its answer.
    result = loaded(
        "case", "record", "C-02", "advice-requested", "2026-01-12", "--value", "paediatrics", "--as-of", AS_OF
    )
    assert result.exit_code == 0, result.output
    assert "advice.paediatrics.1.requested" in result.output
    assert "overdue (due 2026-02-23)" in result.output
    result = loaded(
        "case", "record", "C-02", "advice-received", "2026-02-20", "--value", "paediatrics", "--as-of", AS_OF
    )
    assert result.exit_code == 0, result.output
    assert "met (due 2026-02-23)" in result.output
    (advice,) = _get_case(url, "C-02").advice
    assert (advice.provider, advice.seq, advice.requested, advice.received) == (
        "paediatrics",
        1,
        date(2026, 1, 12),
        date(2026, 2, 20),
    )
    result = loaded("case", "record", "C-02", "advice-received", "2026-02-21", "--value", "paediatrics")
    assert result.exit_code == 2 and "already received (requests 1)" in said(result)
    result = loaded("case", "record", "C-02", "advice-received", "2026-02-19", "--value", "paediatrics:1")
    assert result.exit_code == 0, result.output


def test_assign_keeps_the_team_unless_told(loaded, url) -> None:
    result = loaded(
        "case", "assign", "C-01", "--caseworker", "bob", "--actor", "manager", "--reason", "leave"
    )
    assert result.exit_code == 0, result.output
    assert "C-01 assigned to bob (team north); was alice (team north)." in result.output
    result = loaded("case", "assign", "C-01", "--caseworker", "carol", "--team", "south")
    assert "C-01 assigned to carol (team south); was bob (team north)." in result.output
    assert "Nothing changed" in loaded("case", "assign", "C-01", "--caseworker", "carol").output
    events = [e for e in events_of(url, "C-01") if e.source == "command:assign"]
    assert sorted((e.field, e.old_value, e.new_value) for e in events) == [
        ("caseworker", "alice", "bob"),
        ("caseworker", "bob", "carol"),
        ("team", "north", "south"),
    ]
    first = next(e for e in events if e.new_value == "bob")
    assert (first.actor, first.reason) == ("manager", "leave")
    result = loaded("case", "assign", "C-99", "--caseworker", "bob")
    assert result.exit_code == 2 and "No case 'C-99'" in result.output
