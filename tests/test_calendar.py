"""Calendar arithmetic: the pendulum and numpy implementations agree, and match an oracle."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ehcp_workflow.core import calendar as cal

dates = st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2070, 12, 31))


@settings(max_examples=300, deadline=None)
@given(d=dates, n=st.integers(min_value=-24, max_value=24))
def test_add_months_scalar_and_array_agree(d: dt.date, n: int) -> None:
    arr = cal.add_months_array(np.array([d], dtype="datetime64[D]"), n)
    assert arr[0].astype(object) == cal.add_months(d, n)


@settings(max_examples=200, deadline=None)
@given(d=dates, n=st.integers(min_value=1, max_value=40))
def test_working_days_scalar_and_array_agree(d: dt.date, n: int) -> None:
    arr = cal.nth_working_day_array(np.array([d], dtype="datetime64[D]"), n)
    assert arr[0].astype(object) == cal.nth_working_day_beginning_with(d, n)


def test_month_end_clamping() -> None:
    assert cal.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert cal.add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)
    assert cal.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert cal.add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)


def test_missing_dates_stay_missing() -> None:
    arr = np.array(["NaT", "2024-01-31"], dtype="datetime64[D]")
    assert np.isnat(cal.add_months_array(arr, 1)[0])
    assert np.isnat(cal.nth_working_day_array(arr, 5)[0])


def test_england_and_wales_bank_holidays_2025() -> None:
    """The eight 2025 bank holidays in England and Wales (gov.uk), including Easter Monday."""
    expected = {
        dt.date(2025, 1, 1),
        dt.date(2025, 4, 18),
        dt.date(2025, 4, 21),
        dt.date(2025, 5, 5),
        dt.date(2025, 5, 26),
        dt.date(2025, 8, 25),
        dt.date(2025, 12, 25),
        dt.date(2025, 12, 26),
    }
    assert {d for d in cal.bank_holidays() if d.year == 2025} == expected
    assert not cal.is_working_day(dt.date(2026, 12, 28))  # Boxing Day (substitute day)


def test_format_date_for_explanations() -> None:
    assert cal.format_date(dt.date(2024, 10, 14)) == "Mon 14 Oct 2024"
    assert cal.format_date(None) == "-"
