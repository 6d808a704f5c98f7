"""``ehcp case show`` as a whole process (issue 12: at most 0.5 s): what it loads, how it ends.

No timings here (they belong to ``bench/case_show.py``): these tests pin the causes instead. Each
runs a fresh interpreter, because the test process has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import AS_OF, write_csv

#: Never needed to look up a case: the flow runner, the notifier and the file formats.
NOT_FOR_SHOW = frozenset({"prefect", "apprise", "openpyxl", "faker", "xmlschema", "matplotlib", "alembic"})
#: Project packages a look-up has no use for (imports, exports, the notifier, the nightly jobs).
PROJECT_NOT_FOR_SHOW = (
    "ehcp_workflow.importers",
    "ehcp_workflow.exporters",
    "ehcp_workflow.notify",
    "ehcp_workflow.jobs",
    "ehcp_workflow.reporting",
    "ehcp_workflow.db.dao",
    "ehcp_workflow.db.outbox",
    "ehcp_workflow.db.importing",
    "ehcp_workflow.db.write",
)


def _python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def _loaded(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; return what it left in ``sys.modules``."""
    report = (
        "\nimport json, sys\n"
        "print(json.dumps({'top': sorted({m.split('.')[0] for m in sys.modules}),"
        " 'all': sorted(sys.modules)}))\n"
    )
    done = _python(code + report)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _project_modules(loaded: dict[str, Any]) -> list[str]:
    return [m for m in loaded["all"] if m.startswith(PROJECT_NOT_FOR_SHOW)]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    """``ehcp --help`` and every command start by importing the CLI: it must stay light (and numpy
    must load after ``main`` has run, which sets OpenBLAS's threads for a quick command)."""
    loaded = _loaded("import ehcp_workflow.cli")
    heavy = NOT_FOR_SHOW | {"pandas", "numpy", "sqlalchemy", "sqlmodel"}
    assert sorted(heavy & set(loaded["top"])) == []
    assert _project_modules(loaded) == []


@pytest.fixture
def small_store(ehcp_sqlite: Any, sqlite_url: str, tmp_path: Path) -> str:
    result = ehcp_sqlite("import", str(write_csv(tmp_path / "caseload.csv")), "--actor", "importer")
    assert result.exit_code == 0, result.output
    return sqlite_url


def test_case_show_loads_only_what_it_needs(small_store: str) -> None:
    """Showing a case reads the store and evaluates: no importers, notifier, Alembic or openpyxl
    (``ehcp_workflow.db`` once loaded them all, whichever of its modules was asked for)."""
    loaded = _loaded(
        "from ehcp_workflow.cli import app\n"
        f"app(['case', 'show', 'C-03', '--as-of', '{AS_OF}', '--database-url', {small_store!r}],"
        " standalone_mode=False)\n"
    )
    assert "ehcp_workflow.core.evaluator" in loaded["all"]  # it did run
    assert sorted(NOT_FOR_SHOW & set(loaded["top"])) == []
    assert _project_modules(loaded) == []


def test_the_program_ends_a_show_with_its_output_and_exit_code(runner: Any, small_store: str) -> None:
    """``main`` ends ``case show`` without the interpreter's teardown: same output, same exit codes."""
    from ehcp_workflow.cli import app

    args = ["case", "show", "C-03", "--as-of", AS_OF, "--database-url", small_store]
    program = "from ehcp_workflow.cli import main; main()"
    done = _python(f"import sys; sys.argv[0] = 'ehcp'; {program}", *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == runner.invoke(app, args).stdout
    assert "Case C-03 at 2026-06-01" in done.stdout

    missing = _python(f"import sys; sys.argv[0] = 'ehcp'; {program}", *args[:2], "C-99", *args[3:])
    assert missing.returncode == 2
    assert "No case 'C-99' in the store." in missing.stderr
    assert missing.stdout == ""
