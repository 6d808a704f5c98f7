"""What every flow needs at its edge: today's date in London, the database, the notifier.

These are the named boundaries where the outside world comes in: the scheduled start time becomes
the council's calendar date, settings become an engine, and secrets come from the environment or
Prefect Secret blocks (never from committed files, never into logs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from ehcp_workflow.db import check_database, make_engine
from ehcp_workflow.notify.routing import chain_resolvers, env_resolver, load_routing, route_tags
from ehcp_workflow.notify.sender import AppriseNotifier, Notifier, RecordingNotifier
from ehcp_workflow.settings import Settings


def london_today(scheduled: dt.datetime | None, zone: str = "Europe/London") -> dt.date:
    """The council's calendar date of a run: its scheduled start (else now) in ``zone``.

    A run scheduled for 02:00 London time on 21 March checks the clocks as of 21 March, whatever the
    server's zone or BST; a late retry of that run keeps the same date.
    """
    instant = scheduled or dt.datetime.now(dt.UTC)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(ZoneInfo(zone)).date()


def run_as_of(as_of: dt.date | None, settings: Settings) -> dt.date:
    """``as_of`` if given (replays), else the scheduled start's London date."""
    if as_of is not None:
        return as_of
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    return london_today(scheduled if isinstance(scheduled, dt.datetime) else None, settings.timezone)


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    """The case store for one task, disposed afterwards: a long-lived ``serve`` process would
    otherwise keep a connection pool per run."""
    engine = make_engine(settings.database_url)
    try:
        check_database(engine)  # a clear "run ehcp db upgrade" rather than a missing-table error
        yield engine
    finally:
        engine.dispose()


def prefect_secret_resolver(name: str) -> str | None:
    """``${NAME}`` in notifications.yaml from a Prefect Secret block named like ``name`` in
    lower-kebab case (``EHCP_SMTP_PASSWORD`` -> ``ehcp-smtp-password``), if one exists."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name.lower().replace("_", "-"))
    except (ValueError, RuntimeError):
        return None
    value: object = block.get()  # type: ignore[union-attr]  # sync context: not a coroutine
    return value if isinstance(value, str) else None


def notifier_for(settings: Settings, *, dry_run: bool) -> Notifier:
    """The real apprise notifier; in a dry run, a recorder that knows which routes exist."""
    if dry_run:
        return RecordingNotifier(routes=route_tags(settings.notifications_config))
    routing = load_routing(
        settings.notifications_config, resolver=chain_resolvers(env_resolver(), prefect_secret_resolver)
    )
    return AppriseNotifier(routing)


class RunProgress:
    """A progress artifact for a long run (``create_progress_artifact``), updated as it goes.

    Keyed (``nightly-progress``...) so the UI's Artifacts page shows the latest run's progress and
    its history; the description says which step is running, because a bar alone does not say why a
    run is still at 40%. Updates are cheap API calls; :meth:`steps` spaces them out for long loops.
    """

    def __init__(self, key: str, description: str) -> None:
        from prefect.artifacts import create_progress_artifact

        created: object = create_progress_artifact(0.0, key=key, description=description)
        assert isinstance(created, UUID)  # sync context: the id, not a coroutine
        self._id = created
        self.percent = 0.0

    def update(self, percent: float, description: str) -> None:
        """Move the bar to ``percent`` (0-100) and say what is happening."""
        from prefect.artifacts import update_progress_artifact

        self.percent = max(0.0, min(100.0, percent))
        update_progress_artifact(self._id, self.percent, description=description)

    def steps(self, start: float, end: float, what: str) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback moving the bar from ``start`` to ``end`` percent, updating
        at most every 5% of the total (a dispatch of thousands of messages is not thousands of
        API calls)."""
        last = -1

        def report(done: int, total: int) -> None:
            nonlocal last
            every = max(1, total // 20)
            if done == total or done - last >= every:
                last = done
                share = done / total if total else 1.0
                self.update(start + (end - start) * share, f"{what}: {done:,} of {total:,}")

        return report
