"""The case store: SQLite or PostgreSQL behind one set of named functions.

Start here::

    from ehcp_workflow.db import make_engine, upgrade_database, upsert_caseload, load_caseload

    upgrade_database(url)                      # ``ehcp db upgrade``; idempotent
    engine = make_engine(url)
    with Session(engine) as session:
        summary = upsert_caseload(session, caseload, source="sen2_2026.xml", actor="importer")
    caseload = load_caseload(engine)           # straight into pandas, contract dtypes

Modules: ``models`` (tables), ``engine`` (engines, write lock), ``migrate`` (Alembic),
``read`` (caseload reads), ``write`` (the one writer + event rows), ``importing``, ``dao``
(single-case functions), ``events`` (history and replay), ``outbox`` (alert queue).

The names below load their module on first use (PEP 562), not when the package is imported:
importing any ``ehcp_workflow.db.<module>`` runs this file first, and loading every module here
pulled the importers (openpyxl), the notifier (YAML routing) and the PostgreSQL dialect into
every ``ehcp case show`` (~0.45 s of its ~1.5 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ehcp_workflow.db.dao import (
        assign_case,
        get_case,
        list_cases,
        record_event,
        request_advice,
        upsert_people,
    )
    from ehcp_workflow.db.engine import make_engine, write_connection
    from ehcp_workflow.db.events import CaseNotFound, Event, case_events, replay_case_state
    from ehcp_workflow.db.importing import ImportSummary, upsert_caseload, validate_caseload
    from ehcp_workflow.db.migrate import (
        DatabaseNotCurrent,
        check_database,
        database_revision,
        head_revision,
        upgrade_database,
    )
    from ehcp_workflow.db.outbox import alert_key, enqueue_alerts
    from ehcp_workflow.db.people import PERSON_FIELDS
    from ehcp_workflow.db.read import caseload_from_connection, load_caseload
    from ehcp_workflow.db.records import AdviceRecord, CaseRecord

#: Where each public name lives (its module is imported the first time the name is used).
_HOMES: dict[str, str] = {
    "PERSON_FIELDS": "people",
    "AdviceRecord": "records",
    "CaseNotFound": "events",
    "CaseRecord": "records",
    "DatabaseNotCurrent": "migrate",
    "Event": "events",
    "ImportSummary": "importing",
    "alert_key": "outbox",
    "assign_case": "dao",
    "case_events": "events",
    "caseload_from_connection": "read",
    "check_database": "migrate",
    "database_revision": "migrate",
    "enqueue_alerts": "outbox",
    "get_case": "dao",
    "head_revision": "migrate",
    "list_cases": "dao",
    "load_caseload": "read",
    "make_engine": "engine",
    "record_event": "dao",
    "replay_case_state": "events",
    "request_advice": "dao",
    "upgrade_database": "migrate",
    "upsert_caseload": "importing",
    "upsert_people": "dao",
    "validate_caseload": "importing",
    "write_connection": "engine",
}

__all__ = [
    "PERSON_FIELDS",
    "AdviceRecord",
    "CaseNotFound",
    "CaseRecord",
    "DatabaseNotCurrent",
    "Event",
    "ImportSummary",
    "alert_key",
    "assign_case",
    "case_events",
    "caseload_from_connection",
    "check_database",
    "database_revision",
    "enqueue_alerts",
    "get_case",
    "head_revision",
    "list_cases",
    "load_caseload",
    "make_engine",
    "record_event",
    "replay_case_state",
    "request_advice",
    "upgrade_database",
    "upsert_caseload",
    "upsert_people",
    "validate_caseload",
    "write_connection",
]


def __getattr__(name: str) -> Any:
    """Load the public name ``name`` from its module (once: it is then a plain attribute)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
