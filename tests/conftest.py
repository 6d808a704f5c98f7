"""Shared fixtures. Kept light on purpose: no Prefect import here (flow tests have their own
conftest), and the database modules are imported inside fixtures so pure-rule tests start fast.

``db_url`` (an empty database) and ``engine`` (a migrated one with empty tables) run a test once per
backend: SQLite (a file in ``tmp_path``) and PostgreSQL (a throw-away database ``ehcp_test_<random>``
created for the session on ``EHCP_TEST_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, and dropped at the end). Migrating once
and copying (SQLite) or emptying the tables (PostgreSQL) keeps the per-test cost to milliseconds.

Where PostgreSQL cannot be reached the postgres cases are skipped with the
reason; when the ``CI`` environment variable is set they fail instead, so CI cannot quietly test
SQLite only.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "EHCP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _admin_connect() -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN_URL)
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        connect_timeout=3,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throw-away PostgreSQL database for the session; yields its SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    try:
        admin = _admin_connect()
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(f"{message}; set EHCP_TEST_POSTGRES_URL to run the postgres tests")
    name = f"ehcp_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psycopg(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database, autocommit=True
    )


@pytest.fixture(scope="session")
def _postgres_state() -> dict[str, bool]:
    """Whether the session's PostgreSQL database currently holds the migrated schema."""
    return {"migrated": False}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """URL of an empty, never-migrated database, once for SQLite and once for PostgreSQL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ehcp.db'}"
    url: str = request.getfixturevalue("postgres_database")
    with _psycopg(url) as conn:  # drop everything: the test starts from a bare database
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    request.getfixturevalue("_postgres_state")["migrated"] = False
    return url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A SQLite file migrated once per session; tests get a copy (much cheaper than migrating)."""
    from ehcp_workflow.db import upgrade_database

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")  # disposes its engine: the WAL is checkpointed into the file
    return path


@pytest.fixture
def migrated_url(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """URL of a database at the head revision with every table empty (both backends)."""
    if backend == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "ehcp.db"
        shutil.copyfile(template, path)
        path.chmod(0o600)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    state = request.getfixturevalue("_postgres_state")
    if state["migrated"]:
        from sqlmodel import SQLModel

        import ehcp_workflow.db.models  # noqa: F401

        with _psycopg(url) as conn, conn.transaction():
            # DELETE of a few rows is ~100x faster than TRUNCATE; the replica role lets it past
            # event_log's append-only trigger. Ids are not reset: tests must not assume them.
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(f"DELETE FROM {table.name}")
    else:
        from ehcp_workflow.db import upgrade_database

        with _psycopg(url) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        upgrade_database(url)
        state["migrated"] = True
    return url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Any]:
    """An engine on a migrated, empty database (both backends)."""
    from ehcp_workflow.db import make_engine

    eng = make_engine(migrated_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine: Any) -> Iterator[Any]:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        yield s
