"""Small hand-built caseloads for the store tests: every contract column gets a value somewhere."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ehcp_workflow.core.caseload import (
    ADVICE_COLUMNS,
    CASE_COLUMNS,
    DATE_COLUMNS,
    EXCEPTION_START_COLUMNS,
    Caseload,
    empty_advice,
    empty_cases,
    normalise_advice,
    normalise_cases,
)

#: Case 1 has every column filled; case 2 a request still awaiting a decision; case 3 no person.
FULL: dict[str, Any] = {
    "case_ref": "C-001",
    "person_ref": "P-1",
    "la": "E09000001",
    "team": "north",
    "caseworker": "alice",
    "request_outcome": "Y",
    "assessment_outcome": "Y",
    "review_outcome": "A",
    "phase_transfer_type": "school",
    "exported_to": "E09000002",
    "transfer_in_from": "E09000003",
    "cease_reason": "moved",
    "reassessment_agreed": True,
    "exception_decision_to_assess": "c",
    "exception_decision_not_to_issue": "unspecified",
    "exception_final_plan": "d",
    "exception_reassessed_plan": "a",
}


def _dates(start: str) -> dict[str, np.datetime64]:
    base = np.datetime64(start, "D")
    return {col: (base + 7 * i).astype("datetime64[s]") for i, col in enumerate(DATE_COLUMNS)}


def make_caseload(
    source: str = "test.csv", unrecorded: frozenset[str] = frozenset({"review_report_sent"})
) -> Caseload:
    cases = empty_cases(3)
    rows: list[dict[str, Any]] = [
        {**FULL, **_dates("2023-01-02")},
        {
            "case_ref": "C-002",
            "person_ref": "P-2",
            "la": "E09000001",
            "team": "south",
            "caseworker": "bob",
            "request_received": np.datetime64("2026-10-01", "s"),
            "request_outcome": "A",
            "reassessment_agreed": False,
        },
        {"case_ref": "C-003", "la": "E09000001", "request_received": np.datetime64("2026-09-01", "s")},
    ]
    for i, row in enumerate(rows):
        for col, value in row.items():
            cases.loc[i, col] = value
    advice = empty_advice(4)
    adv = [
        ("C-001", "educational_psychology", "2023-02-01", "2023-03-01", None),
        ("C-001", "educational_psychology", "2023-04-01", None, "e"),
        ("C-001", "paediatrics", "2023-02-01", "2023-03-20", "c"),
        ("C-002", "social_care", "2026-10-10", None, None),
    ]
    for i, (ref, provider, requested, received, exc) in enumerate(adv):
        advice.loc[i, "case_ref"] = ref
        advice.loc[i, "provider"] = provider
        advice.loc[i, "requested"] = np.datetime64(requested, "s")
        advice.loc[i, "received"] = np.datetime64(received, "s") if received else np.datetime64("NaT", "s")
        advice.loc[i, "exception"] = exc if exc else pd.NA
    return Caseload(cases=cases, advice=advice, unrecorded=unrecorded, source=source)


def sorted_caseload(caseload: Caseload) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases and advice in the store's order (by case_ref; advice by case, provider, date)."""
    cases = normalise_cases(caseload.cases)[list(CASE_COLUMNS)].sort_values("case_ref").reset_index(drop=True)
    advice = (
        normalise_advice(caseload.advice)[list(ADVICE_COLUMNS)]
        .sort_values(["case_ref", "provider", "requested"])
        .reset_index(drop=True)
    )
    return cases, advice


def assert_same_caseload(got: Caseload, expected: Caseload) -> None:
    exp_cases, exp_advice = sorted_caseload(expected)
    # the store adds each exception's period start (a ground applies from it); the contract round-trips
    assert set(EXCEPTION_START_COLUMNS) <= set(got.cases.columns)
    pd.testing.assert_frame_equal(got.cases[list(CASE_COLUMNS)], exp_cases)
    pd.testing.assert_frame_equal(got.advice, exp_advice)
    assert got.unrecorded == expected.unrecorded
    assert got.source == expected.source


@pytest.fixture
def caseload() -> Caseload:
    return make_caseload()


@pytest.fixture(name="make_caseload")
def make_caseload_fixture() -> Any:
    """The factory itself, for tests that need a second, changed copy."""
    return make_caseload


@pytest.fixture(name="assert_same_caseload")
def assert_same_caseload_fixture() -> Any:
    return assert_same_caseload
