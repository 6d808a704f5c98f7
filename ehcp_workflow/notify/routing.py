"""Who hears about what: loading ``config/notifications.yaml`` and mapping alert items to tags.

The file is an apprise YAML configuration (``version: 1``, ``urls:`` entries with ``tag:``), so
everything apprise can send to (email, Teams, Slack, a webhook) is available to a council by
editing one reviewed file. Two things are ours:

**Secrets never sit in the file.** Any string may contain ``${NAME}``; it is replaced by the value
a *resolver* returns for ``NAME`` - the process environment by default, a Prefect Secret block
reader in the flow (:func:`chain_resolvers` combines them). A reference with no value is refused,
naming every missing variable, because starting with a route silently missing would drop alerts.
Values are inserted verbatim (percent-encode a password containing ``@ : / ?``) and are not
themselves expanded again. ``$${`` writes a literal ``${``.

**Tags are checked and encoded.** Recipients are ``managers``, ``team:<name>`` and
``caseworker:<id>``. apprise 1.13 reads a tag ``caseworker:42`` as tag ``caseworker`` with a retry
count of 42 (and refuses it in YAML), splits ``team:SEN North`` at the space, and sends
*everything* to a URL tagged ``always``. Taken raw, those rules would send one caseworker's cases
to another, or to no one. So each tag is validated against our three forms (a typo like
``manager`` is an error, not a silent non-route) and handed to apprise in an encoded form made
only of characters apprise treats as a plain tag name (:func:`apprise_tag`).

Loading validates every entry on its own, so an error names the entry (by number, scheme and tags,
never its URL).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ehcp_workflow.notify.model import (
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    digest_recipient,
    normalise_tag,
)
from ehcp_workflow.notify.redact import (
    capture_apprise_log,
    install_log_redaction,
    redact,
    register_secrets,
    register_service_secrets,
)

#: Looks up a secret by name; ``None`` when it has no value.
Resolver = Callable[[str], str | None]


class RoutingConfigError(ValueError):
    """``notifications.yaml`` cannot be used as it stands; the message says where and why."""


class MissingSecretError(RoutingConfigError):
    """``${NAME}`` references with no value. ``names`` lists every one, not just the first."""

    def __init__(self, names: Iterable[str], source: str) -> None:
        self.names = tuple(sorted(set(names)))
        listed = ", ".join(self.names)
        super().__init__(
            f"{source}: no value for {listed}. Set {'this' if len(self.names) == 1 else 'these'} in the "
            "environment of the process that sends alerts (or in the secret store the flow reads)."
        )


def env_resolver(environ: Mapping[str, str] | None = None) -> Resolver:
    """A resolver reading ``environ`` (the process environment by default, read at call time)."""

    def resolve(name: str) -> str | None:
        return (os.environ if environ is None else environ).get(name)

    return resolve


def chain_resolvers(*resolvers: Resolver) -> Resolver:
    """A resolver asking each of ``resolvers`` in turn; the first value found wins."""

    def resolve(name: str) -> str | None:
        for resolver in resolvers:
            value = resolver(name)
            if value is not None:
                return value
        return None

    return resolve


_REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Substituter:
    """Replaces ``${NAME}`` in every string of a parsed YAML document, collecting what is missing."""

    def __init__(self, resolver: Resolver, source: str) -> None:
        self.resolver = resolver
        self.source = source
        self.missing: set[str] = set()
        self.used: dict[str, str] = {}

    def text(self, value: str, where: str) -> str:
        def one(match: re.Match[str]) -> str:
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return "${" + name + "}"
            if not _NAME.fullmatch(name):
                raise RoutingConfigError(
                    f"{self.source}: {where}: malformed reference ${{{name}}} "
                    "(expected ${NAME} with letters, digits and _)"
                )
            try:
                found = self.resolver(name)
            except Exception as exc:  # a secret store that is down must not look like success
                raise RoutingConfigError(
                    f"{self.source}: looking up {name} failed: {type(exc).__name__}: {redact(str(exc))}"
                ) from None
            if found is None or found == "":
                self.missing.add(name)
                return ""
            self.used[name] = found
            return found

        return _REFERENCE.sub(one, value)

    def walk(self, node: Any, where: str) -> Any:
        if isinstance(node, str):
            return self.text(node, where)
        if isinstance(node, list):
            return [self.walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, dict):
            return {
                self.walk(k, where) if isinstance(k, str) else k: self.walk(v, f"{where}.{k}")
                for k, v in node.items()
            }
        return node


# --- Tags ---------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[a-z0-9-]")


def apprise_tag(tag: str) -> str:
    """The apprise-safe form of a recipient tag: injective, and always a plain apprise tag name.

    Lower-case letters, digits and ``-`` stay; every other character (``:``, spaces, capitals, and
    ``_`` itself, the escape character) becomes ``_`` + two hex digits per UTF-8 byte. The result
    matches apprise's ``[a-z0-9][a-z0-9_-]*`` with no ``priority:`` prefix or ``:retry`` suffix,
    and two different tags never share an encoding. ``caseworker:cw-7`` -> ``caseworker_3acw-7``.
    """
    canonical = normalise_tag(tag)
    return "".join(
        ch if _PLAIN.fullmatch(ch) else "".join(f"_{b:02x}" for b in ch.encode()) for ch in canonical
    )


_ESCAPE = re.compile(r"(?:_[0-9a-f]{2})+")


def tag_from_apprise(encoded: str) -> str:
    """The recipient tag behind an :func:`apprise_tag` encoding (the inverse)."""
    return _ESCAPE.sub(lambda m: bytes.fromhex(m.group(0).replace("_", "")).decode(), encoded)


def _tags_of(value: Any, where: str) -> list[str]:
    """The canonical tags of one ``tag:`` value: a comma-separated string or a list of tags.

    Unlike apprise, whitespace does not separate tags (team names have spaces); commas do.
    """
    if isinstance(value, str):
        raw = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        raw = value
    else:
        raise RoutingConfigError(f"{where}: tag must be a string or a list of strings")
    tags = []
    for text in raw:
        if not text.strip():
            continue
        try:
            tags.append(normalise_tag(text))
        except ValueError as exc:
            raise RoutingConfigError(f"{where}: {exc}") from None
    return tags


def _encode_tags(node: Any, where: str) -> Any:
    """``node`` (part of one ``urls`` entry) with every ``tag``/``tags`` value validated and encoded."""
    if isinstance(node, list):
        return [_encode_tags(v, where) for v in node]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("tag", "tags"):
                out[key] = [apprise_tag(t) for t in _tags_of(value, where)]
            else:
                out[key] = _encode_tags(value, where)
        return out
    return node


_SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.\-]*)://", re.IGNORECASE)


def _scheme_of(entry: Any) -> str:
    keys = [entry] if isinstance(entry, str) else list(entry) if isinstance(entry, dict) else []
    for key in keys:
        if isinstance(key, str) and (m := _SCHEME.match(key)):
            return m.group(1).lower()
    return "?"


@dataclass(frozen=True)
class Route:
    """One loaded apprise service, described without its URL (safe to print and log)."""

    entry: int  # 1-based position in ``urls``
    scheme: str
    tags: frozenset[str]


class Routing:
    """The loaded routes: an apprise client whose services carry encoded recipient tags.

    Holds secrets (the resolved URLs) inside the apprise objects; its ``repr`` and :attr:`routes`
    describe routes by scheme and tags only.
    """

    def __init__(self, services: list[Any], routes: tuple[Route, ...], source: str) -> None:
        self._services = services
        self.routes = routes
        self.source = source
        self.tags: frozenset[str] = frozenset(t for r in routes for t in r.tags)

    @property
    def services(self) -> list[Any]:
        """The apprise service objects (``NotifyBase``), for :class:`~.sender.AppriseNotifier`."""
        return list(self._services)

    def has_route(self, tag: str) -> bool:
        """Whether any service carries ``tag`` (so a send to it would reach someone)."""
        return normalise_tag(tag) in self.tags

    def unrouted(self, tags: Iterable[str]) -> list[str]:
        """Those of ``tags`` with no route: for a flow to report before it sends anything."""
        return sorted({normalise_tag(t) for t in tags} - self.tags)

    def __repr__(self) -> str:
        described = ", ".join(f"#{r.entry} {r.scheme}://*** {sorted(r.tags)}" for r in self.routes)
        return f"Routing({self.source}: {described})"


def apprise_asset() -> Any:
    """The apprise asset for our clients: our name on messages, services dispatched sequentially."""
    import apprise

    # Sequential dispatch (no thread pool): the sender can then attribute log lines to its send.
    return apprise.AppriseAsset(
        app_id="ehcp-workflow", app_desc="EHC deadline alerts", async_mode=False, secure_logging=True
    )


def _expected_services(entry: Any) -> int:
    """How many services an entry should yield: one per block when the URL holds a list of blocks."""
    if isinstance(entry, dict):
        for key, value in entry.items():
            if isinstance(key, str) and _SCHEME.match(key) and isinstance(value, list):
                return len(value)
    return 1


def _load_entry(entry: Any, number: int, source: str) -> tuple[list[Any], list[Route]]:
    """Load one ``urls`` entry through apprise's own YAML reader, and check what came out."""
    import apprise

    where = f"{source}: urls entry #{number} ({_scheme_of(entry)})"
    if not isinstance(entry, str | dict):
        raise RoutingConfigError(f"{where}: expected a URL or a 'URL: options' mapping")
    encoded = _encode_tags(entry, where)
    config = apprise.AppriseConfig(asset=apprise_asset())
    with capture_apprise_log() as log:
        config.add_config(yaml.safe_dump({"version": 1, "urls": [encoded]}), format="yaml")
        services = list(config.servers())
    expected = _expected_services(entry)
    if len(services) < expected:
        detail = f": {log.text()}" if log.text() else ""
        what = "this URL" if expected == 1 else f"{expected - len(services)} of its {expected} blocks"
        raise RoutingConfigError(f"{where}: apprise could not load {what}{detail}")
    if log.text():
        # apprise loads what it can and warns about the rest (an invalid to: address is dropped,
        # leaving a route that reaches nobody). A routing file must load cleanly.
        raise RoutingConfigError(f"{where}: apprise warned while loading it: {log.text()}")
    routes = []
    for service in services:
        if not service.tags:
            raise RoutingConfigError(
                f"{where}: has no tag, so it would never receive anything; "
                "add tag: managers, team:<name> or caseworker:<id>"
            )
        tags = frozenset(tag_from_apprise(str(t)) for t in service.tags)
        routes.append(Route(entry=number, scheme=_scheme_of(entry), tags=tags))
    return services, routes


def _urls(text: str, source: str) -> list[Any]:
    """The ``urls`` list of a notifications file, after checking the document's shape."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"{source}: not valid YAML: {redact(str(exc))}") from None
    if not isinstance(document, dict):
        raise RoutingConfigError(f"{source}: expected a mapping with version: 1 and urls:")
    unknown = sorted(str(k) for k in document if k not in ("version", "urls"))
    if unknown:
        raise RoutingConfigError(
            f"{source}: unsupported top-level keys {unknown}: only 'version' and 'urls' are read "
            "(global tags, groups and includes would route alerts in ways the tag checks cannot see)"
        )
    if document.get("version", 1) != 1:
        raise RoutingConfigError(f"{source}: version must be 1")
    urls = document.get("urls") or []
    if not isinstance(urls, list):
        raise RoutingConfigError(f"{source}: urls must be a list")
    return urls


def parse_routing(
    text: str, *, resolver: Resolver | None = None, source: str = "notifications.yaml"
) -> Routing:
    """Build :class:`Routing` from the text of a notifications file (see the module docstring)."""
    install_log_redaction()
    substituter = _Substituter(resolver or env_resolver(), source)
    urls = substituter.walk(_urls(text, source), "urls")
    if substituter.missing:
        raise MissingSecretError(substituter.missing, source)
    register_secrets(substituter.used.values())
    services: list[Any] = []
    routes = []
    for number, entry in enumerate(urls, start=1):
        loaded, entry_routes = _load_entry(entry, number, source)
        services += loaded
        routes += entry_routes
    register_service_secrets(services)
    return Routing(services, tuple(routes), source)


def route_tags(path: Path | str) -> frozenset[str]:
    """The recipient tags a notifications file routes, checked but without resolving any secret.

    For dry runs (``RecordingNotifier(routes=route_tags(path))`` reports the same missing routes as
    a real run) and for checking the file in CI, where the secrets are not available.
    """
    path = Path(path)
    found: set[str] = set()

    def collect(node: Any, where: str) -> None:
        if isinstance(node, list):
            for value in node:
                collect(value, where)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in ("tag", "tags"):
                    found.update(_tags_of(value, where))
                else:
                    collect(value, where)

    for number, entry in enumerate(_urls(_read(path), path.name), start=1):
        collect(entry, f"{path.name}: urls entry #{number} ({_scheme_of(entry)})")
    return frozenset(found)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutingConfigError(
            f"notifications config not found: {path} (set EHCP_NOTIFICATIONS_CONFIG to its path)"
        ) from None


def load_routing(path: Path | str, *, resolver: Resolver | None = None) -> Routing:
    """Load ``path`` (usually ``Settings().notifications_config``); see :func:`parse_routing`."""
    path = Path(path)
    return parse_routing(_read(path), resolver=resolver, source=path.name)


def recipients_for(item: AlertItem) -> list[str]:
    """Every tag told about ``item``: its digest recipient first, then managers for escalations.

    The digest goes to ``caseworker:<id>``; a case with no caseworker goes to ``team:<team>``, and
    one with neither to ``managers``. New breaches, band crossings, invalid clocks and failing
    deliveries are also escalated to ``managers`` (once, if the digest already goes there).
    """
    tags = [digest_recipient(item)]
    if item.kind in ESCALATION_KINDS and MANAGERS not in tags:
        tags.append(MANAGERS)
    return tags
