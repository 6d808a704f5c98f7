"""What ``ehcp case record`` refuses before it writes: dates that cannot be an event's.

An event is recorded once it has happened (a future date would count as done on a replay of an
earlier night), and inside the plausible window imports enforce too. Each refusal exits 2 with a
message naming the event, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ehcp_workflow.cli.store import fail

if TYPE_CHECKING:
    from ehcp_workflow.cli.events import CaseEvent, Change


def refuse_implausible(case_ref: str, event: CaseEvent, day: dt.date, now: dt.date) -> None:
    """A date outside the plausible window (``EHCP_EARLIEST_DATE``, ``EHCP_LATEST_YEARS_AHEAD``) is
    a typo or a placeholder (0001-01-01); stored, it once failed the nightly for every case."""
    from ehcp_workflow.importers.values import date_window

    problem = date_window(now).problem(day)
    if problem is not None:
        fail(f"[bold red]Refused:[/] DATE of {event.value}: {problem}. Nothing was recorded on {case_ref}.")


def refuse_future(case_ref: str, event: CaseEvent, change: Change, day: dt.date, now: dt.date) -> None:
    """An event is recorded once it has happened: only planned dates (a phase transfer, a move) may
    lie ahead. A future date would count as done on a replay of a night before it happened."""
    from ehcp_workflow.core.caseload import PLANNED_DATE_COLUMNS

    dated = [n for n, v in change.values.items() if isinstance(v, dt.date) and n not in PLANNED_DATE_COLUMNS]
    if day > now and (dated or change.advice_provider):
        fail(
            f"[bold red]Refused:[/] {event.value} is dated {day.isoformat()}, after today "
            f"({now.isoformat()}). Events are recorded once they have happened; only planned dates "
            f"(a phase transfer, a move out of the area) may lie ahead. Nothing was recorded on {case_ref}."
        )
