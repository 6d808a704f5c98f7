"""The ``ehcp`` command line (typer + rich). No Prefect import on any path here.

Each command group lives in its own module and is registered below; heavy imports happen inside
the commands so that ``ehcp --help`` and ``ehcp case show`` answer quickly.
"""

from __future__ import annotations

import sys

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


#: Commands that read one case and print it: the whole process answers within 0.5 s (issue 12),
#: so they run without the cyclic collector, with one OpenBLAS thread, and end without the
#: interpreter's teardown (see main).
QUICK_COMMANDS: tuple[tuple[str, ...], ...] = (("case", "show"),)


def main() -> None:
    """The ``ehcp`` program.

    A quick command (:data:`QUICK_COMMANDS`) is one case's look-up at a caseworker's desk. Measured
    on it, besides the imports (pandas and SQLAlchemy, which it needs): ~0.08 s of full passes of
    the cyclic garbage collector over the ~500k objects those imports create, ~0.15 s of the
    interpreter's teardown freeing them again after the output was printed, and ~0.04-0.07 s of
    OpenBLAS starting (and spinning) a thread per core when numpy loads, on a busy machine. So
    for these commands the collector stays off while they run (one case: small, bounded memory),
    OpenBLAS gets one thread unless the user chose otherwise (one case: no matrix maths), and,
    once the output and logs are flushed, the process ends with its exit code at once. Every
    other command (the nightly, the imports: long, large, threaded) runs and ends as usual.
    Tests drive ``app``, not ``main``.
    """
    if tuple(sys.argv[1:3]) not in QUICK_COMMANDS:
        app()
        return
    import gc
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read once, when numpy loads (later)
    gc.disable()
    try:
        app()
        code: object = 0
    except SystemExit as exc:  # typer ends every run with one (its exit code)
        code = exc.code
    _end_now(code)


def _end_now(code: object) -> None:
    """End the process with ``code`` as ``sys.exit`` would, skipping the interpreter's teardown."""
    import logging
    import os

    if code is not None and not isinstance(code, int):
        raise SystemExit(code)  # a message as exit code: let Python print it as usual
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: what Python itself exits with when it cannot flush
        os._exit(120)
    os._exit(code or 0)
