"""``ehcp nightly`` and ``ehcp dispatch``: the scheduled jobs without Prefect, for cron and support.

The same library functions the Prefect flows call (:func:`~ehcp_workflow.jobs.nightly.run_nightly`,
:func:`~ehcp_workflow.jobs.dispatch.run_dispatch`), with the same guarantees (one transaction per
night, each alert queued and sent once), so a council can run them from cron, and support staff can
check a night or a send by hand, with no Prefect server or worker. Nothing here imports Prefect;
secrets for the channels come from the environment only (``${NAME}`` in notifications.yaml), not
from Prefect Secret blocks.

Exit codes: 0 done; 1 alerts could not be delivered after the maximum attempts (managers told) or
the database failed mid-run; 2 the store or an option is not usable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from ehcp_workflow.cli.common import err, out
from ehcp_workflow.cli.store import AsOfOption, DatabaseUrlOption, as_of_date, fail, open_store

#: Exit code when alerts could not be delivered after the maximum number of attempts.
EXIT_UNDELIVERED = 1

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Do everything but write (nightly) or send (dispatch); report it")
]


def nightly(
    as_of: AsOfOption = None,
    dry_run: DryRunOption = False,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="An opening night: record the state and queue one opening position for managers and "
            "one worklist per caseworker instead of an alert per clock (automatic on a first night)",
        ),
    ] = False,
    council: Annotated[
        str | None,
        typer.Option(
            "--council",
            help="Only this council's cases (its LA code, as in the case data): a regional store's "
            "night for one council, whose alerts go to that council's routes (council:<LA>/... tags)",
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    timings: Annotated[
        bool, typer.Option("--timings", help="Print the seconds each stage took (read, evaluate, diff ...)")
    ] = False,
) -> None:
    """Check every clock, record the night and queue alerts (the nightly flow, without Prefect)."""
    from ehcp_workflow.db.read import councils
    from ehcp_workflow.jobs.night_report import breach_summary_markdown
    from ehcp_workflow.jobs.nightly import run_nightly
    from ehcp_workflow.notify.model import council_code
    from ehcp_workflow.settings import get_settings

    settings = get_settings()
    day = as_of_date(as_of, settings)
    if council is not None:
        try:
            council = council_code(council)
        except ValueError as exc:
            fail(f"[bold red]--council:[/] {exc}")
    with open_store(database_url) as engine:
        if council is not None and council not in (known := councils(engine)):
            # a typo would otherwise be a night over no cases: silence, where alerts were due
            fail(
                f"[bold red]--council {council}:[/] no case in this store has that council (la); "
                f"the store's councils: {', '.join(known) or 'none recorded'}"
            )
        result = run_nightly(
            engine,
            as_of=day,
            now=dt.datetime.now(dt.UTC),
            conventions=settings.conventions,
            dry_run=dry_run,
            baseline=baseline,
            allow_initials=settings.alert_initials,
            council=council,
        )
    summary = result.summary
    out.print(
        breach_summary_markdown(
            summary.as_dict(),
            band_labels=settings.conventions.band_labels,
            longest_waits=result.longest_waits.head(10).to_dict(orient="records"),
        ),
        markup=False,
        highlight=False,
    )
    if timings:
        err.print(f"nightly stages: {result.stage_line}", markup=False, highlight=False, soft_wrap=True)
    done = "would be queued (dry run: nothing written)" if dry_run else "queued"
    err.print(
        f"{summary.alerts_queued:,} alert(s) and message(s) {done}; "
        f"send them with [bold]ehcp dispatch[/]" + (" (after a real run)" if dry_run else "")
    )


def dispatch(
    as_of: AsOfOption = None,
    dry_run: DryRunOption = False,
    notifications: Annotated[
        Path | None,
        typer.Option(
            "--notifications",
            help="Routes file (default: EHCP_NOTIFICATIONS_CONFIG, else config/notifications.yaml)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    show: Annotated[
        int, typer.Option("--show", min=0, help="With --dry-run: print the first N messages in full")
    ] = 0,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Send the queued alerts: one digest per caseworker, one summary to managers (without Prefect).

    ``--dry-run`` renders every message and checks each has a route, and sends nothing.
    """
    from ehcp_workflow.jobs.dispatch import DeliveryFailing, pending_alerts, render_messages, run_dispatch
    from ehcp_workflow.notify.limits import message_bytes
    from ehcp_workflow.notify.routing import (
        MissingSecretError,
        RoutingConfigError,
        env_resolver,
        load_routing,
        route_tags,
    )
    from ehcp_workflow.notify.sender import AppriseNotifier, Notifier, RecordingNotifier
    from ehcp_workflow.settings import get_settings

    settings = get_settings()
    day = as_of_date(as_of, settings)
    config = notifications or settings.notifications_config
    now = dt.datetime.now(dt.UTC)
    notifier: Notifier
    try:
        if dry_run:
            notifier = RecordingNotifier(routes=route_tags(config))
        else:
            notifier = AppriseNotifier(load_routing(config, resolver=env_resolver()))
    except (RoutingConfigError, MissingSecretError, OSError) as exc:
        fail(f"[bold red]Cannot use the routes in {config}:[/] {exc}")
    with open_store(database_url) as engine:
        if dry_run and show:
            rows = pending_alerts(engine, now=now, max_attempts=5)
            for message in render_messages(rows, as_of=day, allow_initials=settings.alert_initials)[:show]:
                out.rule(f"To {message.recipient} ({message_bytes(message):,} bytes)")
                out.print(message.title, markup=False, highlight=False)
                out.print(message.body, markup=False, highlight=False)
        try:
            summary = run_dispatch(
                engine, notifier, now=now, as_of=day, allow_initials=settings.alert_initials, dry_run=dry_run
            )
        except DeliveryFailing as exc:
            err.print(f"[bold red]Not delivered:[/] {exc}")
            raise typer.Exit(EXIT_UNDELIVERED) from None
    verb = "would be sent" if dry_run else "sent"
    out.print(
        f"{summary.messages_sent:,} message(s) {verb} covering {summary.alerts_sent:,} alert(s); "
        f"{summary.messages_failed:,} failed" + (" (dry run: nothing sent)" if dry_run else ""),
        highlight=False,
    )
    for recipient in summary.recipients_failing:
        err.print(f"[yellow]No delivery to {recipient}[/] (check its route in {config})")
