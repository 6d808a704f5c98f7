"""Reading the append-only event log: a case's history, and its state rebuilt from that history.

Every write to a case goes through :mod:`ehcp_workflow.db.write`, which logs one row per created or
changed value; so replaying a case's rows in order must give exactly what the tables hold.
:func:`replay_case_state` does that replay, and the tests compare it with
:func:`~ehcp_workflow.db.dao.get_case`: a check that no code path changes a date without saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ehcp_workflow.db.fields import FIELDS, FieldValue, from_text, kind_of, parse_advice_field
from ehcp_workflow.db.models import EventLog, table_of
from ehcp_workflow.db.read import CASE
from ehcp_workflow.db.records import AdviceRecord, CaseRecord

#: The event log (the writer's own ``write.EVENT``; taken from the models, so that reading a case's
#: history, as ``ehcp case show`` does, does not load the writer).
EVENT = table_of(EventLog)


class CaseNotFound(LookupError):
    """No case with this reference is stored."""

    def __init__(self, case_ref: str) -> None:
        super().__init__(f"no case {case_ref!r} in the store")
        self.case_ref = case_ref


@dataclass(frozen=True)
class Event:
    """One event-log row. ``recorded_at`` is an aware UTC datetime on both backends."""

    id: int
    case_ref: str
    field: str
    old_value: str | None
    new_value: str | None
    actor: str
    source: str
    reason: str
    recorded_at: datetime


def case_events(session: Session, case_ref: str) -> list[Event]:
    """Every event of ``case_ref``, oldest first (empty if the case has none or does not exist)."""
    stmt = (
        select(EVENT, CASE.c.case_ref)
        .join(CASE, CASE.c.id == EVENT.c.case_id)
        .where(CASE.c.case_ref == case_ref)
        .order_by(EVENT.c.id)
    )
    return [
        Event(
            id=row.id,
            case_ref=row.case_ref,
            field=row.field,
            old_value=row.old_value,
            new_value=row.new_value,
            actor=row.actor,
            source=row.source,
            reason=row.reason,
            recorded_at=row.recorded_at,
        )
        for row in session.execute(stmt)
    ]


def replay_case_state(session: Session, case_ref: str) -> CaseRecord:
    """The state of ``case_ref`` rebuilt from its events alone (raises :class:`CaseNotFound`)."""
    events = case_events(session, case_ref)
    if not events:
        raise CaseNotFound(case_ref)
    fields: dict[str, FieldValue] = dict.fromkeys(FIELDS)
    advice: dict[tuple[str, int], dict[str, FieldValue]] = {}
    for event in events:
        value = from_text(kind_of(event.field), event.new_value)
        parsed = parse_advice_field(event.field)
        if parsed is None:
            if event.field in fields:
                fields[event.field] = value
            continue
        provider, seq, column = parsed
        if column is None:  # the request itself was made (value) or withdrawn (None)
            if value is None:
                advice.pop((provider, seq), None)
            else:
                advice[(provider, seq)] = {}
        else:
            advice.setdefault((provider, seq), {})[column] = value
    records = tuple(
        sorted(
            AdviceRecord(
                provider=provider,
                seq=seq,
                requested=_date_or_none(values.get("requested")),
                received=_date_or_none(values.get("received")),
                exception=_str_or_none(values.get("exception")),
            )
            for (provider, seq), values in advice.items()
        )
    )
    return CaseRecord(case_ref=case_ref, fields=fields, advice=records)


def _date_or_none(value: FieldValue) -> date | None:
    return value if isinstance(value, date) else None


def _str_or_none(value: FieldValue) -> str | None:
    return value if isinstance(value, str) else None
