"""Sending what the nightly check queued: digests to caseworkers, escalations to managers.

Delivery guarantees, and how they are kept:

* **Nothing is lost.** An alert stays in the outbox until a send of the message covering it succeeded
  (``sent``). A failed send records its (redacted) error, and the alert is retried on a later run
  after an exponential backoff.
* **Nothing is sent twice by two dispatchers.** Alerts are *claimed* before sending: one UPDATE ...
  RETURNING moves their ``next_attempt_at`` a lease into the future and counts the attempt, and only
  rows still claimable are returned. A second dispatcher running at the same moment claims nothing
  that the first holds.
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from ehcp_workflow.db.models import Alert, table_of
from ehcp_workflow.db.outbox import enqueue_alerts
from ehcp_workflow.jobs.nightly import is_escalation_key, item_from_body, outbox_rows
from ehcp_workflow.notify.digest import caseworker_digest
from ehcp_workflow.notify.model import (
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    Message,
    delivery_failing_item,
)
from ehcp_workflow.notify.redact import redact
from ehcp_workflow.notify.sender import Notifier
from ehcp_workflow.notify.stored import MESSAGE_KIND, decode_message, message_row
from ehcp_workflow.notify.summary import manager_escalation

log = logging.getLogger(__name__)
ALERT = table_of(Alert)

#: When one clock has several alerts in a message, the first of these is shown.
_KIND_RANK = {AlertKind.INVALID: 0, AlertKind.OVERDUE: 1, AlertKind.STILL_OVERDUE: 2, AlertKind.DUE_TODAY: 3}


#: Alerts still to be delivered.
PENDING = ("queued", "failed")

#: ``last_error`` of a claimed alert until its result is recorded (sent clears it, a failure
#: replaces it): still there after the lease means the dispatcher died mid-send.
NO_RESULT = "claimed for sending, but no result was recorded (the dispatcher stopped mid-send)"

#: The columns a claim returns: what rendering a message needs.
_RENDERED = (ALERT.c.id, ALERT.c.alert_key, ALERT.c.recipient, ALERT.c.kind, ALERT.c.body, ALERT.c.attempts)


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backoff(attempts: int, *, base: dt.timedelta = dt.timedelta(minutes=10)) -> dt.timedelta:
    """Wait before the next try: 10 min, 20, 40... capped at 12 hours."""
    wait: dt.timedelta = min(base * (2 ** max(attempts - 1, 0)), dt.timedelta(hours=12))
    return wait


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
        escalation = row["recipient"] == MANAGERS and (
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
            caseworker = items[0].caseworker if recipient.startswith("caseworker:") else None
            msg = caseworker_digest(caseworker, items, as_of, allow_initials=allow_initials)
        # the outbox keys (managers' copies carry a suffix) are what gets marked sent
        messages.append(
            Message(
                recipient=recipient,
                title=msg.title,
                body=msg.body,
                markdown=msg.markdown,
                alert_keys=tuple(keys[(recipient, escalation)]),
                severity=msg.severity,
                attachments=msg.attachments,
            )
        )
    return messages


def pending_alerts(engine: Engine, *, now: dt.datetime, max_attempts: int) -> list[dict[str, Any]]:
    """Alerts that a dispatch at ``now`` would try (read only: for dry runs and reports)."""
    with engine.connect() as conn:
        result = conn.execute(select(ALERT).where(_claimable(now, max_attempts)).order_by(ALERT.c.id))
        return [dict(r._mapping) for r in result]


def _claimable(now: dt.datetime, max_attempts: int) -> Any:
    return and_(
        ALERT.c.status.in_(PENDING),
        ALERT.c.attempts < max_attempts,
        or_(ALERT.c.next_attempt_at.is_(None), ALERT.c.next_attempt_at <= now),
    )


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
) -> DispatchSummary:
    """Send every claimable alert, grouped into one message per recipient; record the outcome."""
    if dry_run:
        rows = pending_alerts(engine, now=now, max_attempts=max_attempts)
        messages = render_messages(rows, as_of=as_of, allow_initials=allow_initials)
        # the dry-run notifier knows the configured routes: report what a real run could not deliver
        unreachable = [m for m in messages if not notifier.send(m).ok]
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
    with engine.begin() as conn:  # the claim commits at once: the lease is what protects the rows
        claimed = [
            dict(r._mapping)
            for r in conn.execute(
                update(ALERT)
                .where(_claimable(now, max_attempts))
                # the mark stays only if this run dies before recording the result (see _abandoned)
                .values(attempts=ALERT.c.attempts + 1, next_attempt_at=now + lease, last_error=NO_RESULT)
                .returning(*_RENDERED)
            )
        ]
    if not claimed and not failing:
        return DispatchSummary()
    attempts = {r["alert_key"]: r["attempts"] for r in claimed}
    messages = render_messages(claimed, as_of=as_of, allow_initials=allow_initials)
    sent = failed = alerts_sent = alerts_failed = 0
    for message in messages:
        result = notifier.send(message)
        keys = list(message.alert_keys)
        with engine.begin() as conn:
            if result.ok:
                conn.execute(
                    update(ALERT)
                    .where(ALERT.c.alert_key.in_(keys))
                    .values(status="sent", sent_at=now, last_error=None, next_attempt_at=None)
                )
                sent += 1
                alerts_sent += len(keys)
            else:
                error = redact(result.error or result.status)
                tries = max(attempts[k] for k in keys)
                conn.execute(
                    update(ALERT)
                    .where(ALERT.c.alert_key.in_(keys))
                    .values(status="failed", last_error=error[:2000], next_attempt_at=now + backoff(tries))
                )
                failed += 1
                alerts_failed += len(keys)
                # Only the alerts at their last attempt are given up: a message can also carry alerts
                # queued since (fewer attempts), which stay claimable and must not be reported lost.
                last = tuple(k for k in keys if attempts[k] >= max_attempts)
                if last:
                    failing.append((replace(message, alert_keys=last), error, max(attempts[k] for k in last)))
                log.warning("delivery to %s failed (attempt %d): %s", message.recipient, tries, error)

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
    """Give up alerts whose *last* attempt was claimed but never recorded (the dispatcher died
    mid-send and its lease has expired), exactly as if that attempt had failed.

    Without this they would stay pending with ``attempts == max_attempts``: never claimable again,
    never reported, and no ``delivery_failing`` alert - silently lost. Returns them as (message,
    error, attempts) for :func:`_escalate`; ``next_attempt_at`` is cleared so this happens once.
    """
    with engine.begin() as conn:
        rows = [
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
                .returning(*_RENDERED)
            )
        ]
    if not rows:
        return []
    tries = {r["alert_key"]: r["attempts"] for r in rows}
    messages = render_messages(rows, as_of=as_of, allow_initials=allow_initials)
    for m in messages:
        log.warning("delivery to %s given up: %s", m.recipient, NO_RESULT)
    return [(m, NO_RESULT, max(tries[k] for k in m.alert_keys)) for m in messages]


def queue_message(engine: Engine, message: Message, *, key: str, now: dt.datetime) -> bool:
    """Queue a pre-rendered message once per ``key`` (e.g. the weekly summary of one ISO week).

    Returns whether it was newly queued; a re-run of the same week queues nothing.
    """
    with engine.begin() as conn:
        return enqueue_alerts(conn, [message_row(message, key=key, now=now)]) == 1


def _escalate(
    engine: Engine, failing: Sequence[tuple[Message, str | None, int]], *, as_of: dt.date, now: dt.datetime
) -> None:
    """Queue one ``delivery_failing`` manager alert per failing recipient and day."""
    import pandas as pd

    items = [delivery_failing_item(m, attempts=tries, error=err, as_of=as_of) for m, err, tries in failing]
    rows = []
    for item in items:
        candidates = pd.DataFrame(
            [
                {
                    "case_ref": item.case_ref,
                    "clock": item.clock,
                    "instance": "",
                    "kind": item.kind.value,
                    "episode": item.episode,
                    "status": "failing",
                    "due_date": None,
                    "days_overdue": None,
                    "team": None,
                    "caseworker": None,
                    "band": None,
                    "weeks_waiting": None,
                    "regulation": "",
                    "detail": item.detail,
                }
            ]
        )
        rows.extend(outbox_rows(candidates, titles={item.clock: item.title}, now=now))
    with engine.begin() as conn:
        enqueue_alerts(conn, rows)
