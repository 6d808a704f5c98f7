"""Message sizes against what each documented channel accepts, on a very large synthetic caseload."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehcp_workflow.notify import AlertItem, AlertKind, Message, caseworker_digest, manager_escalation
from ehcp_workflow.notify.digest import MAX_LINES
from ehcp_workflow.notify.limits import CHANNEL_LIMITS, fits, limit_for, message_budget, message_bytes
from ehcp_workflow.notify.summary import OLDEST, opening_position
from tests.notify.helpers import AS_OF

ROOT = Path(__file__).resolve().parents[2]
KINDS = (
    AlertKind.OVERDUE,
    AlertKind.STILL_OVERDUE,
    AlertKind.DUE_TODAY,
    AlertKind.DUE_IN_2,
    AlertKind.DUE_IN_7,
    AlertKind.DUE_IN_14,
    AlertKind.INVALID,
)
CLOCKS = ("final_plan", "decision_not_to_issue", "decision_to_assess", "annual_review", "advice")


def caseload(n_alerts: int, caseworker: str | None = "cw-001", teams: int = 1) -> list[AlertItem]:
    """``n_alerts`` alerts over ``n_alerts // 3`` cases of one caseworker, every kind, long refs."""
    rng = np.random.default_rng(7)
    items = []
    for i in range(n_alerts):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        late = int(rng.integers(1, 3000))
        soon = int(rng.integers(0, 14))
        due = (
            AS_OF - dt.timedelta(days=late)
            if kind in (AlertKind.OVERDUE, AlertKind.STILL_OVERDUE)
            else (AS_OF + dt.timedelta(days=soon))
        )
        items.append(
            AlertItem(
                case_ref=f'EHC-2024-{i // 3:07d}/"x"',  # quotes: JSON escaping counts too
                clock=CLOCKS[i % len(CLOCKS)],
                instance="speech_language_therapy" if CLOCKS[i % len(CLOCKS)] == "advice" else "",
                kind=kind,
                due_date=due,
                days_overdue=late if kind in (AlertKind.OVERDUE, AlertKind.STILL_OVERDUE) else None,
                detail="request_outcome_date is before request_received"
                if kind is AlertKind.INVALID
                else None,
                team=f"Team {i % teams}",
                caseworker=caseworker,
                weeks_waiting=int(rng.integers(0, 200)),
                regulation="SEND Regulations 2014 reg 13(2)",
            )
        )
    return items


def assert_fits_every_channel(message: Message) -> None:
    for limit in CHANNEL_LIMITS:
        assert fits(message, limit), (limit.name, message_bytes(message), limit.max_payload_bytes)


def test_every_channel_documented_in_notifications_yaml_has_a_size_limit_with_a_source() -> None:
    text = (ROOT / "config" / "notifications.yaml").read_text()
    schemes = set(re.findall(r"\b([a-z]+)://", text)) - {"https", "http"}
    assert {"mailto", "mailtos", "workflows", "slack"} <= schemes  # else this test proves nothing
    for scheme in [*schemes, "json"]:  # and apprise's generic JSON webhook
        limit = limit_for(scheme)
        assert limit.source and limit.max_payload_bytes > 0
    assert message_budget() == limit_for("workflows").max_payload_bytes  # Teams is the smallest
    assert limit_for("mailtos").attachments and not limit_for("slack").attachments


def test_a_digest_of_thousands_of_alerts_is_capped_and_fits_every_channel() -> None:
    items = caseload(6_000)
    message = caseworker_digest("cw-001", items, AS_OF)

    assert_fits_every_channel(message)
    lines = [line for line in message.body.splitlines() if line.startswith("- EHC-")]
    assert 0 < len(lines) <= MAX_LINES
    assert len({line.split(":")[0] for line in lines}) == len(lines)  # one line per case
    assert "... and " in message.body and "more cases (full list below)" in message.body
    # the full worklist, one row per clock, is attached
    [attachment] = message.attachments
    rows = list(csv.reader(io.StringIO(attachment.content)))
    distinct = {(i.case_ref, i.clock_id) for i in items}
    assert len(rows) == 1 + len(distinct)
    assert "attached ehcp-worklist-caseworker-cw-001-2024-10-14.csv" in message.body
    assert "ehcp case list --caseworker cw-001 --limit 0" in message.body  # where to get it without files


def test_a_case_with_many_clocks_keeps_its_line_short() -> None:
    items = [
        AlertItem(
            case_ref="C1",
            clock="advice",
            instance=f"adviser_{n:02d}_with_a_long_name",
            kind=AlertKind.STILL_OVERDUE,
            due_date=AS_OF - dt.timedelta(days=9),
            days_overdue=9,
            caseworker="cw-1",
        )
        for n in range(40)
    ]
    message = caseworker_digest("cw-1", items, AS_OF)
    [line] = [line for line in message.body.splitlines() if line.startswith("- C1:")]
    assert line.endswith("and 36 more clocks") and len(line) < 998
    assert_fits_every_channel(message)


def test_managers_get_a_summary_of_thousands_of_escalations_never_a_line_per_alert() -> None:
    items = [i for i in caseload(9_000, caseworker=None, teams=8) if i.kind is AlertKind.OVERDUE]
    items += [
        AlertItem(
            case_ref=f"EHC-W{n}",
            clock="backlog",
            kind=AlertKind.BAND_CROSSED_52,
            band="over_52",
            weeks_waiting=60 + n % 40,
            team=f"Team {n % 8}",
        )
        for n in range(400)
    ]
    assert len(items) > 1_500
    message = manager_escalation(items, AS_OF)

    assert_fits_every_channel(message)
    assert len(message.body.splitlines()) < 60
    listed = set(re.findall(r"EHC-[\w/\"-]+", message.body))
    assert len(listed) <= OLDEST
    assert "- All teams: " in message.body and "- Team 3: " in message.body


def test_the_opening_position_of_a_large_council_fits_every_channel() -> None:
    n = 50_000
    rng = np.random.default_rng(3)
    teams = np.array([f"Team {i}" for i in range(40)], dtype=object)
    bands = np.array(["within_20", "over_20", "over_30", "over_52", "over_100"], dtype=object)
    open_requests = pd.DataFrame(
        {
            "case_ref": [f"C{i:07d}" for i in range(n)],
            "team": teams[rng.integers(0, 40, n)],
            "band": bands[rng.integers(0, 5, n)],
            "weeks_waiting": rng.integers(0, 300, n),
        }
    )
    overdue = pd.DataFrame(
        {
            "case_ref": [f"C{i:07d}" for i in range(n)],
            "team": teams[rng.integers(0, 40, n)],
            "caseworker": "cw-1",
            "clock": np.array(CLOCKS, dtype=object)[rng.integers(0, len(CLOCKS), n)],
            "instance": "",
            "due_date": pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(1, 4000, n), unit="D"),
            "days_overdue": pd.array(rng.integers(1, 4000, n), dtype="Int64"),
        }
    )
    message = opening_position(
        as_of=AS_OF, open_requests=open_requests, overdue=overdue, invalid=overdue.head(0), worklists=300
    )
    assert_fits_every_channel(message)
    assert f"{n:,} open requests, {n:,} clocks overdue" in message.title
    assert "... and 10 more teams" in message.body


@pytest.mark.parametrize("limit", CHANNEL_LIMITS, ids=lambda limit: limit.schemes[0])
def test_the_size_check_refuses_a_message_over_the_limit(limit: object) -> None:
    from ehcp_workflow.notify.limits import ChannelLimit

    assert isinstance(limit, ChannelLimit)
    big = Message(recipient="managers", title="t", body="x" * (limit.max_payload_bytes + 1))
    assert not fits(big, limit)
