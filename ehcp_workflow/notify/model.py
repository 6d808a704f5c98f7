"""What the notification layer talks about: alert items, the messages built from them, recipient tags.

Plain frozen values with no database, Prefect or apprise in sight, so the rendering and routing
rules can be tested in milliseconds and the flow decides *when* to alert while this package
decides *what it says* and *who hears it*.

An :class:`AlertItem` deliberately has no field for a child's name or date of birth: what cannot be
passed in cannot leak into an email or a Teams channel. Cases are named by ``case_ref`` only;
``initials`` exist for councils whose channels are approved for them, and are rendered only when the
``alert_initials`` setting allows (see :mod:`ehcp_workflow.notify.messages`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import quote


class AlertKind(StrEnum):
    """Why an item is worth telling someone about (the ``kind`` part of an alert's key)."""

    DUE_IN_14 = "due_in_14"
    DUE_IN_7 = "due_in_7"
    DUE_IN_2 = "due_in_2"
    DUE_TODAY = "due_today"
    #: The day a running clock passes its due date: a new breach.
    OVERDUE = "overdue"
    #: A breach still running, repeated in the weekly digest so it is not forgotten.
    STILL_OVERDUE = "still_overdue"
    BAND_CROSSED_30 = "band_crossed_30"
    BAND_CROSSED_52 = "band_crossed_52"
    BAND_CROSSED_100 = "band_crossed_100"
    #: The clock could not be evaluated from the data. Never silenced: bad data hides breaches.
    INVALID = "invalid"
    #: A window owed to the family was closed early (a final plan inside reg 13(1)'s 15 days).
    CUT_SHORT = "cut_short"
    #: An alert could not be delivered after N attempts; told to managers so silence is visible.
    DELIVERY_FAILING = "delivery_failing"


#: Kinds that warn before a due date; the number is the threshold that triggered the alert.
DUE_SOON_KINDS = frozenset({AlertKind.DUE_IN_14, AlertKind.DUE_IN_7, AlertKind.DUE_IN_2})
#: Kinds of a breach (new or continuing).
BREACH_KINDS = frozenset({AlertKind.OVERDUE, AlertKind.STILL_OVERDUE, AlertKind.CUT_SHORT})
#: Kinds of a waiting-time band crossing, with the band's threshold in weeks.
BAND_KINDS: dict[AlertKind, int] = {
    AlertKind.BAND_CROSSED_30: 30,
    AlertKind.BAND_CROSSED_52: 52,
    AlertKind.BAND_CROSSED_100: 100,
}
#: Kinds that managers are told about the day they happen (the escalation message).
ESCALATION_KINDS = frozenset(
    {AlertKind.OVERDUE, AlertKind.CUT_SHORT, AlertKind.INVALID, AlertKind.DELIVERY_FAILING, *BAND_KINDS}
)


class Severity(StrEnum):
    """How loudly a message should arrive (maps onto apprise's notify types)."""

    INFO = "info"
    WARNING = "warning"
    FAILURE = "failure"


def alert_key(case_ref: str, clock: str, kind: str, episode: str | dt.date) -> str:
    """The key of one alert: its four parts, each %-escaped, joined with ``/``.

    The format of ``ehcp_workflow.db.outbox.alert_key``, repeated here so this package stays free of
    the database layer. Only a fallback: rows from :mod:`ehcp_workflow.core.alerting` carry their own
    ``key``, which :class:`AlertItem` keeps as given. Escaping keeps the key unambiguous whatever
    characters a council uses in case references.
    """
    text = episode.isoformat() if isinstance(episode, dt.date) else episode
    return "/".join(_quote(part) for part in (case_ref, clock, kind, text))


@lru_cache(maxsize=65_536)
def _quote(part: str) -> str:
    """%-escape one key part (cached: a night's keys repeat clocks, kinds and dates endlessly)."""
    return quote(part, safe="")


@dataclass(frozen=True, kw_only=True)
class AlertItem:
    """One thing to tell someone about one clock of one case, on one day.

    Keyword-only so that the many optional fields cannot be passed in the wrong order.
    ``days_overdue`` and ``weeks_waiting`` are the evaluator's figures, shown as given (the
    notification layer never re-counts days: one source of truth for deadlines).
    """

    case_ref: str
    clock: str
    kind: AlertKind
    #: Which of several clocks of the same kind on one case (the adviser, for ``advice``); "" if one.
    instance: str = ""
    #: Human title of the clock (from config/clocks.yaml); the clock id when empty.
    clock_title: str = ""
    #: The provision that sets the limit, e.g. "SEND Regulations 2014 reg 13(2)".
    regulation: str = ""
    due_date: dt.date | None = None
    days_overdue: int | None = None
    #: The evaluator's status (:class:`ehcp_workflow.core.statuses.Status` value).
    status: str = ""
    team: str | None = None
    caseworker: str | None = None
    #: Backlog band label, e.g. "over_52".
    band: str | None = None
    weeks_waiting: int | None = None
    #: The child's initials; rendered only where the council allows it, and only if they look like
    #: initials (1-3 letters), so a full name put here by mistake is never sent.
    initials: str | None = None
    #: Why a clock is invalid, or why a delivery is failing: shown so someone can fix it.
    #: Must not contain personal data (the evaluator's reasons name fields, not values).
    detail: str | None = None
    #: What tells repeats of the same alert apart (``alerting`` uses the clock's start date, plus
    #: ``@<ISO week>`` for ``still_overdue``). Used only to build a missing ``key``.
    episode: str | None = None
    #: The alert's unique key, as the outbox stores it. Rows from ``ehcp_workflow.core.alerting`` carry
    #: one; when empty it is built with :func:`alert_key` from case, clock[:instance], kind and the
    #: episode (else the due date, else the band).
    key: str = ""

    def __post_init__(self) -> None:
        # Accept the plain string of a kind (rows from the database) but store the enum.
        object.__setattr__(self, "kind", AlertKind(self.kind))
        if not self.case_ref or not self.clock:
            raise ValueError("an alert item needs a case_ref and a clock")
        if not self.key:
            episode: str | dt.date = self.episode or self.due_date or self.band or "-"
            object.__setattr__(self, "key", alert_key(self.case_ref, self.clock_id, self.kind, episode))

    @classmethod
    def from_row(cls, row: Mapping[str, Any], **overrides: Any) -> AlertItem:
        """An item from a row of ``ehcp_workflow.core.alerting.alert_candidates`` (or any mapping).

        Reads only the item's own fields by name and ignores every other column, so a row that also
        holds a name or a date of birth cannot carry them into a message. Missing values (None,
        NaN, NaT, ``pd.NA``) become ``None``; timestamps become dates; numpy numbers become ints;
        the evaluator's ``weeks_waiting = -1`` (not an open request) becomes ``None``.
        """
        values = {name: _plain(row[name]) for name in _FIELD_NAMES if name in row}
        if isinstance(values.get("weeks_waiting"), int) and values["weeks_waiting"] < 0:
            values["weeks_waiting"] = None  # the evaluator's -1: not an open request
        values.update(overrides)
        for text in ("instance", "clock_title", "regulation", "status", "key"):
            if values.get(text) is None:
                values.pop(text, None)
        return cls(**values)

    @property
    def clock_id(self) -> str:
        """``clock`` or ``clock:instance``: which clock, exactly (as in the alerting key)."""
        return f"{self.clock}:{self.instance}" if self.instance else self.clock

    @property
    def title(self) -> str:
        """The clock's human title, falling back to its id."""
        return self.clock_title or self.clock


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(AlertItem))


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as a plain Python value (``None`` for any missing marker)."""
    if value is None:
        return None
    try:
        if value != value:  # NaN and NaT are not equal to themselves
            return None
    except TypeError:  # pd.NA refuses to be compared to a bool
        return None
    if isinstance(value, dt.datetime):  # pandas Timestamp included
        return value.date()
    if type(value).__module__ == "numpy":
        if hasattr(value, "dtype") and value.dtype.kind == "M":
            return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
        return value.item()
    return value


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message where the channel takes files (email): the full CSV worklist.

    Held as text, not a path, so a message can wait in the outbox and be sent from another machine.
    """

    filename: str
    content: str
    mime_type: str = "text/csv"


@dataclass(frozen=True, kw_only=True)
class Message:
    """One notification to one recipient tag: what a sender delivers and the outbox records.

    ``body`` is plain text with simple headings, readable in any email client or chat;
    ``markdown`` is the same content for channels that render it (Teams, Slack, HTML email).
    ``alert_keys`` are the alerts this message covers, so the flow can mark them all sent (or
    failing) together.
    """

    recipient: str
    title: str
    body: str
    markdown: str | None = None
    alert_keys: tuple[str, ...] = field(default=())
    severity: Severity = Severity.INFO
    #: Files for channels that take them; other channels get the body (which says where to look).
    attachments: tuple[Attachment, ...] = field(default=())


# --- Recipient tags -----------------------------------------------------------------------------

#: The tag of the managers' channel(s): escalations, weekly summary, and cases with nobody else.
MANAGERS = "managers"
CASEWORKER_PREFIX = "caseworker:"
TEAM_PREFIX = "team:"

_SPACES = re.compile(r"\s+")


def _clean_id(value: str, what: str) -> str:
    text = _SPACES.sub(" ", value).strip()
    if not text:
        raise ValueError(f"a {what} tag needs a non-empty id")
    return text


def caseworker_tag(caseworker: str) -> str:
    """The tag of one caseworker's channel: ``caseworker:<id>`` (id as in the case data)."""
    return CASEWORKER_PREFIX + _clean_id(caseworker, "caseworker")


def team_tag(team: str) -> str:
    """The tag of a team's shared channel: ``team:<name>`` (name as in the case data)."""
    return TEAM_PREFIX + _clean_id(team, "team")


#: A recipient of one council in a store holding several: ``council:<LA>/<tag>``.
COUNCIL_PREFIX = "council:"
_COUNCIL_CODE = re.compile(r"[A-Za-z0-9]+")


def council_code(la: str) -> str:
    """The canonical form of a council (LA) code: ``886``, ``E10000016`` (letters upper-cased).

    Only letters and digits: the code sits inside recipient tags and artifact keys, where a ``/``
    or a space would make two councils' recipients ambiguous.
    """
    code = la.strip().upper()
    if not _COUNCIL_CODE.fullmatch(code):
        raise ValueError(f"a council code is letters and digits (e.g. 886 or E10000016), not {la!r}")
    return code


def council_tag(council: str | None, tag: str) -> str:
    """``tag`` scoped to ``council`` (``council:886/caseworker:cw-1``); ``tag`` itself when ``council``
    is ``None`` (a store of one council keeps its plain tags).

    In a regional store caseworker ids, team names and "managers" repeat between councils; the
    council in the tag is what keeps council A's cw-1 from receiving council B's cw-1's cases.
    """
    inner = normalise_tag(tag)
    if council is None:
        return inner
    if inner.startswith(COUNCIL_PREFIX):
        raise ValueError(f"{tag!r} already names a council")
    return f"{COUNCIL_PREFIX}{council_code(council)}/{inner}"


def split_council(tag: str) -> tuple[str | None, str]:
    """(council or ``None``, the tag within it): ``council:886/managers`` -> ``("886", "managers")``."""
    canonical = normalise_tag(tag)
    if not canonical.startswith(COUNCIL_PREFIX):
        return None, canonical
    code, _, inner = canonical[len(COUNCIL_PREFIX) :].partition("/")
    return code, inner


def local_tag(tag: str) -> str:
    """The recipient within its council: ``managers``, ``team:<name>`` or ``caseworker:<id>``."""
    return split_council(tag)[1]


def normalise_tag(tag: str) -> str:
    """The canonical form of a recipient tag, or :class:`ValueError` naming the accepted forms.

    The prefix is case-insensitive and runs of whitespace in the id collapse to one space, so
    ``Team:SEN  North`` in the YAML and ``SEN North`` in the data meet; the id itself is otherwise
    exact (``cw-7`` and ``CW-7`` are different people as far as routing knows). Any of the three
    forms may be scoped to a council: ``council:<LA>/<tag>`` (:func:`council_tag`).
    """
    text = tag.strip()
    lowered = text.lower()
    if lowered.startswith(COUNCIL_PREFIX):
        code, slash, inner = text[len(COUNCIL_PREFIX) :].partition("/")
        if not slash or inner.strip().lower().startswith(COUNCIL_PREFIX):
            raise ValueError(
                f"malformed council tag {text!r}: use 'council:<LA code>/managers', "
                "'council:<LA code>/team:<team name>' or 'council:<LA code>/caseworker:<id>'"
            )
        return f"{COUNCIL_PREFIX}{council_code(code)}/{normalise_tag(inner)}"
    if lowered == MANAGERS:
        return MANAGERS
    if lowered.startswith(CASEWORKER_PREFIX):
        return caseworker_tag(text[len(CASEWORKER_PREFIX) :])
    if lowered.startswith(TEAM_PREFIX):
        return team_tag(text[len(TEAM_PREFIX) :])
    raise ValueError(
        f"unknown recipient tag {text!r}: use 'managers', 'team:<team name>' or 'caseworker:<id>' "
        "(optionally scoped to a council: 'council:<LA code>/<tag>')"
    )


def digest_recipient(item: AlertItem) -> str:
    """Whose daily digest an item belongs in: its caseworker, else its team, else the managers.

    An unassigned case must still reach someone: silence about a running clock is the failure this
    engine exists to prevent.
    """
    if item.caseworker and item.caseworker.strip():
        return caseworker_tag(item.caseworker)
    if item.team and item.team.strip():
        return team_tag(item.team)
    return MANAGERS


def delivery_failing_item(message: Message, *, attempts: int, error: str | None, as_of: dt.date) -> AlertItem:
    """The manager alert for a message that could not be delivered after ``attempts`` tries.

    Names the recipient tag and the message's title (neither holds personal data) and the last,
    already redacted, error. One per recipient and day (the episode), so the outbox does not repeat
    it within a night however often the sender retries.
    """
    reason = f"{attempts} attempts failed; last error: {error or 'none recorded'}"
    return AlertItem(
        case_ref=message.recipient,
        clock="notification",
        clock_title=f'"{message.title}" ({len(message.alert_keys)} alerts)',
        kind=AlertKind.DELIVERY_FAILING,
        detail=reason,
        episode=as_of.isoformat(),
    )
