"""Small value parsers shared by the importers."""

from __future__ import annotations

import re
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
