"""Counting conventions: the readings of the law a council chooses, each with its default and why.

The regulations say "within 6 weeks of receiving the request", "in the period of 12 months starting
with the date", "before 15 February". Reasonable people read these two ways (statutory-rules §3).
Each reading is a setting here with the default recommended by statutory-rules §3, so that a
council can reproduce either its own figures or DfE's, and every clock's explanation names the
reading used.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WeekCounting(StrEnum):
    #: "within N weeks of X": due = X + 7N days, met if the act is on or before that date. The
    #: day of the triggering event is excluded (IPSEA's worked example: meeting 1 Nov -> decision by
    #: 29 Nov; statutory-rules §3 item 4).
    EXCLUSIVE = "exclusive"
    #: "Day 1 = day of receipt" (LG Inform/DfE help text, Surrey SENDIASS): due = X + 7N - 1.
    INCLUSIVE = "inclusive"


class MonthReading(StrEnum):
    #: The same calendar day N months later, clamped to the month's end (29 Feb + 12 months =
    #: 28 Feb). IPSEA treats the anniversary as the deadline (statutory-rules §3, §6 case 2).
    ANNIVERSARY = "anniversary"
    #: "the period of 12 months starting with the date" ends the day before the anniversary.
    STRICT = "strict"


class ReviewAnchor(StrEnum):
    #: The next annual review runs from the date the LA sent its last review decision (SEN2
    #: LastReview); IPSEA: the decision "re-sets the clock" (statutory-rules §6 case 4).
    DECISION_LETTER = "decision_letter"
    #: ... or from the date of the last review meeting.
    MEETING = "meeting"


class PhaseTransferReading(StrEnum):
    #: "before 15 February" (reg 18(1)) means the last compliant day is 14 February (30 March for
    #: "before 31 March"); statutory-rules §3 recommends the strict reading.
    DAY_BEFORE = "day_before"
    #: IPSEA's "by 15 February" longstop reading: 15 February itself is still compliant.
    ON_THE_DATE = "on_the_date"


class Conventions(BaseModel):
    """The readings used to turn the regulations into due dates. Immutable, hashable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    week_counting: WeekCounting = WeekCounting.EXCLUSIVE
    month_reading: MonthReading = MonthReading.ANNIVERSARY
    review_anchor: ReviewAnchor = ReviewAnchor.DECISION_LETTER
    phase_transfer_reading: PhaseTransferReading = PhaseTransferReading.DAY_BEFORE
    #: A clock is ``due_soon`` from this many days before its due date (inclusive) until it is due.
    due_soon_days: Annotated[int, Field(ge=0, le=366)] = 14
    #: Backlog bands: an open request is "over N weeks" when it has waited strictly more than 7N days.
    band_thresholds: tuple[int, ...] = (20, 30, 52, 100)

    @field_validator("band_thresholds")
    @classmethod
    def _increasing(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(b <= a for a, b in itertools.pairwise(v)) or v[0] <= 0:
            raise ValueError("band_thresholds must be positive and strictly increasing")
        return v

    @property
    def band_labels(self) -> tuple[str, ...]:
        """``within_20``, ``over_20``, ``over_30``... generated from the thresholds."""
        first = self.band_thresholds[0]
        return (f"within_{first}", *(f"over_{t}" for t in self.band_thresholds))


DEFAULT_CONVENTIONS = Conventions()
