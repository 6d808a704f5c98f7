"""The third-party LIIA sample files in ../shared load: valid cases used, the rest reported.

They were written by another team with their own reading of SEN2 (a 14-character UPN, LastReview
before ReviewMeeting, PlanDetail with URN, UKPRN and SENSetting at once), so they test that files
the project did not write are read, not refused. Skipped where ../shared is absent.
"""

from __future__ import annotations

import pytest

from ehcp_workflow.importers import load_caseload
from ehcp_workflow.importers.sen2 import load_sen2, read_sen2
from ehcp_workflow.problems import InputError, Severity

from .helpers import SAMPLES, assert_no_personal_data, errors, only

CLEAN = ["liia_sen2_sample_2024.xml", "liia_bad_sen2_sample_2024.xml", "liia_sen2_sample_2025.xml"]


@pytest.fixture
def samples():
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent (the shared reference folder is not mounted here)")
    return SAMPLES


@pytest.mark.parametrize("name", CLEAN)
def test_sample_loads_without_errors(samples, name):
    cl = load_caseload(samples / name)
    assert len(cl) == 3
    assert errors(cl.problems) == []
    assert set(cl.cases["la"]) == {"201"}


@pytest.mark.parametrize("name", ["liia_sen2_sample_2024.xml", "liia_sen2_sample_2025.xml"])
def test_fourteen_character_upn_is_a_warning_and_the_case_loads(samples, name):
    cl = load_sen2(samples / name)
    problem = only(cl.problems, person="X1234567898765", field="UPN")
    assert problem.severity is Severity.WARNING
    assert problem.rule == "sen2-R20"
    assert "14 characters" in problem.message
    assert "X1234567898765/1" in set(cl.cases["case_ref"])


def test_bad_sample_differs_only_by_a_13_character_upn(samples):
    cl = load_sen2(samples / "liia_bad_sen2_sample_2024.xml")
    assert "X123456789876/1" in set(cl.cases["case_ref"])
    problem = only(cl.problems, person="X123456789876", field="UPN")
    assert "check letter" in problem.message


def test_sample_quirks_are_warnings(samples):
    cl = load_sen2(samples / "liia_sen2_sample_2024.xml")
    assert only(cl.problems, rule="sen2-R18").field == "LastReview"
    assert {p.rule for p in cl.problems if p.field == "PlanDetail"} == {"sen2-R12"}


def test_2023_sample_reports_its_invalid_person_and_loads_the_rest(samples):
    path = samples / "liia_sen2_sample_2023.xml"
    with pytest.raises(InputError):
        load_sen2(path)
    cl = load_sen2(path, accept_valid=True)
    assert cl.rejected == ("X12345678901200000/1",)
    assert len(cl) == 3
    bad = errors(cl.problems)
    assert {p.person for p in bad} == {"X12345678901200000"}
    assert {p.field for p in bad} == {
        "RequestOutcome",
        "RequestOutcomeDate",
        "AssessmentOutcome",
        "RYA",
        "RequestMediation",
        "RequestTribunal",
    }
    assert all(p.location.startswith("Person 3 (line 135), Requests 1, line ") for p in bad)


@pytest.mark.parametrize("name", [*CLEAN, "liia_sen2_sample_2023.xml"])
def test_no_personal_data_from_samples(samples, name):
    cl, problems = read_sen2(samples / name)
    assert_no_personal_data(samples / name, cl, problems)
