"""The weekly backlog report: KPIs, charts and the managers' summary message, as plain functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from ehcp_workflow.catalogue import Catalogue, load_catalogue
from ehcp_workflow.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.db import load_caseload
from ehcp_workflow.db.outbox import queue_message
from ehcp_workflow.notify.messages import WeeklySummary, weekly_summary
from ehcp_workflow.reporting.phase_transfer import plan_phase_transfers
from ehcp_workflow.reporting.report import ReportFiles, build_report
from ehcp_workflow.statuses import STATUS_CODE, Status
from ehcp_workflow.vectorised import Evaluation, evaluate_caseload

NO_TEAM = "(no team)"


@dataclass(frozen=True)
class WeeklyResult:
    as_of: dt.date
    kpis: dict[str, pd.DataFrame]
    phase_transfer: pd.DataFrame  # the coming transfer year's cohort, counts by status
    report: ReportFiles
    summary_queued: bool


def summary_counts(evaluation: Evaluation, conventions: Conventions) -> WeeklySummary:
    """Backlog by team and band, still-overdue clocks by team, invalid clocks by team."""
    teams = evaluation.cases["team"].to_numpy(dtype=object, na_value=NO_TEAM)
    backlog: dict[str, dict[str, int]] = {}
    for team, band in zip(teams[evaluation.open], evaluation.band[evaluation.open], strict=True):
        backlog.setdefault(str(team), {}).setdefault(str(band), 0)
        backlog[str(team)][str(band)] += 1
    overdue: dict[str, dict[str, int]] = {}
    invalid: dict[str, int] = {}
    for cid, arrs in evaluation.clocks.items():
        for code, target in (
            (STATUS_CODE[Status.OVERDUE], "overdue"),
            (STATUS_CODE[Status.INVALID], "invalid"),
        ):
            hit = arrs.status == code
            if not hit.any():
                continue
            names, counts = np.unique(teams[arrs.case_index[hit]].astype(str), return_counts=True)
            for name, n in zip(names, counts, strict=True):
                if target == "overdue":
                    overdue.setdefault(str(name), {})[cid] = int(n)
                else:
                    invalid[str(name)] = invalid.get(str(name), 0) + int(n)
    return WeeklySummary(
        backlog=backlog, still_overdue=overdue, invalid=invalid, band_order=conventions.band_labels
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
) -> WeeklyResult:
    """KPIs for the last ``months`` months, the report files, and the managers' summary (queued once
    per ISO week)."""
    catalogue = catalogue or load_catalogue()
    caseload = load_caseload(engine)
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
    queued = False
    if queue_summary:
        iso = as_of.isocalendar()
        message = weekly_summary(summary_counts(evaluation, conventions), as_of)
        queued = queue_message(engine, message, key=f"weekly-summary/{iso.year}-W{iso.week:02d}", now=now)
    return WeeklyResult(
        as_of=as_of, kpis=report.kpis, phase_transfer=pt, report=report, summary_queued=queued
    )
