"""Council-scoped recipients: a regional store's councils share caseworker ids, team names and the
word "managers", and only the council in the tag keeps one council's alerts from another's people."""

from __future__ import annotations

import datetime as dt
import queue
from typing import Any

import pandas as pd
import pytest

from ehcp_workflow.jobs.dispatch import render_messages
from ehcp_workflow.notify import Message, RecordingNotifier
from ehcp_workflow.notify.body import outbox_rows
from ehcp_workflow.notify.model import council_tag, local_tag, normalise_tag, split_council
from ehcp_workflow.notify.routing import RoutingConfigError, apprise_tag, tag_from_apprise
from ehcp_workflow.notify.sender import AppriseNotifier
from tests.notify.helpers import JsonReceiver, routing_from

AS_OF = dt.date(2024, 10, 15)
NOW = dt.datetime(2024, 10, 15, 1, tzinfo=dt.UTC)


def test_a_council_tag_wraps_any_recipient_and_is_canonical() -> None:
    assert council_tag("886", "caseworker:cw-1") == "council:886/caseworker:cw-1"
    assert council_tag(None, "Managers") == "managers"  # a one-council store keeps plain tags
    assert normalise_tag(" Council:e10000016/ Team:SEN  North") == "council:E10000016/team:SEN North"
    assert split_council("council:886/managers") == ("886", "managers")
    assert split_council("team:North") == (None, "team:North")
    assert local_tag("council:886/caseworker:42") == "caseworker:42"


@pytest.mark.parametrize(
    "bad",
    [
        "council:886",
        "council:/managers",
        "council:88 6/managers",
        "council:886/manager",
        "council:886/council:887/managers",
    ],
)
def test_a_malformed_council_tag_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="council"):
        normalise_tag(bad)


def test_council_tags_encode_for_apprise_without_colliding() -> None:
    tags = [
        "council:886/caseworker:cw-1",
        "council:887/caseworker:cw-1",
        "caseworker:cw-1",
        "council:886/managers",
    ]
    encoded = [apprise_tag(t) for t in tags]
    assert len(set(encoded)) == len(tags)
    assert [tag_from_apprise(e) for e in encoded] == tags


def test_a_routes_file_with_a_malformed_council_tag_names_the_entry() -> None:
    with pytest.raises(RoutingConfigError, match="entry #1"):
        routing_from("version: 1\nurls:\n  - json://127.0.0.1:9/x:\n      tag: council:886 managers\n")


def test_the_same_caseworker_id_in_two_councils_reaches_only_its_own_channel(webhook: JsonReceiver) -> None:
    routing = routing_from(
        f"""
version: 1
urls:
  - {webhook.url("/886/cw-001")}:
      tag: council:886/caseworker:cw-001
  - {webhook.url("/887/cw-001")}:
      tag: council:887/caseworker:cw-001
  - {webhook.url("/886/managers")}:
      tag: council:886/managers
  - {webhook.url("/region")}:
      tag: council:886/managers, council:887/managers
"""
    )
    notifier = AppriseNotifier(routing)
    assert notifier.send(Message(recipient="council:887/caseworker:cw-001", title="t", body="b")).ok
    assert webhook.next().path == "/887/cw-001"
    assert webhook.posts.empty(), "another council's cw-001 received it"

    assert notifier.send(Message(recipient="council:886/managers", title="t", body="b")).ok
    assert sorted([webhook.next().path, webhook.next().path]) == ["/886/managers", "/region"]
    assert webhook.posts.empty()

    # an unscoped tag matches no council's route: a store-wide night in a regional deployment
    # is refused at send time (no route), never delivered to some council's caseworker
    result = notifier.send(Message(recipient="caseworker:cw-001", title="t", body="b"))
    assert not result.ok
    with pytest.raises(queue.Empty):
        webhook.posts.get_nowait()


def _candidates() -> pd.DataFrame:
    base: dict[str, Any] = {
        "clock": "final_plan",
        "instance": "",
        "episode": "2024-05-01",
        "status": "overdue",
        "due_date": pd.Timestamp("2024-09-18"),
        "days_overdue": 27,
        "team": "North",
        "band": None,
        "weeks_waiting": 24,
        "regulation": "reg 13(2)",
        "detail": None,
    }
    return pd.DataFrame(
        [
            {**base, "case_ref": "886-C1", "caseworker": "cw-001", "kind": "overdue"},
            {**base, "case_ref": "886-C2", "caseworker": None, "team": None, "kind": "due_in_7"},
        ]
    )


def test_a_council_night_queues_every_copy_for_that_councils_recipients() -> None:
    plain = outbox_rows(_candidates(), titles={}, now=NOW)
    scoped = outbox_rows(_candidates(), titles={}, now=NOW, council="886")
    assert sorted(r["recipient"] for r in plain) == ["caseworker:cw-001", "managers", "managers"]
    assert sorted(r["recipient"] for r in scoped) == [
        "council:886/caseworker:cw-001",
        "council:886/managers",
        "council:886/managers",
    ]
    # the same alerts (keys are the case's, and case refs are unique in the store)
    assert sorted(r["alert_key"] for r in plain) == sorted(r["alert_key"] for r in scoped)

    messages = render_messages(scoped, as_of=AS_OF, allow_initials=False)
    by_recipient = {m.recipient: m for m in messages}
    # the managers' escalation is recognised as such inside a council, and names the council
    escalation = next(m for m in messages if m.recipient == "council:886/managers" and "886-C1" in m.body)
    assert escalation.title.startswith("886: ")
    assert "council:886/caseworker:cw-001" in by_recipient
    assert all(m.title.startswith("886: ") for m in messages)
    recorder = RecordingNotifier(routes=["council:886/caseworker:cw-001", "council:886/managers"])
    assert all(recorder.send(m).ok for m in messages)
