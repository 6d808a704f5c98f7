"""The weekly backlog report (``run_weekly``): the managers' summary is queued once per ISO week."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ehcp_workflow.jobs import weekly
from ehcp_workflow.jobs.dispatch import DispatchSummary, run_dispatch
from ehcp_workflow.jobs.weekly import run_weekly
from ehcp_workflow.notify import RecordingNotifier
from ehcp_workflow.reporting.report import ReportFiles
from tests.jobs.helpers import NOW, alerts

MONDAY = dt.date(2024, 10, 21)  # ISO 2024-W43


@pytest.fixture(autouse=True)
def no_report_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the charts and workbook: seconds per run, and not what these re-runs are about (the real
    report is built in test_personal_data and by the weekly flow's test)."""

    def build_report(*_args: Any, out_dir: Path, **_kwargs: Any) -> ReportFiles:
        return ReportFiles(workbook=out_dir / "kpis.xlsx", html=out_dir / "report.html", charts={}, kpis={})

    monkeypatch.setattr(weekly, "build_report", build_report)


def test_the_weekly_summary_is_queued_once_per_iso_week_and_sent_once(store: Engine, tmp_path: Path) -> None:
    first = run_weekly(store, as_of=MONDAY, now=NOW, out_dir=tmp_path / "w43")

    assert first.summary_queued
    [row] = alerts(store)
    assert (row["alert_key"], row["recipient"], row["kind"]) == (
        "weekly-summary/2024-W43",
        "managers",
        "message",
    )
    assert "2024" in row["subject"] and row["status"] == "queued"

    # a retry, a manual run later in the week, the Sunday: the same ISO week, nothing more queued
    for day in (MONDAY, MONDAY + dt.timedelta(days=2), MONDAY + dt.timedelta(days=6)):
        assert not run_weekly(store, as_of=day, now=NOW, out_dir=tmp_path / "again").summary_queued
    assert len(alerts(store)) == 1

    notifier = RecordingNotifier()
    summary = run_dispatch(store, notifier, now=NOW + dt.timedelta(hours=1), as_of=MONDAY)

    assert summary.messages_sent == 1 and summary.alerts_sent == 1
    [message] = notifier.sent
    assert message.recipient == "managers" and message.alert_keys == ("weekly-summary/2024-W43",)
    assert message.title == row["subject"]
    assert "open request" in message.body and "All teams" in message.body
    assert run_dispatch(store, notifier, now=NOW + dt.timedelta(hours=2), as_of=MONDAY) == DispatchSummary()

    # the next Monday is a new week
    assert run_weekly(
        store, as_of=MONDAY + dt.timedelta(days=7), now=NOW, out_dir=tmp_path / "w44"
    ).summary_queued
    assert [a["alert_key"] for a in alerts(store)] == ["weekly-summary/2024-W43", "weekly-summary/2024-W44"]


def test_the_iso_week_spans_the_new_year(store: Engine, tmp_path: Path) -> None:
    # Monday 30 December 2024 starts ISO week 1 of 2025, which runs to Sunday 5 January 2025.
    assert run_weekly(store, as_of=dt.date(2024, 12, 30), now=NOW, out_dir=tmp_path).summary_queued
    assert not run_weekly(store, as_of=dt.date(2025, 1, 5), now=NOW, out_dir=tmp_path).summary_queued
    assert run_weekly(store, as_of=dt.date(2025, 1, 6), now=NOW, out_dir=tmp_path).summary_queued
    assert [a["alert_key"] for a in alerts(store)] == ["weekly-summary/2025-W01", "weekly-summary/2025-W02"]
