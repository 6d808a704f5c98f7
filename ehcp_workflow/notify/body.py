"""The alert body encoding: what an outbox row holds, and how an alert item gets in and out of it.

The nightly check *encodes* (:func:`outbox_rows`: a caseworker's copy of each alert and, for
escalations, the managers' copy, with the alert as JSON in ``body``); dispatch *decodes* at send
time (:func:`item_from_body`) and renders digests from the items. Both sides import this one module,
so the format has one definition and dispatch never has to reach into the nightly job for it.

Pre-rendered messages (the weekly summary, the opening position) have their own encoding, with
their attachments: :mod:`ehcp_workflow.notify.stored`.

No database here: rows are plain dicts of :class:`~ehcp_workflow.db.models.Alert` columns, queued
by :mod:`ehcp_workflow.db.outbox`. No personal data either: bodies name cases by ``case_ref`` only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ehcp_workflow.notify.model import (
    BAND_KINDS,
    ESCALATION_KINDS,
    MANAGERS,
    AlertItem,
    AlertKind,
    alert_key,
    council_tag,
    digest_recipient,
)


def outbox_rows(
    candidates: pd.DataFrame,
    *,
    titles: dict[str, str],
    now: dt.datetime,
    council: str | None = None,
    status: str = "queued",
) -> list[dict[str, Any]]:
    """Outbox rows for the candidate alerts: the caseworker's (digest) copy and, for escalations,
    the managers' copy. The body holds the alert as JSON (no personal data: case refs, clock,
    dates, team); the sender renders digests from it at send time (:func:`item_from_body`).

    With ``council`` (a night scoped to one council of a regional store) every recipient is that
    council's (``council:<LA>/caseworker:<id>``, ``council:<LA>/managers``): ids and team names
    repeat between councils, and only the council in the tag keeps their alerts apart.

    Column-wise: a first night on a large council queues hundreds of thousands of alerts, and a
    per-alert Python object costs minutes there (measured at 1M cases).
    """
    if candidates.empty:
        return []
    c = candidates.reset_index(drop=True)
    instance = c["instance"].fillna("").astype(str)
    clock = c["clock"].astype(str)
    kind = c["kind"].astype(str)
    has_instance = instance != ""
    title = clock.map(lambda k: titles.get(k, k))
    clock_title = title.where(~has_instance, title + " (" + instance + ")")
    clock_id = clock.where(~has_instance, clock + ":" + instance)
    episode = c["episode"].astype(str)
    case_ref = c["case_ref"].astype(str)
    due = pd.to_datetime(c["due_date"])
    weeks = pd.array(c["weeks_waiting"], dtype="Int64")
    weeks[weeks < 0] = pd.NA  # the evaluator's -1: not an open request
    detail = (
        c["detail"].astype("string") if "detail" in c else pd.Series(pd.NA, index=c.index, dtype="string")
    )
    detail = detail.where(detail.fillna("") != "", pd.NA)

    def text(col: str) -> pd.Series:
        return c[col].astype("string") if col in c else pd.Series(pd.NA, index=c.index, dtype="string")

    item = pd.DataFrame(
        {
            "band": text("band"),
            "case_ref": case_ref,
            "caseworker": text("caseworker"),
            "clock": clock,
            "clock_title": clock_title,
            "days_overdue": pd.array(c["days_overdue"], dtype="Int64"),
            "detail": detail,
            "due_date": due.dt.strftime("%Y-%m-%d").astype("string"),
            "episode": episode,
            "initials": pd.Series(pd.NA, index=c.index, dtype="string"),
            "instance": instance,
            "key": pd.Series(pd.NA, index=c.index, dtype="string"),
            "kind": kind,
            "regulation": text("regulation").fillna(""),
            "status": text("status").fillna(""),
            "team": text("team"),
            "weeks_waiting": weeks,
        }
    )
    keys = [alert_key(r, k, kd, e) for r, k, kd, e in zip(case_ref, clock_id, kind, episode, strict=True)]
    item["key"] = keys
    bodies = item.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    # whose digest: the caseworker, else the team, else the managers. The real rule, once per
    # distinct (caseworker, team) pair: there are a few hundred of them, not a million.
    pairs = list(zip(item["caseworker"].fillna(""), item["team"].fillna(""), strict=True))
    lookup = {
        (cw, tm): digest_recipient(
            AlertItem(
                case_ref="-", clock="-", kind=AlertKind.DUE_TODAY, caseworker=cw or None, team=tm or None
            )
        )
        for cw, tm in set(pairs)
    }
    digest = np.array([lookup[pair] for pair in pairs], dtype=object)
    band_kind = kind.isin([k.value for k in BAND_KINDS]).to_numpy()
    escalation = kind.isin([k.value for k in ESCALATION_KINDS]).to_numpy()
    to_digest = ~band_kind & ~(escalation & (digest == MANAGERS))
    if council is not None:
        scoped = {tag: council_tag(council, tag) for tag in set(lookup.values())}
        digest = np.array([scoped[tag] for tag in digest], dtype=object)
    base = pd.DataFrame(
        {
            "case_ref": case_ref,
            "clock": clock_id,
            "kind": kind,
            "episode": episode,
            "due_date": due.to_numpy().astype("datetime64[D]").astype(object),  # date, or None for NaT
            "status": status,
            "attempts": 0,
            "subject": case_ref + ": " + clock_title + " - " + kind.str.replace("_", " "),
            "body": bodies,
        }
    )
    digest_rows = base[to_digest].assign(
        alert_key=np.array(keys, dtype=object)[to_digest], recipient=digest[to_digest]
    )
    manager_rows = base[escalation].assign(
        alert_key=[escalation_key(k) for k in np.array(keys, dtype=object)[escalation]],
        recipient=council_tag(council, MANAGERS),
    )
    rows = pd.concat([digest_rows, manager_rows]).sort_index(kind="stable")
    columns = [*rows.columns, "created_at"]
    # ``now`` itself, not a column of it: a frame would hand back a pandas Timestamp per row,
    # which the drivers' bulk paths do not take (and the timestamp type converts once, not per row).
    arrays = [*(rows[col].to_numpy(dtype=object) for col in rows.columns), [now] * len(rows)]
    return [dict(zip(columns, values, strict=True)) for values in zip(*arrays, strict=True)]


def item_rows(
    items: Sequence[AlertItem], *, now: dt.datetime, council: str | None = None
) -> list[dict[str, Any]]:
    """Outbox rows for alert items built outside the nightly evaluation (``delivery_failing``),
    encoded exactly as :func:`outbox_rows` encodes the night's candidates (for ``council``'s
    recipients when given)."""
    rows: list[dict[str, Any]] = []
    for item in items:
        candidates = pd.DataFrame(
            [
                {
                    "case_ref": item.case_ref,
                    "clock": item.clock,
                    "instance": "",
                    "kind": item.kind.value,
                    "episode": item.episode,
                    "status": "failing",
                    "due_date": None,
                    "days_overdue": None,
                    "team": None,
                    "caseworker": None,
                    "band": None,
                    "weeks_waiting": None,
                    "regulation": "",
                    "detail": item.detail,
                }
            ]
        )
        rows.extend(outbox_rows(candidates, titles={item.clock: item.title}, now=now, council=council))
    return rows


def escalation_key(key: str) -> str:
    """The outbox key of an alert's copy in the managers' escalation message."""
    return f"{key}/{MANAGERS}"


def is_escalation_key(key: str) -> bool:
    return key.endswith(f"/{MANAGERS}")


def item_from_body(body: str) -> AlertItem:
    """The :class:`AlertItem` an outbox row was queued with (see :func:`outbox_rows`)."""
    data = json.loads(body)
    if data.get("due_date"):
        data["due_date"] = dt.date.fromisoformat(data["due_date"])
    return AlertItem(**data)


__all__ = [
    "escalation_key",
    "is_escalation_key",
    "item_from_body",
    "item_rows",
    "outbox_rows",
]
