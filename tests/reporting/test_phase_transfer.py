"""The phase-transfer planner: reg 18 deadlines from the engine, review-by dates, statuses."""

from __future__ import annotations

import datetime as dt

import pytest

from ehcp_workflow.core.conventions import Conventions, PhaseTransferReading, WeekCounting
from ehcp_workflow.reporting.phase_transfer import (
    latest_review_meeting,
    plan_phase_transfers,
    review_by_offset,
)
from tests.reporting.helpers import D, evaluate
from tests.reporting.test_kpis import ACTIVE, SEPT_2026, TRANSFERS, TRANSFERS_AS_OF


def test_f6_year_6_transfer_deadline_and_latest_review_meeting() -> None:
    """§7 F6 / §6 case 3: Year 6, transfer Sept 2026 -> amended plan by Sat 14 Feb 2026; latest review
    meeting that still fits the 4-week decision and 8-week amendment steps: Sat 22 Nov 2025."""
    ev = evaluate(
        [{**ACTIVE, "phase_transfer_type": "school", "phase_transfer_date": SEPT_2026}], D(2025, 10, 1)
    )
    planner = plan_phase_transfers(ev, 2026)
    assert len(planner) == 1
    r = planner.iloc[0]
    assert r["deadline"].date() == D(2026, 2, 14)
    assert r["review_by"].date() == D(2025, 11, 22)
    assert r["status"] == "not_started" and not r["review_by_passed"]
    assert r["days_to_deadline"] == (D(2026, 2, 14) - D(2025, 10, 1)).days
    assert review_by_offset(ev) == 84
    assert latest_review_meeting(D(2026, 2, 14), ev) == D(2025, 11, 22)


@pytest.mark.parametrize(
    "conventions",
    [Conventions(), Conventions(week_counting=WeekCounting.INCLUSIVE)],
    ids=["exclusive", "inclusive"],
)
def test_review_by_date_is_the_engines_chain_of_deadlines(conventions: Conventions) -> None:
    """A meeting on the review-by date, with each later step on its own engine due date, gives an amended
    plan due exactly on the reg 18 deadline: the planner counts as the engine does."""
    move = {**ACTIVE, "phase_transfer_type": "school", "phase_transfer_date": SEPT_2026}
    ev = evaluate([move], D(2025, 10, 1), conventions=conventions)
    review_by = plan_phase_transfers(ev, 2026, conventions=conventions).iloc[0]["review_by"].date()
    step = {**move, "review_meeting": review_by, "review_decision_letter": review_by, "review_outcome": "A"}
    notice_due = evaluate([step], review_by, conventions=conventions).clocks["amendment_notice"].due[0]
    notice = notice_due.astype(dt.date)
    ev2 = evaluate([{**step, "amendment_notice": notice}], notice, conventions=conventions)
    assert ev2.clocks["amended_plan"].due[0] == ev2.clocks["phase_transfer"].due[0]


def test_review_by_follows_the_councils_reading_of_before() -> None:
    """IPSEA's "by 15 February" reading moves the deadline, and so the review-by date, one day later."""
    conv = Conventions(phase_transfer_reading=PhaseTransferReading.ON_THE_DATE)
    ev = evaluate(
        [{**ACTIVE, "phase_transfer_type": "school", "phase_transfer_date": SEPT_2026}],
        D(2025, 10, 1),
        conventions=conv,
    )
    r = plan_phase_transfers(ev, 2026, conventions=conv).iloc[0]
    assert (r["deadline"].date(), r["review_by"].date()) == (D(2026, 2, 15), D(2025, 11, 23))


def test_planner_statuses_for_a_cohort() -> None:
    planner = plan_phase_transfers(evaluate(TRANSFERS, TRANSFERS_AS_OF), 2026)
    assert len(planner) == 7  # the 2025 cohort and the plan with no transfer are left out
    assert sorted(planner["status"]) == sorted(
        ["amended_on_time", "late", "overdue", "review_held", "not_started", "not_started", "cannot_evaluate"]
    )
    school = planner[planner["transfer_type"] == "school"]
    assert set(school["deadline"].dt.date) == {D(2026, 2, 14)}
    assert set(school["review_by"].dt.date) == {D(2025, 11, 22)}
    post16 = planner[planner["transfer_type"] == "post16"]
    assert set(post16["deadline"].dt.date) == {D(2026, 3, 30)}  # before 31 March
    assert set(post16["review_by"].dt.date) == {D(2026, 1, 5)}  # 30 Mar less 84 days
    # not started and past its review-by date: the plan can no longer be amended on time by the book
    assert post16["review_by_passed"].tolist().count(True) == 2
    # outstanding plans first, then those already amended; within each, soonest review-by first
    settled = planner["status"].isin(["amended_on_time", "late"]).to_numpy()
    assert not (settled[:-1] & ~settled[1:]).any()
    for part in (planner[~settled], planner[settled]):
        assert part["review_by"].dropna().is_monotonic_increasing  # no deadline last
    # the plan with no deadline (cannot be evaluated) is outstanding: last of the outstanding group
    outstanding = planner[~planner["status"].isin(["amended_on_time", "late"])]
    assert outstanding["review_by"].isna().tolist() == [False] * (len(outstanding) - 1) + [True]
    assert list(planner.columns[:3]) == ["case_ref", "team", "transfer_type"]
    assert "person_ref" not in planner.columns
