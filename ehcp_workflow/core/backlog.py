"""The backlog: open requests, how long they have waited and their waiting band.

An *open* request has been received and has not ended: no final plan issued, not refused, no
decision not to issue, not withdrawn, not exported to another council, not historical. Managers
report how many children wait over 20, 30, 52 and 100 weeks (the Kent and Kingston papers); DfE
publishes within 20 / 20-52 / over 52 weeks (statutory-rules §5). "Over N weeks" means strictly
more than 7N days, so a case at exactly 20 weeks is still ``within_20``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

CLOSED_OUTCOMES = ("N", "W", "H")


@dataclass(frozen=True)
class BacklogPosition:
    weeks_waiting: int
    band: str


def band_labels(thresholds: Sequence[int]) -> tuple[str, ...]:
    return (f"within_{thresholds[0]}", *(f"over_{t}" for t in thresholds))


def band_for_days(days: int, thresholds: Sequence[int]) -> str:
    labels = band_labels(thresholds)
    band = labels[0]
    for t, label in zip(thresholds, labels[1:], strict=True):
        if days > 7 * t:
            band = label
    return band


def is_open(case: Mapping[str, Any]) -> bool:
    """Whether a (masked) case is an open request for assessment."""
    if case.get("request_received") is None:
        return False
    if case.get("request_outcome") in CLOSED_OUTCOMES or case.get("assessment_outcome") in CLOSED_OUTCOMES:
        return False
    if case.get("assessment_outcome") == "Y" and case.get("assessment_outcome_date") is not None:
        return False  # final plan issued
    return case.get("exported_to") is None


def backlog_position(
    case: Mapping[str, Any], *, as_of: dt.date, thresholds: Sequence[int]
) -> BacklogPosition | None:
    """Weeks waiting and band of a masked case at ``as_of``; ``None`` if it is not open."""
    if not is_open(case):
        return None
    days = (as_of - case["request_received"]).days
    return BacklogPosition(weeks_waiting=days // 7, band=band_for_days(days, thresholds))


def backlog_arrays(
    cases: pd.DataFrame,
    masked: Mapping[str, npt.NDArray[Any]],
    *,
    as_of: dt.date,
    thresholds: Sequence[int],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Vectorised :func:`backlog_position`: (open, weeks_waiting, band) arrays (-1 / None when closed).

    ``masked`` holds the case's date columns as ``datetime64[D]`` and outcome codes as object arrays,
    already masked to ``as_of`` by the caller (the vectorised evaluator).
    """
    received = masked["request_received"]
    from ehcp_workflow.core.history import code_in  # the coded-column encoding lives there

    req = masked["request_outcome"]
    ass = masked["assessment_outcome"]
    exported = masked["exported_present"]
    open_ = ~np.isnat(received)
    open_ &= ~code_in(req, "request_outcome", CLOSED_OUTCOMES) & ~code_in(
        ass, "assessment_outcome", CLOSED_OUTCOMES
    )
    open_ &= ~(code_in(ass, "assessment_outcome", ["Y"]) & ~np.isnat(masked["assessment_outcome_date"]))
    open_ &= ~exported
    days = (np.datetime64(as_of, "D") - received).astype("timedelta64[D]").astype(np.int64)
    weeks = np.where(open_, days // 7, -1)
    labels = np.array(band_labels(thresholds), dtype=object)
    idx = np.zeros(len(cases), dtype=np.int64)
    for t in thresholds:
        idx += days > 7 * t
    band = np.where(open_, labels[idx], np.array(None, dtype=object))
    return open_, weeks, band
