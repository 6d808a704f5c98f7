"""``ehcp nightly --council``: a council code that is not in the store is refused, not a silent night."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import AS_OF, Run


def test_nightly_for_one_council_and_a_council_the_store_does_not_hold(
    ehcp_sqlite: Run, tmp_path: Path
) -> None:
    csv = tmp_path / "two.csv"
    csv.write_text(
        "case_ref,la,caseworker,request_received\n886-C1,886,cw-1,2026-05-04\n887-C1,887,cw-1,2025-01-06\n",
        encoding="utf-8",
    )
    assert ehcp_sqlite("import", str(csv)).exit_code == 0

    unknown = ehcp_sqlite("nightly", "--as-of", AS_OF, "--council", "999")
    assert unknown.exit_code == 2
    assert "999" in unknown.output and "886, 887" in unknown.output

    malformed = ehcp_sqlite("nightly", "--as-of", AS_OF, "--council", "88/6")
    assert malformed.exit_code == 2 and "--council" in malformed.output

    night = ehcp_sqlite("nightly", "--as-of", AS_OF, "--council", "887")
    assert night.exit_code == 0, night.output
