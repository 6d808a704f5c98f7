"""``ehcp demo-data`` and ``ehcp demo``: a synthetic council to try everything on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

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
    """Write a realistic synthetic council (no real person's data) in the project's CSV format."""
    from ehcp_workflow.demo import generate_council, write_council_csv

    day = parse_date(as_of)
    caseload = generate_council(cases, seed, day)
    write_council_csv(caseload, path)
    err.print(f"Wrote {len(caseload):,} cases and {len(caseload.advice):,} advice requests to {path}")


def demo(
    workdir: Annotated[Path, typer.Option("--dir", help="Working folder for the demo's files")] = Path(
        ".demo"
    ),
    as_of: Annotated[str, typer.Option("--as-of", help="The night to run")] = DEFAULT_AS_OF,
    cases: Annotated[int, typer.Option("--cases", "-n", min=1)] = 20_000,
) -> None:
    """Generate a demo council and show what the engine finds: clocks, breaches and backlog."""
    from ehcp_workflow.catalogue import load_catalogue
    from ehcp_workflow.demo import generate_council, write_council_csv
    from ehcp_workflow.importers import load_caseload
    from ehcp_workflow.output import print_table
    from ehcp_workflow.statuses import Status
    from ehcp_workflow.vectorised import evaluate_caseload

    day = parse_date(as_of)
    workdir.mkdir(parents=True, exist_ok=True)
    csv = workdir / "demo-council.csv"
    write_council_csv(generate_council(cases, 1, day), csv)
    out.rule(f"1. A synthetic council of {cases:,} cases written to {csv}")
    caseload = load_caseload(csv)
    evaluation = evaluate_caseload(caseload, load_catalogue(), as_of=day)
    out.rule(f"2. Every statutory clock at {day.isoformat()} (counts by clock and status)")
    counts = evaluation.status_counts()
    counts.insert(0, "clock", counts.index)
    print_table(counts, out)
    out.rule(
        "3. A sample of what is overdue or due soon (ehcp clocks ... --status overdue --status due_soon)"
    )
    frame = evaluation.to_frame(statuses=[Status.OVERDUE, Status.DUE_SOON])
    sample = frame.sort_values(["due_date"]).groupby("clock").head(2)
    print_table(
        sample,
        out,
        columns=["case_ref", "clock", "instance", "due_date", "status", "days_overdue", "band", "regulation"],
    )
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
    out.rule(f"4. Backlog at {day.isoformat()}: open requests by team and weeks waiting")
    print_table(table, out)
    weeks = evaluation.weeks_waiting[open_]
    if len(weeks):
        out.print(f"{int(open_.sum()):,} open requests; the oldest has waited {int(weeks.max())} weeks.")
