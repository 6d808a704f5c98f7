"""Weekly backlog report for managers: KPI artifacts, charts in the UI, the report files, the summary.

The Prefect UI is the managers' dashboard: the KPI tables are table artifacts with the headers people
read, the charts are embedded in a markdown artifact (the UI renders ``data:image`` sources; the
server serves no files and a ``file://`` link opens on no other machine), and the report files are
named by where they are on the worker, not linked. ``dry_run`` builds and publishes everything but
queues and sends nothing, so it runs before any alert channel or secret is set up.
"""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ehcp_workflow.core.figures import RUNNING_TOTAL
from ehcp_workflow.jobs.weekly import run_weekly
from ehcp_workflow.reporting.dashboard import charts_markdown, kpi_description, table_rows
from ehcp_workflow.reporting.report import period_label
from ehcp_workflow.settings import get_settings
from flows.common import RunProgress, engine_for, run_as_of
from flows.dispatch import send_queued

#: KPI tables published as artifacts (the council-wide rows; every table is in the workbook).
PUBLISHED = (
    "plans_issued",
    "decisions_to_assess",
    "outstanding_assessments",
    "review_decisions",
    "amended_plans",
)
#: The order the charts appear in the ``weekly-charts`` artifact: the backlog first.
CHART_ORDER = ("backlog_bands", "oldest_case", "plans_within_20_weeks", "advice_by_provider")
MONTHS = 12


@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE)
def build_weekly(as_of: dt.date, report_dir: str, dry_run: bool = False) -> dict[str, Any]:
    """KPIs, report files and (unless ``dry_run``) the queued summary. Returns small tables only,
    already in the form the artifacts show."""
    settings = get_settings()
    bands = settings.conventions.band_labels
    with engine_for(settings) as engine:
        result = run_weekly(
            engine,
            as_of=as_of,
            now=dt.datetime.now(dt.UTC),
            out_dir=Path(report_dir),
            months=MONTHS,
            conventions=settings.conventions,
            queue_summary=not dry_run,
        )
    tables = {}
    for name in PUBLISHED:
        frame = result.kpis[name]
        tables[name] = table_rows(frame[frame["team"] == "All"] if "team" in frame else frame, table=name)
    return {
        "as_of": as_of.isoformat(),
        "period": period_label(_months_back(as_of, MONTHS - 1), as_of),
        "tables": tables,
        "backlog_bands": table_rows(result.kpis["backlog_bands"], table="backlog_bands", band_labels=bands),
        "phase_transfer": table_rows(result.phase_transfer, table="phase_transfers"),
        "html": str(result.report.html),
        "workbook": str(result.report.workbook),
        "charts": {k: str(v) for k, v in result.report.charts.items()},
        "summary_title": result.summary.title,
        "summary_body": result.summary.body,
        "summary_queued": result.summary_queued,
    }


def _months_back(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def files_markdown(week: dict[str, Any], host: str) -> str:
    """Where the report files are: paths on the worker, as text (a ``file://`` link would open on
    the manager's own machine, where the file is not)."""
    return (
        f"# Weekly report files, {week['as_of']}\n\n"
        f"Written on the worker **{host}** (copy them from there or publish the folder):\n\n"
        f"- Committee report (HTML): `{week['html']}`\n"
        f"- KPI workbook (XLSX): `{week['workbook']}`\n\n"
        "The charts are in the `weekly-charts` artifact and the tables in the `kpi-...` artifacts.\n"
    )


def summary_preview(week: dict[str, Any]) -> str:
    """The managers' weekly summary as a dry run shows it (counts by team only: no case data)."""
    body = "\n".join(f"    {line}" for line in week["summary_body"].splitlines())
    return (
        f"# Dry run: the weekly summary managers would receive, {week['as_of']}\n\n"
        f"Nothing was queued or sent.\n\n**{week['summary_title']}**\n\n{body}\n"
    )


@task(cache_policy=NO_CACHE)
def publish_weekly(week: dict[str, Any], dry_run: bool = False) -> None:
    """Table and markdown artifacts, keyed so the UI shows them week by week."""
    as_of, period = week["as_of"], week["period"]
    for name, rows in week["tables"].items():
        if rows:
            create_table_artifact(
                rows, key=f"kpi-{name.replace('_', '-')}", description=kpi_description(name, as_of, period)
            )
    create_table_artifact(
        week["backlog_bands"],
        key="kpi-backlog-bands",
        description=(
            f"**Open requests by team and weeks waiting**, as of {as_of}: every figure a {RUNNING_TOTAL} "
            "(the position on that date)"
        ),
    )
    if week["phase_transfer"]:
        create_table_artifact(
            week["phase_transfer"],
            key="phase-transfer-cohort",
            description=f"Next phase-transfer cohort by status, as of {as_of} ({RUNNING_TOTAL})",
        )
    create_markdown_artifact(
        charts_markdown(
            {k: Path(v) for k, v in week["charts"].items()},
            heading=f"Weekly backlog report, {as_of} ({period})",
            order=CHART_ORDER,
        ),
        key="weekly-charts",
        description=f"The weekly report's charts, {period}",
    )
    create_markdown_artifact(
        files_markdown(week, platform.node()), key="weekly-report", description="Where the report files are"
    )
    if dry_run:
        create_markdown_artifact(
            summary_preview(week), key="weekly-summary-preview", description="Dry run: nothing sent"
        )


@flow(name="weekly-backlog-report")
def weekly_backlog_report(
    as_of: dt.date | None = None, report_dir: str = "reports", dry_run: bool = False
) -> dict[str, Any]:
    """Build the week's KPIs and report, queue the managers' summary and send it.

    ``dry_run`` writes the report files and publishes the artifacts (with a preview of the summary)
    but queues and sends nothing and reads no alert channel or secret: a manager can have the report
    before the channels are set up.
    """
    settings = get_settings()
    day = run_as_of(as_of, settings)
    progress = RunProgress("weekly-progress", f"Weekly backlog report for {day}")
    progress.update(5.0, f"Computing {MONTHS} months of KPIs, drawing the charts, writing the report files")
    week = build_weekly(day, str(Path(report_dir) / day.isoformat()), dry_run)
    progress.update(70.0, "Publishing the KPI tables and charts")
    publish_weekly(week, dry_run)
    sent: dict[str, Any] = {"messages_sent": 0, "messages_failed": 0, "dry_run": dry_run}
    if not dry_run:
        progress.update(85.0, "Sending the managers' summary")
        sent = send_queued(day, dry_run=False)
    progress.update(100.0, "Done" + (" (dry run: nothing queued or sent)" if dry_run else ""))
    get_run_logger().info("weekly report for %s written to %s", day, week["html"])
    return {"as_of": week["as_of"], "html": week["html"], "summary_queued": week["summary_queued"], **sent}


if __name__ == "__main__":
    weekly_backlog_report()
