"""A demo council loaded into a real store, once per backend (SQLite and PostgreSQL, via ``db_url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.db import make_engine
from tests.jobs.helpers import load_store
from tests.jobs.smtp_receiver import receiver, smtp_receiver_server

__all__ = ["receiver", "smtp_receiver_server"]  # the scripted SMTP server's fixtures


@pytest.fixture
def loaded(db_url: str) -> tuple[str, Caseload]:
    """(url, caseload): the database at ``db_url`` migrated and holding the demo council and its people."""
    return db_url, load_store(db_url)


@pytest.fixture
def store_url(loaded: tuple[str, Caseload]) -> str:
    return loaded[0]


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()
