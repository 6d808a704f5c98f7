"""``ehcp clocks``: formats, filters, refusing bad input, and the third-party SEN2 samples."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ehcp_workflow.cli import app

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "sen2-samples"
RUNNER = CliRunner()

CSV = """case_ref,person_ref,request_received,request_outcome,request_outcome_date,assessment_outcome,assessment_outcome_date
C1,P1,2024-09-02,Y,2024-10-14,Y,2025-01-20
C2,P2,2024-12-02,A,,,
"""


def _run(*args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, list(args))


def test_csv_output_has_one_row_per_case_and_clock(tmp_path: Path) -> None:
    f = tmp_path / "cases.csv"
    f.write_text(CSV)
    result = _run("clocks", str(f), "--as-of", "2025-02-01", "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    for column in (
        "person_ref",
        "request_received",
        "plan_start",
        "clock",
        "start_date",
        "due_date",
        "end_date",
        "status",
        "weeks_waiting",
        "band",
        "regulation",
    ):
        assert column in frame.columns
    assert frame.groupby("case_ref").size().nunique() == 1  # every case has every clock
    c1 = frame[(frame.case_ref == "C1") & (frame.clock == "final_plan")].iloc[0]
    assert (c1.due_date, c1.status) == ("2025-01-20", "met")
    c2 = frame[(frame.case_ref == "C2") & (frame.clock == "decision_to_assess")].iloc[0]
    assert (c2.due_date, c2.status, c2.band) == ("2025-01-13", "overdue", "within_20")


def test_json_and_filters(tmp_path: Path) -> None:
    f = tmp_path / "cases.csv"
    f.write_text(CSV)
    result = _run(
        "clocks", str(f), "--as-of", "2025-02-01", "-f", "json", "-s", "overdue", "-c", "decision_to_assess"
    )
    rows = json.loads(result.stdout)
    assert [(r["case_ref"], r["clock"], r["status"]) for r in rows] == [
        ("C2", "decision_to_assess", "overdue")
    ]


def test_explain_names_regulation_anchor_and_convention(tmp_path: Path) -> None:
    f = tmp_path / "cases.csv"
    f.write_text(CSV)
    result = _run("clocks", str(f), "--as-of", "2025-02-01", "-f", "json", "-c", "final_plan", "--explain")
    text = {r["case_ref"]: r["explanation"] for r in json.loads(result.stdout)}["C1"]
    assert "reg 13(2)" in text and "request_received" in text and "exclusive counting" in text


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("case_ref,request_received\nC1,2024-13-45\n", "request_received"),
        ("case_ref,request_outcome\nC1,Q\n", "request_outcome"),
        (
            "case_ref,request_received,request_outcome,request_outcome_date\nC1,2024-09-02,N,2024-08-01\n",
            "request_outcome_date",
        ),
    ],
)
def test_bad_input_is_refused_naming_file_row_and_field(tmp_path: Path, content: str, field: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    result = _run("clocks", str(f), "--as-of", "2025-02-01", "-f", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""  # nothing printed as if it were a result
    assert "bad.csv" in result.stderr and "row 2" in result.stderr and field in result.stderr


def test_unparseable_xml_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "broken.xml"
    f.write_text("<Message><Header><CollectionDetails><Collection>SEN2</Collection>")
    result = _run("clocks", str(f), "--as-of", "2025-02-01")
    assert result.exit_code == 2 and result.stdout == ""
    assert "broken.xml" in result.stderr


def test_bad_as_of_is_refused() -> None:
    result = _run("clocks", "whatever.csv", "--as-of", "2025-02-30")
    assert result.exit_code != 0
    assert "not a date" in result.output


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/sen2-samples is not present on this machine")
@pytest.mark.parametrize(
    "name",
    [
        "liia_sen2_sample_2023.xml",
        "liia_sen2_sample_2024.xml",
        "liia_sen2_sample_2025.xml",
        "liia_bad_sen2_sample_2024.xml",
    ],
)
def test_third_party_sen2_samples_load(name: str) -> None:
    result = _run("clocks", str(SAMPLES / name), "--as-of", "2025-01-18", "-f", "csv", "--accept-valid")
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) > 0
    assert "Surname" not in result.stdout and "TestFamilyName" not in result.stdout
