"""Reading what a SEN2 return needs from the store, one chunk of people at a time.

The store's own readers hand back the flat caseload (latest review, no personal data); a return
needs more: the person's personal fields, the review that was the latest *on census day* and
every phase transfer. So this module reads the tables of :mod:`ehcp_workflow.db.models` directly
with SQLAlchemy Core selects (read-only; nothing here writes).

Order: people are sorted by the reference the SEN2 importer will give them back (UPN, else ULN,
else their position in the file, sen2-spec §2.1), cases within a person by ``case_ref``, both in
natural order ("C2" before "C10"). That is what makes export -> import -> export a fixed point: the
importer numbers people without an identifier and the requests of each person by position.
Memory: one small key tuple per person, plus one chunk of cases at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ehcp_workflow.db.models import (
    AnnualReview,
    CaseException,
    EhcpCase,
    Person,
    PhaseTransfer,
    Plan,
    Sen2CaseDetail,
    Sen2Need,
    Sen2Setting,
    table_of,
)
from ehcp_workflow.importers.sen2_details import CASE_COLUMNS as DETAIL_COLUMNS
from ehcp_workflow.importers.sen2_details import NEED_COLUMNS, SETTING_COLUMNS, Row

PERSON = table_of(Person)
CASE = table_of(EhcpCase)
PLAN = table_of(Plan)
REVIEW = table_of(AnnualReview)
TRANSFER = table_of(PhaseTransfer)
EXCEPTION = table_of(CaseException)
DETAIL = table_of(Sen2CaseDetail)
SETTING = table_of(Sen2Setting)
NEED = table_of(Sen2Need)

#: People per read (each read is a handful of selects with ``IN`` lists of this many ids).
CHUNK = 1000
#: Exception clocks the return's Week20 flag can stand for (sen2-spec §2.2 item 3.7).
WEEK20_CLOCKS = ("final_plan", "decision_not_to_issue")

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[Any, ...], str]:
    """Sort key putting ``C2`` before ``C10`` (ties broken by the plain text)."""
    parts = _DIGITS.split(text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), text


def clean(value: str | None) -> str | None:
    """Text with surrounding blanks removed; empty text is missing."""
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass(slots=True)
class StoredPerson:
    id: int
    person_ref: str
    upn: str | None = None
    uln: str | None = None
    upn_unknown: str | None = None
    surname: str | None = None
    forename: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    ethnicity: str | None = None
    postcode: str | None = None

    @property
    def identifier(self) -> str | None:
        """The reference the SEN2 importer gives this person: UPN, else ULN."""
        return self.upn or self.uln

    @property
    def label(self) -> str:
        """How problems name the person: UPN, else ULN, else the store's reference. Never a name."""
        return self.identifier or self.person_ref


@dataclass(slots=True)
class StoredReview:
    seq: int
    meeting: date | None
    decision: str | None
    decision_letter: date | None
    amendment_notice: date | None


@dataclass(slots=True)
class StoredTransfer:
    seq: int
    transfer_type: str | None
    transfer_date: date | None
    due_date: date | None
    final_date: date | None


@dataclass(slots=True)
class StoredCase:
    """One request (SEN2 ``Requests``) with its plan, every review and phase transfer."""

    case_id: int
    case_ref: str
    la: str | None = None
    request_received: date | None = None
    request_outcome: str | None = None
    request_outcome_date: date | None = None
    exported_to: str | None = None
    assessment_outcome: str | None = None
    assessment_outcome_date: date | None = None
    draft_plan_served: date | None = None
    plan_start: date | None = None
    plan_ceased: date | None = None
    cease_reason: str | None = None
    transfer_in_date: date | None = None
    transfer_in_from: str | None = None
    reviews: list[StoredReview] = field(default_factory=list)
    transfers: list[StoredTransfer] = field(default_factory=list)
    #: Clocks with a recorded exception (only :data:`WEEK20_CLOCKS` are read).
    exceptions: set[str] = field(default_factory=set)
    #: SEN2-only items (``sen2_case_detail`` column -> value), settings named in the plan,
    #: placements attended (by entry date) and types of need (by rank), as stored.
    detail: dict[str, str] = field(default_factory=dict)
    plan_settings: list[Row] = field(default_factory=list)
    placements: list[Row] = field(default_factory=list)
    needs: list[Row] = field(default_factory=list)


def la_filter(la: str) -> ColumnElement[bool]:
    """Cases of council ``la``; cases with no council recorded belong to every council's return."""
    return or_(CASE.c.la == la, CASE.c.la.is_(None))


def count_cases_without_la(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(CASE.c.la.is_(None))).scalar_one())


def councils(conn: Connection) -> list[str]:
    """The distinct councils (``la``) of the stored cases."""
    rows = conn.execute(select(CASE.c.la).where(CASE.c.la.is_not(None)).distinct())
    return sorted(str(r[0]) for r in rows)


def person_order(conn: Connection, la: str) -> list[int]:
    """Ids of the people with a case of ``la``, in return order (see the module docstring)."""
    stmt = select(PERSON.c.id, PERSON.c.person_ref, PERSON.c.upn, PERSON.c.uln).where(
        exists().where(and_(CASE.c.person_id == PERSON.c.id, la_filter(la)))
    )
    keyed: list[tuple[int, tuple[tuple[Any, ...], str], int]] = []
    for pid, ref, upn, uln in conn.execute(stmt):
        ident = clean(upn) or clean(uln)
        group = 0 if ident is not None else 1
        keyed.append((group, natural_key(ident if ident is not None else str(ref)), int(pid)))
    keyed.sort()
    return [pid for _, _, pid in keyed]


def iter_people(
    conn: Connection, la: str, order: Sequence[int], chunk: int | None = None
) -> Iterator[tuple[StoredPerson, list[StoredCase]]]:
    """Each person of ``order`` with their cases of ``la`` (in ``case_ref`` natural order)."""
    size = chunk or CHUNK
    for start in range(0, len(order), size):
        ids = list(order[start : start + size])
        people = _people(conn, ids)
        cases = _cases(conn, la, ids)
        for pid in ids:
            found = cases.get(pid, [])
            found.sort(key=lambda c: natural_key(c.case_ref))
            yield people[pid], found


def _people(conn: Connection, ids: list[int]) -> dict[int, StoredPerson]:
    p = PERSON.c
    stmt = select(
        p.id,
        p.person_ref,
        p.upn,
        p.uln,
        p.upn_unknown,
        p.surname,
        p.forename,
        p.birth_date,
        p.sex,
        p.ethnicity,
        p.postcode,
    ).where(p.id.in_(ids))
    out: dict[int, StoredPerson] = {}
    for r in conn.execute(stmt):
        out[int(r.id)] = StoredPerson(
            id=int(r.id),
            person_ref=str(r.person_ref),
            upn=clean(r.upn),
            uln=clean(r.uln),
            upn_unknown=clean(r.upn_unknown),
            # names and postcodes keep their inner spacing; only the ends are trimmed
            surname=clean(r.surname),
            forename=clean(r.forename),
            birth_date=r.birth_date,
            sex=clean(r.sex),
            ethnicity=clean(r.ethnicity),
            postcode=clean(r.postcode),
        )
    return out


def _cases(conn: Connection, la: str, ids: list[int]) -> dict[int, list[StoredCase]]:
    c, pl = CASE.c, PLAN.c
    scope = and_(c.person_id.in_(ids), la_filter(la))
    stmt = (
        select(
            c.id,
            c.person_id,
            c.case_ref,
            c.la,
            c.request_received,
            c.request_outcome,
            c.request_outcome_date,
            c.exported_to,
            c.assessment_outcome,
            c.assessment_outcome_date,
            c.draft_plan_served,
            pl.start_date,
            pl.ceased_date,
            pl.cease_reason,
            pl.transfer_in_date,
            pl.transfer_in_from,
        )
        .select_from(CASE.outerjoin(PLAN, PLAN.c.case_id == CASE.c.id))
        .where(scope)
    )
    by_id: dict[int, StoredCase] = {}
    by_person: dict[int, list[StoredCase]] = {}
    for r in conn.execute(stmt):
        case = StoredCase(
            case_id=int(r.id),
            case_ref=str(r.case_ref),
            la=clean(r.la),
            request_received=r.request_received,
            request_outcome=clean(r.request_outcome),
            request_outcome_date=r.request_outcome_date,
            exported_to=clean(r.exported_to),
            assessment_outcome=clean(r.assessment_outcome),
            assessment_outcome_date=r.assessment_outcome_date,
            draft_plan_served=r.draft_plan_served,
            plan_start=r.start_date,
            plan_ceased=r.ceased_date,
            cease_reason=clean(r.cease_reason),
            transfer_in_date=r.transfer_in_date,
            transfer_in_from=clean(r.transfer_in_from),
        )
        by_id[case.case_id] = case
        by_person.setdefault(int(r.person_id), []).append(case)
    if not by_id:
        return by_person
    joined = CASE.c.id
    rv = REVIEW.c
    reviews = (
        select(rv.case_id, rv.seq, rv.meeting, rv.decision, rv.decision_letter, rv.amendment_notice)
        .select_from(REVIEW.join(CASE, rv.case_id == joined))
        .where(scope)
        .order_by(rv.case_id, rv.seq)
    )
    for rv_row in conn.execute(reviews):
        by_id[int(rv_row.case_id)].reviews.append(
            StoredReview(
                int(rv_row.seq),
                rv_row.meeting,
                clean(rv_row.decision),
                rv_row.decision_letter,
                rv_row.amendment_notice,
            )
        )
    tr = TRANSFER.c
    transfers = (
        select(tr.case_id, tr.seq, tr.transfer_type, tr.transfer_date, tr.due_date, tr.final_date)
        .select_from(TRANSFER.join(CASE, tr.case_id == joined))
        .where(scope)
        .order_by(tr.case_id, tr.seq)
    )
    for tr_row in conn.execute(transfers):
        by_id[int(tr_row.case_id)].transfers.append(
            StoredTransfer(
                int(tr_row.seq),
                clean(tr_row.transfer_type),
                tr_row.transfer_date,
                tr_row.due_date,
                tr_row.final_date,
            )
        )
    ex = EXCEPTION.c
    exceptions = (
        select(ex.case_id, ex.clock)
        .select_from(EXCEPTION.join(CASE, ex.case_id == joined))
        .where(and_(scope, ex.clock.in_(WEEK20_CLOCKS)))
    )
    for ex_row in conn.execute(exceptions):
        by_id[int(ex_row.case_id)].exceptions.add(str(ex_row.clock))
    _sen2_details(conn, scope, by_id)
    return by_person


def _sen2_details(conn: Connection, scope: ColumnElement[bool], by_id: dict[int, StoredCase]) -> None:
    """The SEN2-only items of the cases in ``scope`` (see :mod:`ehcp_workflow.db.sen2_details`)."""
    joined = CASE.c.id
    stmt = select(DETAIL).select_from(DETAIL.join(CASE, DETAIL.c.case_id == joined)).where(scope)
    for r in conn.execute(stmt):
        values = {c: clean(r._mapping[c]) for c in DETAIL_COLUMNS}
        by_id[int(r.case_id)].detail = {c: v for c, v in values.items() if v is not None}
    stmt = (
        select(SETTING)
        .select_from(SETTING.join(CASE, SETTING.c.case_id == joined))
        .where(scope)
        .order_by(SETTING.c.case_id, SETTING.c.kind, SETTING.c.seq)
    )
    for r in conn.execute(stmt):
        row: Row = {c: r._mapping[c] for c in SETTING_COLUMNS}
        row = {c: clean(v) if isinstance(v, str) else v for c, v in row.items()}
        case = by_id[int(r.case_id)]
        (case.plan_settings if r.kind == "plan" else case.placements).append(row)
    stmt = (
        select(NEED)
        .select_from(NEED.join(CASE, NEED.c.case_id == joined))
        .where(scope)
        .order_by(NEED.c.case_id, NEED.c.seq)
    )
    for r in conn.execute(stmt):
        by_id[int(r.case_id)].needs.append({c: clean(r._mapping[c]) for c in NEED_COLUMNS})
