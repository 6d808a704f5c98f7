"""A real SMTP receiver on 127.0.0.1 (aiosmtpd) whose next answers a test scripts, and a clock.

For rehearsing what mail servers do to a dispatcher: accept, refuse (``451``), hang until released,
or take the whole message and then drop the connection before answering. Each message is stamped
by :class:`StampingNotifier` with a send number in its subject, so the receiver's inbox says which
send - and so which alerts - actually reached the server, whatever the client believed.

Everything is driven by :class:`threading.Event` and queues; nothing sleeps, and nothing depends
on how fast the machine is. Shared by ``tests/jobs`` and ``tests/reliability``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import itertools
import queue
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from ehcp_workflow.notify import AppriseNotifier, DeliveryResult, Message
from tests.notify.helpers import free_port, routing_from

#: How long a test waits for something that should already be happening (never for a passing test).
WAIT = 30.0


@dataclass
class Step:
    """What the receiver does with one incoming message (``DATA``).

    ``outcome``: ``accept`` (received, 250), ``reject`` (not received, 451), or ``drop`` (received,
    then the connection closes with no reply). ``hang``: before answering, wait until
    :attr:`release` is set, telling the test through :attr:`entered` that the client is waiting;
    an accepted or dropped message is already received while the server hangs.
    """

    outcome: str = "accept"
    hang: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    #: Set when the server has finished with the message (answered, or dropped the connection).
    done: threading.Event = field(default_factory=threading.Event)


class Receiver:
    """The scripted SMTP server: :meth:`script` queues steps; unscripted messages are accepted."""

    def __init__(self) -> None:
        self.port = 0
        #: Subjects of the messages the server received (accepted or dropped after receipt).
        self.received: queue.Queue[str] = queue.Queue()
        #: What the server does when no step is scripted (``accept``, ``reject`` or ``drop``).
        self.default = "accept"
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()

    def script(self, *steps: Step) -> tuple[Step, ...]:
        with self._lock:
            self._steps.extend(steps)
        return steps

    def reset(self) -> None:
        with self._lock:
            for step in self._steps:
                step.release.set()
            self._steps.clear()
            self.default = "accept"
        while not self.received.empty():
            self.received.get_nowait()

    def _next(self) -> Step:
        with self._lock:
            return self._steps.popleft() if self._steps else Step(outcome=self.default)

    def subjects(self) -> list[str]:
        out = []
        while not self.received.empty():
            out.append(self.received.get_nowait())
        return out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        step = self._next()
        try:
            if step.outcome != "reject":  # the server has the message, whatever the client hears
                message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                self.received.put(str(message["Subject"]))
            if step.hang:
                step.entered.set()
                # a client that gives up closes the connection, and aiosmtpd cancels this wait
                await asyncio.get_running_loop().run_in_executor(None, step.release.wait, WAIT)
            if step.outcome == "reject":
                return "451 4.3.0 try again later"
            if step.outcome == "drop":  # the client never hears that the server has it
                server.transport.close()
            return "250 OK"
        finally:
            step.done.set()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A :class:`Receiver` listening on a free port of 127.0.0.1 until the block ends."""
    from aiosmtpd.controller import Controller

    receiver = Receiver()
    last_error: Exception | None = None
    for _ in range(5):  # a free port can be taken between probing and binding: try another
        receiver.port = free_port()
        controller = Controller(receiver, hostname="127.0.0.1", port=receiver.port, ready_timeout=WAIT)
        try:
            controller.start()
        except Exception as exc:
            last_error = exc
            continue
        try:
            yield receiver
        finally:
            receiver.reset()
            controller.stop()
        return
    raise RuntimeError(f"could not start the test SMTP server: {last_error}")


@pytest.fixture(scope="session")
def smtp_receiver_server() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(smtp_receiver_server: Receiver) -> Iterator[Receiver]:
    """The session's receiver with no script and an empty inbox; hung steps are released after."""
    smtp_receiver_server.reset()
    yield smtp_receiver_server
    smtp_receiver_server.reset()


def email_notifier(
    receiver: Receiver, recipients: Iterable[str], *, timeout: float = WAIT
) -> AppriseNotifier:
    """apprise sending every recipient's messages by email to ``receiver``; ``timeout`` is the
    client's socket timeout (apprise's ``cto``), i.e. how long a hanging server is waited for."""
    tags = ", ".join(sorted(recipients))
    url = (
        f"mailto://127.0.0.1:{receiver.port}?mode=insecure&from=ehcp@council.example"
        f"&to=alerts@council.example&cto={timeout:g}"
    )
    notifier = AppriseNotifier(routing_from(f"version: 1\nurls:\n  - {url}:\n      tag: {tags}\n"))
    for service in notifier._apprise:  # apprise waits 5.5 s between two emails through one service
        service.request_rate_per_sec = 0
    return notifier


_STAMP = re.compile(r"\[send (\d+)\]$")


class StampingNotifier:
    """Wraps a notifier: stamps each message's subject with a send number (shared by every
    dispatcher in a test, through :class:`Sends`) and remembers the alert keys it carried."""

    def __init__(self, inner: Any, sends: Sends) -> None:
        self.inner = inner
        self.sends = sends

    def send(self, message: Message) -> DeliveryResult:
        number = self.sends.add(message.alert_keys)
        return self.inner.send(replace(message, title=f"{message.title} [send {number}]"))  # type: ignore[no-any-return]


@dataclass
class Sends:
    """Every send attempted in a test, by number: the alert keys it carried."""

    keys: dict[int, tuple[str, ...]] = field(default_factory=dict)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, keys: tuple[str, ...]) -> int:
        with self._lock:
            number = next(self._counter)
            self.keys[number] = keys
            return number

    def delivered(self, subjects: Iterable[str]) -> Counter[str]:
        """How many messages the server received for each alert key."""
        counts: Counter[str] = Counter()
        for subject in subjects:
            match = _STAMP.search(subject)
            assert match, f"unstamped message {subject!r}"
            counts.update(self.keys[int(match.group(1))])
        return counts


class ManualClock:
    """``now`` that moves only when the test says so (thread-safe)."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, by: dt.timedelta) -> dt.datetime:
        with self._lock:
            self._now += by
            return self._now
