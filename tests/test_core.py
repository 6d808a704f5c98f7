"""The pure core stays pure: no edge library, no clock, no import cycle, and it ships its catalogue."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "ehcp_workflow" / "core"
FORBIDDEN = ("prefect", "sqlalchemy", "sqlmodel", "apprise", "rich")
#: Calls that read the wall clock: "today" is always an ``as_of`` argument in the core.
CLOCK_READS = {
    ("date", "today"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("time", "time"),
    ("pendulum", "now"),
    ("pendulum", "today"),
    ("Timestamp", "now"),
    ("Timestamp", "today"),
    ("time", "monotonic"),
}


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(CORE.glob("*.py"))}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (annotations only: not a runtime import)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            hidden |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return hidden


def _imports(tree: ast.Module, *, runtime_only: bool = False) -> list[str]:
    hidden = _type_checking_only(tree) if runtime_only else set()
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


@pytest.mark.parametrize("name", sorted(_modules()))
def test_the_core_imports_no_edge_library(name: str) -> None:
    bad = [m for m in _imports(_modules()[name]) if m.split(".")[0] in FORBIDDEN]
    assert not bad, f"ehcp_workflow/core/{name}.py imports {bad}"
    edges = [
        m
        for m in _imports(_modules()[name])
        if m.startswith("ehcp_workflow.") and not m.startswith("ehcp_workflow.core")
    ]
    assert not edges, f"ehcp_workflow/core/{name}.py imports outside the core: {edges}"


def _clock_reads(tree: ast.Module) -> list[str]:
    return [
        f"{node.func.value.id}.{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and (node.func.value.id.split(".")[-1], node.func.attr) in CLOCK_READS
    ]


@pytest.mark.parametrize("name", sorted(_modules()))
def test_the_core_never_reads_the_clock(name: str) -> None:
    reads = _clock_reads(_modules()[name])
    assert not reads, f"ehcp_workflow/core/{name}.py reads the clock: {reads}"


def test_the_core_has_no_import_cycle() -> None:
    graph = {
        name: {
            m.split(".")[2] for m in _imports(tree, runtime_only=True) if m.startswith("ehcp_workflow.core.")
        }
        - {name}
        for name, tree in _modules().items()
    }
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for nxt in graph.get(node, ()):
            visit(nxt, (*path, node))
        done.add(node)

    for name in graph:
        visit(name, ())


def test_the_checks_catch_what_they_look_for() -> None:
    """The scanners themselves can fail: a module that breaks each rule is caught by the same code."""
    tree = ast.parse(
        "import datetime as dt\nfrom datetime import date\nfrom sqlalchemy import select\n"
        "x = date.today()\ny = pendulum.now()\n"
        "if TYPE_CHECKING:\n    from ehcp_workflow.core.evaluator import Evaluation\n"
    )
    assert [m for m in _imports(tree) if m.split(".")[0] in FORBIDDEN] == ["sqlalchemy", "sqlalchemy.select"]
    assert _clock_reads(tree) == ["date.today()", "pendulum.now()"]
    assert "ehcp_workflow.core.evaluator" in _imports(tree)
    assert "ehcp_workflow.core.evaluator" not in _imports(tree, runtime_only=True)


@pytest.mark.slow
def test_an_installed_wheel_evaluates_clocks(tmp_path: Path) -> None:
    """config/clocks.yaml ships inside the package: a wheel installed away from the checkout reads it."""
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv (installed by `make install`) builds the wheel")
    root = tmp_path / "src"  # a copy: setuptools writes build/ beside the sources it builds
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("ehcp_workflow", "flows", "config"):
        shutil.copytree(CORE.parent.parent / name, root / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CORE.parent.parent / name, root / name)
    build = subprocess.run(
        [str(uv), "build", "--wheel", "-q", "-o", str(tmp_path), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("ehcp_workflow-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "ehcp_workflow/core/clocks.yaml" in names
        zf.extractall(tmp_path / "site")
    assert not (tmp_path / "site" / "ehcp_workflow" / "core" / "clocks.yaml").is_symlink()
    probe = (
        "import datetime as dt, pandas as pd\n"
        "from ehcp_workflow.core import caseload as cl\n"
        "from ehcp_workflow.core.catalogue import load_catalogue, DEFAULT_CATALOGUE_PATH\n"
        "from ehcp_workflow.core.evaluator import evaluate_caseload\n"
        "c = cl.Caseload(cases=cl.normalise_cases(pd.DataFrame([{'case_ref': 'A', 'request_received': '2026-01-05'}])))\n"
        "e = evaluate_caseload(c, load_catalogue(), as_of=dt.date(2026, 3, 1))\n"
        "print(DEFAULT_CATALOGUE_PATH, e.clocks['final_plan'].due[0])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],  # PYTHONPATH comes before the editable checkout
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert str(tmp_path / "site") in run.stdout and "2026-05-25" in run.stdout
