"""The caseworker journey of the issue, on SQLite and PostgreSQL: create the store, load a SEN2
return, look up a child's case and see why each date is what it is, record a decision, see it in
the case's log and clocks, and re-import the same return without changing anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from ehcp_workflow.cli import app
from ehcp_workflow.db import head_revision
from tests.cli.conftest import events_of, stored_refs

CASE = "J999400012003/1"  # spec example person 3: assessment agreed 14 Nov 2025, plan awaited


def test_caseworker_journey(db_url: str, sen2_file: Path) -> None:
    runner = CliRunner()

    def ehcp(*args: str) -> Result:
        return runner.invoke(app, [*args, "--database-url", db_url])

    # A new database: commands other than `db upgrade` say what to do.
    result = ehcp("case", "show", CASE)
    assert result.exit_code == 2
    assert "ehcp db upgrade" in result.output

    result = ehcp("db", "status")
    assert result.exit_code == 2 and "ehcp db upgrade" in result.output
    result = ehcp("db", "upgrade")
    assert result.exit_code == 0, result.output
    head = head_revision()  # the newest migration (they are added over time)
    assert f"at revision {head}" in result.output
    result = ehcp("db", "status")
    assert result.exit_code == 0 and f"revision {head}; this code needs {head}" in result.output
    result = ehcp("db", "upgrade")
    assert result.exit_code == 0
    assert f"already at revision {head}" in result.output and "nothing to do" in result.output

    result = ehcp("import", str(sen2_file), "--actor", "importer")
    assert result.exit_code == 0, result.output
    assert "5 created, 0 updated, 0 unchanged" in result.output
    assert not (sen2_file.parent / f"{sen2_file.name}.errors.csv").exists()
    assert len(stored_refs(db_url)) == 5

    # Why each date is what it is.
    result = ehcp("case", "show", CASE, "--as-of", "2026-01-15")
    assert result.exit_code == 0, result.output
    text = result.output
    assert (
        "Starts Mon 6 Oct 2025 (request_received); 16 weeks, exclusive counting gives Mon 26 Jan 2026."
        in text
    )
    assert (
        "Starts Mon 6 Oct 2025 (request_received); 20 weeks, exclusive counting gives Mon 23 Feb 2026."
        in text
    )
    assert "Met: request_outcome_date Fri 14 Nov 2025, on or before the due date." in text
    assert "Backlog: open request, waiting 14 weeks (band within_20)." in text
    assert "annual_review (review 1): no plan" in text  # not applicable, and why
    assert "review_report" not in text  # no review cycle yet: no review clocks at all
    assert "request_received" in text and "— → 2025-10-06" in text and "return-2026.xml" in text
    imported = len(events_of(db_url, CASE))

    # Re-importing the same return changes nothing, and says so.
    result = ehcp("import", str(sen2_file))
    assert result.exit_code == 0, result.output
    assert "No changes: all 5 case(s) in return-2026.xml already match the store" in result.output
    assert len(events_of(db_url, CASE)) == imported

    # Record the decision not to issue: the clocks that changed are shown.
    result = ehcp(
        "case",
        "record",
        CASE,
        "decision-not-to-issue",
        "2026-01-10",
        "--as-of",
        "2026-01-15",
        "--reason",
        "panel of 9 January",
        "--actor",
        "alice",
    )
    assert result.exit_code == 0, result.output
    assert "A → N" in result.output and "— → 2026-01-10" in result.output
    assert "Clocks that changed at 2026-01-15" in result.output
    changed = result.output.split("Clocks that changed")[1]
    assert "decision_not_to_issue" in changed and "due_soon (due 2026-01-26)" in changed
    assert "met (due 2026-01-26)" in changed
    assert "final_plan" in changed and "not_applicable" in changed
    assert "Backlog: within_20, 14 weeks → not open." in result.output

    # The change is in the case's log, with who, where from and why.
    events = events_of(db_url, CASE)
    assert len(events) == imported + 2
    assert {(e.field, e.old_value, e.new_value) for e in events[-2:]} == {
        ("assessment_outcome", "A", "N"),
        ("assessment_outcome_date", None, "2026-01-10"),
    }
    assert {(e.actor, e.source, e.reason) for e in events[-2:]} == {
        ("alice", "command:record", "panel of 9 January")
    }
    result = ehcp("case", "show", CASE, "--as-of", "2026-01-15")
    assert result.exit_code == 0
    assert "command:record" in result.output and "panel of 9 January" in result.output
    assert "Backlog: not an open request" in result.output

    # The store's merge rule is "the file wins": importing the (older) return again puts its values
    # back. The command says exactly what that changed, so it cannot happen unnoticed.
    result = ehcp("import", str(sen2_file))
    assert result.exit_code == 0, result.output
    assert "0 created, 1 updated, 4 unchanged; 2 event(s) logged" in result.output
    fields = result.output.split("Fields changed in existing cases")[1]
    assert "assessment_outcome " in fields and "assessment_outcome_date" in fields


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.db"
    result = CliRunner().invoke(app, ["backlog", "--database-url", f"sqlite:///{path}"])
    assert result.exit_code == 2
    assert "there is no database file" in result.output and "ehcp db upgrade" in result.output
    assert not path.exists()


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = CliRunner().invoke(app, ["case", "show", "C-01", "--database-url", url])
    assert result.exit_code == 2
    assert "Cannot open the database at postgresql+psycopg://nobody@127.0.0.1:1/none" in result.output
    assert "Traceback" not in result.output
