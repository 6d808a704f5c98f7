"""The ``ehcp`` command line (typer + rich). No Prefect import on any path here.

Each command group lives in its own module and is registered below; heavy imports happen inside
the commands so that ``ehcp --help`` and ``ehcp case show`` answer quickly.
"""

from __future__ import annotations

import typer

from ehcp_workflow.cli.clocks import clocks
from ehcp_workflow.cli.demo import demo, demo_data

app = typer.Typer(
    name="ehcp",
    help="Statutory clocks for EHC needs assessments and EHC plans (SEND Regulations 2014).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Statutory clocks for EHC needs assessments and EHC plans (SEND Regulations 2014)."""


app.command("clocks")(clocks)
app.command("demo-data")(demo_data)
app.command("demo")(demo)


def main() -> None:
    app()
