"""The nightly for a region: one run of the nightly deployment per council, on the process work pool.

Several councils share one PostgreSQL store (each case carries its council, ``ehcp_case.la``). This
flow fans the night out as one flow run of the ``nightly-compliance/nightly-council`` deployment per
council (``council`` parameter), so the councils run side by side in separate processes on whichever
``prefect worker`` of the pool is free, and one council's failure costs only that council's run.
Every run is scoped (:func:`~ehcp_workflow.jobs.nightly.run_nightly`): its own cases, clock states,
recipients (``council:<LA>/...`` tags) and artifacts (``breach-summary-<la>``). The topology is drawn
in the README ("A regional deployment").

**Lost runs.** Prefect does not notice by itself that the process running a flow run died (a worker
machine lost, ``kill -9``): the run stays *Running*. (Prefect's own remedy, flow-run heartbeats plus
a "crash zombie flows" automation, works in minutes and needs an automation set up per server.)
So this flow watches its children: one that ends *Failed*/*Crashed*/*Cancelled*, or stays
*Running* longer than ``stall_after_s`` (or *Pending*, its process starting, longer than
``pending_after_s``), is marked *Crashed* and submitted again, up to ``attempts`` runs per council;
a worker that is alive picks the new run up.

**Re-running is safe by construction**, which is why a deadline is enough and no liveness protocol
is needed: a night is one database transaction (a killed run wrote nothing), the store's write lock
makes two runs of one council take turns (the second finds the first's clock states), and the alert
outbox's unique keys queue each alert once. A run that was merely slow, not dead, and finishes beside
its re-run therefore duplicates nothing either. ``as_of`` is fixed by this flow and passed down, so
a re-run after midnight still checks the same night.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.runtime import flow_run as this_run
from prefect.states import Crashed

from ehcp_workflow.db.read import councils as stored_councils
from ehcp_workflow.notify.model import council_code
from ehcp_workflow.settings import get_settings
from flows.common import engine_for, run_as_of

#: The deployment each council's night runs as (``deployments/prefect.yaml``): no schedule of its
#: own and no concurrency limit of one, which would cancel every council but the first.
NIGHTLY_DEPLOYMENT = "nightly-compliance/nightly-council"
#: States a flow run does not leave by itself.
FINAL = frozenset({StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})
#: States of a run some process is (or was) working on: the ones a dead worker leaves behind.
ACTIVE = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})


class RegionalNightFailed(RuntimeError):
    """Some councils' nights did not complete after every attempt (the others did)."""


@dataclass
class CouncilNight:
    """One council's night as this flow saw it: its latest run, and how many runs it took."""

    council: str
    flow_run_id: str
    state: str = "SCHEDULED"
    attempts: int = 1
    #: Why earlier runs were given up (state names and stalls), for the regional run's log.
    history: tuple[str, ...] = ()


@task(retries=2, retry_delay_seconds=[10, 60], cache_policy=NO_CACHE)
def councils_in_store() -> list[str]:
    """Every council with cases in the store (what the region's night covers by default)."""
    with engine_for(get_settings()) as engine:
        return stored_councils(engine)


def _submit(
    council: str, day: dt.date, attempt: int, *, deployment: str, dry_run: bool, baseline: bool
) -> FlowRun:
    """One council's night as a new run of ``deployment``. The idempotency key (this regional run,
    the council, the attempt) makes a retry of the regional run find its children instead of
    creating them twice."""
    run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync call: a FlowRun, not a coroutine
        name=deployment,
        parameters={"as_of": day, "dry_run": dry_run, "baseline": baseline, "council": council},
        flow_run_name=f"nightly-{council}-{day.isoformat()}" + (f"-try{attempt}" if attempt > 1 else ""),
        timeout=0,  # submit and return: this flow watches every council at once
        idempotency_key=f"{this_run.get_id() or 'adhoc'}/{council}/{attempt}",
        tags=["ehcp", "nightly", f"council:{council}"],
    )
    return run


def _lost(run: FlowRun, now: dt.datetime, stall_after_s: float, pending_after_s: float) -> str | None:
    """Why ``run`` is to be given up and re-run, or ``None`` while it is fine (or finished well).

    The time counts from the state's own timestamp: a run that waited long for a worker (Late) or
    to start its process (Pending) is not held to the Running limit for that time.
    """
    state = run.state
    if state is None:
        return None
    if state.type in FINAL and state.type is not StateType.COMPLETED:
        return f"{state.type.value.lower()}: {state.message or state.name}"
    if state.type in ACTIVE and state.timestamp is not None:
        limit = pending_after_s if state.type is StateType.PENDING else stall_after_s
        age = (now - state.timestamp).total_seconds()
        if age > limit:
            return f"{state.name} for {age:.0f} s (over {limit:.0f} s): its process is presumed lost"
    return None


@flow(name="regional-nightly")
def regional_nightly(
    councils: list[str] | None = None,
    as_of: dt.date | None = None,
    dry_run: bool = False,
    baseline: bool = False,
    deployment: str = NIGHTLY_DEPLOYMENT,
    attempts: int = 3,
    stall_after_s: float = 2 * 3600,
    pending_after_s: float = 1800,
    give_up_after_s: float = 6 * 3600,
    poll_s: float = 5.0,
) -> dict[str, Any]:
    """The night for every council of the region (``councils``, default: all in the store), one
    flow run each of ``deployment``; fails, naming them, if any council's night did not complete.

    ``stall_after_s`` is how long a run may stay Running before it is presumed lost (set it well
    above the largest council's night), ``pending_after_s`` how long its process may take to
    start; ``give_up_after_s`` bounds the whole wait, so a pool with no worker alive fails the
    regional run instead of waiting forever.
    """
    log = get_run_logger()
    day = run_as_of(as_of, get_settings())
    chosen = [council_code(c) for c in councils] if councils else councils_in_store()
    if not chosen:
        log.warning("no council has cases in the store: nothing to check")
        return {"as_of": day.isoformat(), "councils": {}}

    def submit(council: str, attempt: int) -> str:
        run = _submit(council, day, attempt, deployment=deployment, dry_run=dry_run, baseline=baseline)
        return str(run.id)

    nights = {c: CouncilNight(c, submit(c, 1)) for c in chosen}
    log.info("as of %s: one nightly run per council submitted: %s", day, ", ".join(chosen))
    deadline = time.monotonic() + give_up_after_s
    with get_client(sync_client=True) as client:
        while True:
            waiting = [n for n in nights.values() if n.state not in _DONE]
            if not waiting or time.monotonic() > deadline:
                break
            now = dt.datetime.now(dt.UTC)
            for night in waiting:
                run = client.read_flow_run(UUID(night.flow_run_id))
                night.state = run.state.type.value if run.state else "SCHEDULED"
                why = _lost(run, now, stall_after_s, pending_after_s)
                if why is None:
                    continue
                if run.state is not None and run.state.type not in FINAL:
                    # its process is gone (or hopelessly slow): say so in the UI, and free the slot
                    client.set_flow_run_state(run.id, Crashed(message=f"regional-nightly: {why}"), force=True)
                night.history += (why,)
                if night.attempts >= attempts:
                    night.state = "GAVE_UP"
                    log.error("council %s: run %d %s; no attempts left", night.council, night.attempts, why)
                    continue
                night.attempts += 1
                log.warning("council %s: run %s; running it again", night.council, why)
                night.flow_run_id = submit(night.council, night.attempts)
                night.state = "SCHEDULED"
            if any(n.state not in _DONE for n in nights.values()):
                time.sleep(poll_s)  # the poll interval of a watcher, not a wait for something to happen
    failed = sorted(n.council for n in nights.values() if n.state != StateType.COMPLETED.value)
    result = {"as_of": day.isoformat(), "councils": {c: asdict(n) for c, n in nights.items()}}
    if failed:
        raise RegionalNightFailed(f"the night of {day} did not complete for council(s) {', '.join(failed)}")
    log.info("as of %s: every council's night completed (%d)", day, len(nights))
    return result


#: Where this flow stops watching a council: its night completed, or it ran out of attempts.
_DONE = frozenset({StateType.COMPLETED.value, "GAVE_UP"})


if __name__ == "__main__":
    regional_nightly()
