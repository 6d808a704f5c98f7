"""The caseworker's digest: one line per case, grouped by urgency, short enough to read and to send.

The first version listed one alert per line, two lines each, with no cap: a first night on a
20,000-case council produced a message of 1.7 million characters that no channel accepts and nobody
reads. Now:

* **one line per case**, its clocks rolled up, most urgent first:
  ``C0012: final plan overdue 12 days; decision not to issue overdue 40 days``;
* lines **grouped by urgency**: new breaches, due in 2 days, due this week, due in 2 weeks, still
  overdue, data problems; a case sits in the group of its most urgent clock;
* **at most** :data:`MAX_LINES` case lines and a size every documented channel accepts
  (:func:`~ehcp_workflow.notify.limits.message_budget`), with "... and N more" where cut;
* the **full worklist as a CSV attachment** (one row per clock) for channels that take files
  (email); the body says how to get the same list elsewhere (Teams and Slack webhooks drop files).

Pure functions, no I/O, no clock: "today" is the ``as_of`` argument.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ehcp_workflow.notify.limits import message_budget, message_bytes, title_budget
from ehcp_workflow.notify.messages import FOOTER, _md, _plural, format_date, shown_initials
from ehcp_workflow.notify.model import (
    BAND_KINDS,
    BREACH_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    Attachment,
    Message,
    Severity,
    caseworker_tag,
    digest_recipient,
)

#: Case lines per message at most: a screenful or two, the rest is in the attachment.
MAX_LINES = 60
#: Clocks rolled up on one case's line at most ("... and N more clocks" after).
MAX_CLOCKS_PER_LINE = 4


@dataclass(frozen=True)
class Urgency:
    """A group of the digest: the kinds it holds, in reading order (see :data:`URGENCIES`)."""

    key: str
    title: str
    kinds: frozenset[AlertKind]
    #: How a count of the group's cases reads in a title: ("new breach", "new breaches").
    noun: tuple[str, str]
    note: str | None = None


#: Digest groups, most urgent first. A case goes in the first group any of its clocks belongs to.
URGENCIES: tuple[Urgency, ...] = (
    Urgency(
        "new",
        "New breaches",
        frozenset({AlertKind.OVERDUE}),
        ("new breach", "new breaches"),
        "Became overdue since the last check.",
    ),
    Urgency(
        "cut",
        "Windows closed early",
        frozenset({AlertKind.CUT_SHORT}),
        ("window closed early", "windows closed early"),
        "A period owed to the family was cut short (e.g. a final plan inside reg 13(1)'s 15 days).",
    ),
    Urgency(
        "due_2",
        "Due in 2 days",
        frozenset({AlertKind.DUE_TODAY, AlertKind.DUE_IN_2}),
        ("due in 2 days", "due in 2 days"),
    ),
    Urgency("week", "Due this week", frozenset({AlertKind.DUE_IN_7}), ("due this week", "due this week")),
    Urgency(
        "fortnight",
        "Due in the next 2 weeks",
        frozenset({AlertKind.DUE_IN_14}),
        ("due in 2 weeks", "due in 2 weeks"),
    ),
    Urgency(
        "still", "Still overdue", frozenset({AlertKind.STILL_OVERDUE}), ("still overdue", "still overdue")
    ),
    Urgency(
        "data",
        "Data problems",
        frozenset({AlertKind.INVALID}),
        ("data problem", "data problems"),
        "These clocks cannot be checked until the case data is corrected.",
    ),
    Urgency("other", "Other", frozenset({*BAND_KINDS, AlertKind.DELIVERY_FAILING}), ("other", "other")),
)
_RANK = {kind: rank for rank, u in enumerate(URGENCIES) for kind in u.kinds}


def urgency_of(item: AlertItem) -> Urgency:
    return URGENCIES[_RANK[item.kind]]


def clock_name(item: AlertItem) -> str:
    """``final plan``, ``advice (EP)``: the clock as a caseworker says it (its id, made readable)."""
    name = item.clock.replace("_", " ")
    return f"{name} ({item.instance})" if item.instance else name


def phrase(item: AlertItem, as_of: dt.date) -> str:
    """One clock's state in a few words: ``final plan overdue 12 days``."""
    name = clock_name(item)
    kind = item.kind
    if kind is AlertKind.CUT_SHORT:
        return f"{name} window closed early" + (f": {item.detail}" if item.detail else "")
    if kind in BREACH_KINDS:
        days = f" {_plural(item.days_overdue, 'day')}" if item.days_overdue is not None else ""
        since = (
            f" (was due {format_date(item.due_date)})" if kind is AlertKind.OVERDUE and item.due_date else ""
        )
        return f"{name} overdue{days}{since}"
    if kind is AlertKind.DUE_TODAY:
        return f"{name} due today"
    if kind in (AlertKind.DUE_IN_2, AlertKind.DUE_IN_7, AlertKind.DUE_IN_14):
        if item.due_date is None:
            return f"{name} due soon"
        left = (item.due_date - as_of).days
        when = "tomorrow" if left == 1 else f"in {left} days"
        return f"{name} due {format_date(item.due_date)}, {when}"
    if kind is AlertKind.INVALID:
        return f"{name} cannot be evaluated: {item.detail or item.status or 'no reason recorded'}"
    if kind in BAND_KINDS:
        weeks = f"{item.weeks_waiting} weeks" if item.weeks_waiting is not None else "a long time"
        return f"waiting {weeks}, over {BAND_KINDS[kind]} weeks"
    return f"{item.title} not delivered: {item.detail or 'no error recorded'}"


def _order(item: AlertItem) -> tuple[int, bool, dt.date, str]:
    return (_RANK[item.kind], item.due_date is None, item.due_date or dt.date.max, item.clock_id)


@dataclass(frozen=True)
class CaseLine:
    """One case's line: its reference, its most urgent group, and its clocks in urgency order."""

    case_ref: str
    urgency: Urgency
    items: tuple[AlertItem, ...]

    def text(self, as_of: dt.date, *, allow_initials: bool) -> tuple[str, str]:
        """(plain, markdown) renderings of the line."""
        initials = shown_initials(self.items[0], allow_initials)
        ref = self.case_ref + (f" ({initials})" if initials else "")
        parts = [phrase(i, as_of) for i in self.items[:MAX_CLOCKS_PER_LINE]]
        if len(self.items) > MAX_CLOCKS_PER_LINE:
            parts.append(f"and {_plural(len(self.items) - MAX_CLOCKS_PER_LINE, 'more clock')}")
        what = "; ".join(parts)
        return f"- {ref}: {what}", f"- **{_md(ref)}**: {_md(what)}"


def case_lines(items: Iterable[AlertItem]) -> list[CaseLine]:
    """One line per case (clocks deduplicated, most urgent first); lines in group, then due order."""
    by_case: dict[str, dict[str, AlertItem]] = {}
    for item in sorted(items, key=_order):
        by_case.setdefault(item.case_ref, {}).setdefault(item.clock_id, item)  # most urgent per clock
    lines = [
        CaseLine(ref, urgency_of(next(iter(clocks.values()))), tuple(sorted(clocks.values(), key=_order)))
        for ref, clocks in by_case.items()
    ]
    return sorted(lines, key=lambda c: (*_order(c.items[0])[:3], c.case_ref))


# --- the CSV worklist ---------------------------------------------------------------------------

CSV_COLUMNS = (
    "case_ref",
    "group",
    "clock",
    "instance",
    "status",
    "due_date",
    "days_overdue",
    "regulation",
    "team",
    "caseworker",
    "detail",
)
_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _cell(value: object) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return "'" + text if isinstance(value, str) and _FORMULA.match(text) else text


def worklist_csv(lines: Sequence[CaseLine]) -> str:
    """Every clock of every line, one row each, in the digest's order (case refs only)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        for i in line.items:
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        i.case_ref,
                        urgency_of(i).title,
                        i.clock,
                        i.instance,
                        i.status or i.kind.value,
                        i.due_date,
                        i.days_overdue,
                        i.regulation,
                        i.team,
                        i.caseworker,
                        i.detail,
                    )
                ]
            )
    return buffer.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "worklist"


# --- rendering with a cap ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    plain: str
    markdown: str


def render_capped(
    heading: str,
    summary: str,
    lines: Sequence[CaseLine],
    as_of: dt.date,
    *,
    allow_initials: bool,
    max_lines: int,
    tail: Sequence[str] = (),
) -> Rendered:
    """Sections in urgency order; at most ``max_lines`` case lines in all, "... and N more" after."""
    plain = [heading, summary]
    md = [f"**{_md(heading)}**", "", _md(summary)]
    left = max_lines
    for urgency in URGENCIES:
        group = [c for c in lines if c.urgency is urgency]
        if not group:
            continue
        title = f"{urgency.title} ({_plural(len(group), 'case')})"
        plain += ["", title.upper()]
        md += ["", f"### {_md(title)}"]
        if urgency.note:
            plain.append(urgency.note)
            md.append(f"_{_md(urgency.note)}_")
        md.append("")
        shown = group[: max(left, 0)]
        left -= len(shown)
        for line in shown:
            p, m = line.text(as_of, allow_initials=allow_initials)
            plain.append(p)
            md.append(m)
        if len(shown) < len(group):
            more = f"... and {_plural(len(group) - len(shown), 'more case')} (full list below)"
            plain.append(more)
            md.append(f"- _{_md(more)}_")
    for text in tail:
        plain += ["", text]
        md += ["", _md(text)]
    plain += ["", FOOTER]
    md += ["", f"_{_md(FOOTER)}_"]
    return Rendered("\n".join(plain) + "\n", "\n".join(md) + "\n")


def fit(build: Callable[[int], Message], max_lines: int = MAX_LINES) -> Message:
    """The message with the most lines (up to ``max_lines``) that every documented channel accepts."""
    budget = message_budget()
    lines = max_lines
    message = build(lines)
    while message_bytes(message) > budget and lines > 0:
        lines = max(0, min(lines - 1, int(lines * budget / message_bytes(message))))
        message = build(lines)
    return message


def _title(text: str) -> str:
    limit = title_budget()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _counts(lines: Sequence[CaseLine]) -> str:
    parts = []
    for urgency in URGENCIES:
        n = sum(1 for c in lines if c.urgency is urgency)
        if n:
            parts.append(f"{n} {urgency.noun[0] if n == 1 else urgency.noun[1]}")
    return ", ".join(parts)


def caseworker_digest(
    caseworker: str | None,
    items: Sequence[AlertItem],
    as_of: dt.date,
    *,
    allow_initials: bool = False,
    opening: bool = False,
    max_lines: int = MAX_LINES,
) -> Message:
    """The day's digest (or, with ``opening``, the go-live worklist) for one caseworker.

    ``caseworker=None`` builds the digest of unassigned cases, for the team (or managers, when the
    cases have no team either). Refuses (``ValueError``) an item of someone else's caseload, so a
    grouping bug cannot send one caseworker's cases to another, and an empty list (send nothing).
    """
    if not items:
        raise ValueError("a digest needs at least one item (send nothing when nothing is due)")
    foreign = sorted({i.case_ref for i in items if i.caseworker != caseworker})
    if foreign:
        raise ValueError(f"items of another caseload in the digest for {caseworker!r}: {foreign[:5]}")
    recipients = {digest_recipient(i) for i in items}
    if len(recipients) != 1:
        raise ValueError(f"unassigned items for different recipients in one digest: {sorted(recipients)}")
    recipient = caseworker_tag(caseworker) if caseworker is not None else recipients.pop()
    if caseworker is not None:
        audience, how = caseworker, f"ehcp case list --caseworker {shlex.quote(caseworker)} --limit 0"
    elif recipient == MANAGERS:
        audience, how = "cases with no team or caseworker", "ehcp case list --limit 0"
    else:
        team = items[0].team or ""
        audience = f"unassigned cases in team {team}"
        how = f"ehcp case list --team {shlex.quote(team)} --limit 0"
    lines = case_lines(items)
    day = format_date(as_of)
    what = "Opening worklist" if opening else "EHC deadlines"
    filename = f"ehcp-{'opening-' if opening else ''}worklist-{_slug(recipient)}-{as_of.isoformat()}.csv"
    clocks = sum(len(c.items) for c in lines)
    tail = [
        f"Full worklist: {_plural(len(lines), 'case')}, {_plural(clocks, 'clock')}, in the attached "
        f"{filename} where your channel takes files (email). Elsewhere (Teams, Slack) the same list "
        f"is `{how} --as-of {as_of.isoformat()}`, or ask your EHCP system administrator."
    ]
    if opening:
        tail.insert(
            0,
            "This is your opening position: every case of yours with a clock overdue, due within two "
            "weeks or not checkable. From tomorrow your digest lists only what changed.",
        )
    counts = _counts(lines)
    attachment = Attachment(filename, worklist_csv(lines))
    urgent = any(i.kind in BREACH_KINDS or i.kind is AlertKind.INVALID for i in items)

    def build(n: int) -> Message:
        text = render_capped(
            f"{what} for {audience} on {day}",
            f"{_plural(len(lines), 'case')}: {counts}",
            lines,
            as_of,
            allow_initials=allow_initials,
            max_lines=n,
            tail=tail,
        )
        return Message(
            recipient=recipient,
            title=_title(f"{what} {day}: {counts}"),
            body=text.plain,
            markdown=text.markdown,
            alert_keys=tuple(dict.fromkeys(i.key for i in items)),
            severity=Severity.WARNING if urgent else Severity.INFO,
            attachments=(attachment,),
        )

    return fit(build, max_lines)


def caseworker_digests(
    items: Iterable[AlertItem], as_of: dt.date, *, allow_initials: bool = False, opening: bool = False
) -> list[Message]:
    """One digest per recipient for all of the items (unassigned cases to the team or managers)."""
    by_recipient: dict[str, list[AlertItem]] = {}
    for item in items:
        by_recipient.setdefault(digest_recipient(item), []).append(item)
    return [
        caseworker_digest(group[0].caseworker, group, as_of, allow_initials=allow_initials, opening=opening)
        for _, group in sorted(by_recipient.items())
    ]


__all__ = [
    "MAX_LINES",
    "URGENCIES",
    "CaseLine",
    "case_lines",
    "caseworker_digest",
    "caseworker_digests",
    "clock_name",
    "fit",
    "phrase",
    "worklist_csv",
]
