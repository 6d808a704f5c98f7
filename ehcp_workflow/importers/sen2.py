"""Import a DfE SEN2 person-level return (XML, return years 2023-2026) as a :class:`Caseload`.

One case row per ``Requests`` element (sen2-spec §2.1: a request, its assessment, the plan it
produced and that plan's latest review). ``person_ref`` is the UPN, else the ULN, else
``person-<n>`` (the Person's position in the file); ``case_ref`` is ``<person_ref>/<k>`` with ``k``
the request's position within the person. ``la`` is ``Header/Source/LEA``.

Columns SEN2 does not carry are listed in ``Caseload.unrecorded`` so the evaluator reports the
clocks that need them as not applicable instead of overdue; items a return year does not have
(sen2-spec §5: 2023 has no review meeting, outcome, draft or phase-transfer dates; 2024 no draft or
phase-transfer dates) are unrecorded for that year and ignored, with a warning, if present.

The file is streamed (see :mod:`.sen2_xml`) and the rows are held column-wise in compact arrays,
so memory grows with the number of requests, not with the size of the XML.
"""

from __future__ import annotations

import os
import sys
from array import array
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ehcp_workflow.core.caseload import (
    CASE_COLUMNS,
    DATE_COLUMNS,
    DATE_DTYPE,
    EXCEPTION_COLUMNS,
    Caseload,
    empty_advice,
    empty_cases,
)
from ehcp_workflow.importers.result import LoadedCaseload, ReadResult, finish_load
from ehcp_workflow.importers.sen2_person_rules import (
    birth_date_check,
    person_ref,
    r20_identifiers,
    unknown_elements,
)
from ehcp_workflow.importers.sen2_rules import Findings, Value, read_request
from ehcp_workflow.importers.sen2_schema import MAPPED, SCHEMA, SUPPORTED_YEARS, WEEK20_COLUMN, Kind, spelling
from ehcp_workflow.importers.sen2_xml import FatalXmlError, HeaderEvent, Node, PersonEvent, stream
from ehcp_workflow.importers.values import DateWindow, date_seconds, date_window, parse_iso_date
from ehcp_workflow.problems import InputError, Problem, Severity

PathLike = str | os.PathLike[str]

#: Contract columns no SEN2 return captures (the review report, the transfer dates, re-assessment,
#: appeals, phase-transfer date and type, routing, the advice table, and every exception ground
#: except the one Week20 stands for).
UNRECORDED_ALWAYS: frozenset[str] = frozenset(
    {
        "draft_plan_served",
        "review_report_sent",
        "amended_plan_issued",
        "transfer_in_date",
        "transfer_in_notice_sent",
        "transfer_out_aware",
        "transfer_out_completed",
        "transfer_out_move",
        "reassessment_requested",
        "reassessment_decision_date",
        "reassessed_plan_issued",
        "reassessment_agreed",
        "appealable_decision_date",
        "mediation_certificate_date",
        "appeal_lodged",
        "phase_transfer_date",
        "phase_transfer_type",
        "team",
        "caseworker",
        "advice",
        *(c for c in EXCEPTION_COLUMNS if c != WEEK20_COLUMN),
    }
)
_DATE_MAPPED = tuple(m.column for m in MAPPED if m.kind is Kind.DATE)
_TEXT_MAPPED = (*(m.column for m in MAPPED if m.kind is not Kind.DATE), WEEK20_COLUMN)


def unrecorded_for(year: int) -> frozenset[str]:
    """The contract columns a return of ``year`` does not capture (sen2-spec §5)."""
    return UNRECORDED_ALWAYS | {m.column for m in MAPPED if year < m.since}


def read_sen2(path: PathLike) -> tuple[Caseload, list[Problem]]:
    """Read every case of the SEN2 file at ``path`` and every problem found; the caller decides.

    Cases with errors are included (their unusable values left empty); see :func:`load_sen2` for
    the policy. Raises :class:`InputError` only when the file cannot be read as a SEN2 return.
    """
    result = _read(path)
    return result.caseload, result.problems


def load_sen2(path: PathLike, accept_valid: bool = False) -> LoadedCaseload:
    """Load the SEN2 file at ``path``; raise :class:`InputError` if any case has an error.

    With ``accept_valid=True`` the cases with errors are dropped instead; the returned caseload
    carries every problem (``.problems``) and the dropped ``case_ref``\\ s (``.rejected``).
    """
    return finish_load(_read(path), accept_valid=accept_valid)


def read_sen2_rows(path: PathLike) -> ReadResult:
    """Everything :func:`load_sen2` starts from: every case row **in file order** (one per
    ``Requests``, including those with errors) and every problem. The n-th row is the n-th
    ``Requests`` of the file, which is how :mod:`.sen2_details` meets its case."""
    return _read(path)


def is_sen2(path: PathLike) -> bool:
    """Whether ``path`` starts like a SEN2 return (root ``Message``, Collection ``SEN2``).

    Only the start of the file is read. Malformed XML counts as SEN2 when its root is ``Message``,
    so that :func:`read_sen2` can report the exact position of the fault.
    """
    try:
        for event in stream(Path(path), str(path)):
            if isinstance(event, HeaderEvent):
                return _collection(event.node) == "SEN2"
            return True  # a Person before any Header: SEN2-shaped
    except FatalXmlError as exc:
        return exc.problem.rule == "sen2-xml"
    except OSError:
        return False
    return False


# --- implementation -------------------------------------------------------------------------------


@dataclass
class _Header:
    year: int
    la: str | None
    reference_date: date | None = None


class _Columns:
    """Case rows held column-wise: dates as int64 seconds, codes as interned strings."""

    def __init__(self) -> None:
        self.person_ref: list[str] = []
        self.request_no = array("l")
        self.dates = {c: array("q") for c in _DATE_MAPPED}
        self.text: dict[str, list[str | None]] = {c: [] for c in _TEXT_MAPPED}
        self.rejected: set[int] = set()

    def __len__(self) -> int:
        return len(self.person_ref)

    def append(self, ref: str, request_no: int, values: dict[str, Value], blocked: bool) -> None:
        if blocked:
            self.rejected.add(len(self.person_ref))
        self.person_ref.append(ref)
        self.request_no.append(request_no)
        for col, arr in self.dates.items():
            value = values.get(col)
            arr.append(date_seconds(value if isinstance(value, date) else None))
        for col, lst in self.text.items():
            value = values.get(col)
            lst.append(sys.intern(value) if isinstance(value, str) else None)

    def blank(self, column: str) -> int:
        """Empty ``column``; return how many values it held."""
        if column in self.dates:
            arr = self.dates[column]
            held = sum(1 for v in arr if v != date_seconds(None))
            self.dates[column] = array("q", [date_seconds(None)]) * len(arr)
            return held
        lst = self.text[column]
        held = sum(1 for v in lst if v is not None)
        self.text[column] = [None] * len(lst)
        return held

    def take_frame(self, la: str | None) -> pd.DataFrame:
        """The case table in contract dtypes; empties the accumulator as it goes.

        Each column is converted once and its source released straight away, and the frame is
        built without copying or consolidating, so the peak stays close to the final table.
        """
        n = len(self)
        dtypes = empty_cases(0).dtypes  # the contract owns the dtypes (string, categorical codes...)
        refs, numbers = self.person_ref, self.request_no
        self.person_ref, self.request_no = [], array("l")
        data: dict[str, object] = {
            "case_ref": pd.array(
                [f"{p}/{k}" for p, k in zip(refs, numbers, strict=True)], dtype=dtypes["case_ref"]
            ),
            "person_ref": pd.array(refs, dtype=dtypes["person_ref"]),
            "la": pd.array([la] * n, dtype=dtypes["la"]),
        }
        del refs, numbers
        for col in DATE_COLUMNS:
            if col in self.dates:
                data[col] = np.frombuffer(self.dates.pop(col), dtype=np.int64).view(DATE_DTYPE)
            else:
                data[col] = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
        for col in CASE_COLUMNS:
            if col not in data:
                data[col] = pd.array(self.text.pop(col, None) or [None] * n, dtype=dtypes[col])
        return pd.DataFrame({c: data.pop(c) for c in CASE_COLUMNS}, copy=False)


@dataclass
class _Tally:
    """Occurrences of one file-wide issue: count, and where it was first seen."""

    count: int = 0
    location: str = ""
    person: str = ""


@dataclass
class _Reader:
    file: str
    header: _Header | None = None
    problems: list[Problem] = field(default_factory=list)
    columns: _Columns = field(default_factory=_Columns)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # person_ref -> (Person n, requests)
    unknown: dict[tuple[str, str], _Tally] = field(default_factory=dict)
    out_of_year: dict[tuple[str, str], _Tally] = field(default_factory=dict)
    persons: int = 0
    #: Dates outside it are refused (``EHCP_EARLIEST_DATE``, ``EHCP_LATEST_YEARS_AHEAD``).
    window: DateWindow = field(default_factory=date_window)

    def person(self, event: PersonEvent) -> None:
        node = event.node
        self.persons += 1
        ref = person_ref(node, event.number)
        f = Findings(self.file, event.number, node.line, ref, window=self.window)
        r20_identifiers(node, f)
        birth_date_check(node, f)
        for child in node.children:
            if child.key not in SCHEMA["person"]:
                _note(self.unknown, ("Person", child.name), f, child)
        offset = self._duplicate(ref, node, f)
        requests = node.all("requests")
        if not requests:
            f.warn(
                "sen2-structure",
                "Requests",
                "the Person has no Requests, so no case was loaded; every person in the return needs "
                "at least one Requests (sen2-spec §2.2)",
            )
        year = self.header.year if self.header else None
        for k, req in enumerate(requests, start=1):
            f.request_no, f.request_line, f.blocked = k, req.line, False
            values = read_request(req, f, year)
            self.columns.append(ref, offset + k, values, f.blocked)
            for block, child in unknown_elements(req, "requests"):
                _note(self.unknown, (spelling(block), child.name), f, child)
            for mapped, child in f.out_of_year:
                _note(self.out_of_year, ("", spelling(mapped.key)), f, child)
            f.out_of_year.clear()
        self.seen[ref] = (self.seen.get(ref, (event.number, 0))[0], offset + len(requests))
        self.problems.extend(f.problems)

    def _duplicate(self, ref: str, person: Node, f: Findings) -> int:
        """Number of requests already loaded for ``ref`` (non-zero when the person is repeated).

        A repeated UPN does not move a clock (each Requests carries its own dates), so it is a
        warning; the requests are numbered on from the earlier Person so case_refs stay unique.
        """
        if ref not in self.seen:
            return 0
        first, count = self.seen[ref]
        upn = person.first("upn")
        f.warn(
            "sen2-duplicate-person",
            "UPN" if upn is not None and upn.text == ref else "UniqueLearnerNumber",
            f"'{ref}' is also the reference of Person {first}; a person should appear once, with all "
            f"their Requests. Merge the two, or correct the UPN/ULN (this person's requests are "
            f"numbered from {count + 1})",
        )
        return count

    def finish(self) -> ReadResult:
        if self.header is None:
            raise InputError(
                [
                    *self.problems,
                    Problem(
                        self.file,
                        "",
                        "",
                        "Header",
                        "no Header was found, so the return year cannot be told; a SEN2 return starts "
                        "with Header/CollectionDetails (sen2-spec §2.1)",
                        rule="sen2-structure",
                    ),
                ]
            )
        year = min(self.header.year, max(SUPPORTED_YEARS))
        self._blank_out_of_year(year)
        if self.persons == 0:
            self.problems.append(
                Problem(
                    self.file,
                    "",
                    "",
                    "Person",
                    "the file contains no Person, so no case was loaded",
                    Severity.WARNING,
                    "sen2-structure",
                )
            )
        for (block, name), t in self.unknown.items():
            self.problems.append(
                Problem(
                    self.file,
                    t.location,
                    t.person,
                    name,
                    f"<{name}> is not a SEN2 item of {block} ({_times(t.count)}, first here) and was "
                    "ignored; check the spelling against sen2-spec §2.2",
                    Severity.WARNING,
                    "sen2-unknown-element",
                )
            )
        for (_, name), t in self.out_of_year.items():
            self.problems.append(
                Problem(
                    self.file,
                    t.location,
                    t.person,
                    name,
                    f"<{name}> is not part of the {self.header.year} return ({_times(t.count)}, first "
                    "here); it was ignored and the column is treated as not recorded (sen2-spec §5)",
                    Severity.WARNING,
                    "sen2-year",
                )
            )
        cases = self.columns.take_frame(self.header.la)
        caseload = Caseload(
            cases=cases,
            advice=empty_advice(),
            unrecorded=unrecorded_for(year),
            source=f"sen2:{self.header.year}",
            extract_date=self.header.reference_date,
        )
        return ReadResult(caseload, self.problems, frozenset(self.columns.rejected), file_errors=False)

    def _blank_out_of_year(self, year: int) -> None:
        """Items read before a late Header told the year (sen2-spec §5): drop them, with a warning."""
        for m in MAPPED:
            if year < m.since:
                held = self.columns.blank(m.column)
                if held and ("", spelling(m.key)) not in self.out_of_year:
                    _note(self.out_of_year, ("", spelling(m.key)), None, None, held)


def _note(
    tallies: dict[tuple[str, str], _Tally],
    key: tuple[str, str],
    f: Findings | None,
    node: Node | None,
    count: int = 1,
) -> None:
    """Count one more occurrence of ``key``; remember where the first was seen."""
    tally = tallies.setdefault(key, _Tally())
    if tally.count == 0 and f is not None:
        tally.location, tally.person = f.location(node), f.person_ref
    tally.count += count


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _read(path: PathLike) -> ReadResult:
    file = str(path)
    reader = _Reader(file)
    try:
        for event in stream(Path(path), file):
            if isinstance(event, HeaderEvent):
                reader.header = _read_header(event.node, file, reader.problems)
            else:
                reader.person(event)
    except FatalXmlError as exc:
        raise InputError([*reader.problems, exc.problem]) from exc
    except OSError as exc:
        problem = Problem(file, "", "", "", f"cannot read the file: {exc.strerror or exc}", rule="sen2-file")
        raise InputError([problem]) from exc
    return reader.finish()


def _collection(header: Node) -> str | None:
    details = header.first("collectiondetails")
    node = details.first("collection") if details is not None else None
    return node.text.upper() if node is not None and node.text else None


def _read_header(header: Node, file: str, problems: list[Problem]) -> _Header:
    """Header/CollectionDetails and Source (sen2-spec §2.2 Header table)."""
    details = header.first("collectiondetails")
    collection = _collection(header)
    if collection != "SEN2":
        what = (
            f"Collection is '{collection}'"
            if collection
            else "Header/CollectionDetails/Collection is missing"
        )
        raise FatalXmlError(
            Problem(
                file,
                f"Header (line {header.line})",
                "",
                "Collection",
                f"{what}: this is not a SEN2 return (another DfE collection uses the same <Message> "
                "layout). Check that the right file was chosen",
                rule="sen2-structure",
            )
        )
    year_node = details.first("year") if details is not None else None
    text = year_node.text if year_node is not None and year_node.text else ""
    where = f"Header (line {header.line})" + (f", line {year_node.line}" if year_node is not None else "")
    if not (len(text) == 4 and text.isdigit()) or int(text) < min(SUPPORTED_YEARS):
        reason = f"Year '{text}' is not" if text else "Year is missing; it must be"
        raise FatalXmlError(
            Problem(
                file,
                where,
                "",
                "Year",
                f"{reason} a person-level SEN2 return year this importer reads (2023-2026, sen2-spec "
                "§5; the 2022 pilot used other codes)",
                rule="sen2-year",
            )
        )
    year = int(text)
    if year > max(SUPPORTED_YEARS):
        problems.append(
            Problem(
                file,
                where,
                "",
                "Year",
                f"return year {year} is newer than this importer knows (2023-2026); it was read with "
                f"the {max(SUPPORTED_YEARS)} layout. Check the results",
                Severity.WARNING,
                "sen2-year",
            )
        )
    source = header.first("source")
    lea = source.first("lea") if source is not None else None
    la = lea.text if lea is not None and lea.text else None
    if la is None or not (len(la) == 3 and la.isdigit()):
        problems.append(
            Problem(
                file,
                f"Header (line {header.line})" + (f", line {lea.line}" if lea is not None else ""),
                "",
                "LEA",
                (f"LEA '{la}' is not" if la else "LEA is missing; it must be")
                + " the council's 3-digit DfE LA number (sen2-spec §3.16)",
                Severity.WARNING,
                "sen2-la",
            )
        )
    ref_node = details.first("referencedate") if details is not None else None
    reference_date = parse_iso_date(ref_node.text) if ref_node is not None and ref_node.text else None
    return _Header(year, la, reference_date)
