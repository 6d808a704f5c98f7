"""Nightly compliance check: evaluate every clock, record transitions, queue alerts, publish artifacts.

With ``council`` (a regional store, :mod:`flows.regional`) one run covers one council: its cases,
its clock states, its recipients, and artifacts keyed with its code (``breach-summary-886``), so
the Prefect UI keeps each council's history apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS
from ehcp_workflow.core.figures import RUNNING_TOTAL
from ehcp_workflow.jobs.night_report import breach_summary_markdown
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.notify.model import council_code
from ehcp_workflow.settings import get_settings
from flows.common import engine_for, run_as_of


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


@task(cache_policy=NO_CACHE)
def publish_artifacts(night: dict[str, Any]) -> None:
    """Artifacts for managers, keyed so the Prefect UI shows their history night by night (one
    history per council in a regional store: :func:`artifact_key`). The markdown is the one
    ``ehcp nightly`` prints (:func:`breach_summary_markdown`)."""
    s = night["summary"]
    council = s.get("council")
    whose = f"Council {council}: " if council else ""
    create_table_artifact(
        night["backlog_by_team"],
        key=artifact_key("backlog-by-team", council),
        description=f"{whose}Open requests by team and weeks waiting, as of {s['as_of']} ({RUNNING_TOTAL})",
    )
    create_markdown_artifact(
        (f"# Council {council}\n\n" if council else "") + breach_summary(night),
        key=artifact_key("breach-summary", council),
        description=f"{whose}Breaches as of {s['as_of']}: tonight's changes and running totals, labelled",
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
    night = check_clocks(day, dry_run, baseline, council)
    publish_artifacts(night)
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
