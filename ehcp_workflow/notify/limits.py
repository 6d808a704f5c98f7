"""How big a message each apprise channel we document accepts, as data with its source.

A digest that is too big is not delivered (Teams answers "413 Request Entity Too Large") or is cut
off mid-line (Slack truncates), so messages are built to fit the *smallest* limit of the channels
``config/notifications.yaml`` documents (:func:`message_budget`), and the tests render a large
synthetic caseload and check every message against every limit here.

Sizes are measured as :func:`payload_bytes`: the UTF-8 bytes of title and body JSON-encoded, which
is how webhook channels carry them (quotes, backslashes and newlines are escaped, so this is never
smaller than the text). apprise itself does not enforce these limits for these services: they use
its ``overflow=upstream`` default, which passes the text on untouched and leaves the service to
refuse or cut it (``apprise/plugins/base.py``, ``overflow_mode = OverflowMode.UPSTREAM``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ehcp_workflow.notify.model import Message


@dataclass(frozen=True)
class ChannelLimit:
    """What one kind of channel accepts, and where that figure comes from."""

    #: apprise URL schemes of the channel (``mailtos`` in ``mailtos://smtp.council.example``).
    schemes: tuple[str, ...]
    name: str
    #: Largest title plus body, in bytes as :func:`payload_bytes` counts them.
    max_payload_bytes: int
    #: Longest title the channel shows whole.
    max_title_chars: int
    #: Longest line (email: RFC 5322); ``None`` when lines are not limited.
    max_line_chars: int | None
    #: Whether apprise can attach a file on this channel (the CSV worklist).
    attachments: bool
    source: str


#: The channels ``config/notifications.yaml`` documents, plus apprise's generic JSON webhook.
CHANNEL_LIMITS: tuple[ChannelLimit, ...] = (
    ChannelLimit(
        schemes=("mailto", "mailtos"),
        name="Email (SMTP)",
        # No service limit near a digest: relays refuse whole messages over their size limit
        # (Exchange Online's default is 25 MB-35 MB). 1 MB keeps a digest far below any relay.
        max_payload_bytes=1_000_000,
        max_title_chars=250,
        max_line_chars=998,
        attachments=True,
        source=(
            "RFC 5322 section 2.1.1 (lines at most 998 characters); apprise plugins/email/base.py "
            "(attachment_support = True, title_maxlen 250 from plugins/base.py); Exchange Online "
            "message size limits (learn.microsoft.com/exchange/mail-flow-best-practices/message-size-limits)"
        ),
    ),
    ChannelLimit(
        schemes=("workflow", "workflows"),
        name="Microsoft Teams (Power Automate workflow)",
        # "The message size limit is 28 KB. When the size exceeds 28 KB, you receive an error";
        # the adaptive card wrapping apprise adds is about 1 KB, and reports of failures from about
        # 21 KB of text exist (msteams_hermes), so the text is held to 20,000 bytes.
        max_payload_bytes=20_000,
        max_title_chars=250,
        max_line_chars=None,
        attachments=False,
        source=(
            "learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook "
            "(28 KB message limit); Teams connector known limits (learn.microsoft.com/connectors/teams: "
            "'about 28 KB ... Request Entity too large'); apprise plugins/workflows.py (no attachments)"
        ),
    ),
    ChannelLimit(
        schemes=("slack",),
        name="Slack (incoming webhook)",
        # Slack truncates message text over 40,000 characters; apprise declares body_maxlen 35000.
        # apprise's default payload (blocks=no) puts the body in a legacy attachment's text; with
        # ?blocks=yes a section block takes only 3,000 characters, which the digest does not fit.
        max_payload_bytes=35_000,
        max_title_chars=150,
        max_line_chars=None,
        attachments=False,
        source=(
            "api.slack.com/changelog/2018-04-truncating-really-long-messages (40,000 characters); "
            "apprise plugins/slack.py (body_maxlen = 35000; webhooks: 'Slack Webhooks do not support "
            "attachments'); Slack header block text at most 150 characters"
        ),
    ),
    ChannelLimit(
        schemes=("json", "jsons"),
        name="Generic webhook (apprise JSON)",
        # The receiver decides; apprise's default body_maxlen for a service is 32,768 characters.
        max_payload_bytes=32_768,
        max_title_chars=250,
        max_line_chars=None,
        attachments=True,
        source=(
            "apprise plugins/base.py (body_maxlen = 32768, title_maxlen = 250); "
            "apprise plugins/custom_json.py (attachment_support = True, sent base64 in the JSON)"
        ),
    ),
)


def limit_for(scheme: str) -> ChannelLimit:
    """The limit of the channel with URL scheme ``scheme`` (``KeyError`` if undocumented)."""
    for limit in CHANNEL_LIMITS:
        if scheme.lower() in limit.schemes:
            return limit
    raise KeyError(f"no documented size limit for apprise scheme {scheme!r}: add it to CHANNEL_LIMITS")


def message_budget() -> int:
    """The payload every documented channel accepts: what digests and summaries are built to fit."""
    return min(limit.max_payload_bytes for limit in CHANNEL_LIMITS)


def title_budget() -> int:
    return min(limit.max_title_chars for limit in CHANNEL_LIMITS)


def payload_bytes(title: str, body: str) -> int:
    """Title and body as a webhook carries them: UTF-8 bytes of the JSON-encoded strings."""
    return len(json.dumps(title).encode()) + len(json.dumps(body).encode())


def message_bytes(message: Message) -> int:
    """The larger of the plain and markdown renderings (a channel gets one or the other)."""
    sizes = [payload_bytes(message.title, message.body)]
    if message.markdown is not None:
        sizes.append(payload_bytes(message.title, message.markdown))
    return max(sizes)


def fits(message: Message, limit: ChannelLimit) -> bool:
    """Whether ``message`` is within ``limit`` (size, title, and line length where limited)."""
    if message_bytes(message) > limit.max_payload_bytes or len(message.title) > limit.max_title_chars:
        return False
    if limit.max_line_chars is not None:
        texts = [message.body, message.markdown or ""]
        return all(len(line) <= limit.max_line_chars for text in texts for line in text.splitlines())
    return True


__all__ = [
    "CHANNEL_LIMITS",
    "ChannelLimit",
    "fits",
    "limit_for",
    "message_budget",
    "message_bytes",
    "payload_bytes",
    "title_budget",
]
