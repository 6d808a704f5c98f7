"""Sending what the nightly check queued: digests to caseworkers, escalations to managers.

Delivery guarantees, and how they are kept:

* **Nothing is lost.** An alert stays in the outbox until a send of the message covering it succeeded
  (``sent``). A failed send records its (redacted) error, and the alert is retried on a later run
  after an exponential backoff.
* **Nothing is sent twice by two dispatchers.** Alerts are *claimed* before sending: one UPDATE ...
  RETURNING moves their ``next_attempt_at`` a lease into the future and counts the attempt, and only
  rows still claimable are returned. A second dispatcher running at the same moment claims nothing
  that the first holds. The lease is renewed before each send and by a heartbeat while a send is
  slow, so a mail server that hangs for longer than the lease does not let a second dispatcher in.
  Renewals and results are fenced (:class:`~ehcp_workflow.db.outbox.Claim`): a dispatcher whose
  lease ran out anyway sends nothing more of what it lost and never overwrites the new holder's
  result; only the message it had in flight can reach its recipient twice.
* **A crash is survivable.** If the process dies between claiming and recording the result, the lease
  expires and the alerts are sent on a later run. (The one window in which a message can be
  delivered twice is a crash after the notifier accepted it and before the result was committed:
  delivery is at-least-once, never at-most-once.) The claim counts as an attempt, so an alert
  whose last attempt dies that way is given up like a failed send (below), not left pending.
* **Failure is visible.** After ``max_attempts`` failed sends the alert stops being retried, the
  managers get a ``delivery_failing`` alert, and :class:`DeliveryFailing` is raised so the flow run
  fails in the Prefect UI.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from ehcp_workflow.db.outbox import (
    NO_RESULT,
    Claim,
    Clock,
    Heartbeat,
    ThreadHeartbeat,
    backoff,
    give_up_abandoned,
    pending_alerts,
    queue_delivery_failing,
    queue_message,
)
from ehcp_workflow.notify.body import is_escalation_key, item_from_body
from ehcp_workflow.notify.digest import caseworker_digest
from ehcp_workflow.notify.model import (
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    Message,
    delivery_failing_item,
    local_tag,
    split_council,
)
from ehcp_workflow.notify.redact import redact
from ehcp_workflow.notify.sender import Notifier
from ehcp_workflow.notify.stored import MESSAGE_KIND, decode_message
from ehcp_workflow.notify.summary import manager_escalation

log = logging.getLogger(__name__)

#: When one clock has several alerts in a message, the first of these is shown.
_KIND_RANK = {AlertKind.INVALID: 0, AlertKind.OVERDUE: 1, AlertKind.STILL_OVERDUE: 2, AlertKind.DUE_TODAY: 3}


class DeliveryFailing(RuntimeError):
    """Some alerts could not be delivered after the maximum number of attempts."""


@dataclass(frozen=True)
class DispatchSummary:
    messages_sent: int = 0
    messages_failed: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    alerts_given_up: int = 0
    recipients_failing: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: Alerts claimed by this run whose claim ran out before their result was recorded: another
    #: dispatcher holds them now and records their outcome (see ``ehcp_workflow.db.outbox.Claim``).
    alerts_lost: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def render_messages(rows: Sequence[dict[str, Any]], *, as_of: dt.date, allow_initials: bool) -> list[Message]:
    """One message per recipient: a digest for a caseworker (or team), an escalation for managers."""
    groups: dict[tuple[str, bool], list[AlertItem]] = defaultdict(list)
    keys: dict[tuple[str, bool], list[str]] = defaultdict(list)
    seen: set[tuple[str, str, str, bool]] = set()
    messages = []
    for row in rows:
        if row.get("kind") == MESSAGE_KIND:  # pre-rendered (the weekly summary)
            messages.append(
                decode_message(row["body"], recipient=row["recipient"], alert_keys=(row["alert_key"],))
            )
    rows = [r for r in rows if r.get("kind") != MESSAGE_KIND]
    for row in sorted(rows, key=lambda r: _KIND_RANK.get(item_from_body(r["body"]).kind, 9)):
        item = item_from_body(row["body"])
        # escalations: managers' copies, and manager-only kinds (band crossings, failing delivery)
        escalation = local_tag(row["recipient"]) == MANAGERS and (
            is_escalation_key(row["alert_key"]) or (item.kind in ESCALATION_KINDS and item.caseworker is None)
        )
        keys[(row["recipient"], escalation)].append(row["alert_key"])  # marked sent either way
        once = (row["recipient"], item.case_ref, item.clock_id, escalation)
        if once in seen:  # e.g. a new breach on a Monday is not also listed as "still overdue"
            continue
        seen.add(once)
        groups[(row["recipient"], escalation)].append(item)
    for (recipient, escalation), items in sorted(groups.items()):
        if escalation:
            msg = manager_escalation(items, as_of, allow_initials=allow_initials)
        else:
            caseworker = items[0].caseworker if local_tag(recipient).startswith("caseworker:") else None
            msg = caseworker_digest(caseworker, items, as_of, allow_initials=allow_initials)
        # a council's recipients (regional store) see which council a message is about
        council = split_council(recipient)[0]
        # the outbox keys (managers' copies carry a suffix) are what gets marked sent
        messages.append(
            Message(
                recipient=recipient,
                title=msg.title if council is None else f"{council}: {msg.title}",
                body=msg.body,
                markdown=msg.markdown,
                alert_keys=tuple(keys[(recipient, escalation)]),
                severity=msg.severity,
                attachments=msg.attachments,
            )
        )
    return messages


def run_dispatch(
    engine: Engine,
    notifier: Notifier,
    *,
    now: dt.datetime,
    as_of: dt.date,
    max_attempts: int = 5,
    lease: dt.timedelta = dt.timedelta(minutes=15),
    allow_initials: bool = False,
    dry_run: bool = False,
    raise_on_give_up: bool = True,
    clock: Clock | None = None,
    heartbeat: Heartbeat | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DispatchSummary:
    """Send every claimable alert, grouped into one message per recipient; record the outcome.

    ``now`` is when the run starts (what it claims); ``clock`` is read for every later renewal and
    result. Pass :func:`~ehcp_workflow.db.outbox.wall_clock` in production: the default, time
    standing still at ``now``, keeps tests exact but cannot extend a lease. ``heartbeat`` renews the
    lease while a send is slow (default: a thread every third of the lease). ``progress`` is told
    ``(messages done, messages)`` before each send and at the end (the flow's progress artifact).
    """
    report = progress or (lambda done, total: None)
    if dry_run:
        rows = pending_alerts(engine, now=now, max_attempts=max_attempts)
        messages = render_messages(rows, as_of=as_of, allow_initials=allow_initials)
        # the dry-run notifier knows the configured routes: report what a real run could not deliver
        unreachable = [m for m in messages if not notifier.send(m).ok]
        report(len(messages), len(messages))
        for m in unreachable:
            log.warning("dry run: delivery to %s would fail", m.recipient)
        lost = sum(len(m.alert_keys) for m in unreachable)
        return DispatchSummary(
            messages_sent=len(messages) - len(unreachable),
            messages_failed=len(unreachable),
            alerts_sent=len(rows) - lost,
            alerts_failed=lost,
            recipients_failing=sorted({m.recipient for m in unreachable}),
            dry_run=True,
        )

    failing = _abandoned(
        engine, now=now, as_of=as_of, max_attempts=max_attempts, allow_initials=allow_initials
    )
    claim = Claim.take(engine, now=now, lease=lease, max_attempts=max_attempts, clock=clock)
    if not claim.rows and not failing:
        return DispatchSummary()
    by_key = {r["alert_key"]: r for r in claim.rows}
    messages = render_messages(claim.rows, as_of=as_of, allow_initials=allow_initials)
    sent = failed = alerts_sent = alerts_failed = lost = 0
    with (heartbeat or ThreadHeartbeat(every=lease / 3)).running(claim.renew):
        for done, message in enumerate(messages):
            report(done, len(messages))
            # Renew before each send, and send only what is still ours: if the lease ran out while an
            # earlier send hung, another dispatcher may already have sent (and recorded) the rest.
            ids = {by_key[k]["id"] for k in message.alert_keys}
            held = claim.renew(ids)
            if not held:
                lost += len(ids)
                log.warning("not sending to %s: the claim on its alerts was lost", message.recipient)
                continue
            if held != ids:
                lost += len(ids - held)
                (message,) = render_messages(
                    [r for r in claim.rows if r["id"] in held], as_of=as_of, allow_initials=allow_initials
                )
            keys = list(message.alert_keys)
            result = notifier.send(message)
            if result.ok:
                written = claim.sent(held)
                sent += 1
                alerts_sent += len(written)
            else:
                error = redact(result.error or result.status)
                tries = max(by_key[k]["attempts"] for k in keys)
                written = claim.failed(held, error=error, retry_in=backoff(tries))
                failed += 1
                alerts_failed += len(written)
                # Only the alerts at their last attempt are given up: a message can also carry alerts
                # queued since (fewer attempts), which stay claimable and must not be reported lost.
                # And only those this run still held: the new holder of the others decides for them.
                last = tuple(
                    k for k in keys if by_key[k]["attempts"] >= max_attempts and by_key[k]["id"] in written
                )
                if last:
                    failing.append(
                        (replace(message, alert_keys=last), error, max(by_key[k]["attempts"] for k in last))
                    )
                log.warning("delivery to %s failed (attempt %d): %s", message.recipient, tries, error)
            if written != held:
                lost += len(held - written)
                log.warning(
                    "result for %s not recorded for %d alert(s): the claim was lost while sending "
                    "(the dispatcher that took them over records their outcome)",
                    message.recipient,
                    len(held - written),
                )

    report(len(messages), len(messages))
    given_up = sum(len(m.alert_keys) for m, _, _ in failing)
    if failing:
        _escalate(engine, failing, as_of=as_of, now=now)
    summary = DispatchSummary(
        messages_sent=sent,
        messages_failed=failed,
        alerts_sent=alerts_sent,
        alerts_failed=alerts_failed,
        alerts_given_up=given_up,
        recipients_failing=sorted({m.recipient for m, _, _ in failing}),
        alerts_lost=lost,
    )
    if failing and raise_on_give_up:
        raise DeliveryFailing(
            f"{given_up} alert(s) for {', '.join(summary.recipients_failing)} could not be delivered after "
            f"{max_attempts} attempts; managers have been alerted (if their channel works)"
        )
    return summary


def _abandoned(
    engine: Engine, *, now: dt.datetime, as_of: dt.date, max_attempts: int, allow_initials: bool
) -> list[tuple[Message, str | None, int]]:
    """The alerts :func:`~ehcp_workflow.db.outbox.give_up_abandoned` gave up (last attempt claimed,
    never recorded, lease expired), as (message, error, attempts) for :func:`_escalate`."""
    rows = give_up_abandoned(engine, now=now, max_attempts=max_attempts)
    if not rows:
        return []
    tries = {r["alert_key"]: r["attempts"] for r in rows}
    messages = render_messages(rows, as_of=as_of, allow_initials=allow_initials)
    for m in messages:
        log.warning("delivery to %s given up: %s", m.recipient, NO_RESULT)
    return [(m, NO_RESULT, max(tries[k] for k in m.alert_keys)) for m in messages]


def _escalate(
    engine: Engine, failing: Sequence[tuple[Message, str | None, int]], *, as_of: dt.date, now: dt.datetime
) -> None:
    """Queue one ``delivery_failing`` manager alert per failing recipient and day, to the managers
    of the recipient's council (a regional store's councils each hear only of their own)."""
    by_council: dict[str | None, list[AlertItem]] = defaultdict(list)
    for m, err, tries in failing:
        item = delivery_failing_item(m, attempts=tries, error=err, as_of=as_of)
        by_council[split_council(m.recipient)[0]].append(item)
    for council, items in by_council.items():
        queue_delivery_failing(engine, items, now=now, council=council)


__all__ = [
    "NO_RESULT",
    "DeliveryFailing",
    "DispatchSummary",
    "backoff",
    "pending_alerts",
    "queue_message",
    "render_messages",
    "run_dispatch",
]
