"""Shared pieces of the command line: consoles, dates, problem reports, settings."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable

import typer
from rich.console import Console

from ehcp_workflow.problems import InputError, Problem, Severity

#: Results. Piped output gets a wide table rather than rich's 80-column default.
out = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

#: Exit code for input that cannot be used (bad file, bad value).
EXIT_BAD_INPUT = 2


def parse_date(value: str, option: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD", param_hint=option) from None


def report_problems(problems: Iterable[Problem], *, limit: int = 50) -> None:
    """Problems to stderr, errors first, so stdout only ever carries results.

    A problem quotes the file (its name, a case ref, a bad value): control characters and ANSI
    escapes in it are shown escaped, never sent to the terminal.
    """
    from ehcp_workflow.output import printable

    items = sorted(problems, key=lambda p: (p.severity != Severity.ERROR, p.file, p.location))
    for p in items[:limit]:
        style = "red" if p.severity == Severity.ERROR else "yellow"
        err.print(printable(str(p)), style=style, markup=False, highlight=False)
    if len(items) > limit:
        err.print(f"... and {len(items) - limit} more (see the full report)", style="dim")


def fail_on_input(exc: InputError) -> typer.Exit:
    report_problems(exc.problems)
    n = len(exc.errors)
    err.print(f"[bold red]Refused:[/] {n} error(s); nothing was evaluated or written.")
    return typer.Exit(EXIT_BAD_INPUT)
