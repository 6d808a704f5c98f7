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
previous night: it records the baseline state without an event per clock, and is an *opening night*
(as is any night run with ``baseline=True``): one opening position for managers and one worklist per
caseworker instead of an alert per clock (:mod:`ehcp_workflow.jobs.opening`). After that, only what
happened since the last night that ran is new. A replay of a date before the last recorded night
queues any missing alerts but does not rewind the recorded state.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from ehcp_workflow.core.alerting import alert_candidates, clock_states
from ehcp_workflow.core.catalogue import Catalogue, load_catalogue
from ehcp_workflow.core.conventions import DEFAULT_CONVENTIONS, Conventions
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.core.figures import backlog_by_team, headline, longest_waits
from ehcp_workflow.core.statuses import Status
from ehcp_workflow.db import load_caseload, write_connection
from ehcp_workflow.db.bulk import fetch_columns
from ehcp_workflow.db.models import ClockState, EhcpCase, table_of
from ehcp_workflow.db.outbox import enqueue_alerts
from ehcp_workflow.db.write import EventRows, WriteContext, write_events
from ehcp_workflow.gcpause import collector_paused
from ehcp_workflow.jobs.opening import (
    last_night,
    only_new,
    opening_messages,
    opening_rows,
    suppressed_rows,
)
from ehcp_workflow.jobs.state_frame import (
    invalid_dates,
    occurrence,
    state_clock,
    typed_states,
    unreadable_dates,
)
from ehcp_workflow.jobs.states import (
    Ints,
    StateColumns,
    Vocabularies,
    changes_frame,
    delete_rows,
    diff,
    new_vocabularies,
    previous_states_select,
    read_previous,
    take,
    tonight_columns,
    write_rows,
)
from ehcp_workflow.notify.body import item_from_body, outbox_rows  # the outbox body encoding
from ehcp_workflow.notify.model import AlertKind, council_code
from ehcp_workflow.notify.stored import MESSAGE_KIND

log = logging.getLogger(__name__)

CLOCK_STATE = table_of(ClockState)
CASE = table_of(EhcpCase)

#: Statuses whose arrival is written to the event log (arriving at ``pending`` is not news).
LOGGED_STATUSES = frozenset(
    {Status.DUE_SOON, Status.OVERDUE, Status.MET, Status.LATE, Status.INVALID, Status.EXCEPTED}
)
SOURCE = "flow:nightly_compliance"
#: The :class:`NightlySummary` figures that are tonight's change; every other count is a running
#: total (the position tonight, :mod:`ehcp_workflow.core.figures`). Artifacts label them so.
TONIGHT_FIGURES = frozenset(
    {
        "transitions_logged",
        "alerts_considered",
        "alerts_queued",
        "messages_queued",
        "new_breaches",
        "band_crossings",
    }
)


@dataclass(frozen=True)
class NightlySummary:
    """What a night did, in counts: safe to return from a Prefect task and to log."""

    as_of: dt.date
    cases: int
    clocks_by_status: dict[str, int]
    open_requests: int
    open_by_band: dict[str, int]
    transitions_logged: int
    #: No clock state was recorded before (the first night): states stored without events.
    baseline: bool
    #: An opening night (first night, or ``--baseline``): opening messages instead of alerts.
    opening: bool
    #: Every figure below is a running total unless named "tonight" in ``TONIGHT_FIGURES``.
    overdue_clocks: int
    alerts_considered: int
    alerts_queued: int
    #: Per-clock alerts of an opening night, recorded as covered by the opening messages (not sent).
    alerts_suppressed: int
    messages_queued: int
    new_breaches: int
    band_crossings: int
    invalid_clocks: int
    oldest_open_weeks: int | None
    dry_run: bool
    notes: list[str] = field(default_factory=list)
    #: The council this night covered (a regional store's per-council run); ``None``: every case.
    council: str | None = None

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
    longest_waits: pd.DataFrame  # case_ref, team, band, weeks_waiting (running: the oldest open)
    #: Wall seconds per stage (read, evaluate, alerts, diff, write ...): where a night's time went.
    stages: dict[str, float] = field(default_factory=dict)
    #: The stages as one line, with the peak memory after each (``ehcp nightly --timings``).
    stage_line: str = ""


class Stages:
    """Wall time per stage of a night, and the process's peak memory after it, for the log and
    ``ehcp nightly --timings``.

    A duration from ``perf_counter``, never the date: the night's answers still depend only on
    ``as_of`` and ``now``. A stage named twice adds up. Reading is two stages: ``read`` (the
    caseload, before the lock) and ``read states`` (the previous night's clock states, under it).
    The peak (``ru_maxrss``) only grows, so the stage after which it jumps is the one that holds
    the most at once: how the 1M-case runs in docs/performance.md found where the memory goes.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self.peak_mib[name] = _peak_rss_mib()
        self._last = now

    def __str__(self) -> str:
        total = sum(self.seconds.values())
        parts = [f"{name} {secs:.2f} s" for name, secs in self.seconds.items()]
        peaks = ", ".join(f"{name} {mib:,.0f}" for name, mib in self.peak_mib.items())
        return ", ".join(parts) + f" (total {total:.2f} s; peak MiB after {peaks})"


def _peak_rss_mib() -> float:
    """The process's peak resident memory so far, in MiB (0 where the platform cannot say)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@collector_paused()
def run_nightly(
    engine: Engine,
    *,
    as_of: dt.date,
    now: dt.datetime,
    catalogue: Catalogue | None = None,
    conventions: Conventions = DEFAULT_CONVENTIONS,
    dry_run: bool = False,
    baseline: bool = False,
    allow_initials: bool = False,
    council: str | None = None,
) -> NightlyResult:
    """Evaluate every clock at ``as_of`` and record the night (nothing is written if ``dry_run``).

    ``now`` is the wall-clock instant (UTC) stamped on the rows written; the caller supplies it so
    this function never reads the clock. A first night, or ``baseline=True``, is an *opening*
    night: one opening position and one worklist per caseworker instead of an alert per clock
    (:mod:`ehcp_workflow.jobs.opening`).

    ``council`` scopes the whole night to one council of a regional store (cases whose ``la`` is
    that code): only its cases are read and evaluated, only its clock states are diffed and
    rewritten (another council's are never read, so never deleted), its alerts go to its own
    recipients (``council:<LA>/...`` tags) and its first night is its own opening night.
    """
    timer = Stages()
    catalogue = catalogue or load_catalogue()
    council = None if council is None else council_code(council)
    caseload = load_caseload(engine, council=council)
    unreadable = unreadable_dates(engine, council=council)
    timer.lap("read")
    evaluation = evaluate_caseload(caseload, catalogue, as_of=as_of, conventions=conventions)
    candidates = alert_candidates(evaluation, weekly_digest=as_of.weekday() == 0)
    titles = {c.id: c.title for c in catalogue.clocks}
    states = typed_states(clock_states(evaluation))
    notes: list[str] = []
    states, candidates, made_invalid = invalid_dates(
        states, candidates, evaluation.cases, unreadable, catalogue, notes
    )
    states["clock"] = state_clock(states)
    # each state's case as a code into the distinct case refs, hashed once: the occurrence count
    # and the case-id lookup below work on these (each hashed 2.5M strings at 200k cases)
    case_codes, case_refs = pd.factorize(states["case_ref"].to_numpy(dtype=object))
    states["instance"] = occurrence(states, case_codes)
    timer.lap("evaluate")

    with Session(engine) as session:
        # The store's write lock, taken before the previous night's state is read: two runs at once
        # (a manual run beside the scheduled one, a retry) then run one after the other, and the
        # second finds the first's clock states and alerts instead of failing on them (SQLite
        # "database is locked", a duplicate clock_state row on PostgreSQL).
        conn = write_connection(session)
        try:
            vocab = new_vocabularies()
            previous, nights = read_previous(conn, vocab, council=council)
            timer.lap("read states")
            latest = max(nights) if nights else None
            replay = latest is not None and as_of < latest
            last = last_night(pd.Series(nights, dtype=object), as_of)
            opening = not replay and (baseline or last is None)
            if opening:
                tonight = candidates.iloc[0:0]
                keyed = opening_messages(
                    evaluation,
                    candidates,
                    titles=titles,
                    band_labels=conventions.band_labels,
                    allow_initials=allow_initials,
                    council=council,
                )
                covered = candidates  # queued as suppressed below, a batch at a time
                rows = opening_rows(keyed, now=now)
                notes.append(
                    f"opening night: {len(keyed)} opening message(s) instead of "
                    f"{len(candidates):,} per-clock alerts (kept as suppressed)"
                )
            else:
                since = last if (last is not None and not replay) else as_of - dt.timedelta(days=1)
                tonight = only_new(candidates, since)
                covered, rows = (
                    candidates.iloc[0:0],
                    outbox_rows(tonight, titles=titles, now=now, council=council),
                )
            timer.lap("alerts")
            logged, first = _record_states(
                conn,
                states,
                (case_codes, case_refs),
                previous,
                vocab,
                as_of=as_of,
                now=now,
                notes=notes,
                replay=replay,
                latest=latest,
                timer=timer,
            )
            del previous
            timer.lap("write states")
            queued = enqueue_alerts(conn, rows)
            suppressed = sum(
                enqueue_alerts(conn, batch)
                for batch in suppressed_rows(covered, titles=titles, now=now, council=council)
            )
            timer.lap("write alerts")
            if dry_run:
                session.rollback()
            else:
                session.commit()
            timer.lap("commit")
        except BaseException:
            session.rollback()
            raise

    figures = headline(evaluation, conventions.band_labels)
    breaches = tonight[tonight["kind"] == AlertKind.OVERDUE.value]
    crossings = tonight[tonight["kind"].astype(str).str.startswith("band_crossed_")]
    summary = NightlySummary(
        as_of=as_of,
        cases=len(caseload),
        clocks_by_status={k: int(v) for k, v in evaluation.status_counts().sum().items()},
        open_requests=figures.open_requests,
        open_by_band=figures.open_by_band,
        overdue_clocks=figures.overdue_clocks,
        transitions_logged=logged,
        baseline=first,
        opening=opening,
        alerts_considered=len(rows),
        alerts_queued=queued,
        alerts_suppressed=suppressed,
        messages_queued=sum(1 for r in rows if r["kind"] == MESSAGE_KIND),
        new_breaches=len(breaches),
        band_crossings=len(crossings),
        invalid_clocks=figures.invalid_clocks + made_invalid,
        oldest_open_weeks=figures.oldest_open_weeks,
        dry_run=dry_run,
        notes=notes,
        council=council,
    )
    timer.lap("figures")
    log.info("nightly stages: %s", timer)
    log.info(
        "nightly %s%s: %d cases, %d alerts considered, %d newly queued, %d transitions%s%s",
        as_of,
        f" (council {council})" if council else "",
        summary.cases,
        summary.alerts_considered,
        summary.alerts_queued,
        summary.transitions_logged,
        " (opening night)" if opening else "",
        " (dry run: nothing written)" if dry_run else "",
    )
    return NightlyResult(
        summary=summary,
        backlog_by_team=backlog_by_team(evaluation, conventions.band_labels),
        new_breaches=breaches[
            ["case_ref", "clock", "instance", "due_date", "days_overdue", "team"]
        ].reset_index(drop=True),
        band_crossings=crossings[["case_ref", "band", "weeks_waiting", "team"]].reset_index(drop=True),
        longest_waits=longest_waits(evaluation),
        stages=timer.seconds,
        stage_line=str(timer),
    )


# --- clock states and transitions -------------------------------------------------------------------


def _case_ids(conn: Connection) -> tuple[pd.Index, Ints]:
    """Every case's reference (an index to look tonight's states up in) and id, aligned."""
    refs: list[Any] = []
    ids: list[Ints] = []
    for ref, case_id in fetch_columns(conn, select(CASE.c.case_ref, CASE.c.id)):
        refs.extend(ref)
        ids.append(np.fromiter(case_id, dtype=np.int64, count=len(case_id)))
    return pd.Index(refs, dtype=object), (np.concatenate(ids) if ids else np.empty(0, dtype=np.int64))


def _record_states(
    conn: Connection,
    states: pd.DataFrame,
    cases: tuple[Ints, Any],
    previous: StateColumns,
    vocab: Vocabularies,
    *,
    as_of: dt.date,
    now: dt.datetime,
    notes: list[str],
    replay: bool,
    latest: dt.date | None,
    timer: Stages,
) -> tuple[int, bool]:
    """Store tonight's clock states; log transitions. Returns (events written, baseline?).

    ``cases``: each state's case as (code, distinct case refs), from ``pd.factorize``.

    Only the clocks whose status or band changed are rewritten (their stored row deleted, tonight's
    inserted); see :mod:`ehcp_workflow.jobs.states` for the integer-keyed diff.
    """
    baseline = len(previous) == 0
    if replay:
        notes.append(f"replay of {as_of} (state recorded up to {latest}): alerts checked, state not rewound")
        return 0, False
    refs, ids = _case_ids(conn)
    case_codes, case_refs = cases
    # look up each distinct case once, then spread to its states (-1: not found, or no case_ref)
    where = np.append(refs.get_indexer(case_refs), -1)[case_codes]
    known = where >= 0  # a case added since the caseload was read has no id yet: written next night
    current = tonight_columns(states[known], ids[where[known]], vocab)
    due = states["due_date"].to_numpy(dtype="datetime64[s]")[known]
    changed = diff(previous, current, vocab)
    timer.lap("diff")
    if changed.empty:
        return 0, baseline
    delete_rows(conn, previous.row_id[changed.stale])
    write_rows(conn, take(current, changed.fresh), due[changed.fresh], vocab, as_of=as_of, now=now)
    if baseline:
        notes.append("first night: baseline clock states recorded without per-clock events")
        return 0, True
    by_id = pd.Series(refs.to_numpy(dtype=object), index=ids)
    frame = changes_frame(changed, previous, current, vocab, by_id)
    return _log_transitions(conn, frame, as_of=as_of, now=now), False


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


__all__ = [
    "NightlyResult",
    "NightlySummary",
    "Stages",
    "item_from_body",
    "outbox_rows",
    "previous_states_select",
    "run_nightly",
]
