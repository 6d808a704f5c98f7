"""The three Prefect flows run for real under the session's test harness (``pytest -m flows``).

Each test runs flows end to end: the nightly check on a SQLite store, then dispatch through apprise
to a real SMTP server and a real HTTP receiver on 127.0.0.1, configured by a notifications.yaml of
``${NAME}`` secrets. Flows are imported inside the tests (see conftest.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import queue
from collections import Counter
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from ehcp_workflow.db import make_engine
from ehcp_workflow.notify.messages import format_date
from tests.flows.conftest import SENDER, SMTP_PASSWORD, SMTP_USER, Deployment, artifact
from tests.jobs.helpers import AS_OF, LATER, alerts, assert_no_personal_data
from tests.notify.helpers import Mail, Post
from tests.reporting.helpers import EMBEDDED, PNG

pytestmark = pytest.mark.flows

T = TypeVar("T")


def received(q: queue.Queue[T]) -> list[T]:
    """Everything a receiver has queued. apprise sends synchronously and the receivers queue a
    message before answering, so once a flow has returned its deliveries are all here."""
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def stored_alerts(d: Deployment) -> list[dict[str, Any]]:
    engine = make_engine(d.url)
    try:
        return alerts(engine)
    finally:
        engine.dispose()


def readable(text: str) -> str:
    """Markdown escapes (``final\\_plan``) removed, so content can be looked for as written."""
    return text.replace("\\", "")


def assert_covers(text: str, rows: list[dict[str, Any]], *, dates: bool = True) -> None:
    """Each alert's case reference, clock and due date are in the message (or its CSV)."""
    text = readable(text)
    for row in rows:
        assert row["case_ref"] in text, row["alert_key"]
        assert row["clock"].split(":")[0] in text, row["alert_key"]
        if row["due_date"] is not None:
            due = format_date(row["due_date"]) if dates else row["due_date"].isoformat()
            assert due in text, row["alert_key"]


def _queued(d: Deployment) -> dict[str, list[dict[str, Any]]]:
    by_recipient: dict[str, list[dict[str, Any]]] = {}
    for row in stored_alerts(d):
        if row["status"] == "queued":
            by_recipient.setdefault(row["recipient"], []).append(row)
    return by_recipient


def test_nightly_then_dispatch_deliver_one_message_per_recipient_by_email_and_webhook(
    prefect_flows: SimpleNamespace, deployment: Deployment
) -> None:
    d = deployment
    # The first night is the opening night: one opening position, one worklist per recipient.
    night = prefect_flows.nightly_compliance(as_of=AS_OF)

    assert night["baseline"] and night["opening"] and night["alerts_queued"] == night["alerts_considered"] > 0
    opening = _queued(d)
    assert {r["kind"] for rows in opening.values() for r in rows} == {"message"}
    assert sum(len(rows) for rows in opening.values()) == night["alerts_queued"]
    # the managers' artifacts, read back through the Prefect API
    summary = artifact("breach-summary")
    assert "# Compliance check, 2024-10-15" in summary
    assert f"| Cases checked | {len(d.caseload)} | running total |" in summary
    assert "first night: baseline" in summary and "**Opening night**" in summary
    assert (
        summary.index("| Within 20 weeks |")
        < summary.index("| Over 20, up to 30 weeks |")
        < summary.index("| Over 100 weeks |")
    )
    backlog = artifact("backlog-by-team")  # a table artifact: its rows as JSON, with human headers
    rows = json.loads(backlog) if isinstance(backlog, str) else backlog
    assert list(rows[0]) == [
        "Team",
        "Within 20 weeks",
        "Over 20, up to 30 weeks",
        "Over 30, up to 52 weeks",
        "Over 52, up to 100 weeks",
        "Over 100 weeks",
        "Open requests",
    ]
    table = {row["Team"]: row for row in rows}
    assert table["All teams"]["Open requests"] == night["open_requests"] > 0
    assert table["All teams"]["Over 30, up to 52 weeks"] == night["open_by_band"]["over_30"] == 1
    assert "running total" in artifact("backlog-by-team", "description")
    [(_, chart)] = EMBEDDED.findall(artifact("backlog-chart"))  # the chart travels in the artifact
    assert base64.b64decode(chart).startswith(PNG)
    assert artifact("nightly-progress") == 100.0

    sent = prefect_flows.dispatch_alerts(as_of=AS_OF)

    assert sent["messages_failed"] == 0 and sent["messages_sent"] == night["alerts_queued"]
    assert artifact("dispatch-progress") == 100.0
    assert f"Done: {sent['messages_sent']} message(s) sent" in artifact("dispatch-progress", "description")
    mails: list[Mail] = received(d.smtp.inbox)
    posts: list[Post] = received(d.webhook.posts)
    caseworkers = sorted(r.removeprefix("caseworker:") for r in opening if r.startswith("caseworker:"))
    assert sorted(tuple(m.rcpt_tos) for m in mails) == [(d.emails[cw],) for cw in caseworkers]
    assert {m.mail_from for m in mails} == {SENDER}
    assert d.smtp.logins.get(timeout=5) == (SMTP_USER, SMTP_PASSWORD)  # password from the Secret block
    for mail in mails:  # the opening worklist, its full CSV attached
        assert mail.subject.startswith("Opening worklist Tue 15 Oct 2024")
        assert [a.get_filename() for a in mail.message.iter_attachments()] == [
            f"ehcp-opening-worklist-caseworker-{mail.rcpt_tos[0].split('@')[0]}-2024-10-15.csv"
        ]
        assert_no_personal_data(
            [mail.subject, mail.text(), mail.html()], where=f"the email to {mail.rcpt_tos}"
        )
    others = sorted(r for r in opening if not r.startswith("caseworker:"))
    assert sorted(p.path for p in posts) == sorted(d.paths[r] for r in others)
    managers = [p for p in posts if p.path == "/managers"]
    assert any(p.payload["title"].startswith("EHC opening position") for p in managers)
    for post in posts:
        assert_no_personal_data(
            [post.payload["title"], post.payload["message"]], where=f"post to {post.path}"
        )
    assert {r["status"] for rows in opening.values() for r in rows} == {"queued"}  # as read before

    # A week later, an ordinary night: per-clock alerts, one digest per recipient, covering them.
    later = prefect_flows.nightly_compliance(as_of=LATER)
    assert not later["opening"] and later["new_breaches"] > 0
    by_recipient = _queued(d)
    sent = prefect_flows.dispatch_alerts(as_of=LATER)
    rows = [r for rows in by_recipient.values() for r in rows]
    assert sent["messages_failed"] == 0 and sent["alerts_sent"] == len(rows)
    assert sent["messages_sent"] == len(by_recipient)
    mails = received(d.smtp.inbox)
    posts = received(d.webhook.posts)
    assert len(mails) + len(posts) == len(by_recipient)
    for mail in mails:
        [worklist] = list(mail.message.iter_attachments())
        content = worklist.get_content()
        csv_text = content if isinstance(content, str) else content.decode()
        assert_covers(csv_text, by_recipient[f"caseworker:{mail.rcpt_tos[0].split('@')[0]}"], dates=False)
        assert_no_personal_data([mail.subject, mail.text(), csv_text], where=f"the email to {mail.rcpt_tos}")
    [escalation] = [p for p in posts if p.path == "/managers"]
    assert escalation.payload["title"].startswith("EHC escalations Tue 22 Oct 2024")
    assert f"{later['new_breaches']} new breach" in escalation.payload["title"]
    assert {r["status"] for r in stored_alerts(d)} <= {"sent", "suppressed"}


def test_rerunning_both_flows_sends_nothing_more(
    prefect_flows: SimpleNamespace, deployment: Deployment
) -> None:
    d = deployment
    prefect_flows.nightly_compliance(as_of=AS_OF)
    dry = prefect_flows.dispatch_alerts(as_of=AS_OF, dry_run=True)
    assert dry["dry_run"] and dry["messages_sent"] > 0
    assert received(d.smtp.inbox) == [] and received(d.webhook.posts) == []  # a dry run sends nothing
    assert {r["status"] for r in stored_alerts(d)} == {"queued", "suppressed"}
    first = prefect_flows.dispatch_alerts(as_of=AS_OF)
    assert first["messages_sent"] == dry["messages_sent"]
    delivered = len(received(d.smtp.inbox)) + len(received(d.webhook.posts))
    assert delivered == first["messages_sent"]
    before = stored_alerts(d)

    again = prefect_flows.nightly_compliance(as_of=AS_OF)
    resent = prefect_flows.dispatch_alerts(as_of=AS_OF)

    assert again["alerts_queued"] == 0 and not again["baseline"]
    assert resent["messages_sent"] == resent["alerts_sent"] == resent["messages_failed"] == 0
    assert received(d.smtp.inbox) == [] and received(d.webhook.posts) == []
    assert stored_alerts(d) == before


def test_a_replayed_night_queues_nothing_and_says_so(
    prefect_flows: SimpleNamespace, deployment: Deployment
) -> None:
    d = deployment
    prefect_flows.nightly_compliance(as_of=AS_OF)
    later = prefect_flows.nightly_compliance(as_of=LATER)
    assert later["transitions_logged"] > 0 and later["alerts_queued"] > 0
    keys = Counter(r["alert_key"] for r in stored_alerts(d))

    replay = prefect_flows.nightly_compliance(as_of=AS_OF)

    assert replay["as_of"] == "2024-10-15" and replay["alerts_queued"] == 0
    assert replay["transitions_logged"] == 0
    assert Counter(r["alert_key"] for r in stored_alerts(d)) == keys
    assert "replay of 2024-10-15 (state recorded up to 2024-10-22)" in artifact("breach-summary")


def test_weekly_report_flow_sends_the_managers_summary_once(
    prefect_flows: SimpleNamespace, deployment: Deployment, tmp_path: Any
) -> None:
    d = deployment
    monday = dt.date(2024, 10, 21)

    week = prefect_flows.weekly_backlog_report(as_of=monday, report_dir=str(tmp_path / "reports"))

    assert week["summary_queued"] and week["messages_sent"] == 1 and week["messages_failed"] == 0
    [post] = received(d.webhook.posts)
    assert post.path == "/managers" and received(d.smtp.inbox) == []
    text = readable(post.payload["message"])
    assert "All teams" in text and "open request" in text
    assert post.payload["title"].startswith("EHC weekly summary Mon 21 Oct 2024")
    assert_no_personal_data([post.payload["title"], post.payload["message"]], where="the weekly summary")
    assert (tmp_path / "reports" / "2024-10-21").is_dir()
    assert week["html"].endswith(".html")
    assert_weekly_artifacts(week)
    [row] = stored_alerts(d)
    assert (row["alert_key"], row["status"]) == ("weekly-summary/2024-W43", "sent")

    again = prefect_flows.weekly_backlog_report(as_of=monday, report_dir=str(tmp_path / "reports"))

    assert not again["summary_queued"] and again["messages_sent"] == 0
    assert received(d.webhook.posts) == []


def assert_weekly_artifacts(week: dict[str, Any]) -> None:
    """The weekly artifacts as a manager sees them: human headers, bands in order, charts embedded."""
    bands = json.loads(artifact("kpi-backlog-bands"))
    assert list(bands[0])[:4] == [
        "Team",
        "Within 20 weeks",
        "Over 20, up to 30 weeks",
        "Over 30, up to 52 weeks",
    ]
    assert bands[0]["Team"] == "All teams"
    plans = json.loads(artifact("kpi-plans-issued"))
    assert "% within 20 weeks (excl. exceptions)" in plans[0] and "Month" in plans[0]
    assert not any("_" in header for header in plans[0])  # no pct_within_20_weeks
    assert "not running totals" in artifact("kpi-plans-issued", "description")
    charts = artifact("weekly-charts")
    images = EMBEDDED.findall(charts)
    assert [alt for alt, _ in images] == [
        "Open requests by weeks waiting",
        "Oldest open request",
        "New plans issued within 20 weeks",
        "Advice returned within 6 weeks, by provider",
    ]
    assert all(base64.b64decode(png).startswith(PNG) for _, png in images)
    assert "file://" not in charts
    files = artifact("weekly-report")  # where the files are on the worker, not a dead file:// link
    assert week["html"] in files and "file://" not in files
    assert artifact("weekly-progress") == 100.0


def test_weekly_report_dry_run_needs_no_alert_channel_and_queues_nothing(
    prefect_flows: SimpleNamespace, deployment: Deployment, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployment
    monkeypatch.setenv("EHCP_NOTIFICATIONS_CONFIG", str(tmp_path / "no-such-notifications.yaml"))
    for name in ("EHCP_NOTIFY_MANAGERS_URL", "EHCP_WEBHOOK_BASE", "EHCP_SMTP_HOST", "EHCP_SMTP_USER"):
        monkeypatch.delenv(name)

    week = prefect_flows.weekly_backlog_report(
        as_of=dt.date(2024, 10, 21), report_dir=str(tmp_path / "reports"), dry_run=True
    )

    assert week["dry_run"] and not week["summary_queued"] and week["messages_sent"] == 0
    assert stored_alerts(d) == []
    assert received(d.webhook.posts) == [] and received(d.smtp.inbox) == []
    assert_weekly_artifacts(week)
    preview = artifact("weekly-summary-preview")
    assert "Nothing was queued or sent" in preview and "EHC weekly summary Mon 21 Oct 2024" in preview
    assert_no_personal_data([preview], where="the weekly summary preview")
