"""Rendering alert items into the messages people read: pure functions, no I/O, no clock.

Three messages, each built to be read in an email client and in a Teams or Slack channel alike:

* :func:`caseworker_digest` - one a day per caseworker: their cases, soonest due first, grouped into
  overdue / due today / due soon / data problems, so the first thing read is the most urgent.
* :func:`manager_escalation` - new breaches, waiting-time band crossings, clocks that cannot be
  evaluated and alerts that are not getting through: what a manager must act on today.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ehcp_workflow.notify.model import (
    BAND_KINDS,
    BREACH_KINDS,
    DUE_SOON_KINDS,
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    Message,
    Severity,
    caseworker_tag,
    digest_recipient,
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


# --- Item lines ----------------------------------------------------------------------------------


def _when(item: AlertItem, as_of: dt.date) -> str:
    """The timing phrase of an item: the part a reader needs first."""
    due = format_date(item.due_date) if item.due_date else None
    kind = item.kind
    if kind in BREACH_KINDS:
        overdue = f", {_plural(item.days_overdue, 'day')} overdue" if item.days_overdue is not None else ""
        new = " (new breach today)" if kind is AlertKind.OVERDUE else ""
        return f"was due {due or 'on an unknown date'}{overdue}{new}"
    if kind is AlertKind.DUE_TODAY:
        return f"due today, {due}" if due else "due today"
    if kind in DUE_SOON_KINDS:
        if item.due_date is None:
            return "due soon (due date unknown)"
        days = (item.due_date - as_of).days
        in_days = "tomorrow" if days == 1 else "today" if days == 0 else f"in {days} days"
        return f"due {due}, {in_days}"
    if kind in BAND_KINDS:
        waited = (
            f"waiting {_plural(item.weeks_waiting, 'week')}" if item.weeks_waiting is not None else "waiting"
        )
        return f"{waited}: now over {BAND_KINDS[kind]} weeks since the request"
    if kind is AlertKind.INVALID:
        return "cannot be evaluated: " + (item.detail or item.status or "no reason recorded")
    # DELIVERY_FAILING
    return "not delivered: " + (item.detail or "no error recorded")


def _who(item: AlertItem) -> str:
    team = f"team {item.team}" if item.team else "no team"
    return f"{team}, " + (f"caseworker {item.caseworker}" if item.caseworker else "unassigned")


def _item_line(item: AlertItem, as_of: dt.date, *, allow_initials: bool, with_owner: bool) -> _Line:
    """Two lines of plain text (what and when; which clock and which law) or one markdown bullet."""
    initials = shown_initials(item, allow_initials)
    ref = item.case_ref + (f" ({initials})" if initials else "")
    when = _when(item, as_of)
    if item.kind is AlertKind.DELIVERY_FAILING:
        what = item.title
        md_what = _md(item.title)
    else:
        what = f"{item.title} ({item.clock_id})"
        md_what = f"{_md(item.title)} (`{item.clock_id}`)" if "`" not in item.clock_id else _md(what)
    context = [what]
    md_context = [md_what]
    if item.regulation:
        context.append(item.regulation)
        md_context.append(_md(item.regulation))
    if with_owner and item.kind is not AlertKind.DELIVERY_FAILING:
        context.append(_who(item))
        md_context.append(_md(_who(item)))
    plain = f"- {ref}: {when}\n  {', '.join(context)}"
    markdown = f"- **{_md(ref)}**: {_md(when)} — {'; '.join(md_context)}"
    return _Line(plain, markdown)


def _soonest_first(item: AlertItem) -> tuple[bool, dt.date, str, str]:
    return (item.due_date is None, item.due_date or dt.date.max, item.case_ref, item.clock_id)


def _by_team(item: AlertItem) -> tuple[bool, str, bool, dt.date, str, str]:
    return (item.team is None, item.team or "", *_soonest_first(item))


@dataclass(frozen=True)
class _Group:
    title: str
    kinds: frozenset[AlertKind]
    noun: tuple[str, str]
    note: str | None = None


_BANDS_GROUP = _Group(
    "Waiting-time bands crossed", frozenset(BAND_KINDS), ("band crossing", "band crossings")
)
_NOT_DELIVERED = ("alert not delivered", "alerts not delivered")

#: Digest groups in reading order: what is already late, what is due today, what is coming,
#: and the clocks nobody can see because the data is wrong.
_DIGEST_GROUPS: tuple[_Group, ...] = (
    _Group("Overdue", frozenset(BREACH_KINDS), ("overdue", "overdue")),
    _Group("Due today", frozenset({AlertKind.DUE_TODAY}), ("due today", "due today")),
    _Group("Due soon", frozenset(DUE_SOON_KINDS), ("due soon", "due soon")),
    _Group(
        "Data problems",
        frozenset({AlertKind.INVALID}),
        ("data problem", "data problems"),
        "These clocks cannot be checked until the case data is corrected.",
    ),
    _BANDS_GROUP,
    _Group("Alerts not delivered", frozenset({AlertKind.DELIVERY_FAILING}), _NOT_DELIVERED),
)

_ESCALATION_GROUPS: tuple[_Group, ...] = (
    _Group("New breaches", frozenset({AlertKind.OVERDUE}), ("new breach", "new breaches")),
    _BANDS_GROUP,
    _Group(
        "Data problems",
        frozenset({AlertKind.INVALID}),
        ("data problem", "data problems"),
        "Clocks that cannot be evaluated: a breach may be hidden behind each.",
    ),
    _Group(
        "Alerts not delivered",
        frozenset({AlertKind.DELIVERY_FAILING}),
        _NOT_DELIVERED,
        "Check the route in notifications.yaml and the channel itself.",
    ),
)


def _sections(
    items: Sequence[AlertItem],
    groups: Sequence[_Group],
    as_of: dt.date,
    *,
    allow_initials: bool,
    with_owner: bool,
    order: Callable[[AlertItem], Any],
) -> list[_Section]:
    sections = []
    for group in groups:
        chosen = sorted((i for i in items if i.kind in group.kinds), key=order)
        if chosen:
            lines = [
                _item_line(i, as_of, allow_initials=allow_initials, with_owner=with_owner) for i in chosen
            ]
            sections.append(_Section(group.title, lines, group.note, group.noun))
    return sections


def _counts(sections: Sequence[_Section]) -> str:
    return ", ".join(s.count() for s in sections)


def _keys(items: Iterable[AlertItem]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.key for i in items))


# --- The three messages ------------------------------------------------------------------------


def caseworker_digest(
    caseworker: str | None,
    items: Sequence[AlertItem],
    as_of: dt.date,
    *,
    allow_initials: bool = False,
) -> Message:
    """The day's digest for one caseworker: every item on their caseload, soonest due first.

    ``caseworker=None`` builds the digest of unassigned cases, for the team (or managers, when the
    cases have no team either) - see :func:`~ehcp_workflow.notify.model.digest_recipient`.
    Refuses (``ValueError``) an item that belongs to someone else, so a grouping bug in the caller
    cannot send one caseworker's cases to another; and refuses an empty list (nothing due: send
    nothing).
    """
    if not items:
        raise ValueError("a digest needs at least one item (send nothing when nothing is due)")
    foreign = sorted({i.case_ref for i in items if i.caseworker != caseworker})
    if foreign:
        raise ValueError(f"items of another caseload in the digest for {caseworker!r}: {foreign[:5]}")
    recipients = {digest_recipient(i) for i in items}
    if len(recipients) != 1:
        raise ValueError(f"unassigned items for different recipients in one digest: {sorted(recipients)}")
    recipient = recipients.pop()
    if caseworker is not None:
        recipient = caseworker_tag(caseworker)
        audience = caseworker
    elif recipient == MANAGERS:
        audience = "cases with no team or caseworker"
    else:
        audience = f"unassigned cases in team {items[0].team}"
    sections = _sections(
        items,
        _DIGEST_GROUPS,
        as_of,
        allow_initials=allow_initials,
        with_owner=False,
        order=_soonest_first,
    )
    day = format_date(as_of)
    doc = _Doc(
        heading=f"EHC deadlines for {audience} on {day}",
        summary=_counts(sections).capitalize(),
        sections=sections,
    )
    urgent = any(i.kind in BREACH_KINDS or i.kind is AlertKind.INVALID for i in items)
    return Message(
        recipient=recipient,
        title=f"EHC deadlines {day}: {_counts(sections)}",
        body=doc.plain(),
        markdown=doc.markdown(),
        alert_keys=_keys(items),
        severity=Severity.WARNING if urgent else Severity.INFO,
    )


def caseworker_digests(
    items: Iterable[AlertItem], as_of: dt.date, *, allow_initials: bool = False
) -> list[Message]:
    """One digest per recipient for all of the day's items (unassigned cases to team or managers)."""
    by_recipient: dict[str, list[AlertItem]] = {}
    for item in items:
        by_recipient.setdefault(digest_recipient(item), []).append(item)
    return [
        caseworker_digest(group[0].caseworker, group, as_of, allow_initials=allow_initials)
        for _, group in sorted(by_recipient.items())
    ]


def manager_escalation(
    items: Sequence[AlertItem],
    as_of: dt.date,
    *,
    allow_initials: bool = False,
    recipient: str = MANAGERS,
) -> Message:
    """What managers must act on today: new breaches, band crossings, invalid clocks, failing alerts.

    Items are listed by team then due date, with their team and caseworker, so a manager can see
    where the pressure is. Refuses kinds that are not escalations (``ValueError``): a caller
    sending due-soon reminders to managers has mixed up its lists.
    """
    if not items:
        raise ValueError("an escalation needs at least one item")
    wrong = sorted({i.kind.value for i in items if i.kind not in ESCALATION_KINDS})
    if wrong:
        raise ValueError(f"not escalation kinds: {wrong}")
    sections = _sections(
        items,
        _ESCALATION_GROUPS,
        as_of,
        allow_initials=allow_initials,
        with_owner=True,
        order=_by_team,
    )
    day = format_date(as_of)
    summary = _counts(sections)
    doc = _Doc(heading=f"EHC escalations on {day}", summary=summary.capitalize(), sections=sections)
    failing = any(i.kind is AlertKind.DELIVERY_FAILING for i in items)
    return Message(
        recipient=recipient,
        title=f"EHC escalations {day}: {summary}",
        body=doc.plain(),
        markdown=doc.markdown(),
        alert_keys=_keys(items),
        severity=Severity.FAILURE if failing else Severity.WARNING,
    )


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
