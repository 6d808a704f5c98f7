"""Shared values and helpers for the notification tests (fixtures live in conftest.py)."""

from __future__ import annotations

import datetime as dt
import queue
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from ehcp_workflow.notify import AlertItem, AlertKind, Routing, parse_routing

WAIT = 5.0  # seconds: generous for a loaded CI box; a passing test never waits this long

AS_OF = dt.date(2024, 10, 14)  # a Monday

#: A case as the database holds it, with the personal data the alerts must never carry.
CHILD_NAME = "Amelia Hartley-Jones"
CHILD_DOB = dt.date(2015, 3, 14)
DOB_SPELLINGS = ("2015-03-14", "14/03/2015", "14 Mar 2015", "Sat 14 Mar 2015", "14 March 2015")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def drain(q: queue.Queue[Any]) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def routing_from(text: str, env: Mapping[str, str] | None = None) -> Routing:
    """Routes from YAML text, secrets from ``env`` (never the real environment)."""
    return parse_routing(text, resolver=dict(env or {}).get, source="test.yaml")


#: A case row as the database or an import would give it: with name and date of birth.
CASE_ROW: dict[str, Any] = {
    "case_ref": "EHC-2024-0042",
    "person_ref": "P-77",
    "name": CHILD_NAME,
    "date_of_birth": CHILD_DOB,
    "initials": "A.H.",
    "team": "North",
    "caseworker": "cw-017",
}


def item_from_case(case: Mapping[str, Any], **fields: Any) -> AlertItem:
    """Build an alert item from a case row the way a flow would: by picking fields by name."""
    defaults: dict[str, Any] = {
        "clock": "final_plan",
        "clock_title": "Issue the final EHC plan",
        "regulation": "SEND Regulations 2014 reg 13(2)",
        "kind": AlertKind.DUE_IN_7,
        "status": "due_soon",
    }
    picked = {k: case[k] for k in ("case_ref", "team", "caseworker", "initials") if k in case}
    return AlertItem(**{**defaults, **picked, **fields})


def assert_no_personal_data(*texts: str | None) -> None:
    for text in texts:
        if text is None:
            continue
        assert CHILD_NAME not in text
        for part in CHILD_NAME.replace("-", " ").split():
            assert part not in text, part
        for spelling in DOB_SPELLINGS:
            assert spelling not in text, spelling


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        """The text/plain part (apprise sends multipart text + HTML for markdown)."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return None if part is None else str(part.get_content())


@dataclass
class SmtpServer:
    port: int
    inbox: queue.Queue[Mail] = field(default_factory=queue.Queue)
    logins: queue.Queue[tuple[str, str]] = field(default_factory=queue.Queue)

    def next(self) -> Mail:
        return self.inbox.get(timeout=WAIT)


@dataclass
class Post:
    path: str
    headers: Mapping[str, str]
    payload: dict[str, Any]


@dataclass
class JsonReceiver:
    port: int
    posts: queue.Queue[Post] = field(default_factory=queue.Queue)
    #: Paths that answer with an error status instead of 200.
    errors: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def next(self) -> Post:
        return self.posts.get(timeout=WAIT)
