"""The SEN2 companion file: read, checked cell by cell, imported with ``ehcp import`` after the
caseload (person fields and SEN2 details, tests/cli/test_import_sen2_file.py), refused whole
with file, row and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ehcp_workflow.importers import detect_format
from ehcp_workflow.importers.tabular_sen2 import read_sen2_file
from ehcp_workflow.problems import InputError
from tests.exporters.helpers import upn

HEADER = (
    "case_ref,upn,surname,forename,birth_date,sex,ethnicity,postcode,request_source,rya,pb,"
    "plan1_urn,plan1_sen_unit_indicator,plan1_resourced_provision_indicator,"
    "placement1_urn,placement1_rank,placement1_entry_date,placement1_sen_unit_indicator,"
    "placement1_resourced_provision_indicator,sen_need1,sen_need2"
)
GOOD = [
    f"C-06,{upn(6)},Smith,Ann,2015-04-01,F,WBRI,ZZ1 1ZZ,1,0,no,100001,0,1,100001,1,2019-09-04,0,1,ASD,slcn",
    f"C-07,{upn(7)},Jones,Bo,2014-02-03,M,AIND,ZZ2 2ZZ,2,0,1,100002,0,0,100002,1,2018-09-05,0,0,SEMH,",
]


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reads_people_and_details(tmp_path: Path) -> None:
    read = read_sen2_file(_write(tmp_path / "c.sen2.csv", GOOD))
    assert read.people["C-06"]["birth_date"] == dt.date(2015, 4, 1)
    d = read.details["C-06"]
    assert d.case == {"request_source": "1", "rya": "0", "pb": "0"}  # "no" read as 0
    assert d.plan == [
        {
            "urn": "100001",
            "ukprn": None,
            "sen_setting": None,
            "sen_setting_other": None,
            "sen_unit_indicator": "0",
            "resourced_provision_indicator": "1",
            "placement_rank": "1",
        }
    ]
    assert d.placements[0]["entry_date"] == dt.date(2019, 9, 4)
    assert d.needs == [{"sen_type": "ASD", "sen_type_rank": "1"}, {"sen_type": "SLCN", "sen_type_rank": "2"}]
    assert detect_format(tmp_path / "c.sen2.csv") == "sen2-file"


@pytest.mark.parametrize(
    ("cell", "value", "column", "says"),
    [
        ("2015-04-01", "2015-04-31", "birth_date", "not a date"),
        (",F,", ",X,", "sex", "not one of F, M"),
        ("ASD", "AUT", "sen_need1", "not one of"),
        ("100001,1,2019", "10001,1,2019", "placement1_urn", "not 6 digits"),
        (upn(6), upn(6)[:-1] + str((int(upn(6)[-1]) + 1) % 10), "upn", "wrong check letter"),
    ],
)
def test_a_bad_cell_is_refused_with_row_and_column(
    tmp_path: Path, cell: str, value: str, column: str, says: str
) -> None:
    rows = [GOOD[0].replace(cell, value, 1), GOOD[1]]
    with pytest.raises(InputError) as caught:
        read_sen2_file(_write(tmp_path / "c.sen2.csv", rows))
    (problem,) = caught.value.problems
    assert (problem.location, problem.person, problem.field) == ("row 2", "C-06", column)
    assert says in problem.message
    assert problem.file.endswith("c.sen2.csv")


def test_an_unknown_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown column 'surnmae'"):
        read_sen2_file(_write(tmp_path / "c.sen2.csv", GOOD, HEADER.replace("surname", "surnmae")))
