"""A night's clock states as integer-keyed columns: read, diff, write only what changed.

The nightly used to read the previous night's ``clock_state`` into pandas and outer-join it with
tonight's states on string keys (case_ref, clock, instance). At 1,000,000 cases with their review
history that is ~13M rows a side: the join held ~15 GiB and did not finish in 15 minutes.

Here every state is four small integers: the case id, a code for the stored clock name, the
instance, and codes for status and band (:class:`Vocabulary`: the strings are kept once each, in
a list). A row's key is one ``int64`` (``(case_id * clocks + clock) * instances + instance``), so
matching tonight against last night is one ``argsort`` and one ``searchsorted`` in numpy, and what
changed is an elementwise comparison of the codes. Rows are read from the driver's cursor a batch
at a time and turned into codes at once (:func:`~ehcp_workflow.db.bulk.fetch_columns`), so no
Python object per stored clock outlives its batch; the changed rows are written through the
backend's bulk path (COPY on PostgreSQL, ``executemany`` on SQLite).

The answer is the one the string join gave: a clock is *changed* when its status or band differs,
a clock missing from one side counts as ``not_applicable`` there, and the transitions come out
in (case_ref, clock, instance) order, as the join sorted them, so the event log reads the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select, delete, select

from ehcp_workflow.core.statuses import Status
from ehcp_workflow.db.bulk import BATCH, bind_value, fetch_columns, insert_rows
from ehcp_workflow.db.models import ClockState, EhcpCase, table_of

CLOCK_STATE = table_of(ClockState)
CASE = table_of(EhcpCase)

Codes = np.ndarray[Any, np.dtype[np.int32]]
Ints = np.ndarray[Any, np.dtype[np.int64]]

#: The columns a night reads back from ``clock_state`` (its due dates and nights are not needed
#: per row: transitions are status and band changes; the nights come from one GROUP BY).
STATE_READ_COLUMNS = ("id", "case_id", "clock", "instance", "status", "band")
#: The columns a night writes.
STATE_WRITE_COLUMNS = ("case_id", "clock", "instance", "status", "due_date", "band", "as_of", "updated_at")


class Vocabulary:
    """Strings as small integer codes, each string held once (``None`` and NaN are -1)."""

    def __init__(self, values: Sequence[str] = ()) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}
        for value in values:
            self.code(value)

    def code(self, value: str) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found

    def codes(self, values: Any) -> Codes:
        """Codes of ``values`` (any array-like of str/None), hashing each distinct value once."""
        local, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        lookup = np.array([*(self.code(str(u)) for u in uniques), -1], dtype=np.int32)
        out: Codes = lookup[local]  # the sentinel -1 picks the trailing -1
        return out

    def strings(self, codes: Codes) -> np.ndarray[Any, np.dtype[np.object_]]:
        """The strings of ``codes`` (``None`` for -1)."""
        table = np.array([*self.values, None], dtype=object)
        out: np.ndarray[Any, np.dtype[np.object_]] = table[codes]
        return out


@dataclass
class StateColumns:
    """Clock states, one array per column, aligned (codes index the night's vocabularies)."""

    case_id: Ints
    clock: Codes
    instance: Ints
    status: Codes
    band: Codes
    #: ``clock_state.id`` of stored rows (empty for tonight's).
    row_id: Ints

    def __len__(self) -> int:
        return len(self.case_id)


@dataclass
class Vocabularies:
    clock: Vocabulary
    status: Vocabulary
    band: Vocabulary


def new_vocabularies() -> Vocabularies:
    return Vocabularies(Vocabulary(), Vocabulary([s.value for s in Status]), Vocabulary())


def previous_states_select(dialect: str = "", council: str | None = None) -> Select[Any]:
    """What a night reads of ``clock_state`` (``dialect`` for symmetry with the caseload selects):
    of ``council``'s cases only, if given, so a council's night never sees (and so never deletes
    or re-logs) another council's states."""
    stmt = select(*(CLOCK_STATE.c[name] for name in STATE_READ_COLUMNS))
    if council is not None:
        stmt = stmt.join(CASE, CASE.c.id == CLOCK_STATE.c.case_id).where(CASE.c.la == council)
    return stmt


def read_previous(
    conn: Connection, vocab: Vocabularies, *, council: str | None = None
) -> tuple[StateColumns, list[dt.date]]:
    """The stored clock states as codes (``council``'s only, if given), and the nights (``as_of``)
    they were recorded on."""
    parts: dict[str, list[Any]] = {name: [] for name in STATE_READ_COLUMNS}
    for cols in fetch_columns(conn, previous_states_select(conn.dialect.name, council), BATCH):
        row_id, case_id, clock, instance, status, band = cols
        n = len(row_id)
        parts["id"].append(np.fromiter(row_id, dtype=np.int64, count=n))
        parts["case_id"].append(np.fromiter(case_id, dtype=np.int64, count=n))
        parts["clock"].append(vocab.clock.codes(clock))
        parts["instance"].append(np.fromiter(instance, dtype=np.int64, count=n))
        parts["status"].append(vocab.status.codes(status))
        parts["band"].append(vocab.band.codes(band))

    def joined(name: str, dtype: Any) -> Any:
        return np.concatenate(parts[name]) if parts[name] else np.empty(0, dtype=dtype)

    previous = StateColumns(
        case_id=joined("case_id", np.int64),
        clock=joined("clock", np.int32),
        instance=joined("instance", np.int64),
        status=joined("status", np.int32),
        band=joined("band", np.int32),
        row_id=joined("id", np.int64),
    )
    nights_stmt = select(CLOCK_STATE.c.as_of).group_by(CLOCK_STATE.c.as_of)
    if council is not None:
        nights_stmt = nights_stmt.join(CASE, CASE.c.id == CLOCK_STATE.c.case_id).where(CASE.c.la == council)
    nights = list(conn.execute(nights_stmt).scalars())
    return previous, nights


def tonight_columns(states: pd.DataFrame, case_ids: Ints, vocab: Vocabularies) -> StateColumns:
    """Tonight's states (``case_ids`` aligned with them) as codes."""
    return StateColumns(
        case_id=case_ids,
        clock=vocab.clock.codes(states["clock"].to_numpy(dtype=object)),
        instance=states["instance"].to_numpy(dtype=np.int64),
        status=vocab.status.codes(states["status"].to_numpy(dtype=object)),
        band=vocab.band.codes(states["band"].to_numpy(dtype=object, na_value=None)),
        row_id=np.empty(0, dtype=np.int64),
    )


@dataclass
class StateDiff:
    """Which stored rows go (``stale``: positions in previous) and which of tonight's are written
    (``fresh``: positions in current), and the changed pairs for the event log (previous and
    current positions, -1 where that side has no row)."""

    stale: Ints
    fresh: Ints
    old: Ints
    new: Ints

    @property
    def empty(self) -> bool:
        return len(self.old) == 0


def diff(previous: StateColumns, current: StateColumns, vocab: Vocabularies) -> StateDiff:
    """The clocks whose status or band changed, matched on one int64 key per row."""
    clocks = max(len(vocab.clock.values), 1)
    instances = int(max(previous.instance.max(initial=0), current.instance.max(initial=0))) + 1

    def keys(s: StateColumns) -> Ints:
        k: Ints = (s.case_id * clocks + s.clock) * instances + s.instance
        return k

    kp, kc = keys(previous), keys(current)
    order = np.argsort(kp, kind="stable")
    sorted_p = kp[order]
    pos = np.searchsorted(sorted_p, kc)
    inside = pos < len(sorted_p)
    hit = np.zeros(len(kc), dtype=bool)
    hit[inside] = sorted_p[pos[inside]] == kc[inside]
    cur_hit = np.flatnonzero(hit)
    prev_hit = order[pos[hit]]
    differs = (previous.status[prev_hit] != current.status[cur_hit]) | (
        previous.band[prev_hit] != current.band[cur_hit]
    )
    matched_p = np.zeros(len(kp), dtype=bool)
    matched_p[prev_hit] = True
    na = vocab.status.index[Status.NOT_APPLICABLE.value]
    # a clock on one side only is not_applicable on the other: changed unless it is n/a here too
    gone = np.flatnonzero(~matched_p & (previous.status != na))
    came = np.flatnonzero(~hit & (current.status != na))
    old = np.concatenate([prev_hit[differs], gone, np.full(len(came), -1, dtype=np.int64)])
    new = np.concatenate([cur_hit[differs], np.full(len(gone), -1, dtype=np.int64), came])
    return StateDiff(
        stale=np.concatenate([prev_hit[differs], gone]),
        fresh=np.concatenate([cur_hit[differs], came]),
        old=old,
        new=new,
    )


def changes_frame(
    d: StateDiff,
    previous: StateColumns,
    current: StateColumns,
    vocab: Vocabularies,
    refs: pd.Series,
) -> pd.DataFrame:
    """The changed clocks as the string join returned them: (case_id, case_ref, clock, instance,
    status_old/new, band_old/new), in (case_ref, clock, instance) order. ``refs``: case_ref by id."""
    has_old, has_new = d.old >= 0, d.new >= 0
    po, pn = np.where(has_old, d.old, 0), np.where(has_new, d.new, 0)

    def pick(old_side: Any, new_side: Any) -> Any:
        return np.where(has_new, new_side[pn] if len(new_side) else 0, old_side[po] if len(old_side) else 0)

    case_id = pick(previous.case_id, current.case_id)
    na = vocab.status.index[Status.NOT_APPLICABLE.value]
    status_old = np.where(has_old, previous.status[po] if len(previous) else na, na)
    status_new = np.where(has_new, current.status[pn] if len(current) else na, na)
    band_old = np.where(has_old, previous.band[po] if len(previous) else -1, -1)
    band_new = np.where(has_new, current.band[pn] if len(current) else -1, -1)
    frame = pd.DataFrame(
        {
            "case_id": case_id.astype(np.int64),
            "case_ref": refs.reindex(case_id).to_numpy(dtype=object, na_value=None),
            "clock": vocab.clock.strings(pick(previous.clock, current.clock).astype(np.int32)),
            "instance": pick(previous.instance, current.instance).astype(np.int64),
            "status_old": vocab.status.strings(status_old.astype(np.int32)),
            "status_new": vocab.status.strings(status_new.astype(np.int32)),
            "band_old": vocab.band.strings(band_old.astype(np.int32)),
            "band_new": vocab.band.strings(band_new.astype(np.int32)),
        }
    )
    frame = frame[frame["case_ref"].notna()]
    return frame.sort_values(["case_ref", "clock", "instance"], kind="stable").reset_index(drop=True)


def delete_rows(conn: Connection, row_ids: Ints) -> None:
    """Delete stored states by id, 5,000 ids a statement."""
    ids = row_ids.tolist()
    for start in range(0, len(ids), 5000):
        conn.execute(delete(CLOCK_STATE).where(CLOCK_STATE.c.id.in_(ids[start : start + 5000])))


def write_rows(
    conn: Connection,
    rows: StateColumns,
    due: np.ndarray[Any, Any],
    vocab: Vocabularies,
    *,
    as_of: dt.date,
    now: dt.datetime,
) -> int:
    """Insert tonight's ``rows`` (their due dates ``due``, datetime64) in bulk; returns the count.

    Rows go in the unique index's order (case id, clock name, instance): each insert then lands
    next to the last in the B-tree instead of anywhere in it (the evaluator lists states clock by
    clock, which touched a different index page per row on a first night's ~13 per case).
    """
    rank = np.argsort(np.argsort(np.array(vocab.clock.values, dtype=object)))
    order = np.lexsort((rows.instance, rank[rows.clock] if len(rows) else rows.clock, rows.case_id))
    rows, due = take(rows, order), due[order]
    night = bind_value(conn, CLOCK_STATE.c.as_of, as_of)
    stamp = bind_value(conn, CLOCK_STATE.c.updated_at, now)
    days = due.astype("datetime64[D]")

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        for start in range(0, len(rows), BATCH):
            part = slice(start, start + BATCH)
            # due dates as text a batch at a time: for every row at once they were ~250 MB of
            # Python strings at 200k cases, the night's peak (1M cases: ~1.2 GB)
            due_text = np.datetime_as_string(days[part], unit="D").astype(object)
            due_text[np.isnat(days[part])] = None
            yield list(
                zip(
                    rows.case_id[part].tolist(),
                    vocab.clock.strings(rows.clock[part]).tolist(),
                    rows.instance[part].tolist(),
                    vocab.status.strings(rows.status[part]).tolist(),
                    due_text.tolist(),
                    vocab.band.strings(rows.band[part]).tolist(),
                    [night] * len(rows.case_id[part]),
                    [stamp] * len(rows.case_id[part]),
                    strict=True,
                )
            )

    return insert_rows(conn, CLOCK_STATE, STATE_WRITE_COLUMNS, batches())


def take(s: StateColumns, idx: Ints) -> StateColumns:
    return StateColumns(
        case_id=s.case_id[idx],
        clock=s.clock[idx],
        instance=s.instance[idx],
        status=s.status[idx],
        band=s.band[idx],
        row_id=s.row_id[idx] if len(s.row_id) else s.row_id,
    )


__all__ = [
    "STATE_READ_COLUMNS",
    "StateColumns",
    "StateDiff",
    "Vocabulary",
    "changes_frame",
    "delete_rows",
    "diff",
    "new_vocabularies",
    "previous_states_select",
    "read_previous",
    "take",
    "tonight_columns",
    "write_rows",
]
