"""Bad dates: the nightly never fails the whole council because of one case (issue 9, finding 4).

A date pandas cannot hold (before 1677-09-22; 0001-01-01 is a common "no date" placeholder) once
failed the night with ``OutOfBoundsDatetime``: no alert for any case. An empty store, or one where
no clock applies, failed with ``UFuncNoLoopError``. Here such a date is written straight into the
database with SQL (as an old import or a hand edit would leave it): that case's clocks are reported
``invalid`` and alerted, and every other case's alerts still go out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from ehcp_workflow.db import make_engine
from ehcp_workflow.db.models import Alert, table_of
from tests.cli.conftest import Run, said, write_csv

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
