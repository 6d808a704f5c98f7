"""Tonight's clock states as one frame, ready to diff: typed, invalid dates applied, stored names.

The evaluator (``ehcp_workflow.core``) returns a state per applicable clock; before the night can
match them against the stored ``clock_state`` rows (:mod:`ehcp_workflow.jobs.states`) they need
the dtypes the night relies on even when empty (:func:`typed_states`), the cases holding a date the
engine cannot read reported ``invalid`` rather than dropped (:func:`unreadable_dates`,
:func:`invalid_dates`), and the name and occurrence number each state is stored under
(:func:`state_clock`, :func:`occurrence`). Split out of ``jobs/nightly.py``, which keeps the
night's order of work.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Date, Engine, case, or_, select
from sqlmodel import SQLModel

from ehcp_workflow.core.catalogue import Catalogue
from ehcp_workflow.core.statuses import Status
from ehcp_workflow.db.fields import FIELDS
from ehcp_workflow.db.models import EhcpCase, table_of
from ehcp_workflow.db.read import READABLE_FROM, READABLE_TO
from ehcp_workflow.notify.model import AlertKind

log = logging.getLogger("ehcp_workflow.jobs.nightly")  # its warnings read as the night's, as before

CASE = table_of(EhcpCase)
Ints = np.ndarray[Any, np.dtype[np.int64]]


def unreadable_dates(engine: Engine, *, council: str | None = None) -> pd.DataFrame:
    """(case_ref, field) of every stored date the engine cannot evaluate (see ``READABLE_FROM``).

    Such a date (0001-01-01 is a common "no date" placeholder) may have been stored before the
    importers refused it, or written straight into the database. The reader takes it as missing;
    this finds it, so the night reports the case's clocks as ``invalid`` instead of dropping them
    (or, as once, failing for every case with ``OutOfBoundsDatetime``). ``council``: its cases only.
    """
    found: list[tuple[str, str]] = []
    with engine.connect() as conn:
        for table in _DATED_TABLES:
            t = SQLModel.metadata.tables[table]
            dates = [column for column in t.columns if isinstance(column.type, Date)]
            if not dates:
                continue
            # One scan per table, one flag per date column (a scan per column cost ~30 s at 200k
            # cases on a busy SQLite store); only the rows holding such a date come back.
            flags = [or_(c < READABLE_FROM, c > READABLE_TO) for c in dates]
            stmt = select(CASE.c.case_ref, *(case((f, 1), else_=0) for f in flags)).where(or_(*flags))
            if table == "ehcp_case":
                stmt = stmt.select_from(CASE)
            elif table == "person":
                stmt = stmt.select_from(CASE.join(t, t.c.id == CASE.c.person_id))
            else:
                stmt = stmt.select_from(t.join(CASE, t.c.case_id == CASE.c.id))
            if council is not None:
                stmt = stmt.where(CASE.c.la == council)
            names = [_FIELD_NAMES.get((table, c.name), f"{table}.{c.name}") for c in dates]
            for row in conn.execute(stmt):
                found += [(row[0], name) for name, flag in zip(names, row[1:], strict=True) if flag]
    return pd.DataFrame(found, columns=["case_ref", "field"]).drop_duplicates()


#: The tables holding a case's dates (the person's date of birth included).
_DATED_TABLES = (
    "ehcp_case",
    "person",
    "plan",
    "annual_review",
    "phase_transfer",
    "case_exception",
    "advice_request",
)
_FIELD_NAMES = {(f.table, f.column): f.name for f in FIELDS.values() if f.clock is None}
_FIELD_NAMES |= {("advice_request", "requested"): "advice_requested"}
_FIELD_NAMES |= {("advice_request", "received"): "advice_received"}


def invalid_dates(
    states: pd.DataFrame,
    candidates: pd.DataFrame,
    cases: pd.DataFrame,
    unreadable: pd.DataFrame,
    catalogue: Catalogue,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The cases holding an unreadable date: every clock of theirs ``invalid``, one alert each.

    Their other alerts are withdrawn (a clock judged from a date read as missing cannot be trusted);
    a case none of whose clocks applied gets its first clock (``catalogue.clocks[0]``, the request's)
    reported invalid, so no case with bad data is silent. Returns (states, candidates, clocks newly
    made invalid). Every other case is untouched: one bad case never stops the night.
    """
    if unreadable.empty:
        return states, candidates, 0
    fields = unreadable.groupby("case_ref", sort=True)["field"].agg(lambda f: ", ".join(sorted(set(f))))
    bad = states["case_ref"].isin(fields.index)
    before = int((states.loc[bad, "status"] == Status.INVALID.value).sum())
    present = set(states.loc[bad, "case_ref"])
    first = catalogue.clocks[0].id
    silent = [r for r in fields.index if r not in present]
    added = pd.DataFrame(
        {
            "case_ref": pd.Series(silent, dtype=object),
            "clock": first,
            "instance": "",
            "status": Status.INVALID.value,
            "due_date": pd.Series(pd.NaT, index=range(len(silent)), dtype="datetime64[s]"),
            "band": pd.Series(None, index=range(len(silent)), dtype=object),
        }
    )
    states = states.copy()
    states.loc[bad, "status"] = Status.INVALID.value
    states.loc[bad, "due_date"] = pd.NaT
    if len(added):
        states = pd.concat([states, added.astype({"instance": states["instance"].dtype})], ignore_index=True)
    bad_states = states[states["case_ref"].isin(fields.index)]
    info = cases.drop_duplicates("case_ref").set_index("case_ref")
    refs = bad_states["case_ref"]
    alerts = pd.DataFrame(
        {
            "case_ref": refs.to_numpy(dtype=object),
            "clock": bad_states["clock"].to_numpy(dtype=object),
            "instance": bad_states["instance"].fillna("").astype(str).to_numpy(dtype=object),
            "kind": AlertKind.INVALID.value,
            "episode": "-",
            "status": Status.INVALID.value,
            "due_date": pd.Series(pd.NaT, index=range(len(refs)), dtype="datetime64[s]"),
            "days_overdue": pd.array([pd.NA] * len(refs), dtype="Int64"),
            "team": info["team"].reindex(refs).to_numpy(dtype=object, na_value=None),
            "caseworker": info["caseworker"].reindex(refs).to_numpy(dtype=object, na_value=None),
            "band": bad_states["band"].to_numpy(dtype=object),
            "weeks_waiting": -1,
            "regulation": "",
            "detail": [
                f"a date the engine cannot read ({fields[r]}: before {READABLE_FROM} or after "
                f"{READABLE_TO}); correct it in the source system and re-import"
                for r in refs
            ],
        }
    )
    kept = candidates[~candidates["case_ref"].isin(fields.index)]
    candidates = pd.concat([kept, alerts], ignore_index=True) if len(kept) else alerts
    made = len(bad_states) - before
    notes.append(
        f"{len(fields)} case(s) hold a date the engine cannot read, their {len(bad_states)} clock(s) "
        f"reported invalid: {', '.join(fields.index[:20])}{' ...' if len(fields) > 20 else ''}"
    )
    log.warning("nightly: unreadable dates in case(s) %s", ", ".join(fields.index[:20]))
    return states, candidates, made


def typed_states(states: pd.DataFrame) -> pd.DataFrame:
    """``states`` with the column dtypes the night relies on, even when it has no rows.

    With no clock to evaluate (an empty store, or no clock applies to any case) the core returns
    columns of float64; the merges and string joins below then failed the night
    (``UFuncNoLoopError``, "merge on float64 and object"), instead of reporting zero.
    """
    if len(states):
        return states
    return pd.DataFrame(
        {
            "case_ref": pd.Series([], dtype=object),
            "clock": pd.Series([], dtype=object),
            "instance": pd.Series([], dtype="int64"),
            "status": pd.Series([], dtype=object),
            "due_date": pd.Series([], dtype="datetime64[s]"),
            "band": pd.Series([], dtype=object),
        }
    )[list(states.columns)]


def state_clock(states: pd.DataFrame) -> pd.Series:
    """Advice clocks are one per request: the provider goes into the stored clock name (and which
    request to that provider into ``instance``, :func:`occurrence`).

    Built once per distinct (clock, instance) pair, a few hundred, not per state: string
    concatenation over 2.5M states was 1.4 s of a 200k-case night.
    """
    # astype(object) then str: an empty evaluation (no cases, or no clock applies) has float64
    # columns, and adding ":" to them failed the night (``UFuncNoLoopError``).
    clock = states["clock"].astype(object).astype(str).to_numpy(dtype=object)
    inst = states["instance"].astype(object).fillna("").astype(str).to_numpy(dtype=object)
    clock_codes, clocks = pd.factorize(clock)
    inst_codes, insts = pd.factorize(inst)
    width = max(len(insts), 1)
    pairs, where = np.unique(clock_codes.astype(np.int64) * width + inst_codes, return_inverse=True)
    names = [clocks[p // width] + ("" if insts[p % width] == "" else ":" + insts[p % width]) for p in pairs]
    out = np.array(names, dtype=object)[where.reshape(-1)] if names else clock
    return pd.Series(out, index=states.index, dtype=object)


def occurrence(states: pd.DataFrame, case_codes: Ints) -> pd.Series:
    """Which request to the same adviser a clock is (0, 1, ...): ``clock_state.instance``.

    A case can ask one adviser more than once (``advice_request.seq``); each request is its own
    clock, and without this they would share one stored state (a unique-key violation that failed
    the whole night). Advice rows are loaded in (case, provider, seq) order, so the numbering is the
    same every night; a clock with one occurrence is 0, as before.

    The count of earlier rows with the same (case, clock), in numpy on integer codes (a stable
    sort keeps the rows' order within a pair): pandas' string-keyed ``groupby().cumcount()`` took
    1 s over 2.5M states. ``case_codes``: each state's case, as ``pd.factorize`` of ``case_ref``.
    """
    clock_codes, clocks = pd.factorize(states["clock"].to_numpy(dtype=object))
    key = case_codes.astype(np.int64) * max(len(clocks), 1) + clock_codes
    order = np.argsort(key, kind="stable")
    ranked = key[order]
    starts = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1] if len(ranked) else np.empty(0, np.int64)
    run_start = np.zeros(len(ranked), dtype=np.int64)
    run_start[starts] = starts
    run_start = np.maximum.accumulate(run_start) if len(ranked) else run_start
    occurrence = np.empty(len(ranked), dtype=np.int64)
    occurrence[order] = np.arange(len(ranked), dtype=np.int64) - run_start
    return pd.Series(occurrence, index=states.index)


__all__ = ["invalid_dates", "occurrence", "state_clock", "typed_states", "unreadable_dates"]
