"""Applying new advice requests (sought under reg 6, due within reg 8), one event per change.

The advice half of :mod:`ehcp_workflow.db.write` (the single writer of case data): same rules, same
event rows, same context. An advice request has no identity in an import file, so rows are matched
on ``seq`` when the caller has one (``record_event``) and otherwise by position within (case,
provider) in date order; unmatched stored rows are removed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, update

from ehcp_workflow.db.bulk import insert_dicts
from ehcp_workflow.db.fields import ADVICE_COLUMN_KINDS, advice_field
from ehcp_workflow.db.read import ADVICE
from ehcp_workflow.db.records import python_values, text_values
from ehcp_workflow.db.write import Changes, EventRows, WriteContext, execute_many, values_differ

_ADVICE_VALUE_COLUMNS = {"requested": "requested", "received": "received", "exception_ground": "exception"}


def _positions(frame: pd.DataFrame) -> pd.DataFrame:
    """Number the rows of each (case, provider) in value order, for positional matching."""
    ordered = frame.sort_values(
        ["case_ref", "provider", "requested", "received", "exception"], na_position="last", kind="stable"
    )
    ordered = ordered.assign(pos=ordered.groupby(["case_ref", "provider"], sort=False).cumcount())
    return ordered


def apply_advice(
    conn: Connection,
    stored: pd.DataFrame,
    incoming: pd.DataFrame,
    case_ids: Mapping[str, int],
    ctx: WriteContext,
    changes: Changes,
) -> set[str]:
    """Make the stored advice of the incoming cases equal ``incoming``; return the cases touched.

    ``stored`` comes from ``read_advice(with_ids=True)``. Rows are matched on ``seq`` when
    ``incoming`` has one (``record_event``), else by position within (case, provider) in date order
    (an import file has no identity for an advice request). Unmatched stored rows are removed.
    """
    events = EventRows(ctx)
    key = ["case_ref", "provider"]
    if "seq" in incoming.columns:
        merged = stored.merge(incoming, on=[*key, "seq"], how="outer", suffixes=("_old", ""), indicator=True)
        merged["seq_old"] = merged["seq"]
    else:
        old_pos = _positions(stored).rename(columns={"seq": "seq_old"})
        merged = old_pos.merge(
            _positions(incoming), on=[*key, "pos"], how="outer", suffixes=("_old", ""), indicator=True
        )
    both = merged[merged["_merge"] == "both"]
    gone = merged[merged["_merge"] == "left_only"]
    added = merged[merged["_merge"] == "right_only"].copy()
    touched: set[str] = set()

    # corrections of matched rows
    if len(both):
        masks = {col: values_differ(both[f"{col}_old"], both[col]) for col in ADVICE_COLUMN_KINDS}
        any_change = np.logical_or.reduce(list(masks.values()))
        for col, mask in masks.items():
            if mask.any():
                rows = both[mask]
                kind = ADVICE_COLUMN_KINDS[col]
                names = [
                    advice_field(p, int(s), col)
                    for p, s in zip(rows["provider"], rows["seq_old"], strict=True)
                ]
                events.add(
                    [case_ids[r] for r in rows["case_ref"]],
                    names,
                    text_values(rows[f"{col}_old"], kind).tolist(),
                    text_values(rows[col], kind).tolist(),
                )
        if any_change.any():
            rows_df = both[any_change]
            values = {
                col: python_values(rows_df[name], ADVICE_COLUMN_KINDS[name])
                for col, name in _ADVICE_VALUE_COLUMNS.items()
            }
            params = [
                {"b_id": int(i), **dict(zip(values, vals, strict=True))}
                for i, vals in zip(rows_df["advice_id"], zip(*values.values(), strict=True), strict=True)
            ]
            stmt = (
                update(ADVICE)
                .where(ADVICE.c.id == bindparam("b_id"))
                .values({c: bindparam(c) for c in values})
            )
            execute_many(conn, stmt, params)
            changes.advice_updated += len(params)
            touched |= set(rows_df["case_ref"])

    # removals
    if len(gone):
        execute_many(
            conn,
            delete(ADVICE).where(ADVICE.c.id == bindparam("b_id")),
            [{"b_id": int(i)} for i in gone["advice_id"]],
        )
        for _, row in gone.iterrows():
            case_id, provider, seq = case_ids[row["case_ref"]], row["provider"], int(row["seq_old"])
            for col, kind in ADVICE_COLUMN_KINDS.items():
                text = text_values(pd.Series([row[f"{col}_old"]]), kind)[0]
                if text is not None:
                    events.add([case_id], advice_field(provider, seq, col), [text], [None])
            events.add([case_id], advice_field(provider, seq), ["requested"], [None])
        changes.advice_removed += len(gone)
        touched |= set(gone["case_ref"])

    # new requests: numbered after the highest stored number for that (case, provider)
    if len(added):
        if "seq" not in incoming.columns or added["seq"].isna().any():
            top = stored.groupby(key)["seq"].max() if len(stored) else pd.Series(dtype="Int64")
            base = [
                int(top.get((r, p), 0)) for r, p in zip(added["case_ref"], added["provider"], strict=True)
            ]
            rank = added.groupby(key, sort=False).cumcount().to_numpy() + 1
            added["seq"] = np.asarray(base) + rank
        values = {
            col: python_values(added[name], ADVICE_COLUMN_KINDS[name])
            for col, name in _ADVICE_VALUE_COLUMNS.items()
        }
        ids = [case_ids[r] for r in added["case_ref"]]
        params = [
            {"case_id": cid, "provider": p, "seq": int(s), **dict(zip(values, vals, strict=True))}
            for cid, p, s, vals in zip(
                ids, added["provider"], added["seq"], zip(*values.values(), strict=True), strict=True
            )
        ]
        insert_dicts(conn, ADVICE, params)
        providers, seqs = added["provider"].tolist(), [int(s) for s in added["seq"]]
        events.add(
            ids,
            [advice_field(p, s) for p, s in zip(providers, seqs, strict=True)],
            [None] * len(ids),
            ["requested"] * len(ids),
        )
        for col, kind in ADVICE_COLUMN_KINDS.items():
            text = text_values(added[col], kind)
            present = np.flatnonzero(pd.notna(text))
            if len(present):
                events.add(
                    [ids[i] for i in present],
                    [advice_field(providers[i], seqs[i], col) for i in present],
                    [None] * len(present),
                    text[present].tolist(),
                )
        changes.advice_created += len(params)
        touched |= set(added["case_ref"])

    changes.events.append(events)
    return touched


__all__ = ["apply_advice"]
