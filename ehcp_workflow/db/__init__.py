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
"""

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
