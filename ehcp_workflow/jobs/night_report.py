"""The night's breach summary as markdown: the Prefect artifact and what ``ehcp nightly`` prints.

One renderer for both, so a support engineer running the job from cron sees what a manager sees in
the Prefect UI. Every figure says whether it is tonight's change or a running total (the position
tonight), bands are listed in reporting order (within_20 ... over_100, not alphabetically), and the
table of longest waits is what it says: the open requests waiting longest, a running total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ehcp_workflow.core.figures import LABEL_NOTE, NO_TEAM, RUNNING_TOTAL, TONIGHT
from ehcp_workflow.reporting.labels import column_labels


def team_label(team: Any) -> str:
    """A team for the tables: ``(no team)`` for a case without one (None, NaN or empty), never "nan"."""
    if team is None or (not isinstance(team, str) and bool(pd.isna(team))) or not str(team).strip():
        return NO_TEAM
    return str(team)


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def breach_summary_markdown(
    summary: Mapping[str, Any],
    *,
    band_labels: Sequence[str],
    longest_waits: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The ``breach-summary`` artifact for one night (``summary`` is ``NightlySummary.as_dict()``)."""
    s = summary
    title = f"# Compliance check, {s['as_of']}" + (" (dry run: nothing written)" if s["dry_run"] else "")
    rows = [
        ("Cases checked", s["cases"], RUNNING_TOTAL),
        ("Open requests", s["open_requests"], RUNNING_TOTAL),
        ("Oldest open request (weeks)", s["oldest_open_weeks"], RUNNING_TOTAL),
        ("Clocks overdue (advice included)", s["overdue_clocks"], RUNNING_TOTAL),
        ("Clocks that cannot be evaluated (bad data)", s["invalid_clocks"], RUNNING_TOTAL),
        ("New breaches (became overdue since the last night)", s["new_breaches"], TONIGHT),
        ("Waiting-time bands crossed (30/52/100 weeks)", s["band_crossings"], TONIGHT),
        ("Alerts and messages queued to send", s["alerts_queued"], TONIGHT),
        ("Clock changes logged", s["transitions_logged"], TONIGHT),
    ]
    lines = [title, ""]
    if s.get("opening"):
        lines += [
            "> **Opening night**: the state of every clock was recorded; managers get one opening "
            f"position and caseworkers one worklist each ({_n(s['messages_queued'])} messages) instead "
            f"of an alert per clock ({_n(s['alerts_suppressed'])} recorded as covered, never sent).",
            "",
        ]
    lines += ["| figure | count | kind |", "|---|---:|---|"]
    lines += [f"| {name} | {_n(value)} | {kind} |" for name, value, kind in rows]
    lines += ["", f"_{LABEL_NOTE}_", "", f"## Open requests by band ({RUNNING_TOTAL})", ""]
    lines += ["| band | open |", "|---|---:|"]
    bands: Mapping[str, int] = s["open_by_band"]
    ordered = [*band_labels, *sorted(set(bands) - set(band_labels))]
    # people read "Over 20, up to 30 weeks", not the band's id (over_20)
    names = dict(zip(ordered, column_labels(ordered), strict=True))
    lines += [f"| {names[band]} | {_n(int(bands.get(band, 0)))} |" for band in ordered]
    if longest_waits:
        lines += ["", f"## Longest waits: open requests waiting longest ({RUNNING_TOTAL})", ""]
        lines += ["| case | team | band | weeks waiting |", "|---|---|---|---:|"]
        lines += [
            f"| {r['case_ref']} | {team_label(r['team'])} | {names.get(r['band'], r['band'])} "
            f"| {r['weeks_waiting']} |"
            for r in longest_waits
        ]
    for note in s["notes"]:
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


__all__ = ["breach_summary_markdown", "team_label"]
