"""The engine (vectorised, numpy) and the oracle (per case, pendulum; tests/oracle.py) must agree on
every date, status and reason, review histories included.

Random caseloads lean on the dates that break date code (29 February, month ends, year ends, the
coronavirus window, Christmas), on every outcome code, on exceptions valid and invalid, on missing
dates, on replays (events after as_of) and on every combination of counting conventions.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehcp_workflow.core import caseload as cl
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.conventions import (
    Conventions,
    MonthReading,
    PhaseTransferReading,
    ReviewAnchor,
    WeekCounting,
)
from ehcp_workflow.core.evaluator import evaluate_caseload
from tests.oracle import evaluate_caseload_per_case, evaluations_frame

CATALOGUE = load_catalogue()

TRICKY = [
    dt.date(2024, 2, 29),
    dt.date(2024, 2, 28),
    dt.date(2023, 12, 31),
    dt.date(2024, 1, 1),
    dt.date(2024, 1, 31),
    dt.date(2024, 12, 25),
    dt.date(2025, 3, 31),
    dt.date(2025, 8, 26),
    dt.date(2020, 5, 1),
    dt.date(2020, 9, 25),
    dt.date(2020, 3, 20),
    dt.date(2025, 2, 14),
    dt.date(2025, 2, 15),
]

dates = st.one_of(
    st.none(),
    st.sampled_from(TRICKY),
    st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2027, 12, 31)),
    # a few months where a case's events fall close together: a stop inside a 6-week limit, a
    # final plan inside the 15-day window, a review before and after a transfer in
    st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 5, 31)),
)
outcomes = st.sampled_from([None, "Y", "N", "A", "W", "H"])
grounds = st.sampled_from([None, None, None, "a", "c", "d", "e", "g", "unspecified"])
conventions = st.builds(
    Conventions,
    week_counting=st.sampled_from(list(WeekCounting)),
    month_reading=st.sampled_from(list(MonthReading)),
    review_anchor=st.sampled_from(list(ReviewAnchor)),
    phase_transfer_reading=st.sampled_from(list(PhaseTransferReading)),
    due_soon_days=st.sampled_from([0, 7, 14]),
)


@st.composite
def case_rows(draw: st.DrawFn, i: int) -> dict[str, object]:
    row: dict[str, object] = {"case_ref": f"c{i}", "person_ref": draw(st.sampled_from([f"p{i}", None]))}
    for c in cl.DATE_COLUMNS:
        row[c] = draw(dates)
    row["request_outcome"] = draw(outcomes)
    row["assessment_outcome"] = draw(outcomes)
    row["review_outcome"] = draw(st.sampled_from([None, "A", "C", "M"]))
    row["phase_transfer_type"] = draw(st.sampled_from([None, "school", "post16", "post16_other"]))
    row["exported_to"] = draw(st.sampled_from([None, None, "201"]))
    row["reassessment_agreed"] = draw(st.sampled_from([None, True, False]))
    for c in cl.EXCEPTION_COLUMNS:
        row[c] = draw(grounds)
        row[f"{c}_start"] = draw(dates)  # the ground applies from its period's start
    return row


@st.composite
def caseloads(draw: st.DrawFn) -> cl.Caseload:
    n = draw(st.integers(min_value=1, max_value=12))
    rows = [draw(case_rows(i)) for i in range(n)]
    advice = [
        {
            "case_ref": f"c{draw(st.integers(0, n - 1))}",
            "provider": draw(st.sampled_from(cl.ADVICE_PROVIDERS)),
            "requested": draw(dates),
            "received": draw(dates),
            "exception": draw(grounds),
        }
        for _ in range(draw(st.integers(0, 6)))
    ]
    unrecorded = frozenset(
        draw(st.sets(st.sampled_from(["review_report_sent", "amended_plan_issued", "advice"])))
    )
    reviews = [
        {
            "case_ref": f"c{draw(st.integers(0, n - 1))}",
            **{c: draw(dates) for c in cl.REVIEW_DATE_COLUMNS},
            "review_outcome": draw(st.sampled_from([None, "A", "C", "M"])),
        }
        for _ in range(draw(st.integers(0, 10)))
    ]
    by_case = {  # what each case's own source does not record (a store of several sources)
        name: np.array([draw(st.booleans()) for _ in range(n)], dtype=bool)
        for name in draw(st.sets(st.sampled_from(["review_report_sent", "amended_plan_issued", "advice"])))
    }
    history = draw(st.booleans())  # a store's history, or the snapshot a one-row file gives
    return cl.Caseload(
        cases=cl.normalise_cases(pd.DataFrame(rows)),
        advice=cl.normalise_advice(pd.DataFrame(advice, columns=list(cl.ADVICE_COLUMNS))),
        unrecorded=unrecorded,
        unrecorded_by_case=by_case,
        reviews=cl.normalise_reviews(pd.DataFrame(reviews, columns=list(cl.REVIEW_COLUMNS)))
        if history
        else None,
    )


COMPARED = [
    "case_ref",
    "clock",
    "instance",
    "start_date",
    "due_date",
    "computed_due_date",
    "end_date",
    "status",
    "days_overdue",
    "exception",
    "weeks_waiting",
    "band",
    "reason",
]


def _canonical(df: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as comparable tuples: dates as ISO strings, missing as None, sorted."""
    out = []
    for row in df[COMPARED].itertuples(index=False):
        vals = []
        for v in row:
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
                vals.append(None)
            elif hasattr(v, "isoformat"):
                vals.append(pd.Timestamp(v).date().isoformat())
            else:
                vals.append(int(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
        out.append(tuple(vals))
    return sorted(out, key=lambda t: tuple("" if x is None else str(x) for x in t))


def _both(caseload: cl.Caseload, as_of: dt.date, conv: Conventions) -> tuple[list[tuple[object, ...]], ...]:
    slow = evaluations_frame(evaluate_caseload_per_case(caseload, CATALOGUE, as_of=as_of, conventions=conv))
    fast = evaluate_caseload(caseload, CATALOGUE, as_of=as_of, conventions=conv).to_frame()
    return _canonical(slow), _canonical(fast)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caseload=caseloads(), as_of=dates.filter(lambda d: d is not None), conv=conventions)
def test_per_case_and_vectorised_agree(caseload: cl.Caseload, as_of: dt.date, conv: Conventions) -> None:
    slow, fast = _both(caseload, as_of, conv)
    assert len(slow) == len(fast)
    for a, b in itertools.zip_longest(slow, fast):
        assert a == b, f"per-case {a} != vectorised {b}"
