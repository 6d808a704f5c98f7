"""Building small stores for the SEN2 export tests, and reading the XML back for assertions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import pandas as pd
from defusedxml.ElementTree import parse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import DATE_COLUMNS, Caseload, empty_cases
from ehcp_workflow.db import upgrade_database, upsert_caseload, upsert_people
from ehcp_workflow.db.engine import make_engine
from ehcp_workflow.db.sen2_details import upsert_sen2_details
from ehcp_workflow.exporters import ExportResult, export_sen2
from ehcp_workflow.importers.sen2_details import RequestDetails
from ehcp_workflow.importers.sen2_person_rules import upn_check_letter

LA = "886"
GENERATED = dt.datetime(2026, 2, 2, 10, 30, 5)
OFFICERS = {"dmo": "Y", "dco": "R", "dsco": "N"}


def upn(serial: int) -> str:
    """A valid UPN (DfE modulus-23 check letter) in the placeholder LA 999."""
    body = f"999{serial:09d}"
    return upn_check_letter("A" + body) + body


def person(ref: str, **values: Any) -> dict[str, Any]:
    """Personal fields for ``ref`` (synthetic; a name that is easy to look for in reports)."""
    base: dict[str, Any] = {
        "person_ref": ref,
        "surname": f"Secretname{ref[-4:]}",
        "forename": "Hidden",
        "birth_date": dt.date(2012, 3, 4),
        "sex": "F",
        "ethnicity": "WBRI",
        "postcode": "ZZ1 1ZZ",
    }
    return base | values


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def caseload(rows: Iterable[Mapping[str, Any]], la: str = LA) -> Caseload:
    """A caseload with one row per mapping (dates as ``datetime.date`` or ISO text)."""
    rows = list(rows)
    cases = empty_cases(len(rows))
    for i, row in enumerate(rows):
        for col, value in ({"la": la} | dict(row)).items():
            if col in DATE_COLUMNS:
                cases.loc[i, col] = (
                    np.datetime64(str(value), "s") if value is not None else np.datetime64("NaT")
                )
            else:
                cases.loc[i, col] = value
    return Caseload(cases=cases, source="test")


def people_frame(people: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(people))
    if "birth_date" in frame:
        frame["birth_date"] = pd.to_datetime(frame["birth_date"]).astype("datetime64[s]")
    for col in frame.columns:
        if col != "birth_date":
            frame[col] = frame[col].astype("string")
    return frame


def load_store(
    engine: Engine, rows: Iterable[Mapping[str, Any]], people: Iterable[Mapping[str, Any]]
) -> None:
    with Session(engine) as s:
        upsert_caseload(s, caseload(rows), actor="test")
        frame = people_frame(people)
        if len(frame):
            upsert_people(s, frame, actor="test")


def complete_details(**case: str) -> RequestDetails:
    """Every SEN2-only item a plan active at census needs (a school by URN, one need)."""
    return RequestDetails(
        case={"rya": "0", "request_source": "1", "pb": "0"} | case,
        plan=[{"urn": "100000", "placement_rank": "1", "sen_unit_indicator": "0",
               "resourced_provision_indicator": "0"}],
        placements=[{"urn": "100000", "placement_rank": "1", "entry_date": dt.date(2019, 9, 4),
                     "sen_unit_indicator": "0", "resourced_provision_indicator": "0"}],
        needs=[{"sen_type": "ASD", "sen_type_rank": "1"}],
    )  # fmt: skip


def load_details(engine: Engine, details: Mapping[str, RequestDetails]) -> None:
    with Session(engine) as s:
        upsert_sen2_details(s, details, actor="test", source="test")


def new_store(path: Path) -> Engine:
    url = f"sqlite:///{path}"
    upgrade_database(url)
    return make_engine(url)


def export(engine: Engine, year: int, out: Path, **kwargs: Any) -> ExportResult:
    return export_sen2(engine, year=year, la=LA, out=out, generated_at=GENERATED, **(OFFICERS | kwargs))


def export_sen2_for(engine: Engine, year: int, la: str, out: Path) -> ExportResult:
    """Export council ``la``'s return (officers given, so the header has no findings)."""
    return export_sen2(engine, year=year, la=la, out=out, generated_at=GENERATED, **OFFICERS)


def root(path: Path) -> Element:
    found = parse(str(path)).getroot()
    assert found is not None
    return found


def children(elem: Element) -> list[str]:
    return [c.tag for c in elem]


def requests_of(path: Path) -> dict[str, Element]:
    """The Requests of each person by UPN (or ULN); persons hold one request in these tests."""
    found: dict[str, Element] = {}
    for p in root(path).iter("Person"):
        ref = p.findtext("UPN") or p.findtext("UniqueLearnerNumber") or "?"
        reqs = p.findall("Requests")
        assert len(reqs) == 1, f"{ref}: {len(reqs)} Requests"
        found[ref] = reqs[0]
    return found
