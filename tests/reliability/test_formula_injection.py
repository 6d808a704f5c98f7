"""Formula injection: every text cell any command writes to CSV or XLSX is neutralised (OWASP).

A case ref, team or caseworker such as ``=HYPERLINK(...)`` must come out as ``'=HYPERLINK(...)``
in ``ehcp export clocks`` (CSV and XLSX), ``ehcp case list --format csv``, every sheet of
``ehcp report`` and the import's ``*.errors.csv``; numbers stay numbers. Files are read back with
:mod:`csv` and openpyxl, as a spreadsheet would see them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from ehcp_workflow.output import FORMULA_START, neutralise, write_csv
from tests.cli.conftest import AS_OF, CSV_ROWS, Run
from tests.cli.conftest import write_csv as write_caseload
from tests.reliability.conftest import FORMULAS, HOSTILE_ROWS


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def assert_no_live_formula(cells: Iterable[Any], where: str) -> None:
    """No text cell starts like a formula, except a real number such as ``-3``."""
    live = [c for c in cells if isinstance(c, str) and c.startswith(FORMULA_START) and not _is_number(c)]
    assert not live, f"{where}: cells a spreadsheet would run as formulas: {live[:5]}"


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _quoted() -> set[str]:
    return {"'" + f for f in FORMULAS}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("C-01", "C-01"),
        ("", ""),
        (-3, -3),
        (2.5, 2.5),
        (None, None),
    ],
)
def test_neutralise_prefixes_text_that_starts_like_a_formula(value: Any, expected: Any) -> None:
    assert neutralise(value) == expected


def test_write_csv_escapes_text_and_keeps_negative_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "case_ref": pd.array(["-2+3", "=1", "C-01"], dtype="string"),
            "days": pd.array([-3, 5, None], dtype="Int64"),
            "score": [-1.5, 0.0, 2.0],
            "due": pd.to_datetime(["2026-01-05", None, "2026-02-01"]),
        }
    )
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [r["case_ref"] for r in rows] == ["'-2+3", "'=1", "C-01"]
    assert [r["days"] for r in rows] == ["-3", "5", ""]
    assert [r["score"] for r in rows] == ["-1.5", "0.0", "2.0"]
    assert [r["due"] for r in rows] == ["2026-01-05", "", "2026-02-01"]


def test_export_clocks_csv_neutralises_refs_teams_and_caseworkers(hostile_store: Run, tmp_path: Path) -> None:
    path = tmp_path / "clocks.csv"
    result = hostile_store("export", "clocks", "--as-of", AS_OF, "-o", str(path))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert_no_live_formula(_csv_cells(path.read_text(encoding="utf-8")), "export clocks CSV")
    assert {r["case_ref"] for r in rows} >= _quoted()


def test_export_clocks_csv_on_stdout_is_neutralised(hostile_store: Run) -> None:
    result = hostile_store("export", "clocks", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert_no_live_formula(_csv_cells(result.stdout), "export clocks CSV (stdout)")
    assert {r["case_ref"] for r in csv.DictReader(io.StringIO(result.stdout))} >= _quoted()


def _xlsx_cells(path: Path) -> list[Any]:
    wb = openpyxl.load_workbook(path)  # not data_only: a formula would show as one
    try:
        cells = []
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", f"{path.name} {ws.title}!{cell.coordinate}: {cell.value}"
                    cells.append(cell.value)
        return cells
    finally:
        wb.close()


def test_export_clocks_xlsx_has_no_formula_cells(hostile_store: Run, tmp_path: Path) -> None:
    path = tmp_path / "clocks.xlsx"
    result = hostile_store("export", "clocks", "--as-of", AS_OF, "-o", str(path))
    assert result.exit_code == 0, result.output
    cells = _xlsx_cells(path)
    assert_no_live_formula(cells, "export clocks XLSX")
    assert set(cells) >= _quoted()
    sheet = openpyxl.load_workbook(path, read_only=True)["clocks"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    overdue = [r[header.index("days_overdue")] for r in rows if r[header.index("days_overdue")] is not None]
    assert overdue and all(isinstance(v, int) for v in overdue), "numbers stay numbers"


def test_case_list_csv_neutralises_every_text_column(hostile_store: Run) -> None:
    result = hostile_store("case", "list", "--format", "csv", "--limit", "0", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert_no_live_formula(_csv_cells(result.stdout), "case list CSV")
    hostile = [r for r in rows if r["person_ref"] in {"P-90", "P-91", "P-92", "P-93"}]
    assert {r["case_ref"] for r in hostile} == _quoted()
    assert {r["team"] for r in hostile} == _quoted()
    assert {r["caseworker"] for r in hostile} == _quoted()


def test_every_report_sheet_is_free_of_formulas(hostile_store: Run, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = hostile_store("report", "--from", "2025-09", "--to", "2026-05", "--as-of", AS_OF, "-o", str(out))
    assert result.exit_code == 0, result.output
    (workbook,) = out.glob("*.xlsx")
    cells = _xlsx_cells(workbook)
    assert_no_live_formula(cells, "report workbook")
    assert {c for c in cells if isinstance(c, str)} & _quoted(), "the hostile teams are in the report"


def test_import_error_report_neutralises_its_cells(ehcp_sqlite: Run, tmp_path: Path) -> None:
    bad = [r.replace("2026-01-05", "2026-13-45") for r in HOSTILE_ROWS]
    path = write_caseload(tmp_path / "bad.csv", [*CSV_ROWS, *bad])
    result = ehcp_sqlite("import", str(path))
    assert result.exit_code == 2, result.output
    report = path.with_name("bad.csv.errors.csv").read_text(encoding="utf-8-sig")
    assert_no_live_formula(_csv_cells(report), "errors.csv")
    assert "'" + FORMULAS[0] in _csv_cells(report)
