"""A night scoped to one council of a regional store (``run_nightly(council=...)``), both backends.

The store holds two councils whose caseworker ids and team names are the same (the demo council,
split in two). A council's night must read, diff and write only its own cases' clock states: the
other council's rows stay byte for byte as they were (no store-wide delete or rewrite), and every
alert it queues is for its own recipients.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.db import make_engine
from ehcp_workflow.db.models import EhcpCase, table_of
from ehcp_workflow.jobs.nightly import run_nightly
from tests.jobs.helpers import (
    CLOCK_STATE,
    LATER,
    LATER_NOW,
    NOW,
    OPENED,
    alerts,
    clock_events,
    council,
    load_store,
)

CASE = table_of(EhcpCase)
COUNCILS = ("886", "887")


def two_councils() -> Caseload:
    demo = council()
    cases = demo.cases.copy()
    cases["la"] = [COUNCILS[i % 2] for i in range(len(cases))]
    return Caseload(cases=cases, advice=demo.advice, source=demo.source)


def states_of(engine: Engine, la: str) -> list[tuple[object, ...]]:
    c = CLOCK_STATE.c
    cols = [c.id, c.case_id, c.clock, c.instance, c.status, c.due_date, c.band, c.as_of, c.updated_at]
    stmt = select(*cols).join(CASE, CASE.c.id == c.case_id).where(CASE.c.la == la).order_by(c.id)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt)]


def cases_of(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {str(ref): str(la) for ref, la in conn.execute(select(CASE.c.case_ref, CASE.c.la)).all()}


def test_a_council_night_reads_and_writes_only_its_own_council(db_url: str) -> None:
    caseload = two_councils()
    load_store(db_url, caseload)
    engine = make_engine(db_url)
    try:
        opened = OPENED - dt.timedelta(days=1)
        first = run_nightly(engine, as_of=opened, now=NOW - dt.timedelta(days=8), council="886")
        assert first.summary.council == "886" and first.summary.opening
        assert first.summary.cases == int((caseload.cases["la"] == "886").sum())
        assert states_of(engine, "886") and not states_of(engine, "887")
        before = states_of(engine, "886")

        # the other council's first night is its own opening night, and leaves 886's rows alone
        second = run_nightly(engine, as_of=OPENED, now=NOW - dt.timedelta(days=7), council="887")
        assert second.summary.opening
        assert states_of(engine, "886") == before
        both = {la: states_of(engine, la) for la in COUNCILS}

        # an ordinary night for 887, a week on: transitions logged for 887's cases only
        later = run_nightly(engine, as_of=LATER, now=LATER_NOW, council="887")
        assert not later.summary.opening and later.summary.transitions_logged > 0
        assert states_of(engine, "886") == both["886"]
        assert states_of(engine, "887") != both["887"]
        owner = cases_of(engine)
        by_case = {e["case_id"] for e in clock_events(engine)}
        with engine.connect() as conn:
            ids = dict(conn.execute(select(CASE.c.id, CASE.c.la)).all())
        assert by_case and {ids[i] for i in by_case} == {"887"}

        # every alert queued is for the recipients of its case's council
        rows = alerts(engine)
        assert {r["recipient"].split("/")[0] for r in rows} == {"council:886", "council:887"}
        for row in rows:
            if row["case_ref"] in owner:
                assert row["recipient"].startswith(f"council:{owner[row['case_ref']]}/"), row
        # each council opened with its own opening position (one key each, not one for the store)
        positions = sorted(r["alert_key"] for r in rows if r["alert_key"].startswith("opening-position/"))
        assert positions == [f"opening-position/{opened}/886", f"opening-position/{OPENED}/887"]
    finally:
        engine.dispose()


def test_a_council_with_an_unreadable_date_is_reported_by_its_own_night_only(db_url: str) -> None:
    caseload = two_councils()
    cases = caseload.cases.copy()
    bad = cases.index[cases["la"] == "887"][0]
    cases.loc[bad, "request_received"] = pd.Timestamp("2019-01-01")
    load_store(db_url, Caseload(cases=cases, advice=caseload.advice, source=caseload.source))
    engine = make_engine(db_url)
    ref = str(cases.loc[bad, "case_ref"])
    try:
        with engine.begin() as conn:  # a placeholder date written straight into the database
            conn.execute(
                CASE.update().where(CASE.c.case_ref == ref).values(request_received=dt.date(1, 1, 1))
            )
        mine = run_nightly(engine, as_of=OPENED, now=NOW, council="886", dry_run=True)
        theirs = run_nightly(engine, as_of=OPENED, now=NOW, council="887", dry_run=True)
        assert not any(ref in note for note in mine.summary.notes)
        assert any(ref in note for note in theirs.summary.notes)
    finally:
        engine.dispose()


def test_each_councils_weekly_summary_goes_to_its_own_managers(db_url: str, tmp_path: Path) -> None:
    from ehcp_workflow.jobs.weekly import run_weekly

    load_store(db_url, two_councils())
    engine = make_engine(db_url)
    monday = dt.date(2024, 10, 21)
    try:
        for la in COUNCILS:
            result = run_weekly(engine, as_of=monday, now=NOW, out_dir=tmp_path / la, council=la)
            assert result.summary_queued
        # once per week and council: a re-run queues nothing
        assert not run_weekly(
            engine, as_of=monday, now=NOW, out_dir=tmp_path / "again", council="886"
        ).summary_queued
        rows = [r for r in alerts(engine) if r["alert_key"].startswith("weekly-summary/")]
        assert sorted((r["alert_key"], r["recipient"]) for r in rows) == [
            ("weekly-summary/2024-W43/886", "council:886/managers"),
            ("weekly-summary/2024-W43/887", "council:887/managers"),
        ]
    finally:
        engine.dispose()
