"""The SEN2-only items in the store: a source never clears them, placements accumulate across
returns, every change is in the event log (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import Caseload, empty_cases
from ehcp_workflow.db import upsert_caseload
from ehcp_workflow.db.sen2_details import DETAIL, NEED, SETTING, upsert_sen2_details
from ehcp_workflow.importers.sen2_details import RequestDetails

WHO: dict[str, Any] = {"actor": "test", "source": "test"}


def _case(session: Session) -> None:
    cases = empty_cases(1)
    cases.loc[0, "case_ref"] = "C1"
    cases.loc[0, "person_ref"] = "P1"
    upsert_caseload(session, Caseload(cases=cases, source="test"), actor="test")


def _placement(urn: str, entry: str, leaving: str | None = None) -> dict[str, Any]:
    return {
        "urn": urn,
        "placement_rank": "1",
        "entry_date": dt.date.fromisoformat(entry),
        "leaving_date": dt.date.fromisoformat(leaving) if leaving else None,
        "sen_unit_indicator": "0",
        "resourced_provision_indicator": "0",
    }


def _rows(session: Session, table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
    stmt = sa.select(*(table.c[c] for c in columns)).order_by(*(table.c[c] for c in columns))
    return [tuple(r) for r in session.execute(stmt)]


def _events(session: Session) -> list[tuple[str, str | None, str | None]]:
    rows = session.execute(
        sa.text("SELECT field, old_value, new_value FROM event_log WHERE field LIKE 'sen2.%' ORDER BY id")
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_values_are_set_changed_never_cleared_and_logged(session: Session) -> None:
    _case(session)
    upsert_sen2_details(session, {"C1": RequestDetails(case={"rya": "0", "pb": "1"})}, **WHO)
    upsert_sen2_details(session, {"C1": RequestDetails(case={"pb": "0"})}, **WHO)  # says nothing of RYA
    assert _rows(session, DETAIL, "rya", "pb") == [("0", "0")]
    assert _events(session) == [("sen2.rya", None, "0"), ("sen2.pb", None, "1"), ("sen2.pb", "1", "0")]
    before = len(_events(session))
    upsert_sen2_details(session, {"C1": RequestDetails(case={"pb": "0"})}, **WHO)  # same again
    assert len(_events(session)) == before


def test_placements_accumulate_across_returns(session: Session) -> None:
    _case(session)
    y2024 = RequestDetails(
        placements=[_placement("100001", "2019-09-04", "2023-07-20"), _placement("100002", "2023-09-05")]
    )
    upsert_sen2_details(session, {"C1": y2024}, period_start=dt.date(2023, 1, 1), **WHO)
    # the 2025 return lists only its own year's placements: the one that ended in 2023 is kept,
    # the current one gets a leaving date, a new one is added
    y2025 = RequestDetails(
        placements=[_placement("100002", "2023-09-05", "2024-07-19"), _placement("100003", "2024-09-04")]
    )
    upsert_sen2_details(session, {"C1": y2025}, period_start=dt.date(2024, 1, 1), **WHO)
    assert _rows(session, SETTING, "urn", "entry_date", "leaving_date") == [
        ("100001", dt.date(2019, 9, 4), dt.date(2023, 7, 20)),
        ("100002", dt.date(2023, 9, 5), dt.date(2024, 7, 19)),
        ("100003", dt.date(2024, 9, 4), None),
    ]
    placement_events = [e for e in _events(session) if e[0] == "sen2.placement"]
    assert len(placement_events) == 2 + 3  # two added; then one changed (old, new) and one added
    assert any(old and "leaving_date" not in old and new is None for _, old, new in placement_events)


def test_needs_and_plan_settings_are_replaced_as_a_set_with_the_change_logged(session: Session) -> None:
    _case(session)
    first = RequestDetails(needs=[{"sen_type": "ASD", "sen_type_rank": "1"}])
    upsert_sen2_details(session, {"C1": first}, **WHO)
    second = RequestDetails(
        needs=[{"sen_type": "SLCN", "sen_type_rank": "1"}, {"sen_type": "ASD", "sen_type_rank": "2"}],
        plan=[{"urn": "100001", "placement_rank": "1", "sen_setting_other": "secret free text"}],
    )
    upsert_sen2_details(session, {"C1": second}, **WHO)
    assert _rows(session, NEED, "seq", "sen_type", "sen_type_rank") == [(1, "SLCN", "1"), (2, "ASD", "2")]
    events = _events(session)
    assert ("sen2.need", "ASD rank 1", None) in events and ("sen2.need", None, "SLCN rank 1") in events
    # free text never reaches the event log
    assert not any("secret" in str(e) for e in events)
    upsert_sen2_details(session, {"C1": RequestDetails()}, **WHO)  # a source with none keeps them
    assert len(_rows(session, NEED, "seq")) == 2
