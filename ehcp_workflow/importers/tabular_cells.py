"""Column kinds of the project's CSV/XLSX caseload format, and how each cell is read.

A cell arrives as text (CSV) or as whatever openpyxl found (XLSX: str, int, float, bool, datetime).
Each parser returns ``(value, None)`` or ``(None, reason)``; the reason completes a Problem message
and says what to write instead, because the person fixing it is looking at a spreadsheet.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from functools import cache

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    BOOL_COLUMNS,
    CASE_COLUMNS,
    CODE_COLUMNS,
    DATE_COLUMNS,
    EXCEPTION_COLUMNS,
    EXCEPTION_GROUNDS,
)
from ehcp_workflow.importers.values import DateWindow, parse_iso_date

Cell = str | int | float | bool | date | datetime | None
Parsed = tuple[date | str | bool | None, str | None]

ADVICE_PARTS = ("requested", "received", "exception")


def advice_column(provider: str, part: str) -> str:
    """``advice_<provider>_<part>``: one advice request of the case (reg 8) in the flat format."""
    return f"advice_{provider}_{part}"


ADVICE_CELL_COLUMNS: dict[str, tuple[str, str]] = {
    advice_column(p, part): (p, part) for p in ADVICE_PROVIDERS for part in ADVICE_PARTS
}
#: Every column the format knows, in template order: the case contract, then advice by provider.
TEMPLATE_COLUMNS: tuple[str, ...] = CASE_COLUMNS + tuple(ADVICE_CELL_COLUMNS)


class ColumnKind(StrEnum):
    TEXT = "text"
    DATE = "date"
    CODE = "code"
    BOOL = "bool"
    EXCEPTION = "exception"


@cache  # asked once per cell: a few dozen columns, millions of cells in a large import
def column_kind(column: str) -> ColumnKind:
    """The kind of a known column (see :data:`TEMPLATE_COLUMNS`)."""
    if column in DATE_COLUMNS:
        return ColumnKind.DATE
    if column in CODE_COLUMNS:
        return ColumnKind.CODE
    if column in BOOL_COLUMNS:
        return ColumnKind.BOOL
    if column in EXCEPTION_COLUMNS:
        return ColumnKind.EXCEPTION
    if column in ADVICE_CELL_COLUMNS:
        part = ADVICE_CELL_COLUMNS[column][1]
        return ColumnKind.EXCEPTION if part == "exception" else ColumnKind.DATE
    return ColumnKind.TEXT


def text_of(cell: Cell) -> str | None:
    """The cell as trimmed text; None when empty. ``12.0`` from Excel reads as ``12``."""
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell).strip() or None


#: Control characters a cell may not hold: C0 and C1 controls other than tab and line breaks
#: (a spreadsheet's wrapped text has those). One regular expression: a per-character Python loop
#: over every cell was seconds of a 200,000-case import.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character in ``text`` other than tab and line breaks, or None.

    A NUL cannot be stored by PostgreSQL, and an ANSI escape in a case ref would repaint the
    terminal of whoever lists it later: both are refused at the door.
    """
    found = _CONTROLS.search(text)
    return None if found is None else found.group()


def parse_cell(column: str, cell: Cell, window: DateWindow | None = None) -> Parsed:
    """Read ``cell`` of ``column``; empty cells are ``(None, None)``.

    A date outside ``window`` (when given) is refused as implausible.

    Text holding a control character (NUL, an ANSI escape) is refused, naming the character's
    code point but not echoing the value.
    """
    if cell is None or cell == "":  # most cells of a wide file: nothing to read, whatever the kind
        return None, None
    if isinstance(cell, str) and (bad := control_character(cell)) is not None:
        return None, (
            f"contains the control character U+{ord(bad):04X}, which is not allowed in a cell; remove it"
        )
    kind = column_kind(column)
    if kind is ColumnKind.DATE:
        return parse_date(cell, window)
    if kind is ColumnKind.BOOL:
        return parse_bool(cell)
    text = text_of(cell)
    if text is None or kind is ColumnKind.TEXT:
        return text, None
    if kind is ColumnKind.EXCEPTION:
        ground = text.lower()
        if ground in EXCEPTION_GROUNDS:
            return ground, None
        return None, f"'{text}' is not an exception ground; use one of {_listing(EXCEPTION_GROUNDS)}"
    codes = CODE_COLUMNS[column]
    code = text.lower() if all(c.islower() for c in codes) else text.upper()
    if code in codes:
        return code, None
    return None, f"'{text}' is not a valid {column}; use one of {_listing(codes)}"


def parse_date(cell: Cell, window: DateWindow | None = None) -> Parsed:
    """An Excel date cell, or text ``YYYY-MM-DD`` (the only text form: ``03/04/2025`` is ambiguous).

    With ``window``, a date outside it is refused (a placeholder such as 0001-01-01, a typo).
    """
    value, reason = _parse_date(cell)
    if window is not None and isinstance(value, date) and (why := window.problem(value)) is not None:
        return None, why
    return value, reason


def _parse_date(cell: Cell) -> Parsed:
    if cell is None:
        return None, None
    if isinstance(cell, datetime):
        return cell.date(), None
    if isinstance(cell, date):
        return cell, None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return None, f"{text_of(cell)} is a number, not a date; format the cell as a date or write YYYY-MM-DD"
    text = text_of(cell)
    if text is None:
        return None, None
    parsed = parse_iso_date(text)
    if parsed is None:
        return None, f"'{text}' is not a date; write it as YYYY-MM-DD, e.g. 2025-03-01"
    return parsed, None


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def parse_bool(cell: Cell) -> Parsed:
    """true/false, yes/no, 1/0 in any case (and Excel TRUE/FALSE cells)."""
    if isinstance(cell, bool):
        return cell, None
    text = text_of(cell)
    if text is None:
        return None, None
    if text.lower() in _TRUE:
        return True, None
    if text.lower() in _FALSE:
        return False, None
    return None, f"'{text}' is not true or false; write true/false, yes/no or 1/0"


def _listing(codes: frozenset[str]) -> str:
    return ", ".join(sorted(codes))
