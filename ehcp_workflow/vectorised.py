"""Vectorised evaluation of every statutory clock over a whole caseload (numpy over pandas columns).

The same reading of ``config/clocks.yaml`` as :mod:`ehcp_workflow.clocks`, computed column-wise so the
nightly pass over a national-size caseload takes a second, not an hour. The result keeps one set of
arrays per clock (wide); :meth:`Evaluation.to_frame` turns it into one row per case and clock when a
person or a file needs it.

Pure: no database, no Prefect, no clock; ``as_of`` is an argument and later events are masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow import calendar as cal
from ehcp_workflow.backlog import backlog_arrays
from ehcp_workflow.caseload import CODE_COLUMNS, EVENT_DATE_COLUMNS, EXCEPTION_GROUNDS, Caseload
from ehcp_workflow.catalogue import Catalogue, ClockRule, Condition, Counting, Kind, Limit, Unit
from ehcp_workflow.clocks import COVID_WINDOW
from ehcp_workflow.conventions import (
    DEFAULT_CONVENTIONS,
    Conventions,
    MonthReading,
    PhaseTransferReading,
    ReviewAnchor,
    WeekCounting,
)
from ehcp_workflow.statuses import RESULT_COLUMNS, STATUS_CODE, STATUS_ORDER, Status

Dates = npt.NDArray[Any]  # datetime64[D]
Mask = npt.NDArray[np.bool_]
NAT = np.datetime64("NaT", "D")

_S = {s: np.int8(STATUS_CODE[s]) for s in Status}
_GROUNDS = tuple(sorted(EXCEPTION_GROUNDS))


@dataclass(frozen=True)
class ClockArrays:
    """One clock over every row: dates (``datetime64[D]``), status codes and reason codes."""

    rule: ClockRule
    start: Dates
    due: Dates
    computed_due: Dates
    end: Dates
    status: npt.NDArray[np.int8]
    reason: npt.NDArray[np.int8]
    reasons: tuple[str, ...]
    exception: npt.NDArray[np.int8]  # index into _GROUNDS, -1 for none

    def status_labels(self) -> npt.NDArray[np.object_]:
        return np.array([s.value for s in STATUS_ORDER], dtype=object)[self.status]


@dataclass(frozen=True)
class Evaluation:
    """Every clock of every case at ``as_of``."""

    as_of: dt.date
    cases: pd.DataFrame  # the caseload's case table (not copied)
    clocks: dict[str, ClockArrays]
    advice_clock: ClockArrays | None
    advice_case_index: npt.NDArray[np.int64]
    advice_provider: npt.NDArray[np.object_]
    open: Mask
    weeks_waiting: npt.NDArray[np.int64]
    band: npt.NDArray[np.object_]

    def status_counts(self) -> pd.DataFrame:
        """Counts of each status by clock (a small summary safe to publish)."""
        rows: dict[str, dict[str, int]] = {}
        for cid, arrs in self._all():
            counts = np.bincount(arrs.status, minlength=len(STATUS_ORDER))
            rows[cid] = {s.value: int(counts[i]) for i, s in enumerate(STATUS_ORDER)}
        return pd.DataFrame.from_dict(rows, orient="index")

    def _all(self) -> Iterable[tuple[str, ClockArrays]]:
        yield from self.clocks.items()
        if self.advice_clock is not None:
            yield self.advice_clock.rule.id, self.advice_clock

    def to_frame(
        self, *, clocks: Iterable[str] | None = None, statuses: Iterable[Status] | None = None
    ) -> pd.DataFrame:
        """One row per case and clock (and per advice request), in ``RESULT_COLUMNS`` order."""
        wanted = set(clocks) if clocks is not None else None
        keep = np.array([STATUS_CODE[s] for s in statuses], dtype=np.int8) if statuses is not None else None
        case_ref = self.cases["case_ref"].to_numpy(dtype=object, na_value=None)
        person = self.cases["person_ref"].to_numpy(dtype=object, na_value=None)
        person = np.where(pd.isna(person), case_ref, person)
        received = self.cases["request_received"].to_numpy().astype("datetime64[D]")
        plan_start = self.cases["plan_start"].to_numpy().astype("datetime64[D]")
        as_of = np.datetime64(self.as_of, "D")
        parts: list[pd.DataFrame] = []
        n_cases = len(self.cases)
        for cid, a in self._all():
            if wanted is not None and cid not in wanted:
                continue
            if a.rule.per == "advice_request":
                idx = self.advice_case_index
                instance = self.advice_provider
            else:
                idx = np.arange(n_cases)
                instance = np.full(n_cases, "", dtype=object)
            sel = np.ones(len(idx), dtype=bool) if keep is None else np.isin(a.status, keep)
            if not sel.any():
                continue
            i = idx[sel]
            status = a.status[sel]
            due = a.due[sel]
            end = a.end[sel]
            overdue = np.where(
                status == _S[Status.OVERDUE],
                (as_of - due).astype("timedelta64[D]").astype("float64"),
                np.where(
                    status == _S[Status.LATE], (end - due).astype("timedelta64[D]").astype("float64"), np.nan
                ),
            )
            grounds = np.array([*_GROUNDS, None], dtype=object)[a.exception[sel]]
            reasons = np.array(a.reasons, dtype=object)[a.reason[sel]]
            parts.append(
                pd.DataFrame(
                    {
                        "person_ref": person[i],
                        "case_ref": case_ref[i],
                        "request_received": received[i],
                        "plan_start": plan_start[i],
                        "clock": cid,
                        "instance": instance[sel],
                        "start_date": a.start[sel],
                        "due_date": due,
                        "computed_due_date": a.computed_due[sel],
                        "end_date": end,
                        "status": a.status_labels()[sel],
                        "days_overdue": pd.array(overdue, dtype="Int64"),
                        "exception": grounds,
                        "weeks_waiting": pd.array(
                            np.where(self.open[i], self.weeks_waiting[i], np.nan), dtype="Int64"
                        ),
                        "band": self.band[i],
                        "regulation": a.rule.regulation,
                        "reason": reasons,
                    }
                )
            )
        if not parts:
            return pd.DataFrame({c: [] for c in RESULT_COLUMNS})
        out = pd.concat(parts, ignore_index=True)
        return out[list(RESULT_COLUMNS)]


# --- column preparation -----------------------------------------------------------------------------


def _dates(s: pd.Series) -> Dates:
    return np.asarray(s.to_numpy()).astype("datetime64[D]")


#: Category order of each coded column: values are stored as int8 indexes into it, -1 for missing.
CATEGORIES: dict[str, tuple[str, ...]] = {c: tuple(sorted(v)) for c, v in CODE_COLUMNS.items()}


def _codes(s: pd.Series, categories: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Integer codes of a coded column: free when it already has the contract's categorical dtype."""
    if isinstance(s.dtype, pd.CategoricalDtype) and tuple(s.dtype.categories) == categories:
        return np.asarray(s.cat.codes, dtype=np.int8)
    codes, uniques = pd.factorize(s)  # plain strings: factorize, then map the few distinct values
    lookup = np.array([categories.index(u) if u in categories else -1 for u in uniques] + [-1], dtype=np.int8)
    result: npt.NDArray[np.int8] = lookup[codes]
    return result


def code_in(values: npt.NDArray[np.int8], column: str, wanted: Iterable[str]) -> Mask:
    """Rows whose coded ``column`` holds one of ``wanted`` (unknown codes match nothing)."""
    idx = [CATEGORIES[column].index(w) for w in wanted if w in CATEGORIES[column]]
    return np.isin(values, np.array(idx, dtype=np.int8))


def _prepare(caseload: Caseload, as_of: dt.date) -> dict[str, Any]:
    """The case columns as numpy arrays, masked to what had happened by the end of ``as_of``."""
    df = caseload.cases
    a = np.datetime64(as_of, "D")
    col: dict[str, Any] = {}
    raw: dict[str, Dates] = {}
    for c in df.columns:
        if c in EVENT_DATE_COLUMNS or c in ("phase_transfer_date", "phase_transfer_due", "transfer_out_move"):
            d = _dates(df[c])
            raw[c] = d
            if c in EVENT_DATE_COLUMNS:
                d = np.where(d > a, NAT, d)
            col[c] = d
    for c in CODE_COLUMNS:
        col[c] = _codes(df[c], CATEGORIES[c])
    for c in df.columns:
        if c.startswith("exception_"):
            col[c] = _codes(df[c], _GROUNDS)
    agreed = df["reassessment_agreed"].to_numpy(dtype="float64", na_value=np.nan)
    col["exported_present"] = df["exported_to"].notna().to_numpy()
    # a decision dated after as_of had not been made yet (replays)
    for code, date_col in (
        ("request_outcome", "request_outcome_date"),
        ("assessment_outcome", "assessment_outcome_date"),
    ):
        later = raw[date_col] > a
        col[code] = np.where(later, np.int8(CATEGORIES[code].index("A")), col[code]).astype(np.int8)
    col["review_outcome"] = np.where(
        raw["review_decision_letter"] > a, np.int8(-1), col["review_outcome"]
    ).astype(np.int8)
    agreed = np.where(raw["reassessment_decision_date"] > a, np.nan, agreed)
    col["reassessment_agreed"] = agreed
    return col


def _review_anchor(col: Mapping[str, Any], conv: Conventions) -> Dates:
    key = "review_decision_letter" if conv.review_anchor is ReviewAnchor.DECISION_LETTER else "review_meeting"
    cache_key = f"_review_anchor_{key}"
    if cache_key not in col:
        last: Dates = col[key]
        col[cache_key] = np.where(np.isnat(last), col["plan_start"], last)  # type: ignore[index]
    anchor: Dates = col[cache_key]
    return anchor


def _resolve(name: str, col: Mapping[str, Any], conv: Conventions) -> Dates:
    if name == "review_anchor":
        return _review_anchor(col, conv)
    if name == "review_anchor_before_transfer":
        anchor = _review_anchor(col, conv)
        t = col["transfer_in_date"]
        after = ~np.isnat(anchor) & ~np.isnat(t) & (anchor >= t)
        return np.where(after, col["plan_start"], anchor)
    out: Dates = col[name]
    return out


def _add(start: Dates, limit: Limit, counting: Counting, conv: Conventions) -> Dates:
    inclusive = counting is Counting.BEGINNING_WITH or conv.week_counting is WeekCounting.INCLUSIVE
    back = np.timedelta64(1 if inclusive else 0, "D")
    if limit.unit is Unit.WEEKS:
        return start + np.timedelta64(7 * limit.amount, "D") - back
    if limit.unit is Unit.DAYS:
        return start + np.timedelta64(limit.amount, "D") - back
    if limit.unit is Unit.MONTHS:
        due = cal.add_months_array(start, limit.amount)
        return due - np.timedelta64(1, "D") if conv.month_reading is MonthReading.STRICT else due
    if limit.unit is Unit.WORKING_DAYS:
        first = start if counting is Counting.BEGINNING_WITH else start + np.timedelta64(1, "D")
        return cal.nth_working_day_array(first, limit.amount)
    raise ValueError(f"cannot add a {limit.unit} limit")


def _phase_due(col: Mapping[str, Any], conv: Conventions) -> tuple[Dates, Dates]:
    """(due used, computed due) for reg 18; see :func:`ehcp_workflow.clocks.phase_transfer_due`."""
    kind = col["phase_transfer_type"]
    move: Dates = col["phase_transfer_date"]
    year = move.astype("datetime64[Y]")
    back = np.timedelta64(1 if conv.phase_transfer_reading is PhaseTransferReading.DAY_BEFORE else 0, "D")
    feb15 = year.astype("datetime64[D]") + np.timedelta64(31 + 14, "D") - back
    mar31 = (
        (year.astype("datetime64[M]") + np.timedelta64(2, "M")).astype("datetime64[D]")
        + np.timedelta64(30, "D")
        - back
    )
    five = cal.add_months_array(move, -5)
    computed = np.select(
        [code_in(kind, "phase_transfer_type", [k]) for k in ("school", "post16", "post16_other")],
        [feb15, mar31, five],
        NAT,
    )
    computed = np.where(np.isnat(move), NAT, computed).astype("datetime64[D]")
    explicit: Dates = col["phase_transfer_due"]
    due = np.where(np.isnat(explicit), computed, explicit)
    return due, computed


def _condition(cond: Condition, col: Mapping[str, Any], conv: Conventions, end: Dates) -> Mask:
    if cond.rule == "superseded_by_transfer_in_review":
        t = col["transfer_in_date"]
        anchor = _review_anchor(col, conv)
        held: Mask = ~np.isnat(t) & ~np.isnat(anchor) & (anchor < t)
    elif cond.rule == "no_decision_to_amend":
        meeting, letter, notice = (
            col["review_meeting"],
            col["review_decision_letter"],
            col["amendment_notice"],
        )
        decided = (
            code_in(col["review_outcome"], "review_outcome", ["A"])
            & ~np.isnat(meeting)
            & ~np.isnat(letter)
            & (letter >= meeting)
        )
        sent = ~np.isnat(notice) & ~np.isnat(meeting) & (notice >= meeting)
        held = ~(decided | sent)
    else:
        assert cond.field is not None
        v = col["exported_present"] if cond.field == "exported_to" else col[cond.field]
        if cond.field == "exported_to":
            present = v
        elif v.dtype.kind == "M":
            present = ~np.isnat(v)
        elif v.dtype.kind == "f":
            present = ~np.isnan(v)
        else:
            present = v >= 0
        if cond.in_ is not None:
            held = code_in(v, cond.field, cond.in_)
        elif cond.present is not None:
            held = present if cond.present else ~present
        else:
            held = present & ((v == 1.0) == bool(cond.is_))
    if cond.unless_ended:
        held = held & np.isnat(end)
    return np.asarray(held, dtype=bool)


def evaluate_rule(
    rule: ClockRule,
    col: Mapping[str, Any],
    *,
    as_of: dt.date,
    conventions: Conventions,
    unrecorded: frozenset[str],
    n: int,
) -> ClockArrays:
    """One clock over every row of ``col`` (case columns, or advice columns for advice clocks)."""
    conv = conventions
    a = np.datetime64(as_of, "D")
    start = _resolve(rule.starts, col, conv)
    computed = np.full(n, NAT)
    phase = rule.limit.unit is Unit.RULE
    if phase:
        due, computed = _phase_due(col, conv)
        move: Dates = col["phase_transfer_date"]
        base = np.where(np.isnat(move), due, move)
        start = cal.add_months_array(base, -12)
    end = np.full(n, NAT)
    if rule.ends is not None:
        end = _resolve(rule.ends.field, col, conv).copy()
        if rule.ends.when is not None:
            w = rule.ends.when
            end = np.where(code_in(col[w.field], w.field, w.in_), end, NAT)
        if rule.ends.after_start_only:
            end = np.where(np.isnat(start) | (end < start), NAT, end)

    if not phase:
        due = _add(start, rule.limit, rule.counting, conv)
        if rule.rule == "reg15_move_day":
            mv: Dates = col["transfer_out_move"]
            due = np.where(~np.isnat(mv) & (due < mv), mv, due)
        for extra in rule.later_of:
            assert extra.from_ is not None
            other = _add(_resolve(extra.from_, col, conv), extra, Counting.WITHIN, conv)
            due = np.where(~np.isnat(other) & (other > due), other, due)

    reasons: list[str] = [""]
    conds: list[Mask] = []
    choices: list[np.int8] = []
    rcodes: list[int] = []

    def add(mask: Mask, status: Status, reason: str) -> int:
        conds.append(mask)
        choices.append(_S[status])
        if reason:
            reasons.append(reason)
            rcodes.append(len(reasons) - 1)
        else:
            rcodes.append(0)
        return len(conds) - 1

    exception_rows: list[int] = []
    for cond in rule.not_applicable_when:
        add(_condition(cond, col, conv, end), Status.NOT_APPLICABLE, f"Not applicable: {cond.reason}.")
    ends_unrecorded = rule.ends is not None and rule.ends.field in unrecorded
    add(
        np.full(n, ends_unrecorded),
        Status.NOT_APPLICABLE,
        f"Not applicable: the source does not record {rule.ends.field if rule.ends else ''}.",
    )
    no_start = np.isnat(start)
    if phase:
        described = ~np.isnat(col["phase_transfer_date"]) | (col["phase_transfer_type"] >= 0)
        add(
            np.isnat(due) & described,
            Status.INVALID,
            "Cannot evaluate: a phase transfer needs both its type and its transfer date (or a due date).",
        )
        add(np.isnat(due), Status.NOT_APPLICABLE, "Not applicable: no phase transfer recorded.")
    else:
        if not (rule.ends and rule.ends.after_start_only):
            add(
                no_start & ~np.isnat(end),
                Status.INVALID,
                f"Cannot evaluate: the end is recorded but {rule.starts} is not.",
            )
        add(no_start, Status.NOT_APPLICABLE, f"Not applicable: no {rule.starts} (the clock has not started).")
    add(~np.isnat(end) & (end < start), Status.INVALID, "Cannot evaluate: the end is before the start.")

    exc = np.full(n, -1, dtype=np.int8)
    column = rule.exception_column
    if column is not None and column in col:
        exc = col[column]
        accepted = [i for i, g in enumerate(_GROUNDS) if g in rule.grounds_accepted()]
        g_idx = _GROUNDS.index("g")
        in_covid = (due >= np.datetime64(COVID_WINDOW[0], "D")) & (due <= np.datetime64(COVID_WINDOW[1], "D"))
        ok = np.isin(exc, accepted) & ((exc != g_idx) | in_covid)
        exception_rows.append(
            add(
                (exc >= 0) & ~ok,
                Status.INVALID,
                f"Cannot evaluate: the exception ground does not disapply {rule.regulation}.",
            )
        )
        exception_rows.append(add(exc >= 0, Status.EXCEPTED, ""))
    has_end = ~np.isnat(end)
    add(has_end & (end <= due), Status.MET, "")
    add(has_end, Status.LATE, "")
    add(a > due, Status.MET if rule.kind is Kind.WINDOW else Status.OVERDUE, "")
    add(due <= a + np.timedelta64(conv.due_soon_days, "D"), Status.DUE_SOON, "")

    which = np.select(conds, list(range(len(conds))), default=len(conds))
    status = np.array([*choices, _S[Status.PENDING]], dtype=np.int8)[which]
    reason = np.array([*rcodes, 0], dtype=np.int8)[which]

    # which dates each outcome reports (the same as the per-case evaluator)
    na = status == _S[Status.NOT_APPLICABLE]
    invalid_no_start = (status == _S[Status.INVALID]) & no_start & ~phase
    phase_invalid = (status == _S[Status.INVALID]) & np.isnat(due) & phase
    blank_due = na | invalid_no_start | phase_invalid
    due = np.where(blank_due, NAT, due)
    end = np.where(na | phase_invalid, NAT, end)
    start = np.where(invalid_no_start, NAT, start)
    computed = np.where(blank_due, NAT, computed)
    exception = np.where(np.isin(which, exception_rows), exc, -1)
    return ClockArrays(
        rule=rule,
        start=start,
        due=due,
        computed_due=computed,
        end=end,
        status=status,
        reason=reason,
        reasons=tuple(reasons),
        exception=exception.astype(np.int8),
    )


def evaluate_caseload(
    caseload: Caseload,
    catalogue: Catalogue,
    *,
    as_of: dt.date,
    conventions: Conventions = DEFAULT_CONVENTIONS,
) -> Evaluation:
    """Every clock of every case in ``caseload`` at ``as_of``."""
    n = len(caseload.cases)
    col = _prepare(caseload, as_of)
    clocks: dict[str, ClockArrays] = {}
    advice_clock: ClockArrays | None = None
    adv = caseload.advice
    a = np.datetime64(as_of, "D")
    advice_index = np.zeros(0, dtype=np.int64)
    providers = np.zeros(0, dtype=object)
    for rule in catalogue.clocks:
        if rule.per == "advice_request":
            if "advice" in caseload.unrecorded:
                continue
            pos = pd.Index(caseload.cases["case_ref"]).get_indexer(adv["case_ref"])
            known = pos >= 0
            advice_index = pos[known].astype(np.int64)
            sub = adv[known]
            providers = sub["provider"].to_numpy(dtype=object, na_value="")
            acol: dict[str, Any] = {}
            for c in ("requested", "received"):
                d = _dates(sub[c])
                acol[c] = np.where(d > a, NAT, d)
            acol["exception"] = _codes(sub["exception"], _GROUNDS)
            advice_clock = evaluate_rule(
                rule, acol, as_of=as_of, conventions=conventions, unrecorded=frozenset(), n=len(sub)
            )
            continue
        clocks[rule.id] = evaluate_rule(
            rule, col, as_of=as_of, conventions=conventions, unrecorded=caseload.unrecorded, n=n
        )
    open_, weeks, band = backlog_arrays(
        caseload.cases, col, as_of=as_of, thresholds=conventions.band_thresholds
    )
    return Evaluation(
        as_of=as_of,
        cases=caseload.cases,
        clocks=clocks,
        advice_clock=advice_clock,
        advice_case_index=advice_index,
        advice_provider=providers,
        open=open_,
        weeks_waiting=weeks,
        band=band,
    )
