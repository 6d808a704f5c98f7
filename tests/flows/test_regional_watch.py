"""When ``regional-nightly`` gives a council's run up for lost (and runs the council again).

Pure decisions on flow-run objects: no server needed. The real thing, with a worker killed, is
``tests/regional/test_regional.py``. Prefect is imported inside the tests, never at collection:
the flow harness must set Prefect's settings before its first import (``tests/flows/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

NOW = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)


def run_in(state: str | None, seconds_ago: float = 0, message: str | None = None) -> Any:
    from prefect.client.schemas.objects import FlowRun, State, StateType

    found = None
    if state is not None:
        when = NOW - dt.timedelta(seconds=seconds_ago)
        found = State(type=StateType(state), timestamp=when, message=message)
    return FlowRun(flow_id=uuid.uuid4(), state=found)


def lost(run: Any, stall_after_s: float = 60, pending_after_s: float = 300) -> str | None:
    from flows.regional import _lost

    return _lost(run, NOW, stall_after_s, pending_after_s)


@pytest.mark.parametrize(
    ("state", "seconds_ago", "is_lost"),
    [
        ("RUNNING", 59, False),  # running within the limit
        ("RUNNING", 61, True),  # running past it: its process is presumed gone
        ("PENDING", 61, False),  # a process still starting is held to the Pending limit
        ("PENDING", 301, True),
        ("SCHEDULED", 10_000, False),  # waiting for a worker is not a lost run
        ("COMPLETED", 10_000, False),
        ("CRASHED", 0, True),
        ("FAILED", 0, True),
        ("CANCELLED", 0, True),
        (None, 0, False),
    ],
)
def test_a_run_is_lost_when_it_failed_or_stayed_active_too_long(
    state: str | None, seconds_ago: float, is_lost: bool
) -> None:
    why = lost(run_in(state, seconds_ago))
    assert (why is not None) == is_lost, why


def test_the_reason_names_the_state_and_the_limit() -> None:
    why = lost(run_in("RUNNING", 90))
    assert why is not None and "Running for 90 s (over 60 s)" in why and "presumed lost" in why
    crashed = lost(run_in("CRASHED", message="process exited -9"))
    assert crashed == "crashed: process exited -9"
