"""End-to-end flow runs: ONE Prefect test harness for the session, real SMTP and webhook receivers.

The harness (a Prefect API server in a subprocess on a temporary SQLite database) costs ~15 s, so it
is session-scoped and lives here only: ``pytest -m "not flows"`` never starts it, and never imports
Prefect either, because the test modules import ``flows.*`` inside the tests (engineering-notes §2).
The Prefect environment is set before the first import of Prefect: a private ``PREFECT_HOME``, an
empty ``PREFECT_API_URL`` (beats a developer's ``.env`` or profile), no ephemeral server, no
telemetry.

Each test gets its own SQLite store (``EHCP_DATABASE_URL``) holding the demo council of
``tests/jobs``, and a ``notifications.yaml`` (``EHCP_NOTIFICATIONS_CONFIG``) whose URLs and SMTP login
are all ``${NAME}`` secrets: caseworkers by email through the aiosmtpd server, teams and managers by
apprise's ``json://`` to the HTTP receiver (both from ``tests/notify/conftest.py``, on 127.0.0.1).
The SMTP password is a Prefect Secret block, not an environment variable, so the flow's secret
resolver chain is exercised as deployed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ehcp_workflow.core.caseload import Caseload
from tests.jobs.helpers import load_store

# Real receivers on 127.0.0.1, as the notification tests run them (session servers, per-test drains).
from tests.notify.conftest import json_server, smtp, smtp_server, webhook  # noqa: F401
from tests.notify.helpers import JsonReceiver, SmtpServer

SMTP_USER = "ehcp-alerts"
SMTP_PASSWORD = "s3cret/p@ss:word"  # awkward characters: a login must survive them
SENDER = "ehcp-alerts@council.example"


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test harness for the whole session (started only if a flows test runs)."""
    with pytest.MonkeyPatch.context() as mp:
        if "prefect" not in sys.modules:  # settings are read at import: set them first
            mp.setenv("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
        mp.setenv("PREFECT_API_URL", "")
        mp.setenv("PREFECT_SERVER_EPHEMERAL_ENABLED", "false")
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=90):
            yield


@pytest.fixture(scope="session")
def prefect_flows(prefect_harness: None) -> SimpleNamespace:
    """The three flows, imported once the harness is up."""
    from flows.dispatch import dispatch_alerts
    from flows.nightly import nightly_compliance
    from flows.weekly import weekly_backlog_report

    return SimpleNamespace(
        nightly_compliance=nightly_compliance,
        dispatch_alerts=dispatch_alerts,
        weekly_backlog_report=weekly_backlog_report,
    )


@dataclass
class Deployment:
    """What one test's flows run against: the store, the routes, and where messages land."""

    url: str
    caseload: Caseload
    smtp: SmtpServer
    webhook: JsonReceiver
    #: caseworker id -> email address
    emails: dict[str, str]
    #: recipient tag -> webhook path
    paths: dict[str, str]


def _slug(team: str) -> str:
    return team.lower().replace(" ", "-")


def notifications_yaml(caseworkers: list[str], teams: list[str]) -> str:
    """Routes for every recipient of the council; every URL and the SMTP login are ``${NAME}``."""
    lines = ["version: 1", "urls:", "  - ${EHCP_NOTIFY_MANAGERS_URL}:", "      tag: managers"]
    for team in teams:
        lines += [f"  - ${{EHCP_WEBHOOK_BASE}}/teams/{_slug(team)}:", f"      tag: team:{team}"]
    lines.append("  - mailto://${EHCP_SMTP_HOST}?mode=insecure:")
    for cw in caseworkers:
        lines += [f"      - to: {cw}@council.example", f"        tag: caseworker:{cw}"]
    lines += [
        "    user: ${EHCP_SMTP_USER}",
        "    password: ${EHCP_SMTP_PASSWORD}",
        "    from: ${EHCP_NOTIFY_FROM}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def deployment(
    prefect_flows: SimpleNamespace,
    smtp: SmtpServer,  # noqa: F811 - the imported fixture
    webhook: JsonReceiver,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    from prefect.blocks.system import Secret

    url = f"sqlite:///{tmp_path / 'ehcp.db'}"
    caseload = load_store(url)
    cases = caseload.cases
    caseworkers = sorted(cases["caseworker"].dropna().astype(str).unique())
    teams = sorted(cases["team"].dropna().astype(str).unique())
    config = tmp_path / "notifications.yaml"
    config.write_text(notifications_yaml(caseworkers, teams), encoding="utf-8")

    monkeypatch.setenv("EHCP_DATABASE_URL", url)
    monkeypatch.setenv("EHCP_NOTIFICATIONS_CONFIG", str(config))
    monkeypatch.delenv("EHCP_ALERT_INITIALS", raising=False)
    monkeypatch.setenv("EHCP_NOTIFY_MANAGERS_URL", webhook.url("/managers"))
    monkeypatch.setenv("EHCP_WEBHOOK_BASE", f"json://127.0.0.1:{webhook.port}")
    monkeypatch.setenv("EHCP_SMTP_HOST", f"127.0.0.1:{smtp.port}")
    monkeypatch.setenv("EHCP_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("EHCP_NOTIFY_FROM", SENDER)
    monkeypatch.delenv("EHCP_SMTP_PASSWORD", raising=False)  # from the Prefect Secret block instead
    Secret(value=SMTP_PASSWORD).save("ehcp-smtp-password", overwrite=True)

    return Deployment(
        url=url,
        caseload=caseload,
        smtp=smtp,
        webhook=webhook,
        emails={cw: f"{cw}@council.example" for cw in caseworkers},
        paths={"managers": "/managers", **{f"team:{t}": f"/teams/{_slug(t)}" for t in teams}},
    )


def artifact(key: str, field: str = "data") -> Any:
    """The latest artifact with ``key`` (its ``data``, or another ``field`` such as its
    ``description``), read back through the Prefect API."""
    from prefect.artifacts import Artifact

    # sync here (no running event loop): an ArtifactResponse or None, never a coroutine
    found: Any = Artifact.get(key)
    assert found is not None, f"no artifact {key!r}"
    return getattr(found, field)
