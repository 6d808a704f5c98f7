"""One definition of each number: alerts, artifacts, the weekly summary, the report and ``ehcp backlog``
agree on a demo council (before, the nightly summary, the weekly summary and the export disagreed:
the weekly one left advice out)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from ehcp_workflow.cli import app
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.evaluator import evaluate_caseload
from ehcp_workflow.core.figures import headline
from ehcp_workflow.db import load_caseload
from ehcp_workflow.jobs.dispatch import pending_alerts, render_messages
from ehcp_workflow.jobs.night_report import breach_summary_markdown
from ehcp_workflow.jobs.nightly import run_nightly
from ehcp_workflow.jobs.weekly import run_weekly
from ehcp_workflow.reporting.labels import column_labels
from tests.jobs.helpers import AS_OF, LATER, LATER_NOW, NOW

BANDS = ("within_20", "over_20", "over_30", "over_52", "over_100")
#: How the breach-summary artifact names each band for people ("Over 20, up to 30 weeks").
NAMES = dict(zip(BANDS, column_labels(list(BANDS)), strict=True))


def _messages(store: Engine, day: dt.date, now: dt.datetime) -> list[str]:
    rows = pending_alerts(store, now=now + dt.timedelta(hours=5), max_attempts=5)
    return [f"{m.title}\n{m.body}" for m in render_messages(rows, as_of=day, allow_initials=False)]


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, (pattern, text[:2000])
    return int(found.group(1).replace(",", ""))


def test_every_output_counts_open_requests_and_overdue_clocks_alike(
    store: Engine, store_url: str, tmp_path: Path
) -> None:
    evaluation = evaluate_caseload(load_caseload(store), load_catalogue(), as_of=AS_OF)
    figures = headline(evaluation, BANDS)
    assert figures.overdue_by_clock.get("advice", 0) > 0  # else leaving advice out would not show
    assert figures.open_requests > 0 and figures.overdue_clocks > 0

    # the nightly summary and the breach-summary artifact
    night = run_nightly(store, as_of=AS_OF, now=NOW)
    s = night.summary
    assert (s.open_requests, s.open_by_band) == (figures.open_requests, figures.open_by_band)
    assert s.overdue_clocks == figures.overdue_clocks == s.clocks_by_status["overdue"]
    assert s.invalid_clocks == figures.invalid_clocks
    artifact = breach_summary_markdown(s.as_dict(), band_labels=BANDS)
    assert (
        _number(r"\| Clocks overdue \(advice included\) \| ([\d,]+) \|", artifact) == figures.overdue_clocks
    )
    assert _number(r"\| Open requests \| ([\d,]+) \|", artifact) == figures.open_requests
    for band, n in figures.open_by_band.items():
        assert _number(rf"\| {re.escape(NAMES[band])} \| ([\d,]+) \|", artifact) == n

    # the alert managers get on the first night: the opening position
    [opening] = [m for m in _messages(store, AS_OF, NOW) if m.startswith("EHC opening position")]
    assert _number(r"([\d,]+) open requests", opening) == figures.open_requests
    assert _number(r"([\d,]+) clocks overdue", opening) == figures.overdue_clocks

    # the weekly summary and the report
    week = run_weekly(store, as_of=AS_OF, now=NOW, out_dir=tmp_path / "report")
    [weekly] = [m for m in _messages(store, AS_OF, NOW) if m.startswith("EHC weekly summary")]
    assert _number(r": ([\d,]+) open requests", weekly) == figures.open_requests
    assert _number(r"([\d,]+) clocks overdue", weekly) == figures.overdue_clocks
    bands = week.kpis["backlog_bands"]
    everyone = bands[bands["team"] == "All"].iloc[0]
    assert int(everyone["total"]) == figures.open_requests
    assert {b: int(everyone[b]) for b in BANDS} == figures.open_by_band

    # ehcp backlog
    result = CliRunner().invoke(app, ["backlog", "--as-of", AS_OF.isoformat(), "--database-url", store_url])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert _number(r"Backlog at [\d-]+: ([\d,]+) open request", printed) == figures.open_requests
    assert _number(r"Clocks overdue \(advice included\): ([\d,]+)", printed) == figures.overdue_clocks

    # ehcp export clocks (one row per clock)
    exported = CliRunner().invoke(
        app,
        ["export", "clocks", "--as-of", AS_OF.isoformat(), "-s", "overdue", "--database-url", store_url],
    )
    assert exported.exit_code == 0, exported.output
    assert len(exported.stdout.strip().splitlines()) - 1 == figures.overdue_clocks

    # a later night: the managers' escalation counts tonight's new breaches as the summary does
    later = run_nightly(store, as_of=LATER, now=LATER_NOW).summary
    assert later.new_breaches > 0
    [escalation] = [m for m in _messages(store, LATER, LATER_NOW) if m.startswith("EHC escalations")]
    assert _number(r"([\d,]+) new breach", escalation) == later.new_breaches
