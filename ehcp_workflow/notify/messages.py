"""Rendering alert items into the messages people read: pure functions, no I/O, no clock.

The shared document model and the weekly summary; each message is built to be read in an email
client and in a Teams or Slack channel alike:

* :func:`ehcp_workflow.notify.digest.caseworker_digest` - one a day per caseworker: one line per
  case, grouped by urgency, capped, with the full worklist attached.
* :func:`ehcp_workflow.notify.summary.manager_escalation` - new breaches, band crossings, data
  problems and failing deliveries, as counts by team plus the longest waits.
* :func:`weekly_summary` - the backlog by band and team and the clocks still overdue.

Every message comes as plain text with simple upper-case headings (``body``) and as markdown
(``markdown``). Cases are named by reference only; the item type has no name or date-of-birth
field, and initials are shown only when the caller passes ``allow_initials`` (the council's
``alert_initials`` setting) *and* they look like initials.

"Today" is always the ``as_of`` argument, never the system clock, so a re-run or a backfill for a
past night renders exactly what that night would have sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ehcp_workflow.notify.model import (
    MANAGERS,
    AlertItem,
    Message,
    Severity,
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Waiting bands in reporting order (the default ``Conventions.band_thresholds`` of 20/30/52/100).
DEFAULT_BANDS: tuple[str, ...] = ("within_20", "over_20", "over_30", "over_52", "over_100")

FOOTER = "Cases are named by reference only. Sent by ehcp-workflow"


def format_date(day: dt.date) -> str:
    """``Mon 14 Oct 2024``: unambiguous to UK readers and independent of the server's locale."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def _md(text: str) -> str:
    """Escape text for markdown, so a case reference like ``EHC_12_A`` is not turned into italics."""
    return _MD_SPECIAL.sub(r"\\\1", text)


_INITIALS_JUNK = re.compile(r"[\s.]+")
_INITIALS = re.compile(r"[A-Za-z]{1,3}")


def shown_initials(item: AlertItem, allow_initials: bool) -> str | None:
    """The initials to print for ``item``, or ``None``.

    Only when the council allows them, and only when the field holds 1-3 letters (dots and spaces
    ignored): a full name put in the field by mistake is dropped rather than sent.
    """
    if not allow_initials or not item.initials:
        return None
    letters = _INITIALS_JUNK.sub("", item.initials)
    return letters.upper() if _INITIALS.fullmatch(letters) else None


# --- Document model: rendered once as plain text and once as markdown ----------------------------


@dataclass(frozen=True)
class _Line:
    plain: str
    markdown: str


@dataclass(frozen=True)
class _Section:
    title: str
    lines: Sequence[_Line]
    note: str | None = None
    #: How a count of the section's lines reads: ("overdue", "overdue"), ("data problem", ...).
    noun: tuple[str, str] | None = None

    def heading(self) -> str:
        return f"{self.title} ({len(self.lines)})" if self.noun else self.title

    def count(self) -> str:
        singular, plural = self.noun or (self.title.lower(), self.title.lower())
        return f"{len(self.lines)} {singular if len(self.lines) == 1 else plural}"


@dataclass(frozen=True)
class _Doc:
    heading: str
    summary: str
    sections: Sequence[_Section] = field(default_factory=tuple)

    def plain(self) -> str:
        out = [self.heading, self.summary]
        for section in self.sections:
            out.append("")
            out.append(section.heading().upper())
            if section.note:
                out.append(section.note)
            out.extend(line.plain for line in section.lines)
        out += ["", FOOTER]
        return "\n".join(out) + "\n"

    def markdown(self) -> str:
        out = [f"**{_md(self.heading)}**", "", _md(self.summary)]
        for section in self.sections:
            out += ["", f"### {_md(section.heading())}"]
            if section.note:
                out += [f"_{_md(section.note)}_"]
            out.append("")
            out.extend(line.markdown for line in section.lines)
        out += ["", f"_{_md(FOOTER)}_"]
        return "\n".join(out) + "\n"


@dataclass(frozen=True, kw_only=True)
class WeeklySummary:
    """Counts for the managers' weekly summary (the flow aggregates; this only renders).

    Every mapping is keyed by team name (use e.g. ``"(no team)"`` for cases without one).
    """

    #: team -> backlog band label (``within_20``, ``over_52``...) -> open requests in that band.
    backlog: Mapping[str, Mapping[str, int]]
    #: team -> clock id -> clocks still overdue.
    still_overdue: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: team -> clocks that cannot be evaluated.
    invalid: Mapping[str, int] = field(default_factory=dict)
    #: Band labels in reporting order; labels not listed here are reported after these.
    band_order: tuple[str, ...] = DEFAULT_BANDS


def _band_label(band: str, order: Sequence[str]) -> str:
    """``over_30`` -> ``30-52 weeks``: the bands are exclusive, so say where each ends.

    A range ``30-52`` means over 30 weeks and up to 52 (``Conventions.band_thresholds``).
    """
    kind, _, number = band.partition("_")
    if kind == "within" and number.isdigit():
        return f"up to {number} weeks"
    if kind == "over" and number.isdigit():
        later = [b for b in order[order.index(band) + 1 :] if b.startswith("over_")] if band in order else []
        upper = later[0].partition("_")[2] if later else None
        return f"{number}-{upper} weeks" if upper else f"over {number} weeks"
    return band


def _total(values: Iterable[int]) -> int:
    return sum(values)


def weekly_summary(summary: WeeklySummary, as_of: dt.date) -> Message:
    """The managers' weekly summary: backlog by waiting band and team, still-overdue clocks by team.

    Bands are exclusive (as the evaluator assigns them), so each is labelled with its range; a
    cumulative "over N weeks" line follows, because that is how councils and the DfE report.
    """
    teams = sorted(set(summary.backlog) | set(summary.still_overdue) | set(summary.invalid))
    seen = {b for bands in summary.backlog.values() for b in bands}
    order = summary.band_order + tuple(sorted(seen - set(summary.band_order)))

    def band_line(name: str, bands: Mapping[str, int]) -> _Line:
        parts = [f"{_band_label(b, order)} {bands.get(b, 0)}" for b in order]
        text = f"{name}: {_plural(_total(bands.values()), 'open request')} ({', '.join(parts)})"
        return _Line(f"- {text}", f"- {_md(text)}")

    all_bands: dict[str, int] = {}
    for bands in summary.backlog.values():
        for b, n in bands.items():
            all_bands[b] = all_bands.get(b, 0) + n
    backlog_lines = [band_line("All teams", all_bands)]
    backlog_lines += [band_line(t, summary.backlog[t]) for t in teams if t in summary.backlog]
    over = [b for b in order if b.startswith("over_")]
    cumulative = ", ".join(
        f"over {b.partition('_')[2]} weeks {sum(all_bands.get(x, 0) for x in over[i:])}"
        for i, b in enumerate(over)
    )

    def overdue_line(name: str, clocks: Mapping[str, int]) -> _Line:
        parts = ", ".join(f"{c} {n}" for c, n in sorted(clocks.items(), key=lambda kv: (-kv[1], kv[0])))
        text = f"{name}: {_plural(_total(clocks.values()), 'clock')} overdue" + (
            f" ({parts})" if parts else ""
        )
        return _Line(f"- {text}", f"- {_md(text)}")

    all_overdue: dict[str, int] = {}
    for clocks in summary.still_overdue.values():
        for c, n in clocks.items():
            all_overdue[c] = all_overdue.get(c, 0) + n
    overdue_lines = [overdue_line("All teams", all_overdue)]
    overdue_lines += [overdue_line(t, summary.still_overdue[t]) for t in teams if t in summary.still_overdue]

    sections = [
        _Section(
            "Backlog of open requests by waiting time",
            backlog_lines,
            "Ranges are over the lower bound and up to the upper."
            + (f" Cumulative: {cumulative}." if over else ""),
        ),
        _Section("Still overdue", overdue_lines),
    ]
    invalid_total = _total(summary.invalid.values())
    if invalid_total:
        lines = [
            _Line(f"- {t}: {_plural(n, 'clock')}", f"- {_md(t)}: {_plural(n, 'clock')}")
            for t, n in sorted(summary.invalid.items())
            if n
        ]
        sections.append(_Section("Data problems", lines, "Clocks that cannot be evaluated from the data."))

    open_total = _total(all_bands.values())
    overdue_total = _total(all_overdue.values())
    over_52 = (
        sum(n for b, n in all_bands.items() if b in over[over.index("over_52") :])
        if "over_52" in over
        else None
    )
    headline = [_plural(open_total, "open request")]
    if over_52 is not None:
        headline.append(f"{over_52} waiting over 52 weeks")
    headline.append(f"{_plural(overdue_total, 'clock')} overdue")
    if invalid_total:
        headline.append(f"{_plural(invalid_total, 'data problem')}")
    day = format_date(as_of)
    doc = _Doc(
        heading=f"EHC weekly summary to {day}", summary=", ".join(headline).capitalize(), sections=sections
    )
    return Message(
        recipient=MANAGERS,
        title=f"EHC weekly summary {day}: {', '.join(headline)}",
        body=doc.plain(),
        markdown=doc.markdown(),
        severity=Severity.INFO,
    )
