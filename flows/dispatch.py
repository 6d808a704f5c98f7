"""Alert dispatch: send what the nightly check queued; can run on its own to retry failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ehcp_workflow.db.outbox import wall_clock
from ehcp_workflow.jobs.dispatch import run_dispatch
from ehcp_workflow.settings import get_settings
from flows.common import RunProgress, engine_for, notifier_for, run_as_of


@task(cache_policy=NO_CACHE)
def send_queued(as_of: dt.date, dry_run: bool) -> dict[str, Any]:
    """Send every claimable alert. No task retries: the outbox is the retry mechanism (backoff per
    alert), and raising after the maximum attempts makes the failure visible in the run. The
    ``dispatch-progress`` artifact counts the messages sent so far."""
    settings = get_settings()
    notifier = notifier_for(settings, dry_run=dry_run)
    progress = RunProgress("dispatch-progress", f"Sending the alerts queued up to {as_of}")
    with engine_for(settings) as engine:
        summary = run_dispatch(
            engine,
            notifier,
            now=wall_clock(),
            # read for every lease renewal and result: a slow channel must not outlive the lease
            clock=wall_clock,
            as_of=as_of,
            allow_initials=settings.alert_initials,
            dry_run=dry_run,
            progress=progress.steps(0.0, 100.0, "messages " + ("rendered" if dry_run else "sent")),
        )
    verb = "would be sent (dry run)" if dry_run else "sent"
    progress.update(
        100.0, f"Done: {summary.messages_sent:,} message(s) {verb}, {summary.messages_failed:,} failed"
    )
    return summary.as_dict()


@flow(name="dispatch-alerts")
def dispatch_alerts(dry_run: bool = False, as_of: dt.date | None = None) -> dict[str, Any]:
    """Send queued alerts (caseworker digests, manager escalations)."""
    day = run_as_of(as_of, get_settings())
    summary = send_queued(day, dry_run)
    get_run_logger().info(
        "%s message(s) sent, %s failed, %s alert(s) delivered",
        summary["messages_sent"],
        summary["messages_failed"],
        summary["alerts_sent"],
    )
    return summary


if __name__ == "__main__":
    dispatch_alerts()
