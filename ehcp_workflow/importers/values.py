"""Small value parsers shared by the importers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH = date(1970, 1, 1).toordinal()
_SECONDS_PER_DAY = 86_400

#: int64 value numpy reads as NaT; lets a plain ``array('q')`` become a datetime64[s] column.
NAT_SECONDS = int(np.datetime64("NaT").astype("int64"))


def parse_iso_date(text: str) -> date | None:
    """``ccyy-mm-dd`` (SEN2 §2.1, the CSV format) as a date; None if it is anything else.

    ``date.fromisoformat`` alone would also accept ``20250301`` and ``2025-W10-1`` (Python 3.11),
    which neither format allows, so the shape is checked first.
    """
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:  # 2025-02-30
        return None


def date_seconds(d: date | None) -> int:
    """``d`` as seconds since 1970-01-01 (a ``datetime64[s]`` value); NaT when None."""
    return NAT_SECONDS if d is None else (d.toordinal() - _EPOCH) * _SECONDS_PER_DAY


@dataclass(frozen=True)
class DateWindow:
    """The dates an import accepts: anything outside is a placeholder or a typo, not a date.

    0001-01-01 and 1900-01-01 are common "no date" placeholders of source systems, and a year
    like 0205 is a typo for 2025; stored, they once failed the nightly for every case.
    """

    earliest: date
    latest: date

    def problem(self, day: date) -> str | None:
        """Why ``day`` is refused, or None if it is inside the window."""
        if self.earliest <= day <= self.latest:
            return None
        return (
            f"{day.isoformat()} is not a plausible date (accepted: {self.earliest.isoformat()} to "
            f"{self.latest.isoformat()}); a placeholder such as 0001-01-01 or 1900-01-01 means no "
            "date: leave the cell empty"
        )


def date_window(today: date | None = None) -> DateWindow:
    """The window of the settings (``EHCP_EARLIEST_DATE``, ``EHCP_LATEST_YEARS_AHEAD``) at ``today``."""
    from ehcp_workflow.settings import get_settings  # the edge's settings, read once per file

    settings = get_settings()
    today = today or date.today()
    years = today.year + settings.latest_years_ahead
    try:
        latest = today.replace(year=years)
    except ValueError:  # 29 February
        latest = date(years, 2, 28)
    return DateWindow(settings.earliest_date, latest)
