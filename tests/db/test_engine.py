"""Engines: the SQLite file is private and its PRAGMAs are on; timestamps are UTC on both backends."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from ehcp_workflow.db import make_engine, upgrade_database
from ehcp_workflow.db.engine import normalise_url
from ehcp_workflow.db.types import UTCDateTime


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_file_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    old = os.umask(0o022)  # a typical umask would give 0644
    try:
        upgrade_database(f"sqlite:///{path}")
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:  # a live connection keeps -wal and -shm around
            conn.execute(sa.text("SELECT count(*) FROM ehcp_case")).scalar_one()
            assert _mode(path) == 0o600
            for extra in ("-wal", "-shm"):
                sibling = path.with_name(path.name + extra)
                if sibling.exists():
                    assert _mode(sibling) & 0o077 == 0, f"{sibling.name} is readable by others"
        engine.dispose()
    finally:
        os.umask(old)


def test_existing_wide_open_file_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="ehcp_workflow.db.engine"):
        make_engine(f"sqlite:///{path}").dispose()
    assert "chmod 600" in caplog.text


def test_sqlite_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 5000
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.text("INSERT INTO plan (case_id) VALUES (424242)"))
        conn.commit()


def test_bare_postgresql_url_means_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://u@h/db")


def test_timestamps_come_back_as_aware_utc(engine: sa.Engine) -> None:
    table = sa.Table(
        "t_utc", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime)
    )
    london_summer = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), {"id": 1, "at": london_summer})
    with engine.connect() as conn:
        got = conn.execute(sa.select(table.c.at)).scalar_one()
    assert got == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert got.utcoffset() == timedelta(0)
    with engine.begin() as conn, pytest.raises(sa.exc.StatementError, match="naive"):
        conn.execute(table.insert(), {"id": 2, "at": datetime(2026, 7, 1, 9, 0)})
    with engine.begin() as conn:  # leave the schema as the migrations made it
        table.drop(conn)
