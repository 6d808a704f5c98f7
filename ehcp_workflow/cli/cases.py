"""``ehcp case show|list|record|assign``: a caseworker's view of the case store.

``show`` and ``record`` read one case only (by reference, through the store's indexed lookup) and
explain it with the per-case evaluator; ``list`` runs the vectorised evaluator over the caseload,
or over the cases of one caseworker or team when asked.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.text import Text

from ehcp_workflow.cli.case_view import (
    MISSING,
    print_clock_changes,
    print_clocks,
    print_events,
    print_explanations,
    print_header,
)
from ehcp_workflow.cli.common import err, out, parse_date, report_problems
from ehcp_workflow.cli.events import CaseEvent, Change, build_change, events_help
from ehcp_workflow.cli.record_checks import refuse_future, refuse_implausible
from ehcp_workflow.cli.store import (
    ActorOption,
    AsOfOption,
    DatabaseUrlOption,
    Who,
    actor_name,
    as_of_date,
    case_not_found,
    evaluate_one,
    fail,
    load_case,
    open_store,
    record_values,
    today,
)
from ehcp_workflow.core.statuses import Status

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from ehcp_workflow.core.caseload import Caseload
    from ehcp_workflow.db import CaseRecord, Event
    from ehcp_workflow.db.fields import FieldValue
    from ehcp_workflow.settings import Settings

case_app = typer.Typer(
    name="case",
    help="Look up, list, record and assign cases in the store.",
    no_args_is_help=True,
)


#: SEN2 cases are named by pseudonym; support staff may type the child's UPN (or ULN) form instead.
REF_HELP = "The case reference (a SEN2 case also as <UPN>/<n>)"


def _settings() -> Settings:
    from ehcp_workflow.settings import get_settings

    return get_settings()


# --- show -----------------------------------------------------------------------------------------


@case_app.command("show")
def show(
    case_ref: Annotated[str, typer.Argument(metavar="REF", help=REF_HELP)],
    as_of: AsOfOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """A case's timeline: its event log, every clock with why its dates are what they are, its band."""
    from sqlalchemy.orm import Session

    from ehcp_workflow.db import case_events

    settings = _settings()
    day = as_of_date(as_of, settings)
    with open_store(database_url) as engine:
        case_ref = _resolve(engine, case_ref)
        caseload = load_case(engine, case_ref)
        with Session(engine) as session:
            events = case_events(session, case_ref)
    evaluation = evaluate_one(caseload, day, settings)
    print_header(caseload, evaluation)
    print_clocks(evaluation)
    print_explanations(evaluation)
    print_events(events)


def _resolve(engine: Engine, case_ref: str) -> str:
    """The case's ref, accepting a SEN2 case's ``<UPN>/<n>`` for its pseudonym (see db.pseudonyms)."""
    from ehcp_workflow.db.pseudonyms import resolve_case_ref

    with engine.connect() as conn:
        return resolve_case_ref(conn, case_ref)


# --- list -----------------------------------------------------------------------------------------


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


#: Columns of ``ehcp case list``: the case, its backlog position and its most pressing clock.
LIST_COLUMNS: tuple[str, ...] = (
    "case_ref",
    "person_ref",
    "team",
    "caseworker",
    "request_received",
    "weeks_waiting",
    "band",
    "clock",
    "instance",
    "due_date",
    "status",
    "days_overdue",
    "other_clocks",
)
_URGENCY = {
    Status.OVERDUE.value: 0,
    Status.INVALID.value: 1,
    Status.DUE_SOON.value: 2,
    Status.PENDING.value: 3,
}


def case_refs_where(engine: Engine, *, caseworker: str | None, team: str | None) -> list[str]:
    """The references of the cases held by ``caseworker`` and/or ``team`` (indexed columns).

    Our own small read: ``load_caseload`` filters by case reference only, and ``list_cases`` builds
    a Python record per case, which is slow for a whole team.
    """
    from sqlalchemy import select

    from ehcp_workflow.db.models import EhcpCase, table_of

    case = table_of(EhcpCase)
    stmt = select(case.c.case_ref)
    if caseworker is not None:
        stmt = stmt.where(case.c.caseworker == caseworker)
    if team is not None:
        stmt = stmt.where(case.c.team == team)
    with engine.connect() as conn:
        return [str(r) for r in conn.execute(stmt).scalars()]


@case_app.command("list")
def list_(
    caseworker: Annotated[
        str | None, typer.Option("--caseworker", help="Only this caseworker's cases")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only this team's cases")] = None,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", "-s", help="Only cases with a clock in this status (repeatable)"),
    ] = None,
    due_within: Annotated[
        int | None,
        typer.Option("--due-within", min=0, help="Only cases with a running clock due within N days"),
    ] = None,
    clock: Annotated[
        list[str] | None, typer.Option("--clock", "-c", help="Only these clocks (repeatable)")
    ] = None,
    band: Annotated[
        str | None, typer.Option("--band", help="Only open requests in this waiting band (e.g. over_20)")
    ] = None,
    as_of: AsOfOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="At most N cases (0: all)")] = 50,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format")] = ListFormat.table,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Cases matching every filter, most pressing first, each with its most pressing clock.

    Clock filters (--status, --due-within, --clock) look at running clocks (pending, due soon,
    overdue) unless --status names others; without them every case is listed with its next clock.
    """
    from ehcp_workflow.cli.progress import Steps
    from ehcp_workflow.core.catalogue import load_catalogue
    from ehcp_workflow.core.evaluator import evaluate_caseload
    from ehcp_workflow.db import load_caseload
    from ehcp_workflow.output import print_table, write_csv, write_json

    settings = _settings()
    day = as_of_date(as_of, settings)
    catalogue = load_catalogue()
    if clock:
        unknown = sorted(set(clock) - set(catalogue.ids))
        if unknown:
            raise typer.BadParameter(f"unknown clock(s): {', '.join(unknown)}", param_hint="--clock")
    labels = settings.conventions.band_labels
    if band is not None and band not in labels:
        raise typer.BadParameter(f"{band!r} is not one of {', '.join(labels)}", param_hint="--band")

    with open_store(database_url) as engine, Steps(err, total=3) as steps:
        steps.step("Reading the caseload")
        refs = None
        if caseworker is not None or team is not None:
            refs = case_refs_where(engine, caseworker=caseworker, team=team)
        caseload = load_caseload(engine, case_refs=refs)
        steps.step(f"Evaluating {len(caseload):,} case(s)")
        evaluation = evaluate_caseload(caseload, catalogue, as_of=day, conventions=settings.conventions)
        steps.step("Selecting")
        frame = _case_rows(evaluation, clocks=clock, statuses=status, due_within=due_within, band=band)
    total = len(frame)
    shown = frame if limit == 0 else frame.head(limit)
    if fmt is ListFormat.csv:
        write_csv(shown, sys.stdout)
    elif fmt is ListFormat.json:
        write_json(shown, sys.stdout)
    else:
        print_table(shown, out, columns=LIST_COLUMNS, title=f"Cases at {day.isoformat()}")
    more = f" (showing {len(shown):,}; --limit 0 for all)" if len(shown) < total else ""
    err.print(f"{total:,} matching case(s){more}.", style="dim", highlight=False)


def _case_rows(
    evaluation: Any,
    *,
    clocks: Sequence[str] | None,
    statuses: Sequence[Status] | None,
    due_within: int | None,
    band: str | None,
) -> pd.DataFrame:
    """One row per case: identity, backlog position and the most pressing matching clock."""
    import numpy as np
    import pandas as pd

    from ehcp_workflow.core.statuses import OPEN_STATUSES

    cases = evaluation.cases
    rows = pd.DataFrame(
        {
            "case_ref": cases["case_ref"].to_numpy(dtype=object, na_value=None),
            "person_ref": cases["person_ref"].to_numpy(dtype=object, na_value=None),
            "team": cases["team"].to_numpy(dtype=object, na_value=None),
            "caseworker": cases["caseworker"].to_numpy(dtype=object, na_value=None),
            "request_received": cases["request_received"].to_numpy(),
            "weeks_waiting": pd.array(
                np.where(evaluation.open, evaluation.weeks_waiting, np.nan), dtype="Int64"
            ),
            "band": evaluation.band,
        }
    )
    if band is not None:
        rows = rows[(rows["band"] == band).to_numpy(dtype=bool)]

    filtered = bool(clocks or statuses or due_within is not None)
    wanted = list(statuses) if statuses else sorted(OPEN_STATUSES)
    clock_rows = evaluation.to_frame(clocks=clocks, statuses=wanted)
    if due_within is not None and len(clock_rows):
        due = clock_rows["due_date"].to_numpy().astype("datetime64[D]")
        start = np.datetime64(evaluation.as_of, "D")
        ok = (due >= start) & (due <= start + np.timedelta64(due_within, "D"))
        clock_rows = clock_rows[ok & np.isin(clock_rows["status"].to_numpy(), sorted(OPEN_STATUSES))]
    clock_rows = clock_rows.assign(
        _rank=clock_rows["status"].map(_URGENCY).fillna(9).to_numpy(),
        _due=pd.to_datetime(clock_rows["due_date"]),
    ).sort_values(["case_ref", "_rank", "_due"], na_position="last", kind="stable")
    counts = clock_rows.groupby("case_ref", sort=False).size()
    first = clock_rows.drop_duplicates("case_ref", keep="first").set_index("case_ref")
    # no case at all (e.g. --caseworker nobody) gives an empty, float-typed index: merge refuses it
    first.index = first.index.astype(object)
    rows = rows.astype({"case_ref": object})
    keep = ["clock", "instance", "due_date", "status", "days_overdue", "_rank", "_due"]
    merged = rows.merge(
        first[keep], how="inner" if filtered else "left", left_on="case_ref", right_index=True
    )
    merged["other_clocks"] = pd.array(
        merged["case_ref"].map(counts).fillna(1).to_numpy() - 1, dtype="Int64"
    ).astype("Int64")
    if not filtered:
        merged.loc[merged["clock"].isna(), "other_clocks"] = pd.NA
    merged = merged.sort_values(["_rank", "_due", "case_ref"], na_position="last", kind="stable")
    return merged[list(LIST_COLUMNS)].reset_index(drop=True)


# --- record ---------------------------------------------------------------------------------------


@case_app.command(
    "record",
    short_help="Record an event on a case and show the clocks it changed.",
    help="Record an event on a case (with an event-log entry) and show the clocks it changed.\n\n"
    f"EVENT is one of:\n\n{events_help()}",
)
def record(
    case_ref: Annotated[str, typer.Argument(metavar="REF", help=REF_HELP)],
    event: Annotated[CaseEvent, typer.Argument(metavar="EVENT", help="What happened (see above)")],
    date: Annotated[str, typer.Argument(metavar="DATE", help="When it happened (YYYY-MM-DD)")],
    value: Annotated[
        str | None, typer.Option("--value", help="The decision, outcome, provider or clock (see above)")
    ] = None,
    ground: Annotated[
        str | None, typer.Option("--ground", help="Exception ground a-g or 'unspecified'")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the event log")] = "",
    actor: ActorOption = None,
    as_of: AsOfOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    from sqlalchemy.orm import Session

    from ehcp_workflow.core.caseload import records
    from ehcp_workflow.db import CaseNotFound, CaseRecord, get_case
    from ehcp_workflow.problems import InputError

    day = parse_date(date, "DATE")
    settings = _settings()
    when = as_of_date(as_of, settings)
    who = Who(actor=actor_name(actor), source="command:record", reason=reason)
    with open_store(database_url) as engine:
        case_ref = _resolve(engine, case_ref)
        before_caseload = load_case(engine, case_ref)
        values = cast("dict[str, FieldValue]", records(before_caseload.cases)[0])
        current = CaseRecord(case_ref, values)
        if event is CaseEvent.advice_received:  # needs the requests' numbers, which only the store has
            with Session(engine) as session:
                current = get_case(session, case_ref)
        change = build_change(event, day, value, ground, current)
        refuse_future(case_ref, event, change, day, today(settings))
        refuse_implausible(case_ref, event, day, today(settings))
        before = evaluate_one(before_caseload, when, settings)
        with Session(engine) as session:
            try:
                events = _apply(session, case_ref, change, day, who, current)
            except InputError as exc:
                report_problems(exc.problems)
                fail(f"[bold red]Refused:[/] nothing was recorded on {case_ref}.")
            except CaseNotFound:
                case_not_found(engine, case_ref)
            except ValueError as exc:  # the store's own checks outside InputError
                fail(f"[bold red]Refused:[/] {exc}")
        if not events:
            out.print(Text(f"Nothing changed: {case_ref} already records that."))
            return
        after = evaluate_one(load_case(engine, case_ref), when, settings)
    print_events(events, title=f"Recorded {event.value} on {case_ref}")
    print_clock_changes(before, after)
    _notes(before_caseload, change, day, when)


def _writes(change: Change, current: CaseRecord) -> list[dict[str, FieldValue]]:
    """The change as the store's units of work: one, except for a brand-new exception.

    The store's writer inserts a new exception row with its ground only and drops a start or end
    date written in the same unit of work (while logging it), so a new ground is written first
    and its start second.
    """
    from ehcp_workflow.core.caseload import EXCEPTION_COLUMNS

    values = dict(change.values)
    new_grounds = {
        n: v for n, v in values.items() if n in EXCEPTION_COLUMNS and current.fields.get(n) is None
    }
    rest = {n: v for n, v in values.items() if n not in new_grounds}
    if new_grounds and rest:
        return [new_grounds, rest]
    return [values]


def _apply(
    session: Any, case_ref: str, change: Change, day: dt.date, who: Who, current: CaseRecord
) -> list[Event]:
    from ehcp_workflow.db import case_events, request_advice

    if change.advice_provider is None:
        events: list[Event] = []
        for values in _writes(change, current):
            events += record_values(session, case_ref, values, who)
        return events
    seen = {e.id for e in case_events(session, case_ref)}
    session.rollback()  # end the read so the write takes the lock from a fresh transaction
    request_advice(
        session,
        case_ref,
        provider=change.advice_provider,
        requested=day,
        exception=change.advice_ground,
        actor=who.actor,
        source=who.source,
        reason=who.reason,
    )
    return [e for e in case_events(session, case_ref) if e.id not in seen]


def _notes(caseload: Caseload, change: Change, day: dt.date, when: dt.date) -> None:
    from ehcp_workflow.core.caseload import PLANNED_DATE_COLUMNS

    dated = [n for n, v in change.values.items() if isinstance(v, dt.date) and n not in PLANNED_DATE_COLUMNS]
    if day > when and (dated or change.advice_provider):
        err.print(
            f"Note: {day.isoformat()} is after {when.isoformat()}; the clocks treat it as not having "
            "happened until then.",
            style="yellow",
            highlight=False,
        )
    names = set(change.values) | ({"advice"} if change.advice_provider else set())
    blind = sorted(names & caseload.unrecorded_for(0))
    if blind:
        err.print(
            f"Note: this case's source ({caseload.source or 'its last import'}) does not record "
            f"{', '.join(blind)}, so the clocks ending on it stay 'not applicable' for this case "
            "(the store keeps the value and its event).",
            style="yellow",
            highlight=False,
        )


# --- assign ---------------------------------------------------------------------------------------


@case_app.command("assign")
def assign(
    case_ref: Annotated[str, typer.Argument(metavar="REF", help=REF_HELP)],
    caseworker: Annotated[str, typer.Option("--caseworker", help="The caseworker taking the case")],
    team: Annotated[
        str | None, typer.Option("--team", help="Their team (default: keep the case's current team)")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the event log")] = "",
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Hand a case to a caseworker (and team). The assignment history is kept."""
    from sqlalchemy.orm import Session

    from ehcp_workflow.db import CaseNotFound, assign_case, get_case
    from ehcp_workflow.problems import InputError

    if not caseworker.strip():
        raise typer.BadParameter("name the caseworker", param_hint="--caseworker")
    with open_store(database_url) as engine, Session(engine) as session:
        case_ref = _resolve(engine, case_ref)
        try:
            current = get_case(session, case_ref)
            session.rollback()
            old_worker, old_team = current.fields.get("caseworker"), current.fields.get("team")
            new_team = team.strip() if team is not None and team.strip() else old_team
            events = assign_case(
                session,
                case_ref,
                caseworker=caseworker.strip(),
                team=new_team if isinstance(new_team, str) else None,
                actor=actor_name(actor),
                source="command:assign",
                reason=reason,
            )
        except CaseNotFound:
            case_not_found(engine, case_ref)
        except InputError as exc:
            report_problems(exc.problems)
            fail(f"[bold red]Refused:[/] {case_ref} was not reassigned.")
    if not events:
        out.print(
            Text(f"Nothing changed: {case_ref} is already with {caseworker} (team {new_team or MISSING}).")
        )
        return
    out.print(
        Text(
            f"{case_ref} assigned to {caseworker.strip()} (team {new_team or MISSING}); "
            f"was {old_worker or MISSING} (team {old_team or MISSING})."
        )
    )
