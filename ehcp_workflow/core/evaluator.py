"""The clock engine: every statutory clock of ``config/clocks.yaml`` over a whole caseload, in numpy.

This is the only evaluator the product runs (the nightly, exports, reports, ``ehcp clocks`` and
``ehcp case show``). A clock runs over the rows of its ``per``: the cases, each review cycle, each
s.44 review period, each request for advice (:mod:`ehcp_workflow.core.history`), so every cycle has its
own instance and a second review never hides the first. Each clock returns its dates and status
and small *provenance* arrays (which event started it, which limit set the due date, which event
ended it); :mod:`ehcp_workflow.core.explain` turns those into the sentences a caseworker reads, so
explanations never re-run the rules.

Pure: no database, no Prefect, no clock; ``as_of`` is an argument and later events are masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core import calendar as cal
from ehcp_workflow.core.arrays import (
    _S,
    BAD_GROUND,
    DUE_MOVE_DAY,
    END_BEFORE_START,
    END_CUT_SHORT,
    END_STOPPED,
    GROUNDS,
    PHASE_DUE_FROM,
    ClockArrays,
)
from ehcp_workflow.core.backlog import backlog_arrays
from ehcp_workflow.core.caseload import CODE_COLUMNS, EVENT_DATE_COLUMNS, EXCEPTION_COLUMNS, Caseload
from ehcp_workflow.core.catalogue import Catalogue, ClockRule, Condition, Counting, Kind, Limit, Unit
from ehcp_workflow.core.conventions import (
    DEFAULT_CONVENTIONS,
    Conventions,
    MonthReading,
    PhaseTransferReading,
    WeekCounting,
)
from ehcp_workflow.core.explain import reason_texts
from ehcp_workflow.core.history import (
    CATEGORIES,
    FROM,
    NAMES,
    NAT,
    Dates,
    Rows,
    code_in,
    codes,
    dates,
    masked,
    positions,
    review_history,
)
from ehcp_workflow.core.statuses import RESULT_COLUMNS, STATUS_CODE, STATUS_ORDER, Status

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Evaluation:
    """Every clock of every case at ``as_of``."""

    as_of: dt.date
    cases: pd.DataFrame  # the caseload's case table (not copied)
    clocks: dict[str, ClockArrays]
    open: Mask
    weeks_waiting: npt.NDArray[np.int64]
    band: npt.NDArray[np.object_]
    conventions: Conventions = field(default=DEFAULT_CONVENTIONS)

    @property
    def advice_clock(self) -> ClockArrays | None:
        return self.clocks.get("advice")

    def status_counts(self) -> pd.DataFrame:
        """Counts of each status by clock (a small summary safe to publish)."""
        rows: dict[str, dict[str, int]] = {}
        for cid, arrs in self._all():
            counts = np.bincount(arrs.status, minlength=len(STATUS_ORDER))
            rows[cid] = {s.value: int(counts[i]) for i, s in enumerate(STATUS_ORDER)}
        return pd.DataFrame.from_dict(rows, orient="index")

    def _all(self) -> Iterable[tuple[str, ClockArrays]]:
        yield from self.clocks.items()

    def to_frame(
        self,
        *,
        clocks: Iterable[str] | None = None,
        statuses: Iterable[Status] | None = None,
        rows: Mask | None = None,
    ) -> pd.DataFrame:
        """One row per clock instance, in ``RESULT_COLUMNS`` order (``rows``: cases to keep)."""
        wanted = set(clocks) if clocks is not None else None
        keep = np.array([STATUS_CODE[s] for s in statuses], dtype=np.int8) if statuses is not None else None
        case_ref = self.cases["case_ref"].to_numpy(dtype=object, na_value=None)
        person = self.cases["person_ref"].to_numpy(dtype=object, na_value=None)
        person = np.where(pd.isna(person), case_ref, person)
        received = self.cases["request_received"].to_numpy().astype("datetime64[D]")
        plan_start = self.cases["plan_start"].to_numpy().astype("datetime64[D]")
        as_of = np.datetime64(self.as_of, "D")
        parts: list[pd.DataFrame] = []
        for cid, a in self._all():
            if wanted is not None and cid not in wanted:
                continue
            sel = np.ones(len(a), dtype=bool) if keep is None else np.isin(a.status, keep)
            if rows is not None:
                sel &= rows[a.case_index]
            if not sel.any():
                continue
            i = a.case_index[sel]
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
            grounds = np.array([*GROUNDS, None], dtype=object)[a.exception[sel]]
            parts.append(
                pd.DataFrame(
                    {
                        "person_ref": person[i],
                        "case_ref": case_ref[i],
                        "request_received": received[i],
                        "plan_start": plan_start[i],
                        "clock": cid,
                        "instance": a.instance[sel],
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
                        "reason": reason_texts(a, sel, self.as_of),
                    }
                )
            )
        if not parts:
            return pd.DataFrame({c: [] for c in RESULT_COLUMNS})
        out = pd.concat(parts, ignore_index=True)
        return out[list(RESULT_COLUMNS)]


# --- the case rows ----------------------------------------------------------------------------------


def _prepare(caseload: Caseload, as_of: dt.date) -> dict[str, Any]:
    """The case columns as numpy arrays, masked to what had happened by the end of ``as_of``."""
    df = caseload.cases
    a = np.datetime64(as_of, "D")
    col: dict[str, Any] = {}
    raw: dict[str, Dates] = {}
    for c in df.columns:
        if c in EVENT_DATE_COLUMNS:
            raw[c] = dates(df[c])
            col[c] = masked(df[c], a)
        elif c in ("phase_transfer_date", "phase_transfer_due", "transfer_out_move"):
            col[c] = dates(df[c])  # planned dates: known in advance
    for c in CODE_COLUMNS:
        col[c] = codes(df[c], CATEGORIES[c])
    for c in EXCEPTION_COLUMNS:
        ground = codes(df[c], GROUNDS)
        if f"{c}_start" in df.columns:  # a ground applies from its period's start (replays)
            ground = np.where(dates(df[f"{c}_start"]) > a, np.int8(-1), ground).astype(np.int8)
        col[c] = ground
    col["exported_present"] = df["exported_to"].notna().to_numpy()
    # a decision dated after as_of had not been made yet (replays)
    for code, date_col in (
        ("request_outcome", "request_outcome_date"),
        ("assessment_outcome", "assessment_outcome_date"),
    ):
        later = raw[date_col] > a
        col[code] = np.where(later, np.int8(CATEGORIES[code].index("A")), col[code]).astype(np.int8)
    agreed = df["reassessment_agreed"].to_numpy(dtype="float64", na_value=np.nan)
    col["reassessment_agreed"] = np.where(raw["reassessment_decision_date"] > a, np.nan, agreed)
    return col


def _advice_rows(caseload: Caseload, case_col: Mapping[str, Any], as_of: dt.date, refs: pd.Index) -> Rows:
    """One row per request for advice (of the cases whose source records advice)."""
    adv = caseload.advice
    a = np.datetime64(as_of, "D")
    pos = positions(refs, adv["case_ref"])
    known = pos >= 0
    blind = caseload.unrecorded_by_case.get("advice")
    if blind is not None:
        known &= ~blind[np.maximum(pos, 0)]
    sub = adv[known]
    own: dict[str, Any] = {c: masked(sub[c], a) for c in ("requested", "received")}
    own["exception"] = codes(sub["exception"], GROUNDS)
    return Rows(
        own,
        n=len(sub),
        case_index=pos[known].astype(np.int64),
        instance=sub["provider"].to_numpy(dtype=object, na_value=""),
        cases=case_col,
    )


# --- one rule ----------------------------------------------------------------------------------------


def _resolve(
    name: str, col: Mapping[str, Any], n: int
) -> tuple[Dates, npt.NDArray[np.int8], tuple[str, ...]]:
    """A date the rule names, which event each row's date is (index) and the event names."""
    dates_: Dates = col[name]
    if name + FROM in col:
        return dates_, col[name + FROM], col[name + NAMES]
    return dates_, np.zeros(n, dtype=np.int8), (name,)


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


def reg18_phase_transfer(
    col: Mapping[str, Any], conv: Conventions
) -> tuple[Dates, Dates, npt.NDArray[np.int8]]:
    """SEND Regulations 2014 reg 18: (due used, computed due, which rule set it).

    School phases: before 15 February of the transfer year (reg 18(1)(b)); secondary to post-16:
    before 31 March (18(1)(a)); post-16 to post-16 at another time: 5 months before the transfer
    (18(2)). A due date recorded on the case (SEN2 PhaseTransferDueDate) wins; the computed one is
    kept beside it so a difference can be shown.
    """
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
    which = [code_in(kind, "phase_transfer_type", [k]) for k in PHASE_DUE_FROM[:3]]
    computed = np.select(which, [feb15, mar31, five], NAT)
    computed = np.where(np.isnat(move), NAT, computed).astype("datetime64[D]")
    explicit: Dates = col["phase_transfer_due"]
    due = np.where(np.isnat(explicit), computed, explicit)
    how = np.select(which, [np.int8(0), np.int8(1), np.int8(2)], np.int8(-1)).astype(np.int8)
    how = np.where(np.isnat(explicit), how, np.int8(3)).astype(np.int8)
    return due, computed, how


def phase_transfer_due_date(
    transfer_type: str | None, transfer_date: dt.date | None, due_date: dt.date | None, conv: Conventions
) -> dt.date | None:
    """:func:`reg18_phase_transfer` for one phase transfer (the SEN2 export's due date)."""
    kinds = CATEGORIES["phase_transfer_type"]
    col = {
        "phase_transfer_type": np.array(
            [kinds.index(transfer_type) if transfer_type in kinds else -1], np.int8
        ),
        "phase_transfer_date": np.array([transfer_date or NAT], dtype="datetime64[D]"),
        "phase_transfer_due": np.array([due_date or NAT], dtype="datetime64[D]"),
    }
    due = reg18_phase_transfer(col, conv)[0][0]
    return None if np.isnat(due) else due.astype(dt.date)


def superseded_by_transfer_in_review(col: Mapping[str, Any]) -> Mask:
    """SEND Regulations 2014 reg 15(5): the s.44 period running when a plan transferred in is
    replaced by the new council's first review (the ``transfer_in_review`` clock)."""
    t: Dates = col["transfer_in_date"]
    start: Dates = col["review_anchor"]
    end: Dates = col["next_review_anchor"]
    held: Mask = ~np.isnat(t) & ~np.isnat(start) & (start < t) & (np.isnat(end) | (end >= t))
    return held


def _present(v: Any) -> Mask:
    if v.dtype.kind == "M":
        return np.asarray(~np.isnat(v), dtype=bool)
    if v.dtype.kind == "f":
        return np.asarray(~np.isnan(v), dtype=bool)
    if v.dtype.kind == "b":
        return np.asarray(v, dtype=bool)
    return np.asarray(v >= 0, dtype=bool)


def _condition(cond: Condition, col: Mapping[str, Any], end: Dates) -> Mask:
    if cond.rule == "superseded_by_transfer_in_review":
        held = superseded_by_transfer_in_review(col)
    else:
        assert cond.field is not None
        v = col["exported_present"] if cond.field == "exported_to" else col[cond.field]
        present = _present(v)
        if cond.in_ is not None:
            held = code_in(v, cond.field, cond.in_)
        elif cond.present is not None:
            held = present if cond.present else ~present
        else:
            held = present & ((v == 1.0) == bool(cond.is_))
    if cond.unless_ended:
        held = held & np.isnat(end)
    return np.asarray(held, dtype=bool)


def _event(spec_field: str, when: Any, col: Mapping[str, Any]) -> Dates:
    d: Dates = col[spec_field]
    if when is not None:
        d = np.where(code_in(col[when.field], when.field, when.in_), d, NAT)
    return d


def evaluate_rule(
    rule: ClockRule,
    col: Rows | Mapping[str, Any],
    *,
    as_of: dt.date,
    conventions: Conventions,
    unrecorded: frozenset[str],
    n: int,
    exception_windows: Mapping[str, tuple[dt.date, dt.date]] | None = None,
    unrecorded_by_case: Mapping[str, Mask] | None = None,
) -> ClockArrays:
    """One clock over every row of ``col``. ``unrecorded``: columns no row's source records;
    ``unrecorded_by_case``: per row, columns that row's own source does not record."""
    unrecorded_by_case = unrecorded_by_case or {}
    conv = conventions
    a = np.datetime64(as_of, "D")
    start, start_from, start_names = _resolve(rule.starts, col, n)
    computed = np.full(n, NAT)
    due_from = np.zeros(n, dtype=np.int8)
    due_base: Dates | None = None
    phase = rule.limit.unit is Unit.RULE
    if phase:
        due, computed, due_from = reg18_phase_transfer(col, conv)
        move: Dates = col["phase_transfer_date"]
        base = np.where(np.isnat(move), due, move)
        start = cal.add_months_array(base, -12)  # "within 12 months of a transfer"
        start_from = np.zeros(n, dtype=np.int8)
        start_names = ("transfer date less 12 months",)
    end = np.full(n, NAT)
    end_names = (
        _resolve(rule.ends.field, col, 0)[2][0] if rule.ends else "",
        rule.stops.field if rule.stops else "",
        rule.cut_short_by.field if rule.cut_short_by else "",
    )
    if rule.ends is not None:
        end = _event(rule.ends.field, rule.ends.when, col).copy()
        if rule.ends.after_start_only:
            end = np.where(np.isnat(start) | (end < start), NAT, end)

    if not phase:
        due = _add(start, rule.limit, rule.counting, conv)
        if rule.rule == "reg15_move_day":  # reg 15(2): known 15 working days ahead, due on the move
            mv: Dates = col["transfer_out_move"]
            moved = ~np.isnat(mv) & (due < mv)
            due = np.where(moved, mv, due)
            due_from = np.where(moved, DUE_MOVE_DAY, due_from).astype(np.int8)
        if rule.later_of:
            due_base = start.copy()
        for k, extra in enumerate(rule.later_of, start=1):
            assert extra.from_ is not None and due_base is not None
            other_start = col[extra.from_]
            other = _add(other_start, extra, Counting.WITHIN, conv)
            later = ~np.isnat(other) & (other > due)
            due = np.where(later, other, due)
            due_from = np.where(later, np.int8(k), due_from).astype(np.int8)
            due_base = np.where(later, other_start, due_base)

    reasons: list[str] = [""]
    conds: list[Mask] = []
    choices: list[np.int8] = []
    rcodes: list[int] = []

    def add(mask: Mask, status: Status, reason: str) -> int:
        conds.append(mask)
        choices.append(_S[status])
        if reason:
            if reason not in reasons:
                reasons.append(reason)
            rcodes.append(reasons.index(reason))
        else:
            rcodes.append(0)
        return len(conds) - 1

    for cond in rule.not_applicable_when:
        add(_condition(cond, col, end), Status.NOT_APPLICABLE, f"Not applicable: {cond.reason}.")
    if rule.ends is not None and (rule.ends.field in unrecorded or rule.ends.field in unrecorded_by_case):
        blind = unrecorded_by_case.get(rule.ends.field)
        add(
            np.ones(n, dtype=bool) if rule.ends.field in unrecorded or blind is None else blind,
            Status.NOT_APPLICABLE,
            f"Not applicable: the source does not record {rule.ends.field}, so this clock cannot be judged.",
        )
    for bad in rule.invalid_when:
        held = code_in(col[bad.field], bad.field, bad.in_) & np.isnat(col[bad.without])
        add(held, Status.INVALID, f"Cannot evaluate: {bad.reason}.")
    no_start = np.isnat(start)
    if phase:
        described = ~np.isnat(col["phase_transfer_date"]) | (col["phase_transfer_type"] >= 0)
        add(
            np.isnat(due) & described,
            Status.INVALID,
            "Cannot evaluate: a phase transfer needs both its type and its transfer date "
            "(or an explicit due date).",
        )
        add(np.isnat(due), Status.NOT_APPLICABLE, "Not applicable: no phase transfer recorded.")
    else:
        if not (rule.ends and rule.ends.after_start_only):
            add(
                no_start & ~np.isnat(end),
                Status.INVALID,
                f"Cannot evaluate: {end_names[0]} is recorded but {start_names[0]} is not.",
            )
        add(
            no_start,
            Status.NOT_APPLICABLE,
            f"Not applicable: no {start_names[0]} (the clock has not started).",
        )
    add(~np.isnat(end) & (end < start), Status.INVALID, END_BEFORE_START)

    exc = np.full(n, -1, dtype=np.int8)
    exception_rows: list[int] = []
    column = rule.exception_column
    if column is not None and column in col:
        exc = col[column]
        accepted = [i for i, g in enumerate(GROUNDS) if g in rule.grounds_accepted()]
        ok = np.isin(exc, accepted)
        for ground, (lo, hi) in (exception_windows or {}).items():
            inside = (due >= np.datetime64(lo, "D")) & (due <= np.datetime64(hi, "D"))
            ok &= (exc != GROUNDS.index(ground)) | inside
        exception_rows.append(add((exc >= 0) & ~ok, Status.INVALID, BAD_GROUND))
        exception_rows.append(add(exc >= 0, Status.EXCEPTED, ""))
    has_end = ~np.isnat(end)
    # ends other than the end event, applied only where their own row decides the status
    other_ends: list[tuple[int, Dates, np.int8]] = []
    if rule.cut_short_by is not None:  # a window the council closed early (reg 13(1))
        cut = _event(rule.cut_short_by.field, rule.cut_short_by.when, col)
        early = ~has_end & ~np.isnat(cut) & ~no_start & (cut >= start) & (cut <= due)
        other_ends.append((add(early, Status.CUT_SHORT, ""), cut, END_CUT_SHORT))
    if rule.stops is not None:  # still running when the case moved on: late once, at that date
        stop = _event(rule.stops.field, rule.stops.when, col)
        stopped = ~has_end & ~np.isnat(stop) & ~no_start & (stop >= start)
        add(stopped & (stop <= due), Status.NOT_APPLICABLE, f"Not applicable: {rule.stops.early}.")
        other_ends.append((add(stopped & (stop > due), Status.LATE, ""), stop, END_STOPPED))
    add(has_end & (end <= due), Status.MET, "")
    add(has_end, Status.LATE, "")
    add(a > due, Status.MET if rule.kind is Kind.WINDOW else Status.OVERDUE, "")
    add(due <= a + np.timedelta64(conv.due_soon_days, "D"), Status.DUE_SOON, "")

    which = np.select(conds, list(range(len(conds))), default=len(conds))
    status = np.array([*choices, _S[Status.PENDING]], dtype=np.int8)[which]
    reason = np.array([*rcodes, 0], dtype=np.int8)[which]
    end_from = np.zeros(n, dtype=np.int8)
    for row, other, code in other_ends:
        hit = which == row
        end = np.where(hit, other, end)
        end_from = np.where(hit, code, end_from).astype(np.int8)

    # which dates each outcome reports
    na = status == _S[Status.NOT_APPLICABLE]
    invalid_no_start = (status == _S[Status.INVALID]) & no_start & ~phase
    phase_invalid = (status == _S[Status.INVALID]) & np.isnat(due) & phase
    blank_due = na | invalid_no_start | phase_invalid
    due = np.where(blank_due, NAT, due)
    end = np.where(na | phase_invalid, NAT, end)
    start = np.where(invalid_no_start, NAT, start)
    computed = np.where(blank_due, NAT, computed)
    exception = np.where(np.isin(which, exception_rows), exc, -1)
    case_index = getattr(col, "case_index", None)
    instance = getattr(col, "instance", None)
    return ClockArrays(
        rule=rule,
        case_index=np.arange(n, dtype=np.int64) if case_index is None else case_index,
        instance=np.full(n, "", dtype=object) if instance is None else instance,
        start=start,
        due=due,
        computed_due=computed,
        end=end,
        status=status,
        reason=reason,
        reasons=tuple(reasons),
        exception=exception.astype(np.int8),
        start_from=start_from,
        start_names=start_names,
        due_from=due_from,
        end_from=end_from,
        end_names=end_names,
        due_base=due_base,
    )


def evaluate_caseload(
    caseload: Caseload,
    catalogue: Catalogue,
    *,
    as_of: dt.date,
    conventions: Conventions = DEFAULT_CONVENTIONS,
) -> Evaluation:
    """Every clock of every case in ``caseload`` at ``as_of``, one instance per row of its ``per``."""
    n = len(caseload.cases)
    col = _prepare(caseload, as_of)
    refs = pd.Index(caseload.cases["case_ref"])  # one hash table for every history table's lookup
    history = review_history(caseload, col, as_of=as_of, conv=conventions, refs=refs)
    case_rows = Rows(col, n=n, case_index=np.arange(n, dtype=np.int64), instance=np.full(n, "", dtype=object))
    rows: dict[str, Rows] = {
        "case": case_rows,
        "review": history.cycles,
        "review_period": history.periods,
    }
    windows = {w.ground: (w.from_, w.to) for w in catalogue.exception_windows}
    clocks: dict[str, ClockArrays] = {}
    for rule in catalogue.clocks:
        if rule.per == "advice_request":
            if "advice" in caseload.blind_spots:
                continue
            if "advice_request" not in rows:
                rows["advice_request"] = _advice_rows(caseload, col, as_of, refs)
        r = rows[rule.per]
        blind = {name: m[r.case_index] for name, m in caseload.unrecorded_by_case.items()}
        clocks[rule.id] = evaluate_rule(
            rule,
            r,
            as_of=as_of,
            conventions=conventions,
            unrecorded=caseload.blind_spots,
            n=r.n,
            exception_windows=windows,
            unrecorded_by_case=blind,
        )
    open_, weeks, band = backlog_arrays(
        caseload.cases, col, as_of=as_of, thresholds=conventions.band_thresholds
    )
    return Evaluation(
        as_of=as_of,
        cases=caseload.cases,
        clocks=clocks,
        open=open_,
        weeks_waiting=weeks,
        band=band,
        conventions=conventions,
    )
