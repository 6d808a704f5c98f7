"""The SEN2 items no clock reads, read from a return so that the store can keep them.

:mod:`.sen2` turns each ``Requests`` into a case row for the clocks, and deliberately reads
nothing else (it even redacts the free text ``SENSettingOther``). A return also carries what DfE
needs back next January: the request's source and RYA flag, the mediation and tribunal flags, the
plan's Section I settings (``PlanDetail``), its residential / work-based / personal-budget items,
the placements attended (``PlacementDetail``) and the types of need (``SENneed``). This module reads
exactly those, one :class:`RequestDetails` per ``Requests`` **in file order**, so that the n-th
entry belongs to the n-th case row the importer builds (whatever reference it gives the case).

Values are kept as written (stripped; empty is missing): codes are checked by the importer's rules
(warnings) and by the export's checks for the year in hand. A date that is not ``ccyy-mm-dd`` is
left missing (the importer reports it). The file is streamed with ``defusedxml`` and each
``Person`` is dropped once read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import iterparse

from ehcp_workflow.importers.values import parse_iso_date

PathLike = str | os.PathLike[str]
DetailValue = str | date | None

#: Once-per-request items: (block, element) -> ``sen2_case_detail`` column (sen2-spec §2.2).
CASE_ITEMS: dict[tuple[str, str], str] = {
    ("requests", "requestsource"): "request_source",
    ("requests", "rya"): "rya",
    ("requests", "requestmediation"): "request_mediation",
    ("requests", "requesttribunal"): "request_tribunal",
    ("assessment", "assessmentmediation"): "assessment_mediation",
    ("assessment", "assessmenttribunal"): "assessment_tribunal",
    ("assessment", "othermediation"): "other_mediation",
    ("assessment", "othertribunal"): "other_tribunal",
    ("namedplan", "planres"): "plan_res",
    ("namedplan", "planwbp"): "plan_wbp",
    ("namedplan", "pb"): "pb",
    ("namedplan", "oa"): "oa",
    ("namedplan", "dp"): "dp",
    ("activeplans", "res"): "active_res",  # 2023 layout
    ("activeplans", "wbp"): "active_wbp",
}
CASE_COLUMNS: tuple[str, ...] = tuple(CASE_ITEMS.values())
#: PlanDetail / PlacementDetail element -> ``sen2_setting`` column.
SETTING_ITEMS: dict[str, str] = {
    "urn": "urn",
    "ukprn": "ukprn",
    "sensetting": "sen_setting",
    "sensettingother": "sen_setting_other",
    "placementrank": "placement_rank",
    "senunitindicator": "sen_unit_indicator",
    "resourcedprovisionindicator": "resourced_provision_indicator",
    "entrydate": "entry_date",
    "leavingdate": "leaving_date",
    "attendancepattern": "attendance_pattern",
    "res": "res",
    "wbp": "wbp",
}
SETTING_COLUMNS: tuple[str, ...] = tuple(SETTING_ITEMS.values())
SETTING_DATES = frozenset({"entry_date", "leaving_date"})
NEED_ITEMS: dict[str, str] = {"sentype": "sen_type", "sentyperank": "sen_type_rank"}
NEED_COLUMNS: tuple[str, ...] = tuple(NEED_ITEMS.values())
#: Module 1 (Person) items as the store's ``person`` columns: what an import may write there.
PERSON_COLUMNS: tuple[str, ...] = (
    "upn",
    "uln",
    "upn_unknown",
    "surname",
    "forename",
    "birth_date",
    "sex",
    "ethnicity",
    "postcode",
)
#: Codes of the single-valued items (sen2-spec §3.3, §3.7, §3.8, §3.14), for every reader and check.
ITEM_CODES: dict[str, frozenset[str]] = {
    "request_source": frozenset("12345"),
    "plan_res": frozenset("AB"),
    "plan_wbp": frozenset("ATS"),
    "dp": frozenset("ESHI"),
    "active_res": frozenset("AB"),
    "active_wbp": frozenset("ATS"),
    "res": frozenset("AB"),
    "wbp": frozenset("ATS"),
    "attendance_pattern": frozenset({"FT", "PT"}),
}
#: The 0/1 flag items of a request.
FLAG_ITEMS: tuple[str, ...] = (
    "rya",
    "request_mediation",
    "request_tribunal",
    "assessment_mediation",
    "assessment_tribunal",
    "other_mediation",
    "other_tribunal",
    "pb",
    "oa",
)

Row = dict[str, DetailValue]


@dataclass
class RequestDetails:
    """The SEN2-only items of one request (a case); empty when the return carries none."""

    case: dict[str, str] = field(default_factory=dict)  # sen2_case_detail column -> value
    plan: list[Row] = field(default_factory=list)  # PlanDetail, in file order
    placements: list[Row] = field(default_factory=list)  # PlacementDetail, in file order
    needs: list[Row] = field(default_factory=list)  # SENneed, in file order

    def __bool__(self) -> bool:
        return bool(self.case or self.plan or self.placements or self.needs)


@dataclass
class Sen2Details:
    """Every request's details, in file order, and the return year (None if the file has none)."""

    year: int | None
    requests: list[RequestDetails]


def _key(tag: str) -> str:
    return tag.rpartition("}")[2].lower()


def _text(elem: Element) -> str | None:
    return (elem.text or "").strip() or None


def _row(elem: Element, items: dict[str, str], dates: frozenset[str] = frozenset()) -> Row:
    row: Row = {}
    for child in elem:
        column = items.get(_key(child.tag))
        text = _text(child)
        if column is None or text is None or column in row:
            continue
        row[column] = parse_iso_date(text) if column in dates else text
    return row


def _request(req: Element) -> RequestDetails:
    out = RequestDetails()

    def take(block: str, elem: Element) -> None:
        for child in elem:
            key = _key(child.tag)
            column = CASE_ITEMS.get((block, key))
            text = _text(child)
            if column is not None and text is not None:
                out.case.setdefault(column, text)
            elif key == "assessment" and block == "requests":
                take("assessment", child)
            elif key == "namedplan" and block == "assessment":
                take("namedplan", child)
            elif key == "activeplans" and block == "requests":
                take("activeplans", child)
            elif key == "plandetail" and block == "namedplan":
                out.plan.append(_row(child, SETTING_ITEMS, SETTING_DATES))
            elif key == "placementdetail" and block == "activeplans":
                out.placements.append(_row(child, SETTING_ITEMS, SETTING_DATES))
            elif key == "senneed" and block == "activeplans":
                out.needs.append(_row(child, NEED_ITEMS))

    take("requests", req)
    return out


def read_sen2_details(path: PathLike) -> Sen2Details:
    """The SEN2-only items of every ``Requests`` of the return at ``path``, in file order."""
    year: int | None = None
    requests: list[RequestDetails] = []
    stack: list[Element] = []
    with Path(path).open("rb") as fh:
        for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                stack.append(elem)
                continue
            stack.pop()
            key = _key(elem.tag)
            if key == "year" and year is None and stack and _key(stack[-1].tag) == "collectiondetails":
                text = _text(elem)
                year = int(text) if text is not None and text.isdigit() else None
            elif key == "person":
                requests.extend(_request(r) for r in elem if _key(r.tag) == "requests")
                elem.clear()
                if stack:
                    stack[-1].remove(elem)  # keep memory flat
    return Sen2Details(year, requests)
