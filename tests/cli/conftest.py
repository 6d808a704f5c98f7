"""Helpers for the store commands: run ``ehcp`` in-process against one database, and small files.

Every test that uses ``url`` or ``store`` runs once on SQLite and once on PostgreSQL (the root
conftest's ``db_url``/``migrated_url`` fixtures; PostgreSQL is skipped where unreachable unless
``CI`` is set).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sen2"

#: A small caseload in the project's CSV format, written with case refs in store order (sorted),
#: so ``ehcp clocks`` on the file and ``ehcp export clocks`` from the store list rows alike.
#: At 2026-06-01: C-01 open 4 weeks (within_20), C-02 26 (over_20), C-03 35 (over_30), C-04 73
#: (over_52), C-05 117 (over_100, the oldest); C-06 plan issued, C-07 a plan with a review meeting,
#: C-08 refused (all three closed).
_BASE = (
    "case_ref,person_ref,team,caseworker,request_received,request_outcome,request_outcome_date,"
    "assessment_outcome,assessment_outcome_date,plan_start,review_meeting"
)
#: Recorded by the council's system but empty in every row: their clocks can be judged.
_EMPTY = (
    "review_report_sent,review_outcome,review_decision_letter,amendment_notice,amended_plan_issued,"
    "exception_final_plan,advice_paediatrics_requested,advice_paediatrics_received"
)
CSV_HEADER = f"{_BASE},{_EMPTY}"
CSV_ROWS = (
    "C-01,P-01,north,alice,2026-05-04,,,,,,",
    "C-02,P-02,north,alice,2025-12-01,Y,2026-01-09,,,,",
    "C-03,P-03,north,bob,2025-09-29,Y,2025-11-07,,,,",
    "C-04,P-04,south,bob,2025-01-06,Y,2025-02-14,,,,",
    "C-05,P-05,south,carol,2024-03-04,Y,2024-04-12,,,,",
    "C-06,P-06,south,carol,2025-06-02,Y,2025-07-04,Y,2025-10-10,2025-10-10,",
    "C-07,P-07,north,alice,2024-01-08,Y,2024-02-09,Y,2024-05-17,2024-05-17,2026-05-11",
    "C-08,P-08,south,dave,2026-02-02,N,2026-03-06,,,,",
)
AS_OF = "2026-06-01"


def write_csv(path: Path, rows: Sequence[str] = CSV_ROWS) -> Path:
    """``rows`` give the base columns; the others are written empty."""
    blank = "," * _EMPTY.count(",")
    path.write_text("\n".join([CSV_HEADER, *(f"{r},{blank}" for r in rows)]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


Run = Callable[..., Any]


@pytest.fixture
def url(migrated_url: str) -> str:
    """A migrated, empty store (SQLite and PostgreSQL)."""
    return migrated_url


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite store only, for tests about files rather than databases."""
    path = tmp_path / "ehcp.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def ehcp_sqlite(runner: CliRunner, sqlite_url: str) -> Run:
    from ehcp_workflow.cli import app

    def run(*args: str) -> Any:
        return runner.invoke(app, [*args, "--database-url", sqlite_url])

    return run


@pytest.fixture
def ehcp(runner: CliRunner, url: str) -> Run:
    """``ehcp(*args)`` runs the command against the test store and returns the click result."""
    from ehcp_workflow.cli import app

    def run(*args: str, database: str | None = None) -> Any:
        return runner.invoke(app, [*args, "--database-url", database or url])

    return run


@pytest.fixture
def caseload_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "caseload.csv")


@pytest.fixture
def sen2_file(tmp_path: Path) -> Path:
    """The SEN2 2026 specification example, copied so its error report would land in tmp_path."""
    path = tmp_path / "return-2026.xml"
    shutil.copyfile(FIXTURES / "spec_example_2026.xml", path)
    return path


@pytest.fixture
def loaded(ehcp: Run, caseload_csv: Path) -> Run:
    """The CSV caseload imported; yields the runner."""
    result = ehcp("import", str(caseload_csv), "--actor", "importer")
    assert result.exit_code == 0, result.output
    return ehcp


def said(result: Any) -> str:
    """Everything the command printed, on one line (rich wraps long messages inside a box)."""
    return " ".join(str(result.output).replace("│", " ").split())


def events_of(url: str, case_ref: str) -> list[Any]:
    from sqlalchemy.orm import Session

    from ehcp_workflow.db import case_events, make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return case_events(session, case_ref)
    finally:
        engine.dispose()


def stored_refs(url: str) -> list[str]:
    from ehcp_workflow.db import load_caseload, make_engine

    engine = make_engine(url)
    try:
        return [str(r) for r in load_caseload(engine).cases["case_ref"]]
    finally:
        engine.dispose()


def source_refs(url: str) -> list[str]:
    """The stored case refs as the source named them: a SEN2 case's pseudonym back to its UPN/ULN."""
    import sqlalchemy as sa

    from ehcp_workflow.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.case_ref, p.person_ref, p.pseudonym FROM ehcp_case c "
                    "LEFT JOIN person p ON p.id = c.person_id"
                )
            ).all()
    finally:
        engine.dispose()
    return [
        person + ref[len(name) :] if name and ref.startswith(name + "/") else ref
        for ref, person, name in rows
    ]


def stored_ref(url: str, ref: str) -> str:
    """The store's ref of the case a source calls ``ref`` (a SEN2 ``<UPN>/<n>`` -> its pseudonym)."""
    from ehcp_workflow.db import make_engine
    from ehcp_workflow.db.pseudonyms import resolve_case_ref

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return resolve_case_ref(conn, ref)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _cwd_is_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ehcp import`` writes its error report to the current folder by default: keep it in the
    test's folder, never the repository."""
    monkeypatch.chdir(tmp_path)
