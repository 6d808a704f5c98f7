"""``ehcp export clocks``: every clock of every stored case, in the columns of ``ehcp clocks``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ehcp_workflow.cli.common import err, parse_date
from ehcp_workflow.cli.store import DatabaseUrlOption, open_store
from ehcp_workflow.statuses import Status

export_app = typer.Typer(name="export", help="Export from the case store.", no_args_is_help=True)


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@export_app.command("clocks")
def export_clocks(
    as_of: Annotated[str, typer.Option("--as-of", help="Evaluate as at the end of this date (YYYY-MM-DD)")],
    fmt: Annotated[
        ExportFormat | None,
        typer.Option("--format", "-f", help="csv or xlsx (default: from --output's suffix, else csv)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here (default for csv: standard output)", dir_okay=False),
    ] = None,
    status: Annotated[
        list[Status] | None, typer.Option("--status", "-s", help="Only these statuses (repeatable)")
    ] = None,
    clock: Annotated[
        list[str] | None, typer.Option("--clock", "-c", help="Only these clocks (repeatable)")
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Every clock of every stored case at --as-of, one row per case and clock (as `ehcp clocks`)."""
    from ehcp_workflow.catalogue import load_catalogue
    from ehcp_workflow.cli.progress import Steps
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.output import write_csv, write_xlsx
    from ehcp_workflow.settings import get_settings
    from ehcp_workflow.vectorised import evaluate_caseload

    day = parse_date(as_of)
    if fmt is None:
        fmt = (
            ExportFormat.xlsx if output is not None and output.suffix.lower() == ".xlsx" else ExportFormat.csv
        )
    if fmt is ExportFormat.xlsx and output is None:
        raise typer.BadParameter("an XLSX export needs --output PATH", param_hint="--output")
    settings = get_settings()
    catalogue = load_catalogue()
    if clock:
        unknown = sorted(set(clock) - set(catalogue.ids))
        if unknown:
            raise typer.BadParameter(f"unknown clock(s): {', '.join(unknown)}", param_hint="--clock")

    with open_store(database_url) as engine, Steps(err, total=3) as steps:
        steps.step("Reading the caseload")
        caseload = load_caseload(engine)
        steps.step(f"Evaluating {len(caseload):,} case(s)")
        evaluation = evaluate_caseload(caseload, catalogue, as_of=day, conventions=settings.conventions)
        frame = evaluation.to_frame(clocks=clock, statuses=status)
        steps.step(f"Writing {len(frame):,} row(s)")
        if fmt is ExportFormat.xlsx:
            assert output is not None
            write_xlsx(frame, output)
        elif output is not None:
            write_csv(frame, output)
        else:
            write_csv(frame, sys.stdout)
    where = f" to {output}" if output is not None else ""
    err.print(
        f"{len(caseload):,} case(s), {len(frame):,} clock row(s) at {day.isoformat()}{where}.",
        style="dim",
        highlight=False,
    )
