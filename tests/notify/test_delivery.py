"""Real delivery through apprise 1.13 to an SMTP server and a JSON webhook on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import queue
import re
from typing import Any

import pytest

from ehcp_workflow.notify import (
    MANAGERS,
    AlertKind,
    AppriseNotifier,
    DeliveryStatus,
    Message,
    caseworker_digest,
    manager_escalation,
)
from tests.notify.helpers import (
    AS_OF,
    JsonReceiver,
    SmtpServer,
    assert_no_personal_data,
    item_from_case,
    routing_from,
)


def _digest(case_row: dict[str, object]) -> Message:
    items = [
        item_from_case(case_row, kind=AlertKind.DUE_IN_7, due_date=dt.date(2024, 10, 18)),
        item_from_case(
            case_row,
            kind=AlertKind.OVERDUE,
            clock="decision_to_assess",
            clock_title="Decision whether to carry out an EHC needs assessment",
            regulation="SEND Regulations 2014 reg 5(1)",
            due_date=dt.date(2024, 10, 11),
            days_overdue=3,
        ),
    ]
    return caseworker_digest("cw-017", items, AS_OF, allow_initials=False)


def _assert_digest_content(text: str) -> None:
    """One line per case, its clocks rolled up, most urgent first (regulations are in the CSV)."""
    line = (
        "EHC-2024-0042: decision to assess overdue 3 days (was due Fri 11 Oct 2024); "
        "final plan due Fri 18 Oct 2024, in 4 days"
    )
    assert line in text.replace("**", "").replace("\\", ""), text
    assert_no_personal_data(text)
    assert "AH" not in text  # initials are not allowed in this council's channels


def _assert_worklist_csv(name: str, content: str) -> None:
    assert name == "ehcp-worklist-caseworker-cw-017-2024-10-14.csv"
    rows = content.splitlines()
    assert rows[0].startswith("case_ref,group,clock,instance,status,due_date,days_overdue,regulation")
    assert rows[1].startswith("EHC-2024-0042,New breaches,decision_to_assess,,")
    assert "SEND Regulations 2014 reg 5(1)" in rows[1] and "2024-10-11" in rows[1]
    assert "SEND Regulations 2014 reg 13(2)" in rows[2] and "2024-10-18" in rows[2]
    assert_no_personal_data(content)


def _no_more(q: queue.Queue[Any]) -> None:
    # apprise returns only after the server has queued the message: anything extra is already here.
    assert q.empty(), "more than one delivery for one send"


@pytest.mark.parametrize("prefer_markdown", [True, False], ids=["markdown", "text"])
def test_json_webhook_receives_one_post_with_title_and_body(
    webhook: JsonReceiver, case_row: dict[str, object], prefer_markdown: bool
) -> None:
    routing = routing_from(
        "version: 1\nurls:\n  - ${HOOK}:\n      tag: caseworker:cw-017\n",
        {"HOOK": webhook.url("/digests/cw-017")},
    )
    message = _digest(case_row)
    result = AppriseNotifier(routing, prefer_markdown=prefer_markdown).send(message)

    assert result.ok and result.status == DeliveryStatus.SENT and result.error is None
    post = webhook.next()
    assert post.path == "/digests/cw-017"
    assert set(post.payload) >= {"version", "title", "message", "type"}
    assert post.payload["title"] == message.title
    assert post.payload["type"] == "warning"  # an overdue clock in the digest
    _assert_digest_content(post.payload["message"])
    sent = message.markdown if prefer_markdown else message.body
    assert sent is not None and post.payload["message"] == sent.strip()  # apprise trims the end
    assert post.headers["User-Agent"] == "ehcp-workflow"
    # the generic JSON webhook takes files: the full worklist travels with the digest
    [attached] = post.payload["attachments"]
    _assert_worklist_csv(attached["filename"], base64.b64decode(attached["base64"]).decode())
    _no_more(webhook.posts)


def test_email_arrives_once_with_subject_and_body(smtp: SmtpServer, case_row: dict[str, object]) -> None:
    # mailto:// is plain SMTP (apprise's "insecure" mode, port 25 unless given); mode=insecure
    # says so explicitly. No TLS, no login: a council's internal relay.
    url = (
        f"mailto://127.0.0.1:{smtp.port}?mode=insecure"
        "&from=ehcp-alerts@council.example&to=cw-017@council.example"
    )
    routing = routing_from(
        "version: 1\nurls:\n  - ${SMTP_URL}:\n      tag: caseworker:cw-017\n", {"SMTP_URL": url}
    )
    message = _digest(case_row)

    result = AppriseNotifier(routing).send(message)

    assert result.ok, result.error
    mail = smtp.next()
    assert mail.mail_from == "ehcp-alerts@council.example"
    assert mail.rcpt_tos == ["cw-017@council.example"]
    assert mail.subject == message.title
    _assert_digest_content(mail.text())
    html = mail.html()  # markdown is sent as HTML with a plain-text alternative
    assert html is not None and "<strong>EHC-2024-0042</strong>" in html
    assert_no_personal_data(mail.subject, html)
    # email takes files: the full worklist is attached as CSV
    [attached] = list(mail.message.iter_attachments())
    content = attached.get_content()
    _assert_worklist_csv(
        str(attached.get_filename()), content if isinstance(content, str) else content.decode()
    )
    _no_more(smtp.inbox)


def test_plain_text_email_keeps_the_body_as_rendered(smtp: SmtpServer, case_row: dict[str, object]) -> None:
    url = f"mailto://127.0.0.1:{smtp.port}?from=ehcp-alerts@council.example&to=cw-017@council.example"
    routing = routing_from(f"version: 1\nurls:\n  - {url}:\n      tag: caseworker:cw-017\n")
    message = _digest(case_row)

    assert AppriseNotifier(routing, prefer_markdown=False).send(message).ok
    text = smtp.next().text()

    # apprise turns text into HTML for email and derives the plain part back from it, which
    # collapses runs of spaces; line by line the content is what was rendered.
    def lines(t: str) -> list[str]:
        return [" ".join(line.split()) for line in t.strip().splitlines()]

    assert lines(text) == lines(message.body)


def test_smtp_login_from_secrets_survives_awkward_characters(smtp: SmtpServer) -> None:
    # user:/password: keys (as in config/notifications.yaml) need no URL escaping of @ or /.
    text = """
version: 1
urls:
  - mailto://127.0.0.1:${SMTP_PORT}?mode=insecure:
      - to: cw-1@council.example
        tag: caseworker:cw-1
    user: ${SMTP_USER}
    password: ${SMTP_PASSWORD}
    from: ehcp-alerts@council.example
"""
    env = {"SMTP_PORT": str(smtp.port), "SMTP_USER": "alerts", "SMTP_PASSWORD": "p@ss/w:rd?#1"}
    result = AppriseNotifier(routing_from(text, env)).send(
        Message(recipient="caseworker:cw-1", title="t", body="b")
    )
    assert result.ok, result.error
    assert smtp.logins.get(timeout=5) == ("alerts", "p@ss/w:rd?#1")
    assert smtp.next().rcpt_tos == ["cw-1@council.example"]


def test_numeric_caseworker_ids_reach_only_their_own_channel(webhook: JsonReceiver) -> None:
    # apprise 1.13 would read "caseworker:42" as tag "caseworker" with 42 retries: every caseworker
    # would get every digest. Encoded tags keep them apart.
    routing = routing_from(
        f"""
version: 1
urls:
  - {webhook.url("/cw42")}:
      tag: caseworker:42
  - {webhook.url("/cw43")}:
      tag: caseworker:43
  - {webhook.url("/north")}:
      tag: team:SEN North
"""
    )
    notifier = AppriseNotifier(routing)

    assert notifier.send(Message(recipient="caseworker:42", title="for 42", body="x")).ok
    assert webhook.next().path == "/cw42"
    _no_more(webhook.posts)

    assert notifier.send(Message(recipient="team:SEN  North", title="north", body="x")).ok
    assert webhook.next().path == "/north"
    _no_more(webhook.posts)


def test_a_tag_shared_by_two_channels_reaches_both(webhook: JsonReceiver, smtp: SmtpServer) -> None:
    routing = routing_from(
        f"""
version: 1
urls:
  - {webhook.url("/managers")}:
      tag: managers
  - mailto://127.0.0.1:{smtp.port}?from=ehcp@council.example&to=head-of-send@council.example:
      tag: managers, team:North
"""
    )
    item = item_from_case({"case_ref": "EHC-1", "team": "North"}, kind=AlertKind.OVERDUE, days_overdue=1)
    message = manager_escalation([item], AS_OF)
    assert AppriseNotifier(routing).send(message).ok
    assert webhook.next().payload["title"] == message.title
    assert smtp.next().subject == message.title


def test_dead_endpoint_fails_fast_with_a_redacted_error(caplog: pytest.LogCaptureFixture) -> None:
    secret_url = "json://alerts:hunter2secret@127.0.0.1:1/hooks/T0001/B0002/XyZsecretPath"
    routing = routing_from("version: 1\nurls:\n  - ${DEAD}:\n      tag: managers\n", {"DEAD": secret_url})
    with caplog.at_level(logging.DEBUG, logger="apprise"):
        result = AppriseNotifier(routing).send(Message(recipient=MANAGERS, title="t", body="b"))

    assert not result.ok
    assert result.status == DeliveryStatus.FAILED
    assert result.error is not None
    assert "connection error" in result.error.lower()
    assert "'managers'" in result.error
    for leaked in ("hunter2secret", "XyZsecretPath", "T0001", "alerts:"):
        assert leaked not in result.error
        assert leaked not in caplog.text, "apprise's own log records must be scrubbed too"
    assert "JSON POST URL: ***" in caplog.text  # apprise logs the URL at DEBUG: scrubbed
    assert not re.search(r"://(?!\*\*\*)", result.error + caplog.text)


def test_http_error_status_is_a_failure_with_the_reason(webhook: JsonReceiver) -> None:
    webhook.errors["/broken"] = 500
    routing = routing_from(f"version: 1\nurls:\n  - {webhook.url('/broken')}:\n      tag: managers\n")
    result = AppriseNotifier(routing).send(Message(recipient=MANAGERS, title="t", body="b"))
    assert not result.ok and result.status == DeliveryStatus.FAILED
    assert result.error is not None and "500" in result.error
    assert webhook.next().path == "/broken"  # it did arrive; the receiver refused it


def test_a_tag_with_no_route_is_a_failure_not_a_success(webhook: JsonReceiver) -> None:
    routing = routing_from(f"version: 1\nurls:\n  - {webhook.url('/m')}:\n      tag: managers\n")
    result = AppriseNotifier(routing).send(Message(recipient="caseworker:cw-999", title="t", body="b"))
    assert not result.ok
    assert result.status == DeliveryStatus.NO_ROUTE
    assert result.error is not None and "caseworker:cw-999" in result.error
    _no_more(webhook.posts)


def test_always_tag_is_refused_so_it_cannot_receive_everything(webhook: JsonReceiver) -> None:
    from ehcp_workflow.notify import RoutingConfigError

    with pytest.raises(RoutingConfigError, match="always"):
        routing_from(f"version: 1\nurls:\n  - {webhook.url('/all')}:\n      tag: always\n")


def test_apprise_raising_is_reported_not_raised(
    webhook: JsonReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    routing = routing_from(f"version: 1\nurls:\n  - {webhook.url('/m')}:\n      tag: managers\n")
    notifier = AppriseNotifier(routing)

    def explode(**_kwargs: object) -> bool:
        raise RuntimeError("plugin bug near slack://TOKEN_A/TOKEN_B/TOKEN_C")

    monkeypatch.setattr(notifier._apprise, "notify", explode)
    result = notifier.send(Message(recipient=MANAGERS, title="t", body="b"))
    assert not result.ok and result.status == DeliveryStatus.ERROR
    assert result.error is not None and "RuntimeError" in result.error and "TOKEN_A" not in result.error


def test_notifier_repr_shows_no_url(webhook: JsonReceiver) -> None:
    routing = routing_from(
        "version: 1\nurls:\n  - ${H}:\n      tag: managers\n", {"H": webhook.url("/s3cr3tpath")}
    )
    assert "s3cr3tpath" not in repr(AppriseNotifier(routing))
    assert "json://***" in repr(routing)
