"""``ehcp db upgrade`` and ``ehcp db status``: create, upgrade and check the case store."""

from __future__ import annotations

import typer

from ehcp_workflow.cli.common import EXIT_BAD_INPUT, err, out
from ehcp_workflow.cli.store import DatabaseUrlOption, fail, resolve_url, shown_url

db_app = typer.Typer(
    name="db",
    help="Create, upgrade and check the case store (SQLite or PostgreSQL).",
    no_args_is_help=True,
)


def _current_revision(url: str) -> str | None:
    """The database's revision, or None when it is new (a missing SQLite file is not created)."""
    from ehcp_workflow.db import database_revision, make_engine
    from ehcp_workflow.db.engine import normalise_url, sqlite_path

    path = sqlite_path(normalise_url(url))
    if path is not None and not path.exists():
        return None
    engine = make_engine(url)
    try:
        return database_revision(engine)
    finally:
        engine.dispose()


@db_app.command("upgrade")
def upgrade(database_url: DatabaseUrlOption = None) -> None:
    """Create the database, or bring it to this version's schema. Safe to run again: idempotent."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from ehcp_workflow.db import head_revision, upgrade_database

    url = resolve_url(database_url)
    try:
        before = _current_revision(url)
        after = upgrade_database(url)
    except ArgumentError:
        fail(f"[bold red]Not a database URL:[/] {url!r} (e.g. sqlite:///ehcp.db)")
    except DBAPIError as exc:
        orig = getattr(exc, "orig", None) or exc
        fail(f"[bold red]Cannot upgrade the database at {shown_url(url)}:[/] {str(orig).strip()}")
    head = head_revision()
    where = shown_url(url)
    if before == after:
        out.print(f"Database {where} is already at revision {after} (head {head}); nothing to do.")
    elif before is None:
        out.print(f"Created the database {where} at revision {after} (head {head}).")
    else:
        out.print(f"Upgraded the database {where} from revision {before} to {after} (head {head}).")


@db_app.command("status")
def status(database_url: DatabaseUrlOption = None) -> None:
    """Show the database's revision and whether it needs ``ehcp db upgrade`` (exit code 2 if so)."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from ehcp_workflow.db import head_revision

    url = resolve_url(database_url)
    try:
        current = _current_revision(url)
    except ArgumentError:
        fail(f"[bold red]Not a database URL:[/] {url!r} (e.g. sqlite:///ehcp.db)")
    except DBAPIError as exc:
        orig = getattr(exc, "orig", None) or exc
        fail(f"[bold red]Cannot open the database at {shown_url(url)}:[/] {str(orig).strip()}")
    head = head_revision()
    out.print(
        f"Database {shown_url(url)}: revision {current or 'none (not created)'}; this code needs {head}."
    )
    if current != head:
        err.print("Run [bold]ehcp db upgrade[/] to create or upgrade it.")
        raise typer.Exit(EXIT_BAD_INPUT)
