"""``ehcp case show REF`` as a whole process, the way a caseworker runs it (issue 12: at most 0.5 s).

Times N runs of the installed ``ehcp`` program (interpreter start, imports, the store read, the
evaluation, the output, the exit) against a store, next to two floors: a bare interpreter and the
import of the CLI alone. Prints the median and the minimum of each, and the machine's load, since
on a shared machine the load moves every figure.

Usage::

    .venv/bin/python -m bench.case_show --url sqlite:////tmp/cs/store.db            # picks a case
    .venv/bin/python -m bench.case_show --url sqlite:////tmp/cs/store.db --ref C0009999 --runs 20

The reference defaults to the middle case of the store by reference. The output goes to
``/dev/null`` (so rich renders as for a pipe); a run that fails stops the benchmark.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

AS_OF = "2026-11-20"


def ehcp_program() -> str:
    """The ``ehcp`` console script beside this interpreter (what ``make install`` puts in .venv)."""
    program = Path(sys.executable).with_name("ehcp")
    if not program.exists():
        raise SystemExit(f"no ehcp program beside {sys.executable}: run make install")
    return str(program)


def middle_case(url: str) -> str:
    """The store's middle case by reference: neither the first page of the index nor the last."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ref = conn.execute(
                text(
                    "SELECT case_ref FROM ehcp_case ORDER BY case_ref LIMIT 1 "
                    "OFFSET (SELECT COUNT(*) FROM ehcp_case) / 2"
                )
            ).scalar()
    finally:
        engine.dispose()
    if ref is None:
        raise SystemExit(f"no cases in {url}")
    return str(ref)


def time_runs(command: Sequence[str], runs: int, warmup: int) -> list[float]:
    """Seconds per whole-process run of ``command`` (after ``warmup`` untimed runs)."""
    times: list[float] = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        if i >= warmup:
            times.append(elapsed)
    return times


def _line(label: str, times: Sequence[float]) -> str:
    return (
        f"{label:<38} median {statistics.median(times) * 1000:7.0f} ms   "
        f"min {min(times) * 1000:7.0f} ms   ({len(times)} runs)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EHCP_DATABASE_URL", "sqlite:///ehcp.db"))
    parser.add_argument("--ref", help="the case to show (default: the store's middle case)")
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)

    ref = args.ref or middle_case(args.url)
    show = [ehcp_program(), "case", "show", ref, "--as-of", args.as_of, "--database-url", args.url]
    floors = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import ehcp_workflow.cli'": [sys.executable, "-c", "import ehcp_workflow.cli"],
    }
    load = os.getloadavg()
    print(f"ehcp case show {ref} on {args.url}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for label, command in floors.items():
        print(_line(label, time_runs(command, args.runs, args.warmup)))
    print(_line("ehcp case show", time_runs(show, args.runs, args.warmup)))


if __name__ == "__main__":
    main()
