"""The project's CSV/XLSX caseload format: round trips, cells, header, duplicates, policy."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    CASE_COLUMNS,
    DATE_COLUMNS,
    empty_advice,
    empty_cases,
    normalise_advice,
    normalise_cases,
)
from ehcp_workflow.importers.tabular import load_tabular, read_tabular, write_csv_template
from ehcp_workflow.importers.tabular_cells import TEMPLATE_COLUMNS
from ehcp_workflow.problems import InputError, Severity

from .helpers import errors, only, row

D = dt.date


def _cases() -> pd.DataFrame:
    """Three cases using every kind of column."""
    records = [
        {
            "case_ref": "C-1",
            "person_ref": "P-1",
            "la": "886",
            "team": "north",
            "caseworker": "cw7",
            "request_received": D(2025, 1, 6),
            "request_outcome": "Y",
            "request_outcome_date": D(2025, 2, 14),
            "assessment_outcome": "Y",
            "assessment_outcome_date": D(2025, 5, 23),
            "draft_plan_served": D(2025, 4, 25),
            "plan_start": D(2025, 5, 23),
            "exception_final_plan": "a",
            "reassessment_agreed": True,
        },
        {
            "case_ref": "C-2",
            "la": "886",
            "request_outcome": "H",
            "assessment_outcome": "H",
            "plan_start": D(2019, 3, 1),
            "review_meeting": D(2025, 3, 3),
            "review_report_sent": D(2025, 3, 10),
            "review_decision_letter": D(2025, 3, 28),
            "review_outcome": "A",
            "amendment_notice": D(2025, 3, 28),
            "amended_plan_issued": D(2025, 5, 20),
            "phase_transfer_type": "school",
            "phase_transfer_date": D(2025, 9, 1),
            "transfer_in_from": "305",
            "transfer_in_date": D(2024, 11, 1),
            "reassessment_agreed": False,
            "cease_reason": "5",
        },
        {"case_ref": "C-3", "request_received": D(2025, 6, 2), "request_outcome": "A"},
    ]
    df = pd.DataFrame(records)
    df["person_ref"] = df["person_ref"].fillna(df["case_ref"])
    return normalise_cases(df)[list(CASE_COLUMNS)]


def _advice() -> pd.DataFrame:
    return normalise_advice(
        pd.DataFrame(
            [
                {
                    "case_ref": "C-1",
                    "provider": "educational_psychology",
                    "requested": D(2025, 2, 17),
                    "received": D(2025, 3, 28),
                    "exception": None,
                },
                {
                    "case_ref": "C-1",
                    "provider": "paediatrics",
                    "requested": D(2025, 2, 17),
                    "received": None,
                    "exception": "unspecified",
                },
            ]
        )
    )


def _flat(cases: pd.DataFrame, advice: pd.DataFrame) -> pd.DataFrame:
    """The flat one-row-per-case table with advice pivoted into columns, as text."""
    flat = cases.astype(object).copy()
    for col in DATE_COLUMNS:
        flat[col] = cases[col].dt.strftime("%Y-%m-%d")
    flat["reassessment_agreed"] = cases["reassessment_agreed"].map({True: "yes", False: "no"})
    for provider in ADVICE_PROVIDERS:
        sub = advice[advice["provider"] == provider].set_index("case_ref")
        for part in ("requested", "received", "exception"):
            values = sub[part].dt.strftime("%Y-%m-%d") if part != "exception" else sub[part]
            flat[f"advice_{provider}_{part}"] = flat["case_ref"].map(values.astype(object).to_dict())
    return flat


def _expected_advice() -> pd.DataFrame:
    return _advice().sort_values(["case_ref", "provider"]).reset_index(drop=True)


def _sorted_advice(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["case_ref", "provider"]).reset_index(drop=True)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_round_trip(tmp_path):
    path = tmp_path / "caseload.csv"
    _flat(_cases(), _advice()).to_csv(path, index=False)
    cl = load_tabular(path)
    assert cl.problems == ()
    pd.testing.assert_frame_equal(cl.cases, _cases())
    pd.testing.assert_frame_equal(_sorted_advice(cl.advice), _expected_advice())
    assert cl.unrecorded == frozenset()
    assert cl.source == "csv"


def test_xlsx_round_trip_with_pandas(tmp_path):
    path = tmp_path / "caseload.xlsx"
    flat = _flat(_cases(), _advice())
    for col in flat.columns:  # real Excel date cells, not text
        if col in DATE_COLUMNS or col.endswith(("_requested", "_received")):
            flat[col] = pd.to_datetime(flat[col])
    flat.to_excel(path, index=False)
    cl = load_tabular(path)
    assert cl.problems == ()
    pd.testing.assert_frame_equal(cl.cases, _cases())
    pd.testing.assert_frame_equal(_sorted_advice(cl.advice), _expected_advice())
    assert cl.source == "xlsx"


def test_xlsx_with_openpyxl_cells(tmp_path):
    path = tmp_path / "cells.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["case_ref", "request_received", "request_outcome", "reassessment_agreed", "la"])
    ws.append([101, dt.datetime(2025, 3, 3), "y", True, 886.0])  # numbers, a date cell, a bool cell
    ws.append(["C-2", "2025-04-07", "N", "1", None])
    ws.append([None, None, None, None, None])  # a blank row is not a case
    wb.save(path)
    cl = load_tabular(path)
    assert cl.problems == ()
    first = row(cl, "101")
    assert first["request_received"] == pd.Timestamp("2025-03-03")
    assert first["request_outcome"] == "Y"
    assert bool(first["reassessment_agreed"]) is True
    assert first["la"] == "886"
    assert row(cl, "C-2")["request_received"] == pd.Timestamp("2025-04-07")
    assert len(cl) == 2


def test_absent_columns_are_unrecorded_and_person_ref_defaults(tmp_path):
    path = write_csv(tmp_path / "few.csv", ["case_ref", "request_received"], [["A1", "2025-01-06"]])
    cl = load_tabular(path)
    assert row(cl, "A1")["person_ref"] == "A1"
    assert cl.unrecorded == (set(CASE_COLUMNS) - {"case_ref", "person_ref", "request_received"}) | {"advice"}
    assert cl.advice.empty
    assert cl.cases.dtypes.to_dict() == empty_cases().dtypes.to_dict()
    assert cl.advice.dtypes.to_dict() == empty_advice().dtypes.to_dict()


def test_some_advice_columns_record_advice(tmp_path):
    path = write_csv(
        tmp_path / "adv.csv",
        ["case_ref", "advice_paediatrics_requested"],
        [["A1", "2025-02-03"], ["A2", ""]],
    )
    cl = load_tabular(path)
    assert "advice" not in cl.unrecorded
    assert list(cl.advice["case_ref"]) == ["A1"]
    assert list(cl.advice["provider"]) == ["paediatrics"]


@pytest.mark.parametrize(
    ("column", "value", "rule", "fragment"),
    [
        (
            "request_received",
            "06/01/2025",
            "tabular-date",
            "'06/01/2025' is not a date; write it as YYYY-MM-DD",
        ),
        ("request_received", "2025-02-30", "tabular-date", "'2025-02-30' is not a date"),
        (
            "request_outcome",
            "Z",
            "tabular-code",
            "'Z' is not a valid request_outcome; use one of A, H, N, W, Y",
        ),
        ("review_outcome", "maintain", "tabular-code", "is not a valid review_outcome"),
        ("phase_transfer_type", "primary", "tabular-code", "use one of post16, post16_other, school"),
        ("reassessment_agreed", "maybe", "tabular-bool", "write true/false, yes/no or 1/0"),
        ("exception_final_plan", "h", "tabular-exception", "'h' is not an exception ground"),
        ("advice_other_exception", "x", "tabular-exception", "is not an exception ground"),
        ("advice_other_received", "soon", "tabular-date", "'soon' is not a date"),
    ],
)
def test_bad_cell_names_row_case_and_column(tmp_path, column, value, rule, fragment):
    path = write_csv(tmp_path / "bad.csv", ["case_ref", column], [["OK-1", ""], ["BAD-1", value]])
    cl, problems = read_tabular(path)
    problem = only(problems)
    assert (problem.file, problem.location, problem.person, problem.field) == (
        str(path),
        "row 3",
        "BAD-1",
        column,
    )
    assert (problem.rule, problem.severity) == (rule, Severity.ERROR)
    assert fragment in problem.message
    assert len(cl) == 2
    loaded = load_tabular(path, accept_valid=True)
    assert loaded.rejected == ("BAD-1",)
    assert list(loaded.cases["case_ref"]) == ["OK-1"]
    with pytest.raises(InputError):
        load_tabular(path)


@pytest.mark.parametrize(
    ("start", "end", "severity"),
    [
        ("request_received", "request_outcome_date", Severity.ERROR),
        ("request_received", "assessment_outcome_date", Severity.ERROR),
        ("request_outcome_date", "assessment_outcome_date", Severity.ERROR),
        ("plan_start", "plan_ceased", Severity.ERROR),
        ("amendment_notice", "amended_plan_issued", Severity.ERROR),
        ("reassessment_requested", "reassessment_decision_date", Severity.ERROR),
        ("review_meeting", "review_decision_letter", Severity.WARNING),
    ],
)
def test_end_before_start(tmp_path, start, end, severity):
    path = write_csv(tmp_path / "order.csv", ["case_ref", start, end], [["X1", "2025-03-10", "2025-03-07"]])
    _, problems = read_tabular(path)
    problem = only(problems)
    assert (problem.location, problem.person, problem.field, problem.severity) == (
        "row 2",
        "X1",
        end,
        severity,
    )
    assert problem.rule == "tabular-order"
    assert f"{end} 2025-03-07 is before {start} 2025-03-10" in problem.message
    loaded = load_tabular(path, accept_valid=True)
    assert len(loaded) == (0 if severity is Severity.ERROR else 1)


def test_advice_received_before_requested(tmp_path):
    path = write_csv(
        tmp_path / "adv.csv",
        ["case_ref", "advice_social_care_requested", "advice_social_care_received"],
        [["X1", "2025-03-10", "2025-03-01"]],
    )
    _, problems = read_tabular(path)
    assert only(problems).field == "advice_social_care_received"


def test_unknown_column_is_an_error_for_the_whole_file(tmp_path):
    path = write_csv(
        tmp_path / "typo.csv",
        ["case_ref", "request_recieved", "Plan_Start "],
        [["X1", "2025-01-06", "2025-05-01"]],
    )
    cl, problems = read_tabular(path)
    problem = only(problems)
    assert (problem.location, problem.person, problem.field, problem.rule) == (
        "row 1",
        "",
        "request_recieved",
        "tabular-column",
    )
    assert "did you mean 'request_received'?" in problem.message
    assert row(cl, "X1")["plan_start"] == pd.Timestamp("2025-05-01")  # names are trimmed, any case
    with pytest.raises(InputError):
        load_tabular(path, accept_valid=True)  # dropping cases cannot fix a header


def test_duplicate_case_ref_is_an_error_on_every_row(tmp_path):
    path = write_csv(
        tmp_path / "dup.csv",
        ["case_ref", "request_received"],
        [["A", "2025-01-06"], ["B", "2025-01-07"], ["A", "2025-01-08"]],
    )
    _, problems = read_tabular(path)
    assert [(p.location, p.person, p.field, p.rule) for p in problems] == [
        ("row 2", "A", "case_ref", "tabular-duplicate"),
        ("row 4", "A", "case_ref", "tabular-duplicate"),
    ]
    assert "also on row 4" in problems[0].message
    loaded = load_tabular(path, accept_valid=True)
    assert list(loaded.cases["case_ref"]) == ["B"]
    assert loaded.rejected == ("A", "A")


def test_duplicate_header_and_data_without_header_are_file_errors(tmp_path):
    path = write_csv(tmp_path / "h.csv", ["case_ref", "la", "LA", ""], [["X1", "886", "887", "oops"]])
    _, problems = read_tabular(path)
    assert {(p.location, p.field) for p in problems} == {("row 1", "LA"), ("row 2", "column 4")}
    with pytest.raises(InputError):
        load_tabular(path, accept_valid=True)


def test_row_without_case_ref_is_reported_and_left_out(tmp_path):
    path = write_csv(tmp_path / "noref.csv", ["case_ref", "la"], [["", "886"], ["X1", "886"], ["", ""]])
    cl, problems = read_tabular(path)
    assert [(p.location, p.field) for p in problems] == [("row 2", "case_ref")]
    assert list(cl.cases["case_ref"]) == ["X1"]


def test_excel_number_in_date_column(tmp_path):
    path = tmp_path / "n.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["case_ref", "request_received"])
    wb.active.append(["X1", 45678])
    wb.save(path)
    _, problems = read_tabular(path)
    assert "is a number, not a date" in only(problems, field="request_received").message


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("noref.csv", b"la,team\n886,north\n", "there is no case_ref column"),
        ("latin1.csv", "case_ref,team\nX1,Sch\xf6n\n".encode("latin-1"), "not UTF-8"),
        ("fake.xlsx", b"not a zip", "cannot read the file as XLSX"),
        ("old.xls", b"whatever", "'.xls' files are not read"),
    ],
)
def test_unreadable_files_are_fatal(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_tabular(path)
    assert fragment in "; ".join(p.message for p in exc.value.problems)
    assert all(p.file == str(path) for p in exc.value.problems)


def test_template(tmp_path):
    path = tmp_path / "template.csv"
    write_csv_template(path)
    with path.open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(TEMPLATE_COLUMNS)
    cl, problems = read_tabular(path)
    assert (len(cl), problems, cl.unrecorded) == (0, [], frozenset())
    assert set(TEMPLATE_COLUMNS) == set(CASE_COLUMNS) | {
        f"advice_{p}_{part}" for p in ADVICE_PROVIDERS for part in ("requested", "received", "exception")
    }


def test_booleans(tmp_path):
    values = ["true", "FALSE", "1", "0", "Yes", "no", ""]
    path = write_csv(
        tmp_path / "b.csv", ["case_ref", "reassessment_agreed"], [[f"X{i}", v] for i, v in enumerate(values)]
    )
    cl = load_tabular(path)
    got = [None if pd.isna(v) else bool(v) for v in cl.cases["reassessment_agreed"]]
    assert got == [True, False, True, False, True, False, None]


def test_demo_council_csv_reads_back_exactly(tmp_path):
    demo = pytest.importorskip("ehcp_workflow.demo")
    generated = demo.generate_council(300, 7, dt.date(2026, 1, 15))
    path = tmp_path / "demo.csv"
    demo.write_council_csv(generated, path)
    cl = load_tabular(path)
    assert errors(cl.problems) == []
    pd.testing.assert_frame_equal(cl.cases, normalise_cases(generated.cases)[list(CASE_COLUMNS)])
    pd.testing.assert_frame_equal(
        _sorted_advice(cl.advice), _sorted_advice(normalise_advice(generated.advice))
    )
