"""What managers read: the escalation summary and the go-live opening position, never one line per alert.

A manager acts on where the pressure is (which team, which clock, how late) and on the worst cases,
not on a list of 8,000 alerts. So both messages are counts by team (and clock, band, age of breach)
plus the N longest waits by case reference, and both fit every documented channel
(:mod:`ehcp_workflow.notify.limits`). The opening position is built from the same frames as every
other figure (:mod:`ehcp_workflow.core.figures`), so its totals are the artifact's and ``ehcp backlog``'s.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd

from ehcp_workflow.core.figures import BREACH_AGES, NO_TEAM, RUNNING_TOTAL, TONIGHT, breach_age
from ehcp_workflow.notify.digest import _cell, case_lines, clock_name, fit
from ehcp_workflow.notify.limits import title_budget
from ehcp_workflow.notify.messages import (
    DEFAULT_BANDS,
    _band_label,
    _Doc,
    _Line,
    _md,
    _plural,
    _Section,
    format_date,
)
from ehcp_workflow.notify.model import (
    BAND_KINDS,
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    Attachment,
    Message,
    Severity,
)

#: Cases listed by name (reference) in a manager's message at most.
OLDEST = 20
#: Team rows per table at most ("... and N more teams" after).
MAX_TEAMS = 30


def _line(text: str) -> _Line:
    return _Line(f"- {text}", f"- {_md(text)}")


def _breakdown(counts: Mapping[str, int]) -> str:
    parts = [f"{k} {n:,}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n]
    return f" ({', '.join(parts)})" if parts else ""


def _team_lines(
    per_team: Mapping[str, Mapping[str, int]], noun: str, *, ordered: Sequence[str] | None = None
) -> list[_Line]:
    """An "All teams" line then one per team (most first, at most :data:`MAX_TEAMS`)."""

    def text(name: str, counts: Mapping[str, int]) -> str:
        total = sum(counts.values())
        what = f"{total:,} {noun if total == 1 else ('new breaches' if noun == 'new breach' else noun + 's')}"
        if ordered is not None:
            detail = ", ".join(f"{k} {counts.get(k, 0):,}" for k in ordered)
            return f"{name}: {what} ({detail})"
        return f"{name}: {what}{_breakdown(counts)}"

    everyone: Counter[str] = Counter()
    for counts in per_team.values():
        everyone.update(counts)
    teams = sorted(per_team, key=lambda t: (-sum(per_team[t].values()), t))
    lines = [_line(text("All teams", everyone))]
    lines += [_line(text(t, per_team[t])) for t in teams[:MAX_TEAMS]]
    if len(teams) > MAX_TEAMS:
        lines.append(_line(f"... and {_plural(len(teams) - MAX_TEAMS, 'more team')}"))
    return lines


def _nested(frame: pd.DataFrame, outer: str, inner: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    if frame.empty:
        return out
    grouped = frame.groupby([outer, inner], observed=True, dropna=False).size()
    for (a, b), n in grouped.items():
        out.setdefault(str(a), {})[str(b)] = int(n)
    return out


def _message(heading: str, summary: str, title: str, sections: Sequence[_Section], **kw: object) -> Message:
    doc = _Doc(heading=heading, summary=summary, sections=sections)
    limit = title_budget()
    return Message(
        recipient=str(kw.pop("recipient", MANAGERS)),
        title=title if len(title) <= limit else title[: limit - 1] + "…",
        body=doc.plain(),
        markdown=doc.markdown(),
        **kw,  # type: ignore[arg-type]
    )


def manager_escalation(
    items: Sequence[AlertItem],
    as_of: dt.date,
    *,
    allow_initials: bool = False,
    recipient: str = MANAGERS,
    oldest: int = OLDEST,
) -> Message:
    """Tonight's escalations as a summary: new breaches by team and clock, bands crossed by team,
    data problems by team, failing deliveries, and the ``oldest`` longest-waiting cases among them.

    Refuses kinds that are not escalations (``ValueError``): a caller sending due-soon reminders to
    managers has mixed up its lists.
    """
    del allow_initials  # managers' summaries name cases by reference only
    if not items:
        raise ValueError("an escalation needs at least one item")
    wrong = sorted({i.kind.value for i in items if i.kind not in ESCALATION_KINDS})
    if wrong:
        raise ValueError(f"not escalation kinds: {wrong}")
    rows = pd.DataFrame(
        {
            "team": [i.team or NO_TEAM for i in items],
            "kind": [i.kind.value for i in items],
            "clock": [clock_name(i) for i in items],
            "band": [f"over {BAND_KINDS[i.kind]} weeks" if i.kind in BAND_KINDS else "" for i in items],
        }
    )
    new = rows[rows["kind"] == AlertKind.OVERDUE.value]
    cut = rows[rows["kind"] == AlertKind.CUT_SHORT.value]
    bands = rows[rows["band"] != ""]
    invalid = rows[rows["kind"] == AlertKind.INVALID.value]
    failing = [i for i in items if i.kind is AlertKind.DELIVERY_FAILING]
    sections: list[_Section] = []
    headline: list[str] = []
    if len(new):
        sections.append(
            _Section(
                "New breaches by team and clock", _team_lines(_nested(new, "team", "clock"), "new breach")
            )
        )
        headline.append(_plural(len(new), "new breach", "new breaches"))
    if len(cut):
        by_clock = _team_lines(_nested(cut, "team", "clock"), "window")
        sections.append(_Section("Windows closed early by team and clock", by_clock))
        headline.append(_plural(len(cut), "window closed early", "windows closed early"))
    if len(bands):
        sections.append(
            _Section(
                "Waiting-time bands crossed by team", _team_lines(_nested(bands, "team", "band"), "case")
            )
        )
        headline.append(_plural(len(bands), "band crossing"))
    if len(invalid):
        sections.append(
            _Section(
                "Data problems by team",
                _team_lines(_nested(invalid, "team", "clock"), "clock"),
                "Clocks that cannot be evaluated: a breach may be hidden behind each.",
            )
        )
        headline.append(_plural(len(invalid), "data problem"))
    if failing:
        lines = [_line(f"{i.case_ref}: {i.title}: {i.detail or 'no error recorded'}") for i in failing[:10]]
        if len(failing) > 10:
            lines.append(_line(f"... and {_plural(len(failing) - 10, 'more recipient')}"))
        sections.append(
            _Section("Alerts not delivered", lines, "Check the route in notifications.yaml and the channel.")
        )
        headline.append(_plural(len(failing), "alert not delivered", "alerts not delivered"))
    waiting = case_lines(i for i in items if i.kind is not AlertKind.DELIVERY_FAILING)
    waiting.sort(key=lambda c: (-max((i.weeks_waiting or -1) for i in c.items), c.case_ref))
    if waiting and oldest > 0:
        lines = []
        for c in waiting[:oldest]:
            first = c.items[0]
            weeks = max((i.weeks_waiting or -1) for i in c.items)
            wait = f"waiting {weeks} weeks" if weeks >= 0 else "not an open request"
            lines.append(_line(f"{c.case_ref} (team {first.team or NO_TEAM}): {wait}; {clock_name(first)}"))
        sections.append(_Section(f"Longest waits among tonight's escalations ({len(lines)})", lines))
    day = format_date(as_of)
    summary = ", ".join(headline)
    return _message(
        f"EHC escalations on {day}",
        f"{summary.capitalize()}. Every figure is {TONIGHT}: since the last night that ran.",
        f"EHC escalations {day}: {summary}",
        sections,
        recipient=recipient,
        alert_keys=tuple(dict.fromkeys(i.key for i in items)),
        severity=Severity.FAILURE if failing else Severity.WARNING,
    )


def opening_position(
    *,
    as_of: dt.date,
    open_requests: pd.DataFrame,
    overdue: pd.DataFrame,
    invalid: pd.DataFrame,
    band_labels: Sequence[str] = DEFAULT_BANDS,
    longest: int = OLDEST,
    worklists: int = 0,
) -> Message:
    """The managers' go-live message: where the council stands on its first night, in counts.

    ``open_requests``, ``overdue`` and ``invalid`` are the frames of :mod:`ehcp_workflow.core.figures`
    (the same ones every other output counts). The overdue clocks go with it as a CSV (case
    references only) where the channel takes files.
    """
    bands = list(band_labels)
    labels = {b: _band_label(b, bands) for b in bands}
    by_band = open_requests.assign(band=open_requests["band"].map(labels))
    # by clock, not by adviser: a manager's table of 20 advice columns is unreadable
    overdue_named = overdue.assign(
        clock=overdue["clock"].astype(str).str.replace("_", " "),
        age=breach_age(overdue["days_overdue"]).to_numpy(),
    )
    ages = [label for _, label in BREACH_AGES]
    age_counts = overdue_named["age"].value_counts()
    oldest = open_requests.sort_values(["weeks_waiting", "case_ref"], ascending=[False, True]).head(longest)

    def build(n: int) -> Message:
        sections = [
            _Section(
                f"Open requests by team and weeks waiting, {RUNNING_TOTAL}",
                _team_lines(_nested(by_band, "team", "band"), "open request", ordered=list(labels.values())),
            ),
            _Section(
                f"Clocks overdue by team and clock, {RUNNING_TOTAL}",
                _team_lines(_nested(overdue_named, "team", "clock"), "clock"),
            ),
            _Section(
                "Clocks overdue by how long",
                [_line(f"{label}: {int(age_counts.get(label, 0)):,}") for label in ages],
            ),
        ]
        if len(invalid):
            sections.append(
                _Section(
                    "Data problems by team",
                    _team_lines(_nested(invalid, "team", "clock"), "clock"),
                    "Clocks that cannot be evaluated: a breach may be hidden behind each.",
                )
            )
        rows = [
            _line(f"{r.case_ref} (team {r.team}): {int(r.weeks_waiting)} weeks since the request")
            for r in oldest.head(n).itertuples()
        ]
        if rows:
            sections.append(_Section(f"The {len(rows)} longest waits (open requests)", rows))
        sections.append(
            _Section(
                "What happens next",
                [
                    _line(
                        "This is the opening position: tonight's check recorded the state of every clock "
                        "without an alert per clock."
                    ),
                    _line(f"{_plural(worklists, 'opening worklist')} went to caseworkers and teams."),
                    _line(
                        "From the next night, escalations list only new breaches (clocks that became "
                        "overdue since the last check); clocks overdue before are in the weekly reminder."
                    ),
                ],
            )
        )
        day = format_date(as_of)
        head = (
            f"{len(open_requests):,} open requests, {len(overdue):,} clocks overdue, "
            f"{len(invalid):,} data problems"
        )
        return _message(
            f"EHC opening position on {day}",
            f"{head}. Every figure is a {RUNNING_TOTAL}: the position tonight.",
            f"EHC opening position {day}: {head}",
            sections,
            severity=Severity.WARNING,
            attachments=(Attachment(f"ehcp-overdue-clocks-{as_of.isoformat()}.csv", _overdue_csv(overdue)),),
        )

    return fit(build, longest)


def _overdue_csv(overdue: pd.DataFrame) -> str:
    frame = overdue.copy()
    for column in ("case_ref", "team", "caseworker", "instance"):
        frame[column] = [_cell(v) for v in frame[column]]
    frame["due_date"] = pd.to_datetime(frame["due_date"]).dt.strftime("%Y-%m-%d")
    text: str = frame.to_csv(index=False, lineterminator="\r\n")
    return text


__all__ = ["manager_escalation", "opening_position"]
