"""load_caseload picks the importer by suffix and refuses what it cannot read, clearly."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from ehcp_workflow.importers import LoadedCaseload, detect_format, load_caseload, read_caseload
from ehcp_workflow.problems import InputError

from .helpers import FIXTURES

SEN2 = FIXTURES / "spec_example_2026.xml"


def test_sen2_by_suffix():
    cl = load_caseload(SEN2)
    assert isinstance(cl, LoadedCaseload)
    assert (cl.source, len(cl)) == ("sen2:2026", 5)
    assert detect_format(SEN2) == "sen2"


def test_csv_and_xlsx_by_suffix(tmp_path):
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("case_ref,request_received\nX1,2025-01-06\n")
    assert load_caseload(csv_path).source == "csv"
    xlsx_path = tmp_path / "c.XLSX"
    pd.DataFrame({"case_ref": ["X1"]}).to_excel(xlsx_path, index=False)
    assert load_caseload(xlsx_path).source == "xlsx"


def test_sen2_without_xml_suffix_is_sniffed(tmp_path):
    path = tmp_path / "return.dat"
    shutil.copy(SEN2, path)
    cl, problems = read_caseload(path)
    assert (len(cl), problems) == (5, [])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<rss><channel/></rss>", "not a SEN2 return"),
        (
            "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2025</Year>"
            "</CollectionDetails></Header></Message>",
            "not a SEN2 return",
        ),
    ],
)
def test_xml_that_is_not_sen2_is_refused(tmp_path, text, fragment):
    path = tmp_path / "other.xml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_caseload(path)
    (problem,) = exc.value.problems
    assert fragment in problem.message
    assert problem.file == str(path)


def test_broken_sen2_xml_reaches_the_line_precise_report(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<Message>\n<Header>\n</Message>\n")
    with pytest.raises(InputError) as exc:
        load_caseload(path)
    assert exc.value.problems[-1].location.startswith("line 3, column ")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("list.txt", b"case_ref\nX1\n", "'.txt' is not a supported caseload file"),
        ("book", b"PK\x03\x04rest", "rename it to end in .xlsx"),
    ],
)
def test_other_files_are_refused_with_a_hint(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        load_caseload(path)
    assert fragment in exc.value.problems[0].message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the file"):
        load_caseload(tmp_path / "gone.xml")
