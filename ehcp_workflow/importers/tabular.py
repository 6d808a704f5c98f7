"""Import the project's own caseload format: one row per case, as CSV (UTF-8) or XLSX.

The header row names contract columns (``ehcp_workflow.core.caseload.CASE_COLUMNS``) plus, for the
advice table, ``advice_<provider>_requested|received|exception`` for each provider in
``ADVICE_PROVIDERS``. Only ``case_ref`` is required; ``person_ref`` defaults to ``case_ref``. A
column left out is *unrecorded* (the clocks that need it are reported not applicable, not overdue);
a column the format does not know is an error, because a typo in a header would otherwise silently
empty a column. See :data:`.tabular_cells.TEMPLATE_COLUMNS` and :func:`write_csv_template`.

Why a flat row: councils keep caseloads in spreadsheets; one row per case with one column per
event is what they can fill in and check by eye.
"""

from __future__ import annotations

import csv
import difflib
import os
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException

from ehcp_workflow.core.caseload import (
    ADVICE_COLUMNS,
    ADVICE_DATE_COLUMNS,
    ADVICE_PROVIDERS,
    BOOL_COLUMNS,
    CASE_COLUMNS,
    DATE_COLUMNS,
    DATE_DTYPE,
    Caseload,
    normalise_advice,
    normalise_cases,
)
from ehcp_workflow.importers.ordering import out_of_order
from ehcp_workflow.importers.result import LoadedCaseload, ReadResult, finish_load
from ehcp_workflow.importers.tabular_cells import (
    ADVICE_CELL_COLUMNS,
    ADVICE_PARTS,
    TEMPLATE_COLUMNS,
    Cell,
    advice_column,
    column_kind,
    parse_cell,
    text_of,
)
from ehcp_workflow.importers.values import DateWindow, date_seconds, date_window
from ehcp_workflow.problems import InputError, Problem, Severity

PathLike = str | os.PathLike[str]
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}
_DEFAULTED = frozenset({"case_ref", "person_ref"})  # never unrecorded: required / derived


def read_tabular(path: PathLike) -> tuple[Caseload, list[Problem]]:
    """Read every case of the CSV/XLSX file at ``path`` and every problem found; the caller decides.

    Rows with errors are included (bad cells left empty), except rows without a ``case_ref``.
    Raises :class:`InputError` only when the file cannot be read at all.
    """
    result = _read(Path(path))
    return result.caseload, result.problems


def load_tabular(path: PathLike, accept_valid: bool = False) -> LoadedCaseload:
    """Load the CSV/XLSX file at ``path``; raise :class:`InputError` if there is any error.

    With ``accept_valid=True`` the cases with errors are dropped instead (header errors, such as an
    unknown column, still refuse the file); ``.problems`` and ``.rejected`` tell the caller what
    was found and left out.
    """
    return finish_load(_read(Path(path)), accept_valid=accept_valid)


def write_csv_template(path: PathLike) -> None:
    """Write a header-only CSV with every column of the format, in template order."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(TEMPLATE_COLUMNS)


# --- reading rows ---------------------------------------------------------------------------------


def rows_of(path: Path) -> Iterator[tuple[int, Sequence[Cell]]]:
    """(row number, cells) of a CSV or XLSX file (by suffix), header = row 1: for readers of other
    tabular files (the SEN2 companion file) that share this one's file handling and checks."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise _fatal(str(path), f"'{path.suffix}' files are not read; save the file as .csv or .xlsx")
    return _rows(path, kind)


def _rows(path: Path, kind: str) -> Iterator[tuple[int, Sequence[Cell]]]:
    """(spreadsheet row number, cells) for every row, header = row 1."""
    if kind == "csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            yield from enumerate(csv.reader(fh), start=1)
        return
    _check_workbook(path)
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        yield from enumerate(ws.iter_rows(values_only=True), start=1)
    finally:
        wb.close()


#: Largest total the parts of a workbook may unpack to (a zip bomb is refused before it is read).
MAX_XLSX_UNPACKED = 1024**3
#: What declares a DTD or entities in an XML part, in the encodings an XLSX part may use.
_DTD_MARKS = tuple(
    mark.encode(enc) for mark in ("<!DOCTYPE", "<!ENTITY") for enc in ("utf-8", "utf-16-le", "utf-16-be")
)


def _check_workbook(path: Path) -> None:
    """Refuse a workbook whose XML parts declare a DTD or entities, or that unpacks too large.

    Excel never writes a DTD; one in a sheet is an entity-expansion or external-entity attack on
    the XML parser, and openpyxl's parser does not refuse it. Each part is scanned in chunks (with
    an overlap, so a mark split between chunks is still seen); sizes are the zip's own, which
    :mod:`zipfile` enforces while reading.
    """
    file = str(path)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > MAX_XLSX_UNPACKED:
            raise _fatal(
                file, f"the workbook unpacks to {total:,} bytes, more than the {MAX_XLSX_UNPACKED:,} read"
            )
        for info in infos:
            if not info.filename.endswith((".xml", ".rels", ".vml")):
                continue
            with zf.open(info) as fh:
                tail = b""
                while chunk := fh.read(1 << 20):
                    window = tail + chunk
                    if any(mark in window for mark in _DTD_MARKS):
                        raise _fatal(
                            file,
                            f"the workbook's part {info.filename} declares a DTD or entities, which "
                            "Excel never writes; it was not read, for safety. Save the caseload again "
                            "from Excel as .xlsx",
                            rule="tabular-xml",
                        )
                    tail = window[-32:]


def _fatal(file: str, message: str, rule: str = "tabular-file") -> InputError:
    return InputError([Problem(file, "", "", "", message, rule=rule)])


# --- the reader -----------------------------------------------------------------------------------


@dataclass
class _Header:
    columns: dict[int, str]  # cell index -> known column
    blank: list[int]  # cell indexes with no header name
    width: int  # cells in the header row
    problems: list[Problem]


def _read_header(file: str, cells: Sequence[Cell]) -> _Header:
    header = _Header({}, [], len(cells), [])
    seen: dict[str, int] = {}
    for idx, cell in enumerate(cells):
        raw = text_of(cell)
        if raw is None:
            header.blank.append(idx)
            continue
        name = raw.lower()
        if name in seen:
            header.problems.append(
                Problem(
                    file,
                    "row 1",
                    "",
                    raw,
                    f"column '{raw}' appears twice (columns {seen[name] + 1} and {idx + 1}); keep one",
                    rule="tabular-column",
                )
            )
        elif name in TEMPLATE_COLUMNS:
            header.columns[idx] = name
            seen[name] = idx
        else:
            close = difflib.get_close_matches(name, TEMPLATE_COLUMNS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; see the template for the column names"
            header.problems.append(
                Problem(
                    file,
                    "row 1",
                    "",
                    raw,
                    f"unknown column '{raw}' (column {idx + 1}){hint}",
                    rule="tabular-column",
                )
            )
    return header


@dataclass
class _Reader:
    file: str
    header: _Header
    problems: list[Problem] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    advice: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # spreadsheet row of each case
    rejected: set[int] = field(default_factory=set)
    file_errors: bool = False
    blank_with_data: set[int] = field(default_factory=set)
    #: Dates outside it are refused (``EHCP_EARLIEST_DATE``, ``EHCP_LATEST_YEARS_AHEAD``).
    window: DateWindow = field(default_factory=date_window)

    def row(self, number: int, cells: Sequence[Cell]) -> None:
        if all(text_of(c) is None for c in cells):
            return  # blank rows (common at the end of a spreadsheet) are not cases
        self._check_unheaded(number, cells)
        raw = {col: cells[idx] if idx < len(cells) else None for idx, col in self.header.columns.items()}
        ref = text_of(raw.get("case_ref"))
        if ref is None:
            self.problems.append(
                Problem(
                    self.file,
                    f"row {number}",
                    "",
                    "case_ref",
                    "the row has data but no case_ref; give every case a unique reference",
                    rule="tabular-case-ref",
                )
            )
            return
        values: dict[str, Any] = {}
        blocked = False
        for col, cell in raw.items():
            value, reason = parse_cell(col, cell, self.window)
            if reason is not None:
                blocked = True
                self.problems.append(
                    Problem(self.file, f"row {number}", ref, col, reason, rule=f"tabular-{column_kind(col)}")
                )
            values[col] = value
        blocked |= self._order(number, ref, values)
        if blocked:
            self.rejected.add(len(self.cases))
        values["person_ref"] = values.get("person_ref") or ref
        self.cases.append({c: values.get(c) for c in CASE_COLUMNS})
        self.rows.append(number)
        self._advice(ref, values)

    def _check_unheaded(self, number: int, cells: Sequence[Cell]) -> None:
        """A cell with data under no header would be silently lost: an error for the file."""
        unheaded = (*self.header.blank, *range(self.header.width, len(cells)))
        for idx in unheaded:
            if idx < len(cells) and text_of(cells[idx]) is not None and idx not in self.blank_with_data:
                self.blank_with_data.add(idx)
                self.file_errors = True
                self.problems.append(
                    Problem(
                        self.file,
                        f"row {number}",
                        "",
                        f"column {idx + 1}",
                        f"column {idx + 1} has data (first on row {number}) but no header; name it or "
                        "clear it",
                        rule="tabular-column",
                    )
                )

    def _order(self, number: int, ref: str, values: dict[str, Any]) -> bool:
        """Dates that must come in order (:mod:`.ordering`); True if an error was found."""
        dates = {c: v for c, v in values.items() if isinstance(v, date)}
        found_error = False
        for rule in out_of_order(dates):
            found_error |= rule.severity is Severity.ERROR
            self.problems.append(
                Problem(
                    self.file,
                    f"row {number}",
                    ref,
                    rule.end,
                    f"{rule.end} {dates[rule.end]} is before {rule.start} {dates[rule.start]}: {rule.why}",
                    rule.severity,
                    "tabular-order",
                )
            )
        for provider in ADVICE_PROVIDERS:
            requested = dates.get(advice_column(provider, "requested"))
            received = dates.get(advice_column(provider, "received"))
            if requested is not None and received is not None and received < requested:
                found_error = True
                self.problems.append(
                    Problem(
                        self.file,
                        f"row {number}",
                        ref,
                        advice_column(provider, "received"),
                        f"advice received {received} is before it was requested {requested}",
                        rule="tabular-order",
                    )
                )
        return found_error

    def _advice(self, ref: str, values: dict[str, Any]) -> None:
        for provider in ADVICE_PROVIDERS:
            parts = {part: values.get(advice_column(provider, part)) for part in ADVICE_PARTS}
            if any(v is not None for v in parts.values()):
                self.advice.append({"case_ref": ref, "provider": provider, **parts})

    def duplicates(self) -> None:
        """Every row of a case_ref used twice is an error: which row is right cannot be told."""
        rows_of: dict[str, list[int]] = defaultdict(list)
        for i, case in enumerate(self.cases):
            rows_of[case["case_ref"]].append(i)
        for ref, idxs in rows_of.items():
            if len(idxs) < 2:
                continue
            for i in idxs:
                others = ", ".join(str(self.rows[j]) for j in idxs if j != i)
                self.rejected.add(i)
                self.problems.append(
                    Problem(
                        self.file,
                        f"row {self.rows[i]}",
                        ref,
                        "case_ref",
                        f"case_ref '{ref}' is also on row {others}; each case must be on one row",
                        rule="tabular-duplicate",
                    )
                )


def _read(path: Path) -> ReadResult:
    file = str(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise _fatal(file, f"'{path.suffix}' files are not read; save the caseload as .csv or .xlsx")
    try:
        rows = _rows(path, kind)
        first = next(rows, None)
        if first is None:
            raise _fatal(file, "the file is empty; row 1 must be the header (see the CSV template)")
        header = _read_header(file, first[1])
        if "case_ref" not in header.columns.values():
            raise InputError(
                [
                    *header.problems,
                    Problem(
                        file,
                        "row 1",
                        "",
                        "case_ref",
                        "there is no case_ref column; row 1 must be the header and name case_ref",
                        rule="tabular-column",
                    ),
                ]
            )
        reader = _Reader(file, header, problems=list(header.problems), file_errors=bool(header.problems))
        for number, cells in rows:
            reader.row(number, cells)
    except UnicodeDecodeError as exc:
        raise _fatal(file, "the file is not UTF-8 text; save it as 'CSV UTF-8'") from exc
    except (OSError, csv.Error, zipfile.BadZipFile, InvalidFileException) as exc:
        raise _fatal(file, f"cannot read the file as {kind.upper()}: {exc}") from exc
    reader.duplicates()
    present = set(header.columns.values())
    unrecorded = {c for c in CASE_COLUMNS if c not in present and c not in _DEFAULTED}
    if not present & set(ADVICE_CELL_COLUMNS):
        unrecorded.add("advice")
    caseload = Caseload(
        cases=_case_frame(reader.cases),
        advice=_advice_frame(reader.advice),
        unrecorded=frozenset(unrecorded),
        source=kind,
    )
    return ReadResult(caseload, reader.problems, frozenset(reader.rejected), reader.file_errors)


def _dates(values: list[Any]) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    """Parsed dates (or None) as ``DATE_DTYPE``: through integer seconds, one ``fromiter``; a
    ``np.datetime64`` scalar per cell was 1.8 s of a 200,000-case file."""
    seconds = np.fromiter((date_seconds(v) for v in values), dtype=np.int64, count=len(values))
    return seconds.view("datetime64[s]").astype(DATE_DTYPE)


def _case_frame(cases: list[dict[str, Any]]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for col in CASE_COLUMNS:
        values = [c[col] for c in cases]
        if col in DATE_COLUMNS:
            data[col] = _dates(values)
        elif col in BOOL_COLUMNS:
            data[col] = pd.array(values, dtype="boolean")
        else:
            data[col] = pd.array(values, dtype="string")
    return normalise_cases(pd.DataFrame(data, columns=list(CASE_COLUMNS)))


def _advice_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for col in ADVICE_COLUMNS:
        values = [r[col] for r in rows]
        data[col] = _dates(values) if col in ADVICE_DATE_COLUMNS else pd.array(values, dtype="string")
    return normalise_advice(pd.DataFrame(data, columns=list(ADVICE_COLUMNS)))
