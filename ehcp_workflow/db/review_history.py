"""Writing a source's review history: every annual-review cycle it carries, never overwritten.

The flat writer (:mod:`ehcp_workflow.db.write`) keeps the *latest* cycle in step with the caseload's
review columns. A source that carries history (the long event format, the demo council) also hands
over the cycles before it; this module merges them into ``annual_review``:

* a cycle is matched by its case and its date (the meeting, else its first recorded step);
* a cycle the store does not hold is added (its ``seq`` after the case's others: ``seq`` is a
  row number, the reader orders cycles by date);
* a held cycle only gains what it lacked or what the file records differently; nothing the file
  leaves empty is cleared, so a re-import never erases what a caseworker recorded;
* each added or changed value is an event-log row ``review.<seq>.<column>``, so the log says what
  the history gained and from where (the flat ``review_*`` events stay the latest cycle's).

Re-importing the same history changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, update

from ehcp_workflow.core.caseload import REVIEW_COLUMNS, REVIEW_DATE_COLUMNS
from ehcp_workflow.db.bulk import insert_dicts
from ehcp_workflow.db.fields import FIELDS
from ehcp_workflow.db.models import AnnualReview, table_of
from ehcp_workflow.db.read import read_reviews
from ehcp_workflow.db.records import text_values
from ehcp_workflow.db.write import Changes, EventRows, execute_many

REVIEW = table_of(AnnualReview)
_VALUES = REVIEW_COLUMNS[1:]


def _key(frame: pd.DataFrame) -> pd.Series:
    key = frame[REVIEW_DATE_COLUMNS[0]]
    for c in ("review_decision_letter", "review_report_sent", "amendment_notice", "amended_plan_issued"):
        key = key.fillna(frame[c])
    return key


def _python(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    return value


def apply_review_history(
    conn: Connection, incoming: pd.DataFrame, changes: Changes, events: EventRows
) -> set[str]:
    """Merge ``incoming`` cycles (the contract's review table) into the store; return the cases
    whose history changed. ``changes.case_ids`` maps every imported case to its id."""
    inc = incoming[incoming["case_ref"].isin(list(changes.case_ids)).to_numpy()].copy()
    for c in REVIEW_DATE_COLUMNS:
        inc[c] = pd.to_datetime(inc[c])
    inc["review_outcome"] = inc["review_outcome"].astype("string")
    inc["key"] = _key(inc)
    inc = inc[inc["key"].notna().to_numpy()]
    if inc.empty:
        return set()
    inc = inc.drop_duplicates(subset=["case_ref", "key"], keep="last")
    stored = read_reviews(conn, case_refs=sorted(set(inc["case_ref"])), with_ids=True)
    for c in REVIEW_DATE_COLUMNS:
        stored[c] = pd.to_datetime(stored[c])
    stored["key"] = _key(stored)
    merged = inc.merge(
        stored[["case_ref", "key", "review_id", "seq", *_VALUES]],
        on=["case_ref", "key"],
        how="left",
        suffixes=("", "_old"),
    )
    touched: set[str] = set()
    # --- cycles the store does not hold: added after the case's others --------------------------
    new = merged[merged["review_id"].isna().to_numpy()].copy()
    if len(new):
        top = stored.groupby("case_ref")["seq"].max()
        base = new["case_ref"].map(top).fillna(0).astype(int)
        new["seq"] = base + new.groupby("case_ref").cumcount() + 1
        rows = []
        for r in new.itertuples(index=False):
            row = {"case_id": changes.case_ids[r.case_ref], "seq": int(r.seq)}
            row |= {FIELDS[c].column: _python(getattr(r, c)) for c in _VALUES}
            rows.append(row)
        insert_dicts(conn, REVIEW, rows)
        for c in _VALUES:
            has = new[c].notna().to_numpy()
            if has.any():
                part = new[has]
                events.add(
                    [changes.case_ids[ref] for ref in part["case_ref"]],
                    [f"review.{int(s)}.{c}" for s in part["seq"]],
                    [None] * int(has.sum()),
                    text_values(part[c], FIELDS[c].kind).tolist(),
                )
        touched |= set(new["case_ref"])
        changes.fields_changed["review_history"] += len(new)
    # --- cycles it holds: gain what they lacked, or what the file records differently ----------
    held = merged[merged["review_id"].notna().to_numpy()]
    for c in _VALUES:
        if not len(held):
            break
        old, now = held[f"{c}_old"], held[c]
        differs = (now.notna() & (old.isna() | (old.astype("string") != now.astype("string")))).to_numpy()
        if not differs.any():
            continue
        part = held[differs]
        stmt = (
            update(REVIEW).where(REVIEW.c.id == bindparam("b_id")).values({FIELDS[c].column: bindparam("v")})
        )
        execute_many(
            conn,
            stmt,
            [{"b_id": int(i), "v": _python(v)} for i, v in zip(part["review_id"], part[c], strict=True)],
        )
        kind = FIELDS[c].kind
        events.add(
            [changes.case_ids[ref] for ref in part["case_ref"]],
            [f"review.{int(s)}.{c}" for s in part["seq"]],
            text_values(part[f"{c}_old"], kind).tolist(),
            text_values(part[c], kind).tolist(),
        )
        touched |= set(part["case_ref"])
        changes.fields_changed["review_history"] += len(part)
    return touched
