"""Loading a SEN2 return *with* its personal fields: the import side of the round trip.

The project's SEN2 importer (:mod:`ehcp_workflow.importers.sen2`) deliberately never reads names,
birth dates, sex, ethnicity or postcodes: the caseload it builds travels to alerts and reports.
The store's ``person`` table is the one place those fields may live, and a SEN2 export reads them
from there. :func:`read_sen2_people` is the narrow reader that takes them from a return for
:func:`~ehcp_workflow.db.upsert_caseload`, and :func:`import_sen2` does what an import command
does with a return: cases and people in one transaction, cases named by pseudonym.

The person reference is the importer's (UPN, else ULN, else ``person-<n>`` for the n-th Person of
the file), so the two halves meet on the same ``person`` row. The file is streamed with
``defusedxml`` (no DTDs or entities) and each ``Person`` is dropped once read.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import pandas as pd
from defusedxml.ElementTree import iterparse
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ehcp_workflow.db import ImportSummary, upsert_caseload
from ehcp_workflow.db.engine import write_connection
from ehcp_workflow.db.people import PeopleChanges, write_people
from ehcp_workflow.db.read import CASE, IMPORT, PERSON
from ehcp_workflow.db.sen2_details import DetailsSummary, SourceDetails, write_sen2_details
from ehcp_workflow.db.types import utcnow
from ehcp_workflow.db.write import EventRows, WriteContext, write_events
from ehcp_workflow.exporters.sen2_layout import CENSUS_DAYS, period
from ehcp_workflow.importers.result import ReadResult, finish_load
from ehcp_workflow.importers.sen2 import read_sen2_rows
from ehcp_workflow.importers.sen2_details import PERSON_COLUMNS, read_sen2_details
from ehcp_workflow.importers.tabular_sen2 import read_sen2_file
from ehcp_workflow.importers.values import date_window, parse_iso_date
from ehcp_workflow.problems import InputError, Problem

PathLike = str | os.PathLike[str]

#: Person items (lower case) -> ``person`` column. Sex and 2023 GenderCurrent share one column.
_PERSON_ITEMS = {
    "upn": "upn",
    "uniquelearnernumber": "uln",
    "upnunknown": "upn_unknown",
    "surname": "surname",
    "forename": "forename",
    "personbirthdate": "birth_date",
    "sex": "sex",
    "gendercurrent": "sex",
    "ethnicity": "ethnicity",
    "postcode": "postcode",
}
_TEXT_COLUMNS = ("upn", "uln", "upn_unknown", "surname", "forename", "sex", "ethnicity", "postcode")


def _key(tag: str) -> str:
    return tag.rpartition("}")[2].lower()


def read_sen2_people(path: PathLike) -> pd.DataFrame:
    """The people of a SEN2 return: ``person_ref`` and the ``person`` columns, one row per Person.

    Values are taken as written (stripped; empty is missing); a birth date that is not
    ``ccyy-mm-dd`` is left missing (the importer reports the file's problems).
    """
    rows: dict[str, list[Any]] = {"person_ref": [], "birth_date": []}
    rows |= {c: [] for c in _TEXT_COLUMNS}
    stack: list[Element] = []
    number = 0
    with Path(path).open("rb") as fh:
        for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                stack.append(elem)
                continue
            stack.pop()
            if _key(elem.tag) != "person":
                continue
            number += 1
            values: dict[str, str] = {}
            for child in elem:
                column = _PERSON_ITEMS.get(_key(child.tag))
                text = (child.text or "").strip()
                if column is not None and text and column not in values:
                    values[column] = text
            ref = values.get("upn") or values.get("uln") or f"person-{number}"
            rows["person_ref"].append(ref)
            for column in _TEXT_COLUMNS:
                rows[column].append(values.get(column))
            rows["birth_date"].append(_date(values.get("birth_date")))
            elem.clear()
            if stack:
                stack[-1].remove(elem)  # keep memory flat: the Persons block forgets each Person
    frame = pd.DataFrame({c: pd.array(rows[c], dtype="string") for c in ("person_ref", *_TEXT_COLUMNS)})
    frame["birth_date"] = np.array(
        [np.datetime64(d, "s") if d is not None else np.datetime64("NaT", "s") for d in rows["birth_date"]],
        dtype="datetime64[s]",
    )
    return frame


def _date(text: str | None) -> date | None:
    """A plausible birth date (the importer's window, not in the future), else None.

    The importer warns about the others (``sen2-birth-date``); a source system's ``0001-01-01``
    placeholder must not reach the store as if it were a date of birth.
    """
    if text is None:
        return None
    day = parse_iso_date(text)
    if day is None:
        return None
    window = date_window()
    return day if window.earliest <= day <= date.today() else None


def import_sen2(
    session: Session,
    path: PathLike,
    *,
    actor: str,
    source: str | None = None,
    accept_valid: bool = False,
    force: bool = False,
) -> tuple[ImportSummary, int]:
    """Import the SEN2 return at ``path`` into the store: cases and people's personal fields, at once.

    Cases go through :func:`~ehcp_workflow.importers.sen2.load_sen2` (the project's policy: any
    error refuses the file, or with ``accept_valid`` the cases with errors are left out) and
    :func:`~ehcp_workflow.db.upsert_caseload`, with the personal fields of the people whose cases
    were loaded, in one transaction; cases are named by pseudonym, never by UPN. Returns the import
    summary and the number of people created or changed.
    """
    rows = read_sen2_rows(path)
    loaded = finish_load(rows, accept_valid=accept_valid)
    people = read_sen2_people(path)
    keep = people["person_ref"].isin(set(loaded.cases["person_ref"].dropna().astype(str)))
    summary = upsert_caseload(
        session,
        loaded,
        source=source or Path(path).name,
        actor=actor,
        people=people.loc[keep.to_numpy(dtype=bool)],
        pseudonymise=True,
        force=force,
        sen2_details=sen2_details_of(path, loaded.cases["case_ref"], rows=rows),
    )
    return summary, summary.people_created + summary.people_updated


def sen2_details_of(
    path: PathLike, loaded_refs: pd.Series, *, rows: ReadResult | None = None
) -> SourceDetails:
    """The SEN2 items no clock reads (:mod:`~ehcp_workflow.importers.sen2_details`) of the cases
    ``loaded_refs`` loaded from the return at ``path``, by the importer's case references, for
    :func:`~ehcp_workflow.db.upsert_caseload` to write in the import's own transaction.

    Details and case rows meet by position: both are one per ``Requests``, in file order, so the
    importer's case references (whatever they are) are taken from ``rows`` (read again if None).
    """
    all_refs = (rows or read_sen2_rows(path)).caseload.cases["case_ref"]
    details = read_sen2_details(path)
    if len(details.requests) != len(all_refs):  # the same file read twice: cannot happen
        raise RuntimeError(f"{path}: {len(details.requests)} Requests but {len(all_refs)} case rows")
    loaded = set(loaded_refs.dropna().astype(str))
    by_case = {
        str(ref): d for ref, d in zip(all_refs.tolist(), details.requests, strict=True) if str(ref) in loaded
    }
    year = details.year
    return SourceDetails(by_case, period(year).start if year in CENSUS_DAYS else None)


def import_sen2_file(
    session: Session, path: PathLike, *, actor: str, accept_valid: bool = False, reason: str = ""
) -> tuple[int, DetailsSummary]:
    """Import a SEN2 companion file (:mod:`~ehcp_workflow.importers.tabular_sen2`): the personal
    fields of each case's person and the case's SEN2 details, in one transaction.

    Every case must already be in the store (import the caseload first). A person whose rows give
    different values for the same field is refused. Raises :class:`InputError` naming file, row
    and column; nothing is written then. Returns the person rows written and the details summary.
    """
    from sqlalchemy import select

    file = str(path)
    read = read_sen2_file(path, accept_valid=accept_valid)
    refs = sorted(read.rows)
    person_of: dict[str, str] = {}
    conn = write_connection(session)
    for start in range(0, len(refs), 2000):
        stmt = (
            select(CASE.c.case_ref, PERSON.c.person_ref)
            .select_from(CASE.join(PERSON, CASE.c.person_id == PERSON.c.id))
            .where(CASE.c.case_ref.in_(refs[start : start + 2000]))
        )
        person_of |= {str(r.case_ref): str(r.person_ref) for r in conn.execute(stmt)}
    problems = [
        Problem(
            file, f"row {read.rows[r]}", r, "case_ref", "no such case in the store; import the caseload first"
        )
        for r in refs
        if r not in person_of
    ]
    people: dict[str, dict[str, object]] = {}
    first_row: dict[str, int] = {}
    for ref, fields in read.people.items():
        if not fields or ref not in person_of:
            continue
        who = person_of[ref]
        known = people.setdefault(who, {"person_ref": who})
        first_row.setdefault(who, read.rows[ref])
        for column, value in fields.items():
            if known.setdefault(column, value) != value:
                problems.append(
                    Problem(
                        file,
                        f"row {read.rows[ref]}",
                        ref,
                        column,
                        f"the person of this case has another {column} on row {first_row[who]}; a "
                        "person's fields must agree on all their cases",
                    )
                )
    if problems:
        session.rollback()
        raise InputError([*read.problems, *problems])
    ctx = WriteContext(actor=actor, source=Path(path).name, reason=reason, now=utcnow())
    details = {r: d for r, d in read.details.items() if r in person_of}
    given = [c for c in PERSON_COLUMNS if any(c in p for p in people.values())]  # a column left out
    frame = pd.DataFrame(list(people.values()), columns=["person_ref", *given])  # keeps stored values
    for column in frame.columns:
        if column == "birth_date":
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
        else:
            frame[column] = frame[column].astype("string")
    try:
        summary = write_sen2_details(conn, details, ctx)
        # personal fields: each change an event-log row with its value withheld, as for a return
        person_events = EventRows(ctx)
        changed = write_people(conn, frame, person_events) if len(frame) else PeopleChanges()
        write_events(conn, [person_events])
        logged = summary.events + len(person_events)
        if logged or changed.created:
            conn.execute(
                insert(IMPORT).values(
                    source=ctx.source,
                    caseload_source="sen2-companion",
                    actor=actor,
                    reason=reason,
                    imported_at=ctx.now,
                    cases_updated=summary.cases_changed,
                    events=logged,
                )
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return changed.created + changed.updated, summary
