"""Engines for the two supported databases, behind one function.

SQLite is the default (one council, one box): the file is created owner-only (0600) *before*
SQLAlchemy opens it, because it holds children's names and birth dates and SQLite would otherwise
create it with the process umask (often world-readable). Every connection gets WAL (readers do not
block the nightly writer), a busy timeout (a second writer waits instead of failing at once) and
``foreign_keys=ON`` (SQLite ignores foreign keys unless told, per connection).

SQLite's Python driver also opens transactions lazily and never for DDL, which breaks SAVEPOINTs
and makes a failed migration leave half its DDL behind. The documented SQLAlchemy recipe fixes
that: the driver is put in autocommit and SQLAlchemy emits ``BEGIN`` itself, so a transaction
means the same thing on both backends.

PostgreSQL is a URL away (``postgresql+psycopg://...``); a bare ``postgresql://`` is taken to mean
psycopg 3, the only driver installed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: How long a SQLite writer waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: SQLite page cache per connection, in KiB (the ``cache_size`` pragma; SQLite's default is 2 MiB).
SQLITE_CACHE_KIB = 65_536
#: Execution option naming the SQLite ``BEGIN`` mode for a connection's next transaction.
SQLITE_BEGIN_OPTION = "ehcp_sqlite_begin"
#: PostgreSQL advisory-lock key that serialises writers of case data (the ASCII of "EHCP").
WRITE_LOCK_KEY = 0x45484350
#: Advisory-lock key held while migrating (so two ``ehcp db upgrade`` cannot interleave).
MIGRATION_LOCK_KEY = 0x45484351


def normalise_url(url: str | URL) -> URL:
    """Parse ``url``, pointing bare PostgreSQL URLs at the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory and ``file:`` URI databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(database)


def create_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if it does not exist; warn if an existing file is wider.

    Creating the file ourselves is the only way to choose its mode: SQLite creates a missing file
    with ``0644 & ~umask``. The ``-wal`` and ``-shm`` files SQLite adds later copy the database
    file's mode.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("database file %s is readable by other users (mode %o): chmod 600 it", path, mode)
        return
    try:
        os.fchmod(fd, 0o600)  # the umask may have removed bits we need (e.g. umask 0277)
    finally:
        os.close(fd)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint; the WAL default
        # 64 MiB of page cache instead of SQLite's 2 MiB: a night's million-row index updates and
        # the caseload's joins otherwise re-read the same pages from the OS over and over.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | URL | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (default: ``Settings().database_url``), set up as described above."""
    if url is None:
        from ehcp_workflow.settings import get_settings

        url = get_settings().database_url
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            create_private_file(path)
        engine = create_engine(parsed, echo=echo)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed, echo=echo, pool_pre_ping=True, connect_args={"application_name": "ehcp-workflow"}
        )
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")


def write_connection(session: Session) -> Connection:
    """The session's connection, holding the store's write lock for the rest of the transaction.

    Writers of case data read the current state, diff it and write the changes plus event rows;
    two of them interleaving could log a change against a stale old value. So they are serialised:
    PostgreSQL takes a transaction-scoped advisory lock; SQLite starts the transaction with
    ``BEGIN IMMEDIATE`` (the write lock up front, waiting up to the busy timeout) rather than failing
    with "database is locked" when a read transaction tries to become a write one. If the session
    already began a transaction, SQLite keeps that (deferred) one.
    """
    if session.in_transaction():
        conn = session.connection()
    else:
        conn = session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
    return conn
