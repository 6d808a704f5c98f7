"""``ehcp backlog``: open requests for assessment by waiting band, team and caseworker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ehcp_workflow.cli.common import err, out
from ehcp_workflow.cli.store import AsOfOption, DatabaseUrlOption, as_of_date, open_store

if TYPE_CHECKING:
    import pandas as pd

UNASSIGNED = "(none)"


def backlog(
    as_of: AsOfOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="At most N caseworkers, most open first (0: all)")
    ] = 25,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Open requests (no final plan, not refused, withdrawn or exported) by band, team and caseworker."""
    from ehcp_workflow.cli.progress import Steps
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.settings import get_settings

    settings = get_settings()
    day = as_of_date(as_of, settings)
    with open_store(database_url) as engine, Steps(err, total=2) as steps:
        steps.step("Reading the caseload")
        caseload = load_caseload(engine)
        steps.step(f"Evaluating {len(caseload):,} case(s)")
        evaluation = evaluate_caseload(
            caseload, load_catalogue(), as_of=day, conventions=settings.conventions
        )
    labels = list(settings.conventions.band_labels)
    frame = open_requests(evaluation)
    out.rule(Text(f"Backlog at {day.isoformat()}: {len(frame):,} open request(s)"))
    _print_crosstab(frame, None, labels, "By band", limit=0)
    _print_crosstab(frame, "team", labels, "By team", limit=0)
    _print_crosstab(frame, "caseworker", labels, "By caseworker", limit=limit)
    _print_clock_totals(evaluation)
    if len(frame):
        oldest = frame.sort_values(
            ["weeks_waiting", "request_received", "case_ref"], ascending=[False, True, True]
        )
        row = oldest.iloc[0]
        out.print(
            Text.assemble(
                "Oldest open request: ",
                (str(row["case_ref"]), "bold"),
                f", received {row['request_received'].date().isoformat()}, waiting ",
                (f"{int(row['weeks_waiting'])} weeks", "bold"),
                f" ({row['band']}; team {row['team']}, caseworker {row['caseworker']}).",
            )
        )


def open_requests(evaluation: Any) -> pd.DataFrame:
    """The open requests: case, team, caseworker, received, weeks waiting and band.

    :func:`ehcp_workflow.core.figures.open_requests`: the one definition the alerts, artifacts and the
    weekly summary count too.
    """
    from ehcp_workflow.core.figures import open_requests as the_open_requests

    return the_open_requests(evaluation)


def _print_clock_totals(evaluation: Any) -> None:
    """The overdue and unevaluable clocks, counted as every other output counts them."""
    from ehcp_workflow.core.figures import invalid_clocks, overdue_clocks

    overdue = overdue_clocks(evaluation)
    out.print(
        Text.assemble(
            "Clocks overdue (advice included): ",
            (f"{len(overdue):,}", "bold"),
            f"; cannot be evaluated: {len(invalid_clocks(evaluation)):,} (running totals, as of "
            f"{evaluation.as_of.isoformat()}).",
        )
    )


def backlog_counts(frame: pd.DataFrame, by: str | None, labels: list[str]) -> pd.DataFrame:
    """Open requests per band (columns, in band order) for each value of ``by``, with a total."""
    import pandas as pd

    bands = pd.Categorical(frame["band"], categories=labels)
    if by is None:
        counts = pd.Series(bands).value_counts(sort=False).reindex(labels, fill_value=0)
        table = pd.DataFrame([counts.to_numpy()], columns=labels, index=pd.Index(["all"], name="group"))
    else:
        table = pd.crosstab(
            pd.Series(frame[by].to_numpy(), name=by), pd.Series(bands, name="band"), dropna=False
        )
        table = table.reindex(columns=labels, fill_value=0)
    table["total"] = table.sum(axis=1)
    if by is not None:
        table = table.sort_values("total", ascending=False, kind="stable")
    return table.astype("int64")


def _print_crosstab(
    frame: pd.DataFrame, by: str | None, labels: list[str], title: str, *, limit: int
) -> None:
    table_data = backlog_counts(frame, by, labels)
    shown = table_data if limit == 0 else table_data.head(limit)
    table = Table(title=title, header_style="bold", title_justify="left")
    table.add_column(by or "")
    for name in [*labels, "total"]:
        table.add_column(name, justify="right")
    for key, row in shown.iterrows():
        table.add_row(Text(str(key)), *(f"{int(v):,}" for v in row.to_numpy()))
    out.print(table)
    if len(shown) < len(table_data):
        out.print(Text(f"... and {len(table_data) - len(shown):,} more (--limit 0 for all)", style="dim"))
