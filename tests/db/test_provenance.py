"""What a source does not record is known per case, never store-wide (issue: nothing lost)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import Caseload, empty_cases
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.db import load_caseload, upsert_caseload


def _one(ref: str, unrecorded: frozenset[str], **dates: str) -> Caseload:
    cases = empty_cases(1)
    cases["case_ref"] = pd.array([ref], dtype="string")
    for name, value in dates.items():
        cases[name] = np.array([np.datetime64(value, "s")])
    return Caseload(cases=cases, unrecorded=unrecorded, source=f"{ref}.csv")


def _status(engine: Any, ref: str, clock: str) -> str:
    caseload = load_caseload(engine)
    frame = evaluate_caseload(caseload, load_catalogue(), as_of=dt.date(2026, 6, 1)).to_frame(clocks=[clock])
    return str(frame.loc[frame["case_ref"] == ref, "status"].iloc[0])


def test_a_narrow_import_does_not_hide_the_other_cases_clocks(engine: Any) -> None:
    with Session(engine) as session:
        upsert_caseload(
            session,
            _one("FULL", frozenset(), plan_start="2020-01-06", review_meeting="2026-03-02"),
            actor="t",
        )
    assert _status(engine, "FULL", "review_report") == "overdue"
    # a two-column file adding one case: it records nothing but the request
    narrow = frozenset({"review_report_sent", "amended_plan_issued", "advice"})
    with Session(engine) as session:
        upsert_caseload(session, _one("NEW", narrow, request_received="2026-05-01"), actor="t")
    assert _status(engine, "FULL", "review_report") == "overdue"  # still judged: its source records it
    # and the narrow file's own case is not judged on what its source does not record
    with Session(engine) as session:
        upsert_caseload(
            session,
            _one(
                "NEW",
                narrow,
                request_received="2026-05-01",
                plan_start="2020-01-06",
                review_meeting="2026-03-02",
            ),
            actor="t",
        )
    assert _status(engine, "NEW", "review_report") == "not_applicable"


def test_a_sen2_reimport_never_erases_a_recorded_exception_ground(engine: Any) -> None:
    """A SEN2 Week20 says at most that an exception applies: it cannot clear a ground (c) a
    caseworker recorded, nor blur it to 'unspecified'; a file with a different ground changes it."""
    from ehcp_workflow.db import record_event

    case = {"request_received": "2025-09-01"}
    with Session(engine) as session:
        upsert_caseload(session, _one("X", frozenset(), **case), actor="t")
        record_event(
            session, "X", "exception_final_plan", "c", actor="cw", source="command:record", reason=""
        )

    def ground() -> object:
        frame = load_caseload(engine).cases
        return frame.loc[frame["case_ref"] == "X", "exception_final_plan"].iloc[0]

    assert ground() == "c"
    for offered in (None, "unspecified"):  # Week20 missing or 0, then Week20 = 1
        again = _one("X", frozenset(), **case)
        again.cases["exception_final_plan"] = pd.Series([offered], dtype="string").astype(
            again.cases["exception_final_plan"].dtype
        )
        with Session(engine) as session:
            upsert_caseload(session, again, actor="sen2")
        assert ground() == "c", offered
    assert _status(engine, "X", "final_plan") == "excepted"
    other = _one("X", frozenset(), **case)
    other.cases["exception_final_plan"] = pd.Series(["d"], dtype="string").astype(
        other.cases["exception_final_plan"].dtype
    )
    with Session(engine) as session:
        upsert_caseload(session, other, actor="csv")
    assert ground() == "d"
