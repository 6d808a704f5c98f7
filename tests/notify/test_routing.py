"""notifications.yaml: secrets from the environment, tag checks, and who hears about an item."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml

from ehcp_workflow.notify import (
    MANAGERS,
    AlertItem,
    AlertKind,
    MissingSecretError,
    RoutingConfigError,
    chain_resolvers,
    env_resolver,
    load_routing,
    recipients_for,
    route_tags,
)
from ehcp_workflow.notify.routing import apprise_tag, tag_from_apprise
from tests.notify.helpers import routing_from

CONFIG = Path(__file__).resolve().parents[2] / "config" / "notifications.yaml"

HOOK = "json://127.0.0.1:9/hook"


# --- ${ENV} substitution ------------------------------------------------------------------------


def test_urls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "notifications.yaml"
    path.write_text("version: 1\nurls:\n  - ${EHCP_TEST_HOOK}:\n      tag: managers\n")
    monkeypatch.setenv("EHCP_TEST_HOOK", HOOK)
    routing = load_routing(path)  # default resolver: the process environment
    assert routing.tags == {MANAGERS}
    assert [r.scheme for r in routing.routes] == ["json"]


def test_missing_variables_are_refused_by_name() -> None:
    text = """
version: 1
urls:
  - ${MANAGERS_URL}:
      tag: managers
  - mailtos://${SMTP_HOST}:
      tag: caseworker:cw-1
      to: cw-1@council.example
      user: ${SMTP_USER}
      password: ${SMTP_PASSWORD}
"""
    with pytest.raises(MissingSecretError) as caught:
        routing_from(text, {"SMTP_HOST": "smtp.council.example", "SMTP_USER": ""})
    assert caught.value.names == ("MANAGERS_URL", "SMTP_PASSWORD", "SMTP_USER")  # empty counts as missing
    message = str(caught.value)
    assert "test.yaml" in message and "MANAGERS_URL, SMTP_PASSWORD, SMTP_USER" in message
    assert "smtp.council.example" not in message


def test_substitution_rules() -> None:
    # A value is inserted verbatim and not expanded again; $${ is a literal ${.
    env = {"HOST": "127.0.0.1:9", "PATH_PART": "${HOST}"}
    routing = routing_from(
        "version: 1\nurls:\n  - json://${HOST}/a/${PATH_PART}:\n      tag: managers\n", env
    )
    assert routing.routes[0].scheme == "json"
    with pytest.raises(RoutingConfigError, match="malformed reference"):
        routing_from("version: 1\nurls:\n  - json://${NOT-A-NAME}/:\n      tag: managers\n")
    literal = routing_from("version: 1\nurls:\n  - json://127.0.0.1:9/$${x}:\n      tag: managers\n")
    assert len(literal.routes) == 1


def test_resolvers_chain_and_a_failing_store_is_an_error() -> None:
    resolver = chain_resolvers(env_resolver({}), {"HOOK": HOOK}.get)
    assert resolver("HOOK") == HOOK and resolver("OTHER") is None

    def broken(name: str) -> str | None:
        raise ConnectionError(f"secret store down for {name} at https://vault.internal/v1/token")

    with pytest.raises(RoutingConfigError, match="looking up HOOK failed: ConnectionError") as caught:
        from ehcp_workflow.notify import parse_routing

        parse_routing("version: 1\nurls:\n  - ${HOOK}:\n      tag: managers\n", resolver=broken)
    assert "vault.internal" not in str(caught.value)


# --- Tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    ["managers", "caseworker:42", "caseworker:cw-017", "team:SEN North", "team:Post-16", "team:Ünïcode_x"],
)
def test_apprise_tags_are_plain_names_and_reversible(tag: str) -> None:
    from apprise.tag import AppriseTag

    encoded = apprise_tag(tag)
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", encoded)
    parsed = AppriseTag.parse(encoded)  # type: ignore[no-untyped-call]
    assert str(parsed) == encoded and parsed.retry is None and not parsed.has_priority
    assert tag_from_apprise(encoded) == tag


def test_apprise_tag_encoding_is_injective() -> None:
    tags = ["team:A", "team:a", "team:a b", "team:a_b", "team:a-b", "caseworker:42", "caseworker:4 2"]
    assert len({apprise_tag(t) for t in tags}) == len(tags)


def test_tags_are_validated() -> None:
    for bad in ("manager", "always", "all", "caseworkers:cw-1", "1:managers"):
        with pytest.raises(RoutingConfigError, match="unknown recipient tag"):
            routing_from(f"version: 1\nurls:\n  - {HOOK}:\n      tag: {bad}\n")
    with pytest.raises(RoutingConfigError, match="no tag"):
        routing_from(f"version: 1\nurls:\n  - {HOOK}\n")
    with pytest.raises(RoutingConfigError, match="no tag"):
        routing_from(f"version: 1\nurls:\n  - {HOOK}:\n      format: text\n")


def test_tag_lists_and_commas() -> None:
    routing = routing_from(
        f"""
version: 1
urls:
  - {HOOK}:
      tag: [team:SEN North, managers]
  - {HOOK}/2:
      tag: caseworker:42, caseworker:43
"""
    )
    assert routing.tags == {"team:SEN North", MANAGERS, "caseworker:42", "caseworker:43"}
    assert routing.has_route("Team:SEN  North")
    assert routing.unrouted(["caseworker:42", "caseworker:44", "team:East"]) == ["caseworker:44", "team:East"]


def test_unsupported_keys_and_bad_entries_are_named_without_the_url() -> None:
    with pytest.raises(RoutingConfigError, match="include"):
        routing_from("version: 1\ninclude: http://example.org/more.yaml\nurls: []\n")
    with pytest.raises(RoutingConfigError, match="version"):
        routing_from("version: 2\nurls: []\n")
    with pytest.raises(RoutingConfigError, match="not valid YAML"):
        routing_from("version: 1\nurls: [\n")
    with pytest.raises(RoutingConfigError) as caught:
        routing_from(
            "version: 1\nurls:\n  - ${U}:\n      tag: managers\n", {"U": "nosuch://user:topsecret1@host/x"}
        )
    message = str(caught.value)
    assert "urls entry #1 (nosuch)" in message and "could not load" in message
    assert "topsecret1" not in message and "user:" not in message


def test_a_bad_block_among_several_is_not_dropped_silently() -> None:
    text = """
version: 1
urls:
  - mailto://127.0.0.1:2525?from=ehcp@council.example:
      - to: cw-1@council.example
        tag: caseworker:cw-1
      - to: not-an-address
        tag: caseworker:cw-2
"""
    with pytest.raises(RoutingConfigError, match=r"urls entry #1 \(mailto\): apprise warned") as caught:
        routing_from(text)
    assert "Dropped invalid To email (not-an-address)" in str(caught.value)


def test_loading_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    # apprise logs the raw configuration text at DEBUG while loading it.
    with caplog.at_level(logging.DEBUG, logger="apprise"):
        routing_from("version: 1\nurls:\n  - ${U}:\n      tag: managers\n", {"U": HOOK + "/Sup3rSecretPath"})
    assert "Loading raw configuration" in caplog.text
    assert "Sup3rSecretPath" not in caplog.text


# --- The committed configuration ----------------------------------------------------------------


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_committed_config_holds_no_credentials() -> None:
    document = yaml.safe_load(CONFIG.read_text())
    for text in _strings(document["urls"]):
        if "://" in text:
            # Every URL's host or whole value is a ${reference}; no user:password@ in the file.
            assert "${" in text, text
            assert not re.search(r"://[^${/]*:[^${/]*@", text), text
    for entry in document["urls"]:
        if isinstance(entry, dict):
            for key in ("user", "password", "pass", "token", "apikey"):
                if key in entry:
                    assert re.fullmatch(r"\$\{\w+\}", entry[key]), (key, entry[key])
    assert "${" in CONFIG.read_text()


def test_committed_config_loads_with_its_secrets_set() -> None:
    env = {
        "EHCP_NOTIFY_MANAGERS_URL": HOOK,
        "EHCP_NOTIFY_TEAM_NORTH_URL": "json://127.0.0.1:9/north",
        "EHCP_NOTIFY_TEAM_EAST_URL": "workflows://prod.example/abc/def",
        "EHCP_SMTP_HOST": "smtp.council.example",
        "EHCP_SMTP_USER": "alerts",
        "EHCP_SMTP_PASSWORD": "p@ss/word",
        "EHCP_NOTIFY_FROM": "ehcp-alerts@council.example",
    }
    routing = load_routing(CONFIG, resolver=env.get)
    expected = {MANAGERS, "team:North", "team:East", "caseworker:cw-001", "caseworker:cw-002"}
    assert routing.tags == expected
    assert route_tags(CONFIG) == expected  # the same, without any secret
    assert "p@ss/word" not in repr(routing)
    with pytest.raises(MissingSecretError) as caught:
        load_routing(CONFIG, resolver=env_resolver({}))
    assert set(caught.value.names) == set(env)


def test_missing_file_says_which_setting_to_change(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError, match="EHCP_NOTIFICATIONS_CONFIG"):
        load_routing(tmp_path / "nope.yaml")


# --- Who hears about an item --------------------------------------------------------------------


def test_recipients_for() -> None:
    item = AlertItem(
        case_ref="C1", clock="final_plan", kind=AlertKind.DUE_IN_7, caseworker="cw-1", team="North"
    )
    assert recipients_for(item) == ["caseworker:cw-1"]
    unassigned = AlertItem(case_ref="C1", clock="final_plan", kind=AlertKind.DUE_IN_7, team="North")
    assert recipients_for(unassigned) == ["team:North"]
    orphan = AlertItem(case_ref="C1", clock="final_plan", kind=AlertKind.DUE_IN_7)
    assert recipients_for(orphan) == [MANAGERS]
    breach = AlertItem(case_ref="C1", clock="final_plan", kind=AlertKind.OVERDUE, caseworker="cw-1")
    assert recipients_for(breach) == ["caseworker:cw-1", MANAGERS]
    orphan_invalid = AlertItem(case_ref="C1", clock="final_plan", kind=AlertKind.INVALID)
    assert recipients_for(orphan_invalid) == [MANAGERS]
