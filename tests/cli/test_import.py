"""``ehcp import``: strict refusal with an error report, --accept-valid, updates and their summary."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd

from ehcp_workflow.cli.importing import REPORT_COLUMNS, _drop_rejected, report_path, write_report
from ehcp_workflow.problems import Problem, Severity
from tests.cli.conftest import CSV_ROWS, FIXTURES, events_of, source_refs, stored_refs, write_csv


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == REPORT_COLUMNS
        return list(reader)


def test_a_bad_file_is_refused_with_a_report_and_nothing_imported(ehcp, url, tmp_path) -> None:
    bad = tmp_path / "sen2_errors.xml"
    shutil.copyfile(FIXTURES / "sen2_errors.xml", bad)
    result = ehcp("import", str(bad))
    assert result.exit_code == 2
    assert "Refused:" in result.output and "nothing was imported" in result.output
    assert stored_refs(url) == []
    rows = _report(report_path(bad))
    assert report_path(bad) == tmp_path / "sen2_errors.xml.errors.csv"
    by_case = {(r["person_or_case"], r["field"], r["severity"]) for r in rows}
    assert ("A999260000401", "ReceivedDate", "error") in by_case
    assert ("P999260000402", "RequestOutcome", "error") in by_case
    assert ("X1234567898765", "UPN", "warning") in by_case
    first = next(r for r in rows if r["person_or_case"] == "A999260000401" and r["field"] == "ReceivedDate")
    assert first["location"] == "Person 1 (line 10), Requests 1, line 14"
    assert first["rule"] == "sen2-date" and "is not a date" in first["message"]
    assert first["file"].endswith("sen2_errors.xml")
    # errors come first
    severities = [r["severity"] for r in rows]
    assert severities == sorted(severities, key=lambda s: s != "error")

    # --accept-valid imports the valid cases and reports the rest (report rewritten)
    result = ehcp("import", str(bad), "--accept-valid")
    assert result.exit_code == 0, result.output
    refs = source_refs(url)
    assert "A999260000401/2" in refs and "K999260000407/1" in refs
    assert not any("A999260000401" in ref for ref in stored_refs(url))  # the store names cases by pseudonym
    assert "A999260000401/1" not in refs and "P999260000402/1" not in refs
    assert "case(s) left out because of errors" in result.output
    assert len(_report(report_path(bad))) == len(rows)


def test_a_newer_file_updates_what_changed(ehcp, url, caseload_csv) -> None:
    assert ehcp("import", str(caseload_csv)).exit_code == 0
    rows = list(CSV_ROWS)
    rows[0] = rows[0].replace(",,,,,,", ",Y,2026-05-29,,,,")  # C-01: decision to assess made
    rows[2] = rows[2].replace("north,bob", "north,erin")  # C-03: new caseworker
    rows.append("C-09,P-09,north,alice,2026-05-20,,,,,,")  # a new request
    write_csv(caseload_csv, rows)
    result = ehcp("import", str(caseload_csv), "--actor", "nightly", "--reason", "weekly extract")
    assert result.exit_code == 0, result.output
    assert "1 created, 2 updated, 6 unchanged" in result.output
    fields = result.output.split("Fields changed in existing cases")[1]
    for name in ("request_outcome", "request_outcome_date", "caseworker"):
        assert name in fields
    last = events_of(url, "C-01")[-1]
    assert (last.actor, last.source, last.reason) == ("nightly", "caseload.csv", "weekly extract")
    again = ehcp("import", str(caseload_csv))
    assert "No changes: all 9 case(s)" in again.output


def test_a_fixed_file_removes_the_old_report(ehcp_sqlite, sqlite_url, tmp_path) -> None:
    ehcp, url = ehcp_sqlite, sqlite_url
    path = write_csv(tmp_path / "team.csv", [*CSV_ROWS[:2], "C-03,P-03,north,bob,2025-13-01,,,,,,"])
    result = ehcp("import", str(path))
    assert result.exit_code == 2
    assert report_path(path).exists()
    assert stored_refs(url) == []
    write_csv(path, CSV_ROWS[:3])
    result = ehcp("import", str(path))
    assert result.exit_code == 0, result.output
    assert not report_path(path).exists()
    assert "Removed the error report of an earlier import" in result.output


def test_an_unreadable_file_is_a_usage_error(ehcp_sqlite, tmp_path) -> None:
    ehcp = ehcp_sqlite
    result = ehcp("import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    result = ehcp("import", str(other))
    assert result.exit_code == 2
    assert "not a supported caseload file" in result.output
    assert report_path(other).exists()


def test_report_quotes_spreadsheet_formulas(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_report(path, [Problem("f.csv", "row 2", "=HYPERLINK(1)", "team", "bad", Severity.WARNING, "x")])
    (row,) = _report(path)
    assert row["person_or_case"] == "'=HYPERLINK(1)"


def test_store_rule_problems_drop_only_their_cases() -> None:
    from ehcp_workflow.core.caseload import Caseload, empty_advice, empty_cases
    from ehcp_workflow.db import validate_caseload

    cases = empty_cases(3)
    cases["case_ref"] = pd.array(["A", "B", "C"], dtype="string")
    cases["team"] = pd.array(["north", " ", "south"], dtype="string")  # B: blank text
    advice = empty_advice(2)
    advice["case_ref"] = pd.array(["B", "C"], dtype="string")
    advice["provider"] = pd.array(["paediatrics", "paediatrics"], dtype="string")
    caseload = Caseload(cases=cases, advice=advice)
    problems = validate_caseload(cases, advice, "f.csv")
    assert [p.person for p in problems] == ["B"]
    kept, dropped = _drop_rejected(caseload, problems)
    assert dropped == {"B"}
    assert kept.cases["case_ref"].tolist() == ["A", "C"]
    assert kept.advice["case_ref"].tolist() == ["C"]
    assert validate_caseload(kept.cases, kept.advice, "f.csv") == []


def test_the_error_report_never_goes_beside_the_input(ehcp_sqlite, tmp_path, monkeypatch) -> None:
    """The input may sit in another system's drop folder or a read-only share."""
    import stat

    drop = tmp_path / "drop"
    drop.mkdir()
    bad = write_csv(drop / "bad.csv", [CSV_ROWS[0].replace("2026-05-04", "2026-02-30")])
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert ehcp_sqlite("import", str(bad)).exit_code == 2
    assert (work / "bad.csv.errors.csv").exists()  # default: the current folder
    chosen = tmp_path / "reports" / "import-errors.csv"
    chosen.parent.mkdir()
    result = ehcp_sqlite("import", str(bad), "--errors", str(chosen))
    assert result.exit_code == 2
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
    assert _report(chosen)[0]["field"] == "request_received"
    result = ehcp_sqlite("import", str(bad), "--errors", str(chosen.parent))  # a folder
    assert (chosen.parent / "bad.csv.errors.csv").exists()
    assert list(drop.iterdir()) == [bad]
