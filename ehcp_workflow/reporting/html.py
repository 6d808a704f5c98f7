"""A self-contained HTML report: headline figures, the charts (embedded as base64 PNG) and KPI tables.

One file, no external assets (no fonts, scripts, stylesheets or images fetched), so it can be mailed
or attached to a committee paper as it is. Counts and percentages only: no case references.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ehcp_workflow.files import private_file
from ehcp_workflow.reporting.kpis import ALL, KPI_INFO, NationalFigure
from ehcp_workflow.reporting.labels import column_labels, display_frame, is_percent

__all__ = ["render_html", "write_html"]

_CSS: Final = """
body{font-family:"Segoe UI",Arial,Helvetica,sans-serif;color:#222;margin:0 auto;max-width:1180px;padding:24px;
line-height:1.4}
h1{color:#1f4e79;margin-bottom:4px}
h2{color:#1f4e79;border-bottom:2px solid #1f4e79;padding-bottom:4px;margin-top:40px}
h3{margin-bottom:6px}p.meta{color:#595959;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{flex:1 1 200px;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;background:#f6f8fa}
.card .value{font-size:1.8em;font-weight:600;color:#1f4e79}.card .label{font-size:.9em}
.card .note{font-size:.8em;color:#595959}
figure{margin:16px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#595959}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.82em;margin:8px 0 18px}
th{background:#1f4e79;color:#fff;padding:5px 7px;text-align:center;vertical-align:bottom}
td{padding:4px 7px;border-bottom:1px solid #e1e4e8;text-align:right;white-space:nowrap}
td.key{text-align:left}tr.total td{font-weight:600;background:#eaf1f8}
p.def{font-size:.88em;margin:4px 0}p.src{font-size:.8em;color:#595959;margin:2px 0 8px}
nav ul{columns:2;font-size:.9em}
footer{margin-top:40px;font-size:.8em;color:#595959;border-top:1px solid #ddd;padding-top:8px}
"""

_KEYS: Final = ("month", "team", "provider", "cohort", "transfer_type", "week_ending")
_TOTALS: Final = ("Period total", "All teams", "All providers", "All types")
_SECTIONS: Final = (
    (
        "assessments",
        "EHC needs assessments",
        ("plans_within_20_weeks",),
        (
            "plans_issued",
            "decisions_to_assess",
            "decisions_not_to_issue",
            "assessments_completed",
            "requests_received",
        ),
    ),
    (
        "backlog",
        "Open requests (the backlog)",
        ("backlog_bands", "oldest_case"),
        ("outstanding_assessments", "backlog_bands"),
    ),
    ("advice", "Advice for assessments", ("advice_by_provider",), ("advice_timeliness",)),
    (
        "reviews",
        "Annual reviews and amendments",
        (),
        ("annual_reviews_in_time", "overdue_reviews", "review_decisions", "amended_plans"),
    ),
    ("phase", "Phase transfer", (), ("phase_transfers",)),
)
_CHART_CAPTIONS: Final = {
    "plans_within_20_weeks": "New EHC plans issued within 20 weeks, by month of issue, and England's.",
    "backlog_bands": "Open requests by weeks waiting since the request, at the end of each week.",
    "oldest_case": "Weeks waited by the oldest open request, at the end of each week.",
    "advice_by_provider": "Advice received within 6 weeks of the request, by provider, over the period.",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


#: Columns that hold a year (a phase-transfer cohort): labels, shown as 2026, never "2,026".
YEAR_COLUMNS = frozenset({"cohort", "year"})


def _format(column: str, value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "–"
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return "–"
    if is_percent(column):
        return f"{float(value):.1f}%"
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(pd.Timestamp(value).strftime("%d %b %Y")).lstrip("0")
    if isinstance(value, np.bool_ | bool):
        return "Yes" if bool(value) else "No"
    if isinstance(value, int | np.integer):
        # a year is a label, not a quantity: 2026, never "2,026"
        return str(int(value)) if column in YEAR_COLUMNS else f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):,.1f}" if column == "mean_weeks" else f"{float(value):,.0f}"
    return str(value)


def _table(frame: pd.DataFrame, key: str, *, drop: tuple[str, ...] = ()) -> str:
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    columns = list(frame.columns)
    shown = display_frame(frame)
    head = "".join(f"<th>{_e(label)}</th>" for label in column_labels(columns, key))
    rows = []
    for values in shown.itertuples(index=False):
        cells = []
        total = False
        for col, v in zip(columns, values, strict=True):
            if col in _KEYS:
                total |= isinstance(v, str) and v in _TOTALS
                cells.append(f'<td class="key">{_e(_format(col, v))}</td>')
            else:
                cells.append(f"<td>{_e(_format(col, v))}</td>")
        rows.append(f"<tr{' class=total' if total else ''}>{''.join(cells)}</tr>")
    body = "".join(rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _blocks(key: str, frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(caption, table html) for a KPI: all teams by month, then by team (or provider) for the period."""
    info = KPI_INFO[key]
    group = "provider" if "provider" in frame.columns else "team"
    if "month" in frame.columns and group in frame.columns:
        by_month = frame[frame[group] == ALL]
        if info.kind == "snapshot":
            last = frame["month"][frame["month"] != ALL].iloc[-1] if len(frame) else None
            by_group = frame[frame["month"] == last]
            group_caption = f"By {group}, at the end of the period"
        else:
            by_group = frame[frame["month"] == ALL]
            group_caption = f"By {group}, whole period"
        label = "All providers" if group == "provider" else "All teams"
        out = [(f"{label}, by month", _table(by_month, key, drop=(group,)))]
        if (by_group[group] != ALL).any():
            out.append((group_caption, _table(by_group, key, drop=("month",))))
        return out
    return [("", _table(frame, key))]


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _cards(kpis: Mapping[str, pd.DataFrame], national: NationalFigure | None) -> str:
    def row(key: str, **where: str) -> pd.Series | None:
        f = kpis.get(key)
        if f is None:
            return None
        for c, v in where.items():
            f = f[f[c] == v]
        return f.iloc[-1] if len(f) else None

    cards: list[tuple[str, str, str]] = []
    plans = row("plans_issued", month=ALL, team=ALL)
    if plans is not None:
        note = f"{int(plans['within_20_weeks_ex']):,} of {int(plans['plans_issued_ex']):,} plans"
        if national is not None:
            note += f"; England {national.year}: {national.pct_excluding_exceptions:.1f}%"
        cards.append(
            (
                _format("pct_", plans["pct_within_20_weeks_ex"]),
                "New plans within 20 weeks (excl. exceptions)",
                note,
            )
        )
        cards.append(
            (
                _format("pct_", plans["pct_within_20_weeks"]),
                "New plans within 20 weeks (incl. exceptions)",
                f"{int(plans['within_20_weeks']):,} of {int(plans['plans_issued']):,} plans",
            )
        )
    bands = row("backlog_bands", team=ALL)
    if bands is not None:
        over = [c for c in bands.index if c.startswith("pct_over_")]
        pct = _format("pct_", bands[over[0]]) if over else "–"
        cards.append(
            (f"{int(bands['total']):,}", "Outstanding assessments now", f"{pct} waiting over 20 weeks")
        )
        cards.append(
            (_format("oldest_weeks", bands["oldest_weeks"]), "Oldest open case (weeks)", "at the report date")
        )
    reviews = row("annual_reviews_in_time", team=ALL)
    if reviews is not None:
        cards.append(
            (
                _format("pct_", reviews["pct_reviewed_within_12_months"]),
                "Plans reviewed within 12 months",
                f"{int(reviews['overdue']):,} reviews overdue",
            )
        )
    advice = row("advice_timeliness", month=ALL, provider=ALL)
    if advice is not None:
        cards.append(
            (
                _format("pct_", advice["pct_within_6_weeks"]),
                "Advice returned within 6 weeks",
                f"{int(advice['advice_returned']):,} pieces of advice",
            )
        )
    items = "".join(
        f'<div class="card"><div class="value">{_e(v)}</div><div class="label">{_e(label)}</div>'
        f'<div class="note">{_e(note)}</div></div>'
        for v, label, note in cards
    )
    return f'<div class="cards">{items}</div>'


def render_html(
    kpis: Mapping[str, pd.DataFrame],
    charts: Mapping[str, Path],
    *,
    title: str,
    period: str,
    as_of: dt.date,
    national: NationalFigure | None = None,
) -> str:
    """The report as one HTML string (charts read from ``charts`` and embedded)."""
    as_at = as_of.strftime("%d %B %Y").lstrip("0")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p class=meta>{_e(period)}. Figures as at {_e(as_at)}.</p></header>",
        _cards(kpis, national),
        "<nav><ul>"
        + "".join(f'<li><a href="#{sid}">{_e(name)}</a></li>' for sid, name, _, _ in _SECTIONS)
        + "</ul></nav>",
    ]
    for sid, name, chart_keys, table_keys in _SECTIONS:
        parts.append(f'<section id="{sid}"><h2>{_e(name)}</h2>')
        for ck in chart_keys:
            if ck in charts:
                parts.append(
                    f"<figure>{_img(charts[ck], _CHART_CAPTIONS[ck])}"
                    f"<figcaption>{_e(_CHART_CAPTIONS[ck])}</figcaption></figure>"
                )
        for key in table_keys:
            if key not in kpis:
                continue
            info = KPI_INFO[key]
            parts.append(f"<h3>{_e(info.title)}</h3>")
            parts.append(f"<p class=def>{_e(info.definition)}</p><p class=src>{_e(info.source)}</p>")
            for caption, table in _blocks(key, kpis[key]):
                if caption:
                    parts.append(f"<p class=def><strong>{_e(caption)}</strong></p>")
                parts.append(table)
        parts.append("</section>")
    parts.append(
        "<footer>Generated by ehcp-workflow from the statutory clock engine: the same due dates and statuses "
        "as the alerts. 'Excl. exceptions' leaves plans with an exception ground out of numerator and "
        "denominator (DfE's measure). Months count events in the month they happened; snapshots are at "
        "the month's end. Week-by-week figures are in the workbook.</footer></body></html>"
    )
    return "\n".join(parts)


def write_html(
    kpis: Mapping[str, pd.DataFrame],
    charts: Mapping[str, Path],
    path: Path,
    *,
    title: str,
    period: str,
    as_of: dt.date,
    national: NationalFigure | None = None,
) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(kpis, charts, title=title, period=period, as_of=as_of, national=national)
    with private_file(path, encoding="utf-8", newline=None) as fh:  # 0600 from the start
        fh.write(page)
    return path
