"""``ehcp import`` of a SEN2 companion file: after the caseload, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli.conftest import CSV_ROWS, write_csv
from tests.exporters.helpers import upn
from tests.importers.test_tabular_sen2 import GOOD, _write


def test_ehcp_import_takes_it_after_the_caseload(ehcp, url, tmp_path: Path) -> None:
    caseload = write_csv(tmp_path / "caseload.csv", CSV_ROWS)
    assert ehcp("import", str(caseload)).exit_code == 0
    companion = _write(tmp_path / "caseload.sen2.csv", GOOD)
    result = ehcp("import", str(companion))
    assert result.exit_code == 0, result.output
    assert "SEN2 companion file" in result.output and "2 people's fields" in result.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        people = conn.execute(sa.text("SELECT person_ref, upn, surname FROM person ORDER BY person_ref"))
        assert [tuple(r) for r in people if r[1]] == [("P-06", upn(6), "Smith"), ("P-07", upn(7), "Jones")]
        needs = conn.execute(sa.text("SELECT count(*) FROM sen2_need")).scalar_one()
        assert needs == 3
        # the surname is never in the event log
        assert not conn.execute(
            sa.text("SELECT count(*) FROM event_log WHERE new_value LIKE '%Smith%'")
        ).scalar_one()
    engine.dispose()
    again = ehcp("import", str(companion))
    assert again.exit_code == 0 and "0 case(s) set or changed" in again.output


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        ([GOOD[0], "C-99,,,,,,,,1,0,,,,,,,,,,,"], "no such case in the store"),
        ([GOOD[0], GOOD[0].replace("C-06", "C-09").replace("Smith", "Smyth")], "another surname"),
    ],
)
def test_a_bad_companion_file_imports_nothing(ehcp, url, tmp_path: Path, rows: list[str], says: str) -> None:
    # C-09 is a second request of C-06's person (P-06)
    caseload = write_csv(tmp_path / "caseload.csv", [*CSV_ROWS, "C-09,P-06,north,alice,2026-05-20,,,,,,"])
    assert ehcp("import", str(caseload)).exit_code == 0
    result = ehcp("import", str(_write(tmp_path / "bad.sen2.csv", rows)))
    assert result.exit_code == 2, result.output
    assert says in result.output and "nothing was imported" in result.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sen2_case_detail")).scalar_one() == 0
        assert (
            conn.execute(sa.text("SELECT count(*) FROM person WHERE surname IS NOT NULL")).scalar_one() == 0
        )
    engine.dispose()


def test_ehcp_import_of_a_sen2_return_stores_its_sen2_only_items(ehcp, url, tmp_path: Path) -> None:
    import shutil

    from tests.importers.helpers import SAMPLES

    if not SAMPLES.is_dir():
        pytest.skip("../shared/sen2-samples is not on this machine")
    sample = tmp_path / "sample.xml"
    shutil.copyfile(SAMPLES / "liia_sen2_sample_2025.xml", sample)
    result = ehcp("import", str(sample), "--accept-valid")
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text("SELECT kind, count(*) FROM sen2_setting GROUP BY kind")).all())
        assert kinds == {"plan": 2, "placement": 2}
        assert conn.execute(sa.text("SELECT count(*) FROM sen2_need")).scalar_one() == 2
        other = conn.execute(
            sa.text("SELECT sen_setting_other FROM sen2_setting WHERE kind = 'plan' AND seq = 1")
        )
        assert other.scalar_one() == "Free text here"
    engine.dispose()


def test_a_changed_surname_in_a_companion_file_is_recorded_without_its_value(
    ehcp, url, tmp_path: Path
) -> None:
    caseload = write_csv(tmp_path / "caseload.csv", CSV_ROWS)
    assert ehcp("import", str(caseload)).exit_code == 0
    assert ehcp("import", str(_write(tmp_path / "first.sen2.csv", GOOD))).exit_code == 0
    renamed = _write(tmp_path / "renamed.sen2.csv", [GOOD[0].replace("Smith", "Smythe"), *GOOD[1:]])
    result = ehcp("import", str(renamed))
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        logged = conn.execute(
            sa.text("SELECT field, old_value, new_value, source FROM event_log WHERE field LIKE 'person.%'")
        ).all()
        batches = conn.execute(
            sa.text("SELECT source FROM import_batch WHERE source = 'renamed.sen2.csv'")
        ).all()
        surname = conn.execute(sa.text("SELECT surname FROM person WHERE person_ref = 'P-06'")).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in logged] == [("person.surname", "withheld", "withheld", "renamed.sen2.csv")]
    assert len(batches) == 1 and surname == "Smythe"
