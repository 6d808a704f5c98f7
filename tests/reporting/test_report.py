"""The written report: charts (PNG), the committee workbook (XLSX) and the self-contained HTML page."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ehcp_workflow.core.caseload import Caseload, empty_cases
from ehcp_workflow.demo import generate_council
from ehcp_workflow.reporting.charts import CHART_FILES
from ehcp_workflow.reporting.kpis import KPI_INFO
from ehcp_workflow.reporting.report import ReportFiles, build_report
from ehcp_workflow.reporting.workbook import PERCENT_FORMAT, SHEET_NAMES
from tests.reporting.helpers import CATALOGUE

AS_OF = dt.date(2026, 3, 31)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def council() -> Caseload:
    return generate_council(5000, 11, AS_OF)


@pytest.fixture(scope="module")
def report(council: Caseload, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("report")
    return build_report(council, CATALOGUE, date_from="2025-04", date_to="2026-03", as_of=AS_OF, out_dir=out)


def test_build_report_writes_the_workbook_the_page_and_the_charts(report: ReportFiles) -> None:
    assert report.workbook.name == "ehcp-kpis-2025-04-2026-03.xlsx" and report.workbook.exists()
    assert report.html.name == "ehcp-report-2025-04-2026-03.html" and report.html.exists()
    assert set(report.charts) == set(CHART_FILES)
    for path in report.charts.values():
        data = Path(path).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, path
    assert set(report.kpis) == set(KPI_INFO)


def test_workbook_has_a_formatted_sheet_per_kpi(report: ReportFiles) -> None:
    wb = load_workbook(report.workbook)
    assert wb.sheetnames == ["Contents", *(SHEET_NAMES[k] for k in KPI_INFO)]
    contents = wb["Contents"]
    linked = [c.value for c in contents["A"][5:] if c.hyperlink is not None]
    assert linked == [SHEET_NAMES[k] for k in KPI_INFO]

    ws = wb[SHEET_NAMES["plans_issued"]]
    assert ws["A1"].value == KPI_INFO["plans_issued"].title and ws["A1"].font.bold
    assert "Figures as at 31 March 2026" in ws["A2"].value
    header = {c.value: c for c in ws[6]}
    assert all(c.font.bold for c in header.values())
    assert ws.freeze_panes == "C7"  # header row and the month / team columns stay in view
    assert ws.auto_filter.ref.startswith("A6:")
    pct = header["% within 20 weeks (excl. exceptions)"].column_letter
    assert ws[f"{pct}7"].number_format == PERCENT_FORMAT
    assert 0.0 <= ws[f"{pct}7"].value <= 1.0  # a fraction: Excel shows it as a percentage
    assert ws[f"{header['Plans issued'].column_letter}7"].number_format == "#,##0"
    assert ws.column_dimensions["A"].width >= 11
    assert ws["A7"].value == "Apr 2025" and ws["B7"].value == "All teams"
    totals = [r for r in ws.iter_rows(min_row=7, max_col=2, values_only=True) if r[0] == "Period total"]
    assert totals

    for key in KPI_INFO:
        sheet = wb[SHEET_NAMES[key]]
        assert sheet["A1"].value == KPI_INFO[key].title
        assert sheet.freeze_panes is not None and sheet.max_row > 6, key
        for cell in sheet[6]:
            if cell.value is not None and str(cell.value).startswith("%"):
                assert sheet.cell(row=7, column=cell.column).number_format == PERCENT_FORMAT, (
                    key,
                    cell.value,
                )
    assert wb[SHEET_NAMES["phase_transfers"]]["A7"].number_format == "0"  # a year, not "2,025"


def test_html_is_self_contained_with_the_charts_embedded(report: ReportFiles, council: Caseload) -> None:
    page = report.html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(CHART_FILES)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    for title in ("New EHC plans issued, and % within 20 weeks", "Phase transfer reviews by cohort and type"):
        assert title in page
    assert "England 2024: 46.4%" in page


def test_html_and_workbook_carry_no_case_references(report: ReportFiles, council: Caseload) -> None:
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", report.html.read_text(encoding="utf-8"))
    cells = " ".join(
        str(v)
        for ws in load_workbook(report.workbook).worksheets
        for r in ws.iter_rows(values_only=True)
        for v in r
    )
    refs = set(council.cases["case_ref"].dropna()) | set(council.cases["person_ref"].dropna())
    refs |= set(council.cases["caseworker"].dropna())
    assert refs
    for text in (page, cells):
        words = set(re.findall(r"[A-Za-z0-9_-]+", text))
        assert not words & refs


def test_build_report_on_an_empty_caseload(tmp_path: Path) -> None:
    """No requests, plans or advice: every file is still written, with nothing divided by zero."""

    out = build_report(
        Caseload(cases=empty_cases()),
        CATALOGUE,
        date_from="2025-04",
        date_to="2025-06",
        as_of=AS_OF,
        out_dir=tmp_path,
    )
    assert out.workbook.exists() and out.html.exists()
    assert all(Path(p).read_bytes().startswith(PNG) for p in out.charts.values())
    assert "–" in out.html.read_text(encoding="utf-8")  # percentages of nothing are shown as a dash


def test_html_shows_a_cohort_year_as_a_year() -> None:
    """Issue: the phase-transfer table showed the 2026 cohort as "2,026"."""
    from ehcp_workflow.reporting.html import _format

    assert _format("cohort", 2026) == "2026"
    assert _format("due", 2026) == "2,026"  # a count keeps its separator
