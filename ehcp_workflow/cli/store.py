"""Shared pieces of the commands that use the case store: the ``--database-url`` option, opening
the store with friendly errors, "today", and reading or evaluating one case.

Nothing heavy is imported at module level (SQLAlchemy, Alembic, pandas): ``ehcp --help`` must stay
quick, so every function imports what it needs when it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from ehcp_workflow.cli.common import EXIT_BAD_INPUT, err, parse_date

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from ehcp_workflow.core.caseload import Caseload
    from ehcp_workflow.core.explain import CaseExplanation
    from ehcp_workflow.db import Event
    from ehcp_workflow.db.fields import FieldValue
    from ehcp_workflow.settings import Settings

#: Exit code when the database itself is the problem at run time (locked, connection lost).
EXIT_DATABASE = 1

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (default: EHCP_DATABASE_URL, else sqlite:///ehcp.db)",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Evaluate as at the end of this date (YYYY-MM-DD; default: today)"),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who is making the change, for the event log (default: your user name)"),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``message`` (rich markup) on stderr and exit with ``code``."""
    err.print(message)
    raise typer.Exit(code)


def resolve_url(url: str | None) -> str:
    if url:
        return url
    from ehcp_workflow.settings import get_settings

    return get_settings().database_url


def shown_url(url: str) -> str:
    """``url`` for messages, password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as given (it holds no usable password)
        return url


def actor_name(actor: str | None) -> str:
    if actor and actor.strip():
        return actor.strip()
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in a bare container
        return "unknown"


def today(settings: Settings | None = None) -> dt.date:
    """Today's date in the council's time zone (the engine itself never reads the clock)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if settings is None:
        from ehcp_workflow.settings import get_settings

        settings = get_settings()
    try:
        return dt.datetime.now(ZoneInfo(settings.timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return dt.date.today()


def as_of_date(value: str | None, settings: Settings | None = None) -> dt.date:
    return today(settings) if value is None else parse_date(value)


def _not_ready(url: str, detail: str) -> NoReturn:
    fail(
        f"[bold red]The database at {shown_url(url)} is not ready:[/] {detail}\n"
        f"Run [bold]ehcp db upgrade --database-url '{shown_url(url)}'[/] (or with EHCP_DATABASE_URL set) "
        "to create or upgrade it."
    )


@contextmanager
def open_store(url: str | None) -> Iterator[Engine]:
    """An engine on a store at the head revision, or a clear message and exit code 2.

    A missing SQLite file is reported (not created empty, as opening it would), an unreachable
    server names the URL, and a database that is not at the code's revision tells the user to run
    ``ehcp db upgrade``. Database errors while the command runs become one line and exit code 1.
    """
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from ehcp_workflow.db import DatabaseNotCurrent, check_database, make_engine
    from ehcp_workflow.db.engine import normalise_url, sqlite_path

    resolved = resolve_url(url)
    try:
        parsed = normalise_url(resolved)
    except ArgumentError:
        fail(f"[bold red]Not a database URL:[/] {resolved!r} (e.g. sqlite:///ehcp.db)")
    path = sqlite_path(parsed)
    if path is not None and not path.exists():
        _not_ready(resolved, f"there is no database file {path}.")
    try:
        engine = make_engine(parsed)
    except (ValueError, ImportError) as exc:
        fail(f"[bold red]Cannot use {shown_url(resolved)}:[/] {exc}")
    try:
        try:
            check_database(engine)
        except DatabaseNotCurrent as exc:
            _not_ready(resolved, str(exc).split(": run")[0] + ".")
        except DBAPIError as exc:
            fail(f"[bold red]Cannot open the database at {shown_url(resolved)}:[/] {_first_line(exc)}")
        try:
            yield engine
        except DBAPIError as exc:
            fail(f"[bold red]Database error:[/] {_first_line(exc)}", EXIT_DATABASE)
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def persons_cases(engine: Engine, person_ref: str) -> list[str]:
    """The case references of the person ``person_ref`` (a UPN typed where a case ref was wanted).

    A small read of our own: the store's API finds cases by case reference only.
    """
    from sqlalchemy import select

    from ehcp_workflow.db.models import EhcpCase, Person, table_of

    case, person = table_of(EhcpCase), table_of(Person)
    stmt = (
        select(case.c.case_ref)
        .join(person, person.c.id == case.c.person_id)
        .where(person.c.person_ref == person_ref)
        .order_by(case.c.case_ref)
        .limit(20)
    )
    with engine.connect() as conn:
        return [str(r) for r in conn.execute(stmt).scalars()]


def case_not_found(engine: Engine, case_ref: str) -> NoReturn:
    cases = persons_cases(engine, case_ref)
    hint = f" {case_ref} is a person; their case(s): {', '.join(cases)}." if cases else ""
    fail(f"[bold red]No case {case_ref!r} in the store.[/]{hint}")


def load_case(engine: Engine, case_ref: str) -> Caseload:
    """The one case ``case_ref`` as a caseload (the store reads only that case's rows)."""
    from ehcp_workflow.db import load_caseload

    caseload = load_caseload(engine, case_refs=[case_ref])
    if not len(caseload):
        case_not_found(engine, case_ref)
    return caseload


def evaluate_one(caseload: Caseload, as_of: dt.date, settings: Settings) -> CaseExplanation:
    """The engine over a one-case caseload, explained (the nightly's evaluator, not a second one)."""
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.core.explain import explain_case

    evaluation = evaluate_caseload(caseload, load_catalogue(), as_of=as_of, conventions=settings.conventions)
    return explain_case(evaluation, 0)


@dataclass(frozen=True)
class Who:
    """Who changes the store, from where, and why (the event log's columns)."""

    actor: str
    source: str
    reason: str


def record_values(session: Session, case_ref: str, values: Mapping[str, FieldValue], who: Who) -> list[Event]:
    """Set several fields of one case in one unit of work (all or nothing); return the events.

    One field goes through the public :func:`~ehcp_workflow.db.record_event`. The store's API has
    no public call for several fields at once (``assign_case`` does it for two fixed ones), so a
    decision and its date - which must land together or not at all - use the same private writer
    that ``record_event`` and ``assign_case`` use.
    """
    from ehcp_workflow.db import case_events, record_event

    if len(values) == 1:
        ((name, value),) = values.items()
        return record_event(
            session, case_ref, name, value, actor=who.actor, source=who.source, reason=who.reason
        )
    from ehcp_workflow.db import dao
    from ehcp_workflow.db.types import utcnow
    from ehcp_workflow.db.write import WriteContext

    ctx = WriteContext(actor=who.actor, source=who.source, reason=who.reason, now=utcnow())

    def work(conn: Any) -> int:
        return dao._change_case(conn, case_ref, dict(values), ctx)

    count = dao._unit_of_work(session, work)
    return case_events(session, case_ref)[-count:] if count else []
