"""Weekly backlog report for managers: KPI artifacts, the report files, and the summary message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ehcp_workflow.jobs.weekly import run_weekly
from ehcp_workflow.settings import get_settings
from flows.common import engine_for, run_as_of
from flows.dispatch import send_queued

#: KPI tables published as artifacts (the council-wide rows; every table is in the workbook).
PUBLISHED = (
    "plans_issued",
    "decisions_to_assess",
    "outstanding_assessments",
    "review_decisions",
    "amended_plans",
)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(1)
        out[c] = out[c].astype(object).where(out[c].notna(), None)
        out[c] = [str(v) if v is not None and not isinstance(v, int | float | str) else v for v in out[c]]
    records: list[dict[str, Any]] = out.to_dict(orient="records")
    return records


@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE)
def build_weekly(as_of: dt.date, report_dir: str) -> dict[str, Any]:
    """KPIs, report files and the queued summary. Returns counts and per-team tables only."""
    settings = get_settings()
    with engine_for(settings) as engine:
        result = run_weekly(
            engine,
            as_of=as_of,
            now=dt.datetime.now(dt.UTC),
            out_dir=Path(report_dir),
            conventions=settings.conventions,
        )
    tables = {}
    for name in PUBLISHED:
        frame = result.kpis[name]
        tables[name] = _records(frame[frame["team"] == "All"] if "team" in frame else frame)
    return {
        "as_of": as_of.isoformat(),
        "tables": tables,
        "backlog_bands": _records(result.kpis["backlog_bands"]),
        "phase_transfer": _records(result.phase_transfer),
        "html": str(result.report.html),
        "workbook": str(result.report.workbook),
        "charts": {k: str(v) for k, v in result.report.charts.items()},
        "summary_queued": result.summary_queued,
    }


@task(cache_policy=NO_CACHE)
def publish_weekly(week: dict[str, Any]) -> None:
    """Table and markdown artifacts (keyed: the UI shows them week by week) and links to the files."""
    for name, rows in week["tables"].items():
        if rows:
            create_table_artifact(
                rows, key=f"kpi-{name.replace('_', '-')}", description=f"{name}, as of {week['as_of']}"
            )
    create_table_artifact(
        week["backlog_bands"], key="kpi-backlog-bands", description=f"Backlog as of {week['as_of']}"
    )
    if week["phase_transfer"]:
        create_table_artifact(
            week["phase_transfer"],
            key="phase-transfer-cohort",
            description="Next phase-transfer cohort by status",
        )
    html = Path(week["html"])
    create_link_artifact(html.resolve().as_uri(), link_text="Committee report (HTML)", key="weekly-report")
    create_link_artifact(
        Path(week["workbook"]).resolve().as_uri(), link_text="KPI workbook (XLSX)", key="weekly-workbook"
    )
    charts = "\n".join(
        f"- [{name}]({Path(p).resolve().as_uri()})" for name, p in sorted(week["charts"].items())
    )
    create_markdown_artifact(
        f"# Weekly backlog report, {week['as_of']}\n\nCharts (files on the flow's host):\n\n{charts}\n",
        key="weekly-charts",
    )


@flow(name="weekly-backlog-report")
def weekly_backlog_report(as_of: dt.date | None = None, report_dir: str = "reports") -> dict[str, Any]:
    """Build the week's KPIs and report, queue the managers' summary and send it."""
    settings = get_settings()
    day = run_as_of(as_of, settings)
    week = build_weekly(day, str(Path(report_dir) / day.isoformat()))
    publish_weekly(week)
    sent = send_queued(day, dry_run=False)
    get_run_logger().info("weekly report for %s written to %s", day, week["html"])
    return {"as_of": week["as_of"], "html": week["html"], "summary_queued": week["summary_queued"], **sent}


if __name__ == "__main__":
    weekly_backlog_report()
