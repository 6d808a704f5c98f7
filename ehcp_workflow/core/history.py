"""A case's history as the rows its clocks run over: one row per request, review cycle, review
period and request for advice, each knowing its case.

The evaluator runs a clock over the rows of its ``per`` (``config/clocks.yaml``): the case table
for request-level clocks, this module's review cycles for the review steps (regs 20-22), its review
periods for the annual review (CFA 2014 s.44(1)), the advice table for reg 8. Building the rows is
where history meets replay: every date after ``as_of`` is masked first, and a cycle none of whose
events had happened by then is dropped, so a past night sees the history as it then stood.

Pure: numpy and pandas only; ``as_of`` is an argument.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core.caseload import CODE_COLUMNS, REVIEW_DATE_COLUMNS, Caseload
from ehcp_workflow.core.conventions import Conventions, ReviewAnchor

Dates = npt.NDArray[Any]  # datetime64[D]
NAT = np.datetime64("NaT", "D")
_NAT_INT = np.iinfo(np.int64).min

#: Category order of each coded column: values are held as int8 indexes into it, -1 for missing.
CATEGORIES: dict[str, tuple[str, ...]] = {c: tuple(sorted(v)) for c, v in CODE_COLUMNS.items()}

#: Suffix of the provenance arrays that go with a derived date: which event it is (index into the
#: names under the ``NAMES`` suffix). Explanations are built from these, not recomputed.
FROM = "@from"
NAMES = "@names"


def dates(s: pd.Series) -> Dates:
    """A date column as ``datetime64[D]``."""
    return np.asarray(s.to_numpy()).astype("datetime64[D]")


def masked(s: pd.Series, as_of: np.datetime64) -> Dates:
    """A date column with events after ``as_of`` removed (they had not happened that night)."""
    d = dates(s)
    return np.where(d > as_of, NAT, d)


def codes(s: pd.Series, categories: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Integer codes of a coded column: free when it already has the contract's categorical dtype."""
    if isinstance(s.dtype, pd.CategoricalDtype) and tuple(s.dtype.categories) == categories:
        return np.asarray(s.cat.codes, dtype=np.int8)
    values, uniques = pd.factorize(s)  # plain strings: factorize, then map the few distinct values
    lookup = np.array([categories.index(u) if u in categories else -1 for u in uniques] + [-1], dtype=np.int8)
    result: npt.NDArray[np.int8] = lookup[values]
    return result


class Rows(Mapping[str, Any]):
    """The columns of one kind of row, with its case's columns gathered on first use.

    ``case_index`` maps each row to its case; ``instance`` names it ("review 2", an adviser).
    Case columns are gathered lazily: most rules read two or three of them.
    """

    def __init__(
        self,
        own: dict[str, Any],
        *,
        n: int,
        case_index: npt.NDArray[np.int64],
        instance: npt.NDArray[np.object_],
        cases: Mapping[str, Any] | None = None,
    ) -> None:
        self._own = own
        self._cases = cases
        self.n = n
        self.case_index = case_index
        self.instance = instance

    def __getitem__(self, key: str) -> Any:
        if key in self._own:
            return self._own[key]
        if self._cases is None or key not in self._cases:
            raise KeyError(key)
        value = self._cases[key]
        if isinstance(value, np.ndarray):
            value = value[self.case_index]
        self._own[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._own or (self._cases is not None and key in self._cases)

    def __iter__(self) -> Iterator[str]:
        return iter(self._own)

    def __len__(self) -> int:
        return len(self._own)

    def put(self, key: str, value: Any) -> None:
        self._own[key] = value


def anchor_event(conv: Conventions) -> str:
    """The review event the s.44 year runs from, by the ``review_anchor`` convention."""
    if conv.review_anchor is ReviewAnchor.DECISION_LETTER:
        return "review_decision_letter"
    return "review_meeting"


@dataclass(frozen=True)
class ReviewHistory:
    """Review cycles that had begun by ``as_of``, sorted by case and date, and their periods."""

    cycles: Rows
    periods: Rows


def code_in(values: npt.NDArray[np.int8], column: str, wanted: Iterable[str]) -> npt.NDArray[np.bool_]:
    """Rows whose coded ``column`` holds one of ``wanted`` (unknown codes match nothing)."""
    idx = [CATEGORIES[column].index(w) for w in wanted if w in CATEGORIES[column]]
    return np.isin(values, np.array(idx, dtype=np.int8))


def positions(index: pd.Index, refs: pd.Series) -> npt.NDArray[np.int64]:
    """Where each of ``refs`` is in ``index`` (-1 if absent).

    Rows of a history table come grouped by case (the store reads them in case order): then each
    case is looked up once per run of rows, not once per row (string hashing dominates).
    """
    values = refs.to_numpy(dtype=object, na_value="")  # a row without a case matches none
    if len(values) < 2:
        return np.asarray(index.get_indexer(values), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    found = np.asarray(index.get_indexer(values[starts]), dtype=np.int64)
    result: npt.NDArray[np.int64] = np.repeat(found, np.diff(np.r_[starts, len(values)]))
    return result


def _sorted_by(primary: npt.NDArray[Any], secondary: npt.NDArray[Any]) -> bool:
    """Whether rows are already in (primary, secondary) order (a sort is then not needed)."""
    if len(primary) < 2:
        return True
    p0, p1, s0, s1 = primary[:-1], primary[1:], secondary[:-1], secondary[1:]
    return bool(np.all((p1 > p0) | ((p1 == p0) & (s1 >= s0))))


def _cycle_order(case_pos: npt.NDArray[np.int64], own: Mapping[str, Dates]) -> Any:
    """Rows of the review table that count at ``as_of``, in (case, first event) order."""
    key = np.full(len(case_pos), NAT)
    for c in REVIEW_DATE_COLUMNS:  # a cycle is dated by its earliest recorded event
        d = own[c]
        key = np.where(np.isnat(key) | (~np.isnat(d) & (d < key)), d, key)
    keep = (case_pos >= 0) & ~np.isnat(key)
    idx = np.flatnonzero(keep)
    if _sorted_by(case_pos[idx], key[idx].astype(np.int64)):
        return idx
    order = np.lexsort((idx, key[idx], case_pos[idx]))
    return idx[order]


def review_history(
    caseload: Caseload,
    case_col: Mapping[str, Any],
    *,
    as_of: dt.date,
    conv: Conventions,
    refs: pd.Index | None = None,
) -> ReviewHistory:
    """The review cycles and s.44 periods of every case, as they stood at the end of ``as_of``."""
    a = np.datetime64(as_of, "D")
    rv = caseload.review_history
    n_cases = len(caseload.cases)
    refs = pd.Index(caseload.cases["case_ref"]) if refs is None else refs
    case_pos = positions(refs, rv["case_ref"])
    own: dict[str, Any] = {c: masked(rv[c], a) for c in REVIEW_DATE_COLUMNS}
    outcome = codes(rv["review_outcome"], CATEGORIES["review_outcome"])
    # a decision dated after as_of had not been made yet (replays); a decision with no letter date
    # stays (it is what the source says)
    outcome = np.where(dates(rv["review_decision_letter"]) > a, np.int8(-1), outcome).astype(np.int8)
    order = _cycle_order(case_pos, own)
    cyc_case = case_pos[order]
    cyc_own: dict[str, Any] = {c: v[order] for c, v in own.items()}
    cyc_own["review_outcome"] = outcome[order]
    ordinal = _ordinal(cyc_case)
    cycles = Rows(
        cyc_own,
        n=len(order),
        case_index=cyc_case,
        instance=_labels(ordinal),
        cases=case_col,
    )
    periods = _periods(cycles, case_col, n_cases=n_cases, conv=conv)
    _transfer_anchors(case_col, cycles, conv=conv, n_cases=n_cases)
    return ReviewHistory(cycles=cycles, periods=periods)


def _ordinal(case_index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0, 1, 2... within each case (``case_index`` is sorted)."""
    if not len(case_index):
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, case_index[1:] != case_index[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(case_index)), 0))
    result: npt.NDArray[np.int64] = np.arange(len(case_index)) - first
    return result


def _labels(ordinal: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """``review 1``, ``review 2``...: the Nth review of the plan."""
    if not len(ordinal):
        return np.zeros(0, dtype=object)
    top = int(ordinal.max()) + 1
    names = np.array([f"review {k + 1}" for k in range(top)], dtype=object)
    result: npt.NDArray[np.object_] = names[ordinal]
    return result


def _periods(cycles: Rows, case_col: Mapping[str, Any], *, n_cases: int, conv: Conventions) -> Rows:
    """The s.44(1) periods: from the plan's start to the first review's anchor, from each anchor to
    the next, and an open one from the last anchor. Cycles without an anchor yet (a meeting whose
    decision letter has not gone) do not end a period."""
    event = anchor_event(conv)
    anchor_all: Dates = cycles[event]
    has = ~np.isnat(anchor_all)
    a_case = cycles.case_index[has]
    anchor = anchor_all[has]
    if not _sorted_by(a_case, anchor.astype(np.int64)):
        order = np.lexsort((anchor, a_case))
        a_case, anchor = a_case[order], anchor[order]
    counts = np.bincount(a_case, minlength=n_cases).astype(np.int64)
    per_case = counts + 1
    row_case = np.repeat(np.arange(n_cases, dtype=np.int64), per_case)
    first_row = np.cumsum(per_case) - per_case
    j = np.arange(len(row_case), dtype=np.int64) - first_row[row_case]
    offset = (np.cumsum(counts) - counts)[row_case]
    plan_start: Dates = case_col["plan_start"]
    start = np.where(j == 0, plan_start[row_case], NAT)
    later = j > 0
    start[later] = anchor[offset[later] + j[later] - 1]
    end = np.full(len(row_case), NAT)
    ended = j < counts[row_case]
    end[ended] = anchor[offset[ended] + j[ended]]
    own: dict[str, Any] = {
        "review_anchor": start,
        "review_anchor" + FROM: np.where(j == 0, np.int8(1), np.int8(0)).astype(np.int8),
        "review_anchor" + NAMES: (event, "plan_start"),
        "next_review_anchor": end,
        "next_review_anchor" + FROM: np.zeros(len(end), dtype=np.int8),
        "next_review_anchor" + NAMES: (event,),
    }
    return Rows(own, n=len(row_case), case_index=row_case, instance=_labels(j), cases=case_col)


def _transfer_anchors(case_col: Any, cycles: Rows, *, conv: Conventions, n_cases: int) -> None:
    """Per case: the last review anchor before a transfer in (else the plan's start) and the first
    on or after it (reg 15(5)). Added to ``case_col`` with their provenance."""
    event = anchor_event(conv)
    anchor: Dates = cycles[event]
    t: Dates = case_col["transfer_in_date"]
    tc = t[cycles.case_index]
    known = ~np.isnat(anchor) & ~np.isnat(tc)
    before = known & (anchor < tc)
    after = known & (anchor >= tc)
    last = np.full(n_cases, _NAT_INT, dtype=np.int64)
    np.maximum.at(last, cycles.case_index[before], anchor[before].astype(np.int64))
    first = np.full(n_cases, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cycles.case_index[after], anchor[after].astype(np.int64))
    last_d = np.where(last == _NAT_INT, NAT, last.astype("datetime64[D]"))
    first_d = np.where(first == np.iinfo(np.int64).max, NAT, first.astype("datetime64[D]"))
    plan_start: Dates = case_col["plan_start"]
    use_plan = np.isnat(last_d)
    case_col["review_anchor_before_transfer"] = np.where(use_plan, plan_start, last_d)
    case_col["review_anchor_before_transfer" + FROM] = np.where(use_plan, np.int8(1), np.int8(0)).astype(
        np.int8
    )
    case_col["review_anchor_before_transfer" + NAMES] = (event, "plan_start")
    case_col["first_review_after_transfer"] = first_d
    case_col["first_review_after_transfer" + FROM] = np.zeros(n_cases, dtype=np.int8)
    case_col["first_review_after_transfer" + NAMES] = (event,)
