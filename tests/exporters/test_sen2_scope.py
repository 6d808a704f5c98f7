"""Which cases a return holds, and how each looks as at census day (sen2-spec §4.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ehcp_workflow.db import record_event

from .helpers import (
    complete_details,
    d,
    export,
    load_details,
    load_store,
    new_store,
    person,
    requests_of,
    upn,
)

WHO = {"actor": "test", "source": "command:test", "reason": "test"}

#: name -> case (the person's UPN is upn(i) for the i-th case). Census 2025: 16 January 2025.
CASES: dict[str, dict[str, object]] = {
    "ceased_2024": {
        "request_outcome": "H",
        "assessment_outcome": "H",
        "plan_start": "2019-05-01",
        "plan_ceased": "2024-06-30",
        "cease_reason": "2",
    },
    "ceased_2023": {
        "request_outcome": "H",
        "assessment_outcome": "H",
        "plan_start": "2019-05-01",
        "plan_ceased": "2023-06-30",
        "cease_reason": "4",
    },
    "refused_2023": {
        "request_received": "2023-02-01",
        "request_outcome": "N",
        "request_outcome_date": "2023-03-10",
    },
    "refused_2024": {
        "request_received": "2024-02-01",
        "request_outcome": "N",
        "request_outcome_date": "2024-03-10",
    },
    "decided_after_census": {
        "request_received": "2024-12-20",
        "request_outcome": "Y",
        "request_outcome_date": "2025-01-20",
        "assessment_outcome": "A",
    },
    "received_after_year": {"request_received": "2025-01-05", "request_outcome": "A"},
    "received_after_census": {"request_received": "2025-01-20", "request_outcome": "A"},
    "backlog": {
        "request_received": "2023-05-01",
        "request_outcome": "Y",
        "request_outcome_date": "2023-06-10",
        "assessment_outcome": "A",
    },
    "issued_2023": {
        "request_received": "2023-03-01",
        "request_outcome": "Y",
        "request_outcome_date": "2023-04-10",
        "assessment_outcome": "Y",
        "assessment_outcome_date": "2023-08-01",
        "plan_start": "2023-08-01",
        "exception_final_plan": "a",
    },
    "issued_2024": {
        "request_received": "2023-11-01",
        "request_outcome": "Y",
        "request_outcome_date": "2023-12-10",
        "assessment_outcome": "Y",
        "assessment_outcome_date": "2024-03-20",
        "plan_start": "2024-03-20",
    },
    "transferred_in_after_census": {
        "request_outcome": "H",
        "assessment_outcome": "H",
        "plan_start": "2020-01-01",
        "transfer_in_from": "887",
        "transfer_in_date": "2025-03-01",
    },
    "withdrawn_2024": {"request_received": "2024-05-01", "request_outcome": "W"},
    "withdrawn_2023": {"request_received": "2023-05-01", "request_outcome": "W"},
    "exported_2024": {"request_received": "2024-02-01", "request_outcome": "A", "exported_to": "887"},
    "issuing_at_census": {
        "request_received": "2024-08-01",
        "request_outcome": "Y",
        "request_outcome_date": "2024-09-10",
        "assessment_outcome": "Y",
        "assessment_outcome_date": "2025-02-01",
        "draft_plan_served": "2025-01-05",
        "plan_start": "2025-02-01",
    },
    "not_to_issue_after_census": {
        "request_received": "2024-08-01",
        "request_outcome": "Y",
        "request_outcome_date": "2024-09-10",
        "assessment_outcome": "N",
        "assessment_outcome_date": "2025-02-01",
    },
    "ceases_after_census": {
        "request_outcome": "H",
        "assessment_outcome": "H",
        "plan_start": "2018-01-01",
        "plan_ceased": "2025-02-01",
        "cease_reason": "1",
    },
    "two_reviews": {
        "request_outcome": "H",
        "assessment_outcome": "H",
        "plan_start": "2018-01-01",
        "review_meeting": "2024-03-01",
        "review_decision_letter": "2024-03-20",
        "review_outcome": "M",
    },
}
NAMES = list(CASES)


def ref(name: str) -> str:
    return upn(NAMES.index(name) + 1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = new_store(tmp_path_factory.mktemp("scope") / "store.db")
    rows = [{"case_ref": f"C{i}", "person_ref": ref(n), **CASES[n]} for i, n in enumerate(NAMES, start=1)]
    load_store(engine, rows, [person(ref(n), upn=ref(n)) for n in NAMES])
    load_details(engine, {r["case_ref"]: complete_details() for r in rows})
    # a later review, after census day 2025: the 2025 return shows the one before
    with Session(engine) as s:
        case = f"C{NAMES.index('two_reviews') + 1}"
        record_event(s, case, "review_meeting", d("2025-03-01"), **WHO)
        record_event(s, case, "review_decision_letter", d("2025-03-15"), **WHO)
        record_event(s, case, "review_outcome", "A", **WHO)
    return engine


def _export(store: Engine, tmp_path: Path, year: int) -> dict[str, object]:
    out = tmp_path / f"sen2_{year}.xml"
    result = export(store, year, out)
    reqs = requests_of(out)
    by_name = {n: reqs.get(ref(n)) for n in NAMES}
    return {"result": result, "requests": by_name}


def test_scope_of_the_2025_return(store: Engine, tmp_path: Path) -> None:
    got = _export(store, tmp_path, 2025)
    reqs = got["requests"]
    assert isinstance(reqs, dict)
    included = {n for n, r in reqs.items() if r is not None}
    assert included == {
        "ceased_2024",  # a plan ceased in the collection year
        "refused_2024",  # a decision not to assess in the year
        "decided_after_census",  # received in the year
        "backlog",  # ongoing work, received two years before
        "issued_2023",  # an active plan
        "issued_2024",  # a plan issued in the year
        "withdrawn_2024",
        "exported_2024",
        "issuing_at_census",
        "not_to_issue_after_census",
        "ceases_after_census",  # still active on census day
        "two_reviews",
    }
    # not in it: refused_2023, withdrawn_2023, ceased_2023 (nothing in 2024, nothing open),
    # received_after_year (2026's), received_after_census, transferred_in_after_census
    result = got["result"]
    assert result.passed, result.errors  # type: ignore[attr-defined]
    # every request left out is named in the check report as excluded by scope
    excluded = {f.case_ref for f in result.exclusions if f.item == "Requests"}  # type: ignore[attr-defined]
    assert excluded == {f"C{NAMES.index(n) + 1}" for n, r in reqs.items() if r is None}


def test_scope_moves_with_the_year(store: Engine, tmp_path: Path) -> None:
    r2024 = _export(store, tmp_path, 2024)["requests"]
    r2026 = _export(store, tmp_path, 2026)["requests"]
    assert isinstance(r2024, dict) and isinstance(r2026, dict)
    assert r2024["refused_2023"] is not None and r2026["refused_2024"] is None
    assert r2024["ceased_2023"] is not None and r2026["ceased_2024"] is None
    assert r2026["received_after_year"] is not None  # received in 2025
    assert r2026["transferred_in_after_census"] is not None  # transferred in during 2025
    # received in 2023, plan issued after census day 2024 with no draft by then: still assessing
    assert _items(r2024["issued_2024"])["AssessmentOutcome"] == "A"
    assert r2024["issued_2023"] is not None and _items(r2024["issued_2023"])["RequestOutcome"] == "Y"


def _items(req: object) -> dict[str, str | None]:
    """The request's clock-related items (the SEN2-only details are tested elsewhere)."""
    from xml.etree.ElementTree import Element

    from ehcp_workflow.exporters.sen2_build import DETAIL_ELEMENT

    assert isinstance(req, Element)
    details = {name for _, name in DETAIL_ELEMENT.values()}
    inside = {"PlanDetail", "PlacementDetail", "SENneed"}
    skip = {e for parent in req.iter() if parent.tag in inside for e in parent.iter()}
    return {e.tag: e.text for e in req.iter() if len(e) == 0 and e.tag not in details and e not in skip}


def test_values_as_at_census_day(store: Engine, tmp_path: Path) -> None:
    reqs = _export(store, tmp_path, 2025)["requests"]
    assert isinstance(reqs, dict)
    # decided after census day: still awaiting the decision, no date, no assessment
    assert _items(reqs["decided_after_census"]) == {"ReceivedDate": "2024-12-20", "RequestOutcome": "A"}
    # plan issued after census, draft served before it: issuing stage (Y, no date, no plan)
    assert _items(reqs["issuing_at_census"]) == {
        "ReceivedDate": "2024-08-01",
        "RequestOutcomeDate": "2024-09-10",
        "RequestOutcome": "Y",
        "AssessmentOutcome": "Y",
        "Week20": "0",
    }
    # decision not to issue after census: assessment still under way
    assert _items(reqs["not_to_issue_after_census"])["AssessmentOutcome"] == "A"
    # ceasing after census: still active, no CeaseDate
    ceasing = _items(reqs["ceases_after_census"])
    assert "CeaseDate" not in ceasing and "CeaseReason" not in ceasing
    # the review held by census day, not the later one
    review = _items(reqs["two_reviews"])
    assert (review["ReviewMeeting"], review["LastReview"], review["ReviewOutcome"]) == (
        "2024-03-01",
        "2024-03-20",
        "M",
    )


def test_historical_and_collection_year_requests(store: Engine, tmp_path: Path) -> None:
    reqs = _export(store, tmp_path, 2025)["requests"]
    assert isinstance(reqs, dict)
    # plan issued before the collection year: H/H, no request dates, no Week20
    assert _items(reqs["issued_2023"]) == {
        "RequestOutcome": "H",
        "AssessmentOutcome": "H",
        "StartDate": "2023-08-01",
    }
    # plan issued in the year from a request of the year before: full dates kept
    issued = _items(reqs["issued_2024"])
    assert issued["ReceivedDate"] == "2023-11-01" and issued["AssessmentOutcomeDate"] == "2024-03-20"
    assert issued["RequestOutcome"] == "Y" and issued["Week20"] == "0"
    # ceased in the year: CeaseDate and reason
    ceased = _items(reqs["ceased_2024"])
    assert (ceased["CeaseDate"], ceased["CeaseReason"]) == ("2024-06-30", "2")
    # exported before any assessment: Exported, no Assessment
    assert _items(reqs["exported_2024"]) == {
        "ReceivedDate": "2024-02-01",
        "RequestOutcome": "A",
        "Exported": "887",
    }
    # an assessment still open after 20 months keeps its dates (ongoing work)
    assert _items(reqs["backlog"]) == {
        "ReceivedDate": "2023-05-01",
        "RequestOutcomeDate": "2023-06-10",
        "RequestOutcome": "Y",
        "AssessmentOutcome": "A",
    }


def test_scope_reasons_are_counted(store: Engine, tmp_path: Path) -> None:
    result = _export(store, tmp_path, 2025)["result"]
    scope = result.scope  # type: ignore[attr-defined]
    assert sum(scope.values()) == result.requests  # type: ignore[attr-defined]
    assert set(scope) <= {
        "active plan at census",
        "plan active in the year, since ceased",
        "request, decision or assessment in the year",
        "work ongoing at census",
    }
