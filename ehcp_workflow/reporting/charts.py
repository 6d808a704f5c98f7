"""Charts for the manager report: PNG files drawn with matplotlib's Agg renderer (no display needed).

Each function takes a KPI table from :mod:`ehcp_workflow.reporting.kpis` and writes one PNG. Figures
are built with :class:`matplotlib.figure.Figure` directly (not ``pyplot``), so nothing global is
changed and nothing needs a display.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ehcp_workflow.files import private_file
from ehcp_workflow.reporting.kpis import ALL, PROVIDER_LABELS, NationalFigure, national_figure
from ehcp_workflow.reporting.labels import column_labels

__all__ = [
    "CHART_FILES",
    "advice_by_provider_chart",
    "backlog_bands_chart",
    "backlog_by_team_chart",
    "oldest_case_chart",
    "plans_within_20_weeks_chart",
    "render_charts",
]

#: File name of each chart written by :func:`render_charts`.
CHART_FILES: Final[Mapping[str, str]] = {
    "backlog_bands": "backlog_bands.png",
    "plans_within_20_weeks": "plans_within_20_weeks.png",
    "oldest_case": "oldest_open_case.png",
    "advice_by_provider": "advice_by_provider.png",
}

_SIZE: Final = (10.0, 5.4)
_DPI: Final = 120
_BAND_COLOURS: Final = ("#9ecae1", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
_INK: Final = "#222222"
_MAIN: Final = "#1f4e79"
#: Labels sit on a white box above reference lines, so a line never runs through their text.
_LABEL_BOX: Final = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}


def _figure() -> Figure:
    fig = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
    return fig


def _style(ax: Any) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors=_INK, labelsize=9)


def _dates_axis(ax: Any) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator, offset_formats=["", "%Y", "%b %Y", "%d %b %Y", "%d %b %Y", "%d %b %Y %H:%M"]
    )
    ax.xaxis.set_major_formatter(formatter)


def _no_data(ax: Any, text: str) -> None:
    """Say so in the middle of the axes, instead of leaving an empty frame."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#595959")


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with private_file(path, "wb") as fh:  # 0600 from the start, like every report file
        fh.write(_png(fig))
    return path


def _png(fig: Figure) -> bytes:
    """The figure as PNG bytes: for a file, or embedded in a Prefect artifact (no file at all)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _month_ticks(months: list[pd.Period]) -> list[str]:
    """ "Apr\n2025", "May", ...: the year under the first tick and wherever it changes."""
    out = []
    for i, m in enumerate(months):
        new_year = i == 0 or m.year != months[i - 1].year
        out.append(m.strftime("%b\n%Y") if new_year else m.strftime("%b"))
    return out


def backlog_bands_chart(trend: pd.DataFrame, path: Path, *, subtitle: str = "") -> Path:
    """Stacked area: open requests by waiting band, week by week (``kpis.backlog_trend``, all teams)."""
    t = trend[trend["team"] == ALL] if "team" in trend else trend
    bands = [c for c in t.columns if c.startswith(("within_", "over_"))]
    x = pd.to_datetime(t["week_ending"]).to_numpy()
    fig = _figure()
    ax = fig.add_subplot()
    ax.stackplot(
        x,
        *[t[c].to_numpy(dtype=float) for c in bands],
        labels=column_labels(bands),  # "Within 20 weeks", "Over 20, up to 30 weeks"...
        colors=_BAND_COLOURS[: len(bands)],
        edgecolor="white",
        linewidth=0.3,
    )
    _style(ax)
    _dates_axis(ax)
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(0, max(1.0, float(t["total"].max()) * 1.08))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Week ending")
    ax.set_ylabel("Open requests")
    ax.set_title(
        "Open EHC needs assessment requests by weeks waiting" + (f"\n{subtitle}" if subtitle else "")
    )
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles[::-1],
        labels[::-1],
        title="Waiting since the request",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    return _save(fig, path)


def backlog_by_team_chart(
    table: pd.DataFrame, band_labels: Sequence[str], *, title: str, total_row: str = "All teams"
) -> bytes:
    """Stacked horizontal bars: open requests by team and waiting band (``figures.backlog_by_team``),
    one bar per team, largest at the top, the council-wide row left out (it would dwarf the
    teams). PNG bytes: the nightly embeds it in an artifact, nothing is written to disk."""
    bands = [b for b in band_labels if b in table.columns]
    teams = table[table["team"] != total_row]
    teams = teams.assign(_n=teams[bands].sum(axis=1)).sort_values(["_n", "team"], ascending=[True, False])
    fig = Figure(figsize=(10.0, max(2.6, 1.0 + 0.55 * len(teams))), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(teams))
    left = np.zeros(len(teams))
    for band, colour, label in zip(bands, _BAND_COLOURS, column_labels(bands), strict=False):
        values = teams[band].to_numpy(dtype=float)
        ax.barh(y, values, left=left, color=colour, edgecolor="white", linewidth=0.5, label=label)
        left += values
    for yi, n in zip(y, left, strict=True):
        ax.annotate(f"{n:,.0f}", (n, yi), textcoords="offset points", xytext=(4, 0), va="center", fontsize=9)
    if not len(teams):
        _no_data(ax, "No open requests")
    ax.set_yticks(y)
    ax.set_yticklabels([str(t) for t in teams["team"]])
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors=_INK, labelsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(1.0, float(left.max()) if len(left) else 1.0) * 1.1)
    ax.set_xlabel("Open requests")
    ax.set_title(title)
    ax.legend(
        title="Waiting since the request",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    return _png(fig)


def plans_within_20_weeks_chart(
    plans: pd.DataFrame, path: Path, *, national: NationalFigure | None = None, subtitle: str = ""
) -> Path:
    """% of new plans issued within 20 weeks by month (``kpis.plans_issued``, all teams), with England's
    figure (statutory-rules §5) as a dashed reference line labelled with its year and source."""
    p = plans[(plans["team"] == ALL) & (plans["month"] != ALL)]
    months = pd.PeriodIndex(p["month"], freq="M")
    if national is None:
        national = national_figure(int(months[-1].year) if len(months) else 2024)
    x = np.arange(len(p))
    fig = _figure()
    ax = fig.add_subplot()
    _style(ax)
    excl = p["pct_within_20_weeks_ex"].to_numpy(dtype=float)
    incl = p["pct_within_20_weeks"].to_numpy(dtype=float)
    ax.plot(x, excl, color=_MAIN, marker="o", linewidth=2.2, label="This council, excluding exceptions")
    ax.plot(
        x,
        incl,
        color="#6baed6",
        marker="s",
        markersize=4,
        linewidth=1.4,
        label="This council, including exceptions",
    )
    ax.axhline(
        national.pct_excluding_exceptions,
        color="#c0392b",
        linestyle="--",
        linewidth=1.6,
        label=(
            f"England {national.year}: {national.pct_excluding_exceptions:.1f}% excluding exceptions "
            f"({national.source})"
        ),
    )
    if np.all(np.isnan(excl)) and np.all(np.isnan(incl)):
        _no_data(ax, "No plans issued in the period")
    annotate = len(x) <= 18
    if annotate:
        for xi, v, n in zip(x, excl, p["plans_issued_ex"].to_numpy(), strict=True):
            if not np.isnan(v):
                ax.annotate(
                    f"{v:.0f}%",
                    (xi, v),
                    textcoords="offset points",
                    xytext=(0, 8),
                    ha="center",
                    fontsize=8,
                    color=_MAIN,
                    bbox=_LABEL_BOX,
                    zorder=5,
                )
            ax.annotate(
                f"n={n}",
                (xi, 0),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=7,
                color="#666666",
            )
    step = max(1, int(np.ceil(len(x) / 14)))
    ax.set_xticks(x[::step])
    ax.set_xticklabels(_month_ticks(list(months[::step])))
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("Month the plan was issued" + (" (n = plans excluding exceptions)" if annotate else ""))
    ax.set_ylabel("Plans issued within 20 weeks")
    ax.set_title(
        "New EHC plans issued within 20 weeks of the request" + (f"\n{subtitle}" if subtitle else "")
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False, fontsize=9)
    return _save(fig, path)


def oldest_case_chart(trend: pd.DataFrame, path: Path, *, limit_weeks: int = 20, subtitle: str = "") -> Path:
    """Weeks waited by the oldest open request, week by week (``kpis.backlog_trend``, all teams)."""
    t = trend[trend["team"] == ALL] if "team" in trend else trend
    x = pd.to_datetime(t["week_ending"]).to_numpy()
    y = t["oldest_weeks"].to_numpy(dtype=float)
    fig = _figure()
    ax = fig.add_subplot()
    _style(ax)
    _dates_axis(ax)
    ax.plot(x, y, color=_MAIN, linewidth=2.2, label="Oldest open request")
    ax.axhline(
        limit_weeks,
        color="#c0392b",
        linestyle="--",
        linewidth=1.4,
        label=f"{limit_weeks}-week limit (reg 13(2))",
    )
    if len(y) and not np.all(np.isnan(y)):
        last = len(y) - 1
        if not np.isnan(y[last]):
            ax.annotate(
                f"{y[last]:.0f} weeks",
                (x[last], y[last]),
                textcoords="offset points",
                xytext=(-6, 8),
                ha="right",
                fontsize=9,
                color=_MAIN,
                bbox=_LABEL_BOX,
            )
    top = float(np.nanmax(y)) if len(y) and not np.all(np.isnan(y)) else float(limit_weeks)
    ax.set_ylim(0, max(top, limit_weeks) * 1.12)
    ax.set_xlim(x.min(), x.max())
    ax.set_xlabel("Week ending")
    ax.set_ylabel("Weeks since the request")
    ax.set_title("Oldest open EHC needs assessment request" + (f"\n{subtitle}" if subtitle else ""))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False, fontsize=9)
    return _save(fig, path)


def advice_by_provider_chart(advice: pd.DataFrame, path: Path, *, subtitle: str = "") -> Path:
    """Horizontal bars: % of advice returned within 6 weeks by provider over the period
    (``kpis.advice_timeliness``, the ``All`` month rows)."""
    a = advice[(advice["month"] == ALL) & (advice["provider"] != ALL)]
    a = a[a["advice_returned"] > 0].sort_values("pct_within_6_weeks")
    total = advice[(advice["month"] == ALL) & (advice["provider"] == ALL)]
    fig = _figure()
    ax = fig.add_subplot()
    y = np.arange(len(a))
    pct = a["pct_within_6_weeks"].to_numpy(dtype=float)
    ax.barh(y, pct, color=_MAIN, height=0.6)
    ax.set_yticks(y)
    ax.set_yticklabels([PROVIDER_LABELS.get(p, p) for p in a["provider"]])
    for yi, v, n in zip(y, pct, a["advice_returned"].to_numpy(), strict=True):
        ax.annotate(
            f"{v:.0f}%  (n={n:,})",
            (v, yi),
            textcoords="offset points",
            xytext=(4, 0),
            va="center",
            fontsize=9,
            color=_INK,
            bbox=_LABEL_BOX,
            zorder=5,
        )
    if len(total) and not np.isnan(float(total["pct_within_6_weeks"].iloc[0])):
        overall = float(total["pct_within_6_weeks"].iloc[0])
        ax.axvline(
            overall,
            color="#c0392b",
            linestyle="--",
            linewidth=1.4,
            label=f"All providers: {overall:.0f}%",
            zorder=1,
        )
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False, fontsize=9)
    if not len(a):
        _no_data(ax, "No advice received in the period")
        ax.set_yticks([])
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors=_INK, labelsize=9)
    ax.set_xlim(0, 115)
    ax.set_xticks(range(0, 101, 20))
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("Advice received within 6 weeks of the request (n = advice received)")
    ax.set_title(
        "Advice for EHC needs assessments returned within 6 weeks, by provider"
        + (f"\n{subtitle}" if subtitle else "")
    )
    return _save(fig, path)


def render_charts(
    kpis: Mapping[str, pd.DataFrame],
    out_dir: Path,
    *,
    subtitle: str = "",
    national: NationalFigure | None = None,
) -> dict[str, Path]:
    """Write every chart of :data:`CHART_FILES` for the KPI tables of :func:`kpis.compute_kpis`."""
    out = Path(out_dir)
    return {
        "backlog_bands": backlog_bands_chart(
            kpis["backlog_trend"], out / CHART_FILES["backlog_bands"], subtitle=subtitle
        ),
        "plans_within_20_weeks": plans_within_20_weeks_chart(
            kpis["plans_issued"],
            out / CHART_FILES["plans_within_20_weeks"],
            national=national,
            subtitle=subtitle,
        ),
        "oldest_case": oldest_case_chart(
            kpis["backlog_trend"], out / CHART_FILES["oldest_case"], subtitle=subtitle
        ),
        "advice_by_provider": advice_by_provider_chart(
            kpis["advice_timeliness"], out / CHART_FILES["advice_by_provider"], subtitle=subtitle
        ),
    }
