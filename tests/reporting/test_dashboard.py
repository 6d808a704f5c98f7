"""What the Prefect UI shows managers (``reporting/dashboard.py``): human headers, bands in reporting
order, charts embedded as images the UI renders. No Prefect here; tests/flows reads the artifacts."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from ehcp_workflow.reporting.charts import backlog_by_team_chart
from ehcp_workflow.reporting.dashboard import (
    band_order,
    charts_markdown,
    image_markdown,
    kpi_description,
    table_rows,
)
from tests.reporting.helpers import EMBEDDED, PNG

BANDS = ("within_20", "over_20", "over_30", "over_52", "over_100")


def test_table_rows_have_human_headers_and_bands_in_reporting_order() -> None:
    # the columns arrive alphabetically, as a dict of band counts would give them
    frame = pd.DataFrame(
        {
            "team": ["All teams", "North"],
            "over_100": [1, 0],
            "over_20": [3, 1],
            "over_30": [2, 2],
            "over_52": [0, 0],
            "within_20": [9, 4],
            "total": [15, 7],
        }
    )

    rows = table_rows(frame, band_labels=BANDS)

    assert list(rows[0]) == [
        "Team",
        "Within 20 weeks",
        "Over 20, up to 30 weeks",
        "Over 30, up to 52 weeks",
        "Over 52, up to 100 weeks",
        "Over 100 weeks",
        "Open requests",
    ]
    assert rows[0]["Over 100 weeks"] == 1 and rows[1]["Within 20 weeks"] == 4 and rows[1]["Team"] == "North"


def test_kpi_rows_read_as_people_write_them() -> None:
    frame = pd.DataFrame(
        {
            "team": ["All"],
            "month": ["2026-04"],
            "plans_issued": [12],
            "pct_within_20_weeks": [58.33333],
            "pct_within_20_weeks_ex": [float("nan")],
        }
    )

    [row] = table_rows(frame, table="plans_issued")

    assert row == {
        "Team": "All teams",
        "Month": "Apr 2026",
        "Plans issued": 12,
        "% within 20 weeks (incl. exceptions)": 58.3,
        "% within 20 weeks (excl. exceptions)": None,
    }
    assert not any("_" in key for key in row)


def test_band_order_moves_only_the_bands() -> None:
    assert band_order(["team", "over_100", "x", "within_20"], BANDS) == ["team", "within_20", "x", "over_100"]


def test_the_nightly_chart_is_a_png_embedded_in_markdown() -> None:
    table = pd.DataFrame(
        {"team": ["North", "South", "All teams"], **{b: [i, 2 * i, 3 * i] for i, b in enumerate(BANDS)}}
    )
    png = backlog_by_team_chart(table, BANDS, title="Open requests by team")

    text = image_markdown("Open requests [by team]", png)

    [(alt, payload)] = EMBEDDED.findall(text)
    assert alt == "Open requests (by team)"  # brackets would end the alt text early
    assert base64.b64decode(payload) == png and png.startswith(PNG)


def test_charts_page_embeds_every_chart_in_order_and_says_what_each_figure_is(tmp_path: Path) -> None:
    table = pd.DataFrame({"team": ["North"], **{b: [1] for b in BANDS}})
    files = {}
    for name in ("advice_by_provider", "backlog_bands", "oldest_case"):
        files[name] = tmp_path / f"{name}.png"
        files[name].write_bytes(backlog_by_team_chart(table, BANDS, title=name))

    text = charts_markdown(files, heading="Weekly", order=("backlog_bands", "oldest_case"))

    images = EMBEDDED.findall(text)
    assert [alt for alt, _ in images] == [
        "Open requests by weeks waiting",
        "Oldest open request",
        "Advice returned within 6 weeks, by provider",
    ]
    assert base64.b64decode(images[0][1]) == files["backlog_bands"].read_bytes()
    assert "file://" not in text and str(tmp_path) not in text  # nothing only the flow's host can open
    assert "running total" in text.split("## Oldest open request")[1].split("##")[0]
    assert "not a running total" in text.split("## Advice returned")[1]


def test_kpi_description_says_which_kind_of_figure_a_table_holds() -> None:
    assert "not running totals" in kpi_description("plans_issued", "2026-11-20", "Dec 2025 to Nov 2026")
    assert "running total" in kpi_description("outstanding_assessments", "2026-11-20", "a year")
