"""Migrations: from empty to head on both backends, idempotent, and in step with the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from ehcp_workflow.db import (
    DatabaseNotCurrent,
    check_database,
    database_revision,
    head_revision,
    make_engine,
    upgrade_database,
)
from ehcp_workflow.db.migrate import MIGRATIONS_DIR, alembic_config

TABLES = {
    "sen2_case_detail",
    "sen2_setting",
    "sen2_need",
    "person",
    "import_batch",
    "ehcp_case",
    "plan",
    "annual_review",
    "phase_transfer",
    "case_exception",
    "advice_request",
    "assignment",
    "event_log",
    "clock_state",
    "alert",
}


def test_revisions_are_numbered() -> None:
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files[0] == "0001_initial.py"
    assert all(name[:4].isdigit() for name in files)
    assert head_revision() == files[-1][:4]


def test_one_head_only() -> None:
    """Two revisions written in parallel from the same parent must be merged before release."""
    from alembic.script import ScriptDirectory

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_upgrade_from_empty_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert database_revision(engine) is None
        with pytest.raises(DatabaseNotCurrent, match="ehcp db upgrade"):
            check_database(engine)
        assert upgrade_database(db_url) == head_revision()
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        assert upgrade_database(db_url) == head_revision()  # second run: nothing to do
        check_database(engine)
    finally:
        engine.dispose()


def test_models_match_migrations(engine: sa.Engine) -> None:
    """Autogenerate against the migrated database finds nothing to do: no forgotten revision."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(db_url: str) -> None:
    upgrade_database(db_url)
    command.downgrade(alembic_config(db_url), "base")
    engine = make_engine(db_url)
    try:
        assert not TABLES & set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert upgrade_database(db_url) == head_revision()


def test_constraint_names_follow_the_convention(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("ehcp_case")["name"] in ("pk_ehcp_case", None)  # SQLite drops PK names
    uniques = {u["name"] for u in inspector.get_unique_constraints("alert")}
    assert "uq_alert_alert_key" in uniques
    checks = {c["name"] for c in inspector.get_check_constraints("alert")}
    assert "ck_alert_status" in checks


def test_event_log_is_append_only(engine: sa.Engine, session, caseload) -> None:
    from ehcp_workflow.db import upsert_caseload

    upsert_caseload(session, caseload, actor="tester")
    for statement in ("UPDATE event_log SET actor = 'mallory'", "DELETE FROM event_log"):
        with engine.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
            conn.execute(sa.text(statement))
