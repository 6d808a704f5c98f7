"""Real delivery on 127.0.0.1: an SMTP server (aiosmtpd) and a JSON webhook receiver (http.server).

Both run for the whole session in background threads on free ports. Each puts what it receives on
a queue *before* it answers, and apprise sends synchronously, so by the time ``send()`` returns the
message is already queued: tests wait on queues with timeouts, never sleep, and can check that
nothing else arrived.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.notify.helpers import CASE_ROW, WAIT, JsonReceiver, Mail, Post, SmtpServer, drain, free_port

# --- SMTP ----------------------------------------------------------------------------------------


class _SmtpHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.inbox.put(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server = SmtpServer(port=0)

    def authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
        # Record the credentials exactly as received, and accept them (no TLS on loopback).
        if isinstance(data, LoginPassword):
            server.logins.put((data.login.decode(), data.password.decode()))
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    last_error: Exception | None = None
    for _ in range(5):  # a free port can be taken between probing and binding: try another
        server.port = free_port()
        controller = Controller(
            _SmtpHandler(server),
            hostname="127.0.0.1",
            port=server.port,
            authenticator=authenticator,
            auth_require_tls=False,
            auth_required=False,
            ready_timeout=WAIT,
        )
        try:
            controller.start()
        except Exception as exc:
            last_error = exc
            continue
        try:
            yield server
        finally:
            controller.stop()
        return
    raise RuntimeError(f"could not start the test SMTP server: {last_error}")


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    """The session's SMTP server with an empty inbox."""
    drain(smtp_server.inbox)
    drain(smtp_server.logins)
    return smtp_server


# --- JSON webhook receiver -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def json_server() -> Iterator[JsonReceiver]:
    receiver = JsonReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"{}")
            receiver.posts.put(Post(self.path, dict(self.headers), payload))
            self.send_response(receiver.errors.get(self.path, 200))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="json-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(WAIT)


@pytest.fixture
def webhook(json_server: JsonReceiver) -> JsonReceiver:
    """The session's JSON receiver with nothing queued and no error paths."""
    drain(json_server.posts)
    json_server.errors.clear()
    return json_server


@pytest.fixture
def case_row() -> dict[str, Any]:
    """A case row with a name and date of birth that must never reach a message."""
    return dict(CASE_ROW)
