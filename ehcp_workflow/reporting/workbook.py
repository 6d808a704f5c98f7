"""The KPI workbook (XLSX, openpyxl), laid out for a committee paper.

A *Contents* sheet lists every KPI with its definition, law and source and links to its sheet. Each
KPI table then has its own sheet: a title row, the period and report date, the definition and its
source, a bold header row (frozen, with filters), percentages in Excel's percentage format, counts
with thousands separators, total rows in bold, column widths set and a landscape, fit-to-width
print set-up. Tables hold counts and percentages only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ehcp_workflow.files import private_file
from ehcp_workflow.output import neutralise
from ehcp_workflow.reporting.kpis import KPI_INFO
from ehcp_workflow.reporting.labels import column_labels, display_frame, is_percent

__all__ = ["PERCENT_FORMAT", "SHEET_NAMES", "write_workbook"]

#: Sheet name of each KPI table (Excel allows 31 characters).
SHEET_NAMES: Final[Mapping[str, str]] = {
    "requests_received": "Requests",
    "decisions_to_assess": "Decisions to assess",
    "plans_issued": "Plans within 20 weeks",
    "decisions_not_to_issue": "Not to issue 16 weeks",
    "assessments_completed": "Assessments completed",
    "outstanding_assessments": "Outstanding assessments",
    "backlog_bands": "Backlog bands",
    "backlog_trend": "Backlog week by week",
    "advice_timeliness": "Advice within 6 weeks",
    "annual_reviews_in_time": "Reviews within 12 months",
    "review_decisions": "Review decisions 4 weeks",
    "amended_plans": "Amended plans 8 weeks",
    "overdue_reviews": "Overdue reviews",
    "phase_transfers": "Phase transfer",
}
PERCENT_FORMAT: Final = "0.0%"
COUNT_FORMAT: Final = "#,##0"
DATE_FORMAT: Final = "d mmm yyyy"

_KEYS: Final = ("month", "team", "provider", "cohort", "transfer_type", "week_ending")
_TOTALS: Final = ("Period total", "All teams", "All providers", "All types")
_HEADER_FILL: Final = PatternFill("solid", start_color="1F4E79", end_color="1F4E79")
_TOTAL_FILL: Final = PatternFill("solid", start_color="EAF1F8", end_color="EAF1F8")
_THIN: Final = Side(style="thin", color="BFBFBF")
_FIRST_ROW: Final = 6  # header row of every KPI sheet


def _cell_value(value: Any, *, percent: bool) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return None
    if isinstance(value, np.bool_ | bool):
        return "Yes" if bool(value) else "No"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).date()
    if percent and isinstance(value, float | int):
        return float(value) / 100.0
    return neutralise(value)  # a team or provider named like a formula stays text


def _number_format(frame: pd.DataFrame, column: str) -> str | None:
    s = frame[column]
    if column in _KEYS and pd.api.types.is_integer_dtype(s):
        return "0"  # a year, not a count
    if is_percent(column):
        return PERCENT_FORMAT
    if pd.api.types.is_datetime64_any_dtype(s):
        return DATE_FORMAT
    if pd.api.types.is_integer_dtype(s):
        return COUNT_FORMAT
    if pd.api.types.is_float_dtype(s):
        return "0.0" if column == "mean_weeks" else "#,##0"
    return None


def _write_sheet(ws: Any, key: str, frame: pd.DataFrame, *, period: str, as_of: dt.date) -> None:
    info = KPI_INFO[key]
    columns = list(frame.columns)
    shown = display_frame(frame)
    labels = column_labels(columns, key)
    n_cols = len(columns)
    last = get_column_letter(max(n_cols, 6))
    ws["A1"] = info.title
    ws["A1"].font = Font(bold=True, size=14, color="1F4E79")
    ws["A2"] = f"{period}. Figures as at {as_of.strftime('%d %B %Y').lstrip('0')}."
    ws["A2"].font = Font(italic=True, color="595959")
    ws["A3"] = f"Definition: {info.definition}"
    ws["A4"] = f"Law and source: {info.source}"
    for row in (3, 4):
        ws.merge_cells(f"A{row}:{last}{row}")
        ws[f"A{row}"].alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[row].height = 32
    header = _FIRST_ROW
    for j, label in enumerate(labels, start=1):
        c = ws.cell(row=header, column=j, value=label)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = _HEADER_FILL
        c.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
        c.border = Border(bottom=_THIN)
    ws.row_dimensions[header].height = 48
    formats = {c: _number_format(frame, c) for c in columns}
    keys = [c for c in columns if c in _KEYS]
    for i, row in enumerate(shown.itertuples(index=False), start=header + 1):
        total = any(getattr(row, k) in _TOTALS for k in keys if isinstance(getattr(row, k), str))
        for j, col in enumerate(columns, start=1):
            c = ws.cell(row=i, column=j, value=_cell_value(row[j - 1], percent=is_percent(col)))
            fmt = formats[col]
            if fmt is not None:
                c.number_format = fmt
            if total:
                c.font = Font(bold=True)
                c.fill = _TOTAL_FILL
    for j, col in enumerate(columns, start=1):
        texts = [str(v) for v in shown[col].head(500) if v is not None]
        longest = max((len(t) for t in texts), default=4)
        width = max(longest + 2, 11) if col in _KEYS or frame[col].dtype == object else 13
        ws.column_dimensions[get_column_letter(j)].width = min(width, 40)
    ws.freeze_panes = ws.cell(row=header + 1, column=len(keys) + 1).coordinate
    if len(frame):
        ws.auto_filter.ref = f"A{header}:{get_column_letter(n_cols)}{header + len(frame)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header}:{header}"


def _write_contents(ws: Any, keys: list[str], *, title: str, period: str, as_of: dt.date) -> None:
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=16, color="1F4E79")
    ws["A2"] = f"{period}. Figures as at {as_of.strftime('%d %B %Y').lstrip('0')}."
    ws["A2"].font = Font(italic=True, color="595959")
    ws["A3"] = (
        "Counts and percentages only, from the statutory clock engine (the same dates and statuses as "
        "the alerts). Percentages exclude nothing unless marked 'excl. exceptions' (DfE's measure: "
        "plans with an exception leave numerator and denominator)."
    )
    ws.merge_cells("A3:E3")
    ws["A3"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[3].height = 45
    header = 5
    for j, label in enumerate(("Sheet", "Area", "KPI", "Definition", "Law and source"), start=1):
        c = ws.cell(row=header, column=j, value=label)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = _HEADER_FILL
        c.alignment = Alignment(vertical="center")
    for i, key in enumerate(keys, start=header + 1):
        info = KPI_INFO[key]
        sheet = SHEET_NAMES[key]
        link = ws.cell(row=i, column=1, value=sheet)
        link.hyperlink = f"#'{sheet}'!A1"
        link.font = Font(color="0563C1", underline="single")
        for j, text in enumerate((info.family, info.title, info.definition, info.source), start=2):
            ws.cell(row=i, column=j, value=text).alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDE", (26, 16, 40, 60, 60), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = f"A{header + 1}"
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0


def write_workbook(
    kpis: Mapping[str, pd.DataFrame],
    path: Path,
    *,
    title: str,
    period: str,
    as_of: dt.date,
) -> Path:
    """Write the KPI tables of :func:`~ehcp_workflow.reporting.kpis.compute_kpis` to ``path`` (XLSX)."""
    wb = Workbook()
    contents = wb.active
    contents.title = "Contents"
    keys = [k for k in KPI_INFO if k in kpis]
    _write_contents(contents, keys, title=title, period=period, as_of=as_of)
    for key in keys:
        _write_sheet(wb.create_sheet(SHEET_NAMES[key]), key, kpis[key], period=period, as_of=as_of)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with private_file(path, "wb") as fh:  # 0600 from the start: teams and providers are named
        wb.save(fh)
    return path
