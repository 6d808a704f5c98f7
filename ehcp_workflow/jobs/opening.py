"""Go-live without a flood: what is *new* tonight, and the opening position of a first night.

Before this, a council's first night queued an alert per overdue clock, each saying "new breach
today" (7,982 on the 20,000-case demo, some due in 2016), and every later night re-raised any
breach whose alert was not yet in the outbox. Now:

* **New** means it happened since the last night that ran: a clock is a *new breach* only if its
  due date fell on or after that night (it was not overdue then), and a case *crossed a band* only
  if it passed the threshold since then (:func:`only_new`). Everything older is *still overdue*
  and goes in the Monday reminder (``still_overdue``). A window that is too wide is harmless (the
  outbox key dedupes), one too narrow would lose alerts, so the window is taken from the stored
  clock states (:func:`last_night`).
* A **first night** (no clock state recorded before tonight) or a night run with ``--baseline``
  records the state and queues *one* opening position for managers and *one* opening worklist per
  caseworker (team, or managers, for unassigned cases) (:func:`opening_messages`). The per-clock
  alerts it finds are written to the outbox as ``suppressed``: covered by the opening messages,
  never sent, and (their keys taken) never re-raised on a later night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ehcp_workflow.core.evaluator import Evaluation
from ehcp_workflow.core.figures import invalid_clocks, open_requests, overdue_clocks
from ehcp_workflow.notify.body import outbox_rows
from ehcp_workflow.notify.digest import caseworker_digests
from ehcp_workflow.notify.model import BAND_KINDS, AlertItem, AlertKind, Message, council_code, council_tag
from ehcp_workflow.notify.stored import message_row
from ehcp_workflow.notify.summary import opening_position

#: The outbox status of an alert covered by the opening position (never sent).
SUPPRESSED = "suppressed"


def last_night(recorded: pd.Series, as_of: dt.date) -> dt.date | None:
    """The latest night before ``as_of`` with recorded clock state (``None``: a first night).

    Only changed states are rewritten each night, so this can be earlier than the true last run;
    that widens "since the last night" and the outbox dedupes the repeats.
    """
    earlier = [d for d in pd.unique(recorded) if d is not None and d < as_of]
    return max(earlier) if earlier else None


def only_new(candidates: pd.DataFrame, since: dt.date) -> pd.DataFrame:
    """The candidates minus breaches and band crossings that happened before ``since``.

    A clock due on day D is overdue from D+1, so it was not overdue on night ``since`` iff
    D >= ``since``. A request received on R is "over N weeks" from R + 7N + 1, so it had not
    crossed on night ``since`` iff R + 7N >= ``since``.
    """
    kind = candidates["kind"].astype(str)
    day = np.datetime64(since, "D")
    due = pd.to_datetime(candidates["due_date"]).to_numpy().astype("datetime64[D]")
    old_breach = (kind == AlertKind.OVERDUE.value).to_numpy() & ~(due >= day)
    weeks = kind.map({k.value: v for k, v in BAND_KINDS.items()}).to_numpy(dtype=np.float64, na_value=np.nan)
    band = ~np.isnan(weeks)
    received = pd.to_datetime(candidates["episode"].where(band), errors="coerce").to_numpy()
    crossed = received.astype("datetime64[D]") + np.nan_to_num(weeks * 7).astype("timedelta64[D]")
    old_band = band & ~(crossed >= day)
    kept: pd.DataFrame = candidates[~(old_breach | old_band)].reset_index(drop=True)
    return kept


def worklist_items(candidates: pd.DataFrame, titles: Mapping[str, str]) -> list[AlertItem]:
    """The caseworkers' opening items: every clock a digest would carry, overdue ones as *still*
    overdue (nothing is new on a first night); band crossings are for managers only."""
    kinds = candidates["kind"].astype(str)
    rows = candidates[~kinds.isin([k.value for k in BAND_KINDS])]
    items = []
    for row in rows.to_dict("records"):
        kind = AlertKind.STILL_OVERDUE if row["kind"] == AlertKind.OVERDUE.value else row["kind"]
        items.append(AlertItem.from_row(row, kind=kind, clock_title=titles.get(str(row["clock"]), "")))
    return items


def opening_messages(
    evaluation: Evaluation,
    candidates: pd.DataFrame,
    *,
    titles: Mapping[str, str],
    band_labels: tuple[str, ...],
    allow_initials: bool = False,
    council: str | None = None,
) -> list[tuple[str, Message]]:
    """(outbox key, message): the opening position for managers, one worklist per recipient.

    With ``council`` (a regional store's per-council night) the messages go to that council's
    recipients, their titles name it, and the opening position's key carries it: each council opens
    on its own first night without taking another council's key.
    """
    as_of = evaluation.as_of
    worklists = caseworker_digests(
        worklist_items(candidates, titles), as_of, allow_initials=allow_initials, opening=True
    )
    position = opening_position(
        as_of=as_of,
        open_requests=open_requests(evaluation),
        overdue=overdue_clocks(evaluation),
        invalid=invalid_clocks(evaluation),
        band_labels=band_labels,
        worklists=len(worklists),
    )
    day = as_of.isoformat()
    if council is not None:
        code = council_code(council)
        position = replace(
            position, recipient=council_tag(code, position.recipient), title=f"{code}: {position.title}"
        )
        worklists = [
            replace(m, recipient=council_tag(code, m.recipient), title=f"{code}: {m.title}")
            for m in worklists
        ]
        day = f"{day}/{code}"
    keyed = [(f"opening-position/{day}", position)]
    # the worklist of cases with neither team nor caseworker goes to managers: its own key
    keyed += [(f"opening-worklist/{day}/{m.recipient}", m) for m in worklists]
    return keyed


def opening_rows(messages: list[tuple[str, Message]], *, now: dt.datetime) -> list[dict[str, Any]]:
    return [message_row(m, key=key, now=now) for key, m in messages]


#: Candidates turned into suppressed outbox rows at a time: at 1,000,000 cases an opening night
#: finds ~5M per-clock alerts, and a dict per row for all of them at once (twice, with a copy to
#: mark them) was most of the night's peak memory.
SUPPRESSED_BATCH = 100_000


def suppressed_rows(
    candidates: pd.DataFrame,
    *,
    titles: dict[str, str],
    now: dt.datetime,
    council: str | None = None,
    size: int = SUPPRESSED_BATCH,
) -> Iterator[list[dict[str, Any]]]:
    """The per-clock alerts of an opening night as outbox rows marked ``suppressed`` (their keys
    taken, never sent), ``size`` candidates at a time, for the caller to queue batch by batch."""
    for start in range(0, len(candidates), size):
        yield outbox_rows(
            candidates.iloc[start : start + size], titles=titles, now=now, council=council, status=SUPPRESSED
        )


__all__ = [
    "SUPPRESSED",
    "last_night",
    "only_new",
    "opening_messages",
    "opening_rows",
    "suppressed_rows",
]
