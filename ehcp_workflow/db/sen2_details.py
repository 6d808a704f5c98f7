"""Writing the SEN2 items no clock reads (``sen2_case_detail``, ``sen2_setting``, ``sen2_need``).

A source speaks only for what it carries, so an import never clears one of these items:

* **per-case items** (RequestSource, RYA, the mediation and tribunal flags, PlanRes, PlanWBP, PB,
  OA, DP): a value given sets or changes the stored one; a missing value keeps it (a later return
  sends an old request as historical, without its RYA or mediation flags);
* **the plan's Section I settings** (PlanDetail) and **types of need** (SENneed): a source that
  gives any replaces the set (the plan was amended, the need re-assessed); one that gives none
  keeps it;
* **placements** (PlacementDetail) accumulate: each return lists the placements of its own
  collection year, so an incoming placement is matched to a stored one by setting and entry date
  (and updated), a stored one that ended before the source's period is kept (the source cannot
  speak for it), and only a stored one inside that period that the source no longer lists is
  removed.

Every value set, changed or removed is written to the event log (``sen2.<column>``,
``sen2.plan_detail``, ``sen2.placement``, ``sen2.need``) with old and new value, so the tables are
the current state and the log their history. The free text ``SENSettingOther`` is never copied
into the log (only whether it is given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ehcp_workflow.db.engine import write_connection
from ehcp_workflow.db.models import Sen2CaseDetail, Sen2Need, Sen2Setting, table_of
from ehcp_workflow.db.read import CASE
from ehcp_workflow.db.types import utcnow
from ehcp_workflow.db.write import EventRows, WriteContext, execute_many, write_events
from ehcp_workflow.importers.sen2_details import (
    CASE_COLUMNS,
    NEED_COLUMNS,
    SETTING_COLUMNS,
    RequestDetails,
    Row,
)

DETAIL = table_of(Sen2CaseDetail)
SETTING = table_of(Sen2Setting)
NEED = table_of(Sen2Need)
_CHUNK = 2000


@dataclass(frozen=True)
class DetailsSummary:
    """How many cases had a SEN2 item set or changed, and how many event rows that wrote."""

    cases_changed: int
    events: int


@dataclass(frozen=True)
class SourceDetails:
    """A source's SEN2 details by the importer's case references, and its collection period.

    ``period_start`` is the first day of the source's collection year (see :func:`upsert_sen2_details`).
    """

    by_case: Mapping[str, RequestDetails]
    period_start: date | None = None


def upsert_sen2_details(
    session: Session,
    details: Mapping[str, RequestDetails],
    *,
    actor: str,
    source: str,
    period_start: date | None = None,
    reason: str = "",
) -> DetailsSummary:
    """Merge ``details`` (by ``case_ref``; the cases must exist) into the store and commit.

    ``period_start`` is the first day of the source's collection year (SEN2: 1 January of the year
    before the return year): stored placements that ended before it are never removed. None (a
    source with no period) removes no placement. All or nothing: any error rolls everything back.
    """
    try:
        summary = write_sen2_details(
            write_connection(session),
            details,
            WriteContext(actor=actor, source=source, reason=reason, now=utcnow()),
            period_start,
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary


def write_sen2_details(
    conn: Connection,
    details: Mapping[str, RequestDetails],
    ctx: WriteContext,
    period_start: date | None = None,
) -> DetailsSummary:
    """:func:`upsert_sen2_details` inside the caller's transaction (nothing committed here)."""
    wanted = {ref: d for ref, d in details.items() if d}
    events = EventRows(ctx)
    changed: set[int] = set()
    refs = sorted(wanted)
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start : start + _CHUNK]
        ids = {
            str(r.case_ref): int(r.id)
            for r in conn.execute(select(CASE.c.case_ref, CASE.c.id).where(CASE.c.case_ref.in_(chunk)))
        }
        missing = [r for r in chunk if r not in ids]
        if missing:
            raise KeyError(f"SEN2 details for cases not in the store: {', '.join(missing[:5])}")
        by_id = {ids[r]: wanted[r] for r in chunk}
        changed |= _case_items(conn, by_id, events)
        changed |= _settings(conn, by_id, events, period_start)
        changed |= _needs(conn, by_id, events)
    write_events(conn, [events])
    return DetailsSummary(len(changed), len(events))


# --- per-case items -------------------------------------------------------------------------------


def _case_items(conn: Connection, by_id: Mapping[int, RequestDetails], events: EventRows) -> set[int]:
    ids = [i for i, d in by_id.items() if d.case]
    if not ids:
        return set()
    stored = {
        int(r.case_id): r._mapping for r in conn.execute(select(DETAIL).where(DETAIL.c.case_id.in_(ids)))
    }
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changed: set[int] = set()
    for case_id in ids:
        incoming = by_id[case_id].case
        old = stored.get(case_id)
        diff = {c: v for c, v in incoming.items() if c in CASE_COLUMNS and (old is None or old[c] != v)}
        if not diff:
            continue
        changed.add(case_id)
        for column, value in diff.items():
            events.add([case_id], f"sen2.{column}", [None if old is None else old[column]], [value])
        if old is None:
            new_rows.append({"case_id": case_id, **dict.fromkeys(CASE_COLUMNS), **diff})
        else:
            updates.append({"b_case": case_id, **{c: old[c] for c in CASE_COLUMNS}, **diff})
    execute_many(conn, insert(DETAIL), new_rows)
    if updates:
        stmt = update(DETAIL).where(DETAIL.c.case_id == bindparam("b_case"))
        execute_many(conn, stmt.values({c: bindparam(c) for c in CASE_COLUMNS}), updates)
    return changed


# --- settings and needs ---------------------------------------------------------------------------


def describe_setting(row: Mapping[str, Any]) -> str:
    """A setting as one line of the event log (no free text: only whether it is given)."""
    parts = []
    for column in SETTING_COLUMNS:
        value = row.get(column)
        if value is None:
            continue
        if column == "sen_setting_other":
            parts.append("sen_setting_other=(given)")
        else:
            parts.append(f"{column}={value.isoformat() if isinstance(value, date) else value}")
    return ", ".join(parts)


def _setting_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a placement the same placement: where, since when, and as which rank."""
    return tuple(row.get(c) for c in ("urn", "ukprn", "sen_setting", "entry_date", "placement_rank"))


def _stored_rows(conn: Connection, table: Any, ids: Sequence[int], **where: Any) -> dict[int, list[Row]]:
    stmt = select(table).where(table.c.case_id.in_(ids)).order_by(table.c.case_id, table.c.seq)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    out: dict[int, list[Row]] = {}
    columns = SETTING_COLUMNS if table is SETTING else NEED_COLUMNS
    for r in conn.execute(stmt):
        out.setdefault(int(r.case_id), []).append({c: r._mapping[c] for c in columns})
    return out


def _replace(
    conn: Connection, table: Any, rows_by_case: Mapping[int, list[Row]], extra: Mapping[str, Any]
) -> None:
    """Replace the stored rows of each case in ``rows_by_case`` (seq numbered from 1): one DELETE
    per chunk of cases and one batched INSERT, however many cases change."""
    ids = list(rows_by_case)
    for start in range(0, len(ids), _CHUNK):
        stmt = delete(table).where(table.c.case_id.in_(ids[start : start + _CHUNK]))
        for column, value in extra.items():
            stmt = stmt.where(table.c[column] == value)
        conn.execute(stmt)
    inserts = [
        {"case_id": case_id, **extra, "seq": i, **row}
        for case_id, rows in rows_by_case.items()
        for i, row in enumerate(rows, start=1)
    ]
    execute_many(conn, insert(table), inserts)


def _log_sets(events: EventRows, case_id: int, name: str, old: Iterable[str], new: Iterable[str]) -> bool:
    """Log rows removed (old -> None) and added (None -> new); True if anything changed."""
    before, after = set(old), set(new)  # iterables: read each once
    gone = sorted(before - after)
    came = sorted(after - before)
    for text in gone:
        events.add([case_id], name, [text], [None])
    for text in came:
        events.add([case_id], name, [None], [text])
    return bool(gone or came)


def _log_settings(events: EventRows, case_id: int, name: str, old: list[Row], new: list[Row]) -> None:
    """Log a changed set of settings; a change only to the free text is logged as such."""
    if not _log_sets(events, case_id, name, map(describe_setting, old), map(describe_setting, new)):
        events.add([case_id], name, ["SENSettingOther as before"], ["SENSettingOther changed"])


def _settings(
    conn: Connection, by_id: Mapping[int, RequestDetails], events: EventRows, period_start: date | None
) -> set[int]:
    changed: set[int] = set()
    plans: dict[int, list[Row]] = {}
    places: dict[int, list[Row]] = {}
    plan_ids = [i for i, d in by_id.items() if d.plan]
    stored_plan = _stored_rows(conn, SETTING, plan_ids, kind="plan") if plan_ids else {}
    for case_id in plan_ids:
        old = stored_plan.get(case_id, [])
        new = [_complete(r, SETTING_COLUMNS) for r in by_id[case_id].plan]
        if old == new:
            continue
        _log_settings(events, case_id, "sen2.plan_detail", old, new)
        changed.add(case_id)
        plans[case_id] = new
    place_ids = [i for i, d in by_id.items() if d.placements]
    stored_place = _stored_rows(conn, SETTING, place_ids, kind="placement") if place_ids else {}
    for case_id in place_ids:
        old = stored_place.get(case_id, [])
        incoming = [_complete(r, SETTING_COLUMNS) for r in by_id[case_id].placements]
        keys = {_setting_key(r) for r in incoming}
        kept = [
            r
            for r in old
            if _setting_key(r) not in keys
            and period_start is not None
            and isinstance(r["leaving_date"], date)
            and r["leaving_date"] < period_start
        ]
        merged = sorted(
            [*kept, *incoming],
            key=lambda r: (r["entry_date"] or date.min, str(r["placement_rank"] or ""), describe_setting(r)),
        )
        if merged == old:
            continue
        _log_settings(events, case_id, "sen2.placement", old, merged)
        changed.add(case_id)
        places[case_id] = merged
    _replace(conn, SETTING, plans, {"kind": "plan"})
    _replace(conn, SETTING, places, {"kind": "placement"})
    return changed


def _needs(conn: Connection, by_id: Mapping[int, RequestDetails], events: EventRows) -> set[int]:
    changed: set[int] = set()
    replaced: dict[int, list[Row]] = {}
    ids = [i for i, d in by_id.items() if d.needs]
    stored = _stored_rows(conn, NEED, ids) if ids else {}
    for case_id in ids:
        old = stored.get(case_id, [])
        new = [_complete(r, NEED_COLUMNS) for r in by_id[case_id].needs]
        if old == new:
            continue

        def text(r: Row) -> str:
            return f"{r['sen_type'] or '-'} rank {r['sen_type_rank'] or '-'}"

        _log_sets(events, case_id, "sen2.need", map(text, old), map(text, new))
        changed.add(case_id)
        replaced[case_id] = new
    _replace(conn, NEED, replaced, {})
    return changed


def _complete(row: Row, columns: Sequence[str]) -> Row:
    return {c: row.get(c) for c in columns}
