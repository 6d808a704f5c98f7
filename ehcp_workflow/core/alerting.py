"""Which alerts a night's evaluation calls for, and which clocks changed since the last night.

Pure functions over an :class:`~ehcp_workflow.core.evaluator.Evaluation`: the nightly flow stores what
they return (the outbox, the event log); nothing here sends or writes.

Every alert has a unique key built from case, clock (with its instance), kind and episode
(:func:`ehcp_workflow.notify.model.alert_key`). The *episode* is the clock's
start date (a new annual review period, a new request, is a new episode), so "one alert per episode"
is a database uniqueness constraint on the key: re-running a night, or two runs at once, cannot send
the same alert twice.

Alert kinds are thresholds, not exact days: a clock 13 days from its due date that has no
``due_in_14`` alert yet gets one (the night it crossed 14 days may have been missed), and the most
urgent threshold reached is the only one raised, so a first run does not send "due in 14 days" for
something due tomorrow.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core.arrays import ClockArrays
from ehcp_workflow.core.evaluator import Evaluation
from ehcp_workflow.core.statuses import STATUS_CODE, STATUS_ORDER, Status

#: Days before the due date at which a caseworker is told (statutory clocks of the council's own).
DUE_THRESHOLDS: tuple[int, ...] = (14, 7, 2)
#: Backlog bands that escalate to managers (weeks).
ESCALATION_BANDS: tuple[int, ...] = (30, 52, 100)

ALERT_COLUMNS: tuple[str, ...] = (
    "case_ref",
    "clock",
    "instance",
    "kind",
    "episode",
    "status",
    "due_date",
    "days_overdue",
    "team",
    "caseworker",
    "band",
    "weeks_waiting",
    "regulation",
    "detail",
)

_S = {s: np.int8(STATUS_CODE[s]) for s in Status}


def _kinds(a: ClockArrays, as_of: dt.date) -> npt.NDArray[np.object_]:
    """The alert kind each row calls for (``None`` for none)."""
    today = np.datetime64(as_of, "D")
    days_left = (a.due - today).astype("timedelta64[D]").astype(np.float64)
    days_left[np.isnat(a.due)] = np.nan
    running = np.isin(a.status, [_S[Status.PENDING], _S[Status.DUE_SOON]])
    duty = a.rule.kind.value == "duty"
    conds = [
        a.status == _S[Status.INVALID],
        (a.status == _S[Status.OVERDUE]) & duty,
        a.status == _S[Status.CUT_SHORT],  # reg 13(1): a final plan inside the representation window
        running & (days_left == 0),
    ]
    choices: list[str] = ["invalid", "overdue", "cut_short", "due_today"]
    for t in sorted(DUE_THRESHOLDS):
        conds.append(running & (days_left > 0) & (days_left <= t))
        choices.append(f"due_in_{t}")
    kinds: npt.NDArray[np.object_] = np.select(conds, choices, default=np.array(None, dtype=object)).astype(
        object
    )
    return kinds


def alert_candidates(evaluation: Evaluation, *, weekly_digest: bool = False) -> pd.DataFrame:
    """Alerts the evaluation calls for (one row each, ``ALERT_COLUMNS``); the outbox dedupes by key.

    ``weekly_digest`` adds a ``still_overdue`` alert per overdue clock, keyed by ISO week, for the
    weekly digest.
    """
    cases = evaluation.cases
    case_ref = cases["case_ref"].to_numpy(dtype=object, na_value=None)
    team = cases["team"].to_numpy(dtype=object, na_value=None)
    caseworker = cases["caseworker"].to_numpy(dtype=object, na_value=None)
    today = np.datetime64(evaluation.as_of, "D")
    iso = evaluation.as_of.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    parts: list[pd.DataFrame] = []
    for cid, a in evaluation._all():
        kinds = _kinds(a, evaluation.as_of)
        if weekly_digest:
            still = a.status == _S[Status.OVERDUE]
            still_kind = np.where(still, "still_overdue", np.array(None, dtype=object)).astype(object)
            extra = _rows(evaluation, cid, a, still_kind, today)
            if extra is not None:
                extra["episode"] = extra["episode"] + "@" + week
                parts.append(extra)
        rows = _rows(evaluation, cid, a, kinds, today)
        if rows is not None:
            parts.append(rows)
    # backlog escalations: the highest band crossed, once per request
    weeks = evaluation.weeks_waiting
    crossed = np.full(len(cases), None, dtype=object)
    for b in sorted(ESCALATION_BANDS):
        crossed = np.where(evaluation.open & _over(evaluation, b), f"band_crossed_{b}", crossed)
    sel = crossed != None  # noqa: E711 - elementwise
    if sel.any():
        received = cases["request_received"].to_numpy().astype("datetime64[D]")[sel]
        parts.append(
            pd.DataFrame(
                {
                    "case_ref": case_ref[sel],
                    "clock": "backlog",
                    "instance": "",
                    "kind": crossed[sel],
                    "episode": np.datetime_as_string(received, unit="D"),
                    "status": "open",
                    "due_date": pd.NaT,
                    "days_overdue": pd.array([pd.NA] * int(sel.sum()), dtype="Int64"),
                    "team": team[sel],
                    "caseworker": caseworker[sel],
                    "band": evaluation.band[sel],
                    "weeks_waiting": weeks[sel],
                    "regulation": "SEND Regulations 2014 reg 13(2) (waiting for a plan)",
                    "detail": "",
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: [] for c in ALERT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out[list(ALERT_COLUMNS)]


def _over(evaluation: Evaluation, weeks: int) -> npt.NDArray[np.bool_]:
    """Strictly more than ``weeks`` weeks since receipt (the band definition)."""
    received = evaluation.cases["request_received"].to_numpy().astype("datetime64[D]")
    days = (np.datetime64(evaluation.as_of, "D") - received).astype("timedelta64[D]").astype(np.float64)
    over: npt.NDArray[np.bool_] = np.nan_to_num(days, nan=-1.0) > 7 * weeks
    return over


def _rows(
    evaluation: Evaluation, cid: str, a: ClockArrays, kinds: npt.NDArray[np.object_], today: np.datetime64
) -> pd.DataFrame | None:
    sel = kinds != None  # noqa: E711 - elementwise
    if not sel.any():
        return None
    cases = evaluation.cases
    idx = a.case_index[sel]
    instance = a.instance[sel]
    start = a.start[sel]
    episode = np.where(np.isnat(start), "-", np.datetime_as_string(start, unit="D"))
    due = a.due[sel]
    overdue = (today - due).astype("timedelta64[D]").astype(np.float64)
    overdue[np.isnat(due) | (overdue <= 0)] = np.nan
    labels = np.array([s.value for s in STATUS_ORDER], dtype=object)
    return pd.DataFrame(
        {
            "case_ref": cases["case_ref"].to_numpy(dtype=object, na_value=None)[idx],
            "clock": cid,
            "instance": instance,
            "kind": kinds[sel],
            "episode": episode,
            "status": labels[a.status[sel]],
            "due_date": due,
            "days_overdue": pd.array(overdue, dtype="Int64"),
            "team": cases["team"].to_numpy(dtype=object, na_value=None)[idx],
            "caseworker": cases["caseworker"].to_numpy(dtype=object, na_value=None)[idx],
            "band": evaluation.band[idx],
            "weeks_waiting": evaluation.weeks_waiting[idx],
            "regulation": a.rule.regulation,
            "detail": np.array(a.reasons, dtype=object)[a.reason[sel]],
        }
    )


STATE_COLUMNS: tuple[str, ...] = ("case_ref", "clock", "instance", "status", "due_date", "band")


def clock_states(evaluation: Evaluation) -> pd.DataFrame:
    """Each applicable clock's status (``not_applicable`` rows are left out: absent means n/a).

    Built straight from the per-clock arrays with only the six state columns: the full result frame
    (``Evaluation.to_frame``) carries a dozen text columns and cost ~10 GB at 1M cases.
    """
    case_ref = evaluation.cases["case_ref"].to_numpy(dtype=object, na_value=None)
    labels = np.array([s.value for s in STATUS_ORDER], dtype=object)
    na = _S[Status.NOT_APPLICABLE]
    parts: list[pd.DataFrame] = []
    for cid, a in evaluation._all():
        sel = a.status != na
        if not sel.any():
            continue
        idx = a.case_index[sel]
        instance = a.instance[sel]
        parts.append(
            pd.DataFrame(
                {
                    "case_ref": case_ref[idx],
                    "clock": cid,
                    "instance": instance,
                    "status": labels[a.status[sel]],
                    "due_date": a.due[sel],
                    "band": evaluation.band[idx],
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: [] for c in STATE_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(STATE_COLUMNS)]


def transitions(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Clocks whose status or band changed: (case_ref, clock, instance, old_status, new_status, ...).

    Both frames are :func:`clock_states` shaped; a clock missing from one side is ``not_applicable``
    there. Unchanged clocks are not returned, so the event log only records what happened.
    """
    key = ["case_ref", "clock", "instance"]
    merged = previous.merge(current, on=key, how="outer", suffixes=("_old", "_new"))
    for side in ("_old", "_new"):
        # an empty side (a first night) has float columns: text goes in as object
        merged["status" + side] = merged["status" + side].astype(object).fillna(Status.NOT_APPLICABLE.value)
    changed = merged["status_old"] != merged["status_new"]
    band_changed = merged["band_old"].astype(object).fillna("") != merged["band_new"].astype(object).fillna(
        ""
    )
    return merged.loc[changed | band_changed].reset_index(drop=True)
