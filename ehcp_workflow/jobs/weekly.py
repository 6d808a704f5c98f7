"""The weekly backlog report: KPIs, charts and the managers' summary message, as plain functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from ehcp_workflow.core.catalogue import Catalogue, load_catalogue
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.core.evaluator import Evaluation, evaluate_caseload
from ehcp_workflow.core.figures import invalid_clocks, open_requests, overdue_clocks
from ehcp_workflow.db import load_caseload
from ehcp_workflow.db.outbox import queue_message
from ehcp_workflow.notify.messages import WeeklySummary, weekly_summary
from ehcp_workflow.notify.model import Message, council_code, council_tag
from ehcp_workflow.reporting.phase_transfer import plan_phase_transfers
from ehcp_workflow.reporting.report import ReportFiles, build_report


@dataclass(frozen=True)
class WeeklyResult:
    as_of: dt.date
    kpis: dict[str, pd.DataFrame]
    phase_transfer: pd.DataFrame  # the coming transfer year's cohort, counts by status
    report: ReportFiles
    #: the managers' weekly summary, built every time (a dry run shows it instead of queuing it)
    summary: Message
    summary_queued: bool


def summary_counts(evaluation: Evaluation, conventions: Conventions) -> WeeklySummary:
    """Backlog by team and band, still-overdue clocks by team and clock, invalid clocks by team.

    Counted from :mod:`ehcp_workflow.core.figures` like every other output, so the weekly totals cannot
    drift from the nightly ones (they did: this once counted its own way and left advice out).
    """
    open_ = open_requests(evaluation)
    backlog = {
        str(team): {str(b): int(n) for b, n in group["band"].value_counts().items()}
        for team, group in open_.groupby("team", sort=True)
    }
    overdue = overdue_clocks(evaluation)
    still = {
        str(team): {str(c): int(n) for c, n in group["clock"].value_counts().items()}
        for team, group in overdue.groupby("team", sort=True)
    }
    invalid = {str(t): int(n) for t, n in invalid_clocks(evaluation)["team"].value_counts().items()}
    return WeeklySummary(
        backlog=backlog, still_overdue=still, invalid=invalid, band_order=conventions.band_labels
    )


def run_weekly(
    engine: Engine,
    *,
    as_of: dt.date,
    now: dt.datetime,
    out_dir: Path,
    months: int = 12,
    catalogue: Catalogue | None = None,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    queue_summary: bool = True,
    council: str | None = None,
) -> WeeklyResult:
    """KPIs for the last ``months`` months, the report files, and the managers' summary (queued once
    per ISO week).

    ``council`` (a regional store): that council's cases only, and its summary goes to its own
    managers (``council:<LA>/managers``, once per week and council).
    """
    catalogue = catalogue or load_catalogue()
    council = None if council is None else council_code(council)
    caseload = load_caseload(engine, council=council)
    evaluation = evaluate_caseload(caseload, catalogue, as_of=as_of, conventions=conventions)
    first = (pd.Period(as_of, freq="M") - (months - 1)).start_time.date()
    report = build_report(
        caseload,
        catalogue,
        date_from=first,
        date_to=as_of,
        as_of=as_of,
        out_dir=out_dir,
        conventions=conventions,
    )
    year = as_of.year + (1 if as_of.month >= 3 else 0)  # the next transfer round once February has passed
    plan = plan_phase_transfers(evaluation, year, conventions=conventions)
    pt = plan.groupby("status").size().rename("plans").reset_index() if len(plan) else pd.DataFrame()
    message = weekly_summary(summary_counts(evaluation, conventions), as_of)
    key = f"weekly-summary/{as_of.isocalendar().year}-W{as_of.isocalendar().week:02d}"
    if council is not None:
        recipient = council_tag(council, message.recipient)
        message = replace(message, recipient=recipient, title=f"{council}: {message.title}")
        key = f"{key}/{council}"
    queued = False
    if queue_summary:
        queued = queue_message(engine, message, key=key, now=now)
    return WeeklyResult(
        as_of=as_of,
        kpis=report.kpis,
        phase_transfer=pt,
        report=report,
        summary=message,
        summary_queued=queued,
    )
