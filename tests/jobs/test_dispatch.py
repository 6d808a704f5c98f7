"""Alert dispatch (``run_dispatch``) against a real store, on SQLite and PostgreSQL.

The outbox's promises, each rehearsed: a channel that is down and comes back loses nothing and
doubles nothing; a dispatcher killed mid-run leaves its claimed alerts to the next run once the
lease expires (the at-least-once window is shown, not hidden); after ``max_attempts`` failures the
run fails loudly and managers are told; two dispatchers at once send each alert once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable

import pytest
from sqlalchemy import Engine, delete

from ehcp_workflow.db import make_engine
from ehcp_workflow.jobs.dispatch import (
    NO_RESULT,
    DeliveryFailing,
    DispatchSummary,
    backoff,
    pending_alerts,
    render_messages,
    run_dispatch,
)
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.notify import DeliveryResult, Message, RecordingNotifier
from tests.jobs.helpers import ALERT, AS_OF, LATER, LATER_NOW, NOW, OPENED, alert_keys, alerts, table_counts

#: The dispatch runs a few hours after the nightly check.
T0 = NOW + dt.timedelta(hours=5)
LEASE = dt.timedelta(minutes=15)


@pytest.fixture
def store(store: Engine) -> Engine:
    """A store live for a week before AS_OF: its opening night recorded the clock states, so AS_OF
    and LATER are ordinary nights that queue per-clock alerts. The opening's outbox rows are
    cleared: these tests follow the per-clock alerts of ordinary nights through delivery."""
    run_nightly(store, as_of=OPENED, now=NOW - dt.timedelta(days=7))
    with store.begin() as conn:
        conn.execute(delete(ALERT))
    return store


def delivered(*notifiers: RecordingNotifier) -> Counter[str]:
    """How many delivered messages covered each alert key."""
    return Counter(k for n in notifiers for m in n.sent for k in m.alert_keys)


def recipients(messages: Iterable[Message]) -> list[str]:
    return [m.recipient for m in messages]


def test_every_alert_is_delivered_once_in_one_message_per_recipient(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    rows = {a["alert_key"]: a for a in alerts(store)}
    notifier = RecordingNotifier()

    summary = run_dispatch(store, notifier, now=T0, as_of=AS_OF)

    sent = recipients(notifier.sent)
    assert len(sent) == len(set(sent)) == summary.messages_sent  # one message per recipient
    assert set(sent) == {a["recipient"] for a in rows.values()}
    assert {"managers", "team:South", "team:West", "caseworker:cw-001"} <= set(sent)
    assert delivered(notifier) == Counter(rows.keys())  # every key once, nothing else
    assert summary.alerts_sent == len(rows) and summary.messages_failed == 0
    for message in notifier.sent:
        for key in message.alert_keys:
            row = rows[key]
            assert row["recipient"] == message.recipient
            if message.recipient == "managers":  # a summary: counts by team, the longest waits
                continue
            # a digest names each of its cases in a line (under the cap), and the attached
            # worklist has every case and due date it covers
            assert f"- {row['case_ref']}: " in message.body
            [worklist] = message.attachments
            assert row["case_ref"] in worklist.content
            if row["due_date"] is not None:
                assert row["due_date"].isoformat() in worklist.content
    assert {a["status"] for a in alerts(store)} == {"sent"}
    assert {a["sent_at"] for a in alerts(store)} == {T0}

    # a re-run sends nothing; the next night's new alerts go out, and only those
    assert run_dispatch(store, notifier, now=T0 + dt.timedelta(hours=1), as_of=AS_OF) == DispatchSummary()
    run_nightly(store, as_of=LATER, now=LATER_NOW)
    new = set(alert_keys(store)) - set(rows)
    assert new
    run_dispatch(store, notifier, now=LATER_NOW + dt.timedelta(hours=5), as_of=LATER)
    assert delivered(notifier) == Counter(alert_keys(store))


def test_notifier_down_then_up_loses_nothing_and_doubles_nothing(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    keys = alert_keys(store)
    notifier = RecordingNotifier()
    notifier.fail_next(2)  # the first two messages fail: the channel is down, then comes back

    first = run_dispatch(store, notifier, now=T0, as_of=AS_OF)

    down = notifier.attempts[:2]
    failed_keys = {k for m in down for k in m.alert_keys}
    assert first.messages_failed == 2 and first.alerts_failed == len(failed_keys) > 0
    assert first.messages_sent == len(notifier.attempts) - 2
    by_key = {a["alert_key"]: a for a in alerts(store)}
    for key in failed_keys:
        row = by_key[key]
        assert row["status"] == "failed" and row["attempts"] == 1 and row["sent_at"] is None
        assert row["next_attempt_at"] == T0 + backoff(1) == T0 + dt.timedelta(minutes=10)
        assert "simulated delivery failure" in row["last_error"]
    assert {by_key[k]["status"] for k in set(keys) - failed_keys} == {"sent"}

    # before the backoff has passed, nothing is tried (and nothing already sent is sent again)
    tried = len(notifier.attempts)
    assert run_dispatch(store, notifier, now=T0 + dt.timedelta(minutes=9), as_of=AS_OF) == DispatchSummary()
    assert len(notifier.attempts) == tried

    retry = run_dispatch(store, notifier, now=T0 + dt.timedelta(minutes=10), as_of=AS_OF)

    assert retry.messages_sent == 2 and retry.messages_failed == 0
    assert recipients(notifier.attempts[tried:]) == recipients(down)  # the same two recipients
    assert {k for m in notifier.attempts[tried:] for k in m.alert_keys} == failed_keys
    assert delivered(notifier) == Counter(keys)  # every alert exactly once across the runs
    rows = alerts(store)
    assert {a["status"] for a in rows} == {"sent"} and all(a["last_error"] is None for a in rows)
    assert sorted({(a["attempts"], a["sent_at"]) for a in rows}) == [
        (1, T0),
        (2, T0 + dt.timedelta(minutes=10)),
    ]


class Killed(BaseException):
    """The process dying mid-run (SIGKILL, out of memory, the worker's box rebooting): nothing in
    ``run_dispatch`` can catch it, and no code after it runs."""


class DiesOnSecondSend(RecordingNotifier):
    """Delivers the first message; the process dies while sending the second, either before the
    channel took it or (``accepted``) after the channel took it but before the result was recorded."""

    def __init__(self, *, accepted: bool) -> None:
        super().__init__()
        self.accepted = accepted
        self.calls = 0

    def send(self, message: Message) -> DeliveryResult:
        self.calls += 1
        if self.calls == 2:
            if self.accepted:
                super().send(message)
            raise Killed
        return super().send(message)


@pytest.mark.parametrize("accepted", [False, True], ids=["dies-before-delivery", "dies-after-delivery"])
def test_a_dispatch_killed_mid_run_is_finished_by_the_next_run_after_the_lease(
    store: Engine, accepted: bool
) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    keys = alert_keys(store)
    dying = DiesOnSecondSend(accepted=accepted)

    with pytest.raises(Killed):
        run_dispatch(store, dying, now=T0, as_of=AS_OF, lease=LEASE)

    done = set(dying.sent[0].alert_keys)
    by_key = {a["alert_key"]: a for a in alerts(store)}
    assert {k for k, a in by_key.items() if a["status"] == "sent"} == done
    for key in set(keys) - done:  # claimed, never recorded: held by the dead run's lease
        assert by_key[key]["status"] == "queued" and by_key[key]["attempts"] == 1
        assert by_key[key]["next_attempt_at"] == T0 + LEASE
        assert by_key[key]["last_error"] == NO_RESULT  # what an operator sees on the row meanwhile

    healthy = RecordingNotifier()
    # while the lease holds, another dispatcher leaves the claimed alerts alone (the first run might
    # still be alive and sending them)
    assert run_dispatch(store, healthy, now=T0 + LEASE - dt.timedelta(seconds=1), as_of=AS_OF) == (
        DispatchSummary()
    )

    rerun = run_dispatch(store, healthy, now=T0 + LEASE, as_of=AS_OF, lease=LEASE)

    assert rerun.alerts_sent == len(keys) - len(done) and rerun.messages_failed == 0
    assert {a["status"] for a in alerts(store)} == {"sent"}
    assert not set(done) & {k for m in healthy.sent for k in m.alert_keys}  # recorded ones not resent
    counts = delivered(dying, healthy)
    assert set(counts) == set(keys)  # nothing lost
    if accepted:
        # The at-least-once window: the channel took the second message, then the process died
        # before recording it, so the re-run sends it again. Only that message's alerts are doubled.
        twice = {k for k, n in counts.items() if n == 2}
        assert twice == set(dying.sent[1].alert_keys) and max(counts.values()) == 2
    else:
        assert set(counts.values()) == {1}


def test_after_max_attempts_the_run_fails_and_managers_are_told(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    everyone = {a["recipient"] for a in alerts(store)}
    dead = "caseworker:cw-004"  # a caseworker with no route in notifications.yaml
    notifier = RecordingNotifier(routes=everyone - {dead})
    theirs = {a["alert_key"] for a in alerts(store) if a["recipient"] == dead}
    assert theirs

    times = [T0, T0 + backoff(1), T0 + backoff(1) + backoff(2)]  # each retry as soon as it is due
    for attempt, now in enumerate(times[:2], start=1):
        summary = run_dispatch(store, notifier, now=now, as_of=AS_OF, max_attempts=3)
        assert summary.messages_failed == 1 and summary.alerts_given_up == 0
        assert summary.messages_sent == (len(everyone) - 1 if attempt == 1 else 0)
    with pytest.raises(DeliveryFailing, match="caseworker:cw-004") as failure:
        run_dispatch(store, notifier, now=times[2], as_of=AS_OF, max_attempts=3)

    assert f"{len(theirs)} alert(s)" in str(failure.value) and "after 3 attempts" in str(failure.value)
    rows = {a["alert_key"]: a for a in alerts(store)}
    for key in theirs:
        assert rows[key]["status"] == "failed" and rows[key]["attempts"] == 3
        assert "no route for tag 'caseworker:cw-004'" in rows[key]["last_error"]
    # given up: no dispatch tries them again, however late
    later = times[2] + dt.timedelta(days=30)
    assert not theirs & {p["alert_key"] for p in pending_alerts(store, now=later, max_attempts=3)}
    failing = [a for a in rows.values() if a["kind"] == "delivery_failing"]
    assert [(a["recipient"], a["case_ref"], a["status"]) for a in failing] == [("managers", dead, "queued")]
    assert failing[0]["alert_key"].endswith("/managers")

    tried = len(notifier.attempts)
    run_dispatch(store, notifier, now=times[2] + dt.timedelta(hours=1), as_of=AS_OF, max_attempts=3)

    told = notifier.attempts[tried:]
    assert recipients(told) == ["managers"]  # the escalation, and no further try for cw-004
    assert dead in told[0].body and "3 attempts failed" in told[0].body
    assert "no route for tag" in told[0].body
    assert told[0].alert_keys == (failing[0]["alert_key"],)
    assert {a["status"] for a in alerts(store) if a["kind"] == "delivery_failing"} == {"sent"}


def test_alerts_that_joined_a_failing_message_are_not_counted_as_given_up(store: Engine) -> None:
    """A recipient whose old alerts reach ``max_attempts`` in the same message as tonight's new ones:
    only the old ones are given up (and reported); the new ones are still retried."""
    run_nightly(store, as_of=AS_OF, now=NOW)
    everyone = {a["recipient"] for a in alerts(store)}
    dead = "caseworker:cw-004"
    notifier = RecordingNotifier(routes=everyone - {dead})
    old = {a["alert_key"] for a in alerts(store) if a["recipient"] == dead}
    run_dispatch(store, notifier, now=T0, as_of=AS_OF, max_attempts=2)
    run_nightly(store, as_of=LATER, now=LATER_NOW)
    new = {a["alert_key"] for a in alerts(store) if a["recipient"] == dead} - old
    assert old and new

    summary = run_dispatch(
        store, notifier, now=LATER_NOW, as_of=LATER, max_attempts=2, raise_on_give_up=False
    )

    assert summary.alerts_failed == len(old) + len(new)
    assert summary.alerts_given_up == len(old)
    assert summary.recipients_failing == [dead]
    rows = {a["alert_key"]: a for a in alerts(store)}
    assert {rows[k]["attempts"] for k in new} == {1}
    # they share the message's backoff (the recipient's channel is what is failing)
    due = {p["alert_key"] for p in pending_alerts(store, now=LATER_NOW + backoff(2), max_attempts=2)}
    assert new <= due and not old & due
    escalation = render_messages(
        [a for a in alerts(store) if a["kind"] == "delivery_failing"], as_of=LATER, allow_initials=False
    )
    assert f"({len(old)} alerts)" in escalation[0].body


def test_two_dispatchers_at_once_send_each_alert_once(store: Engine, store_url: str) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    keys = alert_keys(store)
    barrier = threading.Barrier(2)
    notifiers = [RecordingNotifier(), RecordingNotifier()]
    errors: list[BaseException] = []

    def dispatch(notifier: RecordingNotifier) -> None:
        engine = make_engine(store_url)
        try:
            barrier.wait(timeout=30)
            run_dispatch(engine, notifier, now=T0, as_of=AS_OF)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=dispatch, args=(n,)) for n in notifiers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not errors, errors
    assert delivered(*notifiers) == Counter(keys)
    assert {a["status"] for a in alerts(store)} == {"sent"}


def test_a_dry_run_dispatch_renders_but_writes_nothing(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    before = alerts(store)
    notifier = RecordingNotifier()

    summary = run_dispatch(store, notifier, now=T0, as_of=AS_OF, dry_run=True)

    assert summary.dry_run and summary.messages_sent == len(notifier.sent) > 0
    assert delivered(notifier) == Counter(a["alert_key"] for a in before)
    assert alerts(store) == before and table_counts(store)["alert"] == len(before)
    assert dataclasses.asdict(summary)["alerts_sent"] == len(before)


def test_a_dispatch_that_dies_on_the_last_attempt_does_not_lose_the_alerts_silently(store: Engine) -> None:
    """Killed mid-send on every run (a channel that hangs until the worker is killed, say): when the
    last attempt's lease expires with no result, the alerts are given up loudly, like failed sends."""
    run_nightly(store, as_of=AS_OF, now=NOW)
    keys = set(alert_keys(store))
    now = T0
    for _ in range(2):  # max_attempts=2: both attempts claimed, neither recorded
        with pytest.raises(Killed):
            run_dispatch(store, DiesOnSecondSend(accepted=False), now=now, as_of=AS_OF, max_attempts=2)
        now += LEASE
    stuck = {a["alert_key"] for a in alerts(store) if a["status"] != "sent"}
    assert stuck and {a["attempts"] for a in alerts(store) if a["alert_key"] in stuck} == {2}

    with pytest.raises(DeliveryFailing, match="after 2 attempts"):
        run_dispatch(store, RecordingNotifier(), now=now, as_of=AS_OF, max_attempts=2)

    rows = {a["alert_key"]: a for a in alerts(store)}
    for key in stuck:
        assert rows[key]["status"] == "failed" and "no result was recorded" in rows[key]["last_error"]
    told = [a for a in rows.values() if a["kind"] == "delivery_failing"]
    assert told and {a["recipient"] for a in told} == {"managers"}
    healthy = RecordingNotifier()
    run_dispatch(store, healthy, now=now + dt.timedelta(hours=1), as_of=AS_OF, max_attempts=2)
    assert {k for m in healthy.sent for k in m.alert_keys} == {a["alert_key"] for a in told}
    assert "no result was recorded" in healthy.sent[0].body
    assert keys <= set(rows)


def test_a_dry_run_reports_the_recipients_a_real_run_could_not_reach(store: Engine) -> None:
    """The flow's dry run uses a recorder that knows the configured routes: a recipient with none
    must show up as failing, as it would in a real run, not as sent."""
    run_nightly(store, as_of=AS_OF, now=NOW)
    before = alerts(store)
    everyone = {a["recipient"] for a in before}
    dead = "caseworker:cw-004"
    notifier = RecordingNotifier(routes=everyone - {dead})

    summary = run_dispatch(store, notifier, now=T0, as_of=AS_OF, dry_run=True)

    theirs = [a for a in before if a["recipient"] == dead]
    assert summary.dry_run
    assert (summary.messages_sent, summary.messages_failed) == (len(everyone) - 1, 1)
    assert (summary.alerts_sent, summary.alerts_failed) == (len(before) - len(theirs), len(theirs))
    assert summary.recipients_failing == [dead]
    assert alerts(store) == before  # still writes nothing
