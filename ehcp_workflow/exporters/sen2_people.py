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
from sqlalchemy.orm import Session

from ehcp_workflow.db import ImportSummary, upsert_caseload
from ehcp_workflow.importers.sen2 import load_sen2
from ehcp_workflow.importers.values import date_window, parse_iso_date

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
    loaded = load_sen2(path, accept_valid=accept_valid)
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
    )
    return summary, summary.people_created + summary.people_updated
