"""Nightly compliance check: evaluate every clock, record transitions, queue alerts, publish artifacts.

With ``council`` (a regional store, :mod:`flows.regional`) one run covers one council: its cases,
its clock states, its recipients, and artifacts keyed with its code (``breach-summary-886``), so
the Prefect UI keeps each council's history apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS
from ehcp_workflow.core.figures import RUNNING_TOTAL
from ehcp_workflow.jobs.night_report import breach_summary_markdown
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.notify.model import council_code
from ehcp_workflow.reporting.charts import backlog_by_team_chart
from ehcp_workflow.reporting.dashboard import image_markdown, table_rows
from ehcp_workflow.settings import get_settings
from flows.common import RunProgress, engine_for, run_as_of


@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE)
def check_clocks(
    as_of: dt.date, dry_run: bool, baseline: bool = False, council: str | None = None
) -> dict[str, Any]:
    """Load, evaluate, record and queue (one transaction). Returns counts and small tables only."""
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    with engine_for(settings) as engine:
        result = run_nightly(
            engine,
            as_of=as_of,
            now=now,
            conventions=settings.conventions,
            dry_run=dry_run,
            baseline=baseline,
            allow_initials=settings.alert_initials,
            council=council,
        )
    breaches = result.new_breaches.copy()
    breaches["due_date"] = breaches["due_date"].astype(str)
    return {
        "summary": result.summary.as_dict(),
        "band_labels": list(settings.conventions.band_labels),
        "backlog_by_team": result.backlog_by_team.to_dict(orient="records"),
        "new_breaches": breaches.head(200).to_dict(orient="records"),
        "band_crossings": result.band_crossings.head(200).to_dict(orient="records"),
        "longest_waits": result.longest_waits.to_dict(orient="records"),
    }


def breach_summary(night: dict[str, Any]) -> str:
    """The breach-summary artifact (markdown) for one night's :func:`check_clocks` result."""
    return breach_summary_markdown(
        night["summary"],
        band_labels=night.get("band_labels", DEFAULT_CONVENTIONS.band_labels),
        longest_waits=night.get("longest_waits", ()),
    )


def backlog_chart_markdown(night: dict[str, Any]) -> str:
    """The ``backlog-chart`` artifact: tonight's open requests by team and band, as a chart embedded
    in the markdown (the UI shows it; no file, no link to the flow's host)."""
    s = night["summary"]
    bands = night.get("band_labels", DEFAULT_CONVENTIONS.band_labels)
    title = f"Open requests by team and weeks waiting, {s['as_of']} ({RUNNING_TOTAL})"
    png = backlog_by_team_chart(pd.DataFrame(night["backlog_by_team"]), bands, title=title)
    return (
        f"# Backlog by team, {s['as_of']}\n\n"
        f"_Every bar is a {RUNNING_TOTAL}: the open requests tonight, by how long they have waited "
        f"since the request. The figures are in the `backlog-by-team` table._\n\n"
        f"{image_markdown(title, png)}\n"
    )


@task(cache_policy=NO_CACHE)
def publish_artifacts(night: dict[str, Any]) -> None:
    """Artifacts for managers, keyed so the Prefect UI shows their history night by night (one
    history per council in a regional store: :func:`artifact_key`): the breach summary (the
    markdown ``ehcp nightly`` prints, :func:`breach_summary_markdown`), the backlog table with the
    headers people read and its chart."""
    s = night["summary"]
    bands = night.get("band_labels", DEFAULT_CONVENTIONS.band_labels)
    council = s.get("council")
    whose = f"Council {council}: " if council else ""
    heading = f"# Council {council}\n\n" if council else ""
    create_markdown_artifact(
        heading + breach_summary(night),
        key=artifact_key("breach-summary", council),
        description=f"{whose}Breaches as of {s['as_of']}: tonight's changes and running totals, labelled",
    )
    create_table_artifact(
        table_rows(pd.DataFrame(night["backlog_by_team"]), band_labels=bands),
        key=artifact_key("backlog-by-team", council),
        description=(
            f"{whose}Open requests by team and weeks waiting, as of {s['as_of']}: every figure a "
            f"{RUNNING_TOTAL} (the position tonight, not tonight's change)"
        ),
    )
    create_markdown_artifact(
        heading + backlog_chart_markdown(night),
        key=artifact_key("backlog-chart", council),
        description=f"{whose}Open requests by team and weeks waiting, as of {s['as_of']} ({RUNNING_TOTAL})",
    )


def artifact_key(name: str, council: str | None) -> str:
    """``name``, or ``name-<council>`` for one council's run (Prefect keys are lower-case letters,
    digits and dashes; council codes are letters and digits, :func:`council_code`)."""
    return name if council is None else f"{name}-{council_code(council).lower()}"


def _run_name() -> str:
    """``nightly-886`` for a council's run (told apart in the UI's list of runs), else ``nightly``."""
    from prefect.runtime import flow_run

    council = flow_run.parameters.get("council")
    return f"nightly-{council}" if council else "nightly"


@flow(name="nightly-compliance", flow_run_name=_run_name)
def nightly_compliance(
    as_of: dt.date | None = None, dry_run: bool = False, baseline: bool = False, council: str | None = None
) -> dict[str, Any]:
    """Check every statutory clock as of ``as_of`` (default: the scheduled start's date in London).

    ``baseline`` makes it an opening night (automatic on a store's first night): one opening
    position and one worklist per caseworker instead of an alert per clock. ``council`` (an LA
    code) checks only that council's cases, for that council's recipients (a regional store).
    """
    settings = get_settings()
    day = run_as_of(as_of, settings)
    whose = f"Council {council}: compliance" if council else "Compliance"
    progress = RunProgress(artifact_key("nightly-progress", council), f"{whose} check for {day}")
    progress.update(5.0, "Loading every case, evaluating every clock, recording the night (one transaction)")
    night = check_clocks(day, dry_run, baseline, council)
    progress.update(80.0, "Publishing the breach summary, backlog table and chart")
    publish_artifacts(night)
    progress.update(100.0, f"Done: {night['summary']['alerts_queued']:,} alert(s) or message(s) queued")
    summary: dict[str, Any] = night["summary"]
    get_run_logger().info(
        "as of %s: %s alerts queued, %s open requests",
        day,
        summary["alerts_queued"],
        summary["open_requests"],
    )
    return summary


if __name__ == "__main__":
    nightly_compliance()
