"""Bad dates: the nightly never fails the whole council because of one case (issue 9, finding 4).

A date pandas cannot hold (before 1677-09-22; 0001-01-01 is a common "no date" placeholder) once
failed the night with ``OutOfBoundsDatetime``: no alert for any case. An empty store, or one where
no clock applies, failed with ``UFuncNoLoopError``. Here such a date is written straight into the
database with SQL (as an old import or a hand edit would leave it): that case's clocks are reported
``invalid`` and alerted, and every other case's alerts still go out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from ehcp_workflow.db import make_engine
from ehcp_workflow.db.models import Alert, table_of
from tests.cli.conftest import Run, said, write_csv
from tests.reliability.test_hostile_inputs import SEN2_EXAMPLE, dump

ALERT = table_of(Alert)
#: The opening night, then a night a week later (C-01's request is open and running).
OPENING = "2026-05-25"
NIGHT = "2026-06-01"


def _alerts(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(ALERT))]
    finally:
        engine.dispose()


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_nightly_on_an_empty_store(ehcp: Run) -> None:
    result = ehcp("nightly", "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "| Cases checked | 0 |" in said(result)


def test_nightly_where_no_clock_applies(ehcp: Run, tmp_path: Any) -> None:
    """A case with no dates at all: nothing to evaluate, and the night still runs."""
    path = tmp_path / "undated.csv"
    path.write_text("case_ref,team,caseworker\nC-01,north,alice\n", encoding="utf-8")
    imported = ehcp("import", str(path), "--actor", "importer")
    assert imported.exit_code == 0, imported.output
    result = ehcp("nightly", "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "| Cases checked | 1 |" in said(result)


def _night_with(ehcp: Run, url: str, tmp_path: Any, statement: str) -> tuple[Any, list[dict[str, Any]]]:
    """Seed the fixture caseload, open the store, break one date with SQL, run the next night."""
    seeded = ehcp("import", str(write_csv(tmp_path / "seed.csv")), "--actor", "importer")
    assert seeded.exit_code == 0, seeded.output
    opening = ehcp("nightly", "--as-of", OPENING)
    assert opening.exit_code == 0, opening.output
    before = {a["alert_key"] for a in _alerts(url)}
    _sql(url, statement)
    result = ehcp("nightly", "--as-of", NIGHT)
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result, [a for a in _alerts(url) if a["alert_key"] not in before]


def test_one_unreadable_date_does_not_stop_the_night(ehcp: Run, url: str, tmp_path: Any) -> None:
    result, new = _night_with(
        ehcp, url, tmp_path, "UPDATE ehcp_case SET request_received = '0001-01-01' WHERE case_ref = 'C-03'"
    )
    invalid = [a for a in new if a["kind"] == "invalid"]
    assert {a["case_ref"] for a in invalid} == {"C-03"}, invalid
    assert "request_received" in " ".join(str(a["body"]) for a in invalid)
    others = [a for a in new if a["case_ref"] != "C-03"]
    assert others, "the other cases' alerts were not queued"
    assert not [a for a in new if a["case_ref"] == "C-03" and a["kind"] != "invalid"]
    assert "C-03" in said(result)


def test_an_unreadable_date_in_a_case_with_no_clock_is_still_reported(
    ehcp: Run, url: str, tmp_path: Any
) -> None:
    """C-01's only date is its request: unreadable, no clock would apply, yet it is alerted."""
    _result, new = _night_with(
        ehcp, url, tmp_path, "UPDATE ehcp_case SET request_received = '0001-01-01' WHERE case_ref = 'C-01'"
    )
    invalid = [(a["case_ref"], a["clock"]) for a in new if a["kind"] == "invalid"]
    assert {ref for ref, _clock in invalid} == {"C-01"}, invalid
    assert [a for a in new if a["case_ref"] != "C-01"]


def test_an_unreadable_birth_date_is_reported_without_the_date(ehcp: Run, url: str, tmp_path: Any) -> None:
    _result, new = _night_with(
        ehcp,
        url,
        tmp_path,
        "UPDATE person SET birth_date = '0001-01-01' WHERE person_ref = 'P-02'",
    )
    invalid = [a for a in new if a["kind"] == "invalid"]
    assert {a["case_ref"] for a in invalid} == {"C-02"}
    bodies = " ".join(str(a["body"]) for a in invalid)
    assert "birth_date" in bodies and "0001" not in bodies


# --- importers refuse implausible dates, naming the file, row and field ---------------------------


def _seed(run: Run, folder: Path) -> None:
    result = run("import", str(write_csv(folder / "seed.csv")), "--actor", "importer")
    assert result.exit_code == 0, result.output


def _refused(run: Run, url: str, folder: Path, path: Path, *says: str) -> str:
    """Import ``path`` into the seeded store: exit 2, the message names ``says``, store unchanged."""
    _seed(run, folder)
    before = dump(url)
    result = run("import", str(path), "--actor", "importer")
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = said(result)
    for fragment in (path.name, *says):
        assert fragment in text, f"{fragment!r} missing from: {text}"
    assert dump(url) == before
    return text


@pytest.mark.parametrize("day", ["0001-01-01", "0205-03-01", "1900-01-01", "2099-01-01"])
def test_csv_refuses_an_implausible_date(day: str, ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "placeholder.csv", [f"C-99,P-99,north,alice,{day},,,,,,"])
    _refused(ehcp_sqlite, sqlite_url, tmp_path, path, "row 2", "request_received", day, "plausible")


def test_xlsx_refuses_an_implausible_date(ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "placeholder.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["case_ref", "team", "request_received"])
    wb.active.append(["C-99", "north", dt.datetime(1900, 1, 1)])
    wb.save(path)
    _refused(ehcp_sqlite, sqlite_url, tmp_path, path, "row 2", "request_received", "1900-01-01")


def test_sen2_refuses_an_implausible_date(ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "sen2.xml"
    text = SEN2_EXAMPLE.read_text(encoding="utf-8")
    assert "<ReceivedDate>2025-03-03</ReceivedDate>" in text
    path.write_text(
        text.replace("<ReceivedDate>2025-03-03</ReceivedDate>", "<ReceivedDate>0205-03-03</ReceivedDate>")
    )
    _refused(ehcp_sqlite, sqlite_url, tmp_path, path, "Person 1", "ReceivedDate", "0205-03-03", "line")


def test_event_file_refuses_an_implausible_date(ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "case_ref,event,date,value\nC-99,request-received,2026-01-05,\nC-99,decision-to-assess,0001-01-01,Y\n",
        encoding="utf-8",
    )
    _refused(ehcp_sqlite, sqlite_url, tmp_path, path, "line 3", "date", "0001-01-01", "decision-to-assess")


def test_the_window_is_a_setting(
    ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EHCP_EARLIEST_DATE moves the window: C-05's 2024 request is then refused."""
    _seed(ehcp_sqlite, tmp_path)
    path = write_csv(tmp_path / "old.csv", ["C-99,P-99,north,alice,2024-03-04,,,,,,"])
    monkeypatch.setenv("EHCP_EARLIEST_DATE", "2024-06-01")
    before = dump(sqlite_url)
    result = ehcp_sqlite("import", str(path), "--actor", "importer")
    assert result.exit_code == 2, result.output
    assert "row 2" in said(result) and "2024-06-01" in said(result)
    assert dump(sqlite_url) == before
    monkeypatch.setenv("EHCP_EARLIEST_DATE", "2024-01-01")
    assert ehcp_sqlite("import", str(path), "--actor", "importer").exit_code == 0


def test_record_refuses_an_implausible_date(ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    _seed(ehcp_sqlite, tmp_path)
    before = dump(sqlite_url)
    result = ehcp_sqlite("case", "record", "C-01", "decision-to-assess", "0001-01-01", "--value", "Y")
    assert result.exit_code == 2, result.output
    text = said(result)
    for fragment in ("Refused", "decision-to-assess", "0001-01-01", "plausible", "C-01"):
        assert fragment in text, f"{fragment!r} missing from: {text}"
    assert dump(sqlite_url) == before


def test_sen2_warns_about_an_impossible_birth_date_without_showing_it(
    ehcp_sqlite: Run, tmp_path: Path
) -> None:
    path = tmp_path / "sen2.xml"
    text = SEN2_EXAMPLE.read_text(encoding="utf-8")
    assert "<PersonBirthDate>2017-03-14</PersonBirthDate>" in text
    path.write_text(
        text.replace(
            "<PersonBirthDate>2017-03-14</PersonBirthDate>", "<PersonBirthDate>0001-01-01</PersonBirthDate>"
        )
    )
    result = ehcp_sqlite("import", str(path), "--actor", "importer")
    assert result.exit_code == 0, result.output
    out = said(result)
    for fragment in (
        "warning",
        "Person 1",
        "B999200024001",
        "PersonBirthDate",
        "not a plausible date of birth",
    ):
        assert fragment in out, f"{fragment!r} missing from: {out}"
    assert "0001-01-01" not in out
