"""Phase-transfer planner: the cohort of plans to review and amend before a transfer between phases.

Reg 18 of the SEND Regulations 2014 requires a plan to be reviewed *and amended* (naming the next
school or college) before 15 February for a move into or between schools (18(1)(b)), before 31 March
for a move from secondary school to post-16 (18(1)(a)), and 5 months before a move between post-16
institutions (18(2)); there is no exception ground. The deadline is the engine's (clock
``phase_transfer`` in ``config/clocks.yaml``, under the council's reading of "before").

The *review-by* date is the latest review meeting that still fits the statutory steps after it:
the decision with the proposed amendments within 4 weeks of the meeting (clock ``amendment_notice``,
reg 20 with reg 22(2), Devon [2022]) and the final amended plan within 8 weeks of that notice (clock
``amended_plan``, reg 22(3)). statutory-rules §6 case 3 and §7 F6: a Year 6 pupil transferring in
September 2026 has a deadline of Sat 14 Feb 2026 and a latest review meeting of Sat 22 Nov 2025.
The steps' lengths are read from the evaluation's clock rules and counted as the engine counts them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core.catalogue import ClockRule, Counting, Unit
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions, WeekCounting
from ehcp_workflow.core.evaluator import Evaluation
from ehcp_workflow.core.statuses import STATUS_CODE, Status

__all__ = [
    "PHASE_STATUSES",
    "STATUS_LABELS",
    "cohort_years",
    "latest_review_meeting",
    "phase_transfer_status",
    "plan_phase_transfers",
    "review_by_offset",
]

#: Planner statuses, most settled first. ``""`` marks a case outside any cohort.
PHASE_STATUSES: Final = (
    "amended_on_time",  # amended plan naming the next institution issued by the deadline
    "late",  # issued after the deadline
    "overdue",  # deadline passed, no amended plan yet
    "review_held",  # deadline ahead, a review meeting held in the transfer year
    "not_started",  # deadline ahead, no review meeting yet in the transfer year
    "cannot_evaluate",  # the transfer type or date is missing (the engine's ``invalid``)
)
STATUS_LABELS: Final = {
    "amended_on_time": "Amended on time",
    "late": "Amended late",
    "overdue": "Overdue (deadline passed)",
    "review_held": "Review held",
    "not_started": "Not started",
    "cannot_evaluate": "Cannot evaluate (data missing)",
}

_S = {s: np.int8(STATUS_CODE[s]) for s in Status}


def _step_days(rule: ClockRule, conventions: Conventions) -> int:
    """Days from a clock's start to its due date (the engine's arithmetic for week and day limits)."""
    inclusive = (
        rule.counting is Counting.BEGINNING_WITH or conventions.week_counting is WeekCounting.INCLUSIVE
    )
    back = 1 if inclusive else 0
    if rule.limit.unit is Unit.WEEKS:
        return 7 * rule.limit.amount - back
    if rule.limit.unit is Unit.DAYS:
        return rule.limit.amount - back
    raise ValueError(f"clock {rule.id!r}: a {rule.limit.unit} limit has no fixed length in days")


def review_by_offset(evaluation: Evaluation, conventions: Conventions = DEFAULT_CONVENTIONS) -> int:
    """Days between the latest review meeting that still fits and the reg 18 deadline (84 by default).

    The amendment notice step (``amendment_notice``: 4 weeks from the meeting) plus the final amended
    plan step (``amended_plan``: 8 weeks from the notice), as the evaluation's clock rules define them.
    """
    return sum(
        _step_days(evaluation.clocks[c].rule, conventions) for c in ("amendment_notice", "amended_plan")
    )


def _dates(evaluation: Evaluation, column: str, *, mask: bool) -> npt.NDArray[Any]:
    d = np.asarray(evaluation.cases[column].to_numpy()).astype("datetime64[D]")
    if mask:
        d = np.where(d > np.datetime64(evaluation.as_of, "D"), np.datetime64("NaT", "D"), d)
    return d


def cohort_years(evaluation: Evaluation) -> npt.NDArray[np.int64]:
    """Transfer year of each case: year of ``phase_transfer_date``, else of the reg 18 deadline (0: none)."""
    move = _dates(evaluation, "phase_transfer_date", mask=False)
    due = evaluation.clocks["phase_transfer"].due
    when = np.where(np.isnat(move), due, move)
    years = when.astype("datetime64[Y]").astype(np.int64) + 1970
    out: npt.NDArray[np.int64] = np.where(np.isnat(when), 0, years).astype(np.int64)
    return out


def phase_transfer_status(evaluation: Evaluation) -> npt.NDArray[np.object_]:
    """Planner status of every case (see :data:`PHASE_STATUSES`; ``""`` where reg 18 does not apply).

    From the engine's ``phase_transfer`` clock: met -> amended on time, late -> late, overdue ->
    overdue, invalid -> cannot evaluate; a running clock is ``review_held`` when the latest review
    meeting (on or before ``as_of``) falls on or after the clock's start (the transfer date less 12
    months, as the engine shows it), else ``not_started``.
    """
    clock = evaluation.clocks["phase_transfer"]
    st = clock.status
    meeting = _dates(evaluation, "review_meeting", mask=True)
    held = ~np.isnat(meeting) & ~np.isnat(clock.start) & (meeting >= clock.start)
    running = np.isin(st, [_S[Status.PENDING], _S[Status.DUE_SOON]])
    out: npt.NDArray[np.object_] = np.select(
        [
            st == _S[Status.MET],
            st == _S[Status.LATE],
            st == _S[Status.OVERDUE],
            running & held,
            running,
            st == _S[Status.INVALID],
        ],
        list(PHASE_STATUSES),
        default="",
    ).astype(object)
    return out


def plan_phase_transfers(
    evaluation: Evaluation, transfer_year: int, *, conventions: Conventions = DEFAULT_CONVENTIONS
) -> pd.DataFrame:
    """The reg 18 cohort transferring in ``transfer_year``: one row per plan, soonest review-by first.

    Columns: ``case_ref``, ``team``, ``transfer_type``, ``transfer_date``, ``review_by`` (deadline
    less :func:`review_by_offset`), ``deadline`` (the engine's due date), ``review_meeting`` and
    ``amended_plan_issued`` (as known at ``as_of``), ``status`` (:data:`PHASE_STATUSES`),
    ``review_by_passed`` (no review held and the review-by date is past: the amended plan can no
    longer be issued on time by the statutory steps), ``days_to_deadline`` (negative when past).
    A list for caseworkers: case references, no personal data. Vectorised over the whole caseload.
    """
    clock = evaluation.clocks["phase_transfer"]
    status = phase_transfer_status(evaluation)
    sel = (status != "") & (cohort_years(evaluation) == int(transfer_year))
    as_of = np.datetime64(evaluation.as_of, "D")
    deadline = clock.due[sel]
    review_by = deadline - np.timedelta64(review_by_offset(evaluation, conventions), "D")
    st = status[sel]
    cases = evaluation.cases.loc[sel]
    frame = pd.DataFrame(
        {
            "case_ref": cases["case_ref"].astype("string").to_numpy(dtype=object),
            "team": cases["team"].astype("string").to_numpy(dtype=object),
            "transfer_type": cases["phase_transfer_type"].astype("string").to_numpy(dtype=object),
            "transfer_date": _dates(evaluation, "phase_transfer_date", mask=False)[sel].astype(
                "datetime64[s]"
            ),
            "review_by": review_by.astype("datetime64[s]"),
            "deadline": deadline.astype("datetime64[s]"),
            "review_meeting": _dates(evaluation, "review_meeting", mask=True)[sel].astype("datetime64[s]"),
            "amended_plan_issued": clock.end[sel].astype("datetime64[s]"),
            "status": st,
            "review_by_passed": (st == "not_started") & (review_by < as_of),
            "days_to_deadline": pd.array(
                np.where(
                    np.isnat(deadline), np.nan, (deadline - as_of).astype("timedelta64[D]").astype(np.float64)
                ),
                dtype="Int64",
            ),
        }
    )
    # outstanding plans first (work still to do), then those already amended; soonest review-by first
    frame["_settled"] = np.isin(st, ["amended_on_time", "late"])
    frame = frame.sort_values(["_settled", "review_by", "case_ref"], na_position="last", kind="stable")
    return frame.drop(columns="_settled").reset_index(drop=True)


def latest_review_meeting(
    deadline: dt.date, evaluation: Evaluation, conventions: Conventions = DEFAULT_CONVENTIONS
) -> dt.date:
    """The review-by date for one ``deadline`` (e.g. 14 Feb 2026 -> 22 Nov 2025 by default)."""
    return deadline - dt.timedelta(days=review_by_offset(evaluation, conventions))
