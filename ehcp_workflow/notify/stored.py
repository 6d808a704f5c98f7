"""A rendered message as the outbox stores it, and back: the weekly summary, the opening position
and the opening worklists are rendered when queued (they are not built from alert items at send
time), so their text and their CSV attachments travel in the outbox row's JSON body.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ehcp_workflow.notify.model import Attachment, Message, Severity

#: The outbox ``kind`` of a message rendered when it was queued.
MESSAGE_KIND = "message"


def encode_message(message: Message) -> str:
    """The outbox body of a pre-rendered message (title, texts, severity, attachments)."""
    return json.dumps(
        {
            "title": message.title,
            "body": message.body,
            "markdown": message.markdown,
            "severity": message.severity.value,
            "attachments": [
                {"filename": a.filename, "content": a.content, "mime_type": a.mime_type}
                for a in message.attachments
            ],
        }
    )


def decode_message(body: str, *, recipient: str, alert_keys: tuple[str, ...]) -> Message:
    """The message :func:`encode_message` stored (rows queued before attachments existed read too)."""
    data = json.loads(body)
    return Message(
        recipient=recipient,
        title=data["title"],
        body=data["body"],
        markdown=data.get("markdown"),
        alert_keys=alert_keys,
        severity=Severity(data.get("severity", Severity.INFO.value)),
        attachments=tuple(Attachment(**a) for a in data.get("attachments", ())),
    )


def message_row(message: Message, *, key: str, now: dt.datetime) -> dict[str, Any]:
    """The outbox row that queues ``message`` once per ``key`` (the key is the row's alert key)."""
    return {
        "alert_key": key,
        "case_ref": "-",
        "clock": "report",
        "kind": MESSAGE_KIND,
        "episode": key,
        "due_date": None,
        "recipient": message.recipient,
        "status": "queued",
        "attempts": 0,
        "created_at": now,
        "subject": message.title,
        "body": encode_message(message),
    }


__all__ = ["MESSAGE_KIND", "decode_message", "encode_message", "message_row"]
