"""``ehcp import`` of a SEN2 return keeps the personal fields in the store's person table only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from ehcp_workflow.cli import app

FIXTURE = Path(__file__).parent / "fixtures" / "sen2" / "sen2_2025.xml"


def test_sen2_import_fills_people_and_the_caseload_never_holds_them(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "store.db"
    monkeypatch.setenv("EHCP_DATABASE_URL", f"sqlite:///{db}")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["import", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        people = conn.execute("SELECT person_ref, surname, birth_date FROM person").fetchall()
    assert people and all(surname and birth for _, surname, birth in people)
    surnames = {surname for _, surname, _ in people}
    shown = runner.invoke(app, ["case", "list", "--as-of", "2025-01-16"])
    assert shown.exit_code == 0, shown.output
    assert not any(s in shown.output for s in surnames)  # names never leave the person table
