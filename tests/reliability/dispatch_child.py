"""A dispatcher to be killed with SIGKILL by ``test_dispatch_faults``: run as a separate process.

``python -m tests.reliability.dispatch_child URL DELIVERIES NOW``: dispatches the outbox at ``URL``
as of ``NOW`` (ISO). Each message the "channel" accepts is appended to ``DELIVERIES`` (one line of
alert keys, flushed and fsynced) before the send returns, so what reached the channel survives the
kill. On the second send it delivers, prints ``accepted`` and then waits to be killed: the process
dies after the channel took the message and before the result was committed.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading

from ehcp_workflow.db import make_engine
from ehcp_workflow.jobs.dispatch import run_dispatch
from ehcp_workflow.notify import DeliveryResult, DeliveryStatus, Message


class DeliverThenWait:
    def __init__(self, path: str) -> None:
        self.path = path
        self.calls = 0

    def send(self, message: Message) -> DeliveryResult:
        self.calls += 1
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(" ".join(message.alert_keys) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.calls == 2:
            print("accepted", flush=True)
            threading.Event().wait()  # until SIGKILL
        return DeliveryResult(True, DeliveryStatus.SENT)


def main(url: str, deliveries: str, now: str) -> None:
    start = dt.datetime.fromisoformat(now)
    engine = make_engine(url)
    run_dispatch(engine, DeliverThenWait(deliveries), now=start, as_of=start.date())
    print("finished", flush=True)  # never reached: the parent kills this process first


if __name__ == "__main__":
    main(*sys.argv[1:4])
