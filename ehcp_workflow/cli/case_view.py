"""How ``ehcp case show`` and ``ehcp case record`` print one case: header, clocks, the reasons behind
each date, the event log, and which clocks a recorded event changed.

Kept apart from the commands (:mod:`ehcp_workflow.cli.cases`) so that each holds one thing: the
commands decide what to read and write, this module only renders an explanation the per-case
evaluator already made. Every value that came from a file goes through ``printable`` first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ehcp_workflow.cli.common import out
from ehcp_workflow.core.statuses import STATUS_STYLE, Status

if TYPE_CHECKING:
    from ehcp_workflow.core.caseload import Caseload
    from ehcp_workflow.core.explain import CaseExplanation, ClockExplanation
    from ehcp_workflow.db import Event

#: What an empty value prints as.
MISSING = "—"


def date_cell(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def print_header(caseload: Caseload, ev: CaseExplanation) -> None:
    from ehcp_workflow.core.caseload import records

    case = records(caseload.cases)[0]

    from ehcp_workflow.output import printable

    def v(name: str) -> str:  # values came from files: never let one drive the terminal
        value = case.get(name)
        return MISSING if value is None else printable(str(value))

    out.rule(Text(f"Case {printable(ev.case_ref)} at {ev.as_of.isoformat()}"))
    out.print(
        Text(
            f"person {v('person_ref')} · LA {v('la')} · team {v('team')} · caseworker {v('caseworker')}"
            f" · source {caseload.source or MISSING}"
        )
    )
    out.print(
        Text(
            f"request received {v('request_received')} · request outcome {v('request_outcome')}"
            f" {v('request_outcome_date')} · assessment outcome {v('assessment_outcome')}"
            f" {v('assessment_outcome_date')} · plan start {v('plan_start')}"
        )
    )
    if ev.backlog is not None:
        out.print(
            Text.assemble(
                "Backlog: open request, waiting ",
                (f"{ev.backlog.weeks_waiting} weeks", "bold"),
                " (band ",
                (ev.backlog.band, "bold"),
                ").",
            )
        )
    else:
        out.print("Backlog: not an open request at this date (decided, withdrawn, or not yet received).")


def print_clocks(ev: CaseExplanation) -> None:
    from ehcp_workflow.output import short_regulation

    table = Table(title="Clocks", header_style="bold", title_justify="left")
    for name in ("clock", "instance", "start", "due", "end", "status", "days overdue", "exception"):
        table.add_column(name)
    table.add_column("regulation", overflow="fold")
    for r in ev.clocks:
        overdue = ev.days_overdue(r)
        table.add_row(
            Text(r.clock),
            Text(r.instance),
            date_cell(r.start_date),
            date_cell(r.due_date),
            date_cell(r.end_date),
            Text(r.status.value, style=STATUS_STYLE.get(r.status.value, "")),
            "" if overdue is None else str(overdue),
            Text(r.exception or ""),
            Text(short_regulation(r.regulation)),
        )
    out.print(table)


def clock_label(r: ClockExplanation) -> str:
    return f"{r.clock} ({r.instance})" if r.instance else r.clock


def print_explanations(ev: CaseExplanation) -> None:
    out.print(Text("Why each date is what it is", style="bold"))
    idle = [r for r in ev.clocks if r.status is Status.NOT_APPLICABLE]
    for r in ev.clocks:
        if r.status is Status.NOT_APPLICABLE:
            continue
        out.print(
            Text.assemble(
                "  ", (clock_label(r), "bold"), ": ", (r.status.value, STATUS_STYLE.get(r.status.value, ""))
            )
        )
        for line in r.explanation:
            out.print(Text(f"      {line}"))
    if idle:
        out.print(Text("  Not applicable:", style="bold"))
        for r in idle:
            reason = r.reason.removeprefix("Not applicable: ")
            out.print(Text(f"      {clock_label(r)}: {reason}", style="dim"))


def print_events(events: Sequence[Event], title: str = "Event log") -> None:
    from ehcp_workflow.output import printable as p

    table = Table(title=title, header_style="bold", title_justify="left")
    for name in ("recorded (UTC)", "field", "change", "actor", "source"):
        table.add_column(name)
    table.add_column("reason", overflow="fold")
    for e in events:
        table.add_row(
            e.recorded_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            Text(p(e.field)),
            Text(p(f"{e.old_value if e.old_value is not None else MISSING} → {e.new_value or MISSING}")),
            Text(p(e.actor)),
            Text(p(e.source)),
            Text(p(e.reason)),
        )
    out.print(table)


def clock_keys(ev: CaseExplanation) -> dict[tuple[str, str, int], ClockExplanation]:
    keyed: dict[tuple[str, str, int], ClockExplanation] = {}
    for r in ev.clocks:
        n = 0
        while (r.clock, r.instance, n) in keyed:
            n += 1
        keyed[(r.clock, r.instance, n)] = r
    return keyed


def print_clock_changes(before: CaseExplanation, after: CaseExplanation) -> None:
    old, new = clock_keys(before), clock_keys(after)

    def state(r: ClockExplanation | None) -> Text:
        if r is None:
            return Text(MISSING)
        due = f" (due {r.due_date.isoformat()})" if r.due_date else ""
        return Text(r.status.value + due, style=STATUS_STYLE.get(r.status.value, ""))

    def same(a: ClockExplanation | None, b: ClockExplanation | None) -> bool:
        if a is None or b is None:
            return a is b
        if a.status is Status.NOT_APPLICABLE and b.status is Status.NOT_APPLICABLE:
            return True  # only the reason it does not apply moved
        fields = ("status", "due_date", "end_date", "exception")
        return all(getattr(a, f) == getattr(b, f) for f in fields)

    changed = [k for k in [*old, *(k for k in new if k not in old)] if not same(old.get(k), new.get(k))]
    if not changed:
        out.print(Text(f"No clock changed at {after.as_of.isoformat()}."))
        return
    table = Table(
        title=f"Clocks that changed at {after.as_of.isoformat()}", header_style="bold", title_justify="left"
    )
    for name in ("clock", "instance", "before", "after"):
        table.add_column(name)
    table.add_column("why", overflow="fold")
    for key in changed:
        r = new.get(key)
        table.add_row(Text(key[0]), Text(key[1]), state(old.get(key)), state(r), Text(r.reason if r else ""))
    out.print(table)
    if before.backlog != after.backlog:
        was = f"{before.backlog.band}, {before.backlog.weeks_waiting} weeks" if before.backlog else "not open"
        now = f"{after.backlog.band}, {after.backlog.weeks_waiting} weeks" if after.backlog else "not open"
        out.print(Text(f"Backlog: {was} → {now}."))


__all__ = [
    "MISSING",
    "clock_keys",
    "clock_label",
    "date_cell",
    "print_clock_changes",
    "print_clocks",
    "print_events",
    "print_explanations",
    "print_header",
]
