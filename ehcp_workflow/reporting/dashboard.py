"""What the Prefect UI shows managers: tables with human headers, and charts embedded in markdown.

Why embedded: the Prefect server stores artifacts but serves no files, and the ``file://`` links the
weekly run used to publish open on no other machine. Prefect 3.8's UI renders a markdown image whose
source is a ``data:image/...`` URI: the React UI (the default) allows the ``data:`` scheme for
``<img src>`` in its sanitiser on purpose, and the older Vue UI renders it too. So a chart travels
inside its artifact and shows in any browser that can open the UI (verified by the screenshots in
``docs/screenshots/``, made by ``docs/screenshots/take.py``). A PNG of ~60 KB becomes ~80 KB of text
in Prefect's database per chart per run: small beside the run's logs.

No Prefect import here: the flows call Prefect's artifact functions with what these functions build,
and the tests can check the content without a Prefect server.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ehcp_workflow.core.figures import RUNNING_TOTAL
from ehcp_workflow.reporting.kpis import KPI_INFO
from ehcp_workflow.reporting.labels import column_labels, display_frame

__all__ = [
    "CHART_CAPTIONS",
    "KIND_NOTES",
    "band_order",
    "charts_markdown",
    "data_uri",
    "image_markdown",
    "kpi_description",
    "table_rows",
]

#: What each weekly chart shows and which kind of figure it is (a running total or a period's count).
CHART_CAPTIONS: Final[Mapping[str, tuple[str, str]]] = {
    "backlog_bands": (
        "Open requests by weeks waiting",
        f"Each week's end, replayed from the case dates: a {RUNNING_TOTAL} at each date.",
    ),
    "oldest_case": (
        "Oldest open request",
        f"Weeks waited by the oldest open request at each week's end ({RUNNING_TOTAL}).",
    ),
    "plans_within_20_weeks": (
        "New plans issued within 20 weeks",
        "Plans issued in each month (a count per month, not a running total), with England's figure.",
    ),
    "advice_by_provider": (
        "Advice returned within 6 weeks, by provider",
        "Advice received over the whole period (a count over the period, not a running total).",
    ),
}

#: How a KPI table's figures read, by its kind (:class:`ehcp_workflow.reporting.kpis.KpiInfo`).
KIND_NOTES: Final[Mapping[str, str]] = {
    "flow": "counts of what happened in each month (not running totals)",
    "snapshot": f"the {RUNNING_TOTAL} at each date",
    "trend": f"the {RUNNING_TOTAL} at each date",
    "cohort": "counts per cohort",
}


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...``: an image the UI renders without fetching anything."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_markdown(alt: str, png: bytes) -> str:
    """A markdown image of ``png``, embedded (``alt`` must not contain brackets)."""
    return f"![{alt.replace('[', '(').replace(']', ')')}]({data_uri(png)})"


def charts_markdown(charts: Mapping[str, Path], *, heading: str, order: Sequence[str] = ()) -> str:
    """One markdown page of the weekly charts, each under a heading with what kind of figure it is.

    ``charts`` maps a chart name (:data:`ehcp_workflow.reporting.charts.CHART_FILES`) to its PNG file;
    the files are read and embedded, so the page needs no access to the flow's host.
    """
    names = [*[n for n in order if n in charts], *sorted(set(charts) - set(order))]
    lines = [f"# {heading}", ""]
    for name in names:
        title, caption = CHART_CAPTIONS.get(name, (name.replace("_", " ").capitalize(), ""))
        lines += [f"## {title}", "", f"_{caption}_" if caption else "", ""]
        lines += [image_markdown(title, Path(charts[name]).read_bytes()), ""]
    return "\n".join(lines)


def band_order(columns: Sequence[str], band_labels: Sequence[str]) -> list[str]:
    """``columns`` with the waiting bands in reporting order (within 20, over 20 ... over 100) where
    they were, whatever order they came in; other columns keep their places."""
    bands = [b for b in band_labels if b in columns]
    queue = iter(bands)
    return [next(queue) if c in bands else c for c in columns]


def _cell(value: Any) -> Any:
    """A JSON-friendly cell: floats to one decimal, NaN/NA to None, dates and periods as text."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 1)
    if isinstance(value, int | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item())
    return str(value)


def table_rows(
    frame: pd.DataFrame, *, table: str = "", band_labels: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """A table artifact's rows with the headers people read ("% within 20 weeks (excl.
    exceptions)", "Over 20, up to 30 weeks"), key values relabelled ("Apr 2025", "All teams") and
    the waiting bands in reporting order."""
    columns = band_order([str(c) for c in frame.columns], band_labels) if band_labels else list(frame.columns)
    shown = display_frame(frame[columns])
    shown.columns = pd.Index(column_labels([str(c) for c in columns], table))
    return [{str(k): _cell(v) for k, v in row.items()} for row in shown.to_dict(orient="records")]


def kpi_description(name: str, as_of: str, period: str) -> str:
    """A table artifact's description: the KPI's title, what kind of figures it holds, and when."""
    info = KPI_INFO.get(name)
    if info is None:
        return f"{name.replace('_', ' ').capitalize()}, as of {as_of}"
    return f"**{info.title}** ({period}, as of {as_of}): {KIND_NOTES[info.kind]}. {info.definition}"
