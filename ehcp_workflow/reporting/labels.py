"""Human labels for KPI columns and values, shared by the workbook and the HTML report."""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from ehcp_workflow.reporting.kpis import ALL, OVERDUE_REVIEW_BUCKETS, PROVIDER_LABELS
from ehcp_workflow.reporting.phase_transfer import STATUS_LABELS

__all__ = ["column_label", "column_labels", "display_frame", "is_percent", "value_label"]

_FIXED: Final = {
    "month": "Month",
    "team": "Team",
    "provider": "Provider",
    "cohort": "Transfer year",
    "transfer_type": "Transfer type",
    "week_ending": "Week ending",
    "snapshot_date": "As at",
    "excepted": "With an exception",
    "agreed": "Agreed to assess",
    "refused": "Refused to assess",
    "pct_agreed": "% agreed to assess",
    "mean_weeks": "Mean weeks to issue",
    "oldest_weeks": "Oldest open case (weeks)",
    "outstanding": "Outstanding assessments",
    "total": "Open requests",
    "overdue": "Overdue reviews",
    "overdue_now": "Overdue now (not yet received)",
    "due": "In cohort",
    "still_open": "Still open",
    "pct_on_time": "% amended on time",
    "within_statutory_time": "Within statutory time",
    "pct_within_statutory_time": "% within statutory time",
    "plans_requiring_review": "Active plans",
    **{s: t for s, t in STATUS_LABELS.items() if s != "overdue"},
}
#: Labels that depend on the table.
_BY_TABLE: Final = {
    "phase_transfers": {"overdue": STATUS_LABELS["overdue"]},
}
_BUCKETS: Final = {
    label: text
    for (label, *_), text in zip(
        OVERDUE_REVIEW_BUCKETS,
        ("Up to 3 months", "3 to 6 months", "6 to 12 months", "1 to 2 years", "Over 2 years"),
        strict=True,
    )
}
_TRANSFER_TYPES: Final = {
    "school": "School (before 15 Feb)",
    "post16": "Secondary to post-16 (before 31 Mar)",
    "post16_other": "Between post-16 (5 months before)",
    ALL: "All types",
}


def column_label(name: str) -> str:
    """``pct_within_20_weeks_ex`` -> "% within 20 weeks (excl. exceptions)", and so on."""
    if name in _FIXED:
        return _FIXED[name]
    if name in _BUCKETS:
        return f"Overdue {_BUCKETS[name].lower()}"
    excl = name.endswith("_ex")
    base = name[:-3] if excl else name
    pct = base.startswith("pct_")
    base = base[4:] if pct else base
    m = re.fullmatch(r"(within|over)_(\d+)", base)
    if m:
        text = f"{m.group(1).capitalize()} {m.group(2)} weeks"
    else:
        text = base.replace("_", " ")
        text = text[0].upper() + text[1:]
    if pct:
        text = "% " + text[0].lower() + text[1:]
    if excl:
        text += " (excl. exceptions)"
    elif name.startswith(("pct_within", "within_")) and name not in ("within_4_weeks", "within_8_weeks"):
        text += " (incl. exceptions)" if _has_exceptions(name) else ""
    return text


def column_labels(columns: list[str], table: str = "") -> list[str]:
    """Labels of a KPI table's columns; the backlog bands read as ranges ("Over 20, up to 30 weeks")."""
    bands = [c for c in columns if re.fullmatch(r"(within|over)_\d+", c)]
    thresholds = sorted(int(c.split("_")[1]) for c in bands if c.startswith("over_"))
    out = []
    for c in columns:
        special = _BY_TABLE.get(table, {})
        if c in special:
            out.append(special[c])
        elif c in bands and c.startswith("over_"):
            t = int(c.split("_")[1])
            later = [x for x in thresholds if x > t]
            out.append(f"Over {t}, up to {later[0]} weeks" if later else f"Over {t} weeks")
        else:
            out.append(column_label(c))
    return out


def _has_exceptions(name: str) -> bool:
    return any(w in name for w in ("6_weeks", "16_weeks", "20_weeks"))


def is_percent(name: str) -> bool:
    return name.startswith("pct_")


def value_label(column: str, value: object) -> object:
    """Display value for ``column``: month ``2025-04`` -> "Apr 2025", ``All`` -> "All teams"..."""
    if value == ALL:
        return {
            "month": "Period total",
            "team": "All teams",
            "provider": "All providers",
            "transfer_type": "All types",
        }.get(column, "All")
    if column == "month" and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
        return pd.Period(value, freq="M").strftime("%b %Y")
    if column == "provider" and isinstance(value, str):
        return PROVIDER_LABELS.get(value, value)
    if column == "transfer_type" and isinstance(value, str):
        return _TRANSFER_TYPES.get(value, value)
    if column == "status" and isinstance(value, str):
        return STATUS_LABELS.get(value, value)
    return value


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with key columns relabelled for people (values only; column names unchanged)."""
    out = frame.copy()
    for c in ("month", "team", "provider", "transfer_type", "status"):
        if c in out:
            out[c] = [value_label(c, v) for v in out[c]]
    return out
