"""The pre-submission checks on deliberately broken store rows (sen2-spec §4.3)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ehcp_workflow.exporters import CheckSeverity, ExportResult, Finding

from .helpers import complete_details, export, load_details, load_store, new_store, person, upn

GOOD_PLAN = {"request_outcome": "H", "assessment_outcome": "H", "plan_start": "2019-01-01"}
BAD_UPN = upn(3)[0:12] + str((int(upn(3)[12]) + 1) % 10)  # last digit changed: check letter wrong

ROWS = [
    # R2: agreed to assess, no date the family was told; R7 needs nothing more
    {"case_ref": "B1", "person_ref": "P1", "request_received": "2025-02-01", "request_outcome": "Y"},
    # R4: decided before it was received
    {
        "case_ref": "B2",
        "person_ref": "P2",
        "request_received": "2025-03-01",
        "request_outcome": "N",
        "request_outcome_date": "2025-02-01",
    },
    # R6: not to issue, no date; person with a UPN whose check letter is wrong
    {
        "case_ref": "B3",
        "person_ref": "P3",
        "request_received": "2025-01-10",
        "request_outcome": "Y",
        "request_outcome_date": "2025-02-10",
        "assessment_outcome": "N",
    },
    # R17: ceased in the year without a reason
    {"case_ref": "B4", "person_ref": "P4", **GOOD_PLAN, "plan_ceased": "2025-05-01"},
    # R22: TransferLA is not an LA number
    {"case_ref": "B5", "person_ref": "P5", **GOOD_PLAN, "transfer_in_from": "Kent"},
    # duplicate UPN (P6 and P7 share one); P7's person has no surname and no sex
    {"case_ref": "B6", "person_ref": "P6", **GOOD_PLAN},
    {"case_ref": "B7", "person_ref": "P7", **GOOD_PLAN},
    # a clean case, to show it draws nothing
    {"case_ref": "B8", "person_ref": "P8", **GOOD_PLAN},
]
PEOPLE = [
    person("P1", upn=upn(1)),
    person("P2", upn=upn(2)),
    person("P3", upn=BAD_UPN),
    person("P4", upn=upn(4)),
    person("P5", uln="1234567890"),
    person("P6", upn=upn(6)),
    person("P7", upn=upn(6), surname=None, sex=None),
    person("P8", upn=upn(8)),
]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    tmp = tmp_path_factory.mktemp("checks")
    engine: Engine = new_store(tmp / "store.db")
    load_store(engine, ROWS, PEOPLE)
    load_details(engine, {r["case_ref"]: complete_details() for r in ROWS if r["case_ref"] != "B6"})
    out = export(engine, 2026, tmp / "sen2_2026.xml", dmo=None)
    engine.dispose()
    return out


def _find(result: ExportResult, **match: str) -> list[Finding]:
    return [f for f in result.findings if all(str(getattr(f, k)) == v for k, v in match.items())]


@pytest.mark.parametrize(
    ("rule", "person", "case_ref", "item"),
    [
        ("R2", upn(1), "B1", "RequestOutcomeDate"),
        ("R4", upn(2), "B2", "RequestOutcomeDate"),
        ("R6", BAD_UPN, "B3", "AssessmentOutcomeDate"),
        ("R20", BAD_UPN, "", "UPN"),
        ("R17", upn(4), "B4", "CeaseReason"),
        ("R22", "1234567890", "B5", "TransferLA"),
        ("duplicate", upn(6), "", "UPN"),
        ("person", upn(6), "", "Surname"),
        ("R21", upn(6), "", "Sex"),
        ("header", "", "", "DMO"),
    ],
)
def test_each_broken_row_is_an_error_naming_person_and_item(
    result: ExportResult, rule: str, person: str, case_ref: str, item: str
) -> None:
    found = _find(result, rule=rule, person=person, case_ref=case_ref, item=item)
    assert len(found) == 1, [str(f) for f in result.findings if f.rule == rule]
    assert found[0].severity is CheckSeverity.ERROR


def test_the_return_fails_but_is_still_written(result: ExportResult) -> None:
    assert not result.passed
    assert result.path.exists() and result.persons == len(PEOPLE)
    assert not _find(result, person=upn(8), severity="error")  # the clean person draws no error


@pytest.mark.parametrize(
    ("module", "item"),
    [
        ("Module 4 NamedPlan", "PlanDetail"),
        ("Module 4 NamedPlan", "PB"),
        ("Module 5 ActivePlans", "PlacementDetail"),
        ("Module 5 ActivePlans", "SENneed"),
    ],
)
def test_a_missing_mandatory_item_is_an_error_naming_person_module_and_item(
    result: ExportResult, module: str, item: str
) -> None:
    """B6's plan has none of its SEN2-only items in the store."""
    found = _find(result, person=upn(6), case_ref="B6", item=item, severity="error")
    assert len(found) == 1
    assert found[0].module == module
    assert module in str(found[0]) and upn(6) in str(found[0]) and item in str(found[0])


def test_report_csv_beside_the_xml_errors_first_no_names(result: ExportResult) -> None:
    assert result.report == result.path.with_name("sen2_2026.checks.csv")
    text = result.report.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["severity", "rule", "person", "case_ref", "module", "item", "message"]
    assert len(rows) == len(result.findings)
    severities = [r["severity"] for r in rows]
    rank = {"error": 0, "query": 1, "excluded": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
    assert {r["severity"] for r in rows} == {"error", "query", "excluded"}
    for p in PEOPLE:  # names, birth dates and postcodes never appear in the report
        for secret in (p["surname"], p["forename"], p["postcode"], p["birth_date"].isoformat()):
            if secret:
                assert secret not in text


def test_missing_officer_is_an_error_only_where_mandatory(tmp_path: Path) -> None:
    engine = new_store(tmp_path / "store.db")
    load_store(engine, [ROWS[-1]], [PEOPLE[-1]])
    for year, dsco_severity in ((2024, None), (2025, CheckSeverity.QUERY), (2026, CheckSeverity.ERROR)):
        result = export(engine, year, tmp_path / f"{year}.xml", dsco=None)
        found = [f.severity for f in result.findings if f.item == "DSCO"]
        assert found == ([dsco_severity] if dsco_severity else [])
    engine.dispose()


def test_an_empty_return_is_an_error(tmp_path: Path) -> None:
    engine = new_store(tmp_path / "store.db")
    result = export(engine, 2026, tmp_path / "empty.xml")
    engine.dispose()
    assert [f.item for f in result.errors] == ["Persons"]
    assert "<Persons>" not in result.path.read_text(encoding="utf-8")
