"""Build the manager report: evaluate the caseload, compute the KPIs, write charts, workbook and HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.core.catalogue import Catalogue
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.reporting.charts import render_charts
from ehcp_workflow.reporting.html import write_html
from ehcp_workflow.reporting.kpis import MonthLike, compute_kpis, month_range, national_figure
from ehcp_workflow.reporting.workbook import write_workbook

__all__ = ["DEFAULT_TITLE", "ReportFiles", "build_report", "period_label", "report_paths"]

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


def report_paths(out_dir: Path | str, date_from: MonthLike, date_to: MonthLike) -> tuple[Path, Path]:
    """The workbook and HTML page :func:`build_report` writes for these months into ``out_dir``.

    So a caller can refuse to replace an earlier report before spending time building this one.
    """
    months = month_range(date_from, date_to)
    stem = f"{months[0]}-{months[-1]}"
    out = Path(out_dir)
    return out / f"ehcp-kpis-{stem}.xlsx", out / f"ehcp-report-{stem}.html"


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
    ``ehcp-kpis-<from>-<to>.xlsx`` and ``ehcp-report-<from>-<to>.html`` (charts embedded). Every file
    is created private (0600) and never written through a link; a missing ``out_dir`` is created
    (0700). Raises :class:`~ehcp_workflow.files.UnsafePath` for a path it will not write.
    """
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    workbook_path, html_path = report_paths(out, date_from, date_to)
    evaluation = evaluate_caseload(caseload, catalogue, as_of=as_of, conventions=conventions)
    kpis = compute_kpis(evaluation, date_from=date_from, date_to=date_to, conventions=conventions)
    months = month_range(date_from, date_to)
    period = period_label(date_from, date_to)
    national = national_figure(int(min(months[-1], pd.Period(as_of, freq="M")).year))
    charts = render_charts(kpis, out, subtitle=period, national=national)
    workbook = write_workbook(kpis, workbook_path, title=title, period=period, as_of=as_of)
    page = write_html(
        kpis,
        charts,
        html_path,
        title=title,
        period=period,
        as_of=as_of,
        national=national,
    )
    return ReportFiles(workbook=workbook, html=page, charts=charts, kpis=kpis)
