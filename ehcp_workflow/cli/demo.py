"""``ehcp demo-data`` and ``ehcp demo``: a synthetic council to try everything on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, cast

import typer

from ehcp_workflow.cli.common import err, out, parse_date

DEFAULT_AS_OF = "2026-11-20"


def demo_data(
    path: Annotated[Path, typer.Argument(help="Where to write the caseload (.csv)")] = Path(
        "demo-council.csv"
    ),
    cases: Annotated[int, typer.Option("--cases", "-n", min=1, help="How many cases")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same council)")] = 1,
    as_of: Annotated[str, typer.Option("--as-of", help="The council as it stood at the end of this date")] = (
        DEFAULT_AS_OF
    ),
) -> None:
    """Write a realistic synthetic council (no real person's data) in the project's CSV format,
    its review history (every cycle before each plan's latest) beside it in the event format
    (``<name>.events.csv``) and its SEN2 companion file (``<name>.sen2.csv``: synthetic names,
    birth dates, UPNs, settings, placements, needs): import the CSV, then the other two."""
    from ehcp_workflow.demo import generate_council, write_council_csv
    from ehcp_workflow.demo_sen2 import generate_sen2_companion, write_sen2_csv
    from ehcp_workflow.importers.events import write_events_csv

    day = parse_date(as_of)
    caseload = generate_council(cases, seed, day)
    write_council_csv(caseload, path)
    events = history_path(path)
    rows = write_events_csv(caseload, events)
    err.print(f"Wrote {len(caseload):,} cases and {len(caseload.advice):,} advice requests to {path}")
    err.print(f"Wrote {len(caseload.review_history):,} review cycles ({rows:,} events) to {events}")
    companion = sen2_path(path)
    write_sen2_csv(generate_sen2_companion(caseload, seed), companion)
    err.print(f"Wrote the SEN2 companion rows (synthetic identities, settings, needs) to {companion}")


def history_path(path: Path) -> Path:
    """Where ``ehcp demo-data`` puts the review history of the caseload at ``path``."""
    return path.with_name(f"{path.stem}.events.csv")


def sen2_path(path: Path) -> Path:
    """Where ``ehcp demo-data`` puts the SEN2 companion file of the caseload at ``path``."""
    return path.with_name(f"{path.stem}.sen2.csv")


def demo(
    workdir: Annotated[Path, typer.Option("--dir", help="Working folder for the demo's files")] = Path(
        ".demo"
    ),
    as_of: Annotated[str, typer.Option("--as-of", help="The night to run")] = DEFAULT_AS_OF,
    cases: Annotated[int, typer.Option("--cases", "-n", min=1)] = 20_000,
    messages: Annotated[int, typer.Option(help="How many rendered messages to print in full")] = 2,
) -> None:
    """The whole product on a synthetic council: load it, run the nightly flow, show the alerts.

    Everything lives in ``--dir``: the council's CSV, its SQLite store and a local Prefect home
    (the flow runs in Prefect's ephemeral mode: no server to start). Alerts are not sent: the
    messages each caseworker and manager would receive are printed instead.
    """
    import os

    day = parse_date(as_of)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Prefect reads its settings at import: point it at the demo folder first.
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # No API URL at all, never an empty one: Prefect's API client reads "" as "no server" and starts
    # the ephemeral one, but its events worker reads any string as "a running server", fails to
    # connect to "" and then refuses every event ("EventsWorker failed ... Cannot put items in a
    # stopped service instance"). A URL the user exported is kept: the demo then shows in their UI.
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.pop("PREFECT_API_URL", None)
    # the local server's first start migrates its database: allow a slow (2-core, busy) machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    database = workdir / "ehcp.db"
    os.environ["EHCP_DATABASE_URL"] = f"sqlite:///{database}"

    from sqlmodel import Session

    from ehcp_workflow.db import make_engine, upgrade_database, upsert_caseload
    from ehcp_workflow.demo import generate_council, write_council_csv
    from ehcp_workflow.importers import load_caseload
    from ehcp_workflow.importers.events import write_events_csv

    csv = workdir / "demo-council.csv"
    events = history_path(csv)
    out.rule(f"1. A synthetic council: {cases:,} cases (no real person's data)")
    council = generate_council(cases, 1, day)
    write_council_csv(council, csv)
    write_events_csv(council, events)
    if database.exists():
        database.unlink()
    upgrade_database(os.environ["EHCP_DATABASE_URL"])
    engine = make_engine(os.environ["EHCP_DATABASE_URL"])
    for path in (csv, events):  # the latest of everything, then every review cycle before it
        with Session(engine) as session:
            summary = upsert_caseload(session, load_caseload(path), source=path.name, actor="demo")
        out.print(f"{path} -> {database}: {summary}")
    from ehcp_workflow.demo_sen2 import generate_sen2_companion, write_sen2_csv
    from ehcp_workflow.exporters.sen2_people import import_sen2_file

    companion = sen2_path(csv)  # what a SEN2 return needs beyond the caseload
    write_sen2_csv(generate_sen2_companion(council, 1), companion)
    with Session(engine) as session:
        people, details = import_sen2_file(session, companion, actor="demo")
    out.print(
        f"{companion} -> {database}: {people:,} people, SEN2 details of {details.cases_changed:,} cases"
    )

    out.rule(f"2. The nightly compliance flow for {day.isoformat()} (Prefect, local ephemeral mode)")
    from flows.nightly import nightly_compliance

    night = nightly_compliance(as_of=day)
    _print_night(night)

    out.rule("3. What each caseworker and manager would receive (dry run: nothing is sent)")
    from ehcp_workflow.jobs.dispatch import pending_alerts, render_messages

    rows = pending_alerts(engine, now=_utc_now(), max_attempts=5)
    rendered = render_messages(rows, as_of=day, allow_initials=False)
    by_kind = sorted(rendered, key=lambda m: (m.recipient != "managers", m.recipient))
    for m in by_kind[:messages]:
        out.print(f"[bold]To {m.recipient}[/]  -  {m.title}", highlight=False)
        lines = m.body.splitlines()
        out.print(
            "\n".join(lines[:25]) + ("\n  ..." if len(lines) > 25 else ""), markup=False, highlight=False
        )
        out.print()
    out.print(
        f"{len(rendered)} messages to {len({m.recipient for m in rendered})} recipients covering "
        f"{len(rows):,} alerts (re-running the same night queues nothing new)."
    )

    out.rule("4. Artifacts for managers (also in the Prefect UI history)")
    from prefect.artifacts import Artifact

    artifact = cast("Artifact | None", Artifact.get("breach-summary"))  # sync call: not a coroutine
    if artifact is not None and artifact.data:
        out.print(str(artifact.data), markup=False, highlight=False)
    _backlog_from_store(engine, day)
    _next_steps(database, day, events)


def _next_steps(database: Path, day: dt.date, events: Path) -> None:
    """What to try next on the demo store (the commands a caseworker and a manager would run)."""
    out.rule("Explore the demo store")
    url = f"sqlite:///{database}"
    lines = [
        f"export EHCP_DATABASE_URL={url}",
        f".venv/bin/ehcp case list --caseworker cw-001 --as-of {day}     # one caseworker's cases",
        f".venv/bin/ehcp case show C0000004 --as-of {day}                # every clock and why",
        f".venv/bin/ehcp backlog --as-of {day}",
        f".venv/bin/ehcp nightly --as-of {day + dt.timedelta(days=1)}    # the next night, without Prefect",
        ".venv/bin/ehcp dispatch --dry-run                                # what would be sent",
        f".venv/bin/ehcp report --from 2025-12 --to 2026-11 --as-of {day} --output {database.parent}/reports",
        f"# the review history the store was given: {events.name} (one row per event)",
    ]
    out.print("\n".join(lines), markup=False, highlight=False)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _print_night(night: dict[str, object]) -> None:
    import pandas as pd

    from ehcp_workflow.output import print_table

    counts = night.get("clocks_by_status")
    if isinstance(counts, dict):
        print_table(pd.DataFrame([counts]), out, title="Clocks by status")
    out.print(
        f"open requests: {night.get('open_requests')}, oldest: {night.get('oldest_open_weeks')} weeks, "
        f"alerts queued: {night.get('alerts_queued')}"
    )


def _backlog_from_store(engine, day: dt.date) -> None:  # type: ignore[no-untyped-def]
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.db import load_caseload as load_from_store

    evaluation = evaluate_caseload(load_from_store(engine), load_catalogue(), as_of=day)
    _backlog_table(evaluation, day)


def _backlog_table(evaluation, day: dt.date) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from ehcp_workflow.output import print_table

    open_ = evaluation.open
    teams = evaluation.cases["team"].to_numpy(dtype=object, na_value="(none)")[open_]
    bands = evaluation.band[open_]
    from ehcp_workflow.settings import get_settings

    labels = list(get_settings().conventions.band_labels)
    table = pd.crosstab(pd.Series(teams, name="team"), pd.Series(bands, name="band"))
    table = table.reindex(columns=labels, fill_value=0)
    table.insert(0, "team", table.index)
    out.rule(f"5. Backlog at {day.isoformat()}: open requests by team and weeks waiting")
    print_table(table, out)
    weeks = evaluation.weeks_waiting[open_]
    if len(weeks):
        out.print(f"{int(open_.sum()):,} open requests; the oldest has waited {int(weeks.max())} weeks.")
