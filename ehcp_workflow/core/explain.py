"""Explanations a caseworker can read, derived from what the engine returned.

Nothing here re-runs a rule: each sentence is built from a clock's rule (title, regulation, limit,
conventions) and its row's arrays, dates, status, reason code and provenance (which event started
the clock, which limit set the due date, which event ended it). So ``ehcp clocks --explain``,
``ehcp case show`` and the exports can never disagree with the nightly: they read one evaluation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core import calendar as cal
from ehcp_workflow.core.arrays import (
    BAD_GROUND,
    DUE_MOVE_DAY,
    END_BEFORE_START,
    END_STOPPED,
    GROUNDS,
    ClockArrays,
)
from ehcp_workflow.core.backlog import BacklogPosition
from ehcp_workflow.core.catalogue import Counting, Limit, Unit
from ehcp_workflow.core.conventions import Conventions

if TYPE_CHECKING:  # only for the annotations: the evaluator imports this module
    from ehcp_workflow.core.evaluator import Evaluation
from ehcp_workflow.core.statuses import STATUS_ORDER, Status

#: How each reg 18 rule is described (``ClockArrays.due_from`` of the phase-transfer clock).
PHASE_HOW = (
    "before 15 February of the transfer year (reg 18(1)(b))",
    "before 31 March of the transfer year (reg 18(1)(a))",
    "5 months before the transfer (reg 18(2))",
    "the due date recorded on the case",
)
EXCEPTED = (
    "Excepted: ground ({ground}) disapplies the limit; the due date is not moved and the case is "
    "left out of DfE's 'excluding exceptions' measures."
)
COVID_NOTE = " (the coronavirus ground covers limits falling 1 May-25 Sep 2020)"


def _fmt(d: np.datetime64) -> str:
    return "-" if np.isnat(d) else cal.format_date(d.astype(dt.date))


def _date_strings(values: npt.NDArray[np.datetime64]) -> npt.NDArray[np.object_]:
    """``Mon 14 Oct 2024`` for each date ("-" for none), formatted once per distinct date."""
    uniq, inverse = np.unique(values.astype("datetime64[D]"), return_inverse=True)
    labels = np.array([_fmt(u) for u in uniq], dtype=object)
    result: npt.NDArray[np.object_] = labels[inverse.reshape(-1)] if len(values) else labels[:0]
    return result


def describe_limit(limit: Limit, counting: Counting, conv: Conventions) -> str:
    """``12 month(s), anniversary reading``: a limit with the convention that reads it."""
    if limit.unit is Unit.MONTHS:
        return f"{limit.amount} month(s), {conv.month_reading.value} reading"
    unit = limit.unit.value.replace("_", " ")
    if counting is Counting.BEGINNING_WITH:
        return f"{limit.amount} {unit} beginning with the start day"
    return f"{limit.amount} {unit}, {conv.week_counting.value} counting"


def reason_texts(a: ClockArrays, sel: npt.NDArray[np.bool_], as_of: dt.date) -> npt.NDArray[np.object_]:
    """The one-sentence reason of each selected row (what the status means for this row)."""
    status = a.status[sel]
    n = len(status)
    out = np.full(n, "", dtype=object)
    if not n:
        return out
    today = np.datetime64(as_of, "D")
    due, end, start = a.due[sel], a.end[sel], a.start[sel]
    code = a.reason[sel]
    end_name = np.array(a.end_names, dtype=object)[a.end_from[sel]]
    start_name = np.array(a.start_names, dtype=object)[a.start_from[sel]]
    s = pd.Series
    fixed = np.array(a.reasons, dtype=object)[code]
    has_code = code > 0
    out[has_code] = fixed[has_code]
    for template in (END_BEFORE_START, BAD_GROUND):
        if template not in a.reasons:
            continue
        rows = np.flatnonzero(fixed == template)
        for i in rows:
            ground = GROUNDS[int(a.exception[sel][i])] if template == BAD_GROUND else ""
            out[i] = template.format(
                end_name=end_name[i],
                end=_fmt(end[i]),
                start_name=start_name[i],
                start=_fmt(start[i]),
                ground=ground,
                regulation=a.rule.regulation,
                window=COVID_NOTE if ground == "g" else "",
            )

    def of(st: Status) -> npt.NDArray[np.bool_]:
        return np.asarray((status == STATUS_ORDER.index(st)) & ~has_code, dtype=bool)

    days_late = (end - due).astype("timedelta64[D]").astype(np.int64)
    days_left = (due - today).astype("timedelta64[D]").astype(np.int64)
    m = of(Status.EXCEPTED)
    if m.any():
        grounds = np.array([*GROUNDS, ""], dtype=object)[a.exception[sel][m]]
        out[m] = [EXCEPTED.format(ground=g) for g in grounds]
    window = a.rule.kind.value == "window"
    m = of(Status.MET) & ~np.isnat(end)
    if m.any():
        out[m] = (
            "Met: " + s(end_name[m]) + " " + s(_date_strings(end[m])) + ", on or before the due date."
        ).to_numpy()
    m = of(Status.MET) & np.isnat(end)
    if m.any() and window:
        out[m] = ("Closed: the window ended " + s(_date_strings(due[m])) + ".").to_numpy()
    m = of(Status.LATE)
    if m.any():
        stopped = a.end_from[sel][m] == END_STOPPED
        what = np.where(stopped, (a.rule.stops.reason + " at " if a.rule.stops else ""), end_name[m] + " ")
        out[m] = (
            "Late: "
            + s(what)
            + s(_date_strings(end[m]))
            + ", "
            + s(days_late[m].astype(str))
            + " day(s) after the due date."
        ).to_numpy()
    m = of(Status.CUT_SHORT)
    if m.any():
        out[m] = (
            "Cut short: "
            + s(end_name[m])
            + " "
            + s(_date_strings(end[m]))
            + ", inside the window that runs to "
            + s(_date_strings(due[m]))
            + f" ({a.rule.regulation})."
        ).to_numpy()
    m = of(Status.OVERDUE)
    if m.any():
        out[m] = (
            "Overdue by " + s((-days_left[m]).astype(str)) + f" day(s) at {cal.format_date(as_of)}."
        ).to_numpy()
    m = of(Status.DUE_SOON) | of(Status.PENDING)
    if m.any():
        out[m] = ("Due in " + s(days_left[m].astype(str)) + " day(s).").to_numpy()
    return out


@dataclass(frozen=True)
class ClockExplanation:
    """One clock instance of one case, with the sentences that explain it."""

    case_ref: str
    clock: str
    instance: str
    status: Status
    start_date: dt.date | None
    due_date: dt.date | None
    computed_due_date: dt.date | None
    end_date: dt.date | None
    exception: str | None
    days_overdue: int | None
    regulation: str
    reason: str
    explanation: tuple[str, ...]


def _date(d: np.datetime64) -> dt.date | None:
    return None if np.isnat(d) else d.astype("datetime64[D]").astype(dt.date)


def _how_due(a: ClockArrays, i: int, conv: Conventions) -> list[str]:
    """Sentences saying how the due date was set (from the row's provenance)."""
    rule = a.rule
    due, start = a.due[i], a.start[i]
    if np.isnat(due):
        return []
    if rule.limit.unit is Unit.RULE:
        out = [f"Due {_fmt(due)}: {PHASE_HOW[int(a.due_from[i])]}."]
        computed = a.computed_due[i]
        if not np.isnat(computed) and computed != due:
            out.append(f"The rules give {_fmt(computed)}; the recorded due date is used.")
        return out
    start_name = a.start_names[int(a.start_from[i])]
    head = f"Starts {_fmt(start)} ({start_name}); {describe_limit(rule.limit, rule.counting, conv)}"
    k = int(a.due_from[i])
    if k == 0:
        return [f"{head} gives {_fmt(due)}."]
    if a.due_from[i] == DUE_MOVE_DAY:
        return [
            f"{head}.",
            f"Known at least 15 working days before the move: due on the day of the move, {_fmt(due)} "
            "(reg 15(2)).",
        ]
    extra = rule.later_of[k - 1]
    base = a.due_base[i] if a.due_base is not None else start
    return [
        f"{head}.",
        f"The later limit applies: {describe_limit(extra, Counting.WITHIN, conv)} from {extra.from_} "
        f"{_fmt(base)} gives {_fmt(due)}.",
    ]


def explain(evaluation: Evaluation, cases: npt.NDArray[np.bool_] | None = None) -> list[ClockExplanation]:
    """Every clock instance of the chosen cases (a mask over the case table; all if ``None``).

    One pass over each clock's rows, so explaining a whole file costs one formatting per row.
    """
    conv = evaluation.conventions
    refs = evaluation.cases["case_ref"].to_numpy(dtype=object, na_value="")
    today = np.datetime64(evaluation.as_of, "D")
    out: list[ClockExplanation] = []
    for cid, a in evaluation.clocks.items():
        sel = np.ones(len(a), dtype=bool) if cases is None else cases[a.case_index]
        rows = np.flatnonzero(sel)
        if not len(rows):
            continue
        reasons = reason_texts(a, sel, evaluation.as_of)
        for j, i in enumerate(rows):
            status = STATUS_ORDER[int(a.status[i])]
            why = [f"{a.rule.title} ({a.rule.ref}): {a.rule.regulation}."]
            if status is not Status.NOT_APPLICABLE and not np.isnat(a.start[i]):
                why += _how_due(a, int(i), conv)
            why.append(str(reasons[j]))
            overdue: int | None = None
            if status is Status.OVERDUE:
                overdue = int((today - a.due[i]).astype(np.int64))
            elif status is Status.LATE:
                overdue = int((a.end[i] - a.due[i]).astype(np.int64))
            ground = GROUNDS[int(a.exception[i])] if a.exception[i] >= 0 else None
            out.append(
                ClockExplanation(
                    case_ref=str(refs[a.case_index[i]]),
                    clock=cid,
                    instance=str(a.instance[i]),
                    status=status,
                    start_date=_date(a.start[i]),
                    due_date=_date(a.due[i]),
                    computed_due_date=_date(a.computed_due[i]),
                    end_date=_date(a.end[i]),
                    exception=ground,
                    days_overdue=overdue,
                    regulation=a.rule.regulation,
                    reason=str(reasons[j]),
                    explanation=tuple(w for w in why if w),
                )
            )
    return out


@dataclass(frozen=True)
class CaseExplanation:
    """One case's clocks at ``as_of``, explained, and its place in the backlog (if open)."""

    case_ref: str
    as_of: dt.date
    clocks: tuple[ClockExplanation, ...]
    backlog: BacklogPosition | None

    def days_overdue(self, r: ClockExplanation) -> int | None:
        return r.days_overdue


def explain_case(evaluation: Evaluation, position: int = 0) -> CaseExplanation:
    """The case at ``position`` of the evaluated case table, explained (``ehcp case show``)."""
    mask = np.zeros(len(evaluation.cases), dtype=bool)
    mask[position] = True
    backlog = None
    if evaluation.open[position]:
        backlog = BacklogPosition(
            weeks_waiting=int(evaluation.weeks_waiting[position]), band=str(evaluation.band[position])
        )
    return CaseExplanation(
        case_ref=str(evaluation.cases["case_ref"].iloc[position]),
        as_of=evaluation.as_of,
        clocks=tuple(explain(evaluation, mask)),
        backlog=backlog,
    )
