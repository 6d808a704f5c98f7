"""``ehcp report`` (the committee figures and charts) and ``ehcp phase-transfer`` (the reg 18 planner)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ehcp_workflow.cli.common import err, out, parse_date

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Database URL (default: EHCP_DATABASE_URL or ./ehcp.db)")
]


def _engine(url: str | None):  # type: ignore[no-untyped-def]
    from ehcp_workflow.db import check_database, make_engine
    from ehcp_workflow.settings import get_settings

    engine = make_engine(url or get_settings().database_url)
    check_database(engine)
    return engine


def report(
    date_from: Annotated[str, typer.Option("--from", help="First month, YYYY-MM")],
    date_to: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate as at (default: today)")] = None,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the workbook, HTML and charts (created if missing)"),
    ] = Path("reports"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace this period's workbook and HTML if already there")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The month's committee figures: an XLSX workbook and a self-contained HTML report with charts.

    --output is a folder. This period's workbook and HTML already in it are kept (the command
    refuses) unless --force; the four chart images are shared by every period and replaced. Every
    file is written private (0600) and never through a symbolic link.
    """
    from ehcp_workflow.cli.store import fail, open_store
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.files import UnsafePath, check_output
    from ehcp_workflow.reporting.report import build_report, report_paths
    from ehcp_workflow.settings import get_settings

    day = parse_date(as_of) if as_of else dt.date.today()
    months = []
    for option, value in (("--from", date_from), ("--to", date_to)):
        try:
            months.append(
                dt.date.fromisoformat(value + "-01") if len(value) == 7 else dt.date.fromisoformat(value)
            )
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a month: use YYYY-MM", param_hint=option) from None
    if months[0] > months[1]:
        raise typer.BadParameter("--from is after --to", param_hint="--from")
    if output.exists() and not output.is_dir():
        fail(f"[bold red]Cannot write the report:[/] {output} is a file; --output names a folder.")
    if output.is_dir():
        try:
            for path in report_paths(output, months[0], months[1]):
                check_output(path, overwrite=force)
        except UnsafePath as exc:
            fail(f"[bold red]Cannot write the report:[/] {escape(str(exc))}")
    with open_store(database_url) as engine:
        caseload = load_caseload(engine)
    try:
        files = build_report(
            caseload,
            load_catalogue(),
            date_from=months[0],
            date_to=months[1],
            as_of=day,
            out_dir=output,
            conventions=get_settings().conventions,
        )
    except (UnsafePath, FileExistsError, NotADirectoryError) as exc:
        fail(f"[bold red]Cannot write the report:[/] {escape(str(exc))}")
    out.print(f"Workbook: {files.workbook}")
    out.print(f"Report:   {files.html}")
    for name, path in sorted(files.charts.items()):
        out.print(f"Chart:    {path}  ({name})")


def phase_transfer(
    year: Annotated[
        int, typer.Option("--year", help="Calendar year of the transfer (e.g. 2026 for Sept 2026)")
    ],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate as at (default: today)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the list as CSV")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The reg 18 cohort for a transfer year: each plan's review-by date, deadline and status."""
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.output import print_table, write_csv
    from ehcp_workflow.reporting.phase_transfer import plan_phase_transfers
    from ehcp_workflow.settings import get_settings

    day = parse_date(as_of) if as_of else dt.date.today()
    conventions = get_settings().conventions
    evaluation = evaluate_caseload(
        load_caseload(_engine(database_url)), load_catalogue(), as_of=day, conventions=conventions
    )
    plan = plan_phase_transfers(evaluation, year, conventions=conventions)
    if plan.empty:
        err.print(f"No phase transfers recorded for {year}.")
        return
    summary = plan.groupby(["transfer_type", "status"]).size().rename("plans").reset_index()
    print_table(summary, out, title=f"Phase transfer {year}: plans by type and status at {day}")
    print_table(plan.head(50), out, title=f"Soonest review-by dates ({len(plan):,} plans; first 50)")
    if output is not None:
        from ehcp_workflow.cli.store import fail
        from ehcp_workflow.files import UnsafePath

        try:
            write_csv(plan, output)
        except UnsafePath as exc:
            fail(f"[bold red]Cannot write the list:[/] {escape(str(exc))}")
        err.print(f"Wrote {len(plan):,} rows to {output}")
