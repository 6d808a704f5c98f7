"""Per-case evaluation of every statutory clock, with an explanation a caseworker can read.

This is the reference reading of ``config/clocks.yaml``: plain Python over one case, with pendulum
date arithmetic (:mod:`ehcp_workflow.calendar`). :mod:`ehcp_workflow.vectorised` computes the same
answers over a whole caseload with numpy; a property test holds them to each other.

Pure: no database, no Prefect, no clock. "Today" is the ``as_of`` argument, and anything dated after
``as_of`` is treated as not yet having happened, so evaluating a past date replays that night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ehcp_workflow import calendar as cal
from ehcp_workflow.backlog import BacklogPosition, backlog_position
from ehcp_workflow.caseload import EVENT_DATE_COLUMNS, Caseload, records
from ehcp_workflow.catalogue import Catalogue, ClockRule, Condition, Counting, Kind, Limit, Unit
from ehcp_workflow.conventions import (
    DEFAULT_CONVENTIONS,
    Conventions,
    MonthReading,
    PhaseTransferReading,
    ReviewAnchor,
    WeekCounting,
)
from ehcp_workflow.statuses import Status

#: The coronavirus exception (ground g) covers limits falling 1 May to 25 September 2020 inclusive
#: (SI 2020/471; statutory-rules §2.1 (g)).
COVID_WINDOW = (dt.date(2020, 5, 1), dt.date(2020, 9, 25))

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
    """The case as it stood at the end of ``as_of``: later events have not happened yet."""
    out = dict(case)
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


def review_anchor(case: Mapping[str, Any], conv: Conventions) -> tuple[dt.date | None, str]:
    """Date the current s.44 review period runs from, and which event that is."""
    key = "review_decision_letter" if conv.review_anchor is ReviewAnchor.DECISION_LETTER else "review_meeting"
    last = case.get(key)
    if last is not None:
        return last, key
    return case.get("plan_start"), "plan_start"


def _resolve(name: str, case: Mapping[str, Any], conv: Conventions) -> tuple[dt.date | None, str]:
    if name == "review_anchor":
        return review_anchor(case, conv)
    if name == "review_anchor_before_transfer":
        anchor, what = review_anchor(case, conv)
        t = case.get("transfer_in_date")
        if anchor is not None and t is not None and anchor >= t:
            # the review since the transfer hides the one before it; fall back to the plan's start
            return case.get("plan_start"), "plan_start"
        return anchor, what
    return case.get(name), name


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
        anchor, _ = review_anchor(case, conv)
        return t is not None and anchor is not None and anchor < t
    if cond.rule == "no_decision_to_amend":
        meeting = case.get("review_meeting")
        letter = case.get("review_decision_letter")
        notice = case.get("amendment_notice")
        decided_amend = (
            case.get("review_outcome") == "A"
            and meeting is not None
            and letter is not None
            and letter >= meeting
        )
        notice_sent = notice is not None and meeting is not None and notice >= meeting
        return not (decided_amend or notice_sent)
    assert cond.field is not None
    value = case.get(cond.field)
    if cond.in_ is not None:
        return value is not None and value in cond.in_
    if cond.present is not None:
        return (value is not None) == cond.present
    return value is not None and bool(value) == cond.is_


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
    """Evaluate one clock against one (already masked) case or advice row."""
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
        end, end_name = _resolve(rule.ends.field, case, conv)
        w = rule.ends.when
        if w is not None and case.get(w.field) not in w.in_:
            end = None
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
        if computed is not None and computed != due:
            why.append(f"The rules give {cal.format_date(computed)}; the recorded due date is used.")
    else:
        if start is None:
            if end is not None and not (rule.ends and rule.ends.after_start_only):
                return result(
                    Status.INVALID,
                    f"Cannot evaluate: {end_name} is recorded but {start_name} is not.",
                    end_date=end,
                )
            return result(
                Status.NOT_APPLICABLE, f"Not applicable: no {start_name} (the clock has not started)."
            )
        due = _add(start, rule.limit, rule.counting, conv)
        why.append(
            f"Starts {cal.format_date(start)} ({start_name}); "
            f"{_describe_limit(rule.limit, rule.counting, conv)} gives {cal.format_date(due)}."
        )
        if rule.rule == "reg15_move_day":
            move = case.get("transfer_out_move")
            if move is not None and due < move:
                due = move
                why.append(
                    f"Known at least 15 working days before the move: due on the day of the move, "
                    f"{cal.format_date(move)} (reg 15(2))."
                )
        for extra in rule.later_of:
            assert extra.from_ is not None
            other_start, other_name = _resolve(extra.from_, case, conv)
            if other_start is None:
                continue
            other = _add(other_start, extra, Counting.WITHIN, conv)
            if other > due:
                why.append(
                    f"The later limit applies: {_describe_limit(extra, Counting.WITHIN, conv)} from "
                    f"{other_name} {cal.format_date(other_start)} gives {cal.format_date(other)}."
                )
                due = other

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
    conventions: Conventions = DEFAULT_CONVENTIONS,
    unrecorded: frozenset[str] = frozenset(),
) -> CaseEvaluation:
    """Every clock of one case at ``as_of`` (advice clocks: one per advice request)."""
    masked = mask_case(case, as_of)
    ref = (str(case.get("case_ref") or ""), str(case.get("person_ref") or case.get("case_ref") or ""))
    results: list[ClockResult] = []
    for rule in catalogue.clocks:
        if rule.per == "advice_request":
            if "advice" in unrecorded:
                continue
            for row in advice:
                adv = {
                    k: (None if k in ("requested", "received") and v is not None and v > as_of else v)
                    for k, v in row.items()
                }
                results.append(
                    evaluate_clock(
                        rule,
                        adv,
                        as_of=as_of,
                        conventions=conventions,
                        instance=str(row.get("provider") or ""),
                        ref=ref,
                    )
                )
            continue
        results.append(
            evaluate_clock(rule, masked, as_of=as_of, conventions=conventions, unrecorded=unrecorded, ref=ref)
        )
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
    """The slow path: :func:`evaluate_case` for every case (for explanations and cross-checks)."""
    advice_by_case: dict[object, list[dict[str, object]]] = {}
    if "advice" not in caseload.unrecorded:
        for row in records(caseload.advice):
            advice_by_case.setdefault(row["case_ref"], []).append(row)
    return [
        evaluate_case(
            case,
            catalogue,
            as_of=as_of,
            advice=advice_by_case.get(case["case_ref"], ()),
            conventions=conventions,
            unrecorded=caseload.unrecorded,
        )
        for case in records(caseload.cases)
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
