"""Secrets never reach a log, from any logger at any level; artifacts name a missing team.

A webhook URL's path is its token and apprise puts custom headers (an API key) in the URL's query.
urllib3 logs the request line (``"POST /hooks/... HTTP/1.1"``) at DEBUG from its own logger, which
a filter on the ``apprise`` logger never saw. Here every record of every logger is captured at
DEBUG while a real message is posted to a local receiver, and no part of the secret may appear.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd
import pytest

from ehcp_workflow.notify import AppriseNotifier, Message
from tests.notify.conftest import json_server  # noqa: F401 - the local webhook receiver
from tests.notify.helpers import JsonReceiver, routing_from

TOKEN = "T0451/B0982/Zq7TokenSecret31"
API_KEY = "ApiKey-9f8e7d6c5b4a"


@pytest.fixture
def webhook(json_server: JsonReceiver) -> JsonReceiver:  # noqa: F811
    from tests.notify.helpers import drain

    drain(json_server.posts)
    return json_server


def test_no_logger_at_debug_sees_a_webhook_token_or_a_header_key(
    webhook: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"json://127.0.0.1:{webhook.port}/hooks/{TOKEN}?+X-Api-Key={API_KEY}"
    caplog.set_level(logging.DEBUG)  # the root: urllib3, apprise, ours and anyone else
    routing = routing_from(f"version: 1\nurls:\n  - {url}:\n      tag: managers\n")
    result = AppriseNotifier(routing).send(Message(recipient="managers", title="t", body="b"))
    assert result.ok, result.error
    post = webhook.next()
    assert post.headers.get("X-Api-Key") == API_KEY  # the key really was sent
    ours = logging.getLogger("ehcp_workflow.anything")
    ours.debug("posting to %s with key %s", url, API_KEY)
    ours.info("run details at %s", "http://127.0.0.1:4200/runs/42")

    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"urllib3", "apprise", "ehcp_workflow"} <= loggers, loggers  # every source was captured
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (TOKEN, "Zq7TokenSecret31", API_KEY):
        assert secret not in text, f"{secret!r} reached the log"
    assert "run details at http://127.0.0.1:4200/runs/42" in text, "an ordinary link is kept"


def _night(team: Any) -> dict[str, Any]:
    summary = {
        "as_of": "2026-06-01",
        "dry_run": False,
        "cases": 1,
        "open_requests": 1,
        "oldest_open_weeks": 31,
        "clocks_by_status": {"overdue": 1},
        "overdue_clocks": 1,
        "invalid_clocks": 0,
        "new_breaches": 1,
        "band_crossings": 1,
        "alerts_queued": 1,
        "alerts_considered": 1,
        "transitions_logged": 1,
        "open_by_band": {"over_30": 1},
        "notes": [],
    }
    waiting = {"case_ref": "C-03", "band": "over_30", "weeks_waiting": 31, "team": team}
    return {"summary": summary, "backlog_by_team": [], "longest_waits": [waiting]}


@pytest.mark.parametrize("team", [math.nan, None, "", pd.NA])
def test_breach_summary_names_a_missing_team(team: Any) -> None:
    from flows.nightly import breach_summary

    row = next(line for line in breach_summary(_night(team)).splitlines() if line.startswith("| C-03"))
    assert row == "| C-03 | (no team) | Over 30, up to 52 weeks | 31 |"
    assert "nan" not in row


def test_breach_summary_keeps_a_team() -> None:
    from flows.nightly import breach_summary

    assert "| C-03 | north | Over 30, up to 52 weeks | 31 |" in breach_summary(_night("north"))
