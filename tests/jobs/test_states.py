"""The integer-keyed clock-state diff gives the string join's answer (``core.alerting.transitions``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehcp_workflow.core.alerting import transitions
from ehcp_workflow.jobs.states import (
    StateColumns,
    Vocabulary,
    changes_frame,
    diff,
    new_vocabularies,
    tonight_columns,
)

CLOCKS = ["final_plan", "advice:health", "advice:social_care", "annual_review", "review_report"]
STATUSES = ["pending", "due_soon", "overdue", "met", "late", "invalid"]
BANDS = [None, "within_20", "over_20", "over_52"]


def _states(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Random unique (case, clock, instance) states."""
    keys = {(int(rng.integers(1, 40)), str(rng.choice(CLOCKS)), int(rng.integers(0, 3))) for _ in range(n)}
    rows = sorted(keys)
    return pd.DataFrame(
        {
            "case_id": [r[0] for r in rows],
            "case_ref": [f"C{r[0]:04d}" for r in rows],
            "clock": [r[1] for r in rows],
            "instance": np.array([r[2] for r in rows], dtype=np.int64),
            "status": rng.choice(STATUSES, len(rows)).astype(object),
            "due_date": pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[s]"),
            "band": [BANDS[i] for i in rng.integers(0, len(BANDS), len(rows))],
        }
    ).sample(frac=1.0, random_state=int(rng.integers(0, 1000)))  # unordered, as the evaluator gives


def _stored(frame: pd.DataFrame, vocab: object) -> StateColumns:
    cols = tonight_columns(frame, frame["case_id"].to_numpy(dtype=np.int64), vocab)  # type: ignore[arg-type]
    cols.row_id = np.arange(len(frame), dtype=np.int64) + 100
    return cols


def test_vocabulary_codes_each_string_once_and_none_as_minus_one() -> None:
    vocab = Vocabulary(["a"])
    codes = vocab.codes(np.array(["b", None, "a", "b"], dtype=object))
    assert codes.tolist() == [1, -1, 0, 1]
    assert vocab.strings(codes).tolist() == ["b", None, "a", "b"]


def test_the_diff_finds_exactly_the_string_joins_transitions_in_its_order() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        before, after = _states(rng, 120), _states(rng, 120)
        # keep many rows identical so "unchanged" is exercised too
        same = before.sample(frac=0.5, random_state=1)
        after = pd.concat([after, same]).drop_duplicates(["case_id", "clock", "instance"], keep="last")
        vocab = new_vocabularies()
        previous, current = _stored(before, vocab), _stored(after, vocab)
        d = diff(previous, current, vocab)
        refs = pd.Series(
            [f"C{i:04d}" for i in range(1, 40)], index=np.arange(1, 40, dtype=np.int64), dtype=object
        )
        got = changes_frame(d, previous, current, vocab, refs)
        columns = ["case_ref", "clock", "instance", "status", "due_date", "band"]
        want = transitions(before[columns], after[columns])
        assert got["case_ref"].tolist() == want["case_ref"].tolist()
        assert got["clock"].tolist() == want["clock"].tolist()
        assert got["instance"].tolist() == want["instance"].tolist()
        assert got["status_old"].tolist() == want["status_old"].tolist()
        assert got["status_new"].tolist() == want["status_new"].tolist()
        for side in ("band_old", "band_new"):
            assert [None if pd.isna(b) else b for b in got[side]] == [
                None if pd.isna(b) else b for b in want[side]
            ]
        # the rows rewritten: every changed stored row goes, every changed current row comes
        assert len(d.stale) == int((want["status_old"] != "not_applicable").sum())
        assert len(d.fresh) == int((want["status_new"] != "not_applicable").sum())
