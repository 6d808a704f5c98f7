"""Importing caseloads: round trip, idempotence, exact change logging, atomicity."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import Caseload, empty_advice, empty_cases
from ehcp_workflow.db import (
    ImportSummary,
    case_events,
    get_case,
    load_caseload,
    replay_case_state,
    upsert_caseload,
)
from ehcp_workflow.problems import InputError


def _counts(engine: sa.Engine) -> dict[str, int]:
    tables = ["person", "import_batch", "ehcp_case", "plan", "annual_review", "phase_transfer"]
    tables += ["case_exception", "advice_request", "assignment", "event_log"]
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def _changed(make_caseload) -> Caseload:
    """The sample caseload a month later: a few fields of two cases and two advice dates changed."""
    cl = make_caseload()
    cases, advice = cl.cases.copy(), cl.advice.copy()
    c1, c2 = cases.index[cases["case_ref"] == "C-001"][0], cases.index[cases["case_ref"] == "C-002"][0]
    cases.loc[c1, "plan_ceased"] = np.datetime64("2026-11-01", "s")
    cases.loc[c1, "review_outcome"] = "M"
    cases.loc[c1, "exception_final_plan"] = "a"  # a different ground (an empty cell would not clear it)
    cases.loc[c2, "request_outcome"] = "Y"
    cases.loc[c2, "request_outcome_date"] = np.datetime64("2026-11-05", "s")
    paed = advice.index[advice["provider"] == "paediatrics"][0]
    social = advice.index[advice["provider"] == "social_care"][0]
    advice.loc[paed, "received"] = np.datetime64("2023-03-10", "s")
    advice.loc[social, "received"] = np.datetime64("2026-11-02", "s")
    return Caseload(cases=cases, advice=advice, unrecorded=cl.unrecorded, source=cl.source)


def test_round_trip(engine, session, caseload, assert_same_caseload) -> None:
    summary = upsert_caseload(session, caseload, actor="tester", reason="first load")
    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0)
    assert summary.advice_created == 4
    got = load_caseload(engine)
    assert_same_caseload(got, caseload)
    assert got.cases["request_received"].dtype == "datetime64[s]"
    # a subset, by reference (unknown references are ignored)
    part = load_caseload(engine, case_refs=["C-002", "nope"])
    assert part.cases["case_ref"].tolist() == ["C-002"]
    assert part.advice["case_ref"].tolist() == ["C-002"]


def test_round_trip_of_an_empty_caseload(engine, session, assert_same_caseload) -> None:
    empty = Caseload(cases=empty_cases(0), advice=empty_advice(0))
    summary = upsert_caseload(session, empty, actor="tester")
    assert not summary.changed
    assert_same_caseload(load_caseload(engine), empty)


def test_reimporting_the_same_caseload_changes_nothing(engine, session, caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    before = _counts(engine)
    summary = upsert_caseload(session, caseload, actor="tester")
    assert not summary.changed
    assert (summary.created, summary.updated, summary.unchanged, summary.events) == (0, 0, 3, 0)
    assert summary.import_id is None
    assert "no changes" in str(summary)
    assert _counts(engine) == before


def test_changed_reimport_logs_exactly_the_changed_fields(engine, session, caseload, make_caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    with engine.connect() as conn:
        first_events = conn.execute(sa.text("SELECT max(id) FROM event_log")).scalar_one()
    newer = _changed(make_caseload)
    summary = upsert_caseload(session, newer, source="month2.csv", actor="importer", reason="monthly")
    assert (summary.created, summary.updated, summary.unchanged) == (0, 2, 1)
    assert summary.fields_changed == {
        "plan_ceased": 1,
        "review_outcome": 1,
        "exception_final_plan": 1,
        "request_outcome": 1,
        "request_outcome_date": 1,
    }
    assert summary.advice_updated == 2
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.case_ref, e.field, e.old_value, e.new_value, e.source, e.actor, e.reason "
                "FROM event_log e JOIN ehcp_case c ON c.id = e.case_id WHERE e.id > :n ORDER BY e.id"
            ),
            {"n": first_events},
        ).all()
    logged = {(r.case_ref, r.field): (r.old_value, r.new_value) for r in rows}
    assert logged == {
        ("C-001", "plan_ceased"): ("2023-02-06", "2026-11-01"),
        ("C-001", "review_outcome"): ("A", "M"),
        ("C-001", "exception_final_plan"): ("d", "a"),
        ("C-002", "request_outcome"): ("A", "Y"),
        ("C-002", "request_outcome_date"): (None, "2026-11-05"),
        ("C-001", "advice.paediatrics.1.received"): ("2023-03-20", "2023-03-10"),
        ("C-002", "advice.social_care.1.received"): (None, "2026-11-02"),
    }
    assert {(r.source, r.actor, r.reason) for r in rows} == {("month2.csv", "importer", "monthly")}
    assert summary.events == len(rows) == 7
    got = load_caseload(engine)
    assert got.cases.set_index("case_ref").loc["C-001", "plan_ceased"] == pd.Timestamp("2026-11-01")
    # and importing the newer caseload again is a no-op
    assert not upsert_caseload(session, newer, actor="importer").changed


def test_event_log_replay_equals_stored_state(session, caseload, make_caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    upsert_caseload(session, _changed(make_caseload), actor="tester")
    for ref in ("C-001", "C-002", "C-003"):
        assert replay_case_state(session, ref) == get_case(session, ref)


def test_a_later_review_meeting_starts_a_new_review(engine, session, caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    cases = caseload.cases.copy()
    row = cases.index[cases["case_ref"] == "C-001"][0]
    cases.loc[row, "review_meeting"] = np.datetime64("2026-06-01", "s")
    for col in ("review_report_sent", "review_decision_letter", "amendment_notice", "amended_plan_issued"):
        cases.loc[row, col] = np.datetime64("NaT", "s")
    cases.loc[row, "review_outcome"] = pd.NA
    upsert_caseload(session, Caseload(cases=cases, advice=caseload.advice, source="x"), actor="tester")
    with engine.connect() as conn:
        seqs = conn.execute(sa.text("SELECT seq, meeting FROM annual_review ORDER BY seq")).all()
    assert [s for s, _ in seqs] == [1, 2]
    stored = get_case(session, "C-001")
    assert str(stored["review_meeting"]) == "2026-06-01"
    assert stored["review_decision_letter"] is None
    assert replay_case_state(session, "C-001") == stored


def test_removed_and_added_advice(session, caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    advice = caseload.advice.copy()
    advice = advice[advice["provider"] != "paediatrics"]  # the paediatric request is withdrawn
    extra = empty_advice(1)
    extra.loc[0, ["case_ref", "provider"]] = ["C-003", "speech_language_therapy"]
    extra.loc[0, "requested"] = np.datetime64("2026-09-20", "s")
    advice = pd.concat([advice, extra], ignore_index=True)
    summary = upsert_caseload(session, Caseload(cases=caseload.cases, advice=advice), actor="tester")
    assert (summary.advice_created, summary.advice_removed, summary.updated) == (1, 1, 2)
    assert [a.provider for a in get_case(session, "C-001").advice] == ["educational_psychology"] * 2
    for ref in ("C-001", "C-003"):
        assert replay_case_state(session, ref) == get_case(session, ref)


def test_invalid_caseload_is_refused_before_writing(engine, session, caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    before = _counts(engine)
    cases = caseload.cases.copy()
    cases["request_outcome"] = cases["request_outcome"].astype("string")  # as an importer might pass it
    cases.loc[0, "request_outcome"] = "Z"
    cases.loc[1, "case_ref"] = cases.loc[2, "case_ref"]
    advice = caseload.advice.copy()
    advice.loc[0, "provider"] = "astrology"
    with pytest.raises(InputError) as err:
        upsert_caseload(session, Caseload(cases=cases, advice=advice, source="bad.csv"), actor="tester")
    fields = {p.field for p in err.value.problems}
    assert {"request_outcome", "case_ref", "provider"} <= fields
    assert all(p.file == "bad.csv" for p in err.value.problems)
    assert _counts(engine) == before


def test_failure_half_way_writes_nothing(engine, session, caseload, make_caseload, monkeypatch) -> None:
    """An error after the case tables were written (here: writing the event log) rolls all back."""
    upsert_caseload(session, caseload, actor="tester")
    before_counts, before = _counts(engine), load_caseload(engine)

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("ehcp_workflow.db.importing.write_events", boom)
    newer = _changed(make_caseload)
    more = empty_cases(1)
    more.loc[0, "case_ref"] = "C-004"
    newer = Caseload(cases=pd.concat([newer.cases, more], ignore_index=True), advice=newer.advice)
    with pytest.raises(RuntimeError, match="disk full"):
        upsert_caseload(session, newer, actor="tester")
    assert _counts(engine) == before_counts
    after = load_caseload(engine)
    pd.testing.assert_frame_equal(after.cases, before.cases)
    pd.testing.assert_frame_equal(after.advice, before.advice)
    # the session is usable afterwards
    monkeypatch.undo()
    assert upsert_caseload(session, newer, actor="tester").created == 1


def test_cases_missing_from_a_partial_import_are_left_alone(engine, session, caseload) -> None:
    upsert_caseload(session, caseload, actor="tester")
    only_c3 = caseload.cases[caseload.cases["case_ref"] == "C-003"].copy()
    only_c3["team"] = "west"
    summary = upsert_caseload(
        session, Caseload(cases=only_c3, source="west.csv", unrecorded=frozenset({"plan_start"})), actor="t"
    )
    assert (summary.updated, summary.unchanged) == (1, 0)
    got = load_caseload(engine)
    assert len(got) == 3
    assert got.source == "test.csv; west.csv"  # cases from two imports: both named
    # and each case's gaps are its own source's, never the union across the store
    refs = got.cases["case_ref"].tolist()
    assert got.unrecorded_for(refs.index("C-003")) == frozenset({"plan_start"})
    assert got.unrecorded_for(refs.index("C-001")) == frozenset({"review_report_sent"})
    assert got.unrecorded == frozenset()
    assert load_caseload(engine, case_refs=["C-003"]).source == "west.csv"


def test_concurrent_imports_serialise(engine, caseload) -> None:
    """Two imports of the same caseload at once: one creates, the other finds nothing to do."""
    results: list[object] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with Session(engine) as s:
            barrier.wait()
            try:
                results.append(upsert_caseload(s, caseload, actor="racer"))
            except Exception as exc:  # pragma: no cover - reported by the assertion below
                results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, ImportSummary) for r in results), results
    assert sorted(r.created for r in results if isinstance(r, ImportSummary)) == [0, 3]
    with Session(engine) as s:
        assert [e.field for e in case_events(s, "C-002")].count("case_ref") == 1


def test_sample_caseload_fills_every_column(caseload) -> None:
    """Guard for the round-trip tests: the sample has a value in every contract column."""
    from ehcp_workflow.core.caseload import ADVICE_COLUMNS, CASE_COLUMNS

    assert [c for c in CASE_COLUMNS if caseload.cases[c].isna().all()] == []
    assert [c for c in ADVICE_COLUMNS if caseload.advice[c].isna().all()] == []


def test_columns_the_source_does_not_record_keep_their_stored_values(engine, session, caseload) -> None:
    """A SEN2-like file (no routing, no advice, no review report) must not wipe what was recorded."""
    upsert_caseload(session, caseload, actor="tester")
    unrecorded = frozenset({"team", "caseworker", "review_report_sent", "advice"})
    cases = caseload.cases.copy()
    for col in ("team", "caseworker"):
        cases[col] = pd.array([pd.NA] * len(cases), dtype="string")
    cases["review_report_sent"] = np.datetime64("NaT", "s")
    c2 = cases.index[cases["case_ref"] == "C-002"][0]
    cases.loc[c2, "request_outcome"] = "Y"  # a recorded column still updates
    sen2_like = Caseload(cases=cases, advice=empty_advice(0), unrecorded=unrecorded, source="sen2.xml")
    summary = upsert_caseload(session, sen2_like, actor="importer")
    assert summary.fields_changed == {"request_outcome": 1}
    stored = get_case(session, "C-001")
    assert (stored["team"], stored["caseworker"]) == ("north", "alice")
    assert stored["review_report_sent"] is not None
    assert len(stored.advice) == 3
    got = load_caseload(engine)
    refs = got.cases["case_ref"].tolist()
    assert "advice" in got.unrecorded_for(refs.index("C-002"))  # the case the SEN2 file changed
    assert "advice" not in got.unrecorded_for(refs.index("C-001"))  # the others keep their source's


def test_demo_council_round_trips(engine, session, assert_same_caseload) -> None:
    """A calibrated synthetic council (every kind of case the demo makes) survives the store."""
    import datetime as dt

    demo = pytest.importorskip("ehcp_workflow.demo")
    council = demo.generate_council(300, 7, dt.date(2026, 11, 20))
    summary = upsert_caseload(session, council, actor="demo")
    assert summary.created == 300
    assert_same_caseload(load_caseload(engine), council)
    assert not upsert_caseload(session, council, actor="demo").changed
