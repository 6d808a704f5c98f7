"""The alert outbox, in one place: queue, claim, mark sent or failed (retry later), give up.

The nightly flow decides which alerts are due and queues them here; dispatch claims queued rows,
sends them and records the outcome here. The body of a row (what the alert says) is encoded by
:mod:`ehcp_workflow.notify.body`; this module only moves rows through their states::

    queued --claim--> (held under a lease) --sent--> sent
                                           --failed--> failed (retried after a backoff)
    failed at max_attempts, or claimed for the last time and never recorded --> given up

**Queueing exactly once.** Two runs overlapping (a retry while the first is still going, two
workers) must not queue the same alert twice, so each alert has a key built from what makes it
*the same alert* - case, clock, kind and episode - and the table has a UNIQUE constraint on it.
Queueing uses ``INSERT ... ON CONFLICT DO NOTHING`` (both SQLite and PostgreSQL), so the loser of a
race simply queues nothing rather than failing the run.

**Claiming.** One ``UPDATE ... RETURNING`` moves the claimable rows' ``next_attempt_at`` a lease
into the future, counts the attempt and marks them :data:`NO_RESULT`; only rows still claimable
are returned, so a second dispatcher at the same moment claims nothing that the first holds.

**Holding.** A claim is only as good as its lease. The dispatcher renews it before each send and
from a heartbeat while a send is slow (:meth:`Claim.renew`, :class:`ThreadHeartbeat`), and every
renewal and result is *fenced*: written only while this claim still holds the row (see
:class:`Claim`). A dispatcher whose lease ran out (the process stalled, the heartbeat could not
reach the database) therefore sends nothing more of what it lost and never overwrites the result
of the dispatcher that took over. What remains is the at-least-once window: a message already in
the channel's hands when the lease ran out may be delivered by both.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, or_, select, tuple_, update

from ehcp_workflow.db.bulk import dict_batches, insert_new_rows
from ehcp_workflow.db.models import Alert, table_of
from ehcp_workflow.notify.body import item_rows
from ehcp_workflow.notify.model import AlertItem, Message, alert_key  # the one definition of a key
from ehcp_workflow.notify.stored import message_row

log = logging.getLogger(__name__)
ALERT = table_of(Alert)

#: Alerts still to be delivered.
PENDING = ("queued", "failed")

#: ``last_error`` of a claimed alert until its result is recorded (sent clears it, a failure
#: replaces it): still there after the lease means the dispatcher died mid-send.
NO_RESULT = "claimed for sending, but no result was recorded (the dispatcher stopped mid-send)"

#: The columns a claim returns: what rendering a message needs.
CLAIMED_COLUMNS = (
    ALERT.c.id,
    ALERT.c.alert_key,
    ALERT.c.recipient,
    ALERT.c.kind,
    ALERT.c.body,
    ALERT.c.attempts,
)

#: Rows per statement when a statement names rows one by one (well inside both backends' limits).
_CHUNK = 5000
#: Rows per bulk batch when queueing.
_BULK = 50_000


# --- queue -------------------------------------------------------------------------------------------


def enqueue_alerts(conn: Connection, alerts: Sequence[Mapping[str, Any]]) -> int:
    """Queue ``alerts`` (dicts of :class:`~ehcp_workflow.db.models.Alert` columns, ``alert_key``
    included); alerts whose key is already in the outbox are skipped. Returns how many were new.

    Runs in the caller's transaction (the flow commits its clock states and alerts together).
    """
    if not alerts:
        return 0
    # Most of a night's alerts were queued on an earlier night: look their keys up first (one
    # indexed SELECT per 5,000 keys) and offer only the new ones to the INSERT. Measured on
    # PostgreSQL: 0.12 s to find 10k existing keys, 2.0 s to re-offer them to ON CONFLICT.
    # ON CONFLICT DO NOTHING still settles a race between two runs.
    keys = [a["alert_key"] for a in alerts]
    existing: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        existing.update(conn.execute(select(ALERT.c.alert_key).where(ALERT.c.alert_key.in_(chunk))).scalars())
    alerts = [a for a in alerts if a["alert_key"] not in existing]
    if not alerts:
        return 0
    # The backend's bulk path: an opening night queues every per-clock alert as suppressed (~150k
    # at 200,000 cases, ~765k at 1M), and through Core's executemany with RETURNING that was 8 s
    # of session 3's 92 s first night at 200k.
    names, batches = dict_batches(conn, ALERT, alerts, _BULK)
    return insert_new_rows(conn, ALERT, names, "alert_key", batches)


def queue_message(engine: Engine, message: Message, *, key: str, now: dt.datetime) -> bool:
    """Queue a pre-rendered message once per ``key`` (e.g. the weekly summary of one ISO week).

    Returns whether it was newly queued; a re-run of the same week queues nothing.
    """
    with engine.begin() as conn:
        return enqueue_alerts(conn, [message_row(message, key=key, now=now)]) == 1


# --- what is due -------------------------------------------------------------------------------------


def backoff(attempts: int, *, base: dt.timedelta = dt.timedelta(minutes=10)) -> dt.timedelta:
    """Wait before the next try: 10 min, 20, 40... capped at 12 hours."""
    wait: dt.timedelta = min(base * (2 ** max(attempts - 1, 0)), dt.timedelta(hours=12))
    return wait


def claimable(now: dt.datetime, max_attempts: int) -> Any:
    """Rows a dispatch at ``now`` may claim: pending, attempts left, not held and not backing off."""
    return and_(
        ALERT.c.status.in_(PENDING),
        ALERT.c.attempts < max_attempts,
        or_(ALERT.c.next_attempt_at.is_(None), ALERT.c.next_attempt_at <= now),
    )


def pending_alerts(engine: Engine, *, now: dt.datetime, max_attempts: int) -> list[dict[str, Any]]:
    """Alerts that a dispatch at ``now`` would try (read only: for dry runs and reports)."""
    with engine.connect() as conn:
        result = conn.execute(select(ALERT).where(claimable(now, max_attempts)).order_by(ALERT.c.id))
        return [dict(r._mapping) for r in result]


# --- claim, renew and record ------------------------------------------------------------------------


class Clock(Protocol):
    """Where a dispatcher reads the time (a wall clock in production, a hand-moved one in tests)."""

    def __call__(self) -> dt.datetime: ...


def wall_clock() -> dt.datetime:
    """The time now, in UTC: the clock a real dispatcher renews its lease by."""
    return dt.datetime.now(dt.UTC)


class Claim:
    """The alerts one dispatcher claimed, and the only way to renew them or record their results.

    **A claim is fenced.** Claiming counts the attempt, so the pair (row id, ``attempts`` after the
    claim) names this claim and no other: if the lease runs out and another dispatcher claims the
    row, ``attempts`` moves on. Every renewal and every result is therefore written with
    ``WHERE id = :id AND attempts = :claimed AND last_error = NO_RESULT AND next_attempt_at > :now``
    (and still pending): only while this claim holds the row, its lease has not run out and no
    result has been recorded. A dispatcher that lost a row can neither renew it nor overwrite what
    the new holder recorded. The existing columns suffice (no ``claimed_by`` column): ``attempts``
    is the fencing token and ``next_attempt_at`` the lease's end while :data:`NO_RESULT` marks it.
    The token relies on ``attempts`` only ever growing: anything that re-queues alerts by resetting
    it must do so only for rows no lease holds (not :data:`NO_RESULT` with a future
    ``next_attempt_at``), or a stale claim could match again.

    Thread-safe: a heartbeat thread may renew while the dispatcher records results.
    """

    def __init__(
        self, engine: Engine, rows: list[dict[str, Any]], *, lease: dt.timedelta, clock: Clock
    ) -> None:
        self.engine = engine
        self.rows = rows
        self.lease = lease
        self.clock = clock
        self._lock = threading.Lock()
        #: id -> the ``attempts`` value this claim set: the rows still held, by their token.
        self._tokens: dict[int, int] = {r["id"]: r["attempts"] for r in rows}

    @classmethod
    def take(
        cls,
        engine: Engine,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
        max_attempts: int,
        clock: Clock | None = None,
    ) -> Claim:
        """Claim every claimable alert at ``now`` for ``lease``. The claim commits at once: the
        lease is what protects the rows while they are being sent. ``clock`` is what later
        renewals and results read the time from (default: time stands still at ``now``)."""
        with engine.begin() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(
                    update(ALERT)
                    .where(claimable(now, max_attempts))
                    # the mark stays only if this run dies before recording the result (see give_up_abandoned)
                    .values(attempts=ALERT.c.attempts + 1, next_attempt_at=now + lease, last_error=NO_RESULT)
                    .returning(*CLAIMED_COLUMNS)
                )
            ]
        return cls(engine, rows, lease=lease, clock=clock or (lambda: now))

    def held(self) -> set[int]:
        """The ids this claim still believes it holds (it learns otherwise on its next write)."""
        with self._lock:
            return set(self._tokens)

    def renew(self, ids: Iterable[int] | None = None) -> set[int]:
        """Extend the lease of ``ids`` (default: every row still held) to a lease from now.

        Returns the ids still held; any other id was lost (its lease ran out, another dispatcher
        claimed it, or it was given up) and is dropped from this claim for good.
        """
        now = self.clock()
        return self._write(ids, {"next_attempt_at": now + self.lease}, now=now, release=False)

    def sent(self, ids: Iterable[int]) -> set[int]:
        """Record that the message covering ``ids`` was delivered; returns the ids written (held)."""
        now = self.clock()
        values = {"status": "sent", "sent_at": now, "last_error": None, "next_attempt_at": None}
        return self._write(ids, values, now=now, release=True)

    def failed(self, ids: Iterable[int], *, error: str, retry_in: dt.timedelta) -> set[int]:
        """Record a failed send of ``ids``, to be retried ``retry_in`` from now; returns the ids
        written (held)."""
        now = self.clock()
        values = {"status": "failed", "last_error": error[:2000], "next_attempt_at": now + retry_in}
        return self._write(ids, values, now=now, release=True)

    def _write(
        self, ids: Iterable[int] | None, values: dict[str, Any], *, now: dt.datetime, release: bool
    ) -> set[int]:
        """Apply ``values`` to the rows of ``ids`` this claim still holds; forget every row of ``ids``
        that was not written (lost) and, if ``release``, the written ones too (result recorded)."""
        with self._lock:
            wanted = set(self._tokens) if ids is None else set(ids)
            pairs = [(i, self._tokens[i]) for i in sorted(wanted) if i in self._tokens]
        written: set[int] = set()
        if pairs:
            with self.engine.begin() as conn:
                for start in range(0, len(pairs), _CHUNK):
                    chunk = pairs[start : start + _CHUNK]
                    written.update(
                        conn.execute(
                            update(ALERT)
                            .where(
                                tuple_(ALERT.c.id, ALERT.c.attempts).in_(chunk),
                                ALERT.c.status.in_(PENDING),
                                ALERT.c.last_error == NO_RESULT,
                                ALERT.c.next_attempt_at > now,
                            )
                            .values(**values)
                            .returning(ALERT.c.id)
                        ).scalars()
                    )
        with self._lock:
            for i in wanted if release else wanted - written:
                self._tokens.pop(i, None)
        return written


class Heartbeat(Protocol):
    """Calls ``beat`` (a lease renewal) now and then while a dispatcher is sending."""

    def running(self, beat: Callable[[], object]) -> AbstractContextManager[object]: ...


@dataclass(frozen=True)
class ThreadHeartbeat:
    """Renews the lease from a background thread every ``every`` (wall-clock time), so a send that
    takes longer than the lease (a slow SMTP server) does not let a second dispatcher in.

    A renewal that fails (the database briefly unreachable) is logged and retried on the next
    beat; the results are fenced anyway, so a lease lost that way costs at most a duplicate of the
    message in flight, never an overwritten result. A live heartbeat cannot hold alerts forever:
    apprise gives up on a silent server after its socket timeout (15 s for email unless the URL sets
    ``cto``), and that send is then recorded as a failure and retried.
    """

    every: dt.timedelta

    @contextmanager
    def running(self, beat: Callable[[], object]) -> Iterator[object]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.every.total_seconds()):
                try:
                    beat()
                except Exception as exc:  # keep beating; never log the statement (it holds keys)
                    log.warning("outbox lease renewal failed (%s); retrying", type(exc).__name__)

        thread = threading.Thread(target=loop, name="outbox-lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield thread
        finally:
            stop.set()
            thread.join()


# --- give up -----------------------------------------------------------------------------------------


def give_up_abandoned(engine: Engine, *, now: dt.datetime, max_attempts: int) -> list[dict[str, Any]]:
    """Give up alerts whose *last* attempt was claimed but never recorded (the dispatcher died
    mid-send and its lease has expired), exactly as if that attempt had failed.

    Without this they would stay pending with ``attempts == max_attempts``: never claimable again,
    never reported, and no ``delivery_failing`` alert - silently lost. Returns their rows (claimed
    columns) for the caller to report; ``next_attempt_at`` is cleared so this happens once.
    """
    with engine.begin() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                update(ALERT)
                .where(
                    ALERT.c.status.in_(PENDING),
                    ALERT.c.attempts >= max_attempts,
                    ALERT.c.last_error == NO_RESULT,
                    ALERT.c.next_attempt_at <= now,
                )
                .values(status="failed", next_attempt_at=None)
                .returning(*CLAIMED_COLUMNS)
            )
        ]


def queue_delivery_failing(
    engine: Engine, items: Sequence[AlertItem], *, now: dt.datetime, council: str | None = None
) -> int:
    """Queue the managers' ``delivery_failing`` alerts for alerts given up (one per recipient and
    day: their keys repeat within a day, so a second give-up the same day queues nothing); to
    ``council``'s managers when the failing recipients are that council's."""
    with engine.begin() as conn:
        return enqueue_alerts(conn, item_rows(items, now=now, council=council))


__all__ = [
    "ALERT",
    "NO_RESULT",
    "PENDING",
    "Claim",
    "Clock",
    "Heartbeat",
    "ThreadHeartbeat",
    "alert_key",
    "backoff",
    "claimable",
    "enqueue_alerts",
    "give_up_abandoned",
    "pending_alerts",
    "queue_delivery_failing",
    "queue_message",
    "wall_clock",
]
