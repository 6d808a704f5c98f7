"""``ehcp sen2 export``: the council's DfE SEN2 person-level return from the store, with its checks."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ehcp_workflow.cli.common import EXIT_BAD_INPUT, err, out

if TYPE_CHECKING:
    from sqlalchemy import Engine

sen2_app = typer.Typer(
    name="sen2",
    help="The DfE SEN2 person-level return (statutory annual survey, census day in January).",
    no_args_is_help=True,
)

_LA = re.compile(r"\d{3}")
_OFFICER_HELP = "in post: Y (yes), N (no) or R (recruitment in progress); the store does not hold it"


def _officer(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if code not in ("Y", "N", "R"):
        raise typer.BadParameter(f"{value!r} is not Y, N or R", param_hint=option)
    return code


def _generated_at(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now().replace(microsecond=0)  # the command line may read the clock
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date and time: use YYYY-MM-DDTHH:MM:SS", param_hint="--generated-at"
        ) from None


@sen2_app.command("export")
def export(
    year: Annotated[int, typer.Option("--year", help="Return year, e.g. 2026 (census day 15 January 2026)")],
    la: Annotated[
        str | None,
        typer.Option("--la", help="The council's 3-digit DfE LA number (default: the store's only council)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The XML file to write (default: sen2_<year>_<la>.xml)"),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="The store (default: EHCP_DATABASE_URL)")
    ] = None,
    dmo: Annotated[
        str | None, typer.Option("--dmo", help=f"Designated Medical Officer {_OFFICER_HELP}")
    ] = None,
    dco: Annotated[
        str | None, typer.Option("--dco", help=f"Designated Clinical Officer {_OFFICER_HELP}")
    ] = None,
    dsco: Annotated[
        str | None, typer.Option("--dsco", help=f"Designated Social Care Officer {_OFFICER_HELP} (2025+)")
    ] = None,
    serial: Annotated[int, typer.Option("--serial", min=1, max=999, help="Header SerialNo")] = 1,
    generated_at: Annotated[
        str | None,
        typer.Option("--generated-at", help="Header DateTime, YYYY-MM-DDTHH:MM:SS (default: now)"),
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="How many findings to list on screen")] = 20,
) -> None:
    """Write the SEN2 return of --year and its pre-submission check report (CSV) beside it.

    Exit code 0 when the checks find no error; 2 when they do (both files are still written).
    """
    from ehcp_workflow.exporters import EXPORT_YEARS, export_sen2
    from ehcp_workflow.files import UnsafePath
    from ehcp_workflow.settings import get_settings

    if year not in EXPORT_YEARS:
        known = ", ".join(str(y) for y in EXPORT_YEARS)
        raise typer.BadParameter(
            f"no SEN2 census day is known for {year} (known: {known})", param_hint="--year"
        )
    if la is not None and not _LA.fullmatch(la):
        raise typer.BadParameter(f"{la!r} is not a 3-digit DfE LA number", param_hint="--la")
    dmo, dco, dsco = _officer(dmo, "--dmo"), _officer(dco, "--dco"), _officer(dsco, "--dsco")
    when = _generated_at(generated_at)
    engine = _engine(database_url)
    try:
        council = la or _only_council(engine)
        path = output or Path(f"sen2_{year}_{council}.xml")
        result = export_sen2(
            engine,
            year=year,
            la=council,
            out=path,
            generated_at=when,
            dmo=dmo,
            dco=dco,
            dsco=dsco,
            serial_no=serial,
            conventions=get_settings().conventions,
        )
    except UnsafePath as exc:
        err.print(f"Cannot write the SEN2 export: {exc}", style="bold red", markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        engine.dispose()

    scope = ", ".join(f"{n:,} {reason}" for reason, n in result.scope.items()) or "none"
    out.print(
        f"Wrote {result.path}: SEN2 {result.year} for LA {result.la} (census {result.census}, activity "
        f"{result.period_start} to {result.period_end}), {result.persons:,} person(s), "
        f"{result.requests:,} request(s).",
        highlight=False,
    )
    out.print(f"In scope: {scope}.", highlight=False)
    errors, queries = result.errors, result.queries
    for f in [*errors, *queries][:show]:
        err.print(str(f), style="red" if f in errors else "yellow", markup=False, highlight=False)
    if len(errors) + len(queries) > show:
        by_item = Counter((f.severity.value, f.item) for f in [*errors, *queries])
        summary = "; ".join(f"{sev} {item} {n:,}" for (sev, item), n in by_item.most_common(12))
        err.print(f"... by item: {summary}", style="dim", markup=False, highlight=False)
    verdict = "[green]passed[/]" if result.passed else "[bold red]failed[/]"
    err.print(
        f"Pre-submission checks {verdict}: {len(errors):,} error(s), {len(queries):,} query(ies); "
        f"every finding is in {result.report}"
    )
    if not result.passed:
        raise typer.Exit(EXIT_BAD_INPUT)


def _engine(database_url: str | None) -> Engine:
    from ehcp_workflow.db import DatabaseNotCurrent, check_database, make_engine
    from ehcp_workflow.db.engine import normalise_url, sqlite_path
    from ehcp_workflow.settings import get_settings

    url = database_url or get_settings().database_url
    try:
        parsed = normalise_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError and friends
        err.print(f"[bold red]Cannot use the database URL:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    path = sqlite_path(parsed)
    if path is not None and not path.exists():
        err.print(f"[bold red]No store at {path}[/]: import a caseload first, or pass --database-url.")
        raise typer.Exit(EXIT_BAD_INPUT)
    engine = make_engine(parsed)
    try:
        check_database(engine)
    except DatabaseNotCurrent as exc:
        engine.dispose()
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # cannot connect
        engine.dispose()
        err.print(f"[bold red]Cannot open the store:[/] {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return engine


def _only_council(engine: Engine) -> str:
    from ehcp_workflow.exporters.sen2_store import councils

    with engine.connect() as conn:
        found = councils(conn)
    if len(found) == 1:
        return found[0]
    if not found:
        raise typer.BadParameter("the store records no council: give it", param_hint="--la")
    raise typer.BadParameter(f"the store holds cases of {', '.join(found)}: choose one", param_hint="--la")
