"""Reading the store back as a :class:`~ehcp_workflow.core.caseload.Caseload`.

The nightly pass reads every open case, so this path never builds ORM objects (200k of them take
~3 s against ~0.4 s for a column select into pandas, engineering-notes §4.1): one Core ``select()``
joins each case to its plan, its *latest* review and phase transfer and one exception row per
clock (the snapshot columns), a second reads every review cycle (the history the review clocks run
over), a third every advice request; ``pd.read_sql`` turns the rows straight into the contract's
dtypes.

Dates are selected as whole days since 1970-01-01 (an integer on both backends) and become
``datetime64[s]`` with one vectorised numpy cast; this avoids building a Python ``date`` object per
cell, which was most of the cost of a plain read (see ``bench/store.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    and_,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from ehcp_workflow.core.caseload import (
    ADVICE_COLUMNS,
    CASE_COLUMNS,
    DATE_DTYPE,
    EXCEPTION_CLOCKS,
    EXCEPTION_START_COLUMNS,
    REVIEW_COLUMNS,
    Caseload,
    normalise_advice,
    normalise_cases,
    normalise_reviews,
)
from ehcp_workflow.db.bulk import fetch_columns
from ehcp_workflow.db.fields import CASELOAD_FIELDS, EXTRA_FIELDS, FIELDS, Kind
from ehcp_workflow.db.models import (
    AdviceRequest,
    AnnualReview,
    CaseException,
    EhcpCase,
    ImportBatch,
    Person,
    PhaseTransfer,
    Plan,
    table_of,
)

#: ``IN (...)`` lists are split into chunks of this many references (SQLite allows 32766
#: parameters per statement, psycopg 65535).
IN_CHUNK = 5000

#: Rows fetched and converted per batch by the readers (bounds the Python objects alive at once).
READ_ROWS = 50_000

#: Internal key columns the writer needs alongside the caseload columns.
ID_COLUMNS: tuple[str, ...] = (
    "case_id",
    "person_id",
    "plan_id",
    "review_id",
    "review_seq",
    "transfer_id",
    "transfer_seq",
    "last_import_id",
)

CASE = table_of(EhcpCase)
PERSON = table_of(Person)
PLAN = table_of(Plan)
REVIEW = table_of(AnnualReview)
TRANSFER = table_of(PhaseTransfer)
EXCEPTION = table_of(CaseException)
ADVICE = table_of(AdviceRequest)
IMPORT = table_of(ImportBatch)


def _epoch_days(column: Any, dialect: str) -> ColumnElement[Any]:
    """A DATE column as whole days since 1970-01-01 (NULL stays NULL)."""
    if dialect == "sqlite":
        return cast(func.julianday(column) - 2440587.5, Integer)
    return column - literal("1970-01-01").cast(column.type)  # type: ignore[no-any-return]


def case_select(dialect: str, *, with_ids: bool = False, with_extras: bool = False) -> Select[Any]:
    """The flat case rows: one per case, latest review and phase transfer, one column per field."""
    # the latest review is the latest by date (an import of history adds older cycles after newer
    # ones), the last recorded where dates tie
    latest_review = (
        select(REVIEW.c.seq)
        .where(REVIEW.c.case_id == CASE.c.id)
        .order_by(review_date_key(REVIEW).desc().nulls_last(), REVIEW.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    latest_transfer = (
        select(func.max(TRANSFER.c.seq)).where(TRANSFER.c.case_id == CASE.c.id).scalar_subquery()
    )
    review = REVIEW.alias("r")
    transfer = TRANSFER.alias("pt")
    exceptions = {clock: EXCEPTION.alias(f"x_{clock}") for clock in EXCEPTION_CLOCKS}
    sources: dict[str, Any] = {
        "ehcp_case": CASE,
        "person": PERSON,
        "plan": PLAN,
        "annual_review": review,
        "phase_transfer": transfer,
    }
    joined = (
        CASE.outerjoin(PERSON, PERSON.c.id == CASE.c.person_id)
        .outerjoin(PLAN, PLAN.c.case_id == CASE.c.id)
        .outerjoin(review, and_(review.c.case_id == CASE.c.id, review.c.seq == latest_review))
        .outerjoin(transfer, and_(transfer.c.case_id == CASE.c.id, transfer.c.seq == latest_transfer))
    )
    for clock, alias in exceptions.items():
        joined = joined.outerjoin(alias, and_(alias.c.case_id == CASE.c.id, alias.c.clock == clock))

    columns: list[Any] = [CASE.c.case_ref]
    names = CASELOAD_FIELDS + (EXTRA_FIELDS if with_extras else ())
    for name in names:
        spec = FIELDS[name]
        table = exceptions[spec.clock] if spec.clock is not None else sources[spec.table]
        column = table.c[spec.column]
        if name == "person_ref":  # a SEN2 child is known by pseudonym outside the person table
            column = func.coalesce(PERSON.c.pseudonym, PERSON.c.person_ref)
        if spec.kind is Kind.DATE:
            column = _epoch_days(column, dialect)
        columns.append(column.label(name))
    if with_ids:
        columns += [
            CASE.c.id.label("case_id"),
            CASE.c.person_id.label("person_id"),
            PLAN.c.id.label("plan_id"),
            review.c.id.label("review_id"),
            review.c.seq.label("review_seq"),
            transfer.c.id.label("transfer_id"),
            transfer.c.seq.label("transfer_seq"),
            CASE.c.last_import_id.label("last_import_id"),
        ]
    return select(*columns).select_from(joined).order_by(CASE.c.case_ref)


def advice_select(dialect: str, *, with_ids: bool = False) -> Select[Any]:
    """The advice rows, one per request for advice, in (case, provider, seq) order."""
    columns: list[Any] = [
        CASE.c.case_ref,
        ADVICE.c.provider,
        _epoch_days(ADVICE.c.requested, dialect).label("requested"),
        _epoch_days(ADVICE.c.received, dialect).label("received"),
        ADVICE.c.exception_ground.label("exception"),
    ]
    if with_ids:
        columns += [ADVICE.c.id.label("advice_id"), ADVICE.c.seq, CASE.c.id.label("case_id")]
    return (
        select(*columns)
        .select_from(ADVICE.join(CASE, CASE.c.id == ADVICE.c.case_id))
        .order_by(CASE.c.case_ref, ADVICE.c.provider, ADVICE.c.seq)
    )


def review_date_key(table: Any) -> ColumnElement[Any]:
    """A review cycle's date: its meeting, else its first recorded step (how cycles are matched)."""
    return func.coalesce(
        table.c.meeting,
        table.c.decision_letter,
        table.c.report_sent,
        table.c.amendment_notice,
        table.c.amended_plan_issued,
    )


def review_select(dialect: str, *, with_ids: bool = False) -> Select[Any]:
    """Every review cycle, one row each, in (case, seq) order: the case's review history."""
    columns: list[Any] = [CASE.c.case_ref]
    if with_ids:
        columns += [REVIEW.c.id.label("review_id"), REVIEW.c.seq, CASE.c.id.label("case_id")]
    for name in REVIEW_COLUMNS[1:]:
        column: Any = REVIEW.c[FIELDS[name].column]
        if FIELDS[name].kind is Kind.DATE:
            column = _epoch_days(column, dialect)
        columns.append(column.label(name))
    return (
        select(*columns)
        .select_from(REVIEW.join(CASE, CASE.c.id == REVIEW.c.case_id))
        .order_by(CASE.c.case_ref, REVIEW.c.seq)
    )


def read_reviews(
    conn: Connection,
    *,
    case_refs: Sequence[str] | None = None,
    with_ids: bool = False,
    la: str | None = None,
) -> pd.DataFrame:
    """Every review cycle of the cases (all, or ``case_refs``; of council ``la`` only if given),
    in contract dtypes."""
    refs = None if case_refs is None else sorted(set(case_refs))
    stmt = review_select(conn.dialect.name, with_ids=with_ids)
    if la is not None:
        stmt = stmt.where(CASE.c.la == la)
    return _read(conn, stmt, refs, _kinds(REVIEW_COLUMNS[1:]))


#: The dates the engine can evaluate, as days since 1970-01-01: pandas' nanosecond timestamps end at
#: 1677-09-22 and 2262-04-11, and a due date is a start plus weeks or years, so the window keeps a
#: margin. A stored date outside it (0001-01-01 is a common "no date" placeholder of source
#: systems) is read as missing, never raised: one bad cell once failed the night for every case
#: (``OutOfBoundsDatetime``). The nightly finds such cells itself and reports them as invalid.
READABLE_FROM = dt.date(1700, 1, 1)
READABLE_TO = dt.date(2199, 12, 31)
_EPOCH = dt.date(1970, 1, 1)
_MIN_DAYS = float((READABLE_FROM - _EPOCH).days)
_MAX_DAYS = float((READABLE_TO - _EPOCH).days)


def days_to_datetime64(values: pd.Series) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    """Days since 1970-01-01 (float with NaN for NULL, or int) as ``datetime64[s]`` with NaT.

    A day outside :data:`READABLE_FROM` .. :data:`READABLE_TO` is NaT (see there).
    """
    days = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(len(days), np.datetime64("NaT"), dtype=DATE_DTYPE)
    present = ~np.isnan(days) & (days >= _MIN_DAYS) & (days <= _MAX_DAYS)
    out[present] = days[present].astype("int64").astype("datetime64[D]").astype(DATE_DTYPE)
    return out


def _coerce(df: pd.DataFrame, kinds: dict[str, Kind]) -> pd.DataFrame:
    """The store's working dtypes: datetime64[s] dates, nullable booleans, strings for text *and*
    codes (one representation to diff and write, whatever dtype the contract gives codes)."""
    out: dict[str, Any] = {}
    for col in df.columns:
        kind = kinds.get(col)
        if kind is Kind.DATE:
            out[col] = days_to_datetime64(df[col])
        elif kind is Kind.BOOL:
            out[col] = df[col].astype("boolean")
        elif kind is None:
            out[col] = df[col].astype("Int64")
        else:
            out[col] = df[col].astype("string")
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _chunks(refs: Sequence[str] | None) -> Iterator[Sequence[str] | None]:
    if refs is None:
        yield None
        return
    if not refs:
        yield refs  # an empty IN (): no rows, but the right columns
    for start in range(0, len(refs), IN_CHUNK):
        yield refs[start : start + IN_CHUNK]


def _read(
    conn: Connection, stmt: Select[Any], refs: Sequence[str] | None, kinds: dict[str, Kind]
) -> pd.DataFrame:
    """Run ``stmt`` (per chunk of ``refs``) and return the rows in working dtypes.

    Rows are fetched and converted ``READ_ROWS`` at a time, so at most that many rows exist as
    Python tuples at once (a million-case read would otherwise hold ~50M objects, several GB).
    """
    frames = []
    names = list(stmt.selected_columns.keys())
    for chunk in _chunks(refs):
        if chunk is None:
            # The whole store (the nightly): straight from the driver's cursor, a batch of rows
            # at a time turned into columns; pd.read_sql's SQLAlchemy rows and record conversion
            # cost ~1.5x the bare fetch of the same SELECT at 200k cases.
            for columns in fetch_columns(conn, stmt, READ_ROWS):
                # dates arrive as epoch days (int or NULL): straight into float64 (None -> NaN in
                # numpy's own loop), not through an object array and pd.to_numeric (~1 s at 200k)
                raw = {
                    n: np.array(c, dtype=np.float64 if kinds.get(n) is Kind.DATE else object)
                    for n, c in zip(names, columns, strict=True)
                }
                frames.append(_coerce(pd.DataFrame(raw), kinds))
            continue
        chunk_stmt = stmt.where(CASE.c.case_ref.in_(chunk))
        for frame in pd.read_sql(chunk_stmt, conn, chunksize=READ_ROWS):
            frames.append(_coerce(frame, kinds))
    nonempty = [f for f in frames if len(f)]
    if len(nonempty) == 1:
        return nonempty[0]
    if not nonempty:
        return _coerce(pd.DataFrame(columns=list(stmt.selected_columns.keys())), kinds)
    return pd.concat(nonempty, ignore_index=True)


def _kinds(names: Sequence[str]) -> dict[str, Kind]:
    kinds = {name: FIELDS[name].kind for name in names if name in FIELDS}
    kinds["case_ref"] = Kind.TEXT
    return kinds


def read_cases(
    conn: Connection,
    *,
    case_refs: Sequence[str] | None = None,
    caseworker: str | None = None,
    team: str | None = None,
    la: str | None = None,
    with_ids: bool = False,
    with_extras: bool = False,
) -> pd.DataFrame:
    """Flat case rows in contract dtypes, ordered by ``case_ref`` (see :func:`case_select`)."""
    stmt = case_select(conn.dialect.name, with_ids=with_ids, with_extras=with_extras)
    for column, value in (("caseworker", caseworker), ("team", team), ("la", la)):
        if value is not None:
            stmt = stmt.where(CASE.c[column] == value)
    refs = None if case_refs is None else sorted(set(case_refs))
    names = (*CASELOAD_FIELDS, *(EXTRA_FIELDS if with_extras else ()))
    return _read(conn, stmt, refs, _kinds(names))


def read_advice(
    conn: Connection,
    *,
    case_refs: Sequence[str] | None = None,
    with_ids: bool = False,
    la: str | None = None,
) -> pd.DataFrame:
    """Advice rows in contract dtypes, ordered by case, provider and request number (of council
    ``la``'s cases only, if given)."""
    refs = None if case_refs is None else sorted(set(case_refs))
    kinds = {"case_ref": Kind.TEXT, "provider": Kind.TEXT, "exception": Kind.CODE}
    kinds |= {"requested": Kind.DATE, "received": Kind.DATE}
    stmt = advice_select(conn.dialect.name, with_ids=with_ids)
    if la is not None:
        stmt = stmt.where(CASE.c.la == la)
    return _read(conn, stmt, refs, kinds)


def _provenance(conn: Connection, import_ids: pd.Series) -> tuple[str, dict[str, Any]]:
    """``source`` and, per case, the columns its last import does not record.

    Per case, never store-wide: a two-column file that adds one case says nothing about what the
    council's SEN2 return records for the others (a store-wide union once hid thousands of clocks).
    """
    ids = import_ids.to_numpy(dtype="float64", na_value=np.nan)
    present = sorted({int(i) for i in ids[~np.isnan(ids)]})
    if not present:
        return "", {}
    stmt = select(IMPORT.c.id, IMPORT.c.caseload_source, IMPORT.c.unrecorded).where(IMPORT.c.id.in_(present))
    rows = conn.execute(stmt).all()
    sources = sorted({r.caseload_source for r in rows} - {""})
    by_field: dict[str, list[int]] = {}
    for r in rows:
        for name in r.unrecorded.split():
            by_field.setdefault(name, []).append(int(r.id))
    masks = {name: np.isin(ids, np.array(which, dtype="float64")) for name, which in by_field.items()}
    return "; ".join(sources), masks


def _snapshot(engine: Engine) -> Connection:
    """A connection whose reads all see one snapshot (SQLite's WAL read transaction already does)."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def caseload_from_connection(
    conn: Connection, *, case_refs: Sequence[str] | None = None, council: str | None = None
) -> Caseload:
    """:func:`load_caseload` on an open connection (inside the caller's transaction)."""
    cases = read_cases(conn, case_refs=case_refs, la=council, with_ids=True, with_extras=True)
    advice = read_advice(conn, case_refs=case_refs, la=council)
    reviews = read_reviews(conn, case_refs=case_refs, la=council)
    source, unrecorded_by_case = _provenance(conn, cases["last_import_id"])
    columns = [*CASE_COLUMNS, *EXCEPTION_START_COLUMNS]  # a ground applies from its period's start
    everywhere = frozenset(name for name, mask in unrecorded_by_case.items() if len(mask) and mask.all())
    # The contract owns the final dtypes (codes may be categorical): let it convert our strings.
    return Caseload(
        cases=normalise_cases(cases[columns])[columns],
        advice=normalise_advice(advice[list(ADVICE_COLUMNS)])[list(ADVICE_COLUMNS)],
        unrecorded=everywhere,
        unrecorded_by_case={k: m for k, m in unrecorded_by_case.items() if k not in everywhere},
        source=source,
        reviews=normalise_reviews(reviews[list(REVIEW_COLUMNS)])[list(REVIEW_COLUMNS)],
    )


def councils(engine: Engine) -> list[str]:
    """The councils (``ehcp_case.la``) of a store's cases, sorted: what a regional night fans out
    over. (The SEN2 exporter has its own, on a connection inside its transaction.)"""
    with engine.connect() as conn:
        rows = conn.execute(select(CASE.c.la).where(CASE.c.la.is_not(None)).distinct()).scalars()
        return sorted(str(la) for la in rows)


def load_caseload(
    engine: Engine, *, case_refs: Sequence[str] | None = None, council: str | None = None
) -> Caseload:
    """The stored cases (all, or those in ``case_refs``) as a :class:`Caseload`.

    Cases are ordered by ``case_ref``, advice by case, provider and request number; the columns
    are exactly the contract's. Unknown references are ignored. ``council`` keeps only the cases
    whose ``la`` is that council (a regional store's per-council night); a case with no council
    recorded belongs to no council's night, only to a store-wide one.
    """
    with _snapshot(engine) as conn, conn.begin():
        return caseload_from_connection(conn, case_refs=case_refs, council=council)
