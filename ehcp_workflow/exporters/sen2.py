"""The SEN2 person-level return, from the store, in one call (sen2-spec).

:func:`export_sen2` writes the XML of one return year for one council and, beside it, the
pre-submission check report (CSV). It reads the store through one consistent snapshot, a chunk of
people at a time, and writes person by person, so a county-sized return never becomes a tree in
memory. The file carries personal data (names, birth dates, postcodes), so it is created readable
by its owner only; the check report names people by UPN/ULN/reference and never by name.

What goes into the return and how each value is derived (as at census day, historical requests,
scope) is :mod:`.sen2_build`; the year differences are :mod:`.sen2_layout`; the checks
:mod:`.sen2_checks`. Nothing here reads the clock: the file's ``DateTime`` is ``generated_at``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TextIO, cast

from sqlalchemy import Connection, Engine

from ehcp_workflow import __version__
from ehcp_workflow.core.conventions import Conventions
from ehcp_workflow.exporters.sen2_build import (
    SCOPE_REASONS,
    Block,
    Context,
    RequestOut,
    attach,
    build_request,
    put,
    request_block,
)
from ehcp_workflow.exporters.sen2_checks import (
    REPORT_COLUMNS,
    CheckSeverity,
    Finding,
    check_header,
    check_person,
    check_request,
    sex_code,
)
from ehcp_workflow.exporters.sen2_detail_checks import check_details
from ehcp_workflow.exporters.sen2_layout import Layout, layout, period
from ehcp_workflow.exporters.sen2_store import (
    StoredCase,
    StoredPerson,
    count_cases_without_la,
    iter_people,
    person_order,
)
from ehcp_workflow.exporters.sen2_xml import DECLARATION, PersonsWriter, render
from ehcp_workflow.files import private_file
from ehcp_workflow.output import neutralise

SOFTWARE_CODE = "ehcp-workflow"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_sen2` wrote and found."""

    path: Path  # the XML return
    report: Path  # the check report (CSV)
    year: int
    la: str
    census: date
    period_start: date
    period_end: date
    persons: int
    requests: int
    #: Requests in the return by the first reason they are in scope (sen2-spec §4.1).
    scope: dict[str, int] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is CheckSeverity.ERROR)

    @property
    def queries(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is CheckSeverity.QUERY)

    @property
    def exclusions(self) -> tuple[Finding, ...]:
        """Stored requests and items the return leaves out by the spec's scope rules."""
        return tuple(f for f in self.findings if f.severity is CheckSeverity.EXCLUDED)

    @property
    def passed(self) -> bool:
        """True when the checks found no error (queries need an explanation, not a fix)."""
        return not self.errors


def report_path(out: Path) -> Path:
    """Where the check report of the return ``out`` is written: ``<name>.checks.csv`` beside it."""
    return out.with_name(f"{out.stem}.checks.csv")


def export_sen2(
    engine: Engine,
    *,
    year: int,
    la: str,
    out: Path,
    generated_at: datetime,
    dmo: str | None = None,
    dco: str | None = None,
    dsco: str | None = None,
    serial_no: int = 1,
    conventions: Conventions | None = None,
) -> ExportResult:
    """Write council ``la``'s SEN2 return for ``year`` to ``out`` and its check report beside it.

    ``year`` is the return year (2023-2027; census day and collection year from sen2-spec §1).
    ``generated_at`` is written as the header's ``DateTime`` (its wall-clock time, to the second).
    ``dmo``/``dco``/``dsco`` are the header's designated-officer answers (Y, N or R); the store does
    not hold them, and a missing mandatory one is a check error. ``conventions`` decide the reg 18
    due date of a phase transfer when none is recorded (default: the engine's defaults).
    Cases with no council recorded are included (and counted in a query).
    Raises ``ValueError`` for a year with no known census day.
    """
    when = period(year)
    lay = layout(year)
    ctx = Context(lay, when, conventions or Conventions())
    out = Path(out)
    report = report_path(out)
    officers = {"DMO": dmo, "DCO": dco, "DSCO": dsco}
    findings: list[Finding] = list(check_header(la, officers, ctx, year))
    scope: Counter[str] = Counter()
    seen: dict[str, str] = {}
    persons = requests = 0
    with _snapshot(engine) as conn, conn.begin(), _private_file(out) as fh:
        no_la = count_cases_without_la(conn)
        fh.write(DECLARATION)
        fh.write("<Message>\n")
        fh.write(render(_header(ctx, la, generated_at, officers, serial_no), lay, depth=1))
        writer = PersonsWriter(fh, lay)
        for person, cases in iter_people(conn, la, person_order(conn, la)):
            built = [(c, build_request(c, ctx)) for c in cases]
            findings.extend(_out_of_scope(person, [c for c, o in built if o is None], year))
            outs = [o for _, o in built if o is not None]
            if not outs:
                continue
            writer.write(person_block(person, outs, lay))
            persons += 1
            requests += len(outs)
            findings.extend(check_person(person, ctx, seen))
            for o in outs:
                findings.extend(check_request(person, o, ctx))
                findings.extend(check_details(person, o, ctx))
                findings.extend(
                    Finding(CheckSeverity.EXCLUDED, "scope", person.label, o.case.case_ref, item, why)
                    for item, why in o.excluded
                )
                scope[o.reasons[0]] += 1
        writer.close()
        fh.write("</Message>\n")
    if no_la:
        findings.append(
            Finding(
                CheckSeverity.QUERY,
                "la",
                "",
                "",
                "LEA",
                f"{no_la:,} stored case(s) have no council recorded; those in scope are in this return",
            )
        )
    if not persons:
        findings.append(
            Finding(
                CheckSeverity.ERROR,
                "scope",
                "",
                "",
                "Persons",
                f"no case of council {la} is in the scope of the {year} return, so the file has no "
                "Persons; check the council number and the year",
            )
        )
    rank = {CheckSeverity.ERROR: 0, CheckSeverity.QUERY: 1, CheckSeverity.EXCLUDED: 2}
    ordered = sorted(findings, key=lambda f: rank[f.severity])
    write_report(report, ordered)
    return ExportResult(
        path=out,
        report=report,
        year=year,
        la=la,
        census=when.census,
        period_start=when.start,
        period_end=when.end,
        persons=persons,
        requests=requests,
        scope={r: scope[r] for r in SCOPE_REASONS if scope[r]},
        findings=tuple(ordered),
    )


def _out_of_scope(person: StoredPerson, cases: Iterable[StoredCase], year: int) -> Iterator[Finding]:
    """One ``excluded`` finding per stored request the return leaves out (sen2-spec §4.1)."""
    for c in cases:
        yield Finding(
            CheckSeverity.EXCLUDED,
            "scope",
            person.label,
            c.case_ref,
            "Requests",
            f"not in the {year} return's scope (sen2-spec §4.1): received after census day, or no plan "
            "active in the collection year or on census day, no request, decision or assessment in "
            "that year and no work ongoing on census day",
        )


def person_block(person: StoredPerson, outs: Iterable[RequestOut], lay: Layout) -> Block:
    """The ``Person`` element: Module 1 from the person table, one ``Requests`` per case."""
    block = Block("Person")
    put(block, lay, "Surname", person.surname)
    put(block, lay, "Forename", person.forename)
    put(block, lay, "PersonBirthDate", person.birth_date)
    put(block, lay, "GenderCurrent", sex_code(person.sex, 2023))
    put(block, lay, "Sex", sex_code(person.sex, 2024))
    put(block, lay, "Ethnicity", person.ethnicity.upper() if person.ethnicity else None)
    put(block, lay, "PostCode", person.postcode)
    put(block, lay, "UPN", person.upn)
    put(block, lay, "UniqueLearnerNumber", person.uln)
    put(block, lay, "UPNunknown", person.upn_unknown)
    for o in outs:
        attach(block, lay, request_block(o, lay))
    return block


def write_report(path: Path, findings: Iterable[Finding]) -> None:
    """The check report: one row per finding, in the order given (CSV, no names or birth dates).

    UTF-8 with a byte-order mark so that a spreadsheet shows accents; a cell that a spreadsheet
    would take for a formula is quoted (as the import command's error report does).
    """
    with _private_file(path, encoding="utf-8-sig") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(REPORT_COLUMNS)
        for f in findings:
            w.writerow(
                [
                    neutralise(v)
                    for v in (f.severity.value, f.rule, f.person, f.case_ref, f.module, f.item, f.message)
                ]
            )


def _header(
    ctx: Context, la: str, generated_at: datetime, officers: dict[str, str | None], serial_no: int
) -> Block:
    lay = ctx.layout
    details = Block("CollectionDetails")
    put(details, lay, "Collection", "SEN2")
    put(details, lay, "Year", str(ctx.period.year))
    put(details, lay, "ReferenceDate", ctx.period.census)
    source = Block("Source")
    put(source, lay, "SourceLevel", "L")
    put(source, lay, "LEA", la)
    put(source, lay, "SoftwareCode", SOFTWARE_CODE)
    put(source, lay, "Release", __version__)
    put(source, lay, "SerialNo", f"{serial_no:03d}")
    put(source, lay, "DateTime", generated_at.replace(microsecond=0, tzinfo=None).isoformat())
    for item, value in officers.items():
        put(source, lay, item, value)
    header = Block("Header")
    attach(header, lay, details)
    attach(header, lay, source)
    return header


def _snapshot(engine: Engine) -> Connection:
    """A connection whose reads all see one snapshot (SQLite's read transaction already does)."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


@contextmanager
def _private_file(path: Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write ``path`` as a whole or not at all, created 0600, never through a link (see
    :func:`ehcp_workflow.files.private_file`)."""
    with private_file(path, encoding=encoding, buffering=1 << 20) as fh:
        yield cast(TextIO, fh)
