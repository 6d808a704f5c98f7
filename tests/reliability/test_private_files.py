"""Files a command writes are created 0600 (never chmod-ed later), never written through a link,
and a bad ``--output`` is a message and exit code 2, not a traceback.

The umask is set to the common 022 for these tests: with it, a file created the ordinary way is
0644 (readable by every user on the server), which is what the fix must prevent.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from ehcp_workflow.output import write_csv as write_frame
from tests.cli.conftest import AS_OF, CSV_ROWS, Run, said, write_csv

#: A report period the fixture caseload has data for.
REPORT = ("report", "--from", "2025-09", "--to", "2026-05", "--as-of", AS_OF)


@pytest.fixture(autouse=True)
def _umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def store(ehcp_sqlite: Run, tmp_path: Path) -> Run:
    result = ehcp_sqlite("import", str(write_csv(tmp_path / "caseload.csv")))
    assert result.exit_code == 0, result.output
    return ehcp_sqlite


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_error_report_is_private(ehcp_sqlite: Run, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [CSV_ROWS[0].replace("2026-05-04", "2026-02-30")])
    result = ehcp_sqlite("import", str(path))
    assert result.exit_code == 2, result.output
    assert mode(tmp_path / "bad.csv.errors.csv") == 0o600


@pytest.mark.parametrize("name", ["clocks.csv", "clocks.xlsx"])
def test_clock_exports_are_private(store: Run, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    result = store("export", "clocks", "--as-of", AS_OF, "-o", str(path))
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600


def test_an_existing_readable_export_is_replaced_by_a_private_one(store: Run, tmp_path: Path) -> None:
    path = tmp_path / "clocks.csv"
    path.write_text("old\n")
    path.chmod(0o644)
    result = store("export", "clocks", "--as-of", AS_OF, "-o", str(path))
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    assert path.read_text().startswith("person_ref,")


def test_every_report_file_is_private(store: Run, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = store(*REPORT, "-o", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert {p.suffix for p in files} == {".xlsx", ".html", ".png"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert not [p for p in files if p.name.endswith(".part")], "no temporary file left behind"


def test_csv_written_to_a_path_is_private(tmp_path: Path) -> None:
    """``output.write_csv`` to a path: what ``ehcp phase-transfer -o`` uses."""
    path = tmp_path / "plan.csv"
    write_frame(pd.DataFrame({"case_ref": ["C-01"]}), path)
    assert mode(path) == 0o600


def test_export_clocks_refuses_a_symlink_and_leaves_its_target(store: Run, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "clocks.csv"
    link.symlink_to(target)
    result = store("export", "clocks", "--as-of", AS_OF, "-o", str(link))
    assert result.exit_code == 2, result.output
    assert "symbolic link" in said(result) and "clocks.csv" in said(result)
    assert target.read_text() == "keep me\n"
    assert link.is_symlink()


@pytest.mark.parametrize("name", ["clocks.csv", "clocks.xlsx"])
def test_export_into_a_missing_folder_is_a_message(store: Run, tmp_path: Path, name: str) -> None:
    path = tmp_path / "no-such-folder" / name
    result = store("export", "clocks", "--as-of", AS_OF, "-o", str(path))
    assert result.exit_code == 2, result.output
    assert "does not exist" in said(result) and name in said(result)
    assert not path.parent.exists()


def test_report_onto_an_existing_file_is_refused(store: Run, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("mine\n")
    result = store(*REPORT, "-o", str(path))
    assert result.exit_code == 2, result.output
    assert "notes.txt" in said(result) and "folder" in said(result)
    assert path.read_text() == "mine\n"


def test_report_keeps_an_earlier_report_unless_forced(store: Run, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    assert store(*REPORT, "-o", str(out)).exit_code == 0
    (workbook,) = out.glob("*.xlsx")
    before = workbook.read_bytes()
    again = store(*REPORT, "-o", str(out))
    assert again.exit_code == 2, again.output
    assert workbook.name in said(again) and "--force" in said(again)
    assert workbook.read_bytes() == before
    forced = store(*REPORT, "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
