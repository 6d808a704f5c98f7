"""Golden cases of a case's history and of the law fixes found in review (issue: a case is a history).

Each test names its regulation. Every case runs through the engine and the oracle
(``golden_helpers.evaluate``), which must agree before the expected answers are compared.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ehcp_workflow.core.conventions import Conventions, ReviewAnchor
from tests.golden_helpers import evaluate

D = dt.date
PLAN = {"plan_start": D(2020, 1, 10)}
LAST_YEAR = {"review_meeting": D(2025, 8, 20), "review_outcome": "M", "review_decision_letter": D(2025, 9, 1)}


@pytest.mark.parametrize("as_of", [D(2026, 6, 1), D(2026, 5, 1)])
def test_s44_1_next_review_runs_from_last_decision_letter_while_the_new_one_is_under_way(
    as_of: dt.date,
) -> None:
    """CFA 2014 s.44(1): a review meeting held on 20 May 2026 whose decision letter has not gone does
    not reset the 12 months to the plan's start: due 1 Sep 2026 (12 months from the last letter),
    pending, both on the night after the meeting and on a replay of the night before it."""
    c = evaluate(as_of, reviews=[LAST_YEAR, {"review_meeting": D(2026, 5, 20)}], **PLAN)
    assert c["annual_review:review 2"].due == D(2026, 9, 1)
    assert c["annual_review:review 2"].status == "pending"
    assert c["annual_review"].due == D(2026, 9, 1)  # the latest period is the one acted on
    assert c["annual_review:review 1"].end == D(2025, 9, 1)


def test_s44_1_every_cycle_has_its_own_review_steps() -> None:
    """Regs 20(7), 20(10): each review cycle's report and decision run from its own meeting."""
    first = {
        "review_meeting": D(2024, 9, 2),
        "review_decision_letter": D(2024, 10, 30),
        "review_outcome": "M",
    }
    second = {
        "review_meeting": D(2025, 9, 1),
        "review_decision_letter": D(2025, 9, 20),
        "review_outcome": "M",
    }
    c = evaluate(D(2026, 1, 5), reviews=[second, first], **PLAN)  # any order in, date order out
    assert c["review_decision:review 1"].status == "late"
    assert c["review_decision:review 1"].due == D(2024, 9, 30)
    assert c["review_decision:review 2"].status == "met"
    assert c["annual_review:review 2"].start == D(2024, 10, 30)  # from review 1's letter
    assert c["annual_review:review 2"].end == D(2025, 9, 20)
    assert c["annual_review:review 3"].due == D(2026, 9, 20)


def test_s44_1_meeting_anchor_convention_counts_from_the_meeting() -> None:
    conv = Conventions(review_anchor=ReviewAnchor.MEETING)
    c = evaluate(D(2026, 6, 1), conv, reviews=[LAST_YEAR, {"review_meeting": D(2026, 5, 20)}], **PLAN)
    assert c["annual_review:review 2"].end == D(2026, 5, 20)
    assert c["annual_review"].due == D(2027, 5, 20)


def test_reg15_5_transfer_in_reviewed_by_the_new_council() -> None:
    """Reg 15(5): first review after a transfer in by the later of 12 months from the last review
    (1 Dec 2025 -> 1 Dec 2026) and 3 months from the transfer (15 Apr 2026); the new council's
    review (meeting 10 May, decision 20 May 2026) meets it. The s.44 period running across the
    transfer is governed by reg 15(5), not breached."""
    c = evaluate(
        D(2026, 6, 1),
        transfer_in_date=D(2026, 1, 15),
        reviews=[
            {
                "review_meeting": D(2025, 11, 20),
                "review_decision_letter": D(2025, 12, 1),
                "review_outcome": "M",
            },
            {
                "review_meeting": D(2026, 5, 10),
                "review_decision_letter": D(2026, 5, 20),
                "review_outcome": "M",
            },
        ],
        **PLAN,
    )
    assert c["transfer_in_review"].due == D(2026, 12, 1)
    assert c["transfer_in_review"].status == "met"
    assert c["transfer_in_review"].end == D(2026, 5, 20)
    assert c["annual_review:review 2"].status == "not_applicable"
    assert c["annual_review:review 3"].due == D(2027, 5, 20)


@pytest.mark.parametrize(
    ("outcome", "status"), [("M", "not_applicable"), ("C", "not_applicable"), ("A", "late")]
)
def test_devon_four_week_duty_follows_only_a_decision_to_amend(outcome: str, status: str) -> None:
    """R (L, M and P) v Devon CC [2022]; reg 20 with reg 22(2): the 4 weeks from the meeting bind
    only a decision to amend. A review that maintained the plan (Aug 2025) followed seven months
    later by a separate reg 22 amendment is not a breach of it; the amendment's own 8 weeks run."""
    c = evaluate(
        D(2026, 6, 1),
        reviews=[
            {
                "review_meeting": D(2025, 8, 1),
                "review_decision_letter": D(2025, 8, 20),
                "review_outcome": outcome,
                "amendment_notice": D(2026, 3, 1),
            }
        ],
        **PLAN,
    )
    assert c["amendment_notice"].status == status
    assert c["amended_plan"].due == D(2026, 4, 26)  # reg 22(3): 8 weeks from the notice
    assert c["amended_plan"].status == "overdue"


@pytest.mark.parametrize(
    ("issued", "status"),
    [(D(2024, 11, 10), "cut_short"), (D(2024, 11, 15), "cut_short"), (D(2024, 11, 16), "met")],
)
def test_reg13_1_final_plan_inside_the_representation_window_is_flagged(issued: dt.date, status: str) -> None:
    """Reg 13(1): the family has at least 15 days beginning with the day the draft was served
    (1-15 Nov 2024). A final plan issued inside them cuts the window short: flagged, never met."""
    c = evaluate(
        D(2024, 12, 1),
        request_received=D(2024, 7, 1),
        request_outcome="Y",
        request_outcome_date=D(2024, 8, 1),
        draft_plan_served=D(2024, 11, 1),
        assessment_outcome="Y",
        assessment_outcome_date=issued,
    )
    assert c["draft_representations"].status == status
    assert c["final_plan"].status == "met"  # the 20 weeks themselves were met either way


@pytest.mark.parametrize(
    ("clock", "case"),
    [
        ("decision_to_assess", {"request_outcome": "Y"}),  # reg 5(1)
        ("decision_to_assess", {"request_outcome": "N"}),
        (
            "final_plan",
            {"request_outcome": "Y", "request_outcome_date": D(2025, 2, 1), "assessment_outcome": "Y"},
        ),
        (
            "decision_not_to_issue",  # reg 10(1)
            {"request_outcome": "Y", "request_outcome_date": D(2025, 2, 1), "assessment_outcome": "N"},
        ),
    ],
)
def test_outcome_recorded_without_its_date_is_invalid_not_overdue(
    clock: str, case: dict[str, object]
) -> None:
    """A decision recorded without its date is a data problem (an alert), never a silent breach."""
    c = evaluate(D(2026, 1, 5), request_received=D(2025, 1, 6), **case)
    assert c[clock].status == "invalid"
    assert c[clock].due is not None  # the due date is still shown


@pytest.mark.parametrize(
    ("ended", "status", "end"),
    [
        (D(2025, 3, 1), "late", D(2025, 3, 1)),  # after the due date: reported late once, at the end
        (D(2025, 2, 10), "not_applicable", None),  # before it: no longer needed
    ],
)
def test_reg8_advice_outstanding_when_the_assessment_ends_stops(
    ended: dt.date, status: str, end: dt.date | None
) -> None:
    """Reg 8(1): advice requested 6 Jan 2025 (due 17 Feb) and never received stops running when the
    assessment ends (here a plan issued): not an overdue alert that runs for ever."""
    c = evaluate(
        D(2026, 1, 5),
        advice=[{"provider": "paediatrics", "requested": D(2025, 1, 6), "received": None, "exception": None}],
        request_received=D(2024, 12, 2),
        request_outcome="Y",
        request_outcome_date=D(2025, 1, 3),
        assessment_outcome="Y",
        assessment_outcome_date=ended,
    )
    assert c["advice:paediatrics"].status == status
    assert c["advice:paediatrics"].end == end


def test_reg8_advice_still_runs_while_the_assessment_does() -> None:
    c = evaluate(
        D(2025, 3, 1),
        advice=[{"provider": "paediatrics", "requested": D(2025, 1, 6), "received": None, "exception": None}],
        request_received=D(2024, 12, 2),
        request_outcome="Y",
        request_outcome_date=D(2025, 1, 3),
    )
    assert c["advice:paediatrics"].status == "overdue"
