"""The events a caseworker records (``ehcp case record REF EVENT DATE``) and the fields they set.

Each event is a word a caseworker would use ("decision-to-assess", "plan-issued") turned into the
case fields it sets in the store, checked before anything is written: an unknown event, a missing
or unexpected ``--value`` or ``--ground`` is a usage error naming the option. What the store
checks itself (codes, an end before its start) comes back from the store as a problem naming the
field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from ehcp_workflow.event_names import DATE_EVENTS

if TYPE_CHECKING:
    from ehcp_workflow.db import CaseRecord
    from ehcp_workflow.db.fields import FieldValue


class CaseEvent(StrEnum):
    request_received = "request-received"
    decision_to_assess = "decision-to-assess"
    advice_requested = "advice-requested"
    advice_received = "advice-received"
    draft_served = "draft-served"
    plan_issued = "plan-issued"
    decision_not_to_issue = "decision-not-to-issue"
    withdrawn = "withdrawn"
    plan_ceased = "plan-ceased"
    review_meeting = "review-meeting"
    review_report = "review-report"
    review_decision = "review-decision"
    amendment_notice = "amendment-notice"
    amended_plan = "amended-plan"
    phase_transfer = "phase-transfer"
    phase_transfer_due = "phase-transfer-due"
    phase_transfer_final = "phase-transfer-final"
    transfer_in = "transfer-in"
    transfer_in_notice = "transfer-in-notice"
    transfer_out_aware = "transfer-out-aware"
    transfer_out_move = "transfer-out-move"
    transfer_out_completed = "transfer-out-completed"
    reassessment_requested = "reassessment-requested"
    reassessment_decision = "reassessment-decision"
    reassessed_plan = "reassessed-plan"
    appealable_decision = "appealable-decision"
    mediation_certificate = "mediation-certificate"
    appeal_lodged = "appeal-lodged"
    exception = "exception"
    exception_end = "exception-end"


E = CaseEvent

# The vocabularies of ``ehcp_workflow.core.caseload``, spelled out for --help so that building the
# command line does not import pandas; a test holds them equal to the contract's.
HELP_PROVIDERS: tuple[str, ...] = (
    "educational_psychology",
    "paediatrics",
    "speech_language_therapy",
    "occupational_therapy",
    "physiotherapy",
    "social_care",
    "school_or_early_years",
    "other",
)
HELP_EXCEPTION_CLOCKS: tuple[str, ...] = (
    "decision_to_assess",
    "decision_not_to_issue",
    "final_plan",
    "reassessed_plan",
)

#: Events that set one date field and take no --value.
DATE_ONLY: dict[CaseEvent, str] = {CaseEvent(name): column for name, column in DATE_EVENTS.items()}

#: What --value means for the events that take one (shown in --help and in errors).
VALUE_HELP: dict[CaseEvent, str] = {
    E.decision_to_assess: "Y (assess) or N (refuse)",
    E.advice_requested: f"the provider: {', '.join(HELP_PROVIDERS)}",
    E.advice_received: "the provider (add :N for its Nth request; default: the latest one not yet received)",
    E.review_decision: "A (amend), C (cease) or M (maintain)",
    E.phase_transfer: "school, post16 or post16_other",
    E.reassessment_decision: "Y (re-assess) or N (refuse)",
    E.exception: f"the clock it applies to: {', '.join(HELP_EXCEPTION_CLOCKS)}",
    E.exception_end: f"the clock: {', '.join(HELP_EXCEPTION_CLOCKS)}",
    E.plan_ceased: "the reason (optional text)",
    E.transfer_in: "the council it came from (optional)",
}
#: What the events that set several fields do (shown in --help).
SETS: dict[CaseEvent, str] = {
    E.decision_to_assess: "sets request_outcome and request_outcome_date",
    E.plan_issued: "sets assessment_outcome Y and its date, and plan_start if it is empty",
    E.decision_not_to_issue: "sets assessment_outcome N and its date",
    E.withdrawn: "sets W on the decision still awaited: the request's, else the assessment's",
    E.plan_ceased: "sets plan_ceased and cease_reason",
    E.review_decision: "sets review_outcome and review_decision_letter",
    E.phase_transfer: "sets phase_transfer_date and phase_transfer_type",
    E.transfer_in: "sets transfer_in_date and transfer_in_from",
    E.reassessment_decision: "sets reassessment_agreed and reassessment_decision_date",
    E.exception: "with --ground a-g or unspecified; sets exception_<clock> and its start",
    E.exception_end: "sets exception_<clock>_end",
    E.advice_requested: "a new request for advice; --ground for an exception to it",
    E.advice_received: "sets the request's received date",
}
#: Events whose --value may be left out.
OPTIONAL_VALUE = frozenset({E.plan_ceased, E.transfer_in})
#: Events that take --ground (an exception ground letter).
TAKES_GROUND = frozenset({E.exception, E.advice_requested})

_YES_NO = {"y": "Y", "yes": "Y", "n": "N", "no": "N"}
_REVIEW = {"a": "A", "amend": "A", "c": "C", "cease": "C", "m": "M", "maintain": "M"}


def events_help() -> str:
    """One line per event: its name, the field it sets or what ``--value`` means."""
    lines = []
    for ev in CaseEvent:
        sets = f"sets {DATE_ONLY[ev]}" if ev in DATE_ONLY else SETS[ev]
        extra = f"; --value {VALUE_HELP[ev]}" if ev in VALUE_HELP else ""
        lines.append(f"  {ev.value} ({sets}){extra}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Change:
    """What an event does: case fields to set, or a new request for advice."""

    values: Mapping[str, FieldValue] = field(default_factory=dict)
    advice_provider: str | None = None
    advice_ground: str | None = None


def _bad(message: str, option: str = "--value") -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=option)


def _need_value(event: CaseEvent, value: str | None) -> str:
    if value is None or not value.strip():
        raise _bad(f"{event.value} needs --value: {VALUE_HELP[event]}")
    return value.strip()


def _pick(event: CaseEvent, value: str | None, choices: Mapping[str, str]) -> str:
    text = _need_value(event, value)
    picked = choices.get(text.lower())
    if picked is None:
        raise _bad(f"{text!r} is not one of {VALUE_HELP[event]}")
    return picked


def _clock(event: CaseEvent, value: str | None) -> str:
    from ehcp_workflow.core.caseload import EXCEPTION_CLOCKS

    text = _need_value(event, value).replace("-", "_")
    if text not in EXCEPTION_CLOCKS:
        raise _bad(f"{text!r} is not a clock with exception grounds: {', '.join(EXCEPTION_CLOCKS)}")
    return text


def _provider(event: CaseEvent, value: str | None) -> tuple[str, int | None]:
    from ehcp_workflow.core.caseload import ADVICE_PROVIDERS

    text = _need_value(event, value).replace("-", "_")
    name, _, seq = text.partition(":")
    if name not in ADVICE_PROVIDERS:
        raise _bad(f"{name!r} is not an advice provider: {', '.join(ADVICE_PROVIDERS)}")
    if seq and (not seq.isdigit() or int(seq) < 1):
        raise _bad(f"{seq!r} is not a request number (1, 2, ...)")
    if seq and event is not E.advice_received:
        raise _bad("a request number (:N) only goes with advice-received")
    return name, int(seq) if seq else None


def _received_field(current: CaseRecord, provider: str, seq: int | None) -> str:
    from ehcp_workflow.db.fields import advice_field

    requests = [a for a in current.advice if a.provider == provider]
    if not requests:
        raise _bad(f"the case has no request for {provider} advice (record advice-requested first)")
    if seq is None:
        waiting = [a for a in requests if a.received is None]
        if not waiting:
            numbers = ", ".join(str(a.seq) for a in requests)
            raise _bad(
                f"every request for {provider} advice is already received (requests {numbers}); "
                f"name one with --value {provider}:N to correct it"
            )
        seq = max(a.seq for a in waiting)
    elif seq not in {a.seq for a in requests}:
        raise _bad(f"the case has no request {seq} for {provider} advice")
    return advice_field(provider, seq, "received")


def _withdraw(current: CaseRecord, day: dt.date) -> dict[str, FieldValue]:
    request, assessment = current.fields.get("request_outcome"), current.fields.get("assessment_outcome")
    if request in (None, "A"):
        return {"request_outcome": "W", "request_outcome_date": day}
    if request == "Y" and assessment in (None, "A"):
        return {"assessment_outcome": "W", "assessment_outcome_date": day}
    raise _bad(
        f"nothing is awaiting a decision (request outcome {request}, assessment outcome {assessment})",
        "EVENT",
    )


def build_change(
    event: CaseEvent, day: dt.date, value: str | None, ground: str | None, current: CaseRecord
) -> Change:
    """The change ``event`` on ``day`` makes to the case ``current`` (usage errors raised here)."""
    from ehcp_workflow.core.caseload import EXCEPTION_GROUNDS, exception_column

    if value is not None and event not in VALUE_HELP:
        raise _bad(f"{event.value} takes no --value")
    if ground is not None:
        if event not in TAKES_GROUND:
            raise _bad(
                f"{event.value} takes no --ground (only exception and advice-requested do)", "--ground"
            )
        ground = ground.strip().lower()
        if ground not in EXCEPTION_GROUNDS:
            raise _bad(f"{ground!r} is not one of {', '.join(sorted(EXCEPTION_GROUNDS))}", "--ground")

    if event in DATE_ONLY:
        return Change({DATE_ONLY[event]: day})
    if event is E.decision_to_assess:
        return Change({"request_outcome_date": day, "request_outcome": _pick(event, value, _YES_NO)})
    if event is E.reassessment_decision:
        agreed = _pick(event, value, _YES_NO) == "Y"
        return Change({"reassessment_decision_date": day, "reassessment_agreed": agreed})
    if event is E.review_decision:
        return Change({"review_decision_letter": day, "review_outcome": _pick(event, value, _REVIEW)})
    if event is E.plan_issued:
        values: dict[str, FieldValue] = {"assessment_outcome_date": day, "assessment_outcome": "Y"}
        if current.fields.get("plan_start") is None:
            values["plan_start"] = day  # a first plan starts the day it is issued
        return Change(values)
    if event is E.decision_not_to_issue:
        return Change({"assessment_outcome_date": day, "assessment_outcome": "N"})
    if event is E.withdrawn:
        return Change(_withdraw(current, day))
    if event is E.plan_ceased:
        reason = value.strip() if value and value.strip() else None
        return Change({"plan_ceased": day, **({"cease_reason": reason} if reason else {})})
    if event is E.phase_transfer:
        kinds = {k: k for k in ("school", "post16", "post16_other")}
        return Change({"phase_transfer_date": day, "phase_transfer_type": _pick(event, value, kinds)})
    if event is E.transfer_in:
        origin = value.strip() if value and value.strip() else None
        return Change({"transfer_in_date": day, **({"transfer_in_from": origin} if origin else {})})
    if event is E.exception:
        if ground is None:
            raise _bad(f"exception needs --ground: one of {', '.join(sorted(EXCEPTION_GROUNDS))}", "--ground")
        column = exception_column(_clock(event, value))
        return Change({column: ground, f"{column}_start": day})
    if event is E.exception_end:
        return Change({f"{exception_column(_clock(event, value))}_end": day})
    if event is E.advice_requested:
        provider, _ = _provider(event, value)
        return Change(advice_provider=provider, advice_ground=ground)
    if event is E.advice_received:
        provider, seq = _provider(event, value)
        return Change({_received_field(current, provider, seq): day})
    raise AssertionError(f"unhandled event {event}")  # pragma: no cover - every event is handled above
