"""The ``ehcp`` command line (typer + rich). No Prefect import on any path here.

Each command group lives in its own module and is registered below; heavy imports happen inside
the commands so that ``ehcp --help`` and ``ehcp case show`` answer quickly.
"""

from __future__ import annotations

import typer

from ehcp_workflow.cli.backlog import backlog
from ehcp_workflow.cli.cases import case_app
from ehcp_workflow.cli.clocks import clocks
from ehcp_workflow.cli.db import db_app
from ehcp_workflow.cli.demo import demo, demo_data
from ehcp_workflow.cli.exports import export_app
from ehcp_workflow.cli.importing import import_file
from ehcp_workflow.cli.nightly import dispatch, nightly
from ehcp_workflow.cli.reports import phase_transfer, report
from ehcp_workflow.cli.sen2 import sen2_app

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
app.add_typer(sen2_app, name="sen2")
app.add_typer(db_app, name="db")
app.command("import")(import_file)
app.add_typer(case_app, name="case")
app.add_typer(export_app, name="export")
app.command("backlog")(backlog)
app.command("report")(report)
app.command("phase-transfer")(phase_transfer)
app.command("nightly")(nightly)
app.command("dispatch")(dispatch)


def main() -> None:
    app()
