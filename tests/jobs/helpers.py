"""A small demo council in a real store, and ways to look at what the jobs wrote.

Shared by ``tests/jobs`` (library level) and ``tests/flows`` (end to end), so both test the same
council. No Prefect here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.db import make_engine, upgrade_database, upsert_caseload, upsert_people
from ehcp_workflow.db.models import Alert, ClockState, EventLog, Person, table_of
from ehcp_workflow.demo import generate_council
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.notify.model import Message

ALERT = table_of(Alert)
CLOCK_STATE = table_of(ClockState)
EVENT_LOG = table_of(EventLog)
PERSON = table_of(Person)

#: The first night (a Tuesday, so no weekly "still overdue" repeats) and the instant it runs.
AS_OF = dt.date(2024, 10, 15)
NOW = dt.datetime(2024, 10, 15, 1, 0, tzinfo=dt.UTC)
#: A week before: the night the store went live (its opening night, for tests of ordinary nights).
OPENED = AS_OF - dt.timedelta(days=7)
#: A week later: clocks that were running on AS_OF have passed their due dates.
LATER = AS_OF + dt.timedelta(days=7)
LATER_NOW = NOW + dt.timedelta(days=7)

N_CASES = 100
SEED = 18
#: Cases (with alerts due soon) whose caseworker is blanked, so their alerts go to the team digest.
UNASSIGNED = ("C0000010", "C0000048")

#: Personal data the store holds (the ``person`` table) and no message may ever carry.
FORENAMES = ("Amelia", "Oluwaseun", "Ffion", "Zbigniew", "Marigold")
SURNAMES = ("Hartley-Jones", "Featherstonehaugh", "Okonkwo", "Przybylski", "Quennell")
#: Identifiers: UPNs (13 characters, check letter first) and ULNs (10 digits) are personal too.
UPNS = ("A999260000401", "K999260000407", "C201250000301")
ULNS = ("9999999991", "9999999982")
#: Birth dates in 2006-2008: older than any date the demo council's clocks can show (its requests
#: start in 2013), so a date in a message that matches one is a leak, not a coincidence.
BIRTH_DATES = tuple(dt.date(2006, 1, 9) + dt.timedelta(days=97 * i) for i in range(11))
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def council(n: int = N_CASES, seed: int = SEED, as_of: dt.date = AS_OF) -> Caseload:
    """The demo council, with a few cases that have a team but no caseworker."""
    caseload = generate_council(n, seed, as_of)
    cases = caseload.cases.copy()
    cases.loc[cases["case_ref"].isin(UNASSIGNED), "caseworker"] = pd.NA
    return Caseload(cases=cases, advice=caseload.advice, source=caseload.source)


def people(caseload: Caseload) -> pd.DataFrame:
    """A name and birth date for every child of ``caseload`` (what ``upsert_people`` stores)."""
    refs = caseload.cases["person_ref"].astype(str).tolist()
    return pd.DataFrame(
        {
            "person_ref": refs,
            "forename": [FORENAMES[i % len(FORENAMES)] for i in range(len(refs))],
            "surname": [SURNAMES[i % len(SURNAMES)] for i in range(len(refs))],
            "birth_date": pd.to_datetime([BIRTH_DATES[i % len(BIRTH_DATES)] for i in range(len(refs))]),
            "postcode": ["ZZ99 3WZ"] * len(refs),
            "upn": [UPNS[i % len(UPNS)] for i in range(len(refs))],
            "uln": [ULNS[i % len(ULNS)] for i in range(len(refs))],
        }
    )


def load_store(url: str, caseload: Caseload | None = None) -> Caseload:
    """Migrate the database at ``url`` and load the council (cases, advice and people) into it."""
    caseload = caseload or council()
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            upsert_caseload(session, caseload, actor="test", reason="demo council")
        with Session(engine) as session:
            upsert_people(session, people(caseload), actor="test")
    finally:
        engine.dispose()
    return caseload


# --- reading back ----------------------------------------------------------------------------------


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        n: int = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        return n


def alerts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(ALERT).order_by(ALERT.c.alert_key))]


def alert_keys(engine: Engine) -> list[str]:
    return [a["alert_key"] for a in alerts(engine)]


#: Outbox statuses still to be delivered (``ehcp_workflow.db.outbox.PENDING``), and the status of
#: an opening night's per-clock alerts, which are covered by its opening messages and never sent.
PENDING = ("queued", "failed")
SUPPRESSED = "suppressed"


def pending(engine: Engine) -> list[dict[str, Any]]:
    """The outbox rows still to be delivered (queued or failed), by key."""
    return [a for a in alerts(engine) if a["status"] in PENDING]


def suppressed(engine: Engine) -> list[dict[str, Any]]:
    """The outbox rows an opening night suppressed (kept for their keys, never to be sent)."""
    return [a for a in alerts(engine) if a["status"] == SUPPRESSED]


def opened_then_night(engine: Engine) -> list[dict[str, Any]]:
    """Queue what dispatch finds after the store's opening night (``OPENED``) and an ordinary night
    (``AS_OF``), with no dispatch between them; returns the pending rows.

    The outbox then holds both kinds of pending row: the opening night's pre-rendered messages
    (opening position, worklists: kind ``message``, one row each) and ``AS_OF``'s per-clock alerts
    (new breaches, due soon; one row per recipient of an alert). The opening night's own per-clock
    alerts are ``suppressed``: dispatch must never claim or send them.
    """
    run_nightly(engine, as_of=OPENED, now=NOW - (AS_OF - OPENED))
    run_nightly(engine, as_of=AS_OF, now=NOW)
    rows = pending(engine)
    kinds = {a["kind"] for a in rows}
    assert "message" in kinds and kinds - {"message"}, f"expected messages and per-clock alerts: {kinds}"
    assert suppressed(engine), "the opening night suppressed no per-clock alerts"
    return rows


def clock_state(engine: Engine) -> list[tuple[Any, ...]]:
    """Every stored clock state (all columns but the id), sorted: equal lists mean an unchanged table."""
    c = CLOCK_STATE.c
    cols = [c.case_id, c.clock, c.instance, c.status, c.due_date, c.band, c.as_of, c.updated_at]
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(*cols)))


def clock_events(engine: Engine) -> list[dict[str, Any]]:
    """The nightly check's events (``clock.<id>`` and ``backlog.band``), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENT_LOG).where(EVENT_LOG.c.source == "flow:nightly_compliance").order_by(EVENT_LOG.c.id)
        )
        return [dict(r._mapping) for r in rows]


def table_counts(engine: Engine) -> dict[str, int]:
    return {
        "alert": count(engine, ALERT),
        "clock_state": count(engine, CLOCK_STATE),
        "event_log": count(engine, EVENT_LOG),
    }


def stored_people(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(PERSON))]


# --- personal data ---------------------------------------------------------------------------------


def date_spellings(day: dt.date) -> tuple[str, ...]:
    """Every way a message might write ``day``."""
    short, long = _MONTHS[day.month - 1], _MONTH_NAMES[day.month - 1]
    return (
        day.isoformat(),
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        f"{day.day} {short} {day.year}",
        f"{day.day:02d} {short} {day.year}",
        f"{day.day} {long} {day.year}",
    )


def personal_data_texts() -> list[str]:
    """Every personal value loaded by :func:`people`, as it might be written."""
    texts = [*FORENAMES, *SURNAMES, *(s.split("-")[0] for s in SURNAMES), "ZZ99 3WZ", *UPNS, *ULNS]
    for day in BIRTH_DATES:
        texts.extend(date_spellings(day))
    return texts


def assert_no_personal_data(texts: Iterable[str | None], *, where: str) -> None:
    forbidden = personal_data_texts()
    for text in texts:
        if not text:
            continue
        leaked = [value for value in forbidden if value in text]
        assert not leaked, f"personal data {leaked} in {where}: {text[:200]!r}"


def message_texts(messages: Iterable[Message]) -> list[str]:
    """Everything a message carries: title, both renderings and its attachments (the CSV worklist)."""
    return [
        t
        for m in messages
        for t in (m.title, m.body, m.markdown, *(a.filename + "\n" + a.content for a in m.attachments))
        if t
    ]
