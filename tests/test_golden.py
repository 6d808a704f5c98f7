"""Golden dates: the hand-checkable fixtures of statutory-rules §7 and the tricky cases of §6.

Each test names the regulation it checks. Every case runs through both evaluators (see
``golden_helpers.evaluate``), which must agree before the expected dates are compared.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ehcp_workflow.core.conventions import (
    Conventions,
    MonthReading,
    PhaseTransferReading,
    ReviewAnchor,
    WeekCounting,
)
from tests.golden_helpers import backlog, evaluate

D = dt.date
INCLUSIVE = Conventions(week_counting=WeekCounting.INCLUSIVE)
STRICT_MONTHS = Conventions(month_reading=MonthReading.STRICT)


# --- §7 fixtures ------------------------------------------------------------------------------------


def test_f1_reg5_reg10_reg13_due_dates_from_receipt() -> None:
    """F1: request Mon 2 Sep 2024 -> reg 5(1) 14 Oct, reg 10(1) 23 Dec, reg 13(2) 20 Jan 2025."""
    c = evaluate(D(2024, 9, 3), request_received=D(2024, 9, 2), request_outcome="A")
    assert c["decision_to_assess"].due == D(2024, 10, 14)
    assert c["decision_not_to_issue"].due == D(2024, 12, 23)
    assert c["final_plan"].due == D(2025, 1, 20)
    assert c["final_plan"].status == "pending"


def test_f1_day_one_reading() -> None:
    """F1, strict "Day 1 = day of receipt" reading: Sun 13 Oct, Sun 22 Dec, Sun 19 Jan."""
    c = evaluate(D(2024, 9, 3), INCLUSIVE, request_received=D(2024, 9, 2), request_outcome="A")
    assert c["decision_to_assess"].due == D(2024, 10, 13)
    assert c["decision_not_to_issue"].due == D(2024, 12, 22)
    assert c["final_plan"].due == D(2025, 1, 19)


@pytest.mark.parametrize(("conv", "status"), [(Conventions(), "met"), (INCLUSIVE, "late")])
def test_f2_reg13_plan_on_day_140(conv: Conventions, status: str) -> None:
    """F2: final plan Mon 20 Jan 2025 is within 20 weeks by default, 1 day late on the Day-1 reading."""
    c = evaluate(
        D(2025, 2, 1),
        conv,
        request_received=D(2024, 9, 2),
        request_outcome="Y",
        request_outcome_date=D(2024, 10, 10),
        assessment_outcome="Y",
        assessment_outcome_date=D(2025, 1, 20),
        plan_start=D(2025, 1, 20),
    )
    assert c["final_plan"].status == status
    assert c["final_plan"].end == D(2025, 1, 20)


@pytest.mark.parametrize(
    ("as_of", "status"),
    [(D(2024, 11, 1), "due_soon"), (D(2024, 11, 15), "due_soon"), (D(2024, 11, 16), "met")],
)
def test_f3_reg13_1_representation_window(as_of: dt.date, status: str) -> None:
    """F3: draft served Fri 1 Nov 2024: window 1-15 Nov inclusive ("beginning with the day served")."""
    c = evaluate(as_of, draft_plan_served=D(2024, 11, 1))
    assert c["draft_representations"].due == D(2024, 11, 15)
    assert c["draft_representations"].status == status


def test_f3_window_ignores_week_counting() -> None:
    """Reg 13(1) counts the day of service itself, whatever the week_counting convention."""
    c = evaluate(D(2024, 11, 2), INCLUSIVE, draft_plan_served=D(2024, 11, 1))
    assert c["draft_representations"].due == D(2024, 11, 15)


def test_f4_reg20_review_report_decision_and_devon() -> None:
    """F4: meeting Fri 1 Nov 2024: report 15 Nov (reg 20(7)), decision 29 Nov (reg 20(10), IPSEA),
    amendments with the decision (Devon), final amended plan no later than Fri 24 Jan 2025."""
    c = evaluate(
        D(2024, 11, 2),
        plan_start=D(2020, 1, 10),
        review_meeting=D(2024, 11, 1),
        review_outcome="A",
        review_decision_letter=D(2024, 11, 29),
        amendment_notice=D(2024, 11, 29),
    )
    assert c["review_report"].due == D(2024, 11, 15)
    assert c["review_decision"].due == D(2024, 11, 29)
    assert c["review_decision"].status == "pending"  # the letter is dated after as_of: not yet sent
    assert c["amendment_notice"].status == "not_applicable"  # no decision to amend yet at as_of
    later = evaluate(
        D(2025, 2, 1),
        plan_start=D(2020, 1, 10),
        review_meeting=D(2024, 11, 1),
        review_outcome="A",
        review_decision_letter=D(2024, 11, 29),
        amendment_notice=D(2024, 11, 29),
    )
    assert later["amended_plan"].due == D(2025, 1, 24)
    assert later["amended_plan"].status == "overdue"
    assert later["amendment_notice"].due == D(2024, 11, 29)
    assert later["amendment_notice"].status == "met"


def test_f5_reg22_3_eight_weeks_from_notice() -> None:
    """F5: amendment notice Mon 25 Nov 2024 -> final amended plan by Mon 20 Jan 2025."""
    c = evaluate(
        D(2025, 1, 20),
        plan_start=D(2020, 1, 10),
        review_meeting=D(2024, 11, 1),
        amendment_notice=D(2024, 11, 25),
        amended_plan_issued=D(2025, 1, 20),
    )
    assert c["amended_plan"].due == D(2025, 1, 20)
    assert c["amended_plan"].status == "met"


@pytest.mark.parametrize(
    ("conv", "due"),
    [
        (Conventions(), D(2026, 2, 14)),
        (Conventions(phase_transfer_reading=PhaseTransferReading.ON_THE_DATE), D(2026, 2, 15)),
    ],
)
def test_f6_reg18_1_b_before_15_february(conv: Conventions, due: dt.date) -> None:
    """F6: Year 6 -> secondary, Sept 2026: amended plan strictly by Sat 14 Feb 2026."""
    c = evaluate(
        D(2025, 11, 1),
        conv,
        plan_start=D(2019, 5, 1),
        phase_transfer_type="school",
        phase_transfer_date=D(2026, 9, 1),
    )
    assert c["phase_transfer"].due == due
    assert c["phase_transfer"].start == D(2025, 9, 1)


def test_f7_reg18_1_a_before_31_march() -> None:
    """F7: Year 11 -> FE college Sept 2026: amended plan strictly by 30 Mar 2026."""
    c = evaluate(
        D(2026, 3, 31),
        plan_start=D(2019, 5, 1),
        phase_transfer_type="post16",
        phase_transfer_date=D(2026, 9, 1),
    )
    assert c["phase_transfer"].due == D(2026, 3, 30)
    assert c["phase_transfer"].status == "overdue"


def test_f8_reg18_2_five_months_before_post16_move() -> None:
    """F8: post-16 -> post-16 transfer on 5 Jan 2026: reviewed and amended by 5 Aug 2025."""
    c = evaluate(
        D(2025, 7, 1),
        plan_start=D(2019, 5, 1),
        phase_transfer_type="post16_other",
        phase_transfer_date=D(2026, 1, 5),
        phase_transfer_final=D(2025, 8, 6),
    )
    assert c["phase_transfer"].due == D(2025, 8, 5)
    assert c["phase_transfer"].status == "pending"  # the final plan is dated after as_of


@pytest.mark.parametrize(("conv", "due"), [(Conventions(), D(2026, 3, 10)), (STRICT_MONTHS, D(2026, 3, 9))])
def test_f9_s44_annual_review_from_first_plan(conv: Conventions, due: dt.date) -> None:
    """F9: plan first made 10 Mar 2025, no review: s.44(1) review due 10 Mar 2026 (strict: 9 Mar)."""
    c = evaluate(D(2026, 1, 1), conv, plan_start=D(2025, 3, 10))
    assert c["annual_review"].due == due
    assert c["annual_review"].start == D(2025, 3, 10)


@pytest.mark.parametrize(("conv", "due"), [(Conventions(), D(2025, 2, 28)), (STRICT_MONTHS, D(2025, 2, 27))])
def test_f10_s44_leap_day_plan(conv: Conventions, due: dt.date) -> None:
    """F10: plan first made Thu 29 Feb 2024: review due 28 Feb 2025 (clamped), 27 Feb on the strict reading."""
    c = evaluate(D(2025, 1, 1), conv, plan_start=D(2024, 2, 29))
    assert c["annual_review"].due == due


def test_f11_reg15_3_fifteen_working_days() -> None:
    """F11: old LA told Tue 26 Aug 2025 of a move on Mon 1 Sep: transfer by Mon 15 Sep 2025
    (15 working days beginning with 26 Aug; the 25 Aug bank holiday falls before the start)."""
    c = evaluate(D(2025, 9, 1), transfer_out_aware=D(2025, 8, 26), transfer_out_move=D(2025, 9, 1))
    assert c["transfer_out"].due == D(2025, 9, 15)


def test_reg15_2_known_ahead_transfer_on_the_day_of_the_move() -> None:
    """Reg 15(2): told at least 15 working days before the move, the plan transfers on the day of the move."""
    c = evaluate(D(2025, 9, 1), transfer_out_aware=D(2025, 7, 1), transfer_out_move=D(2025, 9, 1))
    assert c["transfer_out"].due == D(2025, 9, 1)


def test_reg15_working_days_skip_christmas_bank_holidays() -> None:
    """Working days exclude 25, 26 Dec and 1 Jan (England and Wales bank holidays)."""
    c = evaluate(D(2024, 12, 20), transfer_out_aware=D(2024, 12, 20))
    # 20, 23, 24, 27, 30, 31 Dec, 2, 3, 6, 7, 8, 9, 10, 13, 14 Jan
    assert c["transfer_out"].due == D(2025, 1, 14)


@pytest.mark.parametrize(
    ("last_review", "due"),
    [(D(2025, 1, 10), D(2026, 1, 10)), (D(2024, 10, 1), D(2025, 12, 15))],
)
def test_f11_reg15_4_and_15_5_transfer_in(last_review: dt.date, due: dt.date) -> None:
    """Reg 15(4): notice 6 weeks after transfer; reg 15(5): first review by the later of
    12 months from the last review and 3 months from the transfer."""
    c = evaluate(
        D(2025, 9, 20),
        plan_start=D(2022, 3, 1),
        review_decision_letter=last_review,
        transfer_in_date=D(2025, 9, 15),
        transfer_in_from="201",
    )
    assert c["transfer_in_notice"].due == D(2025, 10, 27)
    assert c["transfer_in_review"].due == due
    assert c["annual_review"].status == "not_applicable"  # superseded by reg 15(5)


def test_f12_tribunal_rule_20_appeal_window() -> None:
    """F12: decision sent Mon 3 Mar 2025, mediation certificate Sun 20 Apr: appeal by 20 May 2025."""
    c = evaluate(
        D(2025, 5, 1), appealable_decision_date=D(2025, 3, 3), mediation_certificate_date=D(2025, 4, 20)
    )
    assert c["appeal_window"].due == D(2025, 5, 20)
    assert c["appeal_window"].status == "pending"
    closed = evaluate(D(2025, 5, 21), appealable_decision_date=D(2025, 3, 3))
    assert closed["appeal_window"].due == D(2025, 5, 3)
    assert closed["appeal_window"].status == "met"  # a window: closed, not a breach


def test_f13_reg13_3_closure_exception_and_reg8_advice() -> None:
    """F13: summer closure ground (a) excepts the 20-week limit without moving it (reg 13(3),
    10(4)(a)); the 6-week advice duty has no closure ground (reg 8(2)) and still runs."""
    c = evaluate(
        D(2024, 12, 20),
        request_received=D(2024, 7, 22),
        request_outcome="Y",
        request_outcome_date=D(2024, 8, 30),
        exception_final_plan="a",
        advice=[
            {
                "case_ref": "case-1",
                "provider": "educational_psychology",
                "requested": D(2024, 9, 2),
                "received": None,
            },
            {
                "case_ref": "case-1",
                "provider": "school_or_early_years",
                "requested": D(2024, 7, 23),
                "received": None,
                "exception": "a",
            },
        ],
    )
    assert c["final_plan"].status == "excepted"
    assert c["final_plan"].due == D(2024, 12, 9)
    assert c["final_plan"].exception == "a"
    assert c["advice:educational_psychology"].due == D(2024, 10, 14)
    assert c["advice:educational_psychology"].status == "overdue"
    assert c["advice:school_or_early_years"].status == "invalid"  # ground (a) cannot excuse reg 8


def test_f14_christmas_and_easter_not_rolled() -> None:
    """F14: request Mon 2 Dec 2024: 6 weeks Mon 13 Jan 2025; 20 weeks Mon 21 Apr 2025 (Easter Monday)."""
    c = evaluate(D(2024, 12, 3), request_received=D(2024, 12, 2))
    assert c["decision_to_assess"].due == D(2025, 1, 13)
    assert c["final_plan"].due == D(2025, 4, 21)


@pytest.mark.parametrize(("conv", "due"), [(Conventions(), D(2025, 1, 21)), (INCLUSIVE, D(2025, 1, 20))])
def test_f16_reg25_reassessment_decision(conv: Conventions, due: dt.date) -> None:
    """F16: re-assessment request Mon 6 Jan 2025: decision by Tue 21 Jan (day of receipt excluded)."""
    c = evaluate(D(2025, 1, 7), conv, reassessment_requested=D(2025, 1, 6))
    assert c["reassessment_decision"].due == due


def test_f16_reg27_2_fourteen_weeks_after_agreeing() -> None:
    """F16: the LA agrees and notifies Mon 20 Jan 2025: final plan due Mon 28 Apr 2025."""
    c = evaluate(
        D(2025, 2, 1),
        reassessment_requested=D(2025, 1, 6),
        reassessment_decision_date=D(2025, 1, 20),
        reassessment_agreed=True,
    )
    assert c["reassessment_decision"].status == "met"
    assert c["reassessed_plan"].due == D(2025, 4, 28)
    refused = evaluate(
        D(2025, 2, 1),
        reassessment_requested=D(2025, 1, 6),
        reassessment_decision_date=D(2025, 1, 20),
        reassessment_agreed=False,
    )
    assert refused["reassessed_plan"].status == "not_applicable"


# --- §6 tricky cases --------------------------------------------------------------------------------


def test_case1_summer_holiday_request() -> None:
    """§6.1: request Mon 22 Jul 2024: 6 weeks 2 Sep, 16 weeks 11 Nov, 20 weeks 9 Dec (regs 5, 10, 13)."""
    c = evaluate(D(2024, 7, 22), request_received=D(2024, 7, 22))
    assert (c["decision_to_assess"].due, c["decision_not_to_issue"].due, c["final_plan"].due) == (
        D(2024, 9, 2),
        D(2024, 11, 11),
        D(2024, 12, 9),
    )


def test_case2_leap_day_request() -> None:
    """§6.2: request Thu 29 Feb 2024: week limits are day arithmetic: 11 Apr, 20 Jun, 18 Jul."""
    c = evaluate(D(2024, 3, 1), request_received=D(2024, 2, 29))
    assert (c["decision_to_assess"].due, c["decision_not_to_issue"].due, c["final_plan"].due) == (
        D(2024, 4, 11),
        D(2024, 6, 20),
        D(2024, 7, 18),
    )


@pytest.mark.parametrize(
    ("conv", "status"),
    [(Conventions(), "late"), (Conventions(phase_transfer_reading=PhaseTransferReading.ON_THE_DATE), "met")],
)
def test_case3_reg18_amended_on_15_february(conv: Conventions, status: str) -> None:
    """§6.3: amended on 15 February: a breach of "before 15 February" on the strict reading; no exception exists."""
    c = evaluate(
        D(2026, 3, 1),
        conv,
        plan_start=D(2019, 5, 1),
        phase_transfer_type="school",
        phase_transfer_date=D(2026, 9, 1),
        phase_transfer_final=D(2026, 2, 15),
    )
    assert c["phase_transfer"].status == status


def test_reg18_explicit_due_date_wins_and_computed_is_shown() -> None:
    """SEN2 PhaseTransferDueDate is used as recorded; the reg 18 date is shown beside it."""
    c = evaluate(
        D(2026, 1, 1),
        plan_start=D(2019, 5, 1),
        phase_transfer_type="school",
        phase_transfer_date=D(2026, 9, 1),
        phase_transfer_due=D(2026, 2, 15),
    )
    assert c["phase_transfer"].due == D(2026, 2, 15)
    assert c["phase_transfer"].computed_due == D(2026, 2, 14)


def test_reg18_new_plan_in_20_week_process_is_governed_by_reg13() -> None:
    """§6.3: a brand-new plan still in the 20-week process is governed by reg 13(2), not reg 18."""
    c = evaluate(
        D(2026, 1, 1),
        request_received=D(2025, 11, 1),
        phase_transfer_type="school",
        phase_transfer_date=D(2026, 9, 1),
    )
    assert c["phase_transfer"].status == "not_applicable"


@pytest.mark.parametrize(
    ("conv", "start", "due"),
    [
        (Conventions(), D(2024, 11, 25), D(2025, 11, 25)),
        (Conventions(review_anchor=ReviewAnchor.MEETING), D(2024, 10, 28), D(2025, 10, 28)),
    ],
)
def test_case4_s44_review_runs_from_decision_letter(conv: Conventions, start: dt.date, due: dt.date) -> None:
    """§6.4: decision 25 Nov 2024 re-sets the clock: next review by 25 Nov 2025 (meeting reading: 28 Oct)."""
    c = evaluate(
        D(2025, 6, 1),
        conv,
        plan_start=D(2022, 6, 1),
        review_meeting=D(2024, 10, 28),
        review_decision_letter=D(2024, 11, 25),
        review_outcome="M",
    )
    assert c["annual_review"].start == start
    assert c["annual_review"].due == due


def test_case4_first_review_from_actual_issue_date() -> None:
    """§6.4: s.44(1)(a) runs from the date the plan was first made, even if it was issued late."""
    c = evaluate(
        D(2025, 6, 1),
        request_received=D(2024, 1, 8),
        request_outcome="Y",
        request_outcome_date=D(2024, 2, 1),
        assessment_outcome="Y",
        assessment_outcome_date=D(2024, 9, 30),
        plan_start=D(2024, 9, 30),
    )
    assert c["final_plan"].status == "late"
    assert c["annual_review"].due == D(2025, 9, 30)


def test_case7_devon_breach_flagged_even_if_reg22_met() -> None:
    """§6.7: amendments sent after the 4 weeks breach Devon even when the 8 weeks from the notice are met."""
    c = evaluate(
        D(2025, 3, 1),
        plan_start=D(2020, 1, 10),
        review_meeting=D(2024, 11, 1),
        review_outcome="A",
        review_decision_letter=D(2024, 11, 20),
        amendment_notice=D(2024, 12, 10),
        amended_plan_issued=D(2025, 1, 20),
    )
    assert c["amendment_notice"].status == "late"
    assert c["amended_plan"].status == "met"


def test_case8_reg10_decision_not_to_issue_by_week_16() -> None:
    """§6.8: a decision not to issue is due by week 16, not week 20; then the 20 weeks do not apply."""
    c = evaluate(
        D(2025, 6, 1),
        request_received=D(2024, 9, 2),
        request_outcome="Y",
        request_outcome_date=D(2024, 10, 1),
        assessment_outcome="N",
        assessment_outcome_date=D(2024, 12, 30),
    )
    assert c["decision_not_to_issue"].status == "late"
    assert c["final_plan"].status == "not_applicable"


def test_case10_ceased_plan_has_no_review() -> None:
    """§6.10: a ceased plan is not reviewed (CFA s.45)."""
    c = evaluate(D(2025, 6, 1), plan_start=D(2020, 1, 10), plan_ceased=D(2024, 7, 31))
    assert c["annual_review"].status == "not_applicable"


@pytest.mark.parametrize(("received", "status"), [(D(2020, 1, 6), "excepted"), (D(2021, 1, 4), "invalid")])
def test_case13_coronavirus_ground_only_in_its_window(received: dt.date, status: str) -> None:
    """§6.13: ground (g) (SI 2020/471) covers limits falling 1 May-25 Sep 2020 only."""
    c = evaluate(
        D(2022, 1, 1),
        request_received=received,
        request_outcome="Y",
        request_outcome_date=received,
        exception_final_plan="g",
    )
    assert c["final_plan"].status == status


def test_sen2_week20_excepts_final_plan_whatever_the_dates() -> None:
    """SEN2 Week20 = 1 (ground unspecified) makes final_plan excepted even if issued in time."""
    c = evaluate(
        D(2025, 6, 1),
        request_received=D(2024, 9, 2),
        request_outcome="Y",
        request_outcome_date=D(2024, 10, 1),
        assessment_outcome="Y",
        assessment_outcome_date=D(2024, 12, 1),
        exception_final_plan="unspecified",
    )
    assert c["final_plan"].status == "excepted"
    assert c["final_plan"].due == D(2025, 1, 20)


def test_exception_ground_that_does_not_apply_is_invalid_not_silent() -> None:
    """Ground (e) (missed appointment) only excuses the reg 8 advice duty: on reg 13(2) it is an error."""
    c = evaluate(D(2025, 6, 1), request_received=D(2024, 9, 2), exception_final_plan="e")
    assert c["final_plan"].status == "invalid"


def test_end_before_start_is_invalid() -> None:
    c = evaluate(
        D(2025, 6, 1), request_received=D(2024, 9, 2), request_outcome="N", request_outcome_date=D(2024, 8, 1)
    )
    assert c["decision_to_assess"].status == "invalid"


def test_replay_masks_events_after_as_of() -> None:
    """Evaluating a past date ignores what happened later: the decision was then still awaited."""
    case = {
        "request_received": D(2024, 9, 2),
        "request_outcome": "N",
        "request_outcome_date": D(2024, 11, 1),
    }
    assert evaluate(D(2024, 10, 20), **case)["decision_to_assess"].status == "overdue"
    assert evaluate(D(2024, 11, 2), **case)["decision_to_assess"].status == "late"
    assert evaluate(D(2024, 8, 1), **case)["decision_to_assess"].status == "not_applicable"


def test_every_status_is_reachable() -> None:
    seen = {
        evaluate(D(2024, 9, 3), request_received=D(2024, 9, 2))["final_plan"].status,  # pending
        evaluate(D(2024, 10, 10), request_received=D(2024, 9, 2))["decision_to_assess"].status,  # due_soon
        evaluate(D(2024, 10, 15), request_received=D(2024, 9, 2))["decision_to_assess"].status,  # overdue
    }
    assert seen == {"pending", "due_soon", "overdue"}


# --- backlog ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (140, (20, "within_20")),
        (141, (20, "over_20")),
        (210, (30, "over_20")),
        (211, (30, "over_30")),
        (365, (52, "over_52")),
        (701, (100, "over_100")),
    ],
)
def test_backlog_over_n_weeks_is_strictly_more_than_7n_days(days: int, expected: tuple[int, str]) -> None:
    received = D(2024, 1, 1)
    assert backlog(received + dt.timedelta(days=days), request_received=received) == expected


def test_backlog_thresholds_come_from_config() -> None:
    conv = Conventions(band_thresholds=(10, 40))
    received = D(2024, 1, 1)
    assert backlog(received + dt.timedelta(days=71), conv, request_received=received) == (10, "over_10")
    assert Conventions(band_thresholds=(10, 40)).band_labels == ("within_10", "over_10", "over_40")


@pytest.mark.parametrize(
    "closed",
    [
        {"request_outcome": "N", "request_outcome_date": D(2024, 2, 1)},
        {"request_outcome": "W"},
        {
            "request_outcome": "Y",
            "request_outcome_date": D(2024, 2, 1),
            "assessment_outcome": "N",
            "assessment_outcome_date": D(2024, 4, 1),
        },
        {
            "request_outcome": "Y",
            "request_outcome_date": D(2024, 2, 1),
            "assessment_outcome": "Y",
            "assessment_outcome_date": D(2024, 5, 1),
        },
        {"exported_to": "201"},
    ],
)
def test_backlog_excludes_ended_requests(closed: dict[str, object]) -> None:
    assert backlog(D(2025, 1, 1), request_received=D(2024, 1, 1), **closed) is None


def test_backlog_issuing_stage_is_still_open() -> None:
    """Decided to issue (Y) but no plan yet: the child is still waiting."""
    assert backlog(
        D(2025, 1, 1),
        request_received=D(2024, 1, 1),
        request_outcome="Y",
        request_outcome_date=D(2024, 2, 1),
        assessment_outcome="Y",
    ) == (52, "over_52")
