"""Which alerts a night calls for: thresholds, one key per episode, transitions."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ehcp_workflow.core import caseload as cl
from ehcp_workflow.core.alerting import alert_candidates, clock_states, transitions
from ehcp_workflow.core.catalogue import load_catalogue
from ehcp_workflow.core.evaluator import evaluate_caseload

D = dt.date
CAT = load_catalogue()


def _evaluate(as_of: dt.date, rows: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    return evaluate_caseload(cl.Caseload(cl.normalise_cases(pd.DataFrame(rows))), CAT, as_of=as_of)


def _kinds(as_of: dt.date, **case: object) -> dict[str, str]:
    case.setdefault("case_ref", "c1")
    frame = alert_candidates(_evaluate(as_of, [case]))
    return dict(zip(frame["clock"], frame["kind"], strict=True))


def test_due_thresholds_pick_the_most_urgent_one() -> None:
    received = D(2024, 9, 2)  # decision_to_assess due Mon 14 Oct 2024
    assert _kinds(D(2024, 9, 30), request_received=received)["decision_to_assess"] == "due_in_14"
    assert _kinds(D(2024, 10, 7), request_received=received)["decision_to_assess"] == "due_in_7"
    assert _kinds(D(2024, 10, 13), request_received=received)["decision_to_assess"] == "due_in_2"
    assert _kinds(D(2024, 10, 14), request_received=received)["decision_to_assess"] == "due_today"
    assert _kinds(D(2024, 10, 15), request_received=received)["decision_to_assess"] == "overdue"
    assert "decision_to_assess" not in _kinds(D(2024, 9, 3), request_received=received)


def test_a_closed_window_is_not_a_breach() -> None:
    kinds = _kinds(D(2024, 11, 20), draft_plan_served=D(2024, 11, 1))
    assert "draft_representations" not in kinds


def test_invalid_clocks_raise_an_alert_never_silence() -> None:
    kinds = _kinds(D(2025, 1, 1), request_received=D(2024, 9, 2), exception_final_plan="e")
    assert kinds["final_plan"] == "invalid"


def test_band_crossing_is_the_highest_band_reached() -> None:
    frame = alert_candidates(
        _evaluate(D(2025, 1, 1), [{"case_ref": "c1", "request_received": D(2023, 12, 1)}])
    )
    backlog = frame[frame["clock"] == "backlog"]
    assert list(backlog["kind"]) == ["band_crossed_52"]


def test_weekly_digest_adds_still_overdue_keyed_by_week() -> None:
    ev = _evaluate(D(2024, 10, 21), [{"case_ref": "c1", "request_received": D(2024, 9, 2)}])
    weekly = alert_candidates(ev, weekly_digest=True)
    still = weekly[weekly["kind"] == "still_overdue"]
    assert set(still["clock"]) == {"decision_to_assess"}
    assert all(e.endswith("@2024-W43") for e in still["episode"])


def test_transitions_report_only_changes() -> None:
    received = {"case_ref": "c1", "request_received": D(2024, 9, 2)}
    before = clock_states(_evaluate(D(2024, 10, 14), [received]))
    after = clock_states(_evaluate(D(2024, 10, 15), [received]))
    changed = transitions(before, after)
    row = changed[changed["clock"] == "decision_to_assess"].iloc[0]
    assert (row["status_old"], row["status_new"]) == ("due_soon", "overdue")
    assert transitions(after, after).empty
