"""Nightly compliance check: evaluate every clock, record transitions, queue alerts, publish artifacts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.jobs.weekly import NO_TEAM
from ehcp_workflow.settings import get_settings
from flows.common import engine_for, run_as_of


@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE)
def check_clocks(as_of: dt.date, dry_run: bool) -> dict[str, Any]:
    """Load, evaluate, record and queue (one transaction). Returns counts and small tables only."""
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    with engine_for(settings) as engine:
        result = run_nightly(engine, as_of=as_of, now=now, conventions=settings.conventions, dry_run=dry_run)
    breaches = result.new_breaches.copy()
    breaches["due_date"] = breaches["due_date"].astype(str)
    return {
        "summary": result.summary.as_dict(),
        "backlog_by_team": result.backlog_by_team.to_dict(orient="records"),
        "new_breaches": breaches.head(200).to_dict(orient="records"),
        "band_crossings": result.band_crossings.head(200).to_dict(orient="records"),
    }


def team_label(team: Any) -> str:
    """A team for the artifacts: ``(no team)`` for a case without one (None, NaN or empty).

    A DataFrame's records carry a missing team as NaN, which is truthy and printed as "nan".
    """
    if team is None or (not isinstance(team, str) and bool(pd.isna(team))) or not str(team).strip():
        return NO_TEAM
    return str(team)


def breach_summary(night: dict[str, Any]) -> str:
    """The breach-summary artifact (markdown) for one night's :func:`check_clocks` result."""
    s = night["summary"]
    lines = [
        f"# Compliance check, {s['as_of']}" + (" (dry run)" if s["dry_run"] else ""),
        "",
        f"- Cases checked: **{s['cases']:,}**; open requests: **{s['open_requests']:,}**",
        f"- Oldest open request: **{s['oldest_open_weeks']} weeks**",
        f"- Clocks overdue: **{s['clocks_by_status'].get('overdue', 0):,}**; "
        f"cannot be evaluated (bad data): **{s['invalid_clocks']:,}**",
        f"- Breaches: **{s['new_breaches']:,}** overdue clocks; band crossings (30/52/100 weeks): "
        f"**{s['band_crossings']:,}**",
        f"- Alerts queued tonight: **{s['alerts_queued']:,}** "
        f"(of {s['alerts_considered']:,} due; the rest were already queued)",
        "",
        "## Open requests by band",
        "",
        "| band | open |",
        "|---|---:|",
        *[f"| {band} | {n:,} |" for band, n in sorted(s["open_by_band"].items())],
    ]
    if night["band_crossings"]:
        lines += [
            "",
            "## Longest waits crossing a band",
            "",
            "| case | band | weeks | team |",
            "|---|---|---:|---|",
        ]
        crossings = sorted(night["band_crossings"], key=lambda r: -int(r["weeks_waiting"]))[:25]
        lines += [
            f"| {r['case_ref']} | {r['band']} | {r['weeks_waiting']} | {team_label(r['team'])} |"
            for r in crossings
        ]
    for note in s["notes"]:
        lines += ["", f"> {note}"]
    return "\n".join(lines)


@task(cache_policy=NO_CACHE)
def publish_artifacts(night: dict[str, Any]) -> None:
    """Artifacts for managers, keyed so the Prefect UI shows their history night by night."""
    s = night["summary"]
    create_table_artifact(
        night["backlog_by_team"],
        key="backlog-by-team",
        description=f"Open requests by team and weeks waiting, as of {s['as_of']}",
    )
    create_markdown_artifact(
        breach_summary(night), key="breach-summary", description=f"Breaches as of {s['as_of']}"
    )


@flow(name="nightly-compliance")
def nightly_compliance(as_of: dt.date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Check every statutory clock as of ``as_of`` (default: the scheduled start's date in London)."""
    settings = get_settings()
    day = run_as_of(as_of, settings)
    night = check_clocks(day, dry_run)
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
