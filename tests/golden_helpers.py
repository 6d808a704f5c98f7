"""Evaluate one hand-written case with the engine and the oracle and insist they agree.

Clocks are keyed ``clock`` or ``clock:instance``; a recurring clock (one per review cycle or period)
is also keyed by its bare id for its *latest* instance, the one a caseworker acts on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ehcp_workflow.core import caseload as cl
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.core.evaluator import evaluate_caseload
from tests.oracle import evaluate_case

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
    reviews: list[dict[str, Any]] | None = None,
    **case: Any,
) -> dict[str, Clock]:
    """Clocks of one case keyed by clock id (advice clocks as ``advice:<provider>``). ``reviews``:
    the review history (one dict per cycle); without it the case's review columns are one cycle."""
    case.setdefault("case_ref", "case-1")
    advice = [{"case_ref": case["case_ref"], **a} for a in advice or []]
    history = None if reviews is None else [{"case_ref": case["case_ref"], **r} for r in reviews]
    per_case = evaluate_case(
        case, CATALOGUE, as_of=as_of, advice=advice, reviews=history, conventions=conventions
    )
    slow = {
        (f"{r.clock}:{r.instance}" if r.instance else r.clock): Clock(
            r.start_date, r.due_date, r.end_date, r.status.value, r.computed_due_date, r.exception
        )
        for r in per_case.clocks
    }
    cload = cl.Caseload(
        cases=cl.normalise_cases(pd.DataFrame([case])),
        advice=cl.normalise_advice(pd.DataFrame(advice, columns=list(cl.ADVICE_COLUMNS))),
        reviews=None
        if history is None
        else cl.normalise_reviews(pd.DataFrame(history, columns=list(cl.REVIEW_COLUMNS))),
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
    assert slow == fast, "the oracle and the engine disagree"
    latest: dict[str, Clock] = {}
    for key, clock in slow.items():  # review instances come in cycle order
        bare, _, instance = key.partition(":")
        if instance.startswith("review "):
            latest[bare] = clock
    return {**slow, **latest}


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
