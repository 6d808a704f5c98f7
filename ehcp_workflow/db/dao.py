"""Named data-access functions for single cases (GOV.UK Notify's ``dao`` style).

Callers (the CLI, the web views, the nightly flow) never write SQL: they call a function named for
what they mean. Arguments after the case are keyword-only so a call reads like a sentence
(``record_event(s, "C1", "plan_start", d, actor=..., source=..., reason=...)``). Write functions
are one unit of work each: they take the store's write lock, validate, write the change and its
event rows, and commit; on any error they roll back and the store is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import ADVICE_PROVIDERS, EXCEPTION_GROUNDS, exception_column
from ehcp_workflow.db.engine import write_connection
from ehcp_workflow.db.events import CaseNotFound, Event, case_events
from ehcp_workflow.db.fields import (
    ADVICE_COLUMN_KINDS,
    CASELOAD_FIELDS,
    EPISODE_KEYS,
    EXTRA_FIELDS,
    FIELDS,
    START_END,
    FieldValue,
    Kind,
    check_value,
    parse_advice_field,
)
from ehcp_workflow.db.people import write_people
from ehcp_workflow.db.read import read_advice, read_cases
from ehcp_workflow.db.records import AdviceRecord, CaseRecord, records_from_frames
from ehcp_workflow.db.types import utcnow
from ehcp_workflow.db.write import (
    Changes,
    WriteContext,
    apply_cases,
    write_events,
)
from ehcp_workflow.db.write_advice import apply_advice
from ehcp_workflow.problems import InputError, Problem

__all__ = [
    "CaseNotFound",
    "assign_case",
    "get_case",
    "list_cases",
    "record_event",
    "request_advice",
    "upsert_people",
]

_T = TypeVar("_T")
_KINDS: dict[str, Kind] = {name: spec.kind for name, spec in FIELDS.items()}


def _records(conn: Connection, **filters: Any) -> list[CaseRecord]:
    cases = read_cases(conn, with_extras=True, **filters)
    if not len(cases):
        return []
    advice = read_advice(conn, case_refs=cases["case_ref"].tolist(), with_ids=True)
    return records_from_frames(cases, advice, _KINDS)


def get_case(session: Session, case_ref: str) -> CaseRecord:
    """The current values of one case (raises :class:`CaseNotFound`). No personal data."""
    records = _records(session.connection(), case_refs=[case_ref])
    if not records:
        raise CaseNotFound(case_ref)
    return records[0]


def list_cases(
    session: Session, *, caseworker: str | None = None, team: str | None = None, la: str | None = None
) -> list[CaseRecord]:
    """Cases matching every filter given, ordered by ``case_ref``."""
    return _records(session.connection(), caseworker=caseworker, team=team, la=la)


def _unit_of_work(session: Session, work: Callable[[Connection], _T]) -> _T:
    """Run ``work`` under the write lock and commit, or roll back everything it did."""
    try:
        result = work(write_connection(session))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _problem(source: str, case_ref: str, field: str, message: str) -> InputError:
    return InputError([Problem(source, "", case_ref, field, message, rule="store")])


def _set(frame: pd.DataFrame, name: str, value: FieldValue) -> None:
    row = frame.index[0]
    if frame[name].dtype.kind == "M":
        frame.loc[row, name] = pd.NaT if value is None else pd.Timestamp(value)
    else:
        frame.loc[row, name] = pd.NA if value is None else value


def _check_order(frame: pd.DataFrame, names: Sequence[str], source: str, case_ref: str) -> None:
    """Refuse an end date before its start (only for pairs touching a field being changed)."""
    for start, end in START_END:
        if start not in names and end not in names:
            continue
        if start not in frame.columns or end not in frame.columns:
            continue
        s, e = frame[start].iat[0], frame[end].iat[0]
        if pd.notna(s) and pd.notna(e) and e < s:
            changed = end if end in names else start
            raise _problem(source, case_ref, changed, f"{end} ({e.date()}) is before {start} ({s.date()})")


def _change_case(conn: Connection, case_ref: str, values: Mapping[str, FieldValue], ctx: WriteContext) -> int:
    stored = read_cases(conn, case_refs=[case_ref], with_ids=True, with_extras=True)
    if not len(stored):
        raise CaseNotFound(case_ref)
    new = stored.copy()
    for name, value in values.items():
        spec = FIELDS.get(name)
        if spec is None:
            raise _problem(ctx.source, case_ref, name, "not a case field (case_ref cannot change)")
        message = check_value(spec.kind, spec.codes, value)
        if message:
            raise _problem(ctx.source, case_ref, name, message)
        episode_key = EPISODE_KEYS.get(spec.table)
        if name == episode_key and value is not None:
            current = new[name].iat[0]
            if pd.notna(current) and pd.Timestamp(value) > current:
                # A later review meeting (or transfer date) is a new review: its other dates start empty.
                for other in (s.name for s in FIELDS.values() if s.table == spec.table and s.name != name):
                    _set(new, other, None)
        if spec.clock is not None:
            details = [f for f in EXTRA_FIELDS if FIELDS[f].clock == spec.clock]
            if spec.in_caseload and value is None:
                for detail in details:
                    _set(new, detail, None)
            elif (
                not spec.in_caseload
                and value is not None
                and pd.isna(new[exception_column(spec.clock)].iat[0])
            ):
                raise _problem(
                    ctx.source,
                    case_ref,
                    name,
                    f"record the exception ground ({exception_column(spec.clock)}) first",
                )
        _set(new, name, value)
    _check_order(new, list(values), ctx.source, case_ref)
    changes = apply_cases(conn, stored, new, ctx, compare=CASELOAD_FIELDS + EXTRA_FIELDS)
    write_events(conn, changes.events)
    return changes.event_count


def _change_advice(
    conn: Connection,
    case_ref: str,
    edit: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
    ctx: WriteContext,
) -> int:
    stored = read_cases(conn, case_refs=[case_ref], with_ids=True)
    if not len(stored):
        raise CaseNotFound(case_ref)
    stored_advice = read_advice(conn, case_refs=[case_ref], with_ids=True)
    incoming = edit(
        stored, stored_advice[["case_ref", "provider", "seq", "requested", "received", "exception"]].copy()
    )
    changes = Changes()
    apply_advice(conn, stored_advice, incoming, {case_ref: int(stored["case_id"].iat[0])}, ctx, changes)
    write_events(conn, changes.events)
    return changes.event_count


def _latest(session: Session, case_ref: str, count: int) -> list[Event]:
    return case_events(session, case_ref)[-count:] if count else []


def record_event(
    session: Session, case_ref: str, field: str, value: FieldValue, *, actor: str, source: str, reason: str
) -> list[Event]:
    """Set one field of a case to ``value`` (None clears it); return the events written.

    ``field`` is a caseload column (``plan_start``, ``review_outcome``, ``exception_final_plan``), an
    exception detail (``exception_final_plan_start`` / ``_end`` / ``_evidence``, once the ground is
    recorded) or an advice column (``advice.paediatrics.1.received``). The value is checked against
    the field's kind and codes, and an end date before its start is refused
    (:class:`~ehcp_workflow.problems.InputError`). Setting ``review_meeting`` (or
    ``phase_transfer_date``) later than the current one starts a new review (transfer). Setting a
    value it already has writes nothing and returns no events.
    """
    ctx = WriteContext(actor=actor, source=source, reason=reason, now=utcnow())
    parsed = parse_advice_field(field)
    if parsed is None:
        count = _unit_of_work(session, lambda conn: _change_case(conn, case_ref, {field: value}, ctx))
        return _latest(session, case_ref, count)
    provider, seq, column = parsed
    if column is None:
        raise _problem(source, case_ref, field, "name a column: requested, received or exception")
    codes = EXCEPTION_GROUNDS if column == "exception" else None
    message = check_value(ADVICE_COLUMN_KINDS[column], codes, value)
    if message:
        raise _problem(source, case_ref, field, message)

    def edit(_case: pd.DataFrame, advice: pd.DataFrame) -> pd.DataFrame:
        match = (advice["provider"] == provider).to_numpy(dtype=bool, na_value=False) & (
            advice["seq"] == seq
        ).to_numpy(dtype=bool, na_value=False)
        if not match.any():
            raise _problem(source, case_ref, field, f"no request {seq} for {provider} advice in this case")
        row = advice.index[np.flatnonzero(match)[0]]
        advice.loc[row, column] = (
            (pd.NaT if column != "exception" else pd.NA)
            if value is None
            else (pd.Timestamp(value) if isinstance(value, date) else value)
        )
        requested, received = advice.at[row, "requested"], advice.at[row, "received"]
        if pd.notna(requested) and pd.notna(received) and received < requested:
            raise _problem(
                source,
                case_ref,
                field,
                f"received ({received.date()}) is before requested ({requested.date()})",
            )
        return advice

    count = _unit_of_work(session, lambda conn: _change_advice(conn, case_ref, edit, ctx))
    return _latest(session, case_ref, count)


def assign_case(
    session: Session,
    case_ref: str,
    *,
    caseworker: str | None,
    team: str | None,
    actor: str,
    source: str = "command:assign",
    reason: str = "",
) -> list[Event]:
    """Hand a case to ``caseworker`` in ``team`` (None for unassigned); keeps the assignment history."""
    ctx = WriteContext(actor=actor, source=source, reason=reason, now=utcnow())
    values = {"caseworker": caseworker, "team": team}
    count = _unit_of_work(session, lambda conn: _change_case(conn, case_ref, values, ctx))
    return _latest(session, case_ref, count)


def request_advice(
    session: Session,
    case_ref: str,
    *,
    provider: str,
    requested: date,
    actor: str,
    source: str,
    reason: str = "",
    exception: str | None = None,
) -> AdviceRecord:
    """Record a new request for advice (reg 8); returns it with its number (``seq``)."""
    for name, message in (
        (
            "provider",
            None
            if provider in ADVICE_PROVIDERS
            else f"{provider!r} is not one of {', '.join(ADVICE_PROVIDERS)}",
        ),
        (
            "requested",
            check_value(Kind.DATE, None, requested) or ("missing date" if requested is None else None),
        ),
        ("exception", check_value(Kind.CODE, EXCEPTION_GROUNDS, exception)),
    ):
        if message:
            raise _problem(source, case_ref, f"advice.{name}", message)
    ctx = WriteContext(actor=actor, source=source, reason=reason, now=utcnow())
    seq_box: list[int] = []

    def edit(_case: pd.DataFrame, advice: pd.DataFrame) -> pd.DataFrame:
        same = advice[(advice["provider"] == provider).to_numpy(dtype=bool, na_value=False)]
        seq = int(same["seq"].max()) + 1 if len(same) else 1
        seq_box.append(seq)
        row = pd.DataFrame(
            {
                "case_ref": pd.array([case_ref], dtype="string"),
                "provider": pd.array([provider], dtype="string"),
                "seq": pd.array([seq], dtype="Int64"),
                "requested": np.array([np.datetime64(requested, "s")]),
                "received": np.array([np.datetime64("NaT", "s")]),
                "exception": pd.array([exception], dtype="string"),
            }
        )
        return pd.concat([advice, row], ignore_index=True) if len(advice) else row

    _unit_of_work(session, lambda conn: _change_advice(conn, case_ref, edit, ctx))
    return AdviceRecord(provider=provider, seq=seq_box[0], requested=requested, exception=exception)


def upsert_people(session: Session, people: pd.DataFrame, *, actor: str) -> int:
    """Store the personal details SEN2 needs, keyed by ``person_ref``, in a transaction of their own.

    Only for callers that have no import to join: an import writes people in its own transaction
    (``upsert_caseload(..., people=...)``), with each change recorded. Returns the rows written.
    """
    del actor  # kept in the signature so every write function names who did it

    def work(conn: Connection) -> int:
        changes = write_people(conn, people)
        return changes.created + changes.updated

    return _unit_of_work(session, work)
