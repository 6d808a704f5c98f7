"""``ehcp export clocks``: every clock of every stored case, in the columns of ``ehcp clocks``.

An ``--output`` file is created private (0600), replaced only once complete, and never written
through a symbolic link; its folder must exist (:mod:`ehcp_workflow.files`).
"""

from __future__ import annotations

import datetime as dt
import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ehcp_workflow.cli.common import err, parse_date
from ehcp_workflow.cli.store import DatabaseUrlOption, fail, open_store
from ehcp_workflow.core.statuses import Status

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ehcp_workflow.core.catalogue import Catalogue
    from ehcp_workflow.settings import Settings

#: Rows an XLSX sheet can hold below its header.
XLSX_MAX_ROWS = 1_048_575
#: Cases evaluated and written at a time by a CSV export (bounds its memory on a large store).
CSV_CHUNK = 50_000

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
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.files import UnsafePath, check_output
    from ehcp_workflow.settings import get_settings

    day = parse_date(as_of)
    if fmt is None:
        fmt = (
            ExportFormat.xlsx if output is not None and output.suffix.lower() == ".xlsx" else ExportFormat.csv
        )
    if fmt is ExportFormat.xlsx and output is None:
        raise typer.BadParameter("an XLSX export needs --output PATH", param_hint="--output")
    if output is not None:
        try:  # before the (long) evaluation: a bad path is known now
            check_output(output)
        except UnsafePath as exc:
            fail(f"[bold red]Cannot write the export:[/] {escape(str(exc))}")
    settings = get_settings()
    catalogue = load_catalogue()
    if clock:
        unknown = sorted(set(clock) - set(catalogue.ids))
        if unknown:
            raise typer.BadParameter(f"unknown clock(s): {', '.join(unknown)}", param_hint="--clock")

    with open_store(database_url) as engine:
        try:
            if fmt is ExportFormat.xlsx:
                assert output is not None
                cases, rows = _export_xlsx(engine, output, day, settings, catalogue, clock, status)
            else:
                cases, rows = _export_csv(engine, output, day, settings, catalogue, clock, status)
        except UnsafePath as exc:
            fail(f"[bold red]Cannot write the export:[/] {escape(str(exc))}")
    where = f" to {output}" if output is not None else ""
    err.print(
        f"{cases:,} case(s), {rows:,} clock row(s) at {day.isoformat()}{where}.",
        style="dim",
        highlight=False,
    )


def _export_csv(
    engine: Engine,
    output: Path | None,
    day: dt.date,
    settings: Settings,
    catalogue: Catalogue,
    clocks: list[str] | None,
    statuses: list[Status] | None,
) -> tuple[int, int]:
    """Evaluate and write ``CSV_CHUNK`` cases at a time: the same rows as one pass, bounded memory.

    Within a chunk, rows come in the evaluator's order (clock by clock); chunks follow the store's
    case order.
    """
    import numpy as np

    from ehcp_workflow.cli.progress import Steps
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.files import private_file
    from ehcp_workflow.output import spreadsheet_frame

    with Steps(err, total=1) as steps:
        steps.step("Reading the caseload")
        caseload = load_caseload(engine)
    n = len(caseload.cases)
    rows = 0
    stream: IO[str]
    with (
        private_file(output) if output is not None else nullcontext(sys.stdout) as stream,
        Steps(err, total=max(1, -(-n // CSV_CHUNK))) as steps,
    ):
        for start in range(0, max(n, 1), CSV_CHUNK):
            stop = min(start + CSV_CHUNK, n)
            steps.step(f"Evaluating and writing cases {start + 1:,}-{stop:,} of {n:,}")
            keep = np.zeros(n, dtype=bool)
            keep[start:stop] = True
            part = caseload.subset(keep)  # this chunk's cases with their advice and review history
            evaluation = evaluate_caseload(part, catalogue, as_of=day, conventions=settings.conventions)
            frame = evaluation.to_frame(clocks=clocks, statuses=statuses)
            spreadsheet_frame(frame).to_csv(stream, index=False, header=start == 0, lineterminator="\n")
            rows += len(frame)
    return n, rows


def _export_xlsx(
    engine: Engine,
    output: Path,
    day: dt.date,
    settings: Settings,
    catalogue: Catalogue,
    clocks: list[str] | None,
    statuses: list[Status] | None,
) -> tuple[int, int]:
    """One sheet; refused (before writing) when the rows would not fit in it."""
    from ehcp_workflow.cli.progress import Steps
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.output import write_xlsx

    with Steps(err, total=3) as steps:
        steps.step("Reading the caseload")
        caseload = load_caseload(engine)
        steps.step(f"Evaluating {len(caseload):,} case(s)")
        evaluation = evaluate_caseload(caseload, catalogue, as_of=day, conventions=settings.conventions)
        count = _count_rows(evaluation, clocks, statuses)
        if count > XLSX_MAX_ROWS:
            fail(
                f"[bold red]Too many rows for a workbook:[/] {count:,} clock rows, and an XLSX sheet holds "
                f"{XLSX_MAX_ROWS:,}. Export CSV, or choose rows with --status / --clock."
            )
        frame = evaluation.to_frame(clocks=clocks, statuses=statuses)
        steps.step(f"Writing {len(frame):,} row(s)")
        write_xlsx(frame, output)
    return len(caseload), len(frame)


def _count_rows(evaluation: Any, clocks: list[str] | None, statuses: list[Status] | None) -> int:
    """How many rows ``evaluation.to_frame(clocks=..., statuses=...)`` would give, without building it."""
    import numpy as np

    from ehcp_workflow.core.statuses import STATUS_CODE

    wanted = set(clocks) if clocks else None
    codes = np.array([STATUS_CODE[s] for s in statuses], dtype=np.int8) if statuses else None
    arrays = list(evaluation.clocks.values())
    total = 0
    for a in arrays:
        if wanted is not None and a.rule.id not in wanted:
            continue
        total += len(a.status) if codes is None else int(np.isin(a.status, codes).sum())
    return total
