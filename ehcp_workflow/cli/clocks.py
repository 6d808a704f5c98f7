"""``ehcp clocks FILE``: a stateless check of a caseload file, no database needed."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ehcp_workflow.cli.common import err, fail_on_input, out, parse_date, report_problems
from ehcp_workflow.core.statuses import Status
from ehcp_workflow.problems import InputError

if TYPE_CHECKING:  # pandas and the engine load inside the command: `ehcp --help` stays fast
    import pandas as pd

    from ehcp_workflow.core.evaluator import Evaluation

TABLE_COLUMNS = (
    "person_ref",
    "clock",
    "instance",
    "start_date",
    "due_date",
    "end_date",
    "status",
    "days_overdue",
    "weeks_waiting",
    "band",
    "regulation",
)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def clocks(
    file: Annotated[Path, typer.Argument(help="SEN2 person-level XML, or the project's CSV/XLSX caseload")],
    as_of: Annotated[str, typer.Option("--as-of", help="Evaluate as at the end of this date (YYYY-MM-DD)")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format")] = Format.table,
    status: Annotated[
        list[Status] | None, typer.Option("--status", "-s", help="Only these statuses (repeatable)")
    ] = None,
    clock: Annotated[
        list[str] | None, typer.Option("--clock", "-c", help="Only these clocks (repeatable)")
    ] = None,
    explain: Annotated[
        bool, typer.Option(help="Add each clock's explanation (rule, dates, limit, convention, reason)")
    ] = False,
    accept_valid: Annotated[
        bool, typer.Option(help="Evaluate the valid cases and report the rest, instead of refusing the file")
    ] = False,
) -> None:
    """Every statutory clock of every case in FILE at --as-of: one row per case and clock."""
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.output import print_table, write_csv, write_json
    from ehcp_workflow.settings import get_settings

    day = parse_date(as_of)
    settings = get_settings()
    catalogue = load_catalogue()
    if clock:
        unknown = sorted(set(clock) - set(catalogue.ids))
        if unknown:
            raise typer.BadParameter(f"unknown clock(s): {', '.join(unknown)}", param_hint="--clock")
    from ehcp_workflow.importers import load_caseload  # imported here: keeps `ehcp --help` fast

    try:
        caseload = load_caseload(file, accept_valid=accept_valid)
    except InputError as exc:
        raise fail_on_input(exc) from None
    if caseload.problems:
        report_problems(caseload.problems)
    evaluation = evaluate_caseload(caseload, catalogue, as_of=day, conventions=settings.conventions)
    frame = evaluation.to_frame(clocks=clock, statuses=status)
    if explain:
        frame = _with_explanations(frame, evaluation)
    if fmt is Format.csv:
        write_csv(frame, sys.stdout)
    elif fmt is Format.json:
        write_json(frame, sys.stdout)
    else:
        cols = [*TABLE_COLUMNS, "explanation"] if explain else list(TABLE_COLUMNS)
        print_table(frame, out, columns=cols, title=f"Clocks at {day.isoformat()} - {file.name}")
        err.print(f"{len(caseload)} case(s), {len(frame)} clock row(s).", style="dim")


def _with_explanations(frame: pd.DataFrame, evaluation: Evaluation) -> pd.DataFrame:
    """The explanation of each row, derived from the same evaluation (one engine)."""
    from ehcp_workflow.core.explain import explain

    texts = {(r.case_ref, r.clock, r.instance): " ".join(r.explanation) for r in explain(evaluation)}
    frame = frame.copy()
    frame["explanation"] = [
        texts.get((c, k, i), "")
        for c, k, i in zip(frame["case_ref"], frame["clock"], frame["instance"], strict=True)
    ]
    return frame
