"""Writing evaluated clocks for people and files: CSV, JSON, XLSX and terminal tables.

One place decides how a result row looks outside the program (ISO dates, empty for missing), so
``ehcp clocks``, ``ehcp export clocks`` and the flows' exports agree column for column.

It is also the program's output edge, where text that came from input files is made harmless:

* :func:`neutralise` - every text cell written to CSV or XLSX, by any command, goes through it. A
  case ref, team or caseworker such as ``=HYPERLINK(...)`` or ``+cmd|...`` would otherwise run as
  a formula when a manager opens the file (OWASP "CSV injection"): the cell is prefixed with a
  quote, so it stays readable and is never evaluated. Numbers and dates are not text and are left
  alone, so ``-3`` stays a number.
* :func:`printable` - every value from a file or the store printed on the terminal goes through
  it, so control characters and ANSI escapes are shown as ``\\x1b``, never obeyed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from ehcp_workflow.core.statuses import STATUS_STYLE
from ehcp_workflow.files import private_file

#: A cell starting with one of these is (or turns into) a formula in Excel, LibreOffice or Sheets.
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` safe for a spreadsheet cell: text starting like a formula gets a leading ``'``.

    Only ``str`` is touched (OWASP's rule); numbers, dates and missing values pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell passed through :func:`neutralise`."""
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            out[c] = pd.Series([neutralise(v) for v in col], index=out.index, dtype=col.dtype)
    return out


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the cells of a CSV or XLSX file: text neutralised, then :func:`plain`."""
    return plain(neutralise_frame(frame))


def printable(text: str) -> str:
    """``text`` with control and format characters written as escapes (``\\x1b``, ``\\u202e``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _cell(v: Any) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, pd.Timestamp):
        return str(v.date().isoformat())
    if hasattr(v, "isoformat"):
        return str(v.isoformat())[:10]
    return str(v)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with dates as ISO strings and missing values as empty strings."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d").fillna("")
        else:
            out[c] = [_cell(v) for v in out[c]]
    return out


def write_csv(frame: pd.DataFrame, stream: IO[str] | Path) -> None:
    """CSV to an open stream, or to a new private file at a path (see :func:`private_file`)."""
    if isinstance(stream, Path):
        with private_file(stream) as fh:
            spreadsheet_frame(frame).to_csv(fh, index=False, lineterminator="\n")
        return
    spreadsheet_frame(frame).to_csv(stream, index=False, lineterminator="\n")


def write_json(frame: pd.DataFrame, stream: IO[str]) -> None:
    rows = plain(frame).to_dict(orient="records")
    records = [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]
    json.dump(records, stream, indent=1)
    stream.write("\n")


def _xlsx_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`spreadsheet_frame`, but numeric columns stay numbers (``-3`` is a number in Excel)."""
    out = spreadsheet_frame(frame)
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[c] = pd.Series(
                [None if pd.isna(v) else v.item() if hasattr(v, "item") else v for v in col],
                index=out.index,
                dtype=object,
            )
    return out


def write_xlsx(frame: pd.DataFrame, path: Path, *, sheet: str = "clocks") -> None:
    """A workbook with a frozen, filterable header (openpyxl), written as a new private file."""
    with private_file(path, "wb") as fh, pd.ExcelWriter(fh, engine="openpyxl") as xl:
        _xlsx_cells(frame).to_excel(xl, sheet_name=sheet, index=False)
        ws = xl.sheets[sheet]
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        for col in ws.columns:
            width = max(len(str(c.value or "")) for c in col[:200])
            ws.column_dimensions[col[0].column_letter].width = min(max(10, width + 2), 60)


def short_regulation(text: str) -> str:
    """``SEND Regs reg 13(2)``: the regulation as it fits in a table column."""
    for long, short in (
        ("SEND Regulations 2014 ", "SEND Regs "),
        ("Children and Families Act 2014 ", "CFA "),
        ("Tribunal Procedure (First-tier Tribunal) (HESC) Rules 2008 ", "HESC Rules "),
    ):
        text = text.replace(long, short)
    return text.split(";")[0]


def print_table(
    frame: pd.DataFrame,
    console: Console,
    *,
    columns: Iterable[str] | None = None,
    title: str | None = None,
) -> None:
    cols = list(columns) if columns is not None else list(frame.columns)
    table = Table(title=title, header_style="bold", show_lines=False)
    for c in cols:
        table.add_column(c, overflow="fold")
    shown = plain(frame[cols])
    for c in cols:
        shown[c] = [printable(v) for v in shown[c]]
    if "regulation" in cols:
        shown["regulation"] = [short_regulation(r) for r in shown["regulation"]]
    for row in shown.itertuples(index=False):
        values = list(row)
        style = STATUS_STYLE.get(values[cols.index("status")], "") if "status" in cols else ""
        table.add_row(*values, style=style)
    console.print(table)
