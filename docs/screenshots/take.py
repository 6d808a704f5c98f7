"""Screenshots of the Prefect UI as a manager sees it, after real flow runs on the demo council.

    .venv/bin/python docs/screenshots/take.py [--workdir /tmp/ehcp-screens] [--cases 20000]

What it does, each step for real (no mocks): writes the 20,000-case demo council and loads it into a
SQLite store; starts ``prefect server start`` on 127.0.0.1:4299 with its own PREFECT_HOME; runs the
nightly flow for 2026-11-20 (the store's opening night) and 2026-11-21, a dry-run dispatch, and the
weekly report flow for Monday 2026-11-23 as a dry run (no alert channel configured anywhere); then
opens the artifacts' pages in headless Chromium (Debian ``chromium``: ``apt-get install chromium``)
and saves PNGs beside this script. The server is stopped at the end.

The pages are the UI's own: ``/v2/...`` is the React UI Prefect 3.8 opens by default, ``/artifacts/...``
the older Vue UI; both render the charts, which are embedded in the markdown artifacts as
``data:image/png`` URIs (see ``ehcp_workflow/reporting/dashboard.py``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PORT = 4299
API = f"http://127.0.0.1:{PORT}/api"
UI = f"http://127.0.0.1:{PORT}"
WIDTH = 1600  # wide enough for every column of the backlog table

#: JavaScript: true once ``n`` images have loaded with real pixels (the embedded charts drawn).
IMAGES = "(() => {{ const i = [...document.images].filter(x => x.src.startsWith('data:image/png'));"
IMAGES += " return i.length >= {n} && i.every(x => x.complete && x.naturalWidth > 0); }})()"
#: JavaScript: true once ``text`` is on the page.
TEXT = "document.body.innerText.includes({text!r})"

#: (file name, UI path, window height, what the page must show first).
SHOTS = (
    ("01-weekly-charts.png", "/v2/artifacts/artifact/{weekly-charts}", 2900, IMAGES.format(n=4)),
    ("02-nightly-backlog-chart.png", "/v2/artifacts/artifact/{backlog-chart}", 950, IMAGES.format(n=1)),
    (
        "03-nightly-backlog-by-team-table.png",
        "/v2/artifacts/artifact/{backlog-by-team}",
        800,
        TEXT.format(text="Over 100 weeks"),
    ),
    (
        "04-nightly-breach-summary.png",
        "/v2/artifacts/artifact/{breach-summary}",
        2000,
        TEXT.format(text="Longest waits"),
    ),
    (
        "05-weekly-kpi-plans-issued-table.png",
        "/v2/artifacts/artifact/{kpi-plans-issued}",
        950,
        TEXT.format(text="within 20 weeks"),
    ),
    ("06-artifacts-list.png", "/v2/artifacts", 1300, TEXT.format(text="weekly-charts")),
    ("07-weekly-charts-older-ui.png", "/artifacts/artifact/{weekly-charts}", 2700, IMAGES.format(n=4)),
)

FLOWS = """
import datetime as dt
from flows.nightly import nightly_compliance
from flows.dispatch import dispatch_alerts
nightly_compliance(as_of=dt.date(2026, 11, 20))
dispatch_alerts(as_of=dt.date(2026, 11, 20), dry_run=True)
nightly_compliance(as_of=dt.date(2026, 11, 21))
dispatch_alerts(as_of=dt.date(2026, 11, 21), dry_run=True)
"""
#: The weekly report as a dry run, in a process where no alert channel is configured at all.
WEEKLY = """
import datetime as dt
from flows.weekly import weekly_backlog_report
weekly_backlog_report(as_of=dt.date(2026, 11, 23), report_dir=REPORTS, dry_run=True)
"""


def run(args: list[str], env: dict[str, str]) -> None:
    sys.stderr.write(f"+ {' '.join(args)}\n")
    subprocess.run(args, cwd=ROOT, env=env, check=True)


def wait_for_api(timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{API}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    raise SystemExit(f"the Prefect server did not answer on {API} within {timeout:.0f} s")


def latest_artifact_ids(keys: list[str]) -> dict[str, str]:
    """The id of the newest artifact with each key (``/artifacts/{key}/latest`` answers with the
    key's collection, whose id is not an artifact's)."""
    ids = {}
    for key in keys:
        body = {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}
        request = urllib.request.Request(
            f"{API}/artifacts/filter",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            [found] = json.load(response)
        ids[key] = found["id"]
    return ids


class Browser:
    """Headless Chromium driven over the DevTools protocol (``websockets``, already installed with
    Prefect): the page is shot once the UI has fetched and drawn what ``ready`` (a JavaScript
    expression) waits for. The CLI's ``--screenshot`` shoots at the load event, before the app has
    asked the API for anything, and its virtual time makes the app's own connection check time out."""

    def __init__(self, binary: str, port: int = 9333) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="ehcp-screens-chromium-"))
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                    pages = [t for t in json.load(response) if t["type"] == "page"]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        from websockets.sync.client import connect

        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict[str, object]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, object] = message["result"]
                return result

    def shoot(self, url: str, path: Path, height: int, ready: str, timeout: float = 120.0) -> None:
        sys.stderr.write(f"+ chromium {url} -> {path.name}\n")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while True:
            value = self.call("Runtime.evaluate", expression=ready, returnByValue=True)["result"]
            if isinstance(value, dict) and value.get("value") is True:
                break
            if time.monotonic() > deadline:
                failed = path.with_suffix(".failed.png")
                failed.write_bytes(
                    base64.b64decode(str(self.call("Page.captureScreenshot", format="png")["data"]))
                )
                page = "document.body.innerText.slice(0, 1500) + ' | images: ' + "
                page += "[...document.images].map(x => x.src.slice(0, 40) + ' ' + x.naturalWidth).join(', ')"
                text = self.call("Runtime.evaluate", expression=page, returnByValue=True)["result"]
                raise SystemExit(f"{url}: the page never showed {ready}; see {failed}; it shows: {text}")
            time.sleep(1)
        time.sleep(2)  # let the last images decode and the layout settle
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(str(shot["data"])))

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ehcp-screens"))
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument(
        "--skip-data",
        action="store_true",
        help="reuse the store and the runs of an earlier call: screenshots only",
    )
    opts = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Chromium: apt-get install chromium")
    work = opts.workdir.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "EHCP_"))}
    env |= {
        "EHCP_DATABASE_URL": f"sqlite:///{work / 'ehcp.db'}",
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    if not opts.skip_data:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        council = work / "council.csv"
        run(
            [
                str(BIN / "ehcp"),
                "demo-data",
                str(council),
                "--cases",
                str(opts.cases),
                "--as-of",
                "2026-11-20",
            ],
            env,
        )
        run([str(BIN / "ehcp"), "db", "upgrade"], env)
        run([str(BIN / "ehcp"), "import", str(council)], env)
        run([str(BIN / "ehcp"), "import", str(work / "council.events.csv")], env)

    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(PORT)],
        cwd=work,
        env=env | {"PREFECT_UI_API_URL": API},  # else the UI asks the default port, 4200
        stdout=(work / "server.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_api()
        flow_env = env | {"PREFECT_API_URL": API}
        if not opts.skip_data:
            # the dry-run dispatch checks routes against the shipped config/notifications.yaml (no secret)
            run([sys.executable, "-c", FLOWS], flow_env)
            weekly = WEEKLY.replace("REPORTS", repr(str(work / "reports")))
            no_channels = flow_env | {"EHCP_NOTIFICATIONS_CONFIG": str(work / "no-such-file.yaml")}
            run([sys.executable, "-c", weekly], no_channels)
        keys = sorted({p.split("{")[1].rstrip("}") for _, p, _, _ in SHOTS if "{" in p})
        ids = latest_artifact_ids(keys)
        chromium = Browser(browser)
        try:
            for name, path, height, ready in SHOTS:
                chromium.shoot(UI + path.format_map(ids), OUT / name, height, ready)
        finally:
            chromium.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its own children, started above
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
