"""Writing evaluated clocks for people and files: CSV, JSON, XLSX and terminal tables.

One place decides how a result row looks outside the program (ISO dates, empty for missing), so
``ehcp clocks``, ``ehcp export clocks`` and the flows' exports agree column for column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from ehcp_workflow.statuses import STATUS_STYLE


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
    plain(frame).to_csv(stream, index=False, lineterminator="\n")


def write_json(frame: pd.DataFrame, stream: IO[str]) -> None:
    rows = plain(frame).to_dict(orient="records")
    records = [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]
    json.dump(records, stream, indent=1)
    stream.write("\n")


def write_xlsx(frame: pd.DataFrame, path: Path, *, sheet: str = "clocks") -> None:
    """A workbook with a frozen, filterable header (openpyxl)."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        plain(frame).to_excel(xl, sheet_name=sheet, index=False)
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
    if "regulation" in cols:
        shown["regulation"] = [short_regulation(r) for r in shown["regulation"]]
    for row in shown.itertuples(index=False):
        values = list(row)
        style = STATUS_STYLE.get(values[cols.index("status")], "") if "status" in cols else ""
        table.add_row(*values, style=style)
    console.print(table)
