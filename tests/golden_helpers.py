"""Evaluate one hand-written case with both evaluators and insist they agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ehcp_workflow import caseload as cl
from ehcp_workflow.catalogue import load_catalogue
from ehcp_workflow.clocks import evaluate_case
from ehcp_workflow.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.vectorised import evaluate_caseload

CATALOGUE = load_catalogue()


@dataclass(frozen=True)
class Clock:
    start: dt.date | None
    due: dt.date | None
    end: dt.date | None
    status: str
    computed_due: dt.date | None = None
    exception: str | None = None


def _d(v: Any) -> dt.date | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v) or pd.isna(v):
        return None
    return pd.Timestamp(v).date()


def evaluate(
    as_of: dt.date,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    advice: list[dict[str, Any]] | None = None,
    **case: Any,
) -> dict[str, Clock]:
    """Clocks of one case keyed by clock id (advice clocks as ``advice:<provider>``)."""
    case.setdefault("case_ref", "case-1")
    advice = advice or []
    per_case = evaluate_case(case, CATALOGUE, as_of=as_of, advice=advice, conventions=conventions)
    slow = {
        (f"{r.clock}:{r.instance}" if r.instance else r.clock): Clock(
            r.start_date, r.due_date, r.end_date, r.status.value, r.computed_due_date, r.exception
        )
        for r in per_case.clocks
    }
    cload = cl.Caseload(
        cases=cl.normalise_cases(pd.DataFrame([case])),
        advice=cl.normalise_advice(pd.DataFrame(advice, columns=list(cl.ADVICE_COLUMNS))),
    )
    frame = evaluate_caseload(cload, CATALOGUE, as_of=as_of, conventions=conventions).to_frame()
    fast = {
        (f"{r.clock}:{r.instance}" if r.instance else r.clock): Clock(
            _d(r.start_date),
            _d(r.due_date),
            _d(r.end_date),
            r.status,
            _d(r.computed_due_date),
            None if pd.isna(r.exception) else r.exception,
        )
        for r in frame.itertuples(index=False)
    }
    assert slow == fast, "per-case and vectorised evaluators disagree"
    return slow


def backlog(
    as_of: dt.date, conventions: Conventions = DEFAULT_CONVENTIONS, **case: Any
) -> tuple[int, str] | None:
    case.setdefault("case_ref", "case-1")
    ev = evaluate_case(case, CATALOGUE, as_of=as_of, conventions=conventions)
    cload = cl.Caseload(cases=cl.normalise_cases(pd.DataFrame([case])))
    fast = evaluate_caseload(cload, CATALOGUE, as_of=as_of, conventions=conventions)
    vec = (int(fast.weeks_waiting[0]), str(fast.band[0])) if fast.open[0] else None
    slow = (ev.backlog.weeks_waiting, ev.backlog.band) if ev.backlog else None
    assert slow == vec
    return slow
