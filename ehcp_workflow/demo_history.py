"""The demo council's review history: the cycles behind each plan's latest review.

:func:`ehcp_workflow.demo.generate_council` calibrates each plan's *latest* review (how overdue
councils are, Kent and Kingston papers). A plan made years ago has had a review most years before
that one; this module walks back from the latest meeting, a year or so at a time, to the plan's
first year, so the demo has several cycles per plan: review KPIs count every cycle of a month, and
the nightly evaluates each cycle's own clocks. Earlier cycles are mostly timely (Kingston 2021: about
half of review decisions within 4 weeks, 80 % of amended plans within 8 weeks).

Vectorised and deterministic for the council's seed, like the rest of the demo.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core.caseload import REVIEW_COLUMNS, normalise_reviews, reviews_from_cases

#: Earliest cycles walked back from the latest (a plan older than this many years has its first
#: reviews before the history the demo keeps, as a council's migration from an old system would).
MAX_EARLIER = 8
_SEED_OFFSET = 7919  # a stream of its own, so the latest cycles are unchanged


def _days(rng: np.random.Generator, lo: int, hi: int, n: int) -> npt.NDArray[Any]:
    return rng.integers(lo, hi + 1, size=n).astype("timedelta64[D]")


def review_history(cases: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every review cycle of ``cases``: the earlier ones generated, the latest from the case row."""
    rng = np.random.default_rng(seed + _SEED_OFFSET)
    n = len(cases)
    start = cases["plan_start"].to_numpy().astype("datetime64[D]")
    meeting = cases["review_meeting"].to_numpy().astype("datetime64[D]")
    refs = cases["case_ref"].to_numpy(dtype=object)
    parts: list[pd.DataFrame] = []
    current = meeting
    for _ in range(MAX_EARLIER):
        earlier = current - _days(rng, 330, 420, n)
        ok = ~np.isnat(current) & ~np.isnat(start) & (earlier >= start + np.timedelta64(300, "D"))
        if not ok.any():
            break
        m = earlier[ok]
        k = int(ok.sum())
        report = m + _days(rng, 3, 20, k)
        letter = m + np.where(rng.random(k) < 0.55, _days(rng, 7, 28, k), _days(rng, 29, 90, k))
        outcome = np.where(rng.random(k) < 0.7, "M", "A").astype(object)
        amend = outcome == "A"
        notice = np.where(amend, letter + _days(rng, 0, 14, k), np.datetime64("NaT", "D"))
        amended = np.where(
            amend,
            notice + np.where(rng.random(k) < 0.8, _days(rng, 20, 56, k), _days(rng, 57, 150, k)),
            np.datetime64("NaT", "D"),
        )
        parts.append(
            pd.DataFrame(
                {
                    "case_ref": refs[ok],
                    "review_meeting": m,
                    "review_report_sent": report,
                    "review_decision_letter": letter,
                    "amendment_notice": notice,
                    "amended_plan_issued": amended,
                    "review_outcome": outcome,
                }
            )
        )
        current = np.where(ok, earlier, np.datetime64("NaT", "D"))
    latest = reviews_from_cases(cases)
    frames = [normalise_reviews(p) for p in parts] + [latest]
    history = pd.concat(frames, ignore_index=True)[list(REVIEW_COLUMNS)]
    history = history.sort_values(["case_ref", "review_meeting"], kind="stable", na_position="last")
    return normalise_reviews(history.reset_index(drop=True))
