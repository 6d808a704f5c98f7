"""Fault injection for dispatch: channels that fail, hang or drop, and dispatchers killed mid-run.

What the outbox promises (``ehcp_workflow.db.outbox``, ``ehcp_workflow.jobs.dispatch``), checked
after every fault on SQLite and PostgreSQL:

* **Nothing is lost.** Every queued alert ends sent, or pending a retry, or given up *loudly*
  (failed at the maximum attempts, a ``delivery_failing`` alert queued for managers, the run failed).
* **Nothing is doubled beyond the at-least-once window.** An alert reaches its recipient twice only
  if the channel took its message and the dispatcher never learnt it (the connection dropped after
  the server had the message, a hang the client gave up on, a process killed between the channel's
  acceptance and the commit of the result): only that one message's alerts, and only twice.

Channels are a real SMTP server on 127.0.0.1 scripted to refuse, hang or drop (tests/jobs/
smtp_receiver.py); kills are a ``BaseException`` raised at injected points (after the claim, in the
send before and after the channel accepts, at any database commit, after a result is recorded) and
one real ``kill -9`` of a child process. Nothing sleeps; "now" and the lease are parameters.

The outbox is the one a store finds after its opening night and an ordinary night with no dispatch
between (``opened_then_night``): the opening's pre-rendered messages and the night's per-clock
alerts are pending together, so every promise is checked on both kinds of row. The opening night's
suppressed alerts are part of every check too: never claimed, never sent, never changed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, update

from ehcp_workflow.db import make_engine
from ehcp_workflow.db.outbox import ALERT, Claim, backoff, pending_alerts
from ehcp_workflow.jobs.dispatch import DeliveryFailing, render_messages, run_dispatch
from ehcp_workflow.notify import DeliveryResult, Message, RecordingNotifier
from tests.jobs.helpers import AS_OF, NOW, alerts, load_store, opened_then_night, suppressed
from tests.jobs.smtp_receiver import (
    WAIT,
    Receiver,
    Sends,
    StampingNotifier,
    Step,
    email_notifier,
    running_receiver,
)

T0 = NOW + dt.timedelta(hours=5)
LEASE = dt.timedelta(minutes=15)
REPO = Path(__file__).resolve().parents[2]


# --- fixtures --------------------------------------------------------------------------------------


@dataclass
class Night:
    """A store after its opening night and an ordinary night: its URL, an engine, the keys pending
    delivery and their recipients, and the opening night's suppressed rows as they were queued."""

    url: str
    engine: Engine
    keys: list[str]
    recipients: set[str]
    suppressed: list[dict[str, Any]]

    def rows(self) -> list[dict[str, Any]]:
        """The outbox rows of :attr:`keys` (the ones dispatch is to deliver), now."""
        keys = set(self.keys)
        return [a for a in alerts(self.engine) if a["alert_key"] in keys]


@pytest.fixture
def night(db_url: str) -> Iterator[Night]:
    load_store(db_url)
    engine = make_engine(db_url)
    try:
        queued = opened_then_night(engine)
        keys = [a["alert_key"] for a in queued]
        yield Night(db_url, engine, keys, {a["recipient"] for a in queued}, suppressed(engine))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def smtp() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(smtp: Receiver) -> Iterator[Receiver]:
    smtp.reset()
    yield smtp
    smtp.reset()


# --- the promises ----------------------------------------------------------------------------------


def assert_nothing_lost(night: Night, delivered: Counter[str], *, max_attempts: int = 5) -> None:
    """Every queued alert is sent (and reached the channel), pending a retry, or given up loudly;
    and no suppressed alert was claimed, changed or sent."""
    assert suppressed(night.engine) == night.suppressed, "a suppressed alert was claimed or sent"
    assert not set(delivered) & {a["alert_key"] for a in night.suppressed}, "a suppressed alert was sent"
    rows = {a["alert_key"]: a for a in alerts(night.engine)}
    told = {a["case_ref"] for a in rows.values() if a["kind"] == "delivery_failing"}
    for key in night.keys:
        row = rows[key]
        if row["status"] == "sent":
            assert delivered[key] >= 1, f"{key} is marked sent but never reached the channel"
        elif row["attempts"] < max_attempts:
            assert row["status"] in ("queued", "failed"), row  # will be retried
        else:
            assert row["status"] == "failed" and row["recipient"] in told, f"{key} given up silently"


def assert_within_window(delivered: Counter[str], window: set[str]) -> None:
    doubled = {k for k, n in delivered.items() if n > 1}
    assert doubled <= window, f"delivered twice outside the at-least-once window: {sorted(doubled - window)}"
    assert max(delivered.values(), default=0) <= 2


def statuses(night: Night) -> set[str]:
    """The statuses of the rows dispatch is to deliver (every one of them must be there)."""
    rows = night.rows()
    assert len(rows) == len(night.keys)
    return {a["status"] for a in rows}


# --- channels --------------------------------------------------------------------------------------


def test_a_failing_channel_loses_nothing_and_doubles_nothing(night: Night, receiver: Receiver) -> None:
    sends = Sends()
    notifier = StampingNotifier(email_notifier(receiver, night.recipients), sends)
    receiver.default = "reject"  # the mail server refuses everything (451), then recovers

    down = run_dispatch(night.engine, notifier, now=T0, as_of=AS_OF)

    assert down.messages_sent == 0 and down.alerts_failed == len(night.keys)
    rows = night.rows()
    assert len(rows) == len(night.keys)
    assert {(a["status"], a["attempts"], a["next_attempt_at"]) for a in rows} == {
        ("failed", 1, T0 + backoff(1))
    }
    assert all("failed" in a["last_error"] and "alerts@" not in a["last_error"] for a in rows)
    assert_nothing_lost(night, Counter())

    receiver.default = "accept"
    up = run_dispatch(night.engine, notifier, now=T0 + backoff(1), as_of=AS_OF)

    assert up.alerts_sent == len(night.keys)
    delivered = sends.delivered(receiver.subjects())
    assert delivered == Counter(night.keys) and statuses(night) == {"sent"}
    assert_nothing_lost(night, delivered)


def test_a_channel_that_never_recovers_is_given_up_loudly(night: Night, receiver: Receiver) -> None:
    sends = Sends()
    notifier = StampingNotifier(email_notifier(receiver, night.recipients), sends)
    receiver.default = "reject"
    run_dispatch(night.engine, notifier, now=T0, as_of=AS_OF, max_attempts=2)

    # every pending row is given up (messages and per-clock alerts alike), not just one per recipient
    with pytest.raises(DeliveryFailing, match=rf"^{len(night.keys)} alert\(s\) for .* after 2 attempts"):
        run_dispatch(night.engine, notifier, now=T0 + backoff(1), as_of=AS_OF, max_attempts=2)

    assert_nothing_lost(night, Counter(), max_attempts=2)
    told = [a for a in alerts(night.engine) if a["kind"] == "delivery_failing"]
    assert {a["case_ref"] for a in told} == night.recipients and {a["recipient"] for a in told} == {
        "managers"
    }
    # the channel comes back: managers hear what was given up, and nothing given up is re-sent
    receiver.default = "accept"
    run_dispatch(night.engine, notifier, now=T0 + backoff(1) + backoff(2), as_of=AS_OF, max_attempts=2)
    assert sends.delivered(receiver.subjects()) == Counter(a["alert_key"] for a in told)


@pytest.mark.parametrize("late", ["refuses", "accepts"], ids=["server-lacks-it", "server-has-it"])
def test_a_hanging_channel_is_given_up_on_and_retried(night: Night, receiver: Receiver, late: str) -> None:
    """The server stops answering at the end of a message; the client gives up after its socket
    timeout (2 s here, apprise's ``cto``) and the alerts are retried. If the server had already
    taken the message (it just never said so), that message is the at-least-once window."""
    sends = Sends()
    notifier = StampingNotifier(email_notifier(receiver, night.recipients, timeout=2), sends)
    (hang,) = receiver.script(Step(hang=True, outcome="reject" if late == "refuses" else "accept"))

    first = run_dispatch(night.engine, notifier, now=T0, as_of=AS_OF)

    hung = set(sends.keys[1])
    assert first.messages_failed == 1 and first.alerts_failed == len(hung)
    assert first.alerts_sent == len(night.keys) - len(hung)
    rows = {a["alert_key"]: a for a in alerts(night.engine)}
    assert {rows[k]["status"] for k in hung} == {"failed"} and hang.entered.is_set()
    hang.release.set()
    assert hang.done.wait(WAIT)  # the client hung up: the server's wait was cancelled
    assert_nothing_lost(night, sends.delivered(list(receiver.received.queue)))

    retry = run_dispatch(night.engine, notifier, now=T0 + backoff(1), as_of=AS_OF)

    assert retry.alerts_sent == len(hung) and statuses(night) == {"sent"}
    delivered = sends.delivered(receiver.subjects())
    assert set(delivered) == set(night.keys)
    assert_within_window(delivered, hung if late == "accepts" else set())


def test_a_channel_that_drops_the_connection_after_accepting(night: Night, receiver: Receiver) -> None:
    sends = Sends()
    notifier = StampingNotifier(email_notifier(receiver, night.recipients), sends)
    (drop,) = receiver.script(Step(outcome="drop"))

    first = run_dispatch(night.engine, notifier, now=T0, as_of=AS_OF)

    assert drop.done.is_set() and first.messages_failed == 1
    dropped = set(sends.keys[1])
    retry = run_dispatch(night.engine, notifier, now=T0 + backoff(1), as_of=AS_OF)
    assert retry.alerts_sent == len(dropped) and statuses(night) == {"sent"}
    delivered = sends.delivered(receiver.subjects())
    assert set(delivered) == set(night.keys)
    assert {k for k, n in delivered.items() if n == 2} == dropped  # the window, exactly
    assert_within_window(delivered, dropped)
    assert_nothing_lost(night, delivered)


# --- a dispatcher killed at random points ----------------------------------------------------------


class Killed(BaseException):
    """The process dying: nothing in the dispatcher catches it and no code after it runs."""


@dataclass
class Killer:
    """Dies at the ``nth`` time ``point`` is reached - or, given ``stall``, stops there while
    ``stall`` runs (a process paused by the OS, a VM suspended) and then carries on."""

    point: str
    nth: int
    stall: Callable[[], None] | None = None
    seen: Counter[str] = field(default_factory=Counter)

    def reached(self, point: str) -> None:
        self.seen[point] += 1
        if point == self.point and self.seen[point] == self.nth:
            if self.stall is None:
                raise Killed(f"killed at {point} #{self.nth}")
            self.stall()


class Channel:
    """Delivers into ``delivered``; the killer may strike just before or just after it accepts."""

    def __init__(self, killer: Killer | None, delivered: Counter[str]) -> None:
        self.killer = killer
        self.delivered = delivered
        self.messages: list[Message] = []

    def send(self, message: Message) -> DeliveryResult:
        if self.killer:
            self.killer.reached("sending")
        self.delivered.update(message.alert_keys)
        self.messages.append(message)
        if self.killer:
            self.killer.reached("accepted")
        return RecordingNotifier().send(message)


def _with_kill_points(monkeypatch: pytest.MonkeyPatch, killer: Killer, engine: Engine) -> Callable[[], None]:
    """Arm the points inside the outbox: after the claim, after a result is recorded, at commits."""
    take, sent, failed = Claim.take.__func__, Claim.sent, Claim.failed  # type: ignore[attr-defined]

    def take_then_die(cls: type[Claim], *args: Any, **kwargs: Any) -> Claim:
        claim = take(cls, *args, **kwargs)
        killer.reached("claimed")
        return claim

    def recorded(original: Callable[..., set[int]]) -> Callable[..., set[int]]:
        def wrapper(self: Claim, *args: Any, **kwargs: Any) -> set[int]:
            written = original(self, *args, **kwargs)
            killer.reached("recorded")
            return written

        return wrapper

    def on_commit(_conn: Any) -> None:  # before the COMMIT reaches the database
        killer.reached("committing")

    monkeypatch.setattr(Claim, "take", classmethod(take_then_die))
    monkeypatch.setattr(Claim, "sent", recorded(sent))
    monkeypatch.setattr(Claim, "failed", recorded(failed))
    event.listen(engine, "commit", on_commit)
    return lambda: event.remove(engine, "commit", on_commit)


def _reset_outbox(night: Night) -> None:
    """Put the night's pending rows back as queued (the suppressed rows stay as they are)."""
    with night.engine.begin() as conn:
        conn.execute(delete(ALERT).where(ALERT.c.kind == "delivery_failing"))
        conn.execute(
            update(ALERT)
            .where(ALERT.c.alert_key.in_(night.keys))
            .values(status="queued", attempts=0, last_error=None, next_attempt_at=None, sent_at=None)
        )


def _finish(night: Night, delivered: Counter[str], start: dt.datetime) -> None:
    """Healthy dispatchers, each after the previous lease has run out, until nothing is pending."""
    now = start
    for _ in range(5):
        now += LEASE
        run_dispatch(night.engine, Channel(None, delivered), now=now, as_of=AS_OF, lease=LEASE)
        if not pending_alerts(night.engine, now=now + dt.timedelta(days=1), max_attempts=5):
            return
    raise AssertionError("alerts still pending after five healthy runs")


def test_a_dispatcher_killed_at_random_points_loses_nothing(
    night: Night, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = len(render_messages(night.rows(), as_of=AS_OF, allow_initials=False))
    # every point a run reaches, with how often: 2 commits before the sends (give-up check, claim),
    # then per message a renewal and a result
    occurrences = {"claimed": 1, "sending": messages, "accepted": messages, "recorded": messages}
    occurrences["committing"] = 2 + 2 * messages
    rng = random.Random(20261205)
    scenarios = [(p, rng.randint(1, n)) for p, n in occurrences.items()]  # each point at least once
    scenarios += [(p, rng.randint(1, occurrences[p])) for p in rng.choices(sorted(occurrences), k=7)]

    for point, nth in scenarios:
        _reset_outbox(night)
        killer = Killer(point, nth)
        doomed = make_engine(night.url)  # the dying process's own connections
        disarm = _with_kill_points(monkeypatch, killer, doomed)
        delivered: Counter[str] = Counter()
        channel = Channel(killer, delivered)
        try:
            with pytest.raises(Killed):
                run_dispatch(doomed, channel, now=T0, as_of=AS_OF, lease=LEASE)
        finally:
            disarm()
            monkeypatch.undo()
            doomed.dispose()
        where = f"killed at {point} #{nth}"
        assert_nothing_lost(night, delivered)
        # the window: messages the channel took whose result the dead run never committed
        rows = {a["alert_key"]: a for a in alerts(night.engine)}
        unrecorded = [m for m in channel.messages if any(rows[k]["status"] != "sent" for k in m.alert_keys)]
        assert len(unrecorded) <= 1, where  # only the message in flight
        window = {k for m in unrecorded for k in m.alert_keys}

        _finish(night, delivered, T0)

        assert statuses(night) == {"sent"}, where
        assert set(delivered) == set(night.keys), where  # nothing lost
        assert_within_window(delivered, window)
        if point in ("claimed", "sending"):
            assert delivered == Counter(night.keys), where  # died before the channel had it: exactly once


def test_a_dispatcher_killed_with_sigkill_after_the_channel_accepted(night: Night, tmp_path: Path) -> None:
    """A real ``kill -9`` of a dispatcher process between the channel's acceptance and the commit."""
    deliveries = tmp_path / "deliveries.txt"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.dispatch_child",
            night.url,
            str(deliveries),
            T0.isoformat(),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "accepted"  # blocks until the child is in place
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(WAIT)
    assert child.returncode == -signal.SIGKILL

    lines = deliveries.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    delivered = Counter(k for line in lines for k in line.split())
    assert_nothing_lost(night, delivered)
    rows = {a["alert_key"]: a for a in alerts(night.engine)}
    in_flight = set(lines[1].split())
    assert {rows[k]["status"] for k in lines[0].split()} == {"sent"}  # recorded before the kill
    assert {rows[k]["status"] for k in in_flight} == {"queued"}  # claimed, never recorded

    _finish(night, delivered, T0)

    assert statuses(night) == {"sent"} and set(delivered) == set(night.keys)
    assert {k for k, n in delivered.items() if n == 2} == in_flight  # the window, exactly
    assert_within_window(delivered, in_flight)


def test_a_dispatcher_stalled_past_its_lease_at_random_points_never_doubles_or_overwrites(
    night: Night, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher is paused at a random point for longer than its lease (no heartbeat can run),
    a second dispatcher sends everything meanwhile, then the first resumes. It must not send what
    it no longer holds, nor record over the second's results: at most the message it had in
    flight reaches anyone twice. (Before leases were fenced it re-sent all the rest.)"""
    messages = len(render_messages(night.rows(), as_of=AS_OF, allow_initials=False))
    # no stall inside a commit: a transaction paused that long holds SQLite's write lock
    occurrences = {"claimed": 1, "sending": messages, "accepted": messages, "recorded": messages}
    rng = random.Random(5122026)
    scenarios = [(p, rng.randint(1, n)) for p, n in occurrences.items()]
    scenarios += [(p, rng.randint(1, occurrences[p])) for p in rng.choices(sorted(occurrences), k=4)]
    later = T0 + LEASE + dt.timedelta(seconds=1)

    for point, nth in scenarios:
        _reset_outbox(night)
        delivered: Counter[str] = Counter()
        second = Channel(None, delivered)

        def meanwhile(second: Channel = second) -> None:
            run_dispatch(night.engine, second, now=later, as_of=AS_OF, lease=LEASE)

        killer = Killer(point, nth, stall=meanwhile)
        slow = make_engine(night.url)
        disarm = _with_kill_points(monkeypatch, killer, slow)
        first = Channel(killer, delivered)
        try:
            run_dispatch(slow, first, now=T0, as_of=AS_OF, lease=LEASE)
        finally:
            disarm()
            monkeypatch.undo()
            slow.dispose()
        where = f"stalled at {point} #{nth}"
        rows = night.rows()
        assert statuses(night) == {"sent"}, where  # nothing set back to failed
        by_second = {k for m in second.messages for k in m.alert_keys}
        # what the second recorded stands (the first wrote nothing over it)
        assert {a["sent_at"] for a in rows if a["alert_key"] in by_second} <= {later}, where
        assert suppressed(night.engine) == night.suppressed, where  # never claimed, never sent
        # the window: the message the first had in flight when it stalled (about to send, or just sent)
        in_flight = first.messages[nth - 1].alert_keys if point in ("sending", "accepted") else ()
        assert set(delivered) == set(night.keys), where
        assert_within_window(delivered, set(in_flight))
        if point in ("claimed", "recorded"):
            assert delivered == Counter(night.keys), where  # stalled between messages: exactly once
