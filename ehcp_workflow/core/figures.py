"""The one definition of every figure a manager sees: open requests, overdue clocks, data problems.

Before this module the nightly breach summary, the weekly summary and the alerts each counted
"overdue" their own way (the weekly summary left out advice), and three totals for one council
disagreed. Now every count in an alert, an artifact, the weekly summary, the report and
``ehcp backlog`` is taken from the frames below, so they cannot drift apart:

* an **open request** is :attr:`Evaluation.open` (received, not ended; see :mod:`ehcp_workflow.core.backlog`);
* an **overdue clock** is any clock, *advice included*, whose status is ``overdue`` tonight: advice
  (reg 8) is as statutory a duty as the final plan (reg 13), and a caseworker chases both;
* a **data problem** is any clock whose status is ``invalid``.

Every figure here is a *running total* (the position tonight). What changed tonight (new breaches,
band crossings) is counted by the nightly job from the alerts it queues, and artifacts say which is
which (:data:`RUNNING_TOTAL`, :data:`TONIGHT`).

Pure functions over an :class:`~ehcp_workflow.core.evaluator.Evaluation`; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ehcp_workflow.core.statuses import STATUS_CODE, Status

if TYPE_CHECKING:
    from ehcp_workflow.core.evaluator import Evaluation

#: The label for cases without a team (or caseworker) in every table.
NO_TEAM = "(no team)"
UNASSIGNED = "(none)"

#: How artifacts and messages label a figure: the position tonight, or what changed tonight.
RUNNING_TOTAL = "running total"
TONIGHT = "tonight's change"
#: What the two labels mean, for a note under a table or message.
LABEL_NOTE = (
    "Running totals are the position tonight; tonight's changes are what happened since the last "
    "night that ran."
)

#: Age-of-breach bands in days overdue: (upper bound inclusive or None, label), in order.
BREACH_AGES: tuple[tuple[int | None, str], ...] = (
    (7, "up to 1 week"),
    (28, "1-4 weeks"),
    (91, "1-3 months"),
    (365, "3-12 months"),
    (None, "over a year"),
)

_CLOCK_COLUMNS = ("case_ref", "team", "caseworker", "clock", "instance", "due_date", "days_overdue")


def open_requests(evaluation: Evaluation) -> pd.DataFrame:
    """The open requests: case, team, caseworker, received, weeks waiting and band (one row each)."""
    cases = evaluation.cases
    is_open = evaluation.open
    return pd.DataFrame(
        {
            "case_ref": cases["case_ref"].to_numpy(dtype=object, na_value=None)[is_open],
            "team": cases["team"].to_numpy(dtype=object, na_value=NO_TEAM)[is_open],
            "caseworker": cases["caseworker"].to_numpy(dtype=object, na_value=UNASSIGNED)[is_open],
            "request_received": pd.to_datetime(cases["request_received"].to_numpy()[is_open]),
            "weeks_waiting": evaluation.weeks_waiting[is_open],
            "band": evaluation.band[is_open],
        }
    )


def clocks_with_status(evaluation: Evaluation, status: Status) -> pd.DataFrame:
    """Every clock (advice included) with ``status`` tonight: one row per clock instance (each review
    cycle, each adviser), case refs only."""
    cases = evaluation.cases
    case_ref = cases["case_ref"].to_numpy(dtype=object, na_value=None)
    team = cases["team"].to_numpy(dtype=object, na_value=NO_TEAM)
    worker = cases["caseworker"].to_numpy(dtype=object, na_value=UNASSIGNED)
    today = np.datetime64(evaluation.as_of, "D")
    code = STATUS_CODE[status]
    parts: list[pd.DataFrame] = []
    for cid, arrays in evaluation._all():
        hit = arrays.status == code
        if not hit.any():
            continue
        # one row per clock instance (a review cycle, an adviser), mapped to its case
        idx = arrays.case_index[hit]
        instance = arrays.instance[hit].astype(object)
        due = arrays.due[hit]
        late = (today - due).astype("timedelta64[D]").astype(np.float64)
        late[np.isnat(due)] = np.nan
        parts.append(
            pd.DataFrame(
                {
                    "case_ref": case_ref[idx],
                    "team": team[idx],
                    "caseworker": worker[idx],
                    "clock": cid,
                    "instance": instance,
                    "due_date": due,
                    "days_overdue": pd.array(late, dtype="Int64"),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: [] for c in _CLOCK_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(_CLOCK_COLUMNS)]


def overdue_clocks(evaluation: Evaluation) -> pd.DataFrame:
    """The overdue clocks tonight (advice included): the only definition of "clocks overdue"."""
    return clocks_with_status(evaluation, Status.OVERDUE)


def invalid_clocks(evaluation: Evaluation) -> pd.DataFrame:
    """The clocks that cannot be evaluated from the data tonight."""
    return clocks_with_status(evaluation, Status.INVALID)


def breach_age(days_overdue: pd.Series) -> pd.Series:
    """The age-of-breach band of each overdue clock (:data:`BREACH_AGES`), as an ordered category."""
    labels = [label for _, label in BREACH_AGES]
    days = pd.to_numeric(days_overdue, errors="coerce").fillna(0).to_numpy(dtype=np.float64)
    idx = np.zeros(len(days), dtype=np.int64)
    for upper, _ in BREACH_AGES[:-1]:
        idx += days > (upper or 0)
    return pd.Series(pd.Categorical(np.array(labels, dtype=object)[idx], categories=labels, ordered=True))


def counts(frame: pd.DataFrame, by: str, order: Sequence[str] | None = None) -> dict[str, int]:
    """Rows of ``frame`` per value of ``by`` (in ``order`` if given, zeros kept; else by name)."""
    series = frame[by].astype(object).where(frame[by].notna(), NO_TEAM).astype(str).value_counts()
    keys = list(order) if order is not None else sorted(series.index)
    return {k: int(series.get(k, 0)) for k in keys}


def longest_waits(evaluation: Evaluation, n: int = 25) -> pd.DataFrame:
    """The ``n`` open requests waiting longest (case refs only): a running total, not tonight's."""
    frame = open_requests(evaluation)
    top = frame.sort_values(["weeks_waiting", "case_ref"], ascending=[False, True]).head(n)
    return top[["case_ref", "team", "band", "weeks_waiting"]].reset_index(drop=True)


def backlog_by_team(evaluation: Evaluation, band_labels: Sequence[str]) -> pd.DataFrame:
    """Open requests by team and band (every band a column, in order; a total row)."""
    teams = evaluation.cases["team"].to_numpy(dtype=object, na_value="(no team)")[evaluation.open]
    bands = evaluation.band[evaluation.open]
    table = pd.crosstab(pd.Series(teams, name="team"), pd.Series(bands, name="band"))
    table = table.reindex(columns=list(band_labels), fill_value=0)
    table.loc["All teams"] = table.sum()
    table.insert(0, "team", table.index.astype(str))
    table["total"] = table[list(band_labels)].sum(axis=1)
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class Headline:
    """Tonight's running totals, every one from the functions above (``ehcp backlog``, artifacts,
    messages and the weekly summary print these and nothing else)."""

    as_of: str
    open_requests: int
    open_by_band: dict[str, int]
    overdue_clocks: int
    overdue_by_clock: dict[str, int]
    invalid_clocks: int
    oldest_open_weeks: int | None


def headline(evaluation: Evaluation, band_labels: Sequence[str]) -> Headline:
    """The council's position tonight in a handful of numbers (bands in reporting order)."""
    open_ = open_requests(evaluation)
    overdue = overdue_clocks(evaluation)
    return Headline(
        as_of=evaluation.as_of.isoformat(),
        open_requests=len(open_),
        open_by_band=counts(open_, "band", band_labels),
        overdue_clocks=len(overdue),
        overdue_by_clock=counts(overdue, "clock"),
        invalid_clocks=len(invalid_clocks(evaluation)),
        oldest_open_weeks=int(open_["weeks_waiting"].max()) if len(open_) else None,
    )


__all__ = [
    "BREACH_AGES",
    "LABEL_NOTE",
    "NO_TEAM",
    "RUNNING_TOTAL",
    "TONIGHT",
    "Headline",
    "backlog_by_team",
    "breach_age",
    "clocks_with_status",
    "counts",
    "headline",
    "invalid_clocks",
    "longest_waits",
    "open_requests",
    "overdue_clocks",
]
