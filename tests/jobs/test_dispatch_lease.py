"""A slow channel and two dispatchers: the claim lease is renewed, and a lost claim is let go.

The incident (issue 9, item 6): SMTP hung past the 15-minute lease, a second dispatcher sent every
digest, the first then re-sent the rest of its messages and set delivered alerts back to failed,
and a third run sent those again. Rehearsed here with a real SMTP server on 127.0.0.1 that hangs
until the test releases it; "now" and the lease are parameters and the heartbeat is driven by
hand, so nothing waits on wall-clock time. Both backends.

The outbox is the one a store finds after its opening night and an ordinary night with no dispatch
between (``opened_then_night``): pre-rendered messages (opening position, worklists) and per-clock
alerts are pending together, so the lease and its fencing are checked on both kinds of row, and
the opening night's suppressed alerts must stay untouched and unsent throughout.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine

from ehcp_workflow.db import make_engine
from ehcp_workflow.jobs.dispatch import DispatchSummary, run_dispatch
from ehcp_workflow.notify import RecordingNotifier
from tests.jobs.helpers import AS_OF, NOW, alerts, opened_then_night, suppressed
from tests.jobs.smtp_receiver import (
    WAIT,
    ManualClock,
    Receiver,
    Sends,
    StampingNotifier,
    Step,
    email_notifier,
)

T0 = NOW + dt.timedelta(hours=5)
LEASE = dt.timedelta(minutes=15)


class ManualHeartbeat:
    """A heartbeat the test beats by hand (the dispatcher hands it its renewal)."""

    def __init__(self) -> None:
        self._beat: Callable[[], object] | None = None

    @contextmanager
    def running(self, beat: Callable[[], object]) -> Iterator[None]:
        self._beat = beat
        try:
            yield
        finally:
            self._beat = None

    def beat(self) -> None:
        assert self._beat is not None, "the dispatcher is not sending"
        self._beat()


def assert_suppressed_untouched(store: Engine, before: list[dict[str, Any]]) -> None:
    """The opening night's suppressed alerts were neither claimed, renewed nor sent."""
    assert suppressed(store) == before, "a suppressed alert was claimed, renewed or sent"


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="slow-dispatcher")
    thread.start()
    return thread, errors


@pytest.mark.parametrize("outcome", ["reject", "accept", "drop"])
def test_a_dispatcher_that_lost_its_lease_neither_resends_nor_overwrites(
    store: Engine, store_url: str, receiver: Receiver, outcome: str
) -> None:
    """The first dispatcher's first message hangs past its lease; a second dispatcher takes over and
    sends everything. When the server finally answers the first one (refused, accepted, or taken and
    the connection dropped), it must record nothing over the second's results and send nothing more."""
    queued = opened_then_night(store)
    keys = [a["alert_key"] for a in queued]
    everyone = {a["recipient"] for a in queued}
    quiet = suppressed(store)
    sends = Sends()
    (hang,) = receiver.script(Step(outcome=outcome, hang=True))

    def slow() -> None:
        engine = make_engine(store_url)
        try:
            notifier = StampingNotifier(email_notifier(receiver, everyone), sends)
            run_dispatch(engine, notifier, now=T0, as_of=AS_OF, lease=LEASE)
        finally:
            engine.dispose()

    thread, errors = in_thread(slow)
    try:
        assert hang.entered.wait(WAIT), "the first dispatcher never reached the server"
        in_flight = sends.keys[1]
        # the server has hung for longer than the lease: a second dispatcher claims and sends it all
        later = T0 + LEASE + dt.timedelta(seconds=1)
        second = run_dispatch(
            store, StampingNotifier(email_notifier(receiver, everyone), sends), now=later, as_of=AS_OF
        )
        assert second.alerts_sent == len(keys) and second.messages_failed == 0
    finally:
        hang.release.set()
        thread.join(WAIT)
    assert not thread.is_alive() and not errors, errors

    rows = [a for a in alerts(store) if a["alert_key"] in keys]
    assert len(rows) == len(keys)
    assert {r["status"] for r in rows} == {"sent"}, "a delivered alert was set back to failed"
    assert {r["sent_at"] for r in rows} == {later}, "the second dispatcher's results were overwritten"
    assert len(sends.keys) == 1 + second.messages_sent, "the first dispatcher sent after losing its claim"
    delivered = sends.delivered(receiver.subjects())
    if outcome == "reject":
        assert delivered == Counter(keys)  # exactly once
    else:
        # The at-least-once window: the message in flight when the lease ran out reached the server
        # and was sent again by the new holder. Only that message, and only twice.
        assert {k for k, n in delivered.items() if n > 1} == set(in_flight)
        assert set(delivered) == set(keys) and max(delivered.values()) == 2

    assert_suppressed_untouched(store, quiet)

    # a third run, much later, finds nothing left to send
    third = RecordingNotifier()
    assert run_dispatch(store, third, now=later + dt.timedelta(days=1), as_of=AS_OF) == DispatchSummary()
    assert not third.attempts


def test_a_send_that_hangs_past_the_lease_keeps_its_claim_by_renewing_it(
    store: Engine, store_url: str, receiver: Receiver
) -> None:
    """While the server hangs for three leases, the heartbeat keeps renewing: a second dispatcher
    claims nothing, and when the server answers every alert has been delivered once."""
    queued = opened_then_night(store)
    keys = [a["alert_key"] for a in queued]
    everyone = {a["recipient"] for a in queued}
    quiet = suppressed(store)
    sends = Sends()
    lease = dt.timedelta(minutes=1)
    clock = ManualClock(T0)
    heartbeat = ManualHeartbeat()
    (hang,) = receiver.script(Step(outcome="accept", hang=True))
    result: dict[str, DispatchSummary] = {}

    def slow() -> None:
        engine = make_engine(store_url)
        try:
            notifier = StampingNotifier(email_notifier(receiver, everyone), sends)
            result["first"] = run_dispatch(
                engine, notifier, now=clock(), as_of=AS_OF, lease=lease, clock=clock, heartbeat=heartbeat
            )
        finally:
            engine.dispose()

    thread, errors = in_thread(slow)
    try:
        assert hang.entered.wait(WAIT), "the first dispatcher never reached the server"
        for _ in range(6):  # the server hangs for three leases; the heartbeat beats every half lease
            clock.advance(lease / 2)
            heartbeat.beat()
        claimed = [a for a in alerts(store) if a["alert_key"] in keys]
        assert len(claimed) == len(keys)
        assert {a["next_attempt_at"] for a in claimed} == {clock() + lease}  # renewed, all of them
        assert_suppressed_untouched(store, quiet)  # never claimed, so never renewed
        second = RecordingNotifier()
        assert run_dispatch(store, second, now=clock(), as_of=AS_OF, lease=lease) == DispatchSummary()
        assert not second.attempts
    finally:
        hang.release.set()
        thread.join(WAIT)
    assert not thread.is_alive() and not errors, errors

    first = result["first"]
    assert first.alerts_sent == len(keys) and first.alerts_lost == 0 and first.messages_failed == 0
    assert sends.delivered(receiver.subjects()) == Counter(keys)  # every alert once
    rows = [a for a in alerts(store) if a["alert_key"] in keys]
    assert len(rows) == len(keys)
    assert {r["status"] for r in rows} == {"sent"} and {r["sent_at"] for r in rows} == {clock()}
    assert_suppressed_untouched(store, quiet)
