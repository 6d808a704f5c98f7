"""Applying a new flat state of some cases to the normalised tables, with one event per change.

Imports, ``record_event`` and ``assign_case`` all come here: each builds the cases' *new* flat rows
(caseload columns), this module diffs them against the stored rows column by column (vectorised),
writes only what changed with Core ``insert()``/``update()``/``delete()`` in executemany batches,
and returns one event-log row per changed value. Keeping a single writer is what makes the event
log a faithful history: there is no second code path that could change a date without logging it.
Advice requests are applied by :mod:`ehcp_workflow.db.write_advice` with this module's context and event rows.

Rows of "many per case" tables (annual reviews, phase transfers) follow one rule: a later date in
the episode's key field (``review_meeting``, ``phase_transfer_date``) starts a new row, anything
else corrects the latest row in place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, bindparam, delete, select, update

from ehcp_workflow.db.bulk import bind_value, insert_dicts, insert_rows
from ehcp_workflow.db.fields import (
    EPISODE_KEYS,
    EXTRA_FIELDS,
    FIELDS,
    FieldSpec,
    Kind,
)
from ehcp_workflow.db.models import Assignment, EventLog, table_of
from ehcp_workflow.db.read import CASE, EXCEPTION, IN_CHUNK, PERSON, PLAN, REVIEW, TRANSFER
from ehcp_workflow.db.records import python_values, text_values

EVENT = table_of(EventLog)
ASSIGNMENT = table_of(Assignment)

#: Rows per executemany call (bounds the memory of one compiled batch).
BATCH = 10_000

_EPISODE_TABLES: dict[str, tuple[Table, str, str]] = {
    "annual_review": (REVIEW, "review_id", "review_seq"),
    "phase_transfer": (TRANSFER, "transfer_id", "transfer_seq"),
}


@dataclass(frozen=True)
class WriteContext:
    """Who is changing the store, from where, why, and the one timestamp the change carries."""

    actor: str
    source: str
    reason: str
    now: datetime
    import_id: int | None = None
    #: False for a partial source (events only): it does not become the case's provenance.
    provenance: bool = True


@dataclass
class Changes:
    """What one application of new state did (counts, and the event rows to write)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    fields_changed: Counter[str] = field(default_factory=Counter)
    advice_created: int = 0
    advice_updated: int = 0
    advice_removed: int = 0
    events: list[EventRows] = field(default_factory=list)
    #: case_ref -> case id, for every case touched (new cases included).
    case_ids: dict[str, int] = field(default_factory=dict)

    @property
    def event_count(self) -> int:
        return sum(len(e) for e in self.events)


def execute_many(conn: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``stmt`` for ``rows`` in executemany batches (nothing for no rows)."""
    for start in range(0, len(rows), BATCH):
        conn.execute(stmt, list(rows[start : start + BATCH]))


def values_differ(old: pd.Series, new: pd.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Elementwise "the value changed", where missing equals missing."""
    both_missing = old.isna().to_numpy() & new.isna().to_numpy()
    ne = (old.reset_index(drop=True) != new.reset_index(drop=True)).to_numpy(dtype=bool, na_value=True)
    result: np.ndarray[Any, np.dtype[np.bool_]] = ne & ~both_missing
    return result


def _rows(
    frame: pd.DataFrame, columns: Mapping[str, str], extra: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    """Dicts for the driver: ``columns`` maps table column -> frame field; ``extra`` adds columns."""
    values = {col: python_values(frame[name], FIELDS[name].kind) for col, name in columns.items()}
    values |= {col: list(vals) for col, vals in extra.items()}
    keys = list(values)
    return [dict(zip(keys, row, strict=True)) for row in zip(*values.values(), strict=True)]


def _table_fields(table: str) -> dict[str, str]:
    """Table column -> field name, for the caseload fields stored in ``table``."""
    return {s.column: s.name for s in FIELDS.values() if s.table == table and s.in_caseload}


def _ids_by_key(conn: Connection, table: Table, key: str, values: Sequence[str]) -> dict[str, int]:
    """``value -> id`` for the rows of ``table`` whose ``key`` column is in ``values``.

    Bulk inserts run without RETURNING and read the new ids back with this: with psycopg, an
    executemany INSERT ... RETURNING goes through multi-row VALUES statements that psycopg re-parses
    in Python, measured ~3x slower than a plain executemany plus one SELECT per 5,000 keys.
    """
    found: dict[str, int] = {}
    column = table.c[key]
    for start in range(0, len(values), IN_CHUNK):
        stmt = select(column, table.c.id).where(column.in_(values[start : start + IN_CHUNK]))
        found |= {row[0]: row[1] for row in conn.execute(stmt)}
    return found


def _person_ids(conn: Connection, refs: Iterable[str]) -> dict[str, int]:
    """Ids of the people ``refs``, creating a bare person row for each one not yet stored."""
    wanted = sorted(set(refs))
    found = _ids_by_key(conn, PERSON, "person_ref", wanted)
    missing = [ref for ref in wanted if ref not in found]
    if missing:  # a SEN2 child is named by pseudonym (ehcp_workflow.db.pseudonyms)
        found |= _ids_by_key(conn, PERSON, "pseudonym", missing)
        missing = [ref for ref in wanted if ref not in found]
    if missing:
        insert_dicts(conn, PERSON, [{"person_ref": ref} for ref in missing])
        found |= _ids_by_key(conn, PERSON, "person_ref", missing)
    return found


class EventRows:
    """Event rows of one change, collected column-wise and turned into dicts batch by batch."""

    def __init__(self, ctx: WriteContext) -> None:
        self.ctx = ctx
        self.case_ids: list[Any] = []
        self.fields: list[Any] = []
        self.old: list[Any] = []
        self.new: list[Any] = []

    def add(
        self, case_ids: Sequence[Any], name: str | Sequence[str], old: Sequence[Any], new: Sequence[Any]
    ) -> None:
        self.case_ids.extend(case_ids)
        self.fields.extend([name] * len(case_ids) if isinstance(name, str) else name)
        self.old.extend(old)
        self.new.extend(new)

    def __len__(self) -> int:
        return len(self.case_ids)


def apply_cases(
    conn: Connection,
    stored: pd.DataFrame,
    incoming: pd.DataFrame,
    ctx: WriteContext,
    *,
    compare: Sequence[str],
) -> Changes:
    """Write ``incoming`` (new flat rows) over ``stored`` (rows read ``with_ids`` and ``with_extras``).

    ``compare`` names the fields ``incoming`` carries: the caseload fields for an import, plus the
    exception details for ``record_event``. Returns the changes; event rows are in ``.events``.
    """
    changes = Changes()
    events = EventRows(ctx)
    inc = incoming.set_index("case_ref", drop=False)
    sto = stored.set_index("case_ref", drop=False)
    is_old = inc.index.isin(sto.index)
    new_cases = inc[~is_old]
    old_new = inc[is_old]
    old = sto.loc[old_new.index]

    # --- existing cases: diff ------------------------------------------------------------------
    diff = {name: values_differ(old[name], old_new[name]) for name in compare}
    any_change = np.zeros(len(old), dtype=bool)
    for name, mask in diff.items():
        if mask.any():
            any_change |= mask
            idx = np.flatnonzero(mask)
            kind = FIELDS[name].kind
            events.add(
                old["case_id"].to_numpy()[idx].tolist(),
                name,
                text_values(old[name], kind)[idx].tolist(),
                text_values(old_new[name], kind)[idx].tolist(),
            )
            changes.fields_changed[name] += len(idx)
    changed_old = old[any_change]
    changed_new = old_new[any_change]
    changed_diff = {name: mask[any_change] for name, mask in diff.items()}
    changes.updated = changed_new["case_ref"].tolist()
    changes.unchanged = int((~any_change).sum())
    changes.case_ids |= dict(zip(old["case_ref"], old["case_id"].astype(int), strict=True))

    # --- people --------------------------------------------------------------------------------
    person_refs = set(new_cases["person_ref"].dropna()) | set(changed_new["person_ref"].dropna())
    person_ids = _person_ids(conn, person_refs) if person_refs else {}

    def person_id_list(frame: pd.DataFrame) -> list[int | None]:
        return [
            None if ref is None else person_ids[ref] for ref in python_values(frame["person_ref"], Kind.TEXT)
        ]

    case_cols = _table_fields("ehcp_case")
    stamp = {"last_import_id": ctx.import_id} if ctx.import_id is not None and ctx.provenance else {}

    # --- new cases -----------------------------------------------------------------------------
    if len(new_cases):
        n = len(new_cases)
        extra: dict[str, Sequence[Any]] = {
            "case_ref": new_cases["case_ref"].tolist(),
            "person_id": person_id_list(new_cases),
            "created_at": [ctx.now] * n,
            "last_import_id": [ctx.import_id] * n,
        }
        insert_dicts(conn, CASE, _rows(new_cases, case_cols, extra))
        changes.case_ids |= _ids_by_key(conn, CASE, "case_ref", new_cases["case_ref"].tolist())
        new_ids = np.array([changes.case_ids[ref] for ref in new_cases["case_ref"]], dtype=np.int64)
        changes.created = new_cases["case_ref"].tolist()
        events.add(new_ids.tolist(), "case_ref", [None] * n, new_cases["case_ref"].tolist())
        for name in compare:
            present = new_cases[name].notna().to_numpy()
            if present.any():
                values = text_values(new_cases[name], FIELDS[name].kind)[present]
                events.add(new_ids[present].tolist(), name, [None] * int(present.sum()), values.tolist())
        _insert_children(conn, new_cases, new_ids, ctx)

    # --- changed cases -------------------------------------------------------------------------
    if len(changed_new):
        ids = changed_old["case_id"].astype(int).tolist()
        extra = {"b_id": ids, "person_id": person_id_list(changed_new), "updated_at": [ctx.now] * len(ids)}
        extra |= {k: [v] * len(ids) for k, v in stamp.items()}
        rows = _rows(changed_new, case_cols, extra)
        targets = [*case_cols, "person_id", "updated_at", *stamp]
        stmt = update(CASE).where(CASE.c.id == bindparam("b_id")).values({c: bindparam(c) for c in targets})
        execute_many(conn, stmt, rows)
        _update_children(conn, changed_old, changed_new, changed_diff, ctx, events)

    changes.events.append(events)
    return changes


def _any(frame: pd.DataFrame, names: Iterable[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    mask = np.zeros(len(frame), dtype=bool)
    for name in names:
        mask |= frame[name].notna().to_numpy()
    return mask


def _insert_children(
    conn: Connection, new_cases: pd.DataFrame, ids: np.ndarray[Any, Any], ctx: WriteContext
) -> None:
    """Plan, first review, first phase transfer, exceptions and assignment of brand-new cases."""
    for table_name, table in (("plan", PLAN), ("annual_review", REVIEW), ("phase_transfer", TRANSFER)):
        cols = _table_fields(table_name)
        has = _any(new_cases, cols.values())
        if has.any():
            extra: dict[str, Sequence[Any]] = {"case_id": ids[has].tolist()}
            if table_name != "plan":
                extra["seq"] = [1] * int(has.sum())
            insert_dicts(conn, table, _rows(new_cases[has], cols, extra))
    for spec in _exception_specs():
        has = new_cases[spec.name].notna().to_numpy()
        if has.any():
            rows = [
                {"case_id": case_id, "clock": spec.clock, "ground": ground}
                for case_id, ground in zip(
                    ids[has].tolist(), python_values(new_cases[spec.name][has], Kind.CODE), strict=True
                )
            ]
            insert_dicts(conn, EXCEPTION, rows)
    has = _any(new_cases, ("team", "caseworker"))
    if has.any():
        _open_assignments(conn, new_cases[has], ids[has].tolist(), ctx)


def _exception_specs() -> list[FieldSpec]:
    return [s for s in FIELDS.values() if s.table == "case_exception" and s.column == "ground"]


def _open_assignments(conn: Connection, frame: pd.DataFrame, ids: list[int], ctx: WriteContext) -> None:
    n = len(ids)
    extra: dict[str, Sequence[Any]] = {
        "case_id": ids,
        "assigned_from": [ctx.now] * n,
        "actor": [ctx.actor] * n,
        "source": [ctx.source] * n,
        "reason": [ctx.reason] * n,
    }
    insert_dicts(conn, ASSIGNMENT, _rows(frame, {"team": "team", "caseworker": "caseworker"}, extra))


def _update_children(
    conn: Connection,
    old: pd.DataFrame,
    new: pd.DataFrame,
    diff: Mapping[str, np.ndarray[Any, np.dtype[np.bool_]]],
    ctx: WriteContext,
    events: EventRows,
) -> None:
    """Write the plan, review, phase transfer, exception and assignment changes of existing cases."""
    case_ids = old["case_id"].astype(int).to_numpy()

    def changed(names: Iterable[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        mask = np.zeros(len(old), dtype=bool)
        for name in names:
            if name in diff:
                mask |= diff[name]
        return mask

    # plan: one row per case, inserted the first time a plan field is set
    cols = _table_fields("plan")
    mask = changed(cols.values())
    if mask.any():
        plan_ids = old["plan_id"].to_numpy(dtype=object, na_value=None)
        ins = mask & (plan_ids == None)  # noqa: E711  (elementwise on an object array)
        upd = mask & ~ins
        if ins.any():
            insert_dicts(conn, PLAN, _rows(new[ins], cols, {"case_id": case_ids[ins].tolist()}))
        if upd.any():
            stmt = update(PLAN).where(PLAN.c.id == bindparam("b_id")).values({c: bindparam(c) for c in cols})
            execute_many(conn, stmt, _rows(new[upd], cols, {"b_id": [int(i) for i in plan_ids[upd]]}))

    for table_name, (table, id_col, seq_col) in _EPISODE_TABLES.items():
        cols = _table_fields(table_name)
        mask = changed(cols.values())
        if not mask.any():
            continue
        key = EPISODE_KEYS[table_name]
        row_ids = old[id_col].to_numpy(dtype=object, na_value=None)
        seqs = old[seq_col].to_numpy(dtype=object, na_value=None)
        old_key, new_key = old[key].to_numpy(), new[key].to_numpy()
        first = mask & (row_ids == None)  # noqa: E711
        later = ~np.isnat(old_key) & ~np.isnat(new_key) & (new_key > old_key)
        nxt = mask & ~first & later
        upd = mask & ~first & ~later
        ins = first | nxt
        if ins.any():
            seq = [1 if s is None else int(s) + 1 for s in seqs[ins]]
            insert_dicts(conn, table, _rows(new[ins], cols, {"case_id": case_ids[ins].tolist(), "seq": seq}))
        if upd.any():
            stmt = (
                update(table).where(table.c.id == bindparam("b_id")).values({c: bindparam(c) for c in cols})
            )
            execute_many(conn, stmt, _rows(new[upd], cols, {"b_id": [int(i) for i in row_ids[upd]]}))

    for spec in _exception_specs():
        _update_exception(conn, spec, old, new, changed, case_ids, events)

    mask = changed(("team", "caseworker"))
    if mask.any():
        close = update(ASSIGNMENT).where(
            ASSIGNMENT.c.case_id == bindparam("b_case_id"), ASSIGNMENT.c.assigned_until.is_(None)
        )
        execute_many(
            conn,
            close.values(assigned_until=bindparam("b_until")),
            [{"b_case_id": int(i), "b_until": ctx.now} for i in case_ids[mask]],
        )
        opened = mask & _any(new, ("team", "caseworker"))
        if opened.any():
            _open_assignments(conn, new[opened], case_ids[opened].tolist(), ctx)


def _update_exception(
    conn: Connection,
    spec: FieldSpec,
    old: pd.DataFrame,
    new: pd.DataFrame,
    changed: Any,
    case_ids: np.ndarray[Any, Any],
    events: EventRows,
) -> None:
    """Insert, correct or delete the exception row of one clock for the changed cases."""
    details = {s.column: s.name for s in FIELDS.values() if s.clock == spec.clock and not s.in_caseload}
    mask = changed([spec.name, *details.values()])
    if not mask.any():
        return
    had = old[spec.name].notna().to_numpy()
    has = new[spec.name].notna().to_numpy()
    ins, rem, upd = mask & ~had & has, mask & had & ~has, mask & had & has
    # Details travel with ``new`` only for record_event; an import keeps the stored ones.
    source = {col: (new if name in new.columns else old) for col, name in details.items()}
    if ins.any():
        rows = [
            {"case_id": int(i), "clock": spec.clock, "ground": g}
            for i, g in zip(case_ids[ins], python_values(new[spec.name][ins], Kind.CODE), strict=True)
        ]
        insert_dicts(conn, EXCEPTION, rows)
    if upd.any():
        cols = {"ground": python_values(new[spec.name][upd], Kind.CODE)}
        cols |= {
            col: python_values(source[col][name][upd], FIELDS[name].kind) for col, name in details.items()
        }
        keys = list(cols)
        rows = [
            {"b_case_id": int(i), **dict(zip(keys, vals, strict=True))}
            for i, vals in zip(case_ids[upd], zip(*cols.values(), strict=True), strict=True)
        ]
        stmt = (
            update(EXCEPTION)
            .where(EXCEPTION.c.case_id == bindparam("b_case_id"), EXCEPTION.c.clock == spec.clock)
            .values({c: bindparam(c) for c in keys})
        )
        execute_many(conn, stmt, rows)
    if rem.any():
        gone_stmt = delete(EXCEPTION).where(
            EXCEPTION.c.case_id == bindparam("b_case_id"), EXCEPTION.c.clock == spec.clock
        )
        execute_many(conn, gone_stmt, [{"b_case_id": int(i)} for i in case_ids[rem]])
        # The row's details go with it; log them as cleared (record_event has already diffed them).
        for name in details.values():
            if name in new.columns:
                continue
            gone = rem & old[name].notna().to_numpy()
            if gone.any():
                text = text_values(old[name], FIELDS[name].kind)[gone].tolist()
                events.add(case_ids[gone].tolist(), name, text, [None] * len(text))


#: The columns :func:`write_events` writes, in its tuples' order.
EVENT_COLUMNS = ("case_id", "field", "old_value", "new_value", "actor", "source", "reason", "recorded_at")


def write_events(conn: Connection, events: Sequence[EventRows]) -> None:
    """Append event rows (the only writer of ``event_log``), through the backend's bulk path.

    An import of 200,000 new cases logs ~3M events (one per value set); through Core's executemany
    of dicts, building and binding them was over half of the import (py-spy). They go as tuples,
    in order (``id`` follows the order written, which replay relies on), in the same transaction.
    """
    for rows in events:
        if not len(rows):
            continue
        c = rows.ctx
        stamp = bind_value(conn, EVENT.c.recorded_at, c.now)
        fixed = (c.actor, c.source, c.reason, stamp)

        def batches(
            rows: EventRows = rows, fixed: tuple[Any, ...] = fixed
        ) -> Iterator[list[tuple[Any, ...]]]:
            for start in range(0, len(rows), BATCH):
                stop = start + BATCH
                yield [
                    (int(case_id), name, old, new, *fixed)
                    for case_id, name, old, new in zip(
                        rows.case_ids[start:stop],
                        rows.fields[start:stop],
                        rows.old[start:stop],
                        rows.new[start:stop],
                        strict=True,
                    )
                ]

        insert_rows(conn, EVENT, EVENT_COLUMNS, batches())


__all__ = [
    "EXTRA_FIELDS",
    "Changes",
    "EventRows",
    "WriteContext",
    "apply_cases",
    "execute_many",
    "values_differ",
    "write_events",
]
