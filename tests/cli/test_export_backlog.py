"""``ehcp export clocks`` (the columns and rows of ``ehcp clocks``) and ``ehcp backlog`` counts."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from typer.testing import CliRunner

from ehcp_workflow.cli import app, exports
from ehcp_workflow.core.statuses import RESULT_COLUMNS
from tests.cli.conftest import AS_OF, said


def test_export_is_what_ehcp_clocks_says_about_the_file(loaded, caseload_csv, tmp_path, monkeypatch) -> None:
    exported = loaded("export", "clocks", "--as-of", AS_OF)
    assert exported.exit_code == 0, exported.output
    stateless = CliRunner().invoke(app, ["clocks", str(caseload_csv), "--as-of", AS_OF, "--format", "csv"])
    assert stateless.exit_code == 0
    header = exported.stdout.splitlines()[0]
    assert header == ",".join(RESULT_COLUMNS) == stateless.stdout.splitlines()[0]
    assert sorted(exported.stdout.splitlines()) == sorted(stateless.stdout.splitlines())
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    # 11 request-level clocks per case, one s.44 period per case (C-07's review has no decision
    # letter yet, so it starts no second period) and the 4 review-step clocks of C-07's one cycle;
    # no advice recorded
    assert len(rows) == 8 * 11 + 8 + 4
    assert {r["instance"] for r in rows if r["clock"] == "review_decision"} == {"review 1"}

    # filters, a file, XLSX
    out = tmp_path / "clocks.csv"
    result = loaded("export", "clocks", "--as-of", AS_OF, "-s", "overdue", "-c", "final_plan", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted(r["case_ref"] for r in rows) == ["C-02", "C-03", "C-04", "C-05"]
    assert {(r["clock"], r["status"]) for r in rows} == {("final_plan", "overdue")}

    book = tmp_path / "clocks.xlsx"
    result = loaded("export", "clocks", "--as-of", AS_OF, "--output", str(book))  # format from the suffix
    assert result.exit_code == 0, result.output
    sheet = load_workbook(book, read_only=True)["clocks"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == RESULT_COLUMNS
    assert len(values) == 1 + 8 * 11 + 8 + 4

    # a CSV export is written a chunk of cases at a time: the same rows
    monkeypatch.setattr(exports, "CSV_CHUNK", 3)
    chunked = loaded("export", "clocks", "--as-of", AS_OF)
    assert chunked.exit_code == 0, chunked.output
    assert chunked.stdout.splitlines()[0] == header
    assert sorted(chunked.stdout.splitlines()) == sorted(exported.stdout.splitlines())
    # a workbook that would not fit in a sheet is refused before anything is written
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 99)
    result = loaded("export", "clocks", "--as-of", AS_OF, "--output", str(tmp_path / "big.xlsx"))
    assert result.exit_code == 2 and "100 clock rows, and an XLSX sheet holds 99" in said(result)
    assert not (tmp_path / "big.xlsx").exists()

    result = loaded("export", "clocks", "--as-of", AS_OF, "--format", "xlsx")
    assert result.exit_code == 2 and "needs --output" in result.output
    result = loaded("export", "clocks", "--as-of", "June")
    assert result.exit_code == 2 and "is not a date" in result.output


def test_backlog_by_band_team_and_caseworker(loaded) -> None:
    result = loaded("backlog", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Backlog at 2026-06-01: 5 open request(s)" in text

    def row(label: str) -> list[str]:
        line = next(line for line in text.splitlines() if line.strip("│ ").startswith(label + " "))
        return [cell.strip() for cell in line.strip().strip("│").split("│")]

    assert row("all") == ["all", "1", "1", "1", "1", "1", "5"]
    assert row("north") == ["north", "1", "1", "1", "0", "0", "3"]
    assert row("south") == ["south", "0", "0", "0", "1", "1", "2"]
    assert row("alice") == ["alice", "1", "1", "0", "0", "0", "2"]
    assert row("bob") == ["bob", "0", "0", "1", "1", "0", "2"]
    assert row("carol") == ["carol", "0", "0", "0", "0", "1", "1"]
    assert "Oldest open request: C-05, received 2024-03-04, waiting 117 weeks (over_100" in text

    earlier = loaded("backlog", "--as-of", "2025-01-01", "--limit", "1")
    assert "Backlog at 2025-01-01: 1 open request(s)" in earlier.output
    assert "waiting 43 weeks" in earlier.output
