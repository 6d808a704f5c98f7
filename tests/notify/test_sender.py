"""Reading apprise's results (1.13 and 2.x), the recording fake, and redaction."""

from __future__ import annotations

import logging
import threading
from enum import IntEnum
from typing import Any

import pytest

from ehcp_workflow.notify import DeliveryStatus, Message, Notifier, RecordingNotifier
from ehcp_workflow.notify.redact import capture_apprise_log, install_log_redaction, redact, register_secrets
from ehcp_workflow.notify.sender import AppriseNotifier, interpret_result
from tests.notify.helpers import routing_from


class _Status(IntEnum):  # the shape of apprise 2.x's result status
    SUCCESS = 0
    FAILURE = 1
    NOMATCH = 3
    PARTIAL = 4
    TIMEOUT = 5


class _Result2x:
    """Stands in for apprise 2.x ``AppriseResult``: truthy only on SUCCESS, with ``.status``."""

    def __init__(self, status: Any) -> None:
        self.status = status

    def __bool__(self) -> bool:
        return self.status in (_Status.SUCCESS, 0)


@pytest.mark.parametrize(
    ("result", "ok", "status"),
    [
        (True, True, DeliveryStatus.SENT),
        (False, False, DeliveryStatus.FAILED),
        (None, False, DeliveryStatus.NO_ROUTE),
        (_Result2x(_Status.SUCCESS), True, DeliveryStatus.SENT),
        (_Result2x(_Status.FAILURE), False, DeliveryStatus.FAILED),
        (_Result2x(_Status.NOMATCH), False, DeliveryStatus.NO_ROUTE),
        (_Result2x(_Status.PARTIAL), False, DeliveryStatus.PARTIAL),
        (_Result2x(_Status.TIMEOUT), False, DeliveryStatus.TIMEOUT),
        (_Result2x(3), False, DeliveryStatus.NO_ROUTE),
        (_Result2x("AppriseResultStatus.TIMEOUT"), False, DeliveryStatus.TIMEOUT),
    ],
)
def test_interpret_result_for_apprise_1_13_and_2_x(result: Any, ok: bool, status: DeliveryStatus) -> None:
    delivered = interpret_result(result, "managers", "")
    assert (delivered.ok, delivered.status) == (ok, status)
    assert (delivered.error is None) == ok
    if status is DeliveryStatus.NO_ROUTE:
        assert delivered.error is not None and "no route for tag 'managers'" in delivered.error


def test_a_truthy_result_with_a_failure_status_is_not_success() -> None:
    class Odd:
        status = _Status.PARTIAL

        def __bool__(self) -> bool:
            return True

    assert not interpret_result(Odd(), "managers").ok


def test_recording_notifier_fails_n_times_then_recovers() -> None:
    notifier = RecordingNotifier(fail_times=2, error="channel down")
    message = Message(recipient="caseworker:cw-1", title="t", body="b")
    results = [notifier.send(message) for _ in range(3)]
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].status == DeliveryStatus.FAILED and results[0].error is not None
    assert "channel down" in results[0].error
    assert len(notifier.attempts) == 3 and notifier.sent == [message]
    assert notifier.sent_to("Caseworker:cw-1") == [message]

    notifier.fail_next(1)
    assert not notifier.send(message).ok and notifier.send(message).ok


def test_recording_notifier_knows_routes_like_apprise() -> None:
    notifier = RecordingNotifier(routes=["managers", "team:North"])
    assert notifier.send(Message(recipient="team:North", title="t", body="b")).ok
    missing = notifier.send(Message(recipient="caseworker:cw-9", title="t", body="b"))
    assert missing.status == DeliveryStatus.NO_ROUTE
    bad = notifier.send(Message(recipient="not a tag", title="t", body="b"))
    assert bad.status == DeliveryStatus.NO_ROUTE


def test_both_notifiers_satisfy_the_protocol() -> None:
    routing = routing_from("version: 1\nurls:\n  - json://127.0.0.1:9/x:\n      tag: managers\n")
    notifiers: list[Notifier] = [RecordingNotifier.for_routing(routing), AppriseNotifier(routing)]
    assert all(callable(n.send) for n in notifiers)
    assert RecordingNotifier.for_routing(routing).routes == frozenset({"managers"})


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("POST to https://outlook.example/webhookb2/abc/IncomingWebhook/def failed", "webhookb2"),
        ("mailtos://alerts:pa55word@smtp.council.example?from=a@b.example", "pa55word"),
        ("Max retries exceeded with url: /hooks/T000/B000/XXXXsecret", "XXXXsecret"),
        ("login with password=hunter2 failed", "hunter2"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi"),
        ("Sent Email to cw-017@council.example", "cw-017@"),
    ],
)
def test_redact(text: str, secret: str) -> None:
    scrubbed = redact(text)
    assert secret not in scrubbed
    assert "://" not in scrubbed or "://***" in scrubbed


def test_redact_known_secret_values_anywhere() -> None:
    register_secrets(["Zq9-unusual-token"])
    assert redact("the token Zq9-unusual-token was rejected") == "the token *** was rejected"
    assert redact("port 25") == "port 25"


def test_apprise_logger_records_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    import apprise

    install_log_redaction()
    with caplog.at_level(logging.DEBUG, logger="apprise"):
        assert apprise.Apprise.instantiate("nosuchscheme://user:s3cr3tvalue@host/path") is None
    assert "s3cr3tvalue" not in caplog.text
    assert "nosuchscheme://***" in caplog.text


def test_log_capture_keeps_warnings_of_this_thread_only() -> None:
    logger = logging.getLogger("apprise")
    with capture_apprise_log() as log:
        logger.warning("mine: failed sending to json://user:pw@host/x")
        logger.debug("payload with the message body")
        other = threading.Thread(target=lambda: logger.warning("another thread's send"))
        other.start()
        other.join()
    assert log.text() == "mine: failed sending to json://***"
