"""Where each caseload column lives in the store, and how its values are checked and logged.

The caseload is flat (one row per case, latest review and phase transfer); the store is normalised
(many reviews per case, one exception row per clock, ...). This registry is the single mapping
between the two, used by the reader (``load_caseload``), the writer (imports and ``record_event``)
and the event-log replay, so a column can never be read from one place and written to another.

Event-log values are text: ISO dates, codes and free text as they are, booleans as
``true``/``false``, NULL for "not recorded".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    CASE_COLUMNS,
    EXCEPTION_CLOCKS,
    EXCEPTION_GROUNDS,
    OUTCOME_CODES,
    PHASE_TRANSFER_TYPES,
    REVIEW_OUTCOMES,
    exception_column,
)

#: A field's value in Python: a calendar date, a code or text, a yes/no, or not recorded.
FieldValue = date | str | bool | None


class Kind(StrEnum):
    DATE = "date"
    CODE = "code"
    TEXT = "text"
    BOOL = "bool"


@dataclass(frozen=True)
class FieldSpec:
    """One case field: its caseload (and event-log) name and its home in the store."""

    name: str
    table: str
    column: str
    kind: Kind
    codes: frozenset[str] | None = None
    #: For ``case_exception`` fields: which clock's row.
    clock: str | None = None
    #: False for details the store keeps beyond the caseload contract (exception periods).
    in_caseload: bool = True


def _case(name: str, kind: Kind, codes: frozenset[str] | None = None) -> FieldSpec:
    return FieldSpec(name, "ehcp_case", name, kind, codes)


_D, _C, _T, _B = Kind.DATE, Kind.CODE, Kind.TEXT, Kind.BOOL

_SPECS: list[FieldSpec] = [
    FieldSpec("person_ref", "person", "person_ref", _T),
    _case("la", _T),
    _case("team", _T),
    _case("caseworker", _T),
    _case("request_received", _D),
    _case("request_outcome", _C, OUTCOME_CODES),
    _case("request_outcome_date", _D),
    _case("exported_to", _T),
    _case("assessment_outcome", _C, OUTCOME_CODES),
    _case("assessment_outcome_date", _D),
    _case("draft_plan_served", _D),
    _case("reassessment_requested", _D),
    _case("reassessment_agreed", _B),
    _case("reassessment_decision_date", _D),
    _case("reassessed_plan_issued", _D),
    _case("appealable_decision_date", _D),
    _case("mediation_certificate_date", _D),
    _case("appeal_lodged", _D),
    FieldSpec("plan_start", "plan", "start_date", _D),
    FieldSpec("plan_ceased", "plan", "ceased_date", _D),
    FieldSpec("cease_reason", "plan", "cease_reason", _T),
    FieldSpec("transfer_in_date", "plan", "transfer_in_date", _D),
    FieldSpec("transfer_in_from", "plan", "transfer_in_from", _T),
    FieldSpec("transfer_in_notice_sent", "plan", "transfer_in_notice_sent", _D),
    FieldSpec("transfer_out_aware", "plan", "transfer_out_aware", _D),
    FieldSpec("transfer_out_move", "plan", "transfer_out_move", _D),
    FieldSpec("transfer_out_completed", "plan", "transfer_out_completed", _D),
    FieldSpec("review_meeting", "annual_review", "meeting", _D),
    FieldSpec("review_report_sent", "annual_review", "report_sent", _D),
    FieldSpec("review_outcome", "annual_review", "decision", _C, REVIEW_OUTCOMES),
    FieldSpec("review_decision_letter", "annual_review", "decision_letter", _D),
    FieldSpec("amendment_notice", "annual_review", "amendment_notice", _D),
    FieldSpec("amended_plan_issued", "annual_review", "amended_plan_issued", _D),
    FieldSpec("phase_transfer_type", "phase_transfer", "transfer_type", _C, PHASE_TRANSFER_TYPES),
    FieldSpec("phase_transfer_date", "phase_transfer", "transfer_date", _D),
    FieldSpec("phase_transfer_due", "phase_transfer", "due_date", _D),
    FieldSpec("phase_transfer_final", "phase_transfer", "final_date", _D),
]
for _clock in EXCEPTION_CLOCKS:
    _col = exception_column(_clock)
    _SPECS += [
        FieldSpec(_col, "case_exception", "ground", _C, EXCEPTION_GROUNDS, clock=_clock),
        FieldSpec(f"{_col}_start", "case_exception", "start_date", _D, clock=_clock, in_caseload=False),
        FieldSpec(f"{_col}_end", "case_exception", "end_date", _D, clock=_clock, in_caseload=False),
        FieldSpec(f"{_col}_evidence", "case_exception", "evidence", _T, clock=_clock, in_caseload=False),
    ]

#: Every case field by name (caseload columns except ``case_ref``, plus exception details).
FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in _SPECS}
#: The caseload's case columns other than ``case_ref``, in contract order.
CASELOAD_FIELDS: tuple[str, ...] = tuple(c for c in CASE_COLUMNS if c != "case_ref")
#: Exception details kept beyond the caseload (``exception_<clock>_start`` / ``_end`` / ``_evidence``).
EXTRA_FIELDS: tuple[str, ...] = tuple(s.name for s in _SPECS if not s.in_caseload)
#: Fields that belong to one row of a "many per case" table whose latest row the caseload shows,
#: with the field whose later date starts a new row (a new review meeting is a new review).
EPISODE_KEYS: dict[str, str] = {"annual_review": "review_meeting", "phase_transfer": "phase_transfer_date"}

#: Pairs (earlier, later) of one process: the later event cannot be dated before the one it
#: depends on (a review meeting before the plan, a plan before its draft...).
START_END: tuple[tuple[str, str], ...] = (
    ("request_received", "request_outcome_date"),
    ("request_received", "assessment_outcome_date"),
    ("request_outcome_date", "assessment_outcome_date"),
    ("request_received", "draft_plan_served"),
    ("draft_plan_served", "plan_start"),
    ("plan_start", "plan_ceased"),
    ("plan_start", "review_meeting"),
    ("plan_start", "review_decision_letter"),
    ("plan_start", "phase_transfer_final"),
    ("transfer_in_date", "transfer_in_notice_sent"),
    ("reassessment_decision_date", "reassessed_plan_issued"),
    ("review_meeting", "review_report_sent"),
    ("review_meeting", "review_decision_letter"),
    ("amendment_notice", "amended_plan_issued"),
    ("transfer_out_aware", "transfer_out_completed"),
    ("reassessment_requested", "reassessment_decision_date"),
    ("reassessment_requested", "reassessed_plan_issued"),
    ("appealable_decision_date", "appeal_lodged"),
    *((f"{exception_column(c)}_start", f"{exception_column(c)}_end") for c in EXCEPTION_CLOCKS),
)

# --- advice requests ------------------------------------------------------------------------------

ADVICE_COLUMN_KINDS: dict[str, Kind] = {"requested": _D, "received": _D, "exception": _C}
_ADVICE_FIELD = re.compile(r"^advice\.(?P<provider>[a-z_]+)\.(?P<seq>[1-9][0-9]*)(?:\.(?P<column>[a-z]+))?$")


def advice_field(provider: str, seq: int, column: str | None = None) -> str:
    """Event-log name of an advice request (``column`` None) or one of its columns."""
    base = f"advice.{provider}.{seq}"
    return base if column is None else f"{base}.{column}"


def parse_advice_field(name: str) -> tuple[str, int, str | None] | None:
    """``(provider, seq, column)`` of an advice field name, or None if ``name`` is not one."""
    m = _ADVICE_FIELD.match(name)
    if m is None or m["provider"] not in ADVICE_PROVIDERS:
        return None
    column = m["column"]
    if column is not None and column not in ADVICE_COLUMN_KINDS:
        return None
    return m["provider"], int(m["seq"]), column


def kind_of(name: str) -> Kind:
    """The value kind of a case or advice field (``case_ref`` is text)."""
    if name in FIELDS:
        return FIELDS[name].kind
    parsed = parse_advice_field(name)
    if parsed is None or parsed[2] is None:
        return Kind.TEXT
    return ADVICE_COLUMN_KINDS[parsed[2]]


# --- values ---------------------------------------------------------------------------------------


def to_text(value: FieldValue) -> str | None:
    """The event-log text of a value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_text(kind: Kind, text: str | None) -> FieldValue:
    """The value an event-log text stands for (inverse of :func:`to_text`)."""
    if text is None:
        return None
    if kind is Kind.DATE:
        return date.fromisoformat(text)
    if kind is Kind.BOOL:
        return text == "true"
    return text


def check_value(kind: Kind, codes: frozenset[str] | None, value: object) -> str | None:
    """Why ``value`` cannot be stored in a field of this kind, or None if it can."""
    if value is None:
        return None
    if kind is Kind.DATE:
        if isinstance(value, datetime) or not isinstance(value, date):
            return f"expected a calendar date (datetime.date), got {type(value).__name__} {value!r}"
        return None
    if kind is Kind.BOOL:
        return None if isinstance(value, bool) else f"expected true/false, got {value!r}"
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__} {value!r}"
    if not value.strip():
        return "empty text: pass None to clear a value"
    if codes is not None and value not in codes:
        return f"{value!r} is not one of {', '.join(sorted(codes))}"
    return None
