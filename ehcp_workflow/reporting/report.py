"""Build the manager report: evaluate the caseload, compute the KPIs, write charts, workbook and HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ehcp_workflow.caseload import Caseload
from ehcp_workflow.catalogue import Catalogue
from ehcp_workflow.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.reporting.charts import render_charts
from ehcp_workflow.reporting.html import write_html
from ehcp_workflow.reporting.kpis import MonthLike, compute_kpis, month_range, national_figure
from ehcp_workflow.reporting.workbook import write_workbook
from ehcp_workflow.vectorised import evaluate_caseload

__all__ = ["DEFAULT_TITLE", "ReportFiles", "build_report", "period_label"]

DEFAULT_TITLE = "EHC needs assessments and plans: statutory timeliness"


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote, and the KPI tables it wrote them from."""

    workbook: Path
    html: Path
    charts: dict[str, Path]
    kpis: dict[str, pd.DataFrame] = field(repr=False)


def period_label(date_from: MonthLike, date_to: MonthLike) -> str:
    """``"April 2025 to March 2026"``."""
    months = month_range(date_from, date_to)
    first, last = months[0].strftime("%B %Y"), months[-1].strftime("%B %Y")
    return first if first == last else f"{first} to {last}"


def build_report(
    caseload: Caseload,
    catalogue: Catalogue,
    *,
    date_from: MonthLike,
    date_to: MonthLike,
    as_of: dt.date,
    out_dir: Path | str,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    title: str = DEFAULT_TITLE,
) -> ReportFiles:
    """Evaluate ``caseload`` at ``as_of`` and write the report for months ``date_from``..``date_to``.

    Writes to ``out_dir``: the four chart PNGs (:data:`~ehcp_workflow.reporting.charts.CHART_FILES`),
    ``ehcp-kpis-<from>-<to>.xlsx`` and ``ehcp-report-<from>-<to>.html`` (charts embedded).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    evaluation = evaluate_caseload(caseload, catalogue, as_of=as_of, conventions=conventions)
    kpis = compute_kpis(evaluation, date_from=date_from, date_to=date_to, conventions=conventions)
    months = month_range(date_from, date_to)
    period = period_label(date_from, date_to)
    national = national_figure(int(min(months[-1], pd.Period(as_of, freq="M")).year))
    charts = render_charts(kpis, out, subtitle=period, national=national)
    stem = f"{months[0]}-{months[-1]}"
    workbook = write_workbook(kpis, out / f"ehcp-kpis-{stem}.xlsx", title=title, period=period, as_of=as_of)
    page = write_html(
        kpis,
        charts,
        out / f"ehcp-report-{stem}.html",
        title=title,
        period=period,
        as_of=as_of,
        national=national,
    )
    return ReportFiles(workbook=workbook, html=page, charts=charts, kpis=kpis)
