"""Notifications: what caseworkers and managers are told about statutory clocks, and delivering it.

* :mod:`.model` - alert items, messages and recipient tags (plain values).
* :mod:`.digest` - the caseworker's digest (one line per case, by urgency, capped, CSV attached).
* :mod:`.summary` - the managers' escalation summary and the go-live opening position.
* :mod:`.messages` - the shared document model and the weekly summary.
* :mod:`.limits` - the size each documented channel accepts, with its source.
* :mod:`.routing` - ``config/notifications.yaml`` (apprise YAML, secrets from ``${ENV}``) and
  which tags hear about an item.
* :mod:`.sender` - the :class:`Notifier` protocol, :class:`AppriseNotifier` and
  :class:`RecordingNotifier` (tests and dry runs).

Importing this package does not import apprise; loading routes or sending does.
"""

from __future__ import annotations

from ehcp_workflow.notify.digest import caseworker_digest, caseworker_digests
from ehcp_workflow.notify.messages import WeeklySummary, format_date, weekly_summary
from ehcp_workflow.notify.model import (
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    Message,
    Severity,
    caseworker_tag,
    council_tag,
    delivery_failing_item,
    digest_recipient,
    local_tag,
    split_council,
    team_tag,
)
from ehcp_workflow.notify.routing import (
    MissingSecretError,
    Routing,
    RoutingConfigError,
    chain_resolvers,
    env_resolver,
    load_routing,
    parse_routing,
    recipients_for,
    route_tags,
)
from ehcp_workflow.notify.sender import (
    AppriseNotifier,
    DeliveryResult,
    DeliveryStatus,
    Notifier,
    RecordingNotifier,
)
from ehcp_workflow.notify.summary import manager_escalation, opening_position

__all__ = [
    "ESCALATION_KINDS",
    "MANAGERS",
    "AlertItem",
    "AlertKind",
    "AppriseNotifier",
    "DeliveryResult",
    "DeliveryStatus",
    "Message",
    "MissingSecretError",
    "Notifier",
    "RecordingNotifier",
    "Routing",
    "RoutingConfigError",
    "Severity",
    "WeeklySummary",
    "caseworker_digest",
    "caseworker_digests",
    "caseworker_tag",
    "chain_resolvers",
    "council_tag",
    "delivery_failing_item",
    "digest_recipient",
    "env_resolver",
    "format_date",
    "load_routing",
    "local_tag",
    "manager_escalation",
    "opening_position",
    "parse_routing",
    "recipients_for",
    "route_tags",
    "split_council",
    "team_tag",
    "weekly_summary",
]
