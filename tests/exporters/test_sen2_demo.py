"""The demo council, given synthetic personal fields, exports and passes its own checks; the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ehcp_workflow.cli import app
from ehcp_workflow.db import upsert_caseload
from ehcp_workflow.demo import generate_council
from ehcp_workflow.demo_sen2 import generate_sen2_companion, write_sen2_csv
from ehcp_workflow.exporters import CheckSeverity
from ehcp_workflow.exporters.sen2_people import import_sen2_file
from ehcp_workflow.importers import load_sen2

from .helpers import LA, export, new_store, people_frame
from .xsd import XSD_DIR, all_errors, schema_errors

AS_OF = dt.date(2026, 2, 20)  # after census day 2026: the export must hold back what came later
ETHNICITIES = ("WBRI", "WOTH", "MWBC", "AIND", "APKN", "BAFR", "BCRB", "CHNE", "OOTH", "REFU")


def synthetic_people(refs: list[str], seed: int = 1) -> pd.DataFrame:
    """Personal fields for the demo's UPN-shaped references (the demo itself has none)."""
    rng = np.random.default_rng(seed)
    n = len(refs)
    born = np.datetime64("2002-09-01") + rng.integers(0, 20 * 365, n)
    return people_frame(
        {
            "person_ref": ref,
            "upn": ref,
            "surname": f"Surname{i:05d}",
            "forename": ["Alex", "Sam", "Jo", "Kit"][i % 4],
            "birth_date": born[i].astype(dt.date),
            "sex": "MF"[int(rng.integers(0, 2))],
            "ethnicity": ETHNICITIES[int(rng.integers(0, len(ETHNICITIES)))],
            "postcode": f"ZZ{i % 9 + 1} {i % 10}ZZ",
        }
        for i, ref in enumerate(refs)
    )


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    """The demo council as ``ehcp demo`` loads it: the caseload, then its SEN2 companion file
    (Faker identities, settings, placements, needs) through the companion-file importer."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "store.db"
    engine = new_store(path)
    council = generate_council(2000, 3, AS_OF, la=LA)
    companion = folder / "council.sen2.csv"
    write_sen2_csv(generate_sen2_companion(council, 3), companion)
    with Session(engine) as s:
        upsert_caseload(s, council, actor="test")
    with Session(engine) as s:
        import_sen2_file(s, companion, actor="test")
    yield engine, f"sqlite:///{path}"
    engine.dispose()


@pytest.mark.parametrize("year", [2023, 2024, 2025, 2026])
def test_demo_council_exports_and_passes_its_own_checks(
    demo_store: tuple[Engine, str], tmp_path: Path, year: int
) -> None:
    engine, _ = demo_store
    out = tmp_path / f"sen2_{year}.xml"
    result = export(engine, year, out)
    assert result.passed, [str(f) for f in result.errors[:10]]
    assert result.persons > 1000 and result.requests >= result.persons
    assert not [f for f in result.findings if f.person and f.severity is CheckSeverity.ERROR]
    # the project's own importer takes the file without an error
    loaded = load_sen2(out)
    assert len(loaded) == result.requests


@pytest.mark.skipif(not XSD_DIR.is_dir(), reason="../shared/reference/sen2-xsd is not on this machine")
@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_demo_council_export_validates_against_the_schema_of_its_year(
    demo_store: tuple[Engine, str], tmp_path: Path, year: int
) -> None:
    """Zero errors other than the third-party schemas' documented defects (tests/exporters/xsd.py);
    the 886 council code is one of them (the schemas list London councils only), so some are met."""
    engine, _ = demo_store
    out = tmp_path / f"sen2_{year}.xml"
    export(engine, year, out)
    assert schema_errors(out, year) == []
    assert all_errors(out, year), "the documented defects (URN pattern, LEA list) do occur"
    text = out.read_text(encoding="utf-8")
    for item in ("<Surname>", "<PlanDetail>", "<PlacementDetail>", "<SENneed>", "<PB>", "<RYA>"):
        assert item in text


def test_demo_2026_covers_every_kind_of_case(demo_store: tuple[Engine, str], tmp_path: Path) -> None:
    engine, _ = demo_store
    result = export(engine, 2026, tmp_path / "sen2.xml")
    assert set(result.scope) == {
        "active plan at census",
        "plan active in the year, since ceased",
        "request, decision or assessment in the year",
        "work ongoing at census",
    }
    text = result.path.read_text(encoding="utf-8")
    for outcome in ("Y", "N", "A", "W", "H"):
        assert f"<RequestOutcome>{outcome}</RequestOutcome>" in text
    assert "<Week20>1</Week20>" in text and "<Week20>0</Week20>" in text
    assert "<Exported>" in text and "<TransferLA>" in text and "<CeaseReason>" in text
    # nothing dated after census day (15 January 2026) except reg 18 due dates, which are planned
    for line in text.splitlines():
        if ">2026-" in line and "PhaseTransferDueDate" not in line and "DateTime" not in line:
            assert line.split(">")[1][:10] <= "2026-01-15", line


runner = CliRunner()


def test_cli_export(demo_store: tuple[Engine, str], tmp_path: Path) -> None:
    _, url = demo_store
    out = tmp_path / "return.xml"
    args = ["sen2", "export", "--year", "2026", "--database-url", url, "--output", str(out)]
    officers = ["--dmo", "y", "--dco", "Y", "--dsco", "N", "--generated-at", "2026-02-02T10:30:00"]
    result = runner.invoke(app, [*args, *officers])
    assert result.exit_code == 0, result.output
    assert "passed" in result.output and "0 error(s)" in result.output
    assert out.exists() and out.with_name("return.checks.csv").exists()
    assert "<LEA>886</LEA>" in out.read_text(encoding="utf-8")  # the store's only council
    assert "<DMO>Y</DMO>" in out.read_text(encoding="utf-8")
    assert "<DateTime>2026-02-02T10:30:00</DateTime>" in out.read_text(encoding="utf-8")


def test_cli_fails_with_exit_2_on_errors_and_bad_options(
    demo_store: tuple[Engine, str], tmp_path: Path
) -> None:
    _, url = demo_store
    base = ["sen2", "export", "--database-url", url, "--output", str(tmp_path / "r.xml")]
    missing_officers = runner.invoke(app, [*base, "--year", "2026"])
    assert missing_officers.exit_code == 2
    assert "failed" in missing_officers.output and "DMO" in missing_officers.output
    assert (tmp_path / "r.xml").exists()  # written, to look at and fix
    assert runner.invoke(app, [*base, "--year", "2021"]).exit_code == 2
    assert runner.invoke(app, [*base, "--year", "2026", "--la", "Kent"]).exit_code == 2
    assert runner.invoke(app, [*base, "--year", "2026", "--dmo", "maybe"]).exit_code == 2
    nowhere = ["sen2", "export", "--year", "2026", "--database-url", f"sqlite:///{tmp_path / 'none.db'}"]
    result = runner.invoke(app, nowhere)
    assert result.exit_code == 2 and "No store" in result.output
    assert not (tmp_path / "none.db").exists()
