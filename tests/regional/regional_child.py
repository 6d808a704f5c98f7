"""The regional night, run as its own process by ``test_regional`` (the test kills workers meanwhile).

``python -m tests.regional.regional_child AS_OF STALL_AFTER_S``: runs the ``regional-nightly`` flow
against the Prefect server in ``PREFECT_API_URL`` (a real flow run, fanning out to the workers) and
prints its result as JSON on the last line of stdout. Exits non-zero if a council's night failed.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from flows.regional import regional_nightly


def main(as_of: str, stall_after_s: str) -> None:
    result = regional_nightly(
        as_of=dt.date.fromisoformat(as_of),
        stall_after_s=float(stall_after_s),
        pending_after_s=300,  # a loaded test machine can take a minute to start a flow's process
        give_up_after_s=400,
        poll_s=0.5,
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
