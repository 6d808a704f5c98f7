"""The store keeps every review cycle a source carries: added once, never overwritten or cleared."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import REVIEW_COLUMNS, Caseload, empty_cases, normalise_reviews
from ehcp_workflow.db import load_caseload, upsert_caseload
from ehcp_workflow.db.models import EventLog, table_of

CYCLES = [
    {"review_meeting": "2023-09-04", "review_decision_letter": "2023-09-28", "review_outcome": "M"},
    {"review_meeting": "2024-09-02", "review_decision_letter": "2024-10-30", "review_outcome": "A"},
    {"review_meeting": "2025-09-01", "review_decision_letter": "2025-09-20", "review_outcome": "M"},
]


def _caseload(cycles: list[dict[str, Any]]) -> Caseload:
    cases = empty_cases(1)
    cases["case_ref"] = pd.array(["H-1"], dtype="string")
    cases["plan_start"] = np.array([np.datetime64("2022-10-03", "s")])
    latest = cycles[-1]
    for name, value in latest.items():  # the snapshot columns: the latest cycle, as a flat file has it
        if name == "review_outcome":
            cases[name] = pd.array([value], dtype="string")
        else:
            cases[name] = np.array([np.datetime64(value, "s")])
    reviews = normalise_reviews(
        pd.DataFrame([{"case_ref": "H-1", **c} for c in cycles], columns=REVIEW_COLUMNS)
    )
    return Caseload(cases=cases, reviews=reviews, source="history-test")


def _history(engine: Any) -> list[tuple[str, str, str]]:
    rv = load_caseload(engine).review_history
    return [
        (str(r.review_meeting.date()), str(r.review_decision_letter.date()), str(r.review_outcome))
        for r in rv.sort_values("review_meeting").itertuples()
    ]


def _events(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table_of(EventLog))).scalar_one())


def test_history_is_stored_once_and_read_back_in_date_order(engine: Any) -> None:
    with Session(engine) as session:
        first = upsert_caseload(session, _caseload(CYCLES), actor="t")
    assert first.fields_changed["review_history"] == 2  # the two before the latest (a flat column set)
    assert _history(engine) == [
        ("2023-09-04", "2023-09-28", "M"),
        ("2024-09-02", "2024-10-30", "A"),
        ("2025-09-01", "2025-09-20", "M"),
    ]
    flat = load_caseload(engine).cases.iloc[0]
    assert str(flat["review_meeting"].date()) == "2025-09-01"  # the latest by date, not by insert order
    logged = _events(engine)
    with Session(engine) as session:
        again = upsert_caseload(session, _caseload(CYCLES), actor="t")
    assert not again.changed and _events(engine) == logged


def test_an_older_cycle_arrives_later_and_a_snapshot_never_clears_history(engine: Any) -> None:
    with Session(engine) as session:
        upsert_caseload(session, _caseload(CYCLES[1:]), actor="t")
        upsert_caseload(session, _caseload(CYCLES[2:]), actor="t")  # a one-row file: the latest only
    assert len(_history(engine)) == 2
    older = {**CYCLES[0], "amendment_notice": None}
    with Session(engine) as session:
        upsert_caseload(session, _caseload([older, *CYCLES[1:]]), actor="t")
    assert [h[0] for h in _history(engine)] == ["2023-09-04", "2024-09-02", "2025-09-01"]
    flat = load_caseload(engine).cases.iloc[0]
    assert str(flat["review_meeting"].date()) == "2025-09-01"
    # a file that now records the 2024 amendment notice adds it to that cycle, and logs it
    amended = [CYCLES[0], {**CYCLES[1], "amendment_notice": "2024-11-05"}, CYCLES[2]]
    with Session(engine) as session:
        summary = upsert_caseload(session, _caseload(amended), actor="t")
    assert summary.fields_changed["review_history"] == 1
    rv = load_caseload(engine).review_history.sort_values("review_meeting")
    assert str(rv["amendment_notice"].iloc[1].date()) == "2024-11-05"
    # ... and a file without it does not clear it
    with Session(engine) as session:
        upsert_caseload(session, _caseload(CYCLES), actor="t")
    rv = load_caseload(engine).review_history.sort_values("review_meeting")
    assert str(rv["amendment_notice"].iloc[1].date()) == "2024-11-05"
