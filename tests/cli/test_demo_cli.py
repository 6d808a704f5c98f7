"""``ehcp demo`` end to end, as ``make demo`` runs it: the real nightly flow in Prefect's ephemeral
mode, in a subprocess with a clean environment. Slow (Prefect's first start migrates its database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_prints_no_prefect_traceback_and_ends_with_what_to_try(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "EHCP_"))}
    env["PREFECT_API_URL"] = ""  # what the demo used to set itself: an empty URL must not break events
    env["COLUMNS"] = "200"  # rich wraps at the terminal's width: keep the long export line whole
    workdir = tmp_path / "demo"

    done = subprocess.run(
        [Path(sys.executable).with_name("ehcp"), "demo", "--dir", str(workdir), "--cases", "300"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    # the events worker used to fail on the empty API URL, then refuse every event with a traceback
    assert "Traceback" not in done.stderr and "EventsWorker" not in done.stderr, done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    assert "# Compliance check, 2026-11-20" in done.stdout  # the artifact, read back from Prefect
    assert f"export EHCP_DATABASE_URL=sqlite:///{workdir / 'ehcp.db'}" in done.stdout
