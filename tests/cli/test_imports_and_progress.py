"""No Prefect on the store commands' paths; heavy imports only inside the commands; the progress bar."""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from ehcp_workflow.cli.events import HELP_EXCEPTION_CLOCKS, HELP_PROVIDERS
from ehcp_workflow.cli.progress import Steps
from tests.cli.conftest import AS_OF, FIXTURES, write_csv

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("store", "progress", "db", "importing", "events", "cases", "exports", "backlog", "nightly")

#: Run every store command in one process, then report which heavy modules were ever imported.
SCRIPT = """
import json, sys
from typer.testing import CliRunner
from ehcp_workflow.cli import app

url, csv_file, sen2_file, as_of = sys.argv[1:5]
runner = CliRunner()
commands = [  # one of each code path (status and assign share theirs with upgrade and record)
    ["db", "upgrade"],
    ["import", csv_file],
    ["import", sen2_file],
    ["case", "show", "C-01", "--as-of", as_of],
    ["case", "list", "--as-of", as_of],
    ["case", "record", "C-01", "decision-to-assess", "2026-05-29", "--value", "Y", "--as-of", as_of],
    ["export", "clocks", "--as-of", as_of],
    ["backlog", "--as-of", as_of],
]
codes = [runner.invoke(app, [*args, "--database-url", url]).exit_code for args in commands]
print(json.dumps({
    "codes": codes,
    "prefect": sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect.")),
}))
"""


def test_no_prefect_import_on_any_store_command(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "caseload.csv")
    sen2_file = tmp_path / "return.xml"  # a copy: an error report would be written beside it
    shutil.copyfile(FIXTURES / "spec_example_2026.xml", sen2_file)
    url = f"sqlite:///{tmp_path / 'ehcp.db'}"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, str(csv_file), str(sen2_file), AS_OF],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0] * 8
    assert report["prefect"] == []


def test_store_modules_import_nothing_heavy_at_module_level() -> None:
    """SQLAlchemy, Alembic, pandas, the store and the evaluators are imported inside the commands."""
    allowed = (
        "typer",
        "rich",
        "ehcp_workflow.cli",
        "ehcp_workflow.problems",
        "ehcp_workflow.core.statuses",
        "ehcp_workflow.event_names",  # plain data, no imports
    )
    for name in MODULES:
        tree = ast.parse((ROOT / "ehcp_workflow" / "cli" / f"{name}.py").read_text())
        for node in tree.body:  # module level only (TYPE_CHECKING blocks are not run)
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                stdlib = top in sys.stdlib_module_names or top == "__future__"
                assert stdlib or module.startswith(allowed), f"cli/{name}.py imports {module} at module level"


def test_help_vocabularies_match_the_contract() -> None:
    from ehcp_workflow.core.caseload import ADVICE_PROVIDERS, EXCEPTION_CLOCKS

    assert HELP_PROVIDERS == ADVICE_PROVIDERS
    assert HELP_EXCEPTION_CLOCKS == EXCEPTION_CLOCKS


def test_progress_appears_only_after_the_delay_and_only_on_a_terminal() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with Steps(terminal, total=2, delay=0.05) as steps:
        steps.step("Reading")
        time.sleep(0.3)
        steps.step("Writing")
        assert steps.shown
    with Steps(terminal, total=2, delay=5) as quick:
        quick.step("Reading")
    assert not quick.shown
    piped = Console(file=io.StringIO(), force_terminal=False)
    with Steps(piped, total=1, delay=0) as steps:
        steps.step("Reading")
        time.sleep(0.05)
    assert not steps.shown
    assert piped.file.getvalue() == ""  # type: ignore[attr-defined]
