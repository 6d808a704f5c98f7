"""``ehcp import`` of the long event format: a case's history in, every review cycle its own record."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tests.cli.conftest import said

EVENTS = """case_ref,event,date,value
C-07,review-meeting,2024-11-04,
C-07,review-report,2024-11-12,
C-07,review-decision,2024-11-28,M
C-07,review-meeting,2025-05-06,
C-07,review-decision,2025-06-19,A
C-07,amendment-notice,2025-06-19,
C-07,amended-plan,2025-08-01,
C-09,request-received,2026-03-02,
C-09,decision-to-assess,2026-04-10,Y
C-09,advice-requested,2026-04-13,paediatrics
"""


def _clocks(ehcp: Any, *clocks: str) -> list[dict[str, str]]:
    result = ehcp("export", "clocks", "--as-of", "2026-06-01", *(a for c in clocks for a in ("-c", c)))
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_an_event_file_adds_history_without_touching_what_it_does_not_list(
    loaded: Any, tmp_path: Path
) -> None:
    before = {(r["case_ref"], r["clock"]): r["status"] for r in _clocks(loaded, "final_plan")}
    path = tmp_path / "history.csv"
    path.write_text(EVENTS, encoding="utf-8")
    result = loaded("import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 created, 1 updated" in said(result)
    again = loaded("import", str(path))
    assert again.exit_code == 0 and "No changes" in said(again)  # idempotent

    rows = _clocks(loaded, "review_decision", "amended_plan", "annual_review", "final_plan", "advice")
    c07 = {(r["clock"], r["instance"]): r for r in rows if r["case_ref"] == "C-07"}
    # C-07's two reviews before its snapshot's May 2026 meeting: three cycles, in date order
    assert c07[("review_decision", "review 1")]["status"] == "met"
    assert c07[("review_decision", "review 2")]["status"] == "late"  # 44 days after the meeting
    assert c07[("review_decision", "review 2")]["days_overdue"] == "16"
    assert c07[("review_decision", "review 3")]["start_date"] == "2026-05-11"
    assert c07[("amended_plan", "review 2")]["status"] == "met"
    assert c07[("annual_review", "review 2")]["end_date"] == "2025-06-19"
    # what the event file does not list is left as the CSV had it, for every case
    after = {(r["case_ref"], r["clock"]): r["status"] for r in rows if r["clock"] == "final_plan"}
    assert {k: v for k, v in after.items() if k[0] != "C-09"} == before
    advice = [r for r in rows if r["case_ref"] == "C-09" and r["clock"] == "advice"]
    assert [(a["instance"], a["status"]) for a in advice] == [("paediatrics", "overdue")]


def test_a_bad_event_file_names_the_line_and_field_and_writes_nothing(loaded: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "case_ref,event,date,value\nC-07,review-meeting,2024-13-01,\nC-07,review-verdict,2024-05-01,\n"
        "C-07,review-decision,2024-05-20,maybe\n",
        encoding="utf-8",
    )
    result = loaded("import", str(path))
    assert result.exit_code == 2
    text = said(result)
    assert "line 2" in text and "'2024-13-01' is not a date" in text
    assert "line 3" in text and "'review-verdict' is not an event" in text
    assert "line 4" in text and "'maybe' is not one of A/C/M" in text
    rows = _clocks(loaded, "review_decision")
    assert {r["instance"] for r in rows if r["case_ref"] == "C-07"} == {"review 1"}  # nothing written
