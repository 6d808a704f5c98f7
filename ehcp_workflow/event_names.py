"""The events that set one date field, by the name caseworkers and exports use for them.

One table for ``ehcp case record`` (:mod:`ehcp_workflow.cli.events`) and the long event format
(:mod:`ehcp_workflow.importers.events`), so an event means the same field wherever it is recorded.
Plain data with no imports: building the command line's ``--help`` stays fast.
"""

from __future__ import annotations

#: ``event name -> the date field it sets`` for the events that take no value.
DATE_EVENTS: dict[str, str] = {
    "request-received": "request_received",
    "draft-served": "draft_plan_served",
    "review-meeting": "review_meeting",
    "review-report": "review_report_sent",
    "amendment-notice": "amendment_notice",
    "amended-plan": "amended_plan_issued",
    "phase-transfer-due": "phase_transfer_due",
    "phase-transfer-final": "phase_transfer_final",
    "transfer-in-notice": "transfer_in_notice_sent",
    "transfer-out-aware": "transfer_out_aware",
    "transfer-out-move": "transfer_out_move",
    "transfer-out-completed": "transfer_out_completed",
    "reassessment-requested": "reassessment_requested",
    "reassessed-plan": "reassessed_plan_issued",
    "appealable-decision": "appealable_decision_date",
    "mediation-certificate": "mediation_certificate_date",
    "appeal-lodged": "appeal_lodged",
}
