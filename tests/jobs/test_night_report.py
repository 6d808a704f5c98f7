"""The breach-summary artifact (and ``ehcp nightly``'s output): labelled figures, bands in order."""

from __future__ import annotations

from sqlalchemy import Engine

from ehcp_workflow.jobs.night_report import breach_summary_markdown
from ehcp_workflow.jobs.nightly import TONIGHT_FIGURES, run_nightly
from ehcp_workflow.reporting.labels import column_labels
from tests.jobs.helpers import AS_OF, LATER, LATER_NOW, NOW

BANDS = ("within_20", "over_20", "over_30", "over_52", "over_100")


def test_bands_are_in_reporting_order_and_every_figure_says_what_it_is(store: Engine) -> None:
    run_nightly(store, as_of=AS_OF, now=NOW)
    result = run_nightly(store, as_of=LATER, now=LATER_NOW)
    summary = result.summary.as_dict()
    text = breach_summary_markdown(
        summary, band_labels=BANDS, longest_waits=result.longest_waits.to_dict(orient="records")
    )

    names = column_labels(list(BANDS))  # "Within 20 weeks", "Over 20, up to 30 weeks"...
    assert names[0] == "Within 20 weeks" and names[-1] == "Over 100 weeks"
    positions = [text.index(f"| {name} |") for name in names]
    assert positions == sorted(positions), text  # not alphabetical (over_100 first)
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.endswith(" |")]
    figures = [r for r in rows if r.endswith("| running total |") or r.endswith("| tonight's change |")]
    assert len(figures) == 9
    assert f"| Clocks overdue (advice included) | {summary['overdue_clocks']:,} | running total |" in text
    assert f"| New breaches (became overdue since the last night) | {summary['new_breaches']:,} |" in text
    assert "| New breaches (became overdue since the last night) | " in text
    assert "Longest waits: open requests waiting longest (running total)" in text
    assert "Longest waits crossing a band" not in text
    # the summary's own record of which of its figures are tonight's
    assert {"new_breaches", "band_crossings", "alerts_queued"} <= TONIGHT_FIGURES
    assert not {"overdue_clocks", "open_requests", "invalid_clocks"} & TONIGHT_FIGURES
    weeks = [r["weeks_waiting"] for r in result.longest_waits.to_dict(orient="records")]
    assert weeks == sorted(weeks, reverse=True) and len(weeks) > 0
