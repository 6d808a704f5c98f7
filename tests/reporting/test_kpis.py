"""Each KPI on a hand-checkable caseload: every expected figure is worked out in the comment beside it.

Dates follow the engine's default conventions (statutory-rules §3): "within N weeks of X" is due on
X + 7N days, and a plan on day 140 is within 20 weeks (§7 F2).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.demo import generate_council
from ehcp_workflow.reporting import kpis
from ehcp_workflow.reporting.kpis import ALL, month_range
from tests.reporting.helpers import CATALOGUE, D, evaluate, plan, row

# --- EHC needs assessments (as at 31 March 2025) ----------------------------------------------------------

AS_OF = D(2025, 3, 31)
Q1 = month_range("2025-01", "2025-03")
PLANS: list[dict[str, Any]] = [
    plan(D(2024, 9, 2), D(2025, 1, 20), team="North"),  # A: day 140 -> within 20 weeks (F2)
    plan(D(2024, 9, 2), D(2025, 1, 21), team="North"),  # B: day 141 -> late, 20-52 weeks
    plan(D(2024, 1, 8), D(2025, 1, 15), team="South"),  # C: day 373 -> over 52 weeks
    plan(D(2024, 8, 1), D(2025, 1, 10), team="South", exception_final_plan="c"),  # D: day 162, excepted
    # E: day 122, excepted (SEN2 Week20 = 1 says only that an exception applies)
    plan(D(2024, 10, 1), D(2025, 1, 31), team="South", exception_final_plan="unspecified"),
    plan(D(2024, 10, 1), D(2025, 2, 14), team="North"),  # F: day 136, February
    # ground e does not disapply reg 13(2): the engine marks the clock invalid, so it is not counted
    plan(D(2024, 9, 2), D(2025, 1, 20), team="North", exception_final_plan="e"),
    plan(D(2024, 11, 1), D(2025, 4, 10), team="North"),  # issued after as_of: not yet happened
    # still open
    {"request_received": D(2024, 12, 1), "request_outcome": "Y", "request_outcome_date": D(2025, 1, 10)},
]


def test_plans_issued_including_and_excluding_exceptions() -> None:
    """reg 13(2): January has A, B, C, D, E (the ground-e plan is invalid, the April one not yet issued)."""
    f = kpis.plans_issued(evaluate(PLANS, AS_OF), Q1)
    jan = row(f, month="2025-01", team=ALL)
    assert jan["plans_issued"] == 5
    # A and E: an excepted plan still counts in the measure including exceptions
    assert jan["within_20_weeks"] == 2
    assert jan["pct_within_20_weeks"] == pytest.approx(40.0)
    assert jan["excepted"] == 2  # D, E
    assert jan["plans_issued_ex"] == 3  # A, B, C: excepted plans leave the denominator...
    assert jan["within_20_weeks_ex"] == 1  # ...and the numerator
    assert jan["pct_within_20_weeks_ex"] == pytest.approx(100 / 3)
    assert (jan["over_20_to_52_weeks"], jan["over_52_weeks"]) == (2, 1)  # B, D / C
    assert (jan["over_20_to_52_weeks_ex"], jan["over_52_weeks_ex"]) == (1, 1)  # B / C
    assert jan["mean_weeks"] == pytest.approx((140 + 141 + 373 + 162 + 122) / 5 / 7)

    south = row(f, month="2025-01", team="South")
    assert (south["plans_issued"], south["within_20_weeks"], south["plans_issued_ex"]) == (3, 1, 1)
    assert south["pct_within_20_weeks_ex"] == 0.0
    north = row(f, month="2025-01", team="North")
    assert (north["plans_issued"], north["within_20_weeks"]) == (2, 1)

    period = row(f, month=ALL, team=ALL)
    assert (period["plans_issued"], period["within_20_weeks"]) == (6, 3)  # + F in February
    assert (period["plans_issued_ex"], period["within_20_weeks_ex"]) == (4, 2)
    assert period["pct_within_20_weeks_ex"] == pytest.approx(50.0)
    march = row(f, month="2025-03", team=ALL)
    assert march["plans_issued"] == 0 and math.isnan(march["pct_within_20_weeks"])


def test_plans_issued_totals_are_sums_of_teams_and_months() -> None:
    f = kpis.plans_issued(evaluate(PLANS, AS_OF), Q1)
    counts = [c for c in f.columns if not c.startswith(("pct_", "mean_")) and c not in ("month", "team")]
    teams = f[(f["team"] != ALL) & (f["month"] != ALL)]
    assert (teams[counts].sum() == f[(f["team"] == ALL) & (f["month"] == ALL)][counts].iloc[0]).all()
    assert (
        teams.groupby("month")[counts].sum().to_numpy() == f[(f["team"] == ALL) & (f["month"] != ALL)][counts]
    ).all(axis=None)


@pytest.mark.parametrize(
    ("days", "band"), [(140, "within"), (141, "20_52"), (364, "20_52"), (365, "over_52")]
)
def test_plans_issued_band_boundaries(days: int, band: str) -> None:
    """Within 20 weeks = day 140 at the latest; over 52 weeks = after day 364 (52 x 7)."""
    received = D(2024, 1, 15)
    issued = received + dt.timedelta(days=days)
    f = kpis.plans_issued(evaluate([plan(received, issued)], D(2025, 6, 1)), month_range(issued, issued))
    r = row(f, month=ALL, team=ALL)
    assert (r["within_20_weeks"], r["over_20_to_52_weeks"], r["over_52_weeks"]) == {
        "within": (1, 0, 0),
        "20_52": (0, 1, 0),
        "over_52": (0, 0, 1),
    }[band]


DECISIONS: list[dict[str, Any]] = [
    # day 42: in time; day 43: late
    {"request_received": D(2025, 1, 6), "request_outcome": "Y", "request_outcome_date": D(2025, 2, 17)},
    {"request_received": D(2025, 1, 6), "request_outcome": "N", "request_outcome_date": D(2025, 2, 18)},
    {
        "request_received": D(2025, 1, 6),
        "request_outcome": "Y",
        "request_outcome_date": D(2025, 2, 20),  # day 45, excepted (reg 5(4)(d))
        "exception_decision_to_assess": "d",
    },
    # withdrawn: not a decision
    {"request_received": D(2025, 1, 6), "request_outcome": "W", "request_outcome_date": D(2025, 1, 20)},
    {"request_received": D(2025, 3, 1), "request_outcome": "A"},  # awaiting
    {"request_received": D(2025, 4, 2)},  # after as_of
]


def test_decisions_to_assess_within_6_weeks() -> None:
    """reg 5(1): due on day 42; a withdrawal is no decision; an excepted one leaves the _ex measure."""
    f = kpis.decisions_to_assess(evaluate(DECISIONS, AS_OF), Q1)
    feb = row(f, month="2025-02", team=ALL)
    assert (feb["decisions"], feb["within_6_weeks"], feb["excepted"]) == (3, 1, 1)
    assert feb["pct_within_6_weeks"] == pytest.approx(100 / 3)
    assert (feb["decisions_ex"], feb["within_6_weeks_ex"]) == (2, 1)
    assert feb["pct_within_6_weeks_ex"] == pytest.approx(50.0)
    assert (feb["agreed"], feb["refused"]) == (2, 1)
    assert feb["pct_agreed"] == pytest.approx(200 / 3)
    assert row(f, month=ALL, team=ALL)["decisions"] == 3


def test_requests_received_by_month_of_receipt() -> None:
    f = kpis.requests_received(evaluate(DECISIONS, AS_OF), Q1)
    assert row(f, month="2025-01", team=ALL)["requests_received"] == 4
    assert row(f, month="2025-03", team=ALL)["requests_received"] == 1
    assert row(f, month=ALL, team=ALL)["requests_received"] == 5  # 2 April is after as_of
    assert set(f["team"]) == {ALL, "North"}


NOT_TO_ISSUE: list[dict[str, Any]] = [
    {
        "request_received": D(2024, 10, 7),
        "request_outcome": "Y",
        "request_outcome_date": D(2024, 11, 1),
        "assessment_outcome": "N",
        "assessment_outcome_date": D(2024, 10, 7) + dt.timedelta(days=days),
    }
    for days in (112, 113)  # 27 and 28 January 2025
]


def test_decisions_not_to_issue_within_16_weeks() -> None:
    """reg 10(1): notice on day 112 is within 16 weeks, day 113 is not."""
    f = kpis.decisions_not_to_issue(evaluate(NOT_TO_ISSUE, AS_OF), Q1)
    jan = row(f, month="2025-01", team=ALL)
    assert (jan["decisions_not_to_issue"], jan["within_16_weeks"]) == (2, 1)
    assert jan["pct_within_16_weeks"] == pytest.approx(50.0)


def test_assessments_completed_are_plans_plus_decisions_not_to_issue() -> None:
    f = kpis.assessments_completed(evaluate(PLANS + NOT_TO_ISSUE, AS_OF), Q1)
    jan = row(f, month="2025-01", team=ALL)
    assert (jan["assessments_completed"], jan["plans_issued"], jan["decisions_not_to_issue"]) == (7, 5, 2)
    assert jan["within_statutory_time"] == 3  # A, E and the day-112 notice
    assert row(f, month=ALL, team=ALL)["assessments_completed"] == 8


# --- the backlog --------------------------------------------------------------------------------------------

BACKLOG_AS_OF = D(2025, 6, 30)


def _open(days: int, team: str = "North") -> dict[str, Any]:
    return {"request_received": BACKLOG_AS_OF - dt.timedelta(days=days), "request_outcome": "A", "team": team}


BACKLOG: list[dict[str, Any]] = [
    _open(140),  # exactly 20 weeks: still within_20
    _open(141),  # over_20
    _open(210),  # exactly 30 weeks: over_20
    _open(211, "South"),  # over_30
    _open(364, "South"),  # exactly 52 weeks: over_30
    _open(365, "South"),  # over_52
    _open(700, "South"),  # exactly 100 weeks: over_52
    _open(701, "South"),  # over_100
    # closed: none of these is open
    {"request_received": D(2025, 1, 2), "request_outcome": "N", "request_outcome_date": D(2025, 2, 1)},
    plan(D(2025, 1, 2), D(2025, 5, 1)),
    {"request_received": D(2025, 1, 2), "request_outcome": "Y", "exported_to": "887"},
    {"request_received": D(2025, 1, 2), "request_outcome": "W"},  # withdrawn, no date recorded
    {"request_received": D(2020, 1, 2), "request_outcome": "H", "assessment_outcome": "H"},
    {"request_received": D(2025, 7, 2), "request_outcome": "A"},  # received after as_of
]


def test_backlog_bands_at_the_boundaries() -> None:
    """Over N weeks = strictly more than 7N days (backlog.py): 140 days is within 20 weeks."""
    f = kpis.backlog_bands(evaluate(BACKLOG, BACKLOG_AS_OF))
    everyone = row(f, team=ALL)
    assert everyone[["within_20", "over_20", "over_30", "over_52", "over_100", "total"]].tolist() == [
        1,
        2,
        2,
        2,
        1,
        8,
    ]
    assert everyone["oldest_weeks"] == 100  # 701 days
    assert everyone["pct_over_20_weeks"] == pytest.approx(700 / 8)
    south = row(f, team="South")
    assert south[["within_20", "over_20", "over_30", "over_52", "over_100", "total"]].tolist() == [
        0,
        0,
        2,
        2,
        1,
        5,
    ]


def test_backlog_trend_last_week_is_the_engines_backlog() -> None:
    ev = evaluate(BACKLOG, BACKLOG_AS_OF)
    trend = kpis.backlog_trend(ev, start=D(2025, 1, 1), by_team=True)
    assert trend["week_ending"].max().date() == BACKLOG_AS_OF
    weeks = trend[trend["team"] == ALL]["week_ending"]
    assert (weeks.diff().dropna().dt.days == 7).all()
    bands = kpis.backlog_bands(ev)
    last = trend[trend["week_ending"] == trend["week_ending"].max()]
    for team in (ALL, "North", "South"):
        a, b = row(last, team=team), row(bands, team=team)
        for c in ("within_20", "over_20", "over_30", "over_52", "over_100", "total", "oldest_weeks"):
            assert a[c] == b[c], (team, c)


def test_backlog_trend_a_closed_request_leaves_on_its_closing_day() -> None:
    cases = [plan(D(2025, 1, 1), D(2025, 3, 11))]  # open 1 Jan to 10 Mar
    trend = kpis.backlog_trend(evaluate(cases, D(2025, 3, 18)), start=D(2024, 12, 20))
    total = dict(zip(trend["week_ending"].dt.date, trend["total"], strict=True))
    assert total[D(2024, 12, 31)] == 0 and total[D(2025, 1, 7)] == 1
    assert total[D(2025, 3, 4)] == 1 and total[D(2025, 3, 11)] == 0
    oldest = dict(zip(trend["week_ending"].dt.date, trend["oldest_weeks"], strict=True))
    assert oldest[D(2025, 3, 4)] == 62 // 7
    assert math.isnan(oldest[D(2025, 3, 18)])


def test_backlog_trend_replays_the_evaluator_at_past_dates() -> None:
    """The vectorised weekly replay equals running the engine at each of those dates (demo council)."""
    as_of = D(2026, 3, 31)
    council = generate_council(5000, 7, as_of)
    ev = evaluate_caseload(council, CATALOGUE, as_of=as_of)
    trend = kpis.backlog_trend(ev, start=D(2024, 1, 1), by_team=True)
    weeks = sorted(set(trend["week_ending"]))
    columns = ["within_20", "over_20", "over_30", "over_52", "over_100", "total", "oldest_weeks"]
    for week in weeks[::15]:
        past = kpis.backlog_bands(evaluate_caseload(council, CATALOGUE, as_of=week.date()))
        replay = trend[trend["week_ending"] == week]
        for team in past["team"]:
            expected = row(past, team=team)[columns].to_numpy(dtype=float)
            got = row(replay, team=team)[columns].to_numpy(dtype=float)
            assert np.array_equal(expected, got, equal_nan=True), (week, team)


def test_outstanding_assessments_at_month_ends() -> None:
    cases = [
        plan(D(2025, 1, 1), D(2025, 3, 10)),  # open at the end of January and February
        {"request_received": D(2024, 12, 1), "request_outcome": "Y", "request_outcome_date": D(2025, 1, 5)},
    ]
    f = kpis.outstanding_assessments(evaluate(cases, D(2025, 6, 15)), month_range("2025-01", "2025-07"))
    everyone = f[f["team"] == ALL]
    assert everyone["month"].tolist() == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    jan = row(everyone, month="2025-01")
    assert (jan["outstanding"], jan["over_20_weeks"], jan["oldest_weeks"]) == (2, 0, 61 // 7)
    jun = row(everyone, month="2025-06")
    assert jun["snapshot_date"].date() == D(2025, 6, 15)  # the current month is taken at as_of
    assert (jun["outstanding"], jun["over_20_weeks"]) == (1, 1)  # 196 days
    assert jun["pct_over_20_weeks"] == 100.0 and jun["oldest_weeks"] == 28


# --- advice -------------------------------------------------------------------------------------------------


def test_advice_within_6_weeks_by_provider() -> None:
    """reg 8(1): advice received on day 42 is in time; reg 8(2) exceptions leave the _ex measure."""
    requested = D(2025, 3, 3)
    advice = [
        {"case_ref": "C1", "provider": "social_care", "requested": requested, "received": D(2025, 4, 14)},
        {"case_ref": "C1", "provider": "social_care", "requested": requested, "received": D(2025, 4, 15)},
        {
            "case_ref": "C1",
            "provider": "paediatrics",
            "requested": requested,
            "received": D(2025, 5, 1),
            "exception": "c",
        },
        {"case_ref": "C1", "provider": "occupational_therapy", "requested": requested},  # overdue
        {"case_ref": "C1", "provider": "physiotherapy", "requested": requested, "received": D(2025, 7, 10)},
    ]
    cases = [
        {"request_received": D(2025, 1, 6), "request_outcome": "Y", "request_outcome_date": D(2025, 2, 17)}
    ]
    f = kpis.advice_timeliness(evaluate(cases, D(2025, 6, 30), advice), month_range("2025-04", "2025-06"))
    social = row(f, month="2025-04", provider="social_care")
    assert (social["advice_returned"], social["within_6_weeks"]) == (2, 1)
    assert social["pct_within_6_weeks"] == pytest.approx(50.0)
    everyone = row(f, month=ALL, provider=ALL)
    assert (everyone["advice_returned"], everyone["within_6_weeks"], everyone["excepted"]) == (3, 1, 1)
    assert (everyone["advice_returned_ex"], everyone["within_6_weeks_ex"]) == (2, 1)
    assert everyone["overdue_now"] == 2  # OT never answered, physio answered after as_of
    assert row(f, month=ALL, provider="occupational_therapy")["overdue_now"] == 1
    assert math.isnan(row(f, month="2025-04", provider=ALL)["overdue_now"])


# --- annual reviews -----------------------------------------------------------------------------------------

REVIEWS_AS_OF = D(2026, 3, 31)
OLD = {"request_received": D(2019, 1, 1), "request_outcome": "H", "assessment_outcome": "H"}
REVIEWS: list[dict[str, Any]] = [
    # reviewed: decision letter 1 Feb 2025 -> next review due 1 Feb 2026: 58 days overdue
    {
        **OLD,
        "plan_start": D(2024, 1, 10),
        "review_meeting": D(2025, 1, 5),
        "review_decision_letter": D(2025, 2, 1),
    },
    {**OLD, "plan_start": D(2025, 6, 1)},  # new plan, review due 1 Jun 2026: in time
    {**OLD, "plan_start": D(2023, 1, 1), "team": "South"},  # never reviewed: due 1 Jan 2024, 820 days overdue
    {**OLD, "plan_start": D(2022, 1, 1), "plan_ceased": D(2025, 1, 1)},  # ceased: no review due
    # letter 15 Sep 2024 -> due 15 Sep 2025: 197 days overdue
    {
        **OLD,
        "plan_start": D(2024, 6, 1),
        "review_meeting": D(2024, 9, 1),
        "review_decision_letter": D(2024, 9, 15),
    },
]


def test_annual_reviews_in_time() -> None:
    """s.44(1): 4 active plans, 1 reviewed (or made) within the last 12 months."""
    f = kpis.annual_reviews_in_time(evaluate(REVIEWS, REVIEWS_AS_OF))
    everyone = row(f, team=ALL)
    assert (
        everyone["plans_requiring_review"],
        everyone["reviewed_within_12_months"],
        everyone["overdue"],
    ) == (4, 1, 3)
    assert everyone["pct_reviewed_within_12_months"] == pytest.approx(25.0)
    assert row(f, team="South")["overdue"] == 1


def test_overdue_reviews_by_how_long_overdue() -> None:
    f = kpis.overdue_reviews(evaluate(REVIEWS, REVIEWS_AS_OF))
    everyone = row(f, team=ALL)
    assert everyone["overdue"] == 3
    assert everyone["overdue_up_to_3_months"] == 1  # 58 days
    assert everyone["overdue_3_to_6_months"] == 0
    assert everyone["overdue_6_to_12_months"] == 1  # 197 days
    assert everyone["overdue_1_to_2_years"] == 0
    assert everyone["overdue_over_2_years"] == 1  # 820 days
    assert row(f, team="South")["overdue_over_2_years"] == 1


def test_review_decisions_within_4_weeks_of_the_meeting() -> None:
    """F4: meeting Fri 1 Nov -> decision due Fri 29 Nov (IPSEA's example)."""
    cases = [
        {
            **OLD,
            "plan_start": D(2020, 1, 1),
            "review_meeting": D(2024, 11, 1),
            "review_decision_letter": letter,
        }
        for letter in (D(2024, 11, 29), D(2024, 11, 30))
    ] + [{**OLD, "plan_start": D(2020, 1, 1), "review_meeting": D(2024, 11, 20)}]  # no decision yet
    f = kpis.review_decisions(evaluate(cases, D(2024, 12, 31)), month_range("2024-11", "2024-12"))
    nov = row(f, month="2024-11", team=ALL)
    assert (nov["review_decisions"], nov["within_4_weeks"]) == (2, 1)
    assert nov["pct_within_4_weeks"] == pytest.approx(50.0)


def test_amended_plans_within_8_weeks_of_the_notice() -> None:
    """F5: amendment notice Mon 25 Nov 2024 -> final amended plan due Mon 20 Jan 2025."""
    base = {**OLD, "plan_start": D(2020, 1, 1), "review_meeting": D(2024, 11, 1), "review_outcome": "A"}
    cases = [
        {
            **base,
            "review_decision_letter": D(2024, 11, 25),
            "amendment_notice": D(2024, 11, 25),
            "amended_plan_issued": d,
        }
        for d in (D(2025, 1, 20), D(2025, 1, 21))
    ]
    f = kpis.amended_plans(evaluate(cases, AS_OF), Q1)
    jan = row(f, month="2025-01", team=ALL)
    assert (jan["amended_plans"], jan["within_8_weeks"]) == (2, 1)
    assert jan["pct_within_8_weeks"] == pytest.approx(50.0)


# --- phase transfer -----------------------------------------------------------------------------------------

SEPT_2026 = D(2026, 9, 1)
ACTIVE = {**OLD, "plan_start": D(2020, 1, 1)}
TRANSFERS: list[dict[str, Any]] = [
    {
        **ACTIVE,
        "phase_transfer_type": "school",
        "phase_transfer_date": SEPT_2026,
        "phase_transfer_final": D(2026, 2, 14),
    },
    {
        **ACTIVE,
        "phase_transfer_type": "school",
        "phase_transfer_date": SEPT_2026,
        "phase_transfer_final": D(2026, 2, 15),
    },
    {**ACTIVE, "phase_transfer_type": "school", "phase_transfer_date": SEPT_2026},  # deadline 14 Feb passed
    {
        **ACTIVE,
        "phase_transfer_type": "post16",
        "phase_transfer_date": SEPT_2026,
        "review_meeting": D(2025, 12, 1),
    },
    {**ACTIVE, "phase_transfer_type": "post16", "phase_transfer_date": SEPT_2026},  # not started
    {
        **ACTIVE,
        "phase_transfer_type": "post16",
        "phase_transfer_date": SEPT_2026,
        "review_meeting": D(2025, 6, 1),
    },
    {**ACTIVE, "phase_transfer_date": SEPT_2026},  # no type: cannot evaluate
    {
        **ACTIVE,
        "phase_transfer_type": "school",
        "phase_transfer_date": D(2025, 9, 1),
        "phase_transfer_final": D(2025, 2, 10),
    },
    {**ACTIVE},  # no transfer
]
TRANSFERS_AS_OF = D(2026, 3, 1)


def test_phase_transfers_by_cohort_and_type() -> None:
    """reg 18: schools before 15 Feb (14 Feb by default); post-16 before 31 Mar, so still open on 1 Mar."""
    f = kpis.phase_transfers(evaluate(TRANSFERS, TRANSFERS_AS_OF))
    assert sorted(set(f["cohort"])) == [2025, 2026]
    c26 = row(f, cohort=2026, transfer_type=ALL)
    assert c26["due"] == 7
    assert c26[
        ["amended_on_time", "late", "overdue", "review_held", "not_started", "cannot_evaluate"]
    ].tolist() == [
        1,
        1,
        1,
        1,
        2,
        1,
    ]
    assert c26["still_open"] == 4
    assert c26["pct_on_time"] == pytest.approx(100 / 3)  # of the three whose deadline has passed
    school = row(f, cohort=2026, transfer_type="school")
    assert (school["due"], school["amended_on_time"], school["late"], school["overdue"]) == (3, 1, 1, 1)
    post16 = row(f, cohort=2026, transfer_type="post16")
    assert (post16["due"], post16["review_held"], post16["not_started"]) == (3, 1, 2)
    assert math.isnan(post16["pct_on_time"])
    assert row(f, cohort=2025, transfer_type=ALL)["amended_on_time"] == 1
    assert kpis.phase_transfers(evaluate(TRANSFERS, TRANSFERS_AS_OF), cohorts=[2025])[
        "cohort"
    ].unique().tolist() == [2025]


# --- all together -------------------------------------------------------------------------------------------


def test_compute_kpis_returns_every_table_and_drops_future_months() -> None:
    out = kpis.compute_kpis(
        evaluate(PLANS + DECISIONS + BACKLOG, AS_OF), date_from="2025-01", date_to="2025-06"
    )
    assert set(out) == set(kpis.KPI_INFO)
    months = out["plans_issued"]["month"].unique().tolist()
    assert months == ["2025-01", "2025-02", "2025-03", ALL]  # April-June are after as_of
    assert out["backlog_trend"]["week_ending"].max().date() == AS_OF
    for key, frame in out.items():
        assert "case_ref" not in frame.columns and "person_ref" not in frame.columns, key


def test_month_range_rejects_a_reversed_period() -> None:
    with pytest.raises(ValueError, match="before"):
        month_range("2025-03", "2025-01")


def test_national_figure_is_the_latest_year_published() -> None:
    assert kpis.national_figure(2026).year == 2024
    assert kpis.national_figure(2019).pct_excluding_exceptions == 60.4
    assert kpis.national_figure(2000).year == 2015


def test_review_kpis_count_every_cycle_in_its_month() -> None:
    """Reg 20(10)/21 and reg 22(3): each review cycle is counted in the month of its letter or plan,
    not only each plan's latest (the history keeps every cycle, so past months do not undercount)."""
    import pandas as pd

    from ehcp_workflow.core import caseload as cl

    cases = cl.normalise_cases(
        pd.DataFrame([{"case_ref": "K1", "team": "north", "plan_start": "2022-01-10"}])
    )
    reviews = cl.normalise_reviews(
        pd.DataFrame(
            [
                # March 2025: decision 3 weeks after the meeting (within 4)
                {
                    "case_ref": "K1",
                    "review_meeting": "2025-03-03",
                    "review_decision_letter": "2025-03-24",
                    "review_outcome": "A",
                    "amendment_notice": "2025-03-24",
                    "amended_plan_issued": "2025-06-30",
                },
                # March 2026: 6 weeks (late); its amended plan is still to come
                {
                    "case_ref": "K1",
                    "review_meeting": "2026-02-02",
                    "review_decision_letter": "2026-03-16",
                    "review_outcome": "M",
                },
            ]
        )
    )
    ev = evaluate_caseload(cl.Caseload(cases=cases, reviews=reviews), CATALOGUE, as_of=D(2026, 4, 30))
    months = month_range("2025-03", "2026-03")
    table = kpis.review_decisions(ev, months, by_team=False)
    by_month = table.set_index("month")
    assert by_month.loc["2025-03", "review_decisions"] == 1 and by_month.loc["2025-03", "within_4_weeks"] == 1
    assert by_month.loc["2026-03", "review_decisions"] == 1 and by_month.loc["2026-03", "within_4_weeks"] == 0
    assert by_month.loc[ALL, "review_decisions"] == 2
    amended = kpis.amended_plans(ev, months, by_team=False).set_index("month")
    assert amended.loc["2025-06", "amended_plans"] == 1 and amended.loc["2025-06", "within_8_weeks"] == 0
