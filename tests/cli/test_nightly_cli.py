"""``ehcp nightly`` and ``ehcp dispatch``: the scheduled jobs from cron, with no Prefect anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import AS_OF, Run, said, write_csv

ROOT = Path(__file__).resolve().parents[2]

#: In one process: load a store, run the night and the dispatch (dry and real, to a JSON webhook on
#: 127.0.0.1 routed for every recipient), then report the exit codes, what the webhook received and
#: whether any Prefect module was ever imported.
SCRIPT = """
import http.server, json, sys, threading
from typer.testing import CliRunner
from ehcp_workflow.cli import app
from ehcp_workflow.db import make_engine
from ehcp_workflow.jobs.dispatch import pending_alerts
import datetime as dt

url, csv_file, routes, as_of = sys.argv[1:5]
posts = []

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
runner = CliRunner()
def run(*args):
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.output

codes = [run("db", "upgrade")[0], run("import", csv_file)[0]]
dry = run("nightly", "--as-of", as_of, "--dry-run")
codes.append(dry[0])
night = run("nightly", "--as-of", as_of)
codes.append(night[0])
engine = make_engine(url)
tags = sorted({r["recipient"] for r in pending_alerts(engine, now=dt.datetime.now(dt.UTC), max_attempts=5)})
with open(routes, "w") as f:
    f.write("version: 1\\nurls:\\n  - json://127.0.0.1:%d/:\\n      tag: %s\\n" % (server.server_address[1], ", ".join(tags)))
dry_send = run("dispatch", "--as-of", as_of, "--dry-run", "--notifications", routes)
codes.append(dry_send[0])
posted_after_dry_run = len(posts)
send = run("dispatch", "--as-of", as_of, "--notifications", routes)
codes.append(send[0])
print(json.dumps({
    "codes": codes,
    "outputs": [dry[1], night[1], dry_send[1], send[1]],
    "tags": tags,
    "posted_after_dry_run": posted_after_dry_run,
    "titles": sorted(p["title"] for p in posts),
    "prefect": sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect.")),
}))
"""


def test_nightly_and_dispatch_run_the_jobs_without_prefect(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "caseload.csv")
    url = f"sqlite:///{tmp_path / 'ehcp.db'}"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, str(csv_file), str(tmp_path / "routes.yaml"), AS_OF],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0] * 6, report["outputs"]
    assert report["prefect"] == []
    dry, night, dry_send, send = report["outputs"]
    assert "(dry run: nothing written)" in dry
    assert "Opening night" in night and "| Clocks overdue (advice included) |" in night
    # one opening position for managers and one worklist per recipient, and nothing else
    assert "managers" in report["tags"] and len(report["tags"]) >= 3
    assert report["posted_after_dry_run"] == 0 and "would be sent" in dry_send
    titles = report["titles"]
    assert len(titles) == len(report["tags"])  # every case has a caseworker: one message per tag
    assert sum(t.startswith("EHC opening position") for t in titles) == 1
    assert f"{len(titles)} message(s) sent" in send


def test_a_second_nightly_queues_nothing_new_and_says_so(ehcp: Run, caseload_csv: Path) -> None:
    assert ehcp("import", str(caseload_csv)).exit_code == 0
    first = ehcp("nightly", "--as-of", AS_OF)
    again = ehcp("nightly", "--as-of", AS_OF)
    assert first.exit_code == again.exit_code == 0, said(first)
    assert "0 alert(s) and message(s) queued" in said(again)


def test_dispatch_refuses_routes_with_missing_secrets(ehcp: Run, caseload_csv: Path, tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("version: 1\nurls:\n  - ${EHCP_TEST_NO_SUCH_URL}:\n      tag: managers\n")
    assert ehcp("import", str(caseload_csv)).exit_code == 0
    result = ehcp("dispatch", "--as-of", AS_OF, "--notifications", str(routes))
    assert result.exit_code == 2
    assert "EHCP_TEST_NO_SUCH_URL" in said(result)
