"""Pairs of case dates that must come in order, shared by every importer.

A statutory clock measures from one event to the next, so an end recorded before its start would
give a negative duration and a wrong "met" or "breached". Such a pair is an error (the case is
held back) unless the earlier date can legitimately belong to an earlier cycle, which is a warning:
SEN2 ``LastReview`` may be the decision letter of the previous annual review (sen2-spec §4.3 R18).

Each rule is written once here in contract column names; the SEN2 importer reports it under the
element names and ``sen2-R*`` ids, the tabular importer under the column names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ehcp_workflow.problems import Severity


@dataclass(frozen=True)
class OrderRule:
    start: str  # contract column that must be on or before ...
    end: str  # ... this one
    severity: Severity
    sen2_rule: str  # rule id when SEN2 carries both dates, "" otherwise
    why: str  # the plain-English reason, completing "<end> is before <start>: ..."


ORDER_RULES: tuple[OrderRule, ...] = (
    OrderRule(
        "request_received",
        "request_outcome_date",
        Severity.ERROR,
        "sen2-R4",
        "the decision whether to assess cannot come before the request was received",
    ),
    OrderRule(
        "request_received",
        "assessment_outcome_date",
        Severity.ERROR,
        "sen2-R7",
        "the assessment outcome cannot come before the request was received",
    ),
    OrderRule(
        "request_outcome_date",
        "assessment_outcome_date",
        Severity.ERROR,
        "sen2-R7",
        "the assessment outcome cannot come before the decision to assess",
    ),
    OrderRule(
        "assessment_outcome_date",
        "plan_start",
        Severity.WARNING,
        "sen2-R9",
        "a plan normally starts on or after the date it was issued; check both dates",
    ),
    OrderRule(
        "plan_start",
        "plan_ceased",
        Severity.ERROR,
        "sen2-R17",
        "a plan cannot cease before it started",
    ),
    OrderRule(
        "review_meeting",
        "review_decision_letter",
        Severity.WARNING,
        "sen2-R18",
        "the decision letter may belong to an earlier review; if it is this review's, correct it",
    ),
    OrderRule(
        "amendment_notice",
        "amended_plan_issued",
        Severity.ERROR,
        "",
        "the amended plan cannot be issued before the proposed amendments were sent",
    ),
    OrderRule(
        "reassessment_requested",
        "reassessment_decision_date",
        Severity.ERROR,
        "",
        "the decision whether to re-assess cannot come before the request",
    ),
    OrderRule(
        "reassessment_requested",
        "reassessed_plan_issued",
        Severity.ERROR,
        "",
        "a plan cannot be issued after re-assessment before the re-assessment was requested",
    ),
)


def out_of_order(dates: Mapping[str, date | None]) -> list[OrderRule]:
    """The rules broken by ``dates`` (contract column -> date; absent or None = not recorded)."""
    broken = []
    for rule in ORDER_RULES:
        start, end = dates.get(rule.start), dates.get(rule.end)
        if start is not None and end is not None and end < start:
            broken.append(rule)
    return broken
