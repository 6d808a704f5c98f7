"""Replay is exact: a year of events recorded night by night, then every night replayed from the final
store must give the answer that night gave (events dated after ``as_of`` masked, later review cycles
ignored). Runs on SQLite and PostgreSQL through the store's own writers (``ehcp case record``'s)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import Caseload, empty_cases
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.core.statuses import STATUS_ORDER, Status
from ehcp_workflow.db import load_caseload, record_event, request_advice, upsert_caseload

START = dt.date(2025, 1, 6)
NIGHTS = 365
CATALOGUE = load_catalogue()
Script = dict[dt.date, list[tuple[str, str, Any]]]


def _script(seed: int = 8) -> Script:
    """What happens on which day: new requests and their assessments, existing plans and their
    review cycles (meeting, report, decision, amendment, amended plan), advice, a transfer in."""
    rng = np.random.default_rng(seed)
    day: Script = defaultdict(list)

    def at(offset: int, ref: str, field: str, value: Any = None) -> int:
        when = START + dt.timedelta(days=int(offset))
        day[when].append((ref, field, when if value is None else value))
        return int(offset)

    for i in range(10):  # requests received during the year
        ref = f"R{i:02d}"
        r = at(int(rng.integers(0, 120)), ref, "new")
        d = at(r + int(rng.integers(25, 60)), ref, "request_outcome_date")
        day[START + dt.timedelta(days=d)].append((ref, "request_outcome", "N" if i == 9 else "Y"))
        if i == 9:
            continue
        at(r + int(rng.integers(8, 30)), ref, "advice:paediatrics")
        if i % 3:
            at(r + int(rng.integers(50, 90)), ref, "advice:paediatrics:received")
        if i in (2, 5):  # an exception to the 20 weeks, recorded the day its period starts
            start = at(r + int(rng.integers(60, 100)), ref, "exception_final_plan", "c")
            at(start, ref, "exception_final_plan_start")
        draft = at(r + int(rng.integers(90, 140)), ref, "draft_plan_served")
        if i == 8:  # still waiting for the plan at the year's end
            continue
        issued = draft + int(rng.integers(8, 40))  # some inside the 15-day window
        at(issued, ref, "assessment_outcome_date")
        day[START + dt.timedelta(days=issued)].append((ref, "assessment_outcome", "Y"))
        at(issued, ref, "plan_start")
    for i in range(8):  # plans made before the year, reviewed during it
        ref = f"P{i:02d}"
        day[START].append((ref, "plan", dt.date(2022, 3, 1) + dt.timedelta(days=30 * i)))
        meeting = int(rng.integers(5, 150))
        for _cycle in range(2):
            at(meeting, ref, "review_meeting")
            at(meeting + int(rng.integers(5, 25)), ref, "review_report_sent")
            letter = meeting + int(rng.integers(10, 45))
            at(letter, ref, "review_decision_letter")
            outcome = "AMC"[i % 3]
            day[START + dt.timedelta(days=letter)].append((ref, "review_outcome", outcome))
            if outcome == "A":
                notice = at(letter + int(rng.integers(0, 10)), ref, "amendment_notice")
                at(notice + int(rng.integers(30, 80)), ref, "amended_plan_issued")
            meeting += int(rng.integers(170, 200))
        if i == 7:
            at(90, ref, "transfer_in_date")
    return day


def _create(session: Session, ref: str, **values: Any) -> None:
    cases = empty_cases(1)
    cases["case_ref"] = pd.array([ref], dtype="string")
    cases["team"] = pd.array(["north"], dtype="string")
    for name, value in values.items():
        cases[name] = np.array([np.datetime64(value, "s")])
    upsert_caseload(session, Caseload(cases=cases, source="replay-test"), actor="test")


def _apply(session: Session, events: list[tuple[str, str, Any]]) -> None:
    for ref, field, value in events:
        if field == "new":
            _create(session, ref, request_received=value)
        elif field == "plan":
            _create(session, ref, plan_start=value)
        elif field == "advice:paediatrics":
            request_advice(session, ref, provider="paediatrics", requested=value, actor="t", source="test")
        elif field == "advice:paediatrics:received":
            record_event(
                session, ref, "advice.paediatrics.1.received", value, actor="t", source="test", reason=""
            )
        else:
            record_event(session, ref, field, value, actor="t", source="test", reason="")


def _night(caseload: Caseload, as_of: dt.date) -> list[tuple[object, ...]]:
    """Every clock instance that applies that night, as the evaluator returns it: dates, status,
    reason code and the provenance the explanations are built from (so equal tuples mean equal
    explanations). Not-applicable rows are left out, as the nightly stores them: a case created
    later is rightly absent from an earlier night."""
    ev = evaluate_caseload(caseload, CATALOGUE, as_of=as_of)
    refs = ev.cases["case_ref"].to_numpy(dtype=object)
    na = STATUS_ORDER.index(Status.NOT_APPLICABLE)
    rows: list[tuple[object, ...]] = []
    for cid, a in ev.clocks.items():
        for i in np.flatnonzero(a.status != na):
            dates = (str(a.start[i]), str(a.due[i]), str(a.end[i]))
            verdict = (int(a.status[i]), a.reasons[a.reason[i]], int(a.exception[i]))
            provenance = (int(a.start_from[i]), int(a.due_from[i]), int(a.end_from[i]))
            rows.append((refs[a.case_index[i]], cid, a.instance[i], *dates, *verdict, *provenance))
    return sorted(rows, key=str)


@pytest.mark.slow
def test_a_year_recorded_night_by_night_replays_exactly(engine: Any) -> None:
    script = _script()
    recorded: dict[dt.date, list[tuple[object, ...]]] = {}
    with Session(engine) as session:
        for k in range(NIGHTS):
            night = START + dt.timedelta(days=k)
            _apply(session, script.get(night, []))
            if night in script or k % 28 == 0:  # a night something happened, and every 4th Monday
                recorded[night] = _night(load_caseload(engine), night)
    final = load_caseload(engine)
    assert len(final.review_history) >= 16  # two cycles per plan, each its own record
    statuses = {STATUS_ORDER[int(str(row[6]))].value for rows in recorded.values() for row in rows}
    # the year exercised the rules: breaches, a window cut short, an exception from its start
    assert {"overdue", "met", "late", "pending", "cut_short", "excepted"} <= statuses
    mismatched = [night for night, rows in recorded.items() if _night(final, night) != rows]
    assert not mismatched, f"replays that differ from the night itself: {mismatched[:5]}"
