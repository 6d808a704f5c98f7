"""Single-box alternative to workers: serve all three deployments from one long-lived process.

    .venv/bin/python -m deployments.serve

Runs against the Prefect API in ``PREFECT_API_URL`` (start one with ``prefect server start``).
Schedules match ``deployments/prefect.yaml``. ``pause_on_shutdown=False`` matters: Prefect's default
pauses the schedules when this process stops, so a restart of the box would silently end the nightly
run (engineering-notes §1.1). Run it under systemd (Restart=always).
"""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.dispatch import dispatch_alerts
from flows.nightly import nightly_compliance
from flows.weekly import weekly_backlog_report

LONDON = "Europe/London"


def main() -> None:
    # to_deployment is sync here (called outside an event loop); its annotation allows a coroutine
    deployments = [
        nightly_compliance.to_deployment(
            name="nightly-compliance",
            schedule=Cron("0 2 * * *", timezone=LONDON),
            concurrency_limit=1,
            parameters={"as_of": None, "dry_run": False},
        ),
        dispatch_alerts.to_deployment(
            name="dispatch-alerts",
            schedule=Cron("30 6 * * *", timezone=LONDON),
            concurrency_limit=1,
        ),
        weekly_backlog_report.to_deployment(
            name="weekly-backlog-report",
            schedule=Cron("0 7 * * 1", timezone=LONDON),
            concurrency_limit=1,
        ),
    ]
    serve(*(cast(RunnerDeployment, d) for d in deployments), pause_on_shutdown=False)


if __name__ == "__main__":
    main()
