"""``ehcp import FILE``: a SEN2 return, the project's CSV/XLSX caseload, its event format or a
SEN2 companion file, into the case store.

Idempotent: the store merges (a case with the same values is left alone), so importing the same
file again changes nothing and says so; a newer file updates what changed. Strict by default: a
file with any error imports nothing and an error report is written (``<file name>.errors.csv`` in
the current folder, or where ``--errors`` says; never beside the input, which may be another
system's drop folder or a read-only share); ``--accept-valid`` imports the valid cases and reports
the rest.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from ehcp_workflow.cli.common import EXIT_BAD_INPUT, err, out, report_problems
from ehcp_workflow.cli.progress import Steps
from ehcp_workflow.cli.store import ActorOption, DatabaseUrlOption, actor_name, open_store
from ehcp_workflow.problems import InputError, Problem, Severity

if TYPE_CHECKING:
    from ehcp_workflow.core.caseload import Caseload
    from ehcp_workflow.db import ImportSummary

#: Columns of the error report, one row per problem.
REPORT_COLUMNS: tuple[str, ...] = (
    "file",
    "location",
    "person_or_case",
    "field",
    "severity",
    "message",
    "rule",
)


def report_path(file: Path, errors: Path | None = None) -> Path:
    """Where the error report of ``file`` goes: ``errors`` if it is a file path, inside it if it is
    a folder, else ``<file name>.errors.csv`` in the current folder (never the input's folder)."""
    name = file.name + ".errors.csv"
    if errors is None:
        return Path.cwd() / name
    return errors / name if errors.is_dir() else errors


def write_report(path: Path, problems: Iterable[Problem]) -> None:
    """The problems as CSV (UTF-8 with a byte-order mark, so Excel shows accents), errors first.

    Created private (it names cases), cells neutralised against formulas (they quote the file).
    """
    from ehcp_workflow.files import private_file
    from ehcp_workflow.output import neutralise

    rows = sorted(problems, key=lambda p: (p.severity != Severity.ERROR, p.file, p.location))
    with private_file(path, encoding="utf-8-sig") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for p in rows:
            writer.writerow(
                [
                    neutralise(v)
                    for v in (p.file, p.location, p.person, p.field, str(p.severity), p.message, p.rule)
                ]
            )


def _remove_stale_report(path: Path) -> bool:
    """Remove an earlier run's report (only if it is one of ours), so it cannot mislead."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError):
        return False
    if tuple(header) != REPORT_COLUMNS:
        return False
    path.unlink()
    return True


def _save_report(file: Path, problems: Sequence[Problem], errors: Path | None = None) -> Path | None:
    from ehcp_workflow.files import UnsafePath

    path = report_path(file, errors)
    try:
        write_report(path, problems)
    except UnsafePath as exc:
        err.print(f"Could not write the error report: {exc}", style="yellow", markup=False)
        return None
    except OSError as exc:
        err.print(f"[yellow]Could not write the error report {path}: {exc.strerror or exc}[/]")
        return None
    return path


def _refuse(file: Path, problems: Sequence[Problem], what: str, errors: Path | None = None) -> typer.Exit:
    report_problems(problems)
    path = _save_report(file, problems, errors)
    count = sum(p.severity == Severity.ERROR for p in problems)
    where = f" Error report: {path}" if path else ""
    err.print(f"[bold red]Refused:[/] {count} error(s) {what}; nothing was imported.{where}", highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


def _drop_rejected(caseload: Caseload, problems: Sequence[Problem]) -> tuple[Caseload, set[str]]:
    """The caseload without the cases the store refuses (and their advice)."""
    from dataclasses import fields

    from ehcp_workflow.core.caseload import Caseload
    from ehcp_workflow.importers import LoadedCaseload

    rejected = {p.person for p in problems if p.person}
    refs = caseload.cases["case_ref"]
    keep = refs.notna() & ~refs.isin(rejected)
    part = caseload.subset(keep.to_numpy())
    advice = part.advice.loc[part.advice["provider"].notna().to_numpy()].reset_index(drop=True)
    left_out = set(refs.dropna()) - set(part.cases["case_ref"])
    carried = {f.name: getattr(part, f.name) for f in fields(Caseload)} | {"advice": advice}
    return LoadedCaseload(**carried), left_out


def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="SEN2 person-level XML return, or the project's CSV/XLSX caseload",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    accept_valid: Annotated[
        bool,
        typer.Option(help="Import the valid cases and report the rest, instead of refusing the file"),
    ] = False,
    actor: ActorOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the event log")] = "",
    extract_date: Annotated[
        datetime | None,
        typer.Option(
            "--extract-date",
            formats=["%Y-%m-%d"],
            help="The date the file's data was extracted (a SEN2 return's ReferenceDate is read from "
            "the file). Cases the store holds newer data for are left alone",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Apply an older file (by its extract date) over newer data in the store"
        ),
    ] = False,
    database_url: DatabaseUrlOption = None,
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            help="Where to write the error report (a file, or a folder for <FILE name>.errors.csv); "
            "default: the current folder, never the input's",
        ),
    ] = None,
) -> None:
    """Import FILE into the case store: new cases are created, changed ones updated, all logged.

    Re-importing the same file changes nothing. Any error refuses the whole file (one transaction,
    a SEN2 return's personal fields and SEN2 details included) and writes an error report (created
    0600) to --errors, default <FILE name>.errors.csv in the current folder; --accept-valid imports
    the valid cases instead. A file extracted before the store's newer data for a case (a later
    return, a caseworker's change) leaves that case alone unless --force. A SEN2 companion file
    (person fields and SEN2 details of cases already stored) is recognised by its header.
    """
    from sqlalchemy.orm import Session

    from ehcp_workflow.db import upsert_caseload, validate_caseload
    from ehcp_workflow.importers import detect_format, load_caseload

    who = actor_name(actor)
    try:
        companion = detect_format(file) == "sen2-file"
    except InputError as exc:
        raise _refuse(file, exc.problems, f"in {file.name}", errors) from None
    if companion:
        _import_companion(file, who, accept_valid, reason, database_url, errors)
        return
    with open_store(database_url) as engine, Steps(err, total=3) as steps:
        steps.step(f"Reading {file.name}")
        try:
            loaded = load_caseload(file, accept_valid=accept_valid)
        except InputError as exc:
            raise _refuse(file, exc.problems, f"in {file.name}", errors) from None
        problems: list[Problem] = list(loaded.problems)
        left_out: set[str] = set(loaded.rejected)

        steps.step("Checking the cases against the store's rules")
        caseload: Caseload = loaded
        store_problems = validate_caseload(loaded.cases, loaded.advice, str(file))
        if store_problems:
            if not accept_valid:
                raise _refuse(file, [*problems, *store_problems], f"in {file.name}", errors)
            caseload, dropped = _drop_rejected(loaded, store_problems)
            problems += store_problems
            left_out |= dropped
            still = validate_caseload(caseload.cases, caseload.advice, str(file))
            if still:
                raise _refuse(file, [*problems, *still], f"in {file.name}", errors)
        if not len(caseload):
            raise _refuse(file, problems, f"in {file.name} and no valid case", errors)

        steps.step(f"Writing {len(caseload):,} case(s) to the store")
        people = None
        details = None
        sen2 = detect_format(file) == "sen2"
        if sen2:
            # the personal fields a SEN2 export needs live only in the store's person table (the
            # caseload never carries them, so they cannot reach an alert or a report), and the SEN2
            # items no clock reads in its own tables; all are written in the same transaction as the
            # cases, each personal change recorded without its value
            from ehcp_workflow.exporters.sen2_people import read_sen2_people, sen2_details_of

            people = read_sen2_people(file)
            keep = people["person_ref"].isin(set(caseload.cases["person_ref"].dropna().astype(str)))
            people = people.loc[keep.to_numpy(dtype=bool)]
            details = sen2_details_of(file, caseload.cases["case_ref"])
        if extract_date is not None:
            caseload = replace(caseload, extract_date=extract_date.date())
        with Session(engine) as session:
            try:
                summary = upsert_caseload(
                    session,
                    caseload,
                    source=file.name,
                    actor=who,
                    reason=reason,
                    people=people,
                    pseudonymise=sen2,
                    force=force,
                    sen2_details=details,
                )
            except InputError as exc:  # the store's own check, in case it is stricter than ours
                raise _refuse(file, [*problems, *exc.problems], f"in {file.name}", errors) from None

    report = None
    if problems:
        report_problems(problems)
        report = _save_report(file, problems, errors)
    elif _remove_stale_report(report_path(file, errors)):
        err.print(
            f"Removed the error report of an earlier import ({report_path(file, errors).name}).", style="dim"
        )
    _print_summary(file, summary, left_out, report)


def _import_companion(
    file: Path, who: str, accept_valid: bool, reason: str, database_url: str | None, errors: Path | None
) -> None:
    """A SEN2 companion file: the people's fields and the cases' SEN2 details, one transaction."""
    from sqlalchemy.orm import Session

    from ehcp_workflow.exporters.sen2_people import import_sen2_file

    with open_store(database_url) as engine, Session(engine) as session:
        try:
            people, details = import_sen2_file(
                session, file, actor=who, accept_valid=accept_valid, reason=reason
            )
        except InputError as exc:
            raise _refuse(file, exc.problems, f"in {file.name}", errors) from None
    out.print(
        Text(
            f"Imported {file.name} (SEN2 companion file): {people:,} people's fields, SEN2 details of "
            f"{details.cases_changed:,} case(s) set or changed; {details.events:,} event(s) logged."
        )
    )


def _print_summary(file: Path, summary: ImportSummary, left_out: set[str], report: Path | None) -> None:
    if left_out:
        where = f"; see {report}" if report else ""
        err.print(
            f"[yellow]{len(left_out)} case(s) left out because of errors{where}.[/]",
            highlight=False,
        )
    elif report:
        err.print(f"Warnings written to {report}.", style="dim", highlight=False)
    if summary.skipped_older:
        n = len(summary.skipped_older)
        shown = ", ".join(summary.skipped_older[:5]) + (f" and {n - 5:,} more" if n > 5 else "")
        err.print(
            Text(
                f"{n:,} case(s) left as stored: the store holds data for them newer than this file "
                f"(extracted {summary.extract_date}): {shown}. Use --force to apply the older file.",
                style="yellow",
            )
        )
    if not summary.changed:
        rest = "the other" if summary.skipped_older else "all"
        out.print(
            Text(
                f"No changes: {rest} {summary.unchanged:,} case(s) in {file.name} already match the store "
                "(nothing was written)."
            )
        )
        return
    out.print(
        Text(
            f"Imported {file.name}: {summary.created:,} created, {summary.updated:,} updated, "
            f"{summary.unchanged:,} unchanged; {summary.events:,} event(s) logged."
        )
    )
    if summary.advice_created or summary.advice_updated or summary.advice_removed:
        out.print(
            f"Advice requests: {summary.advice_created:,} added, {summary.advice_updated:,} corrected, "
            f"{summary.advice_removed:,} removed."
        )
    if summary.people_created or summary.people_updated:
        out.print(
            f"People: {summary.people_created:,} added, personal details changed for "
            f"{summary.people_updated:,} (each change is in the event log, its value withheld)."
        )
    case_fields = {k: v for k, v in summary.fields_changed.items() if not k.startswith("person.")}
    if case_fields:
        table = Table(title="Fields changed in existing cases", header_style="bold")
        table.add_column("field")
        table.add_column("cases", justify="right")
        for name, count in sorted(case_fields.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(Text(name), f"{count:,}")
        out.print(table)
