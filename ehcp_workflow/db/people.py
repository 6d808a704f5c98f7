"""Writing the personal fields a SEN2 return needs: merged, never silently, never into the log.

The ``person`` table is the only one holding personal data. A re-import writes a field only where
the file records a value that differs from the stored one (a missing item never clears what an
earlier return recorded), and every such change is recorded: the import batch counts it, and each
of the person's cases gets an event-log row ``person.<field>`` whose values are *withheld* (the
event log is read far more widely than the person table, so it says that a surname changed and
when and by which file, never what it was or became).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, insert, select, update

from ehcp_workflow.db.fields import Kind
from ehcp_workflow.db.read import CASE, IN_CHUNK, PERSON
from ehcp_workflow.db.records import python_values
from ehcp_workflow.db.types import utcnow
from ehcp_workflow.db.write import EventRows, execute_many
from ehcp_workflow.importers.sen2_details import PERSON_COLUMNS

#: Personal fields of :class:`~ehcp_workflow.db.models.Person` that an import writes.
PERSON_FIELDS: tuple[str, ...] = PERSON_COLUMNS
#: What the event log holds instead of a personal value (NULL still means "not recorded").
WITHHELD = "withheld"


@dataclass
class PeopleChanges:
    """What a write did to the person table."""

    created: int = 0
    updated: int = 0
    #: Per field, how many stored people it changed for.
    fields_changed: Counter[str] = field(default_factory=Counter)
    #: The person ids whose fields changed (their cases were touched by this import).
    changed_ids: set[int] = field(default_factory=set)


def write_people(conn: Connection, people: pd.DataFrame, events: EventRows | None = None) -> PeopleChanges:
    """Merge ``people`` (``person_ref`` and any :data:`PERSON_FIELDS`) into the person table.

    New people are inserted with what the file records. For a stored person, each field the file
    records with a different value is updated and, when ``events`` is given, logged (withheld) on
    each of the person's cases. Returns what changed.
    """
    columns = [c for c in PERSON_FIELDS if c in people.columns]
    frame = (
        people[["person_ref", *columns]]
        .dropna(subset=["person_ref"])
        .drop_duplicates("person_ref", keep="last")
    )
    changes = PeopleChanges()
    if not len(frame):
        return changes
    refs = frame["person_ref"].astype(str).tolist()
    values = {c: python_values(frame[c], Kind.DATE if c == "birth_date" else Kind.TEXT) for c in columns}
    incoming = {r: {c: values[c][i] for c in columns} for i, r in enumerate(refs)}
    stored = _stored(conn, refs, columns)
    now = utcnow()
    new = [{"person_ref": r, **incoming[r]} for r in refs if r not in stored]
    if new:
        execute_many(conn, insert(PERSON), new)
        changes.created = len(new)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    logged: list[tuple[int, list[tuple[str, Any]]]] = []
    for ref, (person_id, old) in stored.items():
        diff = {c: v for c, v in incoming[ref].items() if v is not None and v != old[c]}
        if not diff:
            continue
        by_columns.setdefault(tuple(sorted(diff)), []).append({"b_id": person_id, **diff, "updated_at": now})
        if all(value is None for value in old.values()):
            # a bare row (made for a case's link, or for a pseudonym): this is its first record,
            # as for a new person, not a change to one
            changes.created += 1
            continue
        changes.changed_ids.add(person_id)
        changes.fields_changed.update(list(diff))
        logged.append((person_id, [(c, old[c]) for c in sorted(diff)]))
    for cols, rows in by_columns.items():
        targets: dict[str, Any] = {c: bindparam(c) for c in [*cols, "updated_at"]}
        execute_many(conn, update(PERSON).where(PERSON.c.id == bindparam("b_id")).values(targets), rows)
    changes.updated = len(changes.changed_ids)
    if events is not None:
        _log(conn, events, logged)
    return changes


def _stored(conn: Connection, refs: list[str], columns: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    selected = [PERSON.c.person_ref, PERSON.c.id, *(PERSON.c[c] for c in columns)]
    for start in range(0, len(refs), IN_CHUNK):
        stmt = select(*selected).where(PERSON.c.person_ref.in_(refs[start : start + IN_CHUNK]))
        for row in conn.execute(stmt):
            found[row[0]] = (row[1], dict(zip(columns, row[2:], strict=True)))
    return found


def _log(conn: Connection, events: EventRows, pending: list[tuple[int, list[tuple[str, Any]]]]) -> None:
    """One withheld ``person.<field>`` row per changed field on each of the person's cases."""
    if not pending:
        return
    ids = [person_id for person_id, _ in pending]
    cases: dict[int, list[int]] = {}
    for start in range(0, len(ids), IN_CHUNK):
        stmt = select(CASE.c.person_id, CASE.c.id).where(CASE.c.person_id.in_(ids[start : start + IN_CHUNK]))
        for person_id, case_id in conn.execute(stmt):
            cases.setdefault(person_id, []).append(case_id)
    for person_id, fields in pending:
        for case_id in sorted(cases.get(person_id, [])):
            for name, old in fields:
                events.add([case_id], f"person.{name}", [None if old is None else WITHHELD], [WITHHELD])
