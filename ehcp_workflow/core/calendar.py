"""Date arithmetic for statutory periods: weeks, days, months and working days.

Two implementations of the same arithmetic, on purpose: per date with pendulum (used to explain one
case) and per array with numpy (used over a whole caseload). The property tests check they agree, so
a mistake in either shows up.

Conventions (statutory-rules §3): weeks and days are calendar weeks and days and a deadline on a
weekend or bank holiday is never rolled forward; months land on the same day of the month, clamped to
the month's end (31 Jan + 1 month = 28/29 Feb; 29 Feb 2024 + 12 months = 28 Feb 2025), never 52
weeks or 365 days; working days exclude Saturdays, Sundays and England and Wales bank holidays
(from the ``holidays`` package, computed offline).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import holidays
import numpy as np
import numpy.typing as npt
import pendulum

DateArray = npt.NDArray[Any]  # datetime64[D]; numpy's stubs cannot express the unit

#: Years for which the bank-holiday table is built; dates outside it are still handled (weekends
#: only), but no EHCP clock reaches that far.
HOLIDAY_YEARS = range(1990, 2076)


# --- per date (pendulum) ----------------------------------------------------------------------------


def _p(d: dt.date) -> pendulum.Date:
    return pendulum.Date(d.year, d.month, d.day)


def _d(p: dt.date) -> dt.date:
    return dt.date(p.year, p.month, p.day)


def add_days(d: dt.date, n: int) -> dt.date:
    return _d(_p(d).add(days=n))


def add_weeks(d: dt.date, n: int) -> dt.date:
    return _d(_p(d).add(weeks=n))


def add_months(d: dt.date, n: int) -> dt.date:
    """Same day ``n`` months later (or earlier), clamped to the end of the month."""
    return _d(_p(d).add(months=n)) if n >= 0 else _d(_p(d).subtract(months=-n))


@lru_cache(maxsize=1)
def bank_holidays() -> frozenset[dt.date]:
    """England and Wales bank holidays, including substitute ("observed") days."""
    table = holidays.country_holidays("GB", subdiv="ENG", years=HOLIDAY_YEARS)
    return frozenset(table.keys())


def is_working_day(d: dt.date) -> bool:
    return d.weekday() < 5 and d not in bank_holidays()


def nth_working_day_beginning_with(d: dt.date, n: int) -> dt.date:
    """The ``n``-th working day of a period beginning with ``d`` (``d`` counts if it is one).

    Reg 15(3): "within 15 working days beginning with the day on which it became aware".
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    count = 0
    day = d
    while True:
        if is_working_day(day):
            count += 1
            if count == n:
                return day
        day += dt.timedelta(days=1)


def format_date(d: dt.date | None) -> str:
    """``Mon 14 Oct 2024``: the form used in explanations and alerts."""
    if d is None:
        return "-"
    return _p(d).format("ddd D MMM YYYY")


# --- per array (numpy) ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def bank_holiday_array() -> DateArray:
    return np.array(sorted(bank_holidays()), dtype="datetime64[D]")


def add_months_array(d: DateArray, n: int) -> DateArray:
    """Vectorised :func:`add_months` over ``datetime64[D]`` (NaT stays NaT).

    Only the dates present are computed: most month-based columns (transfers, appeals, phase
    transfers) are empty for most cases.
    """
    ok = ~np.isnat(d)
    if ok.all():
        return _add_months_dense(d, n)
    out = np.full(d.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    if ok.any():
        out[ok] = _add_months_dense(d[ok], n)
    return out


def _add_months_dense(d: DateArray, n: int) -> DateArray:
    month = d.astype("datetime64[M]")
    day0 = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.timedelta64(n, "M")
    length = (
        (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
    ).astype(np.int64)
    out: DateArray = target.astype("datetime64[D]") + np.minimum(day0, length - 1).astype("timedelta64[D]")
    out[np.isnat(d)] = np.datetime64("NaT")
    return out


def nth_working_day_array(d: DateArray, n: int) -> DateArray:
    """Vectorised :func:`nth_working_day_beginning_with` (NaT stays NaT)."""
    out = np.full(d.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~np.isnat(d)
    if ok.any():
        out[ok] = np.busday_offset(d[ok], n - 1, roll="forward", holidays=bank_holiday_array())
    return out
