"""A real regional deployment on 127.0.0.1, for ``test_regional``: a Prefect server on PostgreSQL, a
process work pool, ``prefect worker`` processes, and the Prefect REST API to look at what happened.

Every process is started in its own session (so a worker and the flow runs it spawned can be killed
together, as when its machine dies) and every wait is a poll against a deadline, never a sleep
standing in for "long enough". Processes get an environment with no ``PREFECT_*``/``EHCP_*`` of the
test process (the flow harness of other tests sets some), plus exactly what each one needs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "ehcp-process"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], *, within: float, every: float = 0.25) -> T:
    """Poll ``probe`` until it returns something other than ``None`` (or fail after ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        time.sleep(every)  # the poll interval; the deadline above is what bounds the wait


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "EHCP_"))}
    env.update(extra)
    return env


def children_of() -> dict[int, list[int]]:
    """Every process's children, from /proc (no psutil here)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree = children_of()
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def socket_owner(local_port: int) -> int | None:
    """The pid holding the TCP socket bound locally to ``local_port`` (a PostgreSQL client's port,
    as ``pg_stat_activity.client_port`` shows it), from /proc/net/tcp and /proc/<pid>/fd."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(f"socket:[{parts[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return int(entry.name)
            except OSError:
                continue
    return None


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill_with_children(self) -> list[int]:
        """SIGKILL this process and every process it started (its flow runs run in sessions of
        their own, so a process-group kill would miss them): a worker's machine dying."""
        victims = [*descendants(self.pid), self.pid]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        return victims

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        rest = descendants(self.pid)
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        for pid in rest:  # flow runs it left behind, in their own sessions
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Cluster:
    """A Prefect server on PostgreSQL and its workers, all on 127.0.0.1."""

    home: Path
    prefect_db_url: str
    store_url: str
    port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="false",
            EHCP_DATABASE_URL=self.store_url,
            **extra,
        )

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Process:
        log = self.home / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args, cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def run(self, args: list[str], *, within: float = 180) -> str:
        done = subprocess.run(
            args, cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=within, check=False
        )
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start_server(self) -> Process:
        """Start the server (its first start migrates its PostgreSQL database: up to a minute);
        :meth:`wait_healthy` waits for it, so the caller can prepare other things meanwhile."""
        return self.spawn(
            "server",
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            # not PREFECT_API_URL: the server must not try to talk to itself before it is up
            {**self.env(PREFECT_API_DATABASE_CONNECTION_URL=self.prefect_db_url), "PREFECT_API_URL": ""},
        )

    def wait_healthy(self, server: Process) -> None:
        def healthy() -> bool | None:
            if server.popen.poll() is not None:
                raise AssertionError(f"the Prefect server exited:\n{server.tail()}")
            try:
                return True if httpx.get(f"{self.api}/health", timeout=2).status_code == 200 else None
            except httpx.HTTPError:
                return None

        wait_for("the Prefect server's /api/health", healthy, within=240)

    def start_worker(self, name: str) -> Process:
        return self.spawn(
            name,
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name],
            # poll the server every second: runs start promptly, and the test stays short
            self.env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5"),
        )

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def flow_runs(self) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.post("/flow_runs/filter", {"limit": 200})
        return runs

    def flow_run(self, run_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.api}/flow_runs/{run_id}", timeout=10)
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        return run

    def artifacts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.post("/artifacts/filter", {"limit": 200})
        return found

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
