"""Scrubbing URLs and credentials out of text before it is stored, logged or sent to managers.

A notification URL *is* a credential: a Teams or Slack webhook's path is its secret, and a mailto
URL carries the SMTP password. apprise logs URLs in places (``Unparseable URL ...`` at ERROR, the
POST URL at DEBUG), and its warnings end up in our delivery errors, which go into the alert outbox
and into the managers' "alerts not delivered" message. So every piece of apprise output that we
keep passes through :func:`redact`.

Logs: a logger filter sees only the records of its own logger, and urllib3 logs a webhook's secret
path (``"POST /hooks/T0/B0/secret HTTP/1.1"``) at DEBUG from its own logger. So
:func:`install_log_redaction` installs a log-record factory: every record of every logger, at
every level, is scrubbed as it is made (:func:`redact_secrets`: secrets and credentials, not every
URL), before any handler (Prefect's, journald, a test's) sees it; the ``apprise`` logger keeps the
full :func:`redact`. The secret parts of every loaded service URL (path, password, query values
such as a header key) are registered by :func:`register_service_secrets`, because a log line
often holds only a part.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*)://[^\s'\"<>]+")
_EMAIL = re.compile(r"[\w.+\-]+@([\w\-]+(?:\.[\w\-]+)+)")
#: urllib3's "Max retries exceeded with url: /hooks/T0/B0/secret" carries a webhook's secret path.
_URL_FIELD = re.compile(r"(?i)\b(url)(\s*[:=]\s*)\S+")
_KEY_VALUE = re.compile(
    r"(?i)\b(password|passwd|pass|pwd|secret|token|apikey|api_key|access_key|key|auth|authorization)"
    r"(\s*[=:]\s*)[^\s&,;]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")

#: Secret values seen by the routing loader (substituted ``${VAR}`` values), scrubbed verbatim.
_known_secrets: set[str] = set()
_lock = threading.Lock()
#: Values shorter than this are not scrubbed verbatim (scrubbing "25" would wreck every log line).
MIN_SECRET_LENGTH = 6


def register_secrets(values: Iterable[str]) -> None:
    """Remember secret values so that :func:`redact` removes them wherever they appear."""
    with _lock:
        _known_secrets.update(v for v in values if len(v) >= MIN_SECRET_LENGTH)


def url_secrets(url: str) -> set[str]:
    """The parts of a service URL that are secret on their own: what a log line may carry alone.

    The path (a webhook's token lives there) whole and by token-like segment (one with a digit),
    the password, and every query value (apprise puts headers such as ``+X-Api-Key=...`` there).
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return set()
    found: set[str] = set()
    if password:
        found |= {password, unquote(password)}
    path = parts.path
    if path.strip("/"):
        found |= {path, unquote(path), path.strip("/")}
        found |= {seg for seg in path.split("/") if any(ch.isdigit() for ch in seg)}
        if parts.query:
            found.add(f"{path}?{parts.query}")
    for _name, value in parse_qsl(parts.query, keep_blank_values=False):
        found.add(value)
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


def register_service_secrets(services: Iterable[Any]) -> None:
    """Register the secrets of loaded apprise services: their full URLs, URL parts and headers."""
    values: set[str] = set()
    for service in services:
        try:
            url = str(service.url(privacy=False))
        except Exception:  # a plugin that cannot render its URL: its parts are still registered
            url = ""
        if url:
            values |= {url, *url_secrets(url)}
        headers = getattr(service, "headers", None)
        if isinstance(headers, dict):
            values |= {str(v) for v in headers.values()}
        password = getattr(service, "password", None)
        if isinstance(password, str):
            values.add(password)
    register_secrets(values)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URLs cut to ``scheme://***``, credentials and mailbox names replaced.

    Known secret values (registered, or passed in ``secrets``) are replaced wherever they occur,
    longest first, before the pattern rules, so a secret that does not look like a URL (a password
    alone in a message) is still caught.
    """
    with _lock:
        values = _known_secrets | {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    text = _URL.sub(r"\1://***", text)
    text = _URL_FIELD.sub(r"\1\2***", text)
    text = _BEARER.sub(r"\1 ***", text)
    text = _KEY_VALUE.sub(r"\1\2***", text)
    return _EMAIL.sub(r"***@\1", text)


#: The password part of a URL (``scheme://user:password@host``).
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@'\"<>]+@")


def redact_secrets(text: str) -> str:
    """``text`` without known secrets and credentials, but with ordinary URLs and addresses kept.

    For the records of every logger: cutting every URL there would also cut the links operators
    need (Prefect's "View at http://..."). Secrets are still caught: the registered values and
    URL parts, a URL's user and password, ``url: ...`` fields, bearer tokens and ``key=...`` pairs.
    """
    with _lock:
        values = set(_known_secrets)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    text = _USERINFO.sub(r"\1***@", text)
    text = _URL_FIELD.sub(r"\1\2***", text)
    text = _BEARER.sub(r"\1 ***", text)
    return _KEY_VALUE.sub(r"\1\2***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message through ``scrub`` (:func:`redact`).

    The traceback is formatted and scrubbed too, and ``exc_info`` dropped, so no handler can
    format the exception again from the original (an exception's message may hold the URL).
    """

    def __init__(self, scrub: Callable[[str], str] = redact) -> None:
        super().__init__()
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a badly formatted record: keep apprise's own behaviour
            return True
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


_FILTER = RedactingFilter()
_EVERY_RECORD = RedactingFilter(redact_secrets)


def _redacting_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        _EVERY_RECORD.filter(record)
        return record

    factory._ehcp_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction(logger_name: str = "apprise") -> None:
    """Scrub every log record of every logger at every level (idempotent).

    Called whenever routes are loaded or a notifier is built. The record factory covers urllib3,
    apprise, Prefect and our own loggers; the filter on ``logger_name`` is kept for records made
    before the factory was installed elsewhere in a long-lived process.
    """
    logger = logging.getLogger(logger_name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    with _lock:
        current = logging.getLogRecordFactory()
        if not getattr(current, "_ehcp_redacting", False):
            logging.setLogRecordFactory(_redacting_factory(current))


#: Longest error text kept (the alert outbox stores it; managers read it).
MAX_ERROR_CHARS = 1000


class _LogCapture(logging.Handler):
    """Collects WARNING+ records of the ``apprise`` logger emitted on the capturing thread.

    WARNING and above only: DEBUG lines carry the payload (message bodies) and the POST URL.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._thread = threading.get_ident()
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self._lines.append(redact(message))

    def text(self) -> str:
        """The captured lines, de-duplicated in order (a retried send repeats itself), redacted."""
        text = "; ".join(dict.fromkeys(line.strip() for line in self._lines if line.strip()))
        return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@contextmanager
def capture_apprise_log() -> Iterator[_LogCapture]:
    """Capture the ``apprise`` logger's warnings on this thread while the block runs."""
    install_log_redaction()
    logger = logging.getLogger("apprise")
    handler = _LogCapture()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
