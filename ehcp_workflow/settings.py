"""Application settings, read at the edges (CLI, flows) from the environment and ``config/``.

The pure core never reads settings: it is handed a :class:`~ehcp_workflow.core.conventions.Conventions`.
Environment variables use the ``EHCP_`` prefix (``EHCP_DATABASE_URL``, ``EHCP_CONVENTIONS__WEEK_COUNTING``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ehcp_workflow.core.conventions import Conventions

#: The repository's ``config/`` folder (also the default for an installed checkout).
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHCP_", env_nested_delimiter="__", extra="ignore")

    #: SQLite file in the working directory by default; ``postgresql+psycopg://...`` for PostgreSQL.
    database_url: str = "sqlite:///ehcp.db"
    #: The council's zone: "today" for a scheduled run is the scheduled start's date here.
    timezone: str = "Europe/London"
    conventions: Conventions = Field(default_factory=Conventions)
    #: Apprise routing configuration (tags for caseworkers, teams, managers).
    notifications_config: Path = CONFIG_DIR / "notifications.yaml"
    #: Allow a child's initials in alert bodies (only for councils whose channels are approved).
    alert_initials: bool = False
    #: Dates before this are refused on import as implausible (``EHCP_EARLIEST_DATE``): a
    #: 0001-01-01 or 1900-01-01 is a source system's "no date", not a date.
    earliest_date: dt.date = dt.date(1990, 1, 1)
    #: Dates more than this many years after today are refused on import (``EHCP_LATEST_YEARS_AHEAD``).
    latest_years_ahead: int = Field(default=10, ge=0, le=100)


def get_settings() -> Settings:
    return Settings()
