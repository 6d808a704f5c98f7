"""Bringing a database to the schema this code expects (``ehcp db upgrade``).

The Alembic configuration is built in code, so an installed package needs no ``alembic.ini`` in the
working directory; developers writing a revision use ``ehcp_workflow/migrations/alembic.ini``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from ehcp_workflow.db.engine import make_engine, normalise_url

if TYPE_CHECKING:  # Alembic loads only to migrate, or to answer a store not at the head (see
    from alembic.config import Config  # check_database): ~0.1-0.4 s of every `ehcp case show`

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseNotCurrent(RuntimeError):
    """The database schema is not the one this code was written for."""


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic :class:`~alembic.config.Config` for the store's migrations and ``url``.

    The URL travels in ``config.attributes`` rather than the ini ``sqlalchemy.url`` option, because
    the ini parser would treat a ``%`` in a URL-encoded password as interpolation.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        cfg.attributes["url"] = normalise_url(url).render_as_string(hide_password=False)
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def database_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for a database never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_database(url: str | URL | None = None, *, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` (default: settings) to ``revision``; return where it is now.

    Idempotent: a database already at the revision is left alone. Safe to run twice at once on
    PostgreSQL (an advisory lock serialises the runs); on SQLite the second waits on the file lock.
    A missing SQLite file is created with mode 0600.
    """
    if url is None:
        from ehcp_workflow.settings import get_settings

        url = get_settings().database_url
    from alembic import command

    command.upgrade(alembic_config(url), revision)
    engine = make_engine(url)
    try:
        return database_revision(engine)
    finally:
        engine.dispose()


#: The version table Alembic keeps (env.py leaves Alembic's default name).
VERSION_TABLE = "alembic_version"


def numbered_head() -> str:
    """The newest shipped revision, from the migration file names alone.

    Revisions are numbered ``0001_...``, ``0002_...`` in one line, each file's id being its first
    four characters (``tests/db/test_migrations.py`` holds the convention and that this equals
    :func:`head_revision`). Listing a directory is free; Alembic's ScriptDirectory costs its
    import and a parse of every revision file (~0.1 s on each ``ehcp case show``).
    """
    names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    if not names:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return names[-1][:4]


def _is_at(engine: Engine, revision: str) -> bool:
    """Whether the version table holds exactly ``revision``: one small read, no Alembic."""
    from sqlalchemy import text

    with engine.connect() as conn:
        if not conn.dialect.has_table(conn, VERSION_TABLE):
            return False
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return rows == [revision]


def check_database(engine: Engine) -> None:
    """Raise :class:`DatabaseNotCurrent` unless the database is at :func:`head_revision`.

    Flows call this first, so a forgotten ``ehcp db upgrade`` is one clear message rather than an
    SQL error about a missing column half-way through a nightly run. A store at the head (every
    run but the first after an upgrade of the code) is recognised without loading Alembic; any
    other answer is Alembic's own, as before.
    """
    if _is_at(engine, numbered_head()):
        return
    current, head = database_revision(engine), head_revision()
    if current != head:
        raise DatabaseNotCurrent(
            f"database is at revision {current or 'none (empty)'}, this code needs {head}: "
            "run `ehcp db upgrade`"
        )
