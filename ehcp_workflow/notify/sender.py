"""Delivering messages: the :class:`Notifier` protocol, apprise behind it, and a recording fake.

A sender never raises for a delivery problem and never reports success it cannot vouch for. Each
send returns a :class:`DeliveryResult`; the flow records it in the alert outbox and retries, and
after N failed attempts tells managers (``delivery_failing``), so a dead channel cannot quietly
swallow breach alerts.

apprise's result differs by version. 1.13 (pinned here, through Prefect) returns ``True``,
``False``, or ``None`` when no service carries the tag; 2.x returns an ``AppriseResult`` that is
truthy only on success and has a ``.status`` (``NOMATCH`` when no service matched). Both are read
with ``bool(result)`` plus ``getattr(result, "status", None)`` (:func:`interpret_result`), and "no
service matched" is a failure - a digest with nowhere to go has not been delivered.

apprise reports failures only in its log. The sender captures the ``apprise`` logger's warnings
for the duration of one send (on the sending thread: services are dispatched sequentially, see
:func:`~ehcp_workflow.notify.routing.apprise_asset`) and returns them, redacted, as the error text.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from ehcp_workflow.notify.model import Message, normalise_tag
from ehcp_workflow.notify.redact import capture_apprise_log, install_log_redaction, redact
from ehcp_workflow.notify.routing import Resolver, Routing, apprise_asset, apprise_tag, load_routing


class DeliveryStatus(StrEnum):
    SENT = "sent"
    #: No configured service carries the recipient's tag.
    NO_ROUTE = "no_route"
    #: A matched service failed. apprise 1.13 returns False when *any* service for the tag fails
    #: and cannot say which, so with two channels on one tag a retry may repeat a delivery.
    FAILED = "failed"
    #: Some services for the tag succeeded, some failed (apprise 2.x); counted as a failure.
    PARTIAL = "partial"
    TIMEOUT = "timeout"
    #: apprise raised (a plugin bug): reported, not propagated, so one send cannot stop the run.
    ERROR = "error"


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one send. ``error`` is already redacted: safe to store and to show managers."""

    ok: bool
    status: str
    error: str | None = None


class Notifier(Protocol):
    """Anything that can deliver a :class:`~ehcp_workflow.notify.model.Message`."""

    def send(self, message: Message) -> DeliveryResult: ...


# --- Interpreting apprise's result ---------------------------------------------------------------

_STATUS_CODES = {0: "SUCCESS", 1: "FAILURE", 3: "NOMATCH", 4: "PARTIAL", 5: "TIMEOUT"}
_STATUS_MAP = {
    "FAILURE": DeliveryStatus.FAILED,
    "PARTIAL": DeliveryStatus.PARTIAL,
    "TIMEOUT": DeliveryStatus.TIMEOUT,
}


def _status_name(status: Any) -> str | None:
    """``SUCCESS``/``FAILURE``/``NOMATCH``/... from an apprise 2.x status (enum, int or str)."""
    if status is None:
        return None
    name = getattr(status, "name", None)
    if isinstance(name, str):
        return name.upper()
    if isinstance(status, int):
        return _STATUS_CODES.get(status, str(status))
    return str(status).rsplit(".", 1)[-1].upper()


def no_route_error(tag: str) -> str:
    return (
        f"no route for tag {tag!r}: no URL in notifications.yaml carries this tag "
        "(add one, or check the spelling against the case data)"
    )


def interpret_result(result: Any, tag: str, log_text: str = "") -> DeliveryResult:
    """Turn what ``Apprise.notify`` returned (1.13 bool/None, or a 2.x ``AppriseResult``) into a
    :class:`DeliveryResult`. Success needs a truthy result *and* no contrary status."""
    status = _status_name(getattr(result, "status", None))
    if result is None or status == "NOMATCH":
        return DeliveryResult(False, DeliveryStatus.NO_ROUTE, no_route_error(tag))
    if bool(result) and status in (None, "SUCCESS"):
        return DeliveryResult(True, DeliveryStatus.SENT)
    mapped = _STATUS_MAP.get(status or "FAILURE", DeliveryStatus.FAILED)
    detail = log_text or f"apprise reported {(status or 'failure').lower()} without a log message"
    return DeliveryResult(False, mapped, f"delivery to {tag!r} failed: {detail}")


class AppriseNotifier:
    """Sends a message to the services tagged with its recipient, through apprise.

    ``prefer_markdown`` sends the markdown rendering where a message has one: apprise turns it into
    HTML (with a plain-text part) for email and passes it to Teams and Slack, which render it.
    With ``False`` the plain-text body goes everywhere.
    """

    def __init__(self, routing: Routing, *, prefer_markdown: bool = True) -> None:
        import apprise

        install_log_redaction()
        self.routing = routing
        self.prefer_markdown = prefer_markdown
        self._apprise = apprise.Apprise(asset=apprise_asset())
        self._apprise.add(routing.services)

    @classmethod
    def from_path(
        cls, path: Path | str, *, resolver: Resolver | None = None, prefer_markdown: bool = True
    ) -> AppriseNotifier:
        """Load ``path`` (e.g. ``Settings().notifications_config``) and build a notifier on it."""
        return cls(load_routing(path, resolver=resolver), prefer_markdown=prefer_markdown)

    def send(self, message: Message) -> DeliveryResult:
        import apprise

        try:
            tag = normalise_tag(message.recipient)
        except ValueError as exc:
            return DeliveryResult(False, DeliveryStatus.NO_ROUTE, str(exc))
        markdown = message.markdown if self.prefer_markdown else None
        with capture_apprise_log() as log, _attachment_files(message) as attach:
            try:
                result = self._apprise.notify(
                    body=markdown if markdown is not None else message.body,
                    title=message.title,
                    notify_type=message.severity.value,
                    body_format=apprise.NotifyFormat.MARKDOWN
                    if markdown is not None
                    else apprise.NotifyFormat.TEXT,
                    tag=apprise_tag(tag),
                    # Never deliver to a URL tagged "always" unless it carries this recipient's tag.
                    match_always=False,
                    # channels without attachment support (Teams, Slack webhooks) ignore it
                    attach=attach,
                )
            except Exception as exc:  # apprise promises not to raise; a plugin bug must not stop the run
                error = redact(f"{type(exc).__name__}: {exc}")
                return DeliveryResult(False, DeliveryStatus.ERROR, f"delivery to {tag!r} raised {error}")
        return interpret_result(result, tag, log.text())

    def __repr__(self) -> str:
        return f"AppriseNotifier({self.routing!r})"


@contextmanager
def _attachment_files(message: Message) -> Iterator[list[str] | None]:
    """The message's attachments as files for apprise (it attaches paths), removed afterwards."""
    if not message.attachments:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="ehcp-attach-") as folder:
        paths = []
        for attachment in message.attachments:
            path = Path(folder) / Path(attachment.filename).name
            path.write_text(attachment.content, encoding="utf-8")
            paths.append(str(path))
        yield paths


class RecordingNotifier:
    """The fake notifier for tests and dry runs: records messages instead of sending them.

    ``fail_times`` makes the next N sends fail (then succeed), to rehearse a channel that is down
    and comes back. ``routes``, when given, are the tags that have a route; a send to any other
    fails with ``no_route`` exactly as apprise would (:meth:`for_routing` takes them from a loaded
    configuration, so a dry run reports the same missing routes as a real run).
    """

    def __init__(
        self,
        *,
        fail_times: int = 0,
        error: str = "simulated delivery failure",
        routes: Iterable[str] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._failures_left = fail_times
        self.error = error
        self.routes = None if routes is None else frozenset(normalise_tag(t) for t in routes)
        #: Every message handed to :meth:`send`, delivered or not, in order.
        self.attempts: list[Message] = []
        #: The messages that were "delivered".
        self.sent: list[Message] = []

    @classmethod
    def for_routing(cls, routing: Routing, **kwargs: Any) -> RecordingNotifier:
        return cls(routes=routing.tags, **kwargs)

    def fail_next(self, times: int, error: str | None = None) -> None:
        """Make the next ``times`` sends fail (the channel goes down)."""
        with self._lock:
            self._failures_left = times
            if error is not None:
                self.error = error

    def send(self, message: Message) -> DeliveryResult:
        with self._lock:
            self.attempts.append(message)
            try:
                tag = normalise_tag(message.recipient)
            except ValueError as exc:
                return DeliveryResult(False, DeliveryStatus.NO_ROUTE, str(exc))
            if self.routes is not None and tag not in self.routes:
                return DeliveryResult(False, DeliveryStatus.NO_ROUTE, no_route_error(tag))
            if self._failures_left > 0:
                self._failures_left -= 1
                return DeliveryResult(
                    False, DeliveryStatus.FAILED, f"delivery to {tag!r} failed: {self.error}"
                )
            self.sent.append(message)
            return DeliveryResult(True, DeliveryStatus.SENT)

    def sent_to(self, recipient: str) -> list[Message]:
        """The delivered messages for one recipient tag."""
        tag = normalise_tag(recipient)
        return [m for m in self.sent if normalise_tag(m.recipient) == tag]
