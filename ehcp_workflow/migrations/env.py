"""Alembic environment: one code path for SQLite and PostgreSQL.

The URL comes from, in order: a connection passed in ``config.attributes["connection"]``, a URL in
``config.attributes["url"]`` (what :func:`ehcp_workflow.db.migrate.upgrade_database` passes), the
ini file's ``sqlalchemy.url``, then ``Settings().database_url``. Engines come from
:func:`ehcp_workflow.db.engine.make_engine`, so a database created by a migration gets the same
0600 file and PRAGMAs as one opened by the application.

* ``render_as_batch=True``: SQLite can barely ALTER, so autogenerate writes batch blocks that
  copy-and-move tables there and plain ALTERs on PostgreSQL (engineering-notes §4.1).
* On SQLite, foreign keys are switched off while migrating (batch mode drops and re-creates tables,
  which would cascade or fail with them on) and checked before they are switched back on.
* On PostgreSQL, a session advisory lock serialises concurrent ``ehcp db upgrade`` runs.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text
from sqlmodel import SQLModel

import ehcp_workflow.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from ehcp_workflow.db.engine import MIGRATION_LOCK_KEY, make_engine
from ehcp_workflow.db.types import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from ehcp_workflow.settings import get_settings

    return get_settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the store's UTC type as the plain SQLAlchemy type, so revisions stay self-contained."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # Must run outside a transaction, so on the driver connection before SQLAlchemy begins one.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
            if dialect == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows breaking foreign keys: {broken[:5]}")
        connection.commit()
    finally:
        if dialect == "sqlite":
            connection.rollback()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        elif dialect == "postgresql":
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # the caller owns this connection and its transaction
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
