"""DfE's 2019 split reproduced through the KPI code path (statutory-rules §2.3, §5).

2019, England: 53,327 new plans including exceptions, 31,313 issued within 20 weeks (58.7%); 49,519
plans without an exception, 29,895 of them within 20 weeks (60.4%). So 3,808 plans had an exception,
1,418 of them issued within 20 weeks. A caseload with exactly those plans, evaluated by the engine,
must give DfE's two percentages from :func:`kpis.plans_issued`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ehcp_workflow.core.caseload import Caseload, normalise_cases
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.reporting import kpis
from tests.reporting.helpers import CATALOGUE, row

ALL_PLANS, WITHIN = 53_327, 31_313
PLANS_EX, WITHIN_EX = 49_519, 29_895


def _caseload_2019() -> Caseload:
    n = ALL_PLANS
    i = np.arange(n)
    excepted = i < ALL_PLANS - PLANS_EX  # 3,808
    within = np.where(excepted, i < WITHIN - WITHIN_EX, i - (ALL_PLANS - PLANS_EX) < WITHIN_EX)
    issued = np.datetime64("2019-01-01") + (i % 365).astype("timedelta64[D]")  # spread over 2019
    days = np.where(within, 70 + i % 71, 141 + i % 300)  # within: 70-140 days; late: 141-440 days
    received = issued - days.astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "case_ref": [f"N{k:06d}" for k in i],
            "team": np.where(i % 2 == 0, "North", "South"),
            "request_received": received,
            "request_outcome": "Y",
            "request_outcome_date": received + np.timedelta64(35, "D"),
            "assessment_outcome": "Y",
            "assessment_outcome_date": issued,
            "plan_start": issued,
            "exception_final_plan": pd.Series("unspecified", index=i).where(excepted),  # SEN2 Week20 = 1
        }
    )
    return Caseload(cases=normalise_cases(frame))


def test_2019_national_split_including_and_excluding_exceptions() -> None:
    evaluation = evaluate_caseload(_caseload_2019(), CATALOGUE, as_of=dt.date(2020, 1, 31))
    f = kpis.plans_issued(evaluation, kpis.month_range("2019-01", "2019-12"))
    year = row(f, month=kpis.ALL, team=kpis.ALL)
    assert (year["plans_issued"], year["within_20_weeks"]) == (ALL_PLANS, WITHIN)
    assert (year["plans_issued_ex"], year["within_20_weeks_ex"]) == (PLANS_EX, WITHIN_EX)
    assert round(year["pct_within_20_weeks"], 1) == 58.7
    assert round(year["pct_within_20_weeks_ex"], 1) == 60.4
    national = kpis.NATIONAL_20_WEEKS[2019]
    assert round(year["pct_within_20_weeks"], 1) == national.pct_including_exceptions
    assert round(year["pct_within_20_weeks_ex"], 1) == national.pct_excluding_exceptions
