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
from ehcp_workflow.db.migrate import MIGRATIONS_DIR, alembic_config, numbered_head

TABLES = {
    "store_key",
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


def test_numbered_head_is_alembics_head() -> None:
    """check_database's quick path reads the head from the file names; Alembic must agree."""
    assert numbered_head() == head_revision()


def test_a_store_behind_the_code_is_refused(db_url: str) -> None:
    """The quick path of check_database passes only a store at the head, never an older one."""
    previous = f"{int(head_revision()) - 1:04d}"
    upgrade_database(db_url, revision=previous)
    engine = make_engine(db_url)
    try:
        with pytest.raises(DatabaseNotCurrent, match=f"database is at revision {previous}"):
            check_database(engine)
        upgrade_database(db_url)
        check_database(engine)
    finally:
        engine.dispose()


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


def test_0002_renames_sen2_cases_and_their_alerts_by_pseudonym(db_url: str) -> None:
    """A store that named SEN2 cases by UPN keeps their history and alerts under the pseudonym."""
    from ehcp_workflow.db.pseudonyms import pseudonym

    upgrade_database(db_url, revision="0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO person (person_ref, created_at) VALUES ('A999260000401', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text("INSERT INTO person (person_ref, created_at) VALUES ('P-7', CURRENT_TIMESTAMP)")
            )
            for ref, person in (("A999260000401/2", "A999260000401"), ("C0000007", "P-7")):
                conn.execute(
                    sa.text(
                        "INSERT INTO ehcp_case (case_ref, person_id, created_at) "
                        "SELECT :ref, id, CURRENT_TIMESTAMP FROM person WHERE person_ref = :person"
                    ),
                    {"ref": ref, "person": person},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO alert (alert_key, case_ref, clock, kind, episode, recipient, status, attempts, "
                    "created_at, subject, body) VALUES ('A999260000401%2F2/final_plan/overdue/2026-01-05', "
                    "'A999260000401/2', 'final_plan', 'overdue', '2026-01-05', 'caseworker:x', 'queued', 0, "
                    "CURRENT_TIMESTAMP, 'A999260000401/2 overdue', 'A999260000401/2: final plan overdue 3 days')"
                )
            )
        upgrade_database(db_url)
        with engine.connect() as conn:
            key = bytes.fromhex(
                conn.execute(sa.text("SELECT value FROM store_key WHERE name = 'pseudonym'")).scalar_one()
            )
            cases = dict(
                conn.execute(
                    sa.text(
                        "SELECT p.person_ref, c.case_ref FROM ehcp_case c JOIN person p ON p.id = c.person_id"
                    )
                ).all()
            )
            alert = conn.execute(sa.text("SELECT alert_key, case_ref, subject, body FROM alert")).one()
    finally:
        engine.dispose()
    name = pseudonym(key, "A999260000401")
    assert cases == {"A999260000401": f"{name}/2", "P-7": "C0000007"}  # a council's own refs are kept
    assert alert.case_ref == f"{name}/2"
    assert alert.alert_key == f"{name}%2F2/final_plan/overdue/2026-01-05"
    assert "A999260000401" not in alert.subject + alert.body
