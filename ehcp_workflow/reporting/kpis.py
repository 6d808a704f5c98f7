"""Manager KPIs over an evaluated caseload: small named functions, one per figure a committee reads.

Every KPI is computed from an :class:`~ehcp_workflow.core.evaluator.Evaluation`, the same evaluation the
nightly alerts use: start, due, end and status of each clock come from it, never from date arithmetic
here, so a KPI and an alert cannot disagree. The only dates computed here are *report* dates (month
ends, week ends) and, for the past backlog, the replay of :func:`ehcp_workflow.core.backlog.backlog_arrays`
at earlier dates (see :func:`backlog_trend`; a test holds it to the evaluator run at those dates).

Conventions used by every function
----------------------------------
* **Month**: a completed event counts in the calendar month of the event that completes the clock
  (the plan's issue, the decision letter, the advice received). Snapshots (outstanding assessments,
  backlog) are taken at the month's end, or at ``as_of`` for the current month.
* **Team**: the case's ``team``; cases without one are reported as ``Unassigned``. Every table has
  an ``All`` team row per month and an ``All`` month row (the whole period) per team: percentages
  are ratios of the summed counts, never averages of monthly percentages.
* **Completed**: a clock with an end date whose status is ``met``, ``late`` or ``excepted``. Clocks
  the engine cannot evaluate (``invalid``) are data errors: they are alerts, not counted here.
* **Within the limit**: the end date is on or before the engine's due date. "Including exceptions"
  counts every completed clock (DfE's ``..._den`` / ``within_...``); "excluding exceptions" leaves
  the ``excepted`` clocks out of numerator *and* denominator (DfE's ``..._ex``; statutory-rules §2.3).
* **Percentages** are in percent units (58.7, not 0.587), like DfE's ``pc_`` columns, unrounded;
  ``NaN`` where there is nothing to divide by.
* No personal data: counts and percentages only.

Sources named in the docstrings: "rules" is ``shared/reference/statutory-rules.md``; "Kent 2024b" the
Kent Scrutiny Committee pack of 18 September 2024 (seed 001); "Kent 2024a" the SEND Sub-Committee
pack of 7 February 2024 (seed 000); "Kingston 2021" the Kingston upon Thames WSOA impact report of
March 2021 (seed 004).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core.arrays import ClockArrays
from ehcp_workflow.core.backlog import band_labels
from ehcp_workflow.core.caseload import ADVICE_PROVIDERS
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.core.evaluator import Evaluation
from ehcp_workflow.core.statuses import STATUS_CODE, Status
from ehcp_workflow.reporting.phase_transfer import PHASE_STATUSES, cohort_years, phase_transfer_status

__all__ = [
    "ALL",
    "KPI_INFO",
    "NATIONAL_20_WEEKS",
    "OVERDUE_REVIEW_BUCKETS",
    "PROVIDER_LABELS",
    "UNASSIGNED",
    "KpiInfo",
    "NationalFigure",
    "advice_timeliness",
    "amended_plans",
    "annual_reviews_in_time",
    "assessments_completed",
    "backlog_bands",
    "backlog_trend",
    "compute_kpis",
    "decisions_not_to_issue",
    "decisions_to_assess",
    "month_range",
    "national_figure",
    "outstanding_assessments",
    "overdue_reviews",
    "phase_transfers",
    "plans_issued",
    "requests_received",
    "review_decisions",
]

Dates = npt.NDArray[Any]  # datetime64[D]
Ints = npt.NDArray[np.int64]
Objs = npt.NDArray[np.object_]
MonthLike: TypeAlias = str | dt.date | pd.Period

#: Label of the total row (all teams, or the whole period).
ALL: Final = "All"
#: Team label of cases without a team.
UNASSIGNED: Final = "Unassigned"

_MET, _LATE, _EXCEPTED, _OVERDUE, _PENDING, _DUE_SOON = (
    STATUS_CODE[s]
    for s in (Status.MET, Status.LATE, Status.EXCEPTED, Status.OVERDUE, Status.PENDING, Status.DUE_SOON)
)
_COMPLETED = np.array([_MET, _LATE, _EXCEPTED], dtype=np.int8)
_RUNNING = np.array([_PENDING, _DUE_SOON, _OVERDUE], dtype=np.int8)
_BIG: Final = np.int64(np.iinfo(np.int64).max // 4)  # "never" as a day number
_SMALL: Final = -_BIG  # "always" (closed with no date recorded)

#: Display names of the advice providers (reg 6(1) advice; Kingston 2021 rows).
PROVIDER_LABELS: Final[Mapping[str, str]] = {
    "educational_psychology": "Educational psychology",
    "paediatrics": "Paediatrics",
    "speech_language_therapy": "Speech and language therapy",
    "occupational_therapy": "Occupational therapy",
    "physiotherapy": "Physiotherapy",
    "social_care": "Social care",
    "school_or_early_years": "School or early years",
    "other": "Other",
    "unknown": "Not recorded",
}

#: Overdue annual reviews, by days past the s.44 due date: (label, first day, last day or None).
OVERDUE_REVIEW_BUCKETS: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("overdue_up_to_3_months", 1, 91),
    ("overdue_3_to_6_months", 92, 182),
    ("overdue_6_to_12_months", 183, 365),
    ("overdue_1_to_2_years", 366, 730),
    ("overdue_over_2_years", 731, None),
)


# --- national figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NationalFigure:
    """England's % of new EHC plans issued within 20 weeks in a calendar year (rules §5)."""

    year: int
    pct_including_exceptions: float | None
    pct_excluding_exceptions: float
    source: str


_MI = "DfE SEN2 management information"
#: rules §5, calendar year of issue. 2022 excl.: the revised 49.2 (first published 50.7).
NATIONAL_20_WEEKS: Final[Mapping[int, NationalFigure]] = {
    f.year: f
    for f in (
        NationalFigure(2015, 54.6, 59.2, _MI),
        NationalFigure(2016, 55.7, 58.6, _MI),
        NationalFigure(2017, 61.3, 64.9, _MI),
        NationalFigure(2018, 58.0, 60.1, _MI),
        NationalFigure(2019, 58.7, 60.4, _MI),
        NationalFigure(2020, 55.6, 58.0, _MI),
        NationalFigure(2021, 57.9, 59.9, _MI),
        NationalFigure(2022, 47.7, 49.2, _MI + " (revised)"),
        NationalFigure(2023, None, 50.3, "DfE EHC plans statistics, June 2024"),
        NationalFigure(2024, None, 46.4, "DfE EHC plans statistics, June 2025"),
    )
}


def national_figure(year: int) -> NationalFigure:
    """The latest national figure for ``year`` or before (the earliest one if ``year`` precedes all)."""
    known = [y for y in NATIONAL_20_WEEKS if y <= year]
    return NATIONAL_20_WEEKS[max(known) if known else min(NATIONAL_20_WEEKS)]


# --- KPI catalogue (titles and definitions for the workbook and the HTML report) -----------------------

KpiKind = Literal["flow", "snapshot", "trend", "cohort"]


@dataclass(frozen=True)
class KpiInfo:
    """What a KPI table is, for people: title, definition, law and where the wording comes from."""

    key: str
    title: str
    definition: str
    source: str
    kind: KpiKind
    family: str


KPI_INFO: Final[Mapping[str, KpiInfo]] = {
    k.key: k
    for k in (
        KpiInfo(
            "requests_received",
            "Requests for an EHC needs assessment received",
            "Requests received in the month (SEN2 ReceivedDate).",
            "CFA 2014 s.36(1); DfE: initial requests; Kent 2024a: requests received a month.",
            "flow",
            "Assessments",
        ),
        KpiInfo(
            "decisions_to_assess",
            "Decisions whether to assess, and % within 6 weeks",
            "Decisions (agree or refuse) made in the month; within 6 weeks of the request.",
            "SEND Regs 2014 reg 5(1); DfE request_outcome_six_weeks; Kent 2024a 'Decision to Assess'.",
            "flow",
            "Assessments",
        ),
        KpiInfo(
            "plans_issued",
            "New EHC plans issued, and % within 20 weeks",
            "Final plans issued in the month; within 20 weeks of the request, including and excluding "
            "exceptions (excepted plans leave numerator and denominator); 20-52 and over 52 weeks.",
            "SEND Regs 2014 reg 13(2), 13(3); DfE pc_plans_issued_within_20_weeks / _ex; "
            "Kent 2024b 'Percentage of plans completed within 20 weeks'.",
            "flow",
            "Assessments",
        ),
        KpiInfo(
            "decisions_not_to_issue",
            "Decisions not to issue a plan, and % within 16 weeks",
            "Notices that no plan will be issued sent in the month; within 16 weeks of the request.",
            "SEND Regs 2014 reg 10(1); DfE outcome_decision_within_time.",
            "flow",
            "Assessments",
        ),
        KpiInfo(
            "assessments_completed",
            "EHC needs assessments completed",
            "Assessments ended in the month by a final plan or a decision not to issue.",
            "SEND Regs 2014 regs 10, 13; Kent 2024b 'assessment teams completed 116 assessments'.",
            "flow",
            "Assessments",
        ),
        KpiInfo(
            "outstanding_assessments",
            "Outstanding assessments at month end, % over 20 weeks and oldest case",
            "Open requests (received, no plan, refusal, decision not to issue, withdrawal or export) "
            "at the month's end; over the statutory timescale = waited more than 20 weeks.",
            "SEND Regs 2014 reg 13(2); Kent 2024b '1306 outstanding assessments, 31.7% over statutory "
            "timescales', 'oldest outstanding case was 119 weeks old'.",
            "snapshot",
            "Backlog",
        ),
        KpiInfo(
            "backlog_bands",
            "Open requests by waiting band (at the report date)",
            "Open requests by weeks waiting since the request: within 20, over 20, 30, 52 and 100 weeks "
            "(over N weeks = more than 7N days).",
            "Kent 2024a/2024b 'assessments beyond 30 and 52 weeks', '1080 ... waited 100 weeks or more'; "
            "DfE bands within 20 / 20-52 / over 52 weeks.",
            "snapshot",
            "Backlog",
        ),
        KpiInfo(
            "backlog_trend",
            "Open requests by waiting band, week by week",
            "The backlog bands at the end of each week, replayed from the case dates.",
            "As backlog_bands; Kent 2024b monthly 'Oldest cases remaining open'.",
            "trend",
            "Backlog",
        ),
        KpiInfo(
            "advice_timeliness",
            "Advice returned within 6 weeks, by provider",
            "Advice received in the month; within 6 weeks of the request for advice.",
            "SEND Regs 2014 reg 8(1), 8(2); Kingston 2021 '% advice supplied within 6 weeks' by provider.",
            "flow",
            "Advice",
        ),
        KpiInfo(
            "annual_reviews_in_time",
            "Plans reviewed within the last 12 months (at the report date)",
            "Active plans whose annual review is not overdue: last reviewed (or made) within 12 months.",
            "CFA 2014 s.44(1); Kingston 2021 '% of annual review held with[in] 12 months'.",
            "snapshot",
            "Annual reviews",
        ),
        KpiInfo(
            "review_decisions",
            "Review decisions, and % within 4 weeks of the meeting",
            "Review decision letters sent in the month, every review cycle counted; within 4 weeks of "
            "the review meeting.",
            "SEND Regs 2014 reg 20(10)/21; DfE number_decsion_4weeks; Kingston 2021 "
            "'% of AR decisions made in 4 weeks'.",
            "flow",
            "Annual reviews",
        ),
        KpiInfo(
            "amended_plans",
            "Final amended plans, and % within 8 weeks of the amendment notice",
            "Final amended plans (or notices not to amend) issued in the month; within 8 weeks of the "
            "proposed amendments; every review cycle's amendment counted.",
            "SEND Regs 2014 reg 22(3)-(4); Kingston 2021 '% of Final amended plans issued within 8 weeks'.",
            "flow",
            "Annual reviews",
        ),
        KpiInfo(
            "overdue_reviews",
            "Overdue annual reviews by how long overdue (at the report date)",
            "Active plans past their s.44 review date, by time since it fell due.",
            "CFA 2014 s.44(1); Kent 2024a 'waiting over 2 years for a review'; Kent 2024b "
            "'5000 overdue annual reviews'.",
            "snapshot",
            "Annual reviews",
        ),
        KpiInfo(
            "phase_transfers",
            "Phase transfer reviews by cohort and type",
            "Plans transferring phase in the cohort year: amended plan naming the next institution "
            "by the reg 18 deadline (schools 15 February, post-16 31 March, other post-16 5 months).",
            "SEND Regs 2014 reg 18; Kent 2024b '92% of families received an answer by the deadline'.",
            "cohort",
            "Phase transfer",
        ),
    )
}


# --- small helpers ------------------------------------------------------------------------------------


def month_range(date_from: MonthLike, date_to: MonthLike) -> pd.PeriodIndex:
    """Calendar months from ``date_from`` to ``date_to`` inclusive (``"2025-04"``, a date or a Period)."""
    start = pd.Period(date_from, freq="M")
    end = pd.Period(date_to, freq="M")
    if end < start:
        raise ValueError(f"date_to ({end}) is before date_from ({start})")
    return pd.period_range(start, end, freq="M")


def _day(d: dt.date) -> np.datetime64:
    return np.datetime64(d, "D")


def _case_dates(evaluation: Evaluation, column: str) -> Dates:
    """A case date column as ``datetime64[D]``, events after ``as_of`` masked (not yet happened)."""
    d = np.asarray(evaluation.cases[column].to_numpy()).astype("datetime64[D]")
    return np.where(d > _day(evaluation.as_of), np.datetime64("NaT", "D"), d)


def _teams(cases: pd.DataFrame) -> tuple[Objs, list[str]]:
    """Team label of every case and the sorted list of teams."""
    team = cases["team"].astype("string").fillna(UNASSIGNED).to_numpy(dtype=object)
    return team, sorted(str(t) for t in pd.unique(team))


def _pct(num: npt.ArrayLike, den: npt.ArrayLike) -> npt.NDArray[np.float64]:
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, 100.0 * n / np.where(d > 0, d, 1.0), np.nan)


def _month_index(dates: Dates, months: pd.PeriodIndex) -> Ints:
    """Position of each date's month in ``months`` (-1 when missing or outside)."""
    d = np.asarray(dates).astype("datetime64[M]")
    m = d.astype(np.int64) - int(months[0].ordinal)
    ok = ~np.isnat(d) & (m >= 0) & (m < len(months))
    return np.where(ok, m, -1)


def _tabulate(
    event: Dates,
    group: Objs,
    measures: Mapping[str, npt.NDArray[Any]],
    months: pd.PeriodIndex,
    groups: Sequence[str],
    *,
    group_name: str = "team",
    by_group: bool = True,
) -> pd.DataFrame:
    """Sum ``measures`` (booleans or integers, one per row) by month of ``event`` and by ``group``.

    Rows: for ``All`` groups then each group (when ``by_group``), every month then the ``All`` month
    (the period). Vectorised: one ``bincount`` per measure over month x group cells.
    """
    mi = _month_index(event, months)
    gi = pd.Index(list(groups)).get_indexer(group)
    sel = (mi >= 0) & (gi >= 0)
    n_m, n_g = len(months), len(groups)
    cell = mi[sel] * n_g + gi[sel]
    labels_m = [str(p) for p in months] + [ALL]
    order = [n_g, *range(n_g)] if by_group else [n_g]
    labels_g = [*groups, ALL]
    out: dict[str, Any] = {
        "month": np.tile(np.array(labels_m, dtype=object), len(order)),
        group_name: np.repeat(np.array([labels_g[i] for i in order], dtype=object), n_m + 1),
    }
    for name, values in measures.items():
        v = np.asarray(values)[sel].astype(np.float64)
        cube = np.bincount(cell, weights=v, minlength=n_m * n_g).reshape(n_m, n_g)
        full = np.zeros((n_m + 1, n_g + 1))
        full[:n_m, :n_g] = cube
        full[n_m, :n_g] = cube.sum(axis=0)
        full[:, n_g] = full[:, :n_g].sum(axis=1)
        out[name] = np.rint(full[:, order].T.reshape(-1)).astype(np.int64)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class _Timeliness:
    """Completed clocks and whether each met its limit (the engine's due date), per row."""

    completed: npt.NDArray[np.bool_]
    on_time: npt.NDArray[np.bool_]
    excepted: npt.NDArray[np.bool_]

    @property
    def completed_ex(self) -> npt.NDArray[np.bool_]:
        return self.completed & ~self.excepted

    @property
    def on_time_ex(self) -> npt.NDArray[np.bool_]:
        return self.on_time & ~self.excepted


def _timeliness(clock: ClockArrays) -> _Timeliness:
    completed = ~np.isnat(clock.end) & np.isin(clock.status, _COMPLETED)
    on_time = completed & ~np.isnat(clock.due) & (clock.end <= clock.due)
    excepted = completed & (clock.status == _EXCEPTED)
    return _Timeliness(completed=completed, on_time=on_time, excepted=excepted)


def _timeliness_table(
    clock: ClockArrays,
    group: Objs,
    months: pd.PeriodIndex,
    groups: Sequence[str],
    names: tuple[str, str],
    *,
    group_name: str = "team",
    by_group: bool = True,
    extra: Mapping[str, npt.NDArray[Any]] | None = None,
) -> pd.DataFrame:
    """The standard completed / within-limit table, including and excluding exceptions.

    ``names`` = (what was completed, the limit), e.g. ``("plans_issued", "within_20_weeks")``.
    """
    done, within = names
    t = _timeliness(clock)
    measures: dict[str, npt.NDArray[Any]] = {
        done: t.completed,
        within: t.on_time,
        "excepted": t.excepted,
        f"{done}_ex": t.completed_ex,
        f"{within}_ex": t.on_time_ex,
    }
    measures.update(extra or {})
    f = _tabulate(clock.end, group, measures, months, groups, group_name=group_name, by_group=by_group)
    f.insert(f.columns.get_loc(within) + 1, f"pct_{within}", _pct(f[within], f[done]))
    f.insert(
        f.columns.get_loc(f"{within}_ex") + 1, f"pct_{within}_ex", _pct(f[f"{within}_ex"], f[f"{done}_ex"])
    )
    return f


def _on_time_table(
    evaluation: Evaluation, clock_id: str, names: tuple[str, str], months: pd.PeriodIndex, by_team: bool
) -> pd.DataFrame:
    """Completed / within-limit by month and team, for a clock no exception ground applies to
    (so, unlike :func:`_timeliness_table`, one measure and no ``_ex`` columns)."""
    done, within = names
    clock = evaluation.clocks[clock_id]
    team, teams = _teams(evaluation.cases)
    team = team[clock.case_index]  # one row per cycle instance (every review of the month counts)
    t = _timeliness(clock)
    f = _tabulate(clock.end, team, {done: t.completed, within: t.on_time}, months, teams, by_group=by_team)
    f[f"pct_{within}"] = _pct(f[within], f[done])
    return f


# --- EHC needs assessments ------------------------------------------------------------------------------


def requests_received(
    evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True
) -> pd.DataFrame:
    """Requests for an EHC needs assessment received, by month of receipt.

    Definition: cases whose ``request_received`` falls in the month (and on or before ``as_of``).
    Regulation: CFA 2014 s.36(1) (request), SEND Regs 2014 reg 3. DfE: "initial requests" (rules §5;
    SEN2 ``ReceivedDate``). Seed wording: Kent 2024a "Average parental requests per month ... 161";
    Kent 2024b "the team also received over 4500 additional new requests".
    Columns: ``requests_received``.
    """
    team, teams = _teams(evaluation.cases)
    received = _case_dates(evaluation, "request_received")
    ones = np.ones(len(received), dtype=np.int64)
    return _tabulate(received, team, {"requests_received": ones}, months, teams, by_group=by_team)


def decisions_to_assess(
    evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True
) -> pd.DataFrame:
    """Decisions whether to carry out an EHC needs assessment, and % made within 6 weeks.

    Definition: clock ``decision_to_assess`` completed (a yes or no decision dated in the month),
    within 6 weeks = decision on or before the engine's due date. ``agreed`` / ``refused`` split the
    decisions by SEN2 ``RequestOutcome`` Y / N.
    Regulation: SEND Regs 2014 reg 5(1) ("within 6 weeks of receiving the request"); exceptions
    reg 5(4). DfE: ``request_outcome_six_weeks`` ("requests where decision made within 6 weeks"); DfE
    has no exception flag here, so ``pct_within_6_weeks`` (including exceptions) is the comparable one.
    Seed wording: Kent 2024a "Decision to Assess: Average rate per month (%) Yes Decisions 43.2%".
    Columns: ``decisions``, ``within_6_weeks``, ``pct_within_6_weeks``, ``excepted``, ``decisions_ex``,
    ``within_6_weeks_ex``, ``pct_within_6_weeks_ex``, ``agreed``, ``refused``, ``pct_agreed``.
    """
    clock = evaluation.clocks["decision_to_assess"]
    team, teams = _teams(evaluation.cases)
    done = _timeliness(clock).completed
    outcome = evaluation.cases["request_outcome"].astype("string")
    agreed = done & outcome.eq("Y").fillna(False).to_numpy(dtype=bool)
    refused = done & outcome.eq("N").fillna(False).to_numpy(dtype=bool)
    f = _timeliness_table(
        clock,
        team,
        months,
        teams,
        ("decisions", "within_6_weeks"),
        by_group=by_team,
        extra={"agreed": agreed, "refused": refused},
    )
    f["pct_agreed"] = _pct(f["agreed"], f["decisions"])
    return f


def plans_issued(evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True) -> pd.DataFrame:
    """New EHC plans issued, and % within 20 weeks including and excluding exceptions.

    Definition: clock ``final_plan`` completed (final plan issued in the month). Within 20 weeks = the
    issue date is on or before the engine's due date (request + 20 weeks under the council's
    counting convention). Including exceptions: every plan. Excluding exceptions: plans with an
    exception ground (status ``excepted``) are removed from numerator and denominator (rules §2.3:
    2019 England 31,313 / 53,327 = 58.7% incl., 29,895 / 49,519 = 60.4% excl.). Bands: over 20 and
    up to 52 weeks; over 52 weeks = issued more than 32 weeks after the 20-week due date.
    ``mean_weeks`` is the mean time from request to plan (all plans), in weeks.
    Regulation: SEND Regs 2014 reg 13(2); exceptions reg 13(3) applying reg 10(4)(a)-(d).
    DfE: ``plans_issued_den``, ``plans_issued_within_20_weeks``, ``pc_plans_issued_within_20_weeks``,
    ``plans_issued_den_ex``, ``plans_issued_20_weeks_ex``, ``pc_plans_issued_20_weeks_ex``,
    ``plans_issued_gt20weeks_ltyear(_ex)``, ``plans_issued_gt_1_year(_ex)``, ``avg_weeks_issue_plan``.
    Seed wording: Kent 2024b "Percentage of plans completed within 20 weeks" (51.6 % in August
    2024); Kingston 2021 "% of new EHC plans completed in 20 week timescale".
    """
    clock = evaluation.clocks["final_plan"]
    team, teams = _teams(evaluation.cases)
    t = _timeliness(clock)
    year_limit = clock.due + np.timedelta64(7 * (52 - clock.rule.limit.amount), "D")
    over_52 = t.completed & (clock.end > year_limit)
    over_20_to_52 = t.completed & ~t.on_time & ~over_52
    days = np.where(t.completed, (clock.end - clock.start).astype("timedelta64[D]").astype(np.int64), 0)
    f = _timeliness_table(
        clock,
        team,
        months,
        teams,
        ("plans_issued", "within_20_weeks"),
        by_group=by_team,
        extra={
            "over_20_to_52_weeks": over_20_to_52,
            "over_52_weeks": over_52,
            "over_20_to_52_weeks_ex": over_20_to_52 & ~t.excepted,
            "over_52_weeks_ex": over_52 & ~t.excepted,
            "_days": days,
        },
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        f["mean_weeks"] = np.where(
            f["plans_issued"] > 0, f["_days"] / 7.0 / f["plans_issued"].clip(lower=1), np.nan
        )
    return f.drop(columns="_days")


def decisions_not_to_issue(
    evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True
) -> pd.DataFrame:
    """Decisions not to issue a plan after an assessment, and % notified within 16 weeks.

    Definition: clock ``decision_not_to_issue`` completed (notice sent in the month); within 16 weeks
    = notice on or before the engine's due date; excluding exceptions as for plans.
    Regulation: SEND Regs 2014 reg 10(1) ("within 16 weeks of ... receiving the request"); exceptions
    reg 10(4). DfE: ``outcome_decision_within_time`` ("assessments where it was decided NOT to issue a
    plan which were within 16 weeks"). Seed wording: none (the papers do not report it).
    Columns: ``decisions_not_to_issue``, ``within_16_weeks``, ``pct_within_16_weeks`` and ``_ex``.
    """
    clock = evaluation.clocks["decision_not_to_issue"]
    team, teams = _teams(evaluation.cases)
    return _timeliness_table(
        clock, team, months, teams, ("decisions_not_to_issue", "within_16_weeks"), by_group=by_team
    )


def assessments_completed(
    evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True
) -> pd.DataFrame:
    """EHC needs assessments completed: a final plan issued or a decision not to issue.

    Definition: clocks ``final_plan`` or ``decision_not_to_issue`` completed in the month (a case
    completes at most one of them). ``within_statutory_time`` = plans within 20 weeks plus decisions
    not to issue within 16 weeks (including exceptions).
    Regulation: SEND Regs 2014 reg 10(1), reg 13(2). DfE: the sum of ``plans_issued_den`` and the
    not-to-issue decisions. Seed wording: Kent 2024b "In April 2023, assessment teams completed 116
    assessments, compared to 311 in May 24".
    Columns: ``assessments_completed``, ``plans_issued``, ``decisions_not_to_issue``,
    ``within_statutory_time``, ``pct_within_statutory_time``.
    """
    plan = evaluation.clocks["final_plan"]
    nti = evaluation.clocks["decision_not_to_issue"]
    team, teams = _teams(evaluation.cases)
    tp, tn = _timeliness(plan), _timeliness(nti)
    end = np.where(tp.completed, plan.end, nti.end)
    f = _tabulate(
        end,
        team,
        {
            "assessments_completed": tp.completed | tn.completed,
            "plans_issued": tp.completed,
            "decisions_not_to_issue": tn.completed,
            "within_statutory_time": tp.on_time | tn.on_time,
        },
        months,
        teams,
        by_group=by_team,
    )
    f["pct_within_statutory_time"] = _pct(f["within_statutory_time"], f["assessments_completed"])
    return f


# --- the backlog ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpenIntervals:
    """When each request is open, as day numbers: from ``received`` until the day before ``closed``.

    The replay of :func:`ehcp_workflow.core.backlog.backlog_arrays` at any date up to ``as_of``: the engine
    masks events after its ``as_of``, so a request is open at day W when it was received by W and no
    closing event is dated on or before W. ``closed`` is ``_SMALL`` for a closure with no date (an
    outcome N/W/H without a date, an export: closed whenever the engine looks), ``_BIG`` if still open.
    """

    received: Ints
    closed: Ints
    as_of: int

    def count_waiting_over(self, days: int, at: Ints) -> Ints:
        """Requests open at each day of ``at`` that have waited strictly more than ``days`` days.

        Open and waited more than ``days`` at W  <=>  entry := received + days + 1 <= W < closed. So the
        count is #(entry <= W) - #(closed is known and max(entry, closed) <= W): vectorised with two
        sorted arrays and ``searchsorted``, O((cases + dates) log cases).
        """
        shift = np.int64(days + 1)
        entered = self._received_sorted + shift
        left = np.sort(np.maximum(self._ending_received + shift, self._ending_closed))
        count: Ints = np.searchsorted(entered, at, side="right") - np.searchsorted(left, at, side="right")
        return count.astype(np.int64)

    @cached_property
    def _received_sorted(self) -> Ints:
        out: Ints = np.sort(self.received[self.received < _BIG])
        return out

    @cached_property
    def _ending(self) -> npt.NDArray[np.bool_]:
        """Requests received by ``as_of`` whose closing day is known (or "always")."""
        out: npt.NDArray[np.bool_] = (self.received < _BIG) & (self.closed < _BIG)
        return out

    @cached_property
    def _ending_received(self) -> Ints:
        return self.received[self._ending]

    @cached_property
    def _ending_closed(self) -> Ints:
        return self.closed[self._ending]

    def oldest_days(self, at: Ints) -> Ints:
        """Days waited by the oldest request open at each day of ``at`` (-1 when none is open).

        The requests open at W are those received by W among those not closed by W; the latter are a
        suffix of the requests sorted by closing day, so a suffix minimum of the receipt day answers.
        """
        order = np.argsort(self.closed, kind="stable")
        closed = self.closed[order]
        suffix_min = np.minimum.accumulate(self.received[order][::-1])[::-1]
        suffix_min = np.append(suffix_min, _BIG)
        first = suffix_min[np.searchsorted(closed, at, side="right")]
        out: Ints = np.where(first <= at, at - first, -1).astype(np.int64)
        return out

    def subset(self, mask: npt.NDArray[np.bool_]) -> _OpenIntervals:
        return _OpenIntervals(self.received[mask], self.closed[mask], self.as_of)


def _day_numbers(d: Dates) -> Ints:
    return np.asarray(d, dtype="datetime64[D]").astype(np.int64)


def _open_intervals(evaluation: Evaluation) -> _OpenIntervals:
    """The open interval of each request (by the rules of :func:`~ehcp_workflow.core.backlog.is_open`)."""
    cases = evaluation.cases
    a = int(_day_numbers(np.array([_day(evaluation.as_of)]))[0])
    received = _case_dates(evaluation, "request_received")
    recv = np.where(np.isnat(received), _BIG, _day_numbers(received))
    closed = np.full(len(cases), _BIG, dtype=np.int64)

    def close(mask: npt.NDArray[np.bool_], column: str) -> None:
        nonlocal closed
        d = np.asarray(cases[column].to_numpy()).astype("datetime64[D]")
        day = np.where(np.isnat(d), _SMALL, _day_numbers(d))
        closed = np.where(mask, np.minimum(closed, day), closed)

    def code(column: str, values: Sequence[str]) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = cases[column].isin(values).to_numpy(dtype=bool)  # missing: False
        return out

    close(code("request_outcome", ("N", "W", "H")), "request_outcome_date")
    close(code("assessment_outcome", ("N", "W", "H")), "assessment_outcome_date")
    issued = code("assessment_outcome", ("Y",)) & cases["assessment_outcome_date"].notna().to_numpy(
        dtype=bool
    )
    close(issued, "assessment_outcome_date")
    closed = np.where(cases["exported_to"].notna().to_numpy(dtype=bool), _SMALL, closed)
    return _OpenIntervals(recv.astype(np.int64), closed.astype(np.int64), a)


def _band_counts(intervals: _OpenIntervals, at: Ints, thresholds: Sequence[int]) -> dict[str, Ints]:
    """Open requests in each engine band (``within_20``, ``over_20``...) plus ``total`` at each day."""
    labels = band_labels(thresholds)
    over = [intervals.count_waiting_over(-1, at)] + [
        intervals.count_waiting_over(7 * t, at) for t in thresholds
    ]
    counts = {label: over[i] - over[i + 1] for i, label in enumerate(labels[:-1])}
    counts[labels[-1]] = over[-1]
    counts["total"] = over[0]
    return counts


def _week_ends(start: dt.date, end: dt.date) -> Dates:
    """Every 7th day from ``end`` back to ``start`` (inclusive), ascending."""
    e, s = _day(end), _day(start)
    n = int((e - s).astype("timedelta64[D]").astype(np.int64)) // 7
    out: Dates = e - np.arange(n, -1, -1, dtype=np.int64).astype("timedelta64[D]") * 7
    return out


def backlog_trend(
    evaluation: Evaluation,
    *,
    start: dt.date,
    end: dt.date | None = None,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    by_team: bool = False,
) -> pd.DataFrame:
    """Open requests by waiting band at the end of every week from ``start`` to ``end`` (default ``as_of``).

    Weeks end on ``end``'s weekday, so the last row is the engine's own backlog at ``end`` (and, at
    ``as_of``, equals :func:`backlog_bands`). Each earlier week is the backlog the engine would report
    if run at that date: the evaluator masks events dated after its ``as_of``, and this replays that
    rule for every week at once (:class:`_OpenIntervals`), without re-running the evaluator. A
    case's *latest* dates are all the caseload holds, so a request re-opened later is not known.
    Columns: ``week_ending``, [``team``], one per band (``within_20``, ``over_20`` = 20-30 weeks,
    ``over_30``, ``over_52``, ``over_100``), ``total``, ``oldest_weeks`` (``NaN`` when none open).
    Seed wording: Kent 2024b "Oldest cases remaining open ... 124 wks ... 32 wks"; "0 cases over 100
    weeks by the end of March".
    """
    last = min(end or evaluation.as_of, evaluation.as_of)
    if start > last:
        raise ValueError(f"start {start} is after the last week ending {last}")
    weeks = _week_ends(start, last)
    at = _day_numbers(weeks)
    intervals = _open_intervals(evaluation)
    team, teams = _teams(evaluation.cases)
    groups: list[tuple[str, _OpenIntervals]] = [(ALL, intervals)]
    if by_team:
        groups += [(t, intervals.subset(team == t)) for t in teams]
    frames = []
    for name, iv in groups:
        counts = _band_counts(iv, at, conventions.band_thresholds)
        oldest = iv.oldest_days(at)
        frame = pd.DataFrame({"week_ending": weeks.astype("datetime64[s]")})
        if by_team:
            frame["team"] = name
        for k, v in counts.items():
            frame[k] = v
        frame["oldest_weeks"] = np.where(oldest >= 0, oldest // 7, np.nan)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def backlog_bands(
    evaluation: Evaluation, *, conventions: Conventions = DEFAULT_CONVENTIONS, by_team: bool = True
) -> pd.DataFrame:
    """Open requests by waiting band at ``as_of``, straight from the evaluation's backlog arrays.

    Definition: ``evaluation.open`` / ``evaluation.band`` (:func:`ehcp_workflow.core.backlog.backlog_arrays`):
    open = received and not ended by a plan, a refusal, a decision not to issue, a withdrawal, an
    export or a historical outcome; "over N weeks" = waited strictly more than 7N days, so a request
    at exactly 20 weeks is ``within_20``. Bands are exclusive: ``over_20`` is over 20 and up to 30
    weeks. ``oldest_weeks`` = the longest wait (whole weeks).
    Regulation: SEND Regs 2014 reg 13(2) (20 weeks). DfE bands: within 20 / 20-52 / over 52 weeks
    (rules §5); the 30- and 100-week bands are the councils' (Kent 2024a "reduction in the number of
    assessments beyond 30 and 52 weeks"; Kent 2024b "1080 children ... waited 100 weeks or more").
    """
    labels = band_labels(conventions.band_thresholds)
    team, teams = _teams(evaluation.cases)
    rows = []
    for name in [ALL, *(teams if by_team else [])]:
        sel = evaluation.open & ((team == name) if name != ALL else True)
        bands = evaluation.band[sel]
        row: dict[str, Any] = {"team": name}
        for label in labels:
            row[label] = int(np.count_nonzero(bands == label))
        row["total"] = int(np.count_nonzero(sel))
        weeks = evaluation.weeks_waiting[sel]
        row["oldest_weeks"] = float(weeks.max()) if len(weeks) else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    over = list(labels[1:])
    frame["pct_over_" + str(conventions.band_thresholds[0]) + "_weeks"] = _pct(
        frame[over].sum(axis=1), frame["total"]
    )
    return frame


def outstanding_assessments(
    evaluation: Evaluation,
    months: pd.PeriodIndex,
    *,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    by_team: bool = True,
) -> pd.DataFrame:
    """Outstanding assessments at each month's end, % over the statutory timescale, oldest case.

    Definition: open requests (as :func:`backlog_bands`) at the last day of the month, or at
    ``as_of`` for the month containing it (months after ``as_of`` are left out). Over the statutory
    timescale = waited more than 20 weeks (the first band threshold; excepted cases included, as the
    councils count them). ``oldest_weeks`` = longest wait of an open request, whole weeks.
    Regulation: SEND Regs 2014 reg 13(2). Seed wording: Kent 2024b "assessment workloads reduced to
    1306, with 31.7% over statutory timescales"; "the oldest outstanding case was 119 weeks old".
    Columns: ``snapshot_date``, ``outstanding``, ``over_20_weeks``, ``pct_over_20_weeks``,
    ``oldest_weeks``. Snapshots do not add up over months, so there is no ``All`` month row.
    """
    first = conventions.band_thresholds[0]
    as_of = _day(evaluation.as_of)
    ends = months.asfreq("D", how="end").to_timestamp().to_numpy().astype("datetime64[D]")
    starts = months.to_timestamp().to_numpy().astype("datetime64[D]")
    keep = starts <= as_of
    snap = np.minimum(ends[keep], as_of)
    labels = [str(p) for p, k in zip(months, keep, strict=True) if k]
    at = _day_numbers(snap)
    intervals = _open_intervals(evaluation)
    team, teams = _teams(evaluation.cases)
    groups: list[tuple[str, _OpenIntervals]] = [(ALL, intervals)]
    if by_team:
        groups += [(t, intervals.subset(team == t)) for t in teams]
    frames = []
    for name, iv in groups:
        total = iv.count_waiting_over(-1, at)
        over = iv.count_waiting_over(7 * first, at)
        oldest = iv.oldest_days(at)
        frames.append(
            pd.DataFrame(
                {
                    "month": labels,
                    "team": name,
                    "snapshot_date": snap.astype("datetime64[s]"),
                    "outstanding": total,
                    f"over_{first}_weeks": over,
                    f"pct_over_{first}_weeks": _pct(over, total),
                    "oldest_weeks": np.where(oldest >= 0, oldest // 7, np.nan),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- advice --------------------------------------------------------------------------------------------


def advice_timeliness(
    evaluation: Evaluation, months: pd.PeriodIndex, *, by_provider: bool = True
) -> pd.DataFrame:
    """Advice returned, and % within 6 weeks of the request for advice, by provider.

    Definition: clock ``advice`` (one per request for advice) completed: advice received in the month;
    within 6 weeks = received on or before the engine's due date; excluding exceptions as for plans
    (reg 8(2) grounds). Providers as recorded (``social_care``, ``paediatrics``, ...; see
    :data:`PROVIDER_LABELS`). ``overdue_now`` (only on the ``All`` month row) counts requests still
    unanswered past their due date at ``as_of``.
    Regulation: SEND Regs 2014 reg 8(1) (advice within 6 weeks of the request); exceptions reg 8(2).
    DfE: none (not collected in SEN2). Seed wording: Kingston 2021 "All partners complete assessments
    in a timely manner (% advice supplied with[in] 6 weeks)", rows Social care, Paediatricians, OT,
    SaLT, Physio, EP.
    Columns: ``month``, ``provider``, ``advice_returned``, ``within_6_weeks``, ``pct_within_6_weeks``,
    ``excepted``, ``advice_returned_ex``, ``within_6_weeks_ex``, ``pct_within_6_weeks_ex``,
    ``overdue_now``.
    """
    clock = evaluation.advice_clock
    if clock is None:  # the source does not record advice
        empty_clock = np.zeros(0, dtype="datetime64[D]")
        provider: Objs = np.zeros(0, dtype=object)
        end: Dates = empty_clock
        t = _Timeliness(np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, bool))
        overdue = np.zeros(0, dtype=bool)
    else:
        raw = np.asarray(clock.instance, dtype=object)
        provider = np.where(pd.isna(raw) | (raw == ""), "unknown", raw).astype(object)
        end = clock.end
        t = _timeliness(clock)
        overdue = clock.status == _OVERDUE
    known = [p for p in (*ADVICE_PROVIDERS, "unknown") if p in set(provider.tolist())]
    providers = known + sorted(set(provider.tolist()) - set(known))
    f = _tabulate(
        end,
        provider,
        {
            "advice_returned": t.completed,
            "within_6_weeks": t.on_time,
            "excepted": t.excepted,
            "advice_returned_ex": t.completed_ex,
            "within_6_weeks_ex": t.on_time_ex,
        },
        months,
        providers,
        group_name="provider",
        by_group=by_provider,
    )
    f.insert(
        f.columns.get_loc("within_6_weeks") + 1,
        "pct_within_6_weeks",
        _pct(f["within_6_weeks"], f["advice_returned"]),
    )
    f["pct_within_6_weeks_ex"] = _pct(f["within_6_weeks_ex"], f["advice_returned_ex"])
    counts = {p: int(np.count_nonzero(overdue & (provider == p))) for p in providers}
    counts[ALL] = int(np.count_nonzero(overdue))
    f["overdue_now"] = np.where(f["month"] == ALL, f["provider"].map(counts), np.nan)
    return f


# --- annual reviews ------------------------------------------------------------------------------------


def annual_reviews_in_time(evaluation: Evaluation, *, by_team: bool = True) -> pd.DataFrame:
    """Active plans whose annual review is up to date at ``as_of`` (reviewed or made within 12 months).

    Definition: plans the ``annual_review`` clock applies to (a plan, not ceased: status pending, due
    soon or overdue); reviewed within 12 months = not ``overdue`` (the s.44 due date, 12 months from
    the last review decision or the plan's start by the council's anchor convention, is not past).
    Each plan has one running period (the periods before it are closed: met or late), so this is
    one row per active plan.
    Regulation: CFA 2014 s.44(1). DfE: none. Seed wording: Kingston 2021 "% of annual review held
    with[in] 12 months (Stat time frame)".
    Columns: ``plans_requiring_review``, ``reviewed_within_12_months``, ``pct_reviewed_within_12_months``,
    ``overdue``.
    """
    clock = evaluation.clocks["annual_review"]
    team, teams = _teams(evaluation.cases)
    team = team[clock.case_index]  # one row per s.44 period
    active = np.isin(clock.status, _RUNNING)
    overdue = clock.status == _OVERDUE
    rows = []
    for name in [ALL, *(teams if by_team else [])]:
        sel = active & ((team == name) if name != ALL else True)
        n = int(np.count_nonzero(sel))
        late = int(np.count_nonzero(sel & overdue))
        rows.append(
            {
                "team": name,
                "plans_requiring_review": n,
                "reviewed_within_12_months": n - late,
                "overdue": late,
            }
        )
    f = pd.DataFrame(rows)
    f.insert(
        3, "pct_reviewed_within_12_months", _pct(f["reviewed_within_12_months"], f["plans_requiring_review"])
    )
    return f


def review_decisions(evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True) -> pd.DataFrame:
    """Annual review decisions, and % sent within 4 weeks of the review meeting.

    Definition: clock ``review_decision`` completed (the decision letter to maintain, amend or cease,
    dated in the month, after the meeting); within 4 weeks = on or before the engine's due date.
    No exception grounds apply (rules §2.1), so there is one measure. Every review cycle counts in
    the month of its decision letter: the history keeps each cycle, so past months do not undercount.
    Regulation: SEND Regs 2014 reg 20(10) / reg 21. DfE: ``number_decsion_4weeks`` [sic] ("outcome of
    review communicated within 4 weeks"). Seed wording: Kingston 2021 "% of AR decisions made in 4
    weeks (Stat time frame)" (49%, 54%, 57%).
    Columns: ``review_decisions``, ``within_4_weeks``, ``pct_within_4_weeks``.
    """
    return _on_time_table(
        evaluation, "review_decision", ("review_decisions", "within_4_weeks"), months, by_team
    )


def amended_plans(evaluation: Evaluation, months: pd.PeriodIndex, *, by_team: bool = True) -> pd.DataFrame:
    """Final amended plans, and % issued within 8 weeks of the amendment notice.

    Definition: clock ``amended_plan`` completed (final amended plan, or notice not to amend, issued
    in the month); within 8 weeks = on or before the engine's due date (notice + 8 weeks). One row
    per review cycle, so every amendment counts in its month.
    Regulation: SEND Regs 2014 reg 22(3)-(4). DfE: none. Seed wording: Kingston 2021 "% of Final
    amended plans issued within 8 weeks of draft. (Stat time frame)" (83%, 80%, 83%).
    Columns: ``amended_plans``, ``within_8_weeks``, ``pct_within_8_weeks``.
    """
    return _on_time_table(evaluation, "amended_plan", ("amended_plans", "within_8_weeks"), months, by_team)


def overdue_reviews(evaluation: Evaluation, *, by_team: bool = True) -> pd.DataFrame:
    """Overdue annual reviews at ``as_of``, by how long overdue.

    Definition: ``annual_review`` clocks with status ``overdue``; days overdue = ``as_of`` less the
    engine's due date; buckets :data:`OVERDUE_REVIEW_BUCKETS` (up to 3 months, 3-6, 6-12 months, 1-2
    years, over 2 years overdue; a plan overdue by over 2 years was last reviewed over 3 years ago).
    Regulation: CFA 2014 s.44(1). DfE: none. Seed wording: Kent 2024a "It's supposed to be reviewed
    annually so it's now been 2 years since the last proper annual review"; Kent 2024b "Over 5000
    overdue annual reviews have been completed".
    Columns: ``overdue`` then one per bucket.
    """
    clock = evaluation.clocks["annual_review"]
    team, teams = _teams(evaluation.cases)
    team = team[clock.case_index]  # one row per s.44 period
    overdue = clock.status == _OVERDUE
    days = np.where(
        overdue, (_day(evaluation.as_of) - clock.due).astype("timedelta64[D]").astype(np.int64), -1
    )
    rows = []
    for name in [ALL, *(teams if by_team else [])]:
        sel = overdue & ((team == name) if name != ALL else True)
        row: dict[str, Any] = {"team": name, "overdue": int(np.count_nonzero(sel))}
        for label, lo, hi in OVERDUE_REVIEW_BUCKETS:
            inside = sel & (days >= lo) & ((days <= hi) if hi is not None else True)
            row[label] = int(np.count_nonzero(inside))
        rows.append(row)
    return pd.DataFrame(rows)


# --- phase transfer ------------------------------------------------------------------------------------


def phase_transfers(
    evaluation: Evaluation, *, cohorts: Sequence[int] | None = None, by_team: bool = False
) -> pd.DataFrame:
    """Phase transfers per cohort (transfer year) and type: due, done on time, late, still open.

    Definition: plans the ``phase_transfer`` clock applies to, by the year of the transfer (the year
    of the reg 18 deadline when only that is known) and ``phase_transfer_type``: ``school`` (before 15
    February), ``post16`` (before 31 March), ``post16_other`` (5 months before). Statuses as the
    planner (:func:`ehcp_workflow.reporting.phase_transfer.phase_transfer_status`): ``amended_on_time``
    (status met), ``late`` (amended after the deadline), ``overdue`` (deadline passed, not amended),
    ``review_held`` / ``not_started`` (deadline ahead), ``cannot_evaluate`` (type or date missing).
    ``pct_on_time`` = on time over those whose deadline has passed or who are done.
    Regulation: SEND Regs 2014 reg 18(1)(a), 18(1)(b), 18(2); no exception ground. DfE: SEN2
    ``PhaseTransferDueDate`` / ``PhaseTransferFinalDate``, no published measure. Seed wording: Kent
    2024b "In the 6 to 7 process, 92% of families received an answer by the deadline"; "The Post 16
    process saw 70% of families receiving an answer".
    Columns: ``cohort``, ``transfer_type``, [``team``], ``due``, one per status, ``still_open``,
    ``pct_on_time``.
    """
    status = phase_transfer_status(evaluation)
    cohort = cohort_years(evaluation)
    team, teams = _teams(evaluation.cases)
    scope = (status != "") & (cohort > 0)  # work on the cohorts' rows only
    status, cohort, team = status[scope], cohort[scope], team[scope]
    kinds_raw = evaluation.cases["phase_transfer_type"][scope].astype("string").fillna("not recorded")
    kind = kinds_raw.to_numpy(dtype=object)
    in_scope = np.ones(len(status), dtype=bool)
    years = sorted(int(y) for y in np.unique(cohort))
    if cohorts is not None:
        years = [y for y in years if y in set(cohorts)]
    kinds = [k for k in ("school", "post16", "post16_other", "not recorded") if (kind[in_scope] == k).any()]
    rows = []
    for year in years:
        for k in [ALL, *kinds]:
            for name in [ALL, *(teams if by_team else [])]:
                sel = in_scope & (cohort == year)
                if k != ALL:
                    sel &= kind == k
                if name != ALL:
                    sel &= team == name
                row: dict[str, Any] = {"cohort": year, "transfer_type": k}
                if by_team:
                    row["team"] = name
                row["due"] = int(np.count_nonzero(sel))
                for s in PHASE_STATUSES:
                    row[s] = int(np.count_nonzero(sel & (status == s)))
                rows.append(row)
    columns = ["cohort", "transfer_type", *(["team"] if by_team else []), "due", *PHASE_STATUSES]
    f = pd.DataFrame(rows, columns=columns)
    f = f[(f["transfer_type"] == ALL) | (f["due"] > 0)].reset_index(drop=True)
    f["still_open"] = f["review_held"] + f["not_started"] + f["overdue"]
    f["pct_on_time"] = _pct(f["amended_on_time"], f["amended_on_time"] + f["late"] + f["overdue"])
    return f


# --- everything for a period ---------------------------------------------------------------------------


def compute_kpis(
    evaluation: Evaluation,
    *,
    date_from: MonthLike,
    date_to: MonthLike,
    conventions: Conventions = DEFAULT_CONVENTIONS,
) -> dict[str, pd.DataFrame]:
    """Every KPI of :data:`KPI_INFO` for the months ``date_from`` to ``date_to`` (``--from/--to``).

    Months after ``as_of`` are dropped (nothing can have happened in them yet). ``evaluation`` must be
    ``evaluate_caseload(caseload, catalogue, as_of=..., conventions=conventions)``. The weekly backlog
    trend runs from the first day of ``date_from`` to the end of ``date_to`` (at most ``as_of``);
    phase-transfer cohorts are the transfer years from ``date_from``'s year to the year after
    ``date_to``'s. Returns small frames keyed as :data:`KPI_INFO`: counts and percentages only.
    """
    months = month_range(date_from, date_to)
    as_of_month = pd.Period(evaluation.as_of, freq="M")
    if months[0] > as_of_month:
        raise ValueError(f"the period starts after as_of ({evaluation.as_of})")
    months = months[months <= as_of_month]
    start = months[0].to_timestamp().date()
    end = min(months[-1].asfreq("D", how="end").to_timestamp().date(), evaluation.as_of)
    first_year, last_year = month_range(date_from, date_to)[[0, -1]].year
    return {
        "requests_received": requests_received(evaluation, months),
        "decisions_to_assess": decisions_to_assess(evaluation, months),
        "plans_issued": plans_issued(evaluation, months),
        "decisions_not_to_issue": decisions_not_to_issue(evaluation, months),
        "assessments_completed": assessments_completed(evaluation, months),
        "outstanding_assessments": outstanding_assessments(evaluation, months, conventions=conventions),
        "backlog_bands": backlog_bands(evaluation, conventions=conventions),
        "backlog_trend": backlog_trend(evaluation, start=start, end=end, conventions=conventions),
        "advice_timeliness": advice_timeliness(evaluation, months),
        "annual_reviews_in_time": annual_reviews_in_time(evaluation),
        "review_decisions": review_decisions(evaluation, months),
        "amended_plans": amended_plans(evaluation, months),
        "overdue_reviews": overdue_reviews(evaluation),
        "phase_transfers": phase_transfers(evaluation, cohorts=range(int(first_year), int(last_year) + 2)),
    }
