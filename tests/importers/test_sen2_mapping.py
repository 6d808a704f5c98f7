"""SEN2 -> caseload mapping, one fixture per return year (sen2-spec §2, §5, §6)."""

from __future__ import annotations

import pandas as pd
import pytest

from ehcp_workflow.core.caseload import CASE_COLUMNS, EXCEPTION_COLUMNS, empty_cases, normalise_cases
from ehcp_workflow.importers.sen2 import UNRECORDED_ALWAYS, load_sen2, read_sen2, unrecorded_for
from ehcp_workflow.importers.sen2_xml import REDACTED, stream

from .helpers import FIXTURES, assert_no_personal_data, day, row

SPEC_EXAMPLE = FIXTURES / "spec_example_2026.xml"
YEAR_FIXTURES = {
    2023: FIXTURES / "sen2_2023.xml",
    2024: FIXTURES / "sen2_2024.xml",
    2025: FIXTURES / "sen2_2025.xml",
    2026: SPEC_EXAMPLE,
}
LATER_ITEMS = {
    "review_meeting",
    "review_outcome",
    "amendment_notice",
    "phase_transfer_due",
    "phase_transfer_final",
}


@pytest.mark.parametrize("year", sorted(YEAR_FIXTURES))
def test_each_return_year_loads_clean(year):
    caseload = load_sen2(YEAR_FIXTURES[year])
    assert caseload.problems == ()
    assert caseload.source == f"sen2:{year}"
    assert list(caseload.cases.columns) == list(CASE_COLUMNS)
    assert caseload.cases["case_ref"].is_unique
    assert caseload.advice.empty


@pytest.mark.parametrize("year", sorted(YEAR_FIXTURES))
def test_cases_are_in_contract_dtypes(year):
    cases = load_sen2(YEAR_FIXTURES[year]).cases
    assert cases.dtypes.to_dict() == empty_cases().dtypes.to_dict()
    pd.testing.assert_frame_equal(normalise_cases(cases), cases)


@pytest.mark.parametrize("year", sorted(YEAR_FIXTURES))
def test_no_personal_data_in_caseload(year):
    path = YEAR_FIXTURES[year]
    caseload, problems = read_sen2(path)
    assert_no_personal_data(path, caseload, problems)


def test_personal_fields_are_redacted_as_they_are_read():
    persons = [e.node for e in stream(SPEC_EXAMPLE, "x") if hasattr(e, "number")]
    texts = {c.key: c.text for c in persons[0].children}
    for key in ("surname", "forename", "personbirthdate", "sex", "ethnicity", "postcode"):
        assert texts[key] == REDACTED
    assert texts["upn"] == "B999200024001"


def test_spec_example_five_people():
    cl = load_sen2(SPEC_EXAMPLE)
    assert list(cl.cases["case_ref"]) == [
        "B999200024001/1",
        "K999200019002/1",
        "J999400012003/1",
        "N999200019004/1",
        "Y999400013005/1",
    ]
    assert set(cl.cases["la"]) == {"999"}
    refused = row(cl, "B999200024001/1")
    assert refused["request_received"] == day("2025-03-03")
    assert refused["request_outcome"] == "N"
    assert refused["request_outcome_date"] == day("2025-04-11")
    assert pd.isna(refused["assessment_outcome"])
    issued = row(cl, "K999200019002/1")
    assert (issued["request_outcome"], issued["assessment_outcome"]) == ("Y", "Y")
    assert issued["assessment_outcome_date"] == day("2025-05-30")
    assert issued["plan_start"] == day("2025-05-30")
    assert pd.isna(issued["exception_final_plan"])  # Week20 = 0
    open_assessment = row(cl, "J999400012003/1")
    assert open_assessment["assessment_outcome"] == "A"
    assert pd.isna(open_assessment["assessment_outcome_date"])
    review = row(cl, "N999200019004/1")
    assert (review["request_outcome"], review["assessment_outcome"]) == ("H", "H")
    assert pd.isna(review["request_received"])
    assert review["plan_start"] == day("2021-06-25")
    assert review["review_meeting"] == day("2025-10-14")
    assert review["review_outcome"] == "A"
    assert review["amendment_notice"] == day("2025-11-07")
    assert review["review_decision_letter"] == day("2025-11-07")
    assert review["phase_transfer_due"] == day("2026-02-15")
    assert review["phase_transfer_final"] == day("2026-01-09")
    late = row(cl, "Y999400013005/1")
    assert late["exception_final_plan"] == "unspecified"  # Week20 = 1
    assert late["assessment_outcome_date"] == day("2025-11-14")


def test_2023_layout():
    cl = load_sen2(YEAR_FIXTURES[2023])
    assert cl.unrecorded == UNRECORDED_ALWAYS | LATER_ITEMS
    old_plan = row(cl, "Q201230000101/1")
    assert old_plan["plan_start"] == day("2019-03-01")
    assert old_plan["review_decision_letter"] == day("2022-11-20")
    uln_only = row(cl, "1234567890/1")  # no UPN: person_ref is the ULN
    assert uln_only["person_ref"] == "1234567890"
    assert uln_only["assessment_outcome_date"] == day("2022-08-19")


def test_2024_layout_mixed_case_names_and_several_requests():
    cl = load_sen2(YEAR_FIXTURES[2024])
    assert cl.unrecorded == UNRECORDED_ALWAYS | {
        "amendment_notice",
        "phase_transfer_due",
        "phase_transfer_final",
    }
    first, second = row(cl, "J201240000201/1"), row(cl, "J201240000201/2")
    assert first["request_outcome"] == "N"  # <requestoutcome>
    assert first["request_outcome_date"] == day("2023-03-10")
    assert second["request_received"] == day("2023-04-03")  # <RECEIVEDDATE>
    assert second["assessment_outcome_date"] == day("2023-08-18")  # order-independent
    assert second["plan_start"] == day("2023-08-18")  # <namedPlan><startdate> after PlanDetail
    transfer = row(cl, "Y201240000202/1")
    assert transfer["transfer_in_from"] == "305"
    assert transfer["review_meeting"] == day("2023-11-02")
    assert transfer["review_outcome"] == "M"
    assert transfer["review_decision_letter"] == day("2023-11-20")
    exported = row(cl, "person-3/1")  # UPNunknown: the Person's position in the file
    assert exported["person_ref"] == "person-3"
    assert exported["exported_to"] == "888"
    assert exported["assessment_outcome"] == "W"


def test_2025_layout():
    cl = load_sen2(YEAR_FIXTURES[2025])
    assert cl.unrecorded == UNRECORDED_ALWAYS
    ceased = row(cl, "C201250000301/1")
    assert ceased["exception_final_plan"] == "unspecified"
    assert ceased["plan_ceased"] == day("2024-12-20")
    assert ceased["cease_reason"] == "7"
    phase = row(cl, "R201250000302/1")
    assert phase["review_meeting"] == day("2024-10-01")
    assert phase["review_decision_letter"] == day("2024-10-20")
    assert phase["review_outcome"] == "A"
    assert phase["amendment_notice"] == day("2024-10-25")
    assert phase["phase_transfer_due"] == day("2025-02-15")
    assert phase["phase_transfer_final"] == day("2025-01-10")
    withdrawn = row(cl, "9876543210/1")
    assert withdrawn["request_outcome"] == "W"
    not_issued = row(cl, "F201250000303/1")
    assert (not_issued["assessment_outcome"], not_issued["assessment_outcome_date"]) == (
        "N",
        day("2024-06-14"),
    )


def test_unrecorded_contract_columns():
    expected = {
        "draft_plan_served",
        "review_report_sent",
        "amended_plan_issued",
        "transfer_in_date",
        "transfer_in_notice_sent",
        "transfer_out_aware",
        "transfer_out_completed",
        "transfer_out_move",
        "reassessment_requested",
        "reassessment_decision_date",
        "reassessed_plan_issued",
        "reassessment_agreed",
        "appealable_decision_date",
        "mediation_certificate_date",
        "appeal_lodged",
        "phase_transfer_date",
        "phase_transfer_type",
        "team",
        "caseworker",
        "advice",
        *(c for c in EXCEPTION_COLUMNS if c != "exception_final_plan"),
    }
    assert unrecorded_for(2026) == expected
    assert unrecorded_for(2023) == expected | LATER_ITEMS
    assert set(unrecorded_for(2023)) - {"advice"} <= set(CASE_COLUMNS)
    # Every column SEN2 does record is filled somewhere in the fixtures.
    recorded = set(CASE_COLUMNS) - unrecorded_for(2026)
    filled = set()
    for path in YEAR_FIXTURES.values():
        cases = load_sen2(path).cases
        filled |= {c for c in cases.columns if cases[c].notna().any()}
    assert recorded <= filled


def test_unrecorded_columns_stay_empty():
    cl = load_sen2(SPEC_EXAMPLE)
    for col in cl.unrecorded - {"advice"}:
        assert cl.cases[col].isna().all(), col
