"""The nightly compliance check as a plain function: load, evaluate, record transitions, queue alerts.

Prefect's flow (``flows/nightly.py``) is a thin shell around :func:`run_nightly`; everything that
matters is here, testable without a Prefect server. One night is **one database transaction**:
clock states, transition events and queued alerts commit together or not at all, so a run killed
half-way leaves nothing half-written and the re-run starts clean.

Idempotence is the database's job: every alert has a unique key (case, clock, kind, episode) and
queueing is ``INSERT ... ON CONFLICT DO NOTHING``, so re-running a night, replaying a past date or two
runs at once never queue an alert twice. The night's transaction holds the store's write lock
(:func:`~ehcp_workflow.db.write_connection`), so two runs at once take turns: the second sees the
first's clock states and queues nothing, rather than failing on them.

Transitions (a clock becoming due soon, overdue, met, late or invalid; a case changing band) are
written to the event log against the previous night's ``clock_state``. The very first run has no
previous night: it records the baseline state without an event per clock. A replay of a date before
the last recorded night queues any missing alerts but does not rewind the recorded state.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.orm import Session

from ehcp_workflow.alerting import alert_candidates, clock_states, transitions
from ehcp_workflow.catalogue import Catalogue, load_catalogue
from ehcp_workflow.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.db import load_caseload, write_connection
from ehcp_workflow.db.models import ClockState, EhcpCase, table_of
from ehcp_workflow.db.outbox import enqueue_alerts
from ehcp_workflow.db.write import EventRows, WriteContext, write_events
from ehcp_workflow.notify.body import item_from_body, outbox_rows  # the outbox body encoding
from ehcp_workflow.notify.model import AlertKind
from ehcp_workflow.statuses import Status
from ehcp_workflow.vectorised import Evaluation, evaluate_caseload

log = logging.getLogger(__name__)

CLOCK_STATE = table_of(ClockState)
CASE = table_of(EhcpCase)

#: Statuses whose arrival is written to the event log (arriving at ``pending`` is not news).
LOGGED_STATUSES = frozenset(
    {Status.DUE_SOON, Status.OVERDUE, Status.MET, Status.LATE, Status.INVALID, Status.EXCEPTED}
)
SOURCE = "flow:nightly_compliance"


@dataclass(frozen=True)
class NightlySummary:
    """What a night did, in counts: safe to return from a Prefect task and to log."""

    as_of: dt.date
    cases: int
    clocks_by_status: dict[str, int]
    open_requests: int
    open_by_band: dict[str, int]
    transitions_logged: int
    baseline: bool
    alerts_considered: int
    alerts_queued: int
    new_breaches: int
    band_crossings: int
    invalid_clocks: int
    oldest_open_weeks: int | None
    dry_run: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        return d


@dataclass(frozen=True)
class NightlyResult:
    """The summary plus the (personal-data-free) tables managers see as artifacts."""

    summary: NightlySummary
    backlog_by_team: pd.DataFrame  # team x band counts
    new_breaches: pd.DataFrame  # case_ref, clock, due_date, days_overdue, team (case refs only)
    band_crossings: pd.DataFrame  # case_ref, band, weeks_waiting, team


def run_nightly(
    engine: Engine,
    *,
    as_of: dt.date,
    now: dt.datetime,
    catalogue: Catalogue | None = None,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    dry_run: bool = False,
) -> NightlyResult:
    """Evaluate every clock at ``as_of`` and record the night (nothing is written if ``dry_run``).

    ``now`` is the wall-clock instant (UTC) stamped on the rows written; the caller supplies it so
    this function never reads the clock.
    """
    catalogue = catalogue or load_catalogue()
    caseload = load_caseload(engine)
    evaluation = evaluate_caseload(caseload, catalogue, as_of=as_of, conventions=conventions)
    candidates = alert_candidates(evaluation, weekly_digest=as_of.weekday() == 0)
    titles = {c.id: c.title for c in catalogue.clocks}
    rows = outbox_rows(candidates, titles=titles, now=now)
    states = clock_states(evaluation)
    states["clock"] = _state_clock(states)
    states["instance"] = _occurrence(states)

    notes: list[str] = []
    with Session(engine) as session:
        # The store's write lock, taken before the previous night's state is read: two runs at once
        # (a manual run beside the scheduled one, a retry) then run one after the other, and the
        # second finds the first's clock states and alerts instead of failing on them (SQLite
        # "database is locked", a duplicate clock_state row on PostgreSQL).
        conn = write_connection(session)
        try:
            logged, baseline = _record_states(conn, states, as_of=as_of, now=now, notes=notes)
            queued = enqueue_alerts(conn, rows)
            if dry_run:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise

    breaches = candidates[candidates["kind"] == AlertKind.OVERDUE.value]
    crossings = candidates[candidates["kind"].astype(str).str.startswith("band_crossed_")]
    summary = NightlySummary(
        as_of=as_of,
        cases=len(caseload),
        clocks_by_status={k: int(v) for k, v in evaluation.status_counts().sum().items()},
        open_requests=int(evaluation.open.sum()),
        open_by_band={
            str(k): int(v) for k, v in pd.Series(evaluation.band[evaluation.open]).value_counts().items()
        },
        transitions_logged=logged,
        baseline=baseline,
        alerts_considered=len(rows),
        alerts_queued=queued,
        new_breaches=len(breaches),
        band_crossings=len(crossings),
        invalid_clocks=int((candidates["kind"] == AlertKind.INVALID.value).sum()),
        oldest_open_weeks=int(evaluation.weeks_waiting[evaluation.open].max())
        if evaluation.open.any()
        else None,
        dry_run=dry_run,
        notes=notes,
    )
    log.info(
        "nightly %s: %d cases, %d alerts considered, %d newly queued, %d transitions%s",
        as_of,
        summary.cases,
        summary.alerts_considered,
        summary.alerts_queued,
        summary.transitions_logged,
        " (dry run: nothing written)" if dry_run else "",
    )
    return NightlyResult(
        summary=summary,
        backlog_by_team=backlog_by_team(evaluation, conventions),
        new_breaches=breaches[
            ["case_ref", "clock", "instance", "due_date", "days_overdue", "team"]
        ].reset_index(drop=True),
        band_crossings=crossings[["case_ref", "band", "weeks_waiting", "team"]].reset_index(drop=True),
    )


def backlog_by_team(evaluation: Evaluation, conventions: Conventions) -> pd.DataFrame:
    """Open requests by team and band (every band a column, in order; a total row)."""
    teams = evaluation.cases["team"].to_numpy(dtype=object, na_value="(no team)")[evaluation.open]
    bands = evaluation.band[evaluation.open]
    table = pd.crosstab(pd.Series(teams, name="team"), pd.Series(bands, name="band"))
    table = table.reindex(columns=list(conventions.band_labels), fill_value=0)
    table.loc["All teams"] = table.sum()
    table.insert(0, "team", table.index.astype(str))
    table["total"] = table[list(conventions.band_labels)].sum(axis=1)
    return table.reset_index(drop=True)


def _state_clock(states: pd.DataFrame) -> pd.Series:
    """Advice clocks are one per request: the provider goes into the stored clock name (and which
    request to that provider into ``instance``, :func:`_occurrence`)."""
    inst = states["instance"].fillna("")
    return states["clock"].where(inst == "", states["clock"] + ":" + inst)


def _occurrence(states: pd.DataFrame) -> pd.Series:
    """Which request to the same adviser a clock is (0, 1, ...): ``clock_state.instance``.

    A case can ask one adviser more than once (``advice_request.seq``); each request is its own
    clock, and without this they would share one stored state (a unique-key violation that failed
    the whole night). Advice rows are loaded in (case, provider, seq) order, so the numbering is the
    same every night; a clock with one occurrence is 0, as before.
    """
    occurrence: pd.Series = states.groupby(["case_ref", "clock"], sort=False).cumcount()
    return occurrence


# --- clock states and transitions -------------------------------------------------------------------


def _record_states(
    conn: Connection, states: pd.DataFrame, *, as_of: dt.date, now: dt.datetime, notes: list[str]
) -> tuple[int, bool]:
    """Store tonight's clock states; log transitions. Returns (events written, baseline?)."""
    ids = pd.DataFrame(
        conn.execute(select(CASE.c.id, CASE.c.case_ref)).all(), columns=["case_id", "case_ref"]
    )
    previous = pd.DataFrame(
        conn.execute(
            select(
                CLOCK_STATE.c.id,
                CLOCK_STATE.c.case_id,
                CLOCK_STATE.c.clock,
                CLOCK_STATE.c.instance,
                CLOCK_STATE.c.status,
                CLOCK_STATE.c.due_date,
                CLOCK_STATE.c.band,
                CLOCK_STATE.c.as_of,
            )
        ).all(),
        columns=["id", "case_id", "clock", "instance", "status", "due_date", "band", "as_of"],
    )
    baseline = previous.empty
    if not baseline and as_of < max(previous["as_of"]):
        notes.append(
            f"replay of {as_of} (state recorded up to {max(previous['as_of'])}): "
            "alerts checked, state not rewound"
        )
        return 0, False
    current = states.merge(ids, on="case_ref", how="left")
    prev = previous.merge(ids, on="case_id", how="left")
    prev["instance"] = prev["instance"].astype("int64")
    changed = transitions(
        prev[["case_ref", "clock", "instance", "status", "due_date", "band"]],
        current[["case_ref", "clock", "instance", "status", "due_date", "band"]],
    )
    if changed.empty:
        return 0, baseline
    # replace the changed clocks' rows
    keys = changed[["case_ref", "clock", "instance"]]
    stale = prev.merge(keys, on=["case_ref", "clock", "instance"])["id"].tolist()
    for chunk in _chunks(stale, 5000):
        conn.execute(delete(CLOCK_STATE).where(CLOCK_STATE.c.id.in_(chunk)))
    fresh = current.merge(keys, on=["case_ref", "clock", "instance"])
    fresh = fresh[fresh["case_id"].notna()]
    columns = {
        "case_id": fresh["case_id"].astype("int64").to_numpy(dtype=object),
        "clock": fresh["clock"].to_numpy(dtype=object),
        "instance": fresh["instance"].astype("int64").to_numpy(dtype=object),
        "status": fresh["status"].to_numpy(dtype=object),
        "due_date": pd.to_datetime(fresh["due_date"]).to_numpy().astype("datetime64[D]").astype(object),
        "band": fresh["band"].astype(object).where(fresh["band"].notna(), None).to_numpy(dtype=object),
    }
    names = [*columns, "as_of", "updated_at"]
    arrays = list(columns.values())
    for start in range(0, len(fresh), 10_000):  # driver dicts 10k at a time: a first night writes ~6M
        chunk = [
            dict(zip(names, (*values, as_of, now), strict=True))
            for values in zip(*(a[start : start + 10_000] for a in arrays), strict=True)
        ]
        conn.execute(insert(CLOCK_STATE), chunk)
    if baseline:
        notes.append("first night: baseline clock states recorded without per-clock events")
        return 0, True
    return _log_transitions(conn, changed.merge(ids, on="case_ref", how="left"), as_of=as_of, now=now), False


def _log_transitions(conn: Connection, changed: pd.DataFrame, *, as_of: dt.date, now: dt.datetime) -> int:
    ctx = WriteContext(
        actor="nightly", source=SOURCE, reason=f"nightly compliance check as of {as_of}", now=now
    )
    rows = EventRows(ctx)
    changed = changed[changed["case_id"].notna()]
    logged = changed[
        changed["status_new"].isin([s.value for s in LOGGED_STATUSES])
        & (changed["status_old"] != changed["status_new"])
    ]
    rows.add(
        logged["case_id"].astype(int).tolist(),
        ("clock." + logged["clock"]).tolist(),
        logged["status_old"].tolist(),
        logged["status_new"].tolist(),
    )
    band = changed[
        (changed["clock"] == "final_plan")
        & (changed["band_old"].fillna("") != changed["band_new"].fillna(""))
    ]
    rows.add(
        band["case_id"].astype(int).tolist(),
        "backlog.band",
        [None if pd.isna(v) else v for v in band["band_old"]],
        [None if pd.isna(v) else v for v in band["band_new"]],
    )
    write_events(conn, [rows])
    return len(rows)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = [
    "NightlyResult",
    "NightlySummary",
    "backlog_by_team",
    "item_from_body",
    "outbox_rows",
    "run_nightly",
]
