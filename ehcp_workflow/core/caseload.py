"""The caseload: the one column contract every input, store and evaluator agrees on.

A *case* is one request for an EHC needs assessment (SEN2 ``Requests``; a person with several
requests has several cases sharing a ``person_ref``) together with the plan it produced, that plan's
review cycles and any phase transfer or transfer between councils. A case is its history: the case
table holds the request-level dates (and, for snapshot sources, the latest review as flat columns);
the review table holds every annual-review cycle (meeting, report, decision letter, outcome,
amendment notice, amended plan), one row per cycle, never overwritten; the advice table holds every
request for advice (reg 8).

Importers (SEN2 XML, the project's CSV/XLSX format), the database and the demo-data generator all
produce a :class:`Caseload`; both evaluators consume one. Dates are ``datetime64`` columns holding
calendar dates (statutory deadlines are dates, never instants); missing means "has not happened"
or "not known".

Why columnar tables and not the event log: the nightly pass over a national-size caseload must be
vectorised. Clocks that recur (annual reviews, advice) are evaluated once per row of their own table
(one *instance* per review cycle or advice request), so a second review never hides the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd


class Outcome(StrEnum):
    """SEN2 request/assessment outcome codes (sen2-spec §3.1, §3.2)."""

    YES = "Y"  # request: LA agreed to assess / assessment: LA decided to issue a plan
    NO = "N"  # request: refused to assess / assessment: decided not to issue
    AWAITING = "A"  # decision not yet made
    WITHDRAWN = "W"  # withdrawn or ceased before the decision
    HISTORICAL = "H"  # decided before the collection period (old plans, transfers in)


OUTCOME_CODES = frozenset(o.value for o in Outcome)
REVIEW_OUTCOMES = frozenset({"A", "C", "M"})  # amend / cease / maintain (sen2-spec §3.4)
PHASE_TRANSFER_TYPES = frozenset({"school", "post16", "post16_other"})  # reg 18(1)(b), 18(1)(a), 18(2)
EXCEPTION_GROUNDS = frozenset({"a", "b", "c", "d", "e", "f", "g", "unspecified"})  # statutory-rules §2.1
ADVICE_PROVIDERS = (
    "educational_psychology",
    "paediatrics",
    "speech_language_therapy",
    "occupational_therapy",
    "physiotherapy",
    "social_care",
    "school_or_early_years",
    "other",
)

# --- case table -----------------------------------------------------------------------------------

#: Identity and routing columns (strings). ``case_ref`` is unique within a caseload.
ID_COLUMNS: tuple[str, ...] = ("case_ref", "person_ref", "la", "team", "caseworker")

#: Date columns of the case table, each the date an event happened (or, for the three marked
#: ``planned``, a date set in advance). Events dated after ``as_of`` are treated as not yet happened,
#: which is what makes a replay of a past night give that night's answer.
EVENT_DATE_COLUMNS: tuple[str, ...] = (
    "request_received",  # LA received the request (or became responsible under s.24): A1/A4/A8 start
    "request_outcome_date",  # parent told whether the LA will assess (reg 5(1))
    "assessment_outcome_date",  # Y: final plan issued (reg 13(2)); N: notice not to issue (reg 10(1))
    "draft_plan_served",  # draft plan served on the parent/young person (reg 13(1))
    "plan_start",  # date the plan was first made (s.44(1)(a); SEN2 NamedPlan/StartDate)
    "plan_ceased",  # date the plan ended (SEN2 CeaseDate)
    "review_meeting",  # most recent annual review meeting (SEN2 ReviewMeeting)
    "review_report_sent",  # review report circulated after that meeting (reg 20(7)/21(7))
    "review_decision_letter",  # LA wrote with its review decision (SEN2 LastReview)
    "amendment_notice",  # copy plan + proposed amendments sent (reg 22(2); SEN2 ReviewDraft)
    "amended_plan_issued",  # final amended plan, or notice not to amend (reg 22(3)-(4))
    "phase_transfer_final",  # amended plan naming the next institution (SEN2 PhaseTransferFinalDate)
    "transfer_in_date",  # plan transferred in from another LA (reg 15(2)-(3))
    "transfer_in_notice_sent",  # new LA's notice to the family (reg 15(4))
    "transfer_out_aware",  # old LA became aware of the move (reg 15(3))
    "transfer_out_completed",  # old LA transferred the plan (reg 15(2)-(3))
    "reassessment_requested",  # request for a re-assessment received (reg 25(1))
    "reassessment_decision_date",  # notice of decision whether to re-assess (reg 25(1))
    "reassessed_plan_issued",  # final plan after re-assessment (reg 27(2))
    "appealable_decision_date",  # written notice of an appealable decision sent (TR r.20(1)(c))
    "mediation_certificate_date",  # mediation certificate issued (TR r.20(1)(c))
    "appeal_lodged",  # notice of appeal received by the Tribunal
)
PLANNED_DATE_COLUMNS: tuple[str, ...] = (
    "phase_transfer_date",  # date of the transfer between phases (reg 18)
    "phase_transfer_due",  # explicit due date carried by the case (SEN2 PhaseTransferDueDate)
    "transfer_out_move",  # date of the family's move out of the area (reg 15(2))
)
DATE_COLUMNS: tuple[str, ...] = EVENT_DATE_COLUMNS + PLANNED_DATE_COLUMNS

#: Coded columns (strings, missing = not recorded).
CODE_COLUMNS: dict[str, frozenset[str]] = {
    "request_outcome": OUTCOME_CODES,
    "assessment_outcome": OUTCOME_CODES,
    "review_outcome": REVIEW_OUTCOMES,
    "phase_transfer_type": PHASE_TRANSFER_TYPES,
}

#: Free-text / other-LA columns (strings): destination LA when exported before the assessment was
#: completed (SEN2 Exported), origin LA of a transfer in (SEN2 TransferLA).
TEXT_COLUMNS: tuple[str, ...] = ("exported_to", "transfer_in_from", "cease_reason")

#: Boolean columns: whether the LA agreed to re-assess (reg 25(1)).
BOOL_COLUMNS: tuple[str, ...] = ("reassessment_agreed",)

#: One exception column per clock that has exception grounds (statutory-rules §2.1). The value is
#: the ground letter (``a``..``g``) or ``unspecified`` (SEN2 only says *that* an exception applies:
#: ``Week20`` = 1). Filled by the catalogue: see :func:`exception_column`.
EXCEPTION_PREFIX = "exception_"


def exception_column(clock_id: str) -> str:
    """Name of the case column recording an exception ground for ``clock_id``."""
    return f"{EXCEPTION_PREFIX}{clock_id}"


EXCEPTION_CLOCKS: tuple[str, ...] = (
    "decision_to_assess",
    "decision_not_to_issue",
    "final_plan",
    "reassessed_plan",
)
EXCEPTION_COLUMNS: tuple[str, ...] = tuple(exception_column(c) for c in EXCEPTION_CLOCKS)

#: Optional: when each exception's period began (the store's ``case_exception.start_date``). A
#: ground applies from that date: a replay of an earlier night does not see it (event dates rule).
EXCEPTION_START_COLUMNS: tuple[str, ...] = tuple(f"{c}_start" for c in EXCEPTION_COLUMNS)

CASE_COLUMNS: tuple[str, ...] = (
    ID_COLUMNS + DATE_COLUMNS + tuple(CODE_COLUMNS) + TEXT_COLUMNS + BOOL_COLUMNS + EXCEPTION_COLUMNS
)

# --- advice table (one row per request for advice, reg 8) ------------------------------------------

ADVICE_COLUMNS: tuple[str, ...] = ("case_ref", "provider", "requested", "received", "exception")
ADVICE_DATE_COLUMNS: tuple[str, ...] = ("requested", "received")

# --- review table (one row per annual-review cycle, CFA 2014 s.44, regs 20-22) ----------------------

#: Date columns of one review cycle; the case table's columns of the same names are the snapshot
#: of the latest cycle (what a one-row-per-case file can say).
REVIEW_DATE_COLUMNS: tuple[str, ...] = (
    "review_meeting",
    "review_report_sent",
    "review_decision_letter",
    "amendment_notice",
    "amended_plan_issued",
)
REVIEW_COLUMNS: tuple[str, ...] = ("case_ref", *REVIEW_DATE_COLUMNS, "review_outcome")

DATE_DTYPE = "datetime64[s]"


def code_dtype(column: str) -> pd.CategoricalDtype:
    """The categorical dtype of a coded column (outcomes, review outcome, exception grounds...).

    Categorical rather than plain strings: the vectorised engine reads the integer codes directly,
    which is what makes a 1M-case pass take a second (string columns cost ~0.3 s per 200k rows).
    """
    vocab = EXCEPTION_GROUNDS if column.startswith(EXCEPTION_PREFIX) else CODE_COLUMNS[column]
    return pd.CategoricalDtype(categories=sorted(vocab))


def _categorical(values: pd.Series | None, column: str, n: int) -> pd.Series | pd.Categorical:
    dtype = code_dtype(column)
    if values is None:
        return pd.Categorical([None] * n, dtype=dtype)
    if isinstance(values.dtype, pd.CategoricalDtype) and values.dtype == dtype:
        return values
    return values.astype("string").astype(dtype)


@dataclass(frozen=True)
class Caseload:
    """A set of cases ready for evaluation.

    ``unrecorded`` names the case columns the source does not capture at all (SEN2 has no date for
    the review report, for example). A clock whose end event is unrecorded cannot be judged and is
    reported ``not_applicable`` with that reason, instead of being shown as overdue for every case.
    """

    cases: pd.DataFrame
    advice: pd.DataFrame = field(default_factory=lambda: empty_advice())
    unrecorded: frozenset[str] = frozenset()
    source: str = ""
    #: Every review cycle, in (case, cycle) order. ``None``: the source holds only the snapshot, so
    #: the history is the latest cycle read from the case table's review columns.
    reviews: pd.DataFrame | None = None
    #: Per case (a mask over ``cases``): the columns its own source does not record. A store holds
    #: cases from many sources, and one source's blind spots are never another case's.
    unrecorded_by_case: Mapping[str, npt.NDArray[np.bool_]] = field(default_factory=dict)
    #: A partial source (the long event format): it speaks only for the events it lists. Columns it
    #: has no event for are ``unrecorded`` (kept as stored), but it does not become the cases'
    #: provenance: what their own source records is still what their clocks are judged on.
    partial: bool = False
    #: The date the source's data was extracted (a SEN2 return's ReferenceDate), when it says. A
    #: store never lets an older extract overwrite what a newer one (or a caseworker) recorded.
    extract_date: date | None = None

    def __post_init__(self) -> None:
        if self.reviews is None:
            object.__setattr__(self, "reviews", reviews_from_cases(self.cases))
        missing = [c for c in CASE_COLUMNS if c not in self.cases.columns]
        if missing:
            raise ValueError(f"caseload is missing columns: {', '.join(missing)}")
        missing_adv = [c for c in ADVICE_COLUMNS if c not in self.advice.columns]
        if missing_adv:
            raise ValueError(f"advice table is missing columns: {', '.join(missing_adv)}")

    def __len__(self) -> int:
        return len(self.cases)

    def subset(self, keep: npt.NDArray[np.bool_] | pd.Series) -> Self:
        """The cases where ``keep`` holds, with their advice and review history (and nothing else).

        Every way of narrowing a caseload goes through here, so a chunk or a filtered import can
        never lose a case's history and fall back to its latest cycle.
        """
        cases = self.cases.loc[np.asarray(keep, dtype=bool)].reset_index(drop=True)
        refs = cases["case_ref"]
        advice = self.advice.loc[self.advice["case_ref"].isin(refs).to_numpy()].reset_index(drop=True)
        reviews = self.review_history
        reviews = reviews.loc[reviews["case_ref"].isin(refs).to_numpy()].reset_index(drop=True)
        mask = np.asarray(keep, dtype=bool)
        by_case = {name: m[mask] for name, m in self.unrecorded_by_case.items()}
        return replace(self, cases=cases, advice=advice, reviews=reviews, unrecorded_by_case=by_case)

    @property
    def blind_spots(self) -> frozenset[str]:
        """Columns no case's source records, as the clocks see it. A partial source's unlisted
        columns are "no news" (kept as stored when writing), not blind spots: none for it."""
        return frozenset() if self.partial else self.unrecorded

    def unrecorded_for(self, position: int) -> frozenset[str]:
        """What the source of the case at ``position`` does not record (as the clocks see it)."""
        own = {name for name, m in self.unrecorded_by_case.items() if m[position]}
        return self.blind_spots | own

    @property
    def review_history(self) -> pd.DataFrame:
        """The review table (never ``None`` once constructed)."""
        assert self.reviews is not None
        return self.reviews


def reviews_from_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """One review cycle per case that records any review event in its flat columns.

    This is the history a snapshot source (one row per case) can give: its latest cycle. Sources
    that carry history (the store, the long event format) build the review table themselves.
    """
    cols = [c for c in REVIEW_COLUMNS if c in cases.columns]
    if len(cols) < len(REVIEW_COLUMNS):
        return empty_reviews()
    has = np.zeros(len(cases), dtype=bool)
    for c in REVIEW_DATE_COLUMNS:
        has |= cases[c].notna().to_numpy()
    has |= cases["review_outcome"].notna().to_numpy()
    return normalise_reviews(cases.loc[has, list(REVIEW_COLUMNS)].reset_index(drop=True))


def empty_reviews(n: int = 0) -> pd.DataFrame:
    """A review table of ``n`` rows with every contract column present and empty."""
    data: dict[str, object] = {"case_ref": pd.array([pd.NA] * n, dtype="string")}
    for c in REVIEW_DATE_COLUMNS:
        data[c] = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
    data["review_outcome"] = _categorical(None, "review_outcome", n)
    return pd.DataFrame(data)


def normalise_reviews(df: pd.DataFrame) -> pd.DataFrame:
    """Return the review table ``df`` in contract dtypes (see :func:`normalise_cases`)."""
    out = df.copy()
    n = len(out)
    out["case_ref"] = (
        out["case_ref"].astype("string") if "case_ref" in out else pd.array([pd.NA] * n, dtype="string")
    )
    for c in REVIEW_DATE_COLUMNS:
        if c in out:
            out[c] = pd.to_datetime(out[c]).astype(DATE_DTYPE)
        else:
            out[c] = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
    out["review_outcome"] = _categorical(out.get("review_outcome"), "review_outcome", n)
    return out


def empty_cases(n: int = 0) -> pd.DataFrame:
    """A case table of ``n`` rows with every contract column present and empty."""
    data: dict[str, object] = {}
    for col in ID_COLUMNS + TEXT_COLUMNS:
        data[col] = pd.array([pd.NA] * n, dtype="string")
    for col in tuple(CODE_COLUMNS) + EXCEPTION_COLUMNS:
        data[col] = _categorical(None, col, n)
    for col in DATE_COLUMNS:
        data[col] = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
    for col in BOOL_COLUMNS:
        data[col] = pd.array([pd.NA] * n, dtype="boolean")
    return pd.DataFrame(data)


def empty_advice(n: int = 0) -> pd.DataFrame:
    """An advice table of ``n`` rows with every contract column present and empty."""
    return pd.DataFrame(
        {
            "case_ref": pd.array([pd.NA] * n, dtype="string"),
            "provider": pd.array([pd.NA] * n, dtype="string"),
            "requested": np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE),
            "received": np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE),
            "exception": pd.array([pd.NA] * n, dtype="string"),
        }
    )


def normalise_cases(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with every contract column present and in its contract dtype.

    Extra columns are kept (importers may carry e.g. a source line number); missing contract columns
    are added empty. Values must already be valid: validation belongs to the importers, which can
    name the file, row and field (a code outside its vocabulary would become missing here).
    """
    out = df.copy()
    n = len(out)
    for col in ID_COLUMNS + TEXT_COLUMNS:
        out[col] = out[col].astype("string") if col in out else pd.array([pd.NA] * n, dtype="string")
    for col in tuple(CODE_COLUMNS) + EXCEPTION_COLUMNS:
        out[col] = _categorical(out.get(col), col, n)
    for col in DATE_COLUMNS:
        if col in out:
            out[col] = pd.to_datetime(out[col]).astype(DATE_DTYPE)
        else:
            out[col] = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
    for col in BOOL_COLUMNS:
        out[col] = out[col].astype("boolean") if col in out else pd.array([pd.NA] * n, dtype="boolean")
    for col in EXCEPTION_START_COLUMNS:  # optional: kept only where the source gives them
        if col in out:
            out[col] = pd.to_datetime(out[col]).astype(DATE_DTYPE)
    return out


def normalise_advice(df: pd.DataFrame) -> pd.DataFrame:
    """Return the advice table ``df`` in contract dtypes (see :func:`normalise_cases`)."""
    out = df.copy()
    n = len(out)
    for col in ("case_ref", "provider", "exception"):
        out[col] = out[col].astype("string") if col in out else pd.array([pd.NA] * n, dtype="string")
    for col in ADVICE_DATE_COLUMNS:
        if col in out:
            out[col] = pd.to_datetime(out[col]).astype(DATE_DTYPE)
        else:
            out[col] = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
    return out


def records(df: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts of plain Python values (``datetime.date``, ``str``, ``bool``; ``None`` if missing).

    The per-case evaluator works on these; it is the slow path (explanations, one case at a time).
    """
    cols: dict[str, list[object]] = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            arr = s.to_numpy().astype("datetime64[D]")
            cols[c] = [None if np.isnat(v) else v.astype(object) for v in arr]
        else:
            cols[c] = [
                None if v is pd.NA or v is None or (isinstance(v, float) and v != v) else v
                for v in s.to_numpy(dtype=object)
            ]
    keys = list(cols)
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)] if keys else []
