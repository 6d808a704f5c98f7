"""Clock statuses and the output contract shared by both evaluators."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"  # running, due date more than the due-soon window away
    DUE_SOON = "due_soon"  # running, due within the window (``due_today`` when as_of is the due date)
    OVERDUE = "overdue"  # running and past its due date: a breach in progress
    MET = "met"  # ended on or before its due date (a window: closed)
    LATE = "late"  # ended after its due date: a breach
    EXCEPTED = "excepted"  # an exception ground disapplies the limit; the due date is unchanged
    NOT_APPLICABLE = "not_applicable"  # the clock does not apply to this case (reason given)
    INVALID = "invalid"  # the clock cannot be evaluated from the data (reason given): itself an alert
    #: a window owed to the family was closed early by the council (a final plan issued inside the
    #: reg 13(1) representation period): a breach, never silently ``met``
    CUT_SHORT = "cut_short"


#: Integer codes used by the vectorised evaluator (order matters only for stability of outputs).
STATUS_ORDER: tuple[Status, ...] = tuple(Status)
STATUS_CODE: dict[Status, int] = {s: i for i, s in enumerate(STATUS_ORDER)}

#: Statuses of a running clock (no end event yet).
OPEN_STATUSES = frozenset({Status.PENDING, Status.DUE_SOON, Status.OVERDUE})
#: Statuses that are a breach of the limit.
BREACH_STATUSES = frozenset({Status.OVERDUE, Status.LATE, Status.CUT_SHORT})

#: How each status is shown in a terminal table (rich styles).
STATUS_STYLE: dict[str, str] = {
    "overdue": "bold red",
    "late": "red",
    "invalid": "bold magenta",
    "cut_short": "bold red",
    "due_soon": "yellow",
    "excepted": "cyan",
    "met": "green",
    "pending": "",
    "not_applicable": "dim",
}

#: Columns of one evaluated clock, in output order (``ehcp clocks``, exports).
RESULT_COLUMNS: tuple[str, ...] = (
    "person_ref",
    "case_ref",
    "request_received",
    "plan_start",
    "clock",
    "instance",
    "start_date",
    "due_date",
    "computed_due_date",
    "end_date",
    "status",
    "days_overdue",
    "exception",
    "weeks_waiting",
    "band",
    "regulation",
    "reason",
)
