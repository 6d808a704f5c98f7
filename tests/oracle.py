"""The oracle: an independent per-case reading of ``config/clocks.yaml``, for tests only.

Plain Python over one case and its history (review cycles, advice requests), with pendulum date
arithmetic (:mod:`ehcp_workflow.core.calendar`). The product runs one evaluator,
:mod:`ehcp_workflow.core.evaluator`; this second reading, written separately, is what the property test
(tests/test_agreement.py) and the golden tests hold it to, dates, statuses and reasons alike.

Pure: no database, no Prefect, no clock. "Today" is the ``as_of`` argument, and anything dated after
``as_of`` is treated as not yet having happened, so evaluating a past date replays that night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ehcp_workflow.core import calendar as cal
from ehcp_workflow.core.backlog import BacklogPosition, backlog_position
from ehcp_workflow.core.caseload import EVENT_DATE_COLUMNS, Caseload, records
from ehcp_workflow.core.catalogue import Catalogue, ClockRule, Condition, Counting, Kind, Limit, Unit
from ehcp_workflow.core.conventions import (
    DEFAULT_CONVENTIONS,
    Conventions,
    MonthReading,
    PhaseTransferReading,
    ReviewAnchor,
    WeekCounting,
)
from ehcp_workflow.core.statuses import Status

#: The coronavirus exception (ground g) covers limits falling 1 May to 25 September 2020 inclusive
#: (SI 2020/471; statutory-rules §2.1 (g)). Written here again on purpose: the oracle does not read
#: the catalogue's ``exception_windows``, so a wrong window there is caught.
COVID_WINDOW = (dt.date(2020, 5, 1), dt.date(2020, 9, 25))
REVIEW_DATES = (
    "review_meeting",
    "review_report_sent",
    "review_decision_letter",
    "amendment_notice",
    "amended_plan_issued",
)

#: An outcome code only counts once its date has happened (replays of past dates).
OUTCOME_DATE = {
    "request_outcome": "request_outcome_date",
    "assessment_outcome": "assessment_outcome_date",
    "review_outcome": "review_decision_letter",
    "reassessment_agreed": "reassessment_decision_date",
}


@dataclass(frozen=True)
class ClockResult:
    """One clock of one case: the dates, the status and why."""

    case_ref: str
    person_ref: str
    clock: str
    instance: str
    status: Status
    start_date: dt.date | None = None
    due_date: dt.date | None = None
    computed_due_date: dt.date | None = None
    end_date: dt.date | None = None
    exception: str | None = None
    reason: str = ""
    regulation: str = ""
    explanation: tuple[str, ...] = field(default=(), compare=False)

    @property
    def days_overdue(self) -> int | None:
        """Days past due: to ``as_of`` while overdue (set by the caller), to the end when late."""
        if self.status is Status.LATE and self.end_date and self.due_date:
            return (self.end_date - self.due_date).days
        return None


@dataclass(frozen=True)
class CaseEvaluation:
    case_ref: str
    person_ref: str
    as_of: dt.date
    clocks: tuple[ClockResult, ...]
    backlog: BacklogPosition | None

    def days_overdue(self, r: ClockResult) -> int | None:
        if r.status is Status.OVERDUE and r.due_date:
            return (self.as_of - r.due_date).days
        return r.days_overdue


def mask_case(case: Mapping[str, Any], as_of: dt.date) -> dict[str, Any]:
    """The case as it stood at the end of ``as_of``: later events have not happened yet (an exception
    ground whose period starts later does not apply yet)."""
    out = dict(case)
    for key, started in case.items():
        if (
            key.startswith("exception_")
            and key.endswith("_start")
            and started is not None
            and started > as_of
        ):
            out[key.removesuffix("_start")] = None
    for col in EVENT_DATE_COLUMNS:
        v = out.get(col)
        if v is not None and v > as_of:
            out[col] = None
    for code, date_col in OUTCOME_DATE.items():
        original = case.get(date_col)
        if original is not None and original > as_of:
            # decided later: at as_of the decision was still awaited
            out[code] = "A" if code in ("request_outcome", "assessment_outcome") else None
    return out


def anchor_key(conv: Conventions) -> str:
    return (
        "review_decision_letter" if conv.review_anchor is ReviewAnchor.DECISION_LETTER else "review_meeting"
    )


def review_cycles(reviews: Sequence[Mapping[str, Any]], as_of: dt.date) -> list[dict[str, Any]]:
    """The case's review cycles as they stood at ``as_of``: later dates masked, cycles with nothing
    yet dropped, in date order (earliest event of each cycle)."""
    out: list[tuple[dt.date, int, dict[str, Any]]] = []
    for k, row in enumerate(reviews):
        cyc = {
            c: (row.get(c) if row.get(c) is not None and row.get(c) <= as_of else None) for c in REVIEW_DATES
        }
        letter = row.get("review_decision_letter")
        cyc["review_outcome"] = None if letter is not None and letter > as_of else row.get("review_outcome")
        present = [d for d in (cyc[c] for c in REVIEW_DATES) if d is not None]
        if present:
            out.append((min(present), k, cyc))
    out.sort(key=lambda t: (t[0], t[1]))
    return [c for _, _, c in out]


def transfer_anchors(case: dict[str, Any], cycles: Sequence[Mapping[str, Any]], conv: Conventions) -> None:
    """reg 15(5): the last review anchor before a transfer in (else the plan's start), and the first
    one on or after it; added to ``case`` (with ``@name`` entries saying which event)."""
    key = anchor_key(conv)
    t = case.get("transfer_in_date")
    anchors = [c[key] for c in cycles if c.get(key) is not None]
    before = [a for a in anchors if t is not None and a < t]
    after = [a for a in anchors if t is not None and a >= t]
    if before:
        case["review_anchor_before_transfer"], case["review_anchor_before_transfer@name"] = max(before), key
    else:
        case["review_anchor_before_transfer"] = case.get("plan_start")
        case["review_anchor_before_transfer@name"] = "plan_start"
    case["first_review_after_transfer"] = min(after) if after else None
    case["first_review_after_transfer@name"] = key


def review_periods(
    case: Mapping[str, Any], cycles: Sequence[Mapping[str, Any]], conv: Conventions
) -> list[dict[str, Any]]:
    """The s.44(1) periods: plan start to the first review's anchor, anchor to anchor, and the open one."""
    key = anchor_key(conv)
    anchors = sorted(c[key] for c in cycles if c.get(key) is not None)
    starts = [(case.get("plan_start"), "plan_start"), *((a, key) for a in anchors)]
    ends: list[dt.date | None] = [*anchors, None]
    rows = []
    for (start, name), end in zip(starts, ends, strict=True):
        row = dict(case)
        row.update(
            {
                "review_anchor": start,
                "review_anchor@name": name,
                "next_review_anchor": end,
                "next_review_anchor@name": key,
            }
        )
        rows.append(row)
    return rows


def _resolve(name: str, case: Mapping[str, Any], conv: Conventions) -> tuple[dt.date | None, str]:
    return case.get(name), case.get(f"{name}@name", name)


def _add(start: dt.date, limit: Limit, counting: Counting, conv: Conventions) -> dt.date:
    """``start`` plus the limit, under the counting conventions."""
    inclusive = counting is Counting.BEGINNING_WITH or conv.week_counting is WeekCounting.INCLUSIVE
    if limit.unit is Unit.WEEKS:
        return cal.add_days(cal.add_weeks(start, limit.amount), -1 if inclusive else 0)
    if limit.unit is Unit.DAYS:
        return cal.add_days(start, limit.amount - (1 if inclusive else 0))
    if limit.unit is Unit.MONTHS:
        due = cal.add_months(start, limit.amount)
        return cal.add_days(due, -1) if conv.month_reading is MonthReading.STRICT else due
    if limit.unit is Unit.WORKING_DAYS:
        first = start if counting is Counting.BEGINNING_WITH else cal.add_days(start, 1)
        return cal.nth_working_day_beginning_with(first, limit.amount)
    raise ValueError(f"cannot add a {limit.unit} limit")


def _describe_limit(limit: Limit, counting: Counting, conv: Conventions) -> str:
    if limit.unit is Unit.MONTHS:
        return f"{limit.amount} month(s), {conv.month_reading.value} reading"
    unit = limit.unit.value.replace("_", " ")
    if counting is Counting.BEGINNING_WITH:
        return f"{limit.amount} {unit} beginning with the start day"
    return f"{limit.amount} {unit}, {conv.week_counting.value} counting"


def phase_transfer_due(
    case: Mapping[str, Any], conv: Conventions
) -> tuple[dt.date | None, dt.date | None, str]:
    """Reg 18 due date: (due used, computed due, how) for the case's phase transfer.

    School phases: "before 15 February in the calendar year of the transfer" (reg 18(1)(b));
    secondary to post-16: before 31 March (18(1)(a)); post-16 to post-16 at another time: at least
    5 months before the transfer (18(2)). An explicit due date on the case wins; the computed one is
    returned beside it so a difference can be shown.
    """
    kind = case.get("phase_transfer_type")
    move = case.get("phase_transfer_date")
    explicit = case.get("phase_transfer_due")
    back = 1 if conv.phase_transfer_reading is PhaseTransferReading.DAY_BEFORE else 0
    computed: dt.date | None = None
    how = ""
    if move is not None and kind == "school":
        computed = dt.date(move.year, 2, 15) - dt.timedelta(days=back)
        how = "before 15 February of the transfer year (reg 18(1)(b))"
    elif move is not None and kind == "post16":
        computed = dt.date(move.year, 3, 31) - dt.timedelta(days=back)
        how = "before 31 March of the transfer year (reg 18(1)(a))"
    elif move is not None and kind == "post16_other":
        computed = cal.add_months(move, -5)
        how = "5 months before the transfer (reg 18(2))"
    if explicit is not None:
        return explicit, computed, "the due date recorded on the case"
    return computed, computed, how


def _condition_holds(
    cond: Condition, case: Mapping[str, Any], conv: Conventions, end: dt.date | None
) -> bool:
    if cond.unless_ended and end is not None:
        return False
    if cond.rule == "superseded_by_transfer_in_review":
        t = case.get("transfer_in_date")
        start, stop = case.get("review_anchor"), case.get("next_review_anchor")
        return t is not None and start is not None and start < t and (stop is None or stop >= t)
    assert cond.field is not None
    value = case.get(cond.field)
    if cond.in_ is not None:
        return value is not None and value in cond.in_
    if cond.present is not None:
        return (value is not None) == cond.present
    return value is not None and bool(value) == cond.is_


def _event(field: str, when: Any, case: Mapping[str, Any]) -> dt.date | None:
    if when is not None and case.get(when.field) not in when.in_:
        return None
    value: dt.date | None = case.get(field)
    return value


def _due(rule: ClockRule, start: dt.date, case: Mapping[str, Any], conv: Conventions) -> dt.date:
    """The due date of a clock that has started (not reg 18's): the limit, the move day, later_of."""
    due = _add(start, rule.limit, rule.counting, conv)
    if rule.rule == "reg15_move_day":
        move = case.get("transfer_out_move")
        if move is not None and due < move:
            due = move
    for extra in rule.later_of:
        assert extra.from_ is not None
        other_start = case.get(extra.from_)
        if other_start is None:
            continue
        other = _add(other_start, extra, Counting.WITHIN, conv)
        if other > due:
            due = other
    return due


def evaluate_clock(
    rule: ClockRule,
    case: Mapping[str, Any],
    *,
    as_of: dt.date,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    unrecorded: frozenset[str] = frozenset(),
    instance: str = "",
    ref: tuple[str, str] = ("", ""),
) -> ClockResult:
    """Evaluate one clock against one (already masked) case, review, period or advice row."""
    conv = conventions
    case_ref, person_ref = ref
    why: list[str] = [f"{rule.title} ({rule.ref}): {rule.regulation}."]

    def result(status: Status, reason: str = "", **kw: Any) -> ClockResult:
        if reason:
            why.append(reason)
        return ClockResult(
            case_ref=case_ref,
            person_ref=person_ref,
            clock=rule.id,
            instance=instance,
            status=status,
            reason=reason,
            regulation=rule.regulation,
            explanation=tuple(why),
            **kw,
        )

    start, start_name = _resolve(rule.starts, case, conv)
    computed: dt.date | None = None
    due: dt.date | None = None
    how = ""
    if rule.limit.unit is Unit.RULE:  # reg 18 phase transfer: "within 12 months of a transfer"
        due, computed, how = phase_transfer_due(case, conv)
        move = case.get("phase_transfer_date")
        base = move if move is not None else due
        start = cal.add_months(base, -12) if base is not None else None
        start_name = "transfer date less 12 months"
    end: dt.date | None = None
    end_name = ""
    if rule.ends is not None:
        end_name = _resolve(rule.ends.field, case, conv)[1]
        end = _event(rule.ends.field, rule.ends.when, case)
        if rule.ends.after_start_only and end is not None and (start is None or end < start):
            end = None

    for cond in rule.not_applicable_when:
        if _condition_holds(cond, case, conv, end):
            return result(Status.NOT_APPLICABLE, f"Not applicable: {cond.reason}.", start_date=start)
    if rule.ends is not None and rule.ends.field in unrecorded:
        return result(
            Status.NOT_APPLICABLE,
            f"Not applicable: the source does not record {rule.ends.field}, so this clock cannot be judged.",
            start_date=start,
        )
    for bad in rule.invalid_when:
        if case.get(bad.field) in bad.in_ and case.get(bad.without) is None:
            shown = _due(rule, start, case, conv) if start is not None else None
            return result(
                Status.INVALID,
                f"Cannot evaluate: {bad.reason}.",
                start_date=start,
                due_date=shown,
                end_date=end,
            )

    if rule.limit.unit is Unit.RULE:
        if due is None:
            if case.get("phase_transfer_date") is not None or case.get("phase_transfer_type") is not None:
                return result(
                    Status.INVALID,
                    "Cannot evaluate: a phase transfer needs both its type and its transfer date "
                    "(or an explicit due date).",
                    start_date=start,
                )
            return result(Status.NOT_APPLICABLE, "Not applicable: no phase transfer recorded.")
        why.append(f"Due {cal.format_date(due)}: {how}.")
    else:
        if start is None:
            if end is not None and not (rule.ends and rule.ends.after_start_only):
                return result(
                    Status.INVALID,
                    f"Cannot evaluate: {end_name} is recorded but {rule.starts} is not.",
                    end_date=end,
                )
            return result(
                Status.NOT_APPLICABLE, f"Not applicable: no {rule.starts} (the clock has not started)."
            )
        due = _due(rule, start, case, conv)

    if end is not None and start is not None and end < start:
        return result(
            Status.INVALID,
            f"Cannot evaluate: {end_name} ({cal.format_date(end)}) is before {start_name} "
            f"({cal.format_date(start)}).",
            start_date=start,
            due_date=due,
            computed_due_date=computed,
            end_date=end,
        )

    dates = {"start_date": start, "due_date": due, "computed_due_date": computed, "end_date": end}
    col = rule.exception_column
    ground = case.get(col) if col else None
    if ground is not None:
        ok = ground in rule.grounds_accepted() and (
            ground != "g" or COVID_WINDOW[0] <= due <= COVID_WINDOW[1]
        )
        if not ok:
            return result(
                Status.INVALID,
                f"Cannot evaluate: exception ground ({ground}) does not disapply {rule.regulation}"
                + (
                    " (the coronavirus ground covers limits falling 1 May-25 Sep 2020)"
                    if ground == "g"
                    else ""
                )
                + ".",
                exception=ground,
                **dates,
            )
        return result(
            Status.EXCEPTED,
            f"Excepted: ground ({ground}) disapplies the limit; the due date is not moved and the case is "
            "left out of DfE's 'excluding exceptions' measures.",
            exception=ground,
            **dates,
        )

    if end is None and rule.cut_short_by is not None and start is not None:
        cut = _event(rule.cut_short_by.field, rule.cut_short_by.when, case)
        if cut is not None and start <= cut <= due:
            return result(
                Status.CUT_SHORT,
                f"Cut short: {rule.cut_short_by.field} {cal.format_date(cut)}, inside the window that runs "
                f"to {cal.format_date(due)} ({rule.regulation}).",
                **{**dates, "end_date": cut},
            )
    if end is None and rule.stops is not None and start is not None:
        stop = _event(rule.stops.field, rule.stops.when, case)
        if stop is not None and stop >= start:
            if stop <= due:
                return result(Status.NOT_APPLICABLE, f"Not applicable: {rule.stops.early}.", start_date=start)
            return result(
                Status.LATE,
                f"Late: {rule.stops.reason} at {cal.format_date(stop)}, {(stop - due).days} day(s) after "
                "the due date.",
                **{**dates, "end_date": stop},
            )
    if end is not None:
        if end <= due:
            return result(
                Status.MET, f"Met: {end_name} {cal.format_date(end)}, on or before the due date.", **dates
            )
        return result(
            Status.LATE,
            f"Late: {end_name} {cal.format_date(end)}, {(end - due).days} day(s) after the due date.",
            **dates,
        )
    if as_of > due:
        if rule.kind is Kind.WINDOW:
            return result(Status.MET, f"Closed: the window ended {cal.format_date(due)}.", **dates)
        return result(
            Status.OVERDUE, f"Overdue by {(as_of - due).days} day(s) at {cal.format_date(as_of)}.", **dates
        )
    if (due - as_of).days <= conv.due_soon_days:
        return result(Status.DUE_SOON, f"Due in {(due - as_of).days} day(s).", **dates)
    return result(Status.PENDING, f"Due in {(due - as_of).days} day(s).", **dates)


def evaluate_case(
    case: Mapping[str, Any],
    catalogue: Catalogue,
    *,
    as_of: dt.date,
    advice: Sequence[Mapping[str, Any]] = (),
    reviews: Sequence[Mapping[str, Any]] | None = None,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    unrecorded: frozenset[str] = frozenset(),
) -> CaseEvaluation:
    """Every clock of one case at ``as_of``: one per case, review cycle, review period and advice
    request. ``reviews=None`` reads one cycle from the case's own review columns (a snapshot)."""
    masked = mask_case(case, as_of)
    if reviews is None:
        snapshot = {c: case.get(c) for c in (*REVIEW_DATES, "review_outcome")}
        reviews = [snapshot] if any(v is not None for v in snapshot.values()) else []
    cycles = review_cycles(reviews, as_of)
    transfer_anchors(masked, cycles, conventions)
    ref = (str(case.get("case_ref") or ""), str(case.get("person_ref") or case.get("case_ref") or ""))
    results: list[ClockResult] = []

    def run(rule: ClockRule, row: Mapping[str, Any], instance: str = "") -> None:
        results.append(
            evaluate_clock(
                rule,
                row,
                as_of=as_of,
                conventions=conventions,
                unrecorded=unrecorded,
                instance=instance,
                ref=ref,
            )
        )

    for rule in catalogue.clocks:
        if rule.per == "advice_request":
            if "advice" in unrecorded:
                continue
            for row in advice:
                adv = dict(masked)
                adv.update(
                    {
                        k: (None if k in ("requested", "received") and v is not None and v > as_of else v)
                        for k, v in row.items()
                    }
                )
                run(rule, adv, str(row.get("provider") or ""))
        elif rule.per == "review":
            for k, cyc in enumerate(cycles):
                run(rule, {**masked, **cyc}, f"review {k + 1}")
        elif rule.per == "review_period":
            for k, period in enumerate(review_periods(masked, cycles, conventions)):
                run(rule, period, f"review {k + 1}")
        else:
            run(rule, masked)
    return CaseEvaluation(
        case_ref=ref[0],
        person_ref=ref[1],
        as_of=as_of,
        clocks=tuple(results),
        backlog=backlog_position(masked, as_of=as_of, thresholds=conventions.band_thresholds),
    )


def evaluate_caseload_per_case(
    caseload: Caseload,
    catalogue: Catalogue,
    *,
    as_of: dt.date,
    conventions: Conventions = DEFAULT_CONVENTIONS,
) -> list[CaseEvaluation]:
    """:func:`evaluate_case` for every case, with its advice requests and review history."""
    advice_by_case: dict[object, list[dict[str, object]]] = {}
    if "advice" not in caseload.blind_spots:
        for row in records(caseload.advice):
            advice_by_case.setdefault(row["case_ref"], []).append(row)
    reviews_by_case: dict[object, list[dict[str, object]]] = {}
    for row in records(caseload.review_history):
        reviews_by_case.setdefault(row["case_ref"], []).append(row)
    return [
        evaluate_case(
            case,
            catalogue,
            as_of=as_of,
            advice=advice_by_case.get(case["case_ref"], ()),
            reviews=reviews_by_case.get(case["case_ref"], []),
            conventions=conventions,
            unrecorded=caseload.unrecorded_for(i),
        )
        for i, case in enumerate(records(caseload.cases))
    ]


def evaluations_frame(evaluations: Sequence[CaseEvaluation]) -> pd.DataFrame:
    """Per-case results as one row per case and clock, in ``RESULT_COLUMNS`` order."""
    rows: list[dict[str, object]] = []
    for ev in evaluations:
        for r in ev.clocks:
            rows.append(
                {
                    "person_ref": r.person_ref,
                    "case_ref": r.case_ref,
                    "clock": r.clock,
                    "instance": r.instance,
                    "start_date": r.start_date,
                    "due_date": r.due_date,
                    "computed_due_date": r.computed_due_date,
                    "end_date": r.end_date,
                    "status": r.status.value,
                    "days_overdue": ev.days_overdue(r),
                    "exception": r.exception,
                    "weeks_waiting": ev.backlog.weeks_waiting if ev.backlog else None,
                    "band": ev.backlog.band if ev.backlog else None,
                    "regulation": r.regulation,
                    "reason": r.reason,
                }
            )
    return pd.DataFrame(rows)
