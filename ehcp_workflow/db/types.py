"""Column types shared by the store's tables.

Why a custom timestamp type: SQLite has no time-zone-aware timestamp; SQLAlchemy's
``DateTime(timezone=True)`` there silently *drops* the offset (09:00+01:00 comes back as a naive
09:00, engineering-notes §4.1). The event log and the alert outbox must mean the same instant on
both backends, so every timestamp is converted to UTC on the way in (naive values are refused,
because nobody can say which zone they were in) and comes back as an aware UTC ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC: ``timestamptz`` on PostgreSQL, naive-UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store timestamps as aware datetimes (UTC)")
        utc = value.astimezone(UTC)
        # SQLite would keep the offset text for some drivers and drop it for others: store plain UTC.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def bind_processor(self, dialect: Dialect) -> Any:
        """The usual processor, remembering its last answer.

        A bulk write stamps thousands of event rows with the *same* ``datetime`` object; converting
        it once instead of per row took a fifth off a large import. The memo is one tuple swapped
        atomically, so threads sharing the compiled statement never see a half-updated pair.
        """
        inner = super().bind_processor(dialect)
        if inner is None:  # pragma: no cover - TypeDecorator always has process_bind_param
            return None
        last: list[tuple[Any, Any]] = [(object(), None)]

        def process(value: Any) -> Any:
            seen, out = last[0]
            if value is seen:
                return out
            out = inner(value)
            if value is not None:
                last[0] = (value, out)
            return out

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers always give datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant, aware, in UTC (the only way the store reads the clock)."""
    return datetime.now(UTC)
