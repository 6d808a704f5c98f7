"""The element names, order and items of each return year (sen2-spec §2.2-§2.3, §5)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ehcp_workflow.exporters import CENSUS_DAYS
from ehcp_workflow.importers.sen2_details import RequestDetails

from .helpers import LA, children, export, load_details, load_store, new_store, person, root, upn
from .xsd import XSD_DIR, schema_errors


#: A request of the collection year with everything the store can carry: agreed, plan issued with
#: a 20-week exception, transferred in (sic: the store allows it), reviewed with a decision to amend,
#: a phase transfer due in February of the return year, ceased on the last day of the year.
def full_case(year: int) -> dict[str, object]:
    y = year - 1
    return {
        "case_ref": "C1",
        "person_ref": upn(1),
        "request_received": f"{y}-03-01",
        "request_outcome": "Y",
        "request_outcome_date": f"{y}-04-10",
        "assessment_outcome": "Y",
        "assessment_outcome_date": f"{y}-07-01",
        "exception_final_plan": "c",
        "plan_start": f"{y}-07-01",
        "plan_ceased": f"{y}-12-31",
        "cease_reason": "3",
        "transfer_in_from": "887",
        "transfer_in_date": f"{y}-06-01",
        "review_meeting": f"{y}-10-01",
        "review_outcome": "A",
        "review_decision_letter": f"{y}-10-20",
        "amendment_notice": f"{y}-11-10",
        "phase_transfer_type": "school",
        "phase_transfer_date": f"{year}-09-01",
        "phase_transfer_final": f"{y}-12-15",
    }


def full_details(year: int) -> RequestDetails:
    """Every SEN2-only item, with values that are right for every year."""
    y = year - 1
    return RequestDetails(
        case={
            "request_source": "2", "rya": "0", "request_mediation": "0", "request_tribunal": "1",
            "assessment_mediation": "0", "assessment_tribunal": "0", "other_mediation": "1",
            "other_tribunal": "0", "plan_res": "A", "plan_wbp": "S", "pb": "1", "oa": "1", "dp": "I",
            "active_res": "B", "active_wbp": "A",
        },
        plan=[{"urn": "100001", "placement_rank": "1", "sen_unit_indicator": "0",
               "resourced_provision_indicator": "1"}],
        placements=[
            {"urn": "100001", "placement_rank": "1", "entry_date": dt.date(y, 7, 1),
             "leaving_date": dt.date(y, 12, 31), "attendance_pattern": "FT", "sen_unit_indicator": "0",
             "resourced_provision_indicator": "1", "res": "A", "wbp": "T"},
        ],
        needs=[{"sen_type": "ASD", "sen_type_rank": "1"}, {"sen_type": "SLCN", "sen_type_rank": "2"}],
    )  # fmt: skip


PERSON = {
    2023: ["Surname", "Forename", "PersonBirthDate", "GenderCurrent", "Ethnicity", "PostCode", "UPN"],
    2024: ["Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity", "PostCode", "UPN"],
}
PERSON[2025] = PERSON[2026] = PERSON[2024]
_NEEDS = ["PlacementDetail", "SENneed", "SENneed"]
ACTIVE_PLANS = {
    2023: ["TransferLA", "PlacementDetail", "Res", "WBP", "SENneed", "SENneed", "LastReview"],
    2024: ["TransferLA", *_NEEDS, "ReviewMeeting", "ReviewOutcome", "LastReview"],
    # sen2-spec §2.3: LIIA's 2025 order (LastReview after ReviewMeeting)
    2025: [
        "TransferLA",
        *_NEEDS,
        "ReviewMeeting",
        "LastReview",
        "ReviewOutcome",
        "ReviewDraft",
        "PhaseTransferDueDate",
        "PhaseTransferFinalDate",
    ],
    # 2026: LastReview at the end of ActivePlans
    2026: [
        "TransferLA",
        *_NEEDS,
        "ReviewMeeting",
        "ReviewOutcome",
        "ReviewDraft",
        "PhaseTransferDueDate",
        "PhaseTransferFinalDate",
        "LastReview",
    ],
}
SOURCE = ["SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime", "DMO", "DCO"]


@pytest.fixture(scope="module", params=[2023, 2024, 2025, 2026])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    year = int(request.param)
    tmp = tmp_path_factory.mktemp(f"layout{year}")
    engine = new_store(tmp / "store.db")
    load_store(engine, [full_case(year)], [person(upn(1), upn=upn(1), uln="1234567890")])
    load_details(engine, {"C1": full_details(year)})
    out = tmp / f"sen2_{year}.xml"
    result = export(engine, year, out)
    engine.dispose()
    assert result.persons == 1 and result.passed, result.errors
    return year, out


def test_header(exported: tuple[int, Path]) -> None:
    year, out = exported
    msg = root(out)
    assert msg.tag == "Message" and children(msg) == ["Header", "Persons"]
    header = msg.find("Header")
    assert header is not None and children(header) == ["CollectionDetails", "Source"]
    assert [(e.tag, e.text) for e in msg.find("Header/CollectionDetails") or []] == [
        ("Collection", "SEN2"),
        ("Year", str(year)),
        ("ReferenceDate", CENSUS_DAYS[year].isoformat()),
    ]
    source = msg.find("Header/Source")
    assert source is not None
    assert children(source) == SOURCE + (["DSCO"] if year >= 2025 else [])
    assert source.findtext("LEA") == LA
    assert source.findtext("DateTime") == "2026-02-02T10:30:05"  # generated_at, never the clock
    assert source.findtext("SerialNo") == "001"


def test_element_order_of_the_year(exported: tuple[int, Path]) -> None:
    year, out = exported
    p = root(out).find("Persons/Person")
    assert p is not None
    assert children(p) == [*PERSON[year], "UniqueLearnerNumber", "Requests"]
    req = p.find("Requests")
    assert req is not None
    assert children(req) == [
        "ReceivedDate",
        *(["RequestSource"] if year >= 2025 else []),
        "RYA",
        "RequestOutcomeDate",
        "RequestOutcome",
        "RequestMediation",
        "RequestTribunal",
        "Assessment",
        "ActivePlans",
    ]
    ass = req.find("Assessment")
    assert ass is not None
    assert children(ass) == [
        "AssessmentOutcome",
        "AssessmentOutcomeDate",
        "AssessmentMediation",
        "AssessmentTribunal",
        "OtherMediation",
        "OtherTribunal",
        "Week20",
        "NamedPlan",
    ]
    plan = ass.find("NamedPlan")
    assert plan is not None
    assert children(plan) == [
        "StartDate", "PlanDetail", "PlanRes", "PlanWBP", "PB", "OA", "DP", "CeaseDate", "CeaseReason"
    ]  # fmt: skip
    assert children(plan.find("PlanDetail")) == [
        "URN", "PlacementRank", "SENunitIndicator", "ResourcedProvisionIndicator"
    ]  # fmt: skip
    active = req.find("ActivePlans")
    assert active is not None and children(active) == ACTIVE_PLANS[year]
    placement = ["URN", "PlacementRank", "EntryDate", "LeavingDate"]
    placement += (
        ["AttendancePattern", "SENunitIndicator", "ResourcedProvisionIndicator"]
        if year == 2023
        else ["SENunitIndicator", "ResourcedProvisionIndicator", "Res", "WBP"]
    )
    assert children(active.find("PlacementDetail")) == placement
    assert children(active.find("SENneed")) == ["SENtype", "SENtypeRank"]


@pytest.mark.skipif(not XSD_DIR.is_dir(), reason="../shared/reference/sen2-xsd is not on this machine")
def test_every_item_validates_against_the_schema_of_its_year(exported: tuple[int, Path]) -> None:
    """A return carrying every item the store holds, against the third-party XSD of its year
    (tests/exporters/xsd.py lists the schema defects excused, each recognised exactly)."""
    year, out = exported
    assert schema_errors(out, year) == []


def test_values_and_codes_of_the_year(exported: tuple[int, Path]) -> None:
    year, out = exported
    p = root(out).find("Persons/Person")
    assert p is not None
    if year == 2023:
        assert p.findtext("GenderCurrent") == "2"  # stored F
    else:
        assert p.findtext("Sex") == "F"
    active = p.find("Requests/ActivePlans")
    assert active is not None
    assert active.findtext("TransferLA") == "887"
    assert active.findtext("LastReview") == f"{year - 1}-10-20"
    if year >= 2025:
        # reg 18(1)(b) "before 15 February", engine default reading: 14 February
        assert active.findtext("PhaseTransferDueDate") == f"{year}-02-14"
        assert active.findtext("PhaseTransferFinalDate") == f"{year - 1}-12-15"
    assert p.findtext("Requests/Assessment/Week20") == "1"


def test_flags_are_0_or_1_and_no_element_is_empty(exported: tuple[int, Path]) -> None:
    _, out = exported
    text = out.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Message>\n')
    assert not re.search(r"<\w+\s*/>", text), "self-closing (empty) element"
    assert not re.search(r"<(\w+)>\s*</\1>", text), "empty element"
    for elem in root(out).iter():
        if len(elem) == 0:
            assert elem.text and elem.text.strip() == elem.text, f"{elem.tag} has no value"
    for flag in ("Week20", "RYA", "RequestMediation", "RequestTribunal", "PB", "OA", "SENunitIndicator"):
        for elem in root(out).iter(flag):
            assert elem.text in ("0", "1"), f"{flag}={elem.text!r}"


def test_2027_uses_the_2026_layout_with_a_query(tmp_path: Path) -> None:
    engine = new_store(tmp_path / "store.db")
    load_store(engine, [full_case(2027)], [person(upn(1), upn=upn(1))])
    load_details(engine, {"C1": full_details(2027)})
    result = export(engine, 2027, tmp_path / "sen2_2027.xml")
    engine.dispose()
    assert result.census.isoformat() == "2027-01-21"
    assert (result.period_start.isoformat(), result.period_end.isoformat()) == ("2026-01-01", "2026-12-31")
    assert "year" in {f.rule for f in result.queries if f.person == ""}
    active = root(result.path).find("Persons/Person/Requests/ActivePlans")
    assert active is not None and children(active) == ACTIVE_PLANS[2026]


def test_a_year_without_a_census_day_is_refused(tmp_path: Path) -> None:
    engine = new_store(tmp_path / "store.db")
    with pytest.raises(ValueError, match="no SEN2 census day is known for 2022"):
        export(engine, 2022, tmp_path / "x.xml")
    engine.dispose()
    assert not list(tmp_path.glob("*.xml"))
