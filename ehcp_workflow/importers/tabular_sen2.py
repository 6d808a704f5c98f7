"""The SEN2 companion file: what a SEN2 return needs beyond the caseload, as CSV or XLSX.

The caseload format (:mod:`.tabular`) is what the clocks read, and it travels to alerts and
reports, so it has no names or birth dates. A council whose system exports CSV rather than SEN2
XML gives the rest in a companion file, one row per case, header names from
:data:`SEN2_FILE_COLUMNS` in any order (only ``case_ref`` is required; the case must already be in
the store):

* the person (sen2-spec Module 1): ``upn``, ``uln``, ``upn_unknown``, ``surname``, ``forename``,
  ``birth_date``, ``sex`` (M/F), ``ethnicity``, ``postcode`` - repeated on each of a person's cases
  (a person whose rows disagree is refused);
* once-per-request items: ``request_source``, ``rya``, ``request_mediation``, ``request_tribunal``,
  ``assessment_mediation``, ``assessment_tribunal``, ``other_mediation``, ``other_tribunal``,
  ``plan_res``, ``plan_wbp``, ``pb``, ``oa``, ``dp`` (and the 2023 ``active_res``/``active_wbp``);
* the settings named in the plan, rank 1 and 2: ``plan1_urn`` | ``plan1_ukprn`` |
  ``plan1_sen_setting`` (+ ``plan1_sen_setting_other``), ``plan1_sen_unit_indicator``,
  ``plan1_resourced_provision_indicator``; ``plan2_...`` the same;
* placements attended, up to three: ``placement1_urn`` ... as above plus ``placement1_rank``,
  ``placement1_entry_date``, ``placement1_leaving_date``, ``placement1_res``, ``placement1_wbp``,
  ``placement1_attendance_pattern`` (2023);
* types of need: ``sen_need1`` (primary) and ``sen_need2`` (secondary), SEN2 SENtype codes.

Flags are ``0``/``1`` (``yes``/``no``/``true``/``false`` are read as 1/0); dates ISO
``YYYY-MM-DD``. Every code is checked against the SEN2 lists (sen2-spec §3); any bad cell refuses
the file with its row and column (``accept_valid`` drops the rows with errors instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ehcp_workflow.importers.sen2_details import CASE_COLUMNS as DETAIL_COLUMNS
from ehcp_workflow.importers.sen2_details import (
    FLAG_ITEMS,
    ITEM_CODES,
    PERSON_COLUMNS,
    RequestDetails,
    Row,
)
from ehcp_workflow.importers.sen2_person_rules import upn_check_letter
from ehcp_workflow.importers.sen2_schema import (
    PLACEMENT_SETTINGS,
    PLAN_SETTINGS,
    SEN_TYPES,
    UPN_UNKNOWN_CODES,
)
from ehcp_workflow.importers.tabular import rows_of
from ehcp_workflow.importers.tabular_cells import Cell, control_character, text_of
from ehcp_workflow.importers.values import parse_iso_date
from ehcp_workflow.problems import InputError, Problem, errors_in

PathLike = str | os.PathLike[str]

_SETTING_PARTS = (
    "urn",
    "ukprn",
    "sen_setting",
    "sen_setting_other",
    "sen_unit_indicator",
    "resourced_provision_indicator",
)
_PLACEMENT_PARTS = (*_SETTING_PARTS, "rank", "entry_date", "leaving_date", "res", "wbp", "attendance_pattern")
PLAN_SLOTS, PLACEMENT_SLOTS, NEED_SLOTS = 2, 3, 2
SEN2_FILE_COLUMNS: tuple[str, ...] = (
    "case_ref",
    *PERSON_COLUMNS,
    *DETAIL_COLUMNS,
    *(f"plan{k}_{p}" for k in range(1, PLAN_SLOTS + 1) for p in _SETTING_PARTS),
    *(f"placement{k}_{p}" for k in range(1, PLACEMENT_SLOTS + 1) for p in _PLACEMENT_PARTS),
    *(f"sen_need{k}" for k in range(1, NEED_SLOTS + 1)),
)
#: Columns only this file has: a header with one of them (and case_ref) is a companion file.
COMPANION_ONLY = frozenset(SEN2_FILE_COLUMNS) - {"case_ref"}

_FLAG_WORDS = {"1": "1", "0": "0", "yes": "1", "no": "0", "true": "1", "false": "0", "y": "1", "n": "0"}
_CODES: dict[str, frozenset[str]] = {
    **ITEM_CODES,
    "sex": frozenset("MF"),
    "upn_unknown": UPN_UNKNOWN_CODES,
    "rank": frozenset("12"),
}
_FLAGS = frozenset({*FLAG_ITEMS, "sen_unit_indicator", "resourced_provision_indicator"})
_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "urn": (re.compile(r"\d{6}"), "6 digits (GIAS URN)"),
    "ukprn": (re.compile(r"\d{8}"), "8 digits"),
    "uln": (re.compile(r"\d{10}"), "10 digits"),
    "ethnicity": (re.compile(r"[A-Z]{4}"), "a 4-letter CBDS ethnicity code, e.g. WBRI (sen2-spec §3.13)"),
    "upn": (
        re.compile(r"[A-Z]\d{12}|[A-Z]\d{11}[A-Z]"),
        "a capital letter and 12 digits (or a temporary UPN)",
    ),
}
_UPPER = frozenset({"sex", "ethnicity", "upn", "upn_unknown", "dp", "plan_res", "plan_wbp", "res", "wbp"})


@dataclass
class Sen2File:
    """What a companion file holds: per case, the person's fields and the SEN2 details."""

    people: dict[str, dict[str, str | date]] = field(default_factory=dict)  # case_ref -> fields
    details: dict[str, RequestDetails] = field(default_factory=dict)  # case_ref -> details
    rows: dict[str, int] = field(default_factory=dict)  # case_ref -> spreadsheet row
    problems: list[Problem] = field(default_factory=list)


def is_sen2_file(header: Sequence[Cell]) -> bool:
    """Whether a header row is a SEN2 companion file's (case_ref and a column only it has)."""
    names = {t.lower() for t in (text_of(c) for c in header) if t}
    return "case_ref" in names and bool(names & COMPANION_ONLY) and names <= set(SEN2_FILE_COLUMNS)


def read_sen2_file(path: PathLike, *, accept_valid: bool = False) -> Sen2File:
    """Read the companion file at ``path``; raise :class:`InputError` naming file, row and column
    for any error (with ``accept_valid``, rows with an error are left out and reported)."""
    file = str(path)
    out = Sen2File()
    rows = rows_of(Path(path))
    first = next(rows, None)
    if first is None:
        raise InputError([Problem(file, "row 1", "", "", "the file is empty", rule="sen2-file")])
    columns: dict[int, str] = {}
    for idx, cell in enumerate(first[1]):
        name = (text_of(cell) or "").lower()
        if name and name not in SEN2_FILE_COLUMNS:
            out.problems.append(
                Problem(file, "row 1", "", name, f"unknown column '{name}'", rule="sen2-file")
            )
        elif name:
            columns[idx] = name
    if "case_ref" not in columns.values() or out.problems:
        if "case_ref" not in columns.values():
            out.problems.append(
                Problem(file, "row 1", "", "case_ref", "no case_ref column", rule="sen2-file")
            )
        raise InputError(out.problems)
    bad_rows: set[str] = set()
    for number, cells in rows:
        values = {col: cells[i] if i < len(cells) else None for i, col in columns.items()}
        ref = text_of(values.pop("case_ref"))
        if ref is None:
            if any(text_of(v) is not None for v in values.values()):
                out.problems.append(
                    Problem(file, f"row {number}", "", "case_ref", "data but no case_ref", rule="sen2-file")
                )
            continue
        if ref in out.rows:
            out.problems.append(
                Problem(
                    file,
                    f"row {number}",
                    ref,
                    "case_ref",
                    f"also on row {out.rows[ref]}; one row per case",
                    rule="sen2-file",
                )
            )
            bad_rows.add(ref)
            continue
        out.rows[ref] = number
        parsed: dict[str, str | date] = {}
        for col, cell in values.items():
            if cell is None or cell == "":
                continue  # most cells of a wide row are empty
            value, reason = _parse(col, cell)
            if reason is not None:
                out.problems.append(Problem(file, f"row {number}", ref, col, reason, rule="sen2-file"))
                bad_rows.add(ref)
            elif value is not None:
                parsed[col] = value
        out.people[ref] = {c: v for c, v in parsed.items() if c in PERSON_COLUMNS}
        out.details[ref] = _details(parsed)
    if errors_in(out.problems) and not accept_valid:
        raise InputError(out.problems)
    for ref in bad_rows:
        out.people.pop(ref, None)
        out.details.pop(ref, None)
    return out


_SLOT = re.compile(r"(plan|placement)\d_")
#: Column -> the part its checks go by (``placement2_urn`` -> ``urn``).
_PART = {c: c.split("_", 1)[1] if _SLOT.match(c) else c for c in SEN2_FILE_COLUMNS}


def _parse(column: str, cell: Cell) -> tuple[str | date | None, str | None]:
    if cell is None or cell == "":
        return None, None
    if isinstance(cell, str) and (bad := control_character(cell)) is not None:
        return None, f"contains the control character U+{ord(bad):04X}; remove it"
    text = text_of(cell)
    if text is None:
        return None, None
    part = _PART[column]
    if part in ("birth_date", "entry_date", "leaving_date"):
        day = parse_iso_date(text)
        return (day, None) if day is not None else (None, f"'{text}' is not a date; write it as YYYY-MM-DD")
    if part in _UPPER:
        text = text.upper()
    if part in _FLAGS:
        flag = _FLAG_WORDS.get(text.lower())
        return (flag, None) if flag is not None else (None, f"'{text}' is not a 0/1 flag")
    codes = _CODES.get(part)
    if part == "sen_setting" or column.startswith("sen_need"):
        text = text.upper()
        codes = SEN_TYPES if column.startswith("sen_need") else (
            PLAN_SETTINGS if column.startswith("plan") else PLACEMENT_SETTINGS
        )  # fmt: skip
    if codes is not None and text not in codes:
        return None, f"'{text}' is not one of {', '.join(sorted(codes))} (sen2-spec §3)"
    pattern = _PATTERNS.get(part)
    if pattern is not None and not pattern[0].fullmatch(text):
        return None, f"'{text}' is not {pattern[1]}"
    if part == "upn" and text[0] != upn_check_letter(text):
        return None, f"UPN '{text}' has the wrong check letter (expected '{upn_check_letter(text)}')"
    return text, None


_PLAN_COLUMNS = tuple(tuple((p, f"plan{k}_{p}") for p in _SETTING_PARTS) for k in range(1, PLAN_SLOTS + 1))
_PLACEMENT_COLUMNS = tuple(
    tuple((p, f"placement{k}_{p}") for p in _PLACEMENT_PARTS) for k in range(1, PLACEMENT_SLOTS + 1)
)
_NEED_COLUMNS = tuple(f"sen_need{k}" for k in range(1, NEED_SLOTS + 1))


def _details(parsed: dict[str, str | date]) -> RequestDetails:
    out = RequestDetails(case={c: str(parsed[c]) for c in DETAIL_COLUMNS if c in parsed})
    for k, columns in enumerate(_PLAN_COLUMNS, start=1):
        row: Row = {p: parsed.get(c) for p, c in columns}
        if any(v is not None for v in row.values()):
            out.plan.append(row | {"placement_rank": str(k)})
    for columns in _PLACEMENT_COLUMNS:
        values = {p: parsed.get(c) for p, c in columns}
        if any(v is not None for v in values.values()):
            rank = values.pop("rank")
            out.placements.append(values | {"placement_rank": rank})
    for k, column in enumerate(_NEED_COLUMNS, start=1):
        need = parsed.get(column)
        if need is not None:
            out.needs.append({"sen_type": str(need), "sen_type_rank": str(k)})
    return out
