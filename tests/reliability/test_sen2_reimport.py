"""Re-importing SEN2 returns: one transaction, nothing overwritten by an older file, no UPN in refs.

Issue findings: a SEN2 import was two transactions (cases, then people), a changed surname left no
record, an older return imported after a newer one reverted recorded decisions, and case refs were
built from the child's UPN, so UPNs travelled into alerts and artifacts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ehcp_workflow.db import make_engine
from ehcp_workflow.exporters.sen2_people import import_sen2, read_sen2_people
from tests.cli.conftest import FIXTURES, Run, source_refs

FIXTURE = FIXTURES / "sen2_2025.xml"
#: Person 1 of the fixture: a plan issued with a 20-week exception, decision to assess 2024-02-16.
UPN = "C201250000301"
UPNS = ("C201250000301", "R201250000302", "F201250000303")


def _copy(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = FIXTURE.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _counts(url: str) -> tuple[object, ...]:
    return _rows(
        url,
        "SELECT (SELECT count(*) FROM ehcp_case), (SELECT count(*) FROM person), "
        "(SELECT count(*) FROM import_batch), (SELECT count(*) FROM event_log)",
    )[0]


def test_cases_and_people_are_one_transaction(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing people (a killed process, a lost connection) leaves no case behind."""
    import ehcp_workflow.db.importing as importing

    def broken(*args: object, **kwargs: object) -> object:
        raise ConnectionError("lost the database while writing people")

    monkeypatch.setattr(importing, "write_people", broken)
    engine = make_engine(url)
    try:
        with Session(engine) as session, pytest.raises(ConnectionError):
            import_sen2(session, FIXTURE, actor="test")
    finally:
        engine.dispose()
    assert _counts(url) == (0, 0, 0, 0)


def test_a_changed_surname_is_recorded_without_its_value(ehcp: Run, url: str, tmp_path: Path) -> None:
    assert ehcp("import", str(FIXTURE)).exit_code == 0
    renamed = _copy(
        tmp_path, "renamed.xml", ("<Surname>Twentyfiveone</Surname>", "<Surname>Newname</Surname>")
    )
    result = ehcp("import", str(renamed))
    assert result.exit_code == 0, result.output
    assert "No changes" not in result.output
    assert "personal details changed for 1" in result.output
    logged = _rows(
        url, "SELECT field, old_value, new_value, source FROM event_log WHERE field LIKE 'person.%'"
    )
    assert logged and {row[0] for row in logged} == {"person.surname"}
    assert all(row[1:3] == ("withheld", "withheld") and row[3] == "renamed.xml" for row in logged)
    everything = " ".join(str(v) for row in _rows(url, "SELECT * FROM event_log") for v in row)
    assert "Newname" not in everything and "Twentyfiveone" not in everything
    assert _rows(url, "SELECT surname FROM person WHERE person_ref = 'C201250000301'") == [("Newname",)]
    assert _rows(url, "SELECT count(*) FROM import_batch")[0][0] == 2
    again = ehcp("import", str(renamed))
    assert "No changes" in again.output  # the change is recorded once


def test_a_missing_item_never_clears_a_stored_personal_field(ehcp: Run, url: str, tmp_path: Path) -> None:
    assert ehcp("import", str(FIXTURE)).exit_code == 0
    no_postcode = _copy(tmp_path, "no-postcode.xml", ("<PostCode>ZZ2 5AA</PostCode>", ""))
    result = ehcp("import", str(no_postcode))
    assert result.exit_code == 0, result.output
    assert "No changes" in result.output
    assert _rows(url, "SELECT postcode FROM person WHERE person_ref = 'C201250000301'") == [("ZZ2 5AA",)]


def _older(tmp_path: Path) -> Path:
    """The fixture as extracted a year earlier, when person 1's decision to assess had another date."""
    return _copy(
        tmp_path,
        "older.xml",
        ("<ReferenceDate>2025-01-16</ReferenceDate>", "<ReferenceDate>2024-01-18</ReferenceDate>"),
        (
            "<RequestOutcomeDate>2024-02-16</RequestOutcomeDate>",
            "<RequestOutcomeDate>2024-02-23</RequestOutcomeDate>",
        ),
    )


def _outcome_date(url: str) -> object:
    rows = _rows(
        url,
        "SELECT c.request_outcome_date FROM ehcp_case c JOIN person p ON p.id = c.person_id "
        "WHERE p.person_ref = 'C201250000301'",
    )
    return str(rows[0][0])[:10]


def test_an_older_return_never_overwrites_a_newer_one(ehcp: Run, url: str, tmp_path: Path) -> None:
    assert ehcp("import", str(FIXTURE)).exit_code == 0
    before = _counts(url)
    result = ehcp("import", str(_older(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "left as stored" in result.output and "2024-01-18" in result.output and "--force" in result.output
    assert _outcome_date(url) == "2024-02-16"
    assert _counts(url) == before  # nothing written, not even an import batch

    forced = ehcp("import", str(_older(tmp_path)), "--force")
    assert forced.exit_code == 0, forced.output
    assert _outcome_date(url) == "2024-02-23"


def test_a_caseworkers_later_change_is_newer_than_the_return(ehcp: Run, url: str, tmp_path: Path) -> None:
    assert ehcp("import", str(FIXTURE)).exit_code == 0
    ref = f"{UPN}/1"  # the CLI accepts the UPN form and finds the pseudonymous case
    recorded = ehcp(
        "case", "record", ref, "decision-to-assess", "2024-02-19", "--value", "Y", "--as-of", "2025-01-20"
    )
    assert recorded.exit_code == 0, recorded.output
    assert _outcome_date(url) == "2024-02-19"
    again = ehcp("import", str(FIXTURE))  # the same return, extracted before the caseworker's change
    assert again.exit_code == 0, again.output
    assert "left as stored" in again.output
    assert _outcome_date(url) == "2024-02-19"


def test_sen2_cases_are_named_by_a_stable_pseudonym(ehcp: Run, url: str) -> None:
    assert ehcp("import", str(FIXTURE)).exit_code == 0
    refs = [str(r[0]) for r in _rows(url, "SELECT case_ref FROM ehcp_case")]
    assert refs and all(re.fullmatch(r"S2-[A-Z2-7]{12}/\d+", r) for r in refs), refs
    assert not any(upn in ref for ref in refs for upn in UPNS)
    assert {f"{u}/1" for u in UPNS} <= set(source_refs(url))  # the store keeps the mapping back
    assert "No changes" in ehcp("import", str(FIXTURE)).output  # the same child, the same case
    assert sorted(str(r[0]) for r in _rows(url, "SELECT case_ref FROM ehcp_case")) == sorted(refs)

    shown = ehcp("case", "show", f"{UPN}/1", "--as-of", "2025-01-16")
    assert shown.exit_code == 0, shown.output
    assert UPN not in shown.output and "S2-" in shown.output


def test_no_upn_reaches_the_outbox_from_a_sen2_store(ehcp: Run, url: str) -> None:
    assert ehcp("import", str(FIXTURE)).exit_code == 0
    night = ehcp("nightly", "--as-of", "2025-01-16", "--baseline")
    assert night.exit_code == 0, night.output
    rows = _rows(url, "SELECT case_ref, alert_key, subject, body FROM alert")
    assert rows, "the fixture has breaches: an opening position at least"
    text = " ".join(str(v) for row in rows for v in row) + night.output
    assert not any(upn in text for upn in UPNS)


def test_an_implausible_birth_date_is_not_stored(tmp_path: Path) -> None:
    bad = _copy(
        tmp_path,
        "bad-birth.xml",
        ("<PersonBirthDate>2013-08-08</PersonBirthDate>", "<PersonBirthDate>0001-01-01</PersonBirthDate>"),
    )
    people = read_sen2_people(bad).set_index("person_ref")
    assert people.loc[UPN, "birth_date"] != people.loc[UPN, "birth_date"]  # NaT
    assert people["birth_date"].notna().sum() == len(people) - 1
