"""Hand-built caseloads for the reporting tests: a few cases, every date chosen to be checked by hand."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd

from ehcp_workflow.core.caseload import Caseload, empty_advice, empty_cases, normalise_advice, normalise_cases
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.core.evaluator import Evaluation, evaluate_caseload

CATALOGUE = load_catalogue()
D = dt.date
PNG = b"\x89PNG\r\n\x1a\n"
#: a markdown image whose source is a data URI (what the Prefect UI renders): (alt text, base64 PNG)
EMBEDDED = re.compile(r"!\[([^\]]+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def caseload(cases: list[dict[str, Any]], advice: list[dict[str, Any]] | None = None) -> Caseload:
    """A caseload of ``cases`` (column -> value; the rest empty); ``case_ref`` defaults to C1, C2..."""
    rows = [{"case_ref": f"C{i + 1}", "team": "North", **c} for i, c in enumerate(cases)]
    frame = normalise_cases(pd.DataFrame(rows)) if rows else empty_cases()
    adv = normalise_advice(pd.DataFrame(advice)) if advice else empty_advice()
    return Caseload(cases=frame, advice=adv)


def evaluate(
    cases: list[dict[str, Any]],
    as_of: dt.date,
    advice: list[dict[str, Any]] | None = None,
    conventions: Conventions = DEFAULT_CONVENTIONS,
) -> Evaluation:
    return evaluate_caseload(caseload(cases, advice), CATALOGUE, as_of=as_of, conventions=conventions)


def plan(received: dt.date, issued: dt.date, **extra: Any) -> dict[str, Any]:
    """A request that led to a final plan issued on ``issued``."""
    return {
        "request_received": received,
        "request_outcome": "Y",
        "request_outcome_date": received + dt.timedelta(days=35),
        "assessment_outcome": "Y",
        "assessment_outcome_date": issued,
        "plan_start": issued,
        **extra,
    }


def row(frame: pd.DataFrame, **where: Any) -> pd.Series:
    """The single row of ``frame`` matching ``where``."""
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, f"{len(sel)} rows match {where}"
    return sel.iloc[0]
