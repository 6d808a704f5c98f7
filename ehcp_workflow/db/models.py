"""The store's tables (SQLModel), one per thing the regulations talk about.

Design choices, and why:

* **Tables are named explicitly** (``__tablename__``) and never after SQL keywords: ``case`` is one,
  so the request for assessment lives in ``ehcp_case``.
* **Codes are strings with CHECK constraints**, not native enums: a CHECK migrates cleanly on
  SQLite (batch mode) and PostgreSQL alike, where ``ALTER TYPE ... ADD VALUE`` does not.
* **Constraint names come from a naming convention** set on ``SQLModel.metadata`` *before* any
  model is defined, so every migration names the same constraint the same way on both backends.
* **Dates are ``date``** (statutory clocks count calendar days); **instants are UTC**
  (:class:`~ehcp_workflow.db.types.UTCDateTime`).
* **Personal data lives only in** :class:`Person`. Everything else names a child by ``person_ref``
  and a case by ``case_ref``, so alerts, logs and the event log carry no names or birth dates.
* **History is kept as rows**: many annual reviews and phase transfers per case (the caseload shows
  the latest), an assignment history, and the append-only :class:`EventLog`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    EXCEPTION_CLOCKS,
    EXCEPTION_GROUNDS,
    OUTCOME_CODES,
    PHASE_TRANSFER_TYPES,
    REVIEW_OUTCOMES,
)
from ehcp_workflow.db.types import UTCDateTime, utcnow

#: Stable constraint names (engineering-notes §4.1). ``ck`` needs an explicit ``name=`` on each CHECK.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

#: Outbox states of an alert (see :class:`Alert`).
ALERT_STATUSES: tuple[str, ...] = ("queued", "sent", "failed", "suppressed")

_NOW = text("CURRENT_TIMESTAMP")


def _one_of(column: str, values: frozenset[str] | tuple[str, ...]) -> str:
    """SQL for "``column`` is one of ``values``" (NULL passes, as CHECK treats unknown as true)."""
    listed = ", ".join(f"'{v}'" for v in sorted(values))
    return f"{column} IN ({listed})"


def _created_at() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"default": utcnow, "server_default": _NOW},
    )


def table_of(model: type[SQLModel]) -> Table:
    """The Core :class:`~sqlalchemy.Table` of a model (bulk paths use Core, never ORM objects)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


class Person(SQLModel, table=True):
    """The child or young person. The only table holding personal data.

    Only the fields the SEN2 return needs are kept; they leave the store only in a SEN2 export.
    Codes (sex, ethnicity, UPN-unknown reason) change between SEN2 years, so they are checked by the
    importer for the year in hand, not by the schema.
    """

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    person_ref: str = Field(unique=True, nullable=False)
    #: The stable, pseudonymous reference that stands for this person in case refs, alerts, logs
    #: and artifacts (a keyed hash of ``person_ref``; see :mod:`ehcp_workflow.db.pseudonyms`). A
    #: UPN or ULN never leaves the store except in a SEN2 export; this column is the mapping back.
    pseudonym: str | None = Field(default=None, unique=True)
    upn: str | None = Field(default=None, index=True)
    uln: str | None = Field(default=None, index=True)
    upn_unknown: str | None = None
    surname: str | None = None
    forename: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    ethnicity: str | None = None
    postcode: str | None = None
    created_at: datetime = _created_at()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StoreKey(SQLModel, table=True):
    """Secrets that belong to this store alone, created once by the migration that needs them.

    ``pseudonym`` keys the hash that turns a UPN or ULN into a case reference: without it a
    pseudonym cannot be recomputed from a guessed UPN, and it never leaves the database.
    """

    __tablename__ = "store_key"

    name: str = Field(primary_key=True)
    value: str = Field(nullable=False)


class ImportBatch(SQLModel, table=True):
    """One import that changed something: where the data came from and what it cannot say.

    A :class:`~ehcp_workflow.core.caseload.Caseload` carries ``source`` and ``unrecorded``; each case
    points at the import that last changed it, so :func:`~ehcp_workflow.db.read.load_caseload`
    can hand them back (a clock whose end event the source never records must stay
    ``not_applicable``, not turn into a breach because the store forgot why the date is missing).
    """

    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    #: Where the change came from, as written to the event log (file name, ``command:...``).
    source: str = Field(nullable=False)
    #: The imported caseload's own ``source`` label, handed back by ``load_caseload``.
    caseload_source: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})
    #: Space-separated, sorted names of the caseload columns the source does not record.
    unrecorded: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})
    actor: str = Field(nullable=False)
    reason: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})
    imported_at: datetime = _created_at()
    #: The date the source's data was extracted (a SEN2 return's ReferenceDate, ``--extract-date``
    #: for other files). An import older than the one that last changed a case never overwrites it
    #: without ``--force``. NULL: the source did not say.
    extract_date: date | None = None
    cases_created: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    cases_updated: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    cases_unchanged: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    events: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})


class EhcpCase(SQLModel, table=True):
    """One request for an EHC needs assessment and what followed it (SEN2 ``Requests``).

    ``team`` and ``caseworker`` are the current assignment, kept here for fast filtering; their
    history is :class:`Assignment`.
    """

    __tablename__ = "ehcp_case"
    __table_args__ = (
        CheckConstraint(_one_of("request_outcome", OUTCOME_CODES), name="request_outcome"),
        CheckConstraint(_one_of("assessment_outcome", OUTCOME_CODES), name="assessment_outcome"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(unique=True, nullable=False)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    la: str | None = None
    team: str | None = Field(default=None, index=True)
    caseworker: str | None = Field(default=None, index=True)
    request_received: date | None = None
    request_outcome: str | None = None
    request_outcome_date: date | None = None
    exported_to: str | None = None
    assessment_outcome: str | None = None
    assessment_outcome_date: date | None = None
    draft_plan_served: date | None = None
    reassessment_requested: date | None = None
    reassessment_agreed: bool | None = None
    reassessment_decision_date: date | None = None
    reassessed_plan_issued: date | None = None
    appealable_decision_date: date | None = None
    mediation_certificate_date: date | None = None
    appeal_lodged: date | None = None
    last_import_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    created_at: datetime = _created_at()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Plan(SQLModel, table=True):
    """The EHC plan a case produced (at most one per case), and its transfers between councils."""

    __tablename__ = "plan"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", unique=True, nullable=False)
    start_date: date | None = None
    ceased_date: date | None = None
    cease_reason: str | None = None
    transfer_in_date: date | None = None
    transfer_in_from: str | None = None
    transfer_in_notice_sent: date | None = None
    transfer_out_aware: date | None = None
    transfer_out_move: date | None = None
    transfer_out_completed: date | None = None


class AnnualReview(SQLModel, table=True):
    """One annual review of a plan. ``seq`` counts reviews per case; the highest is the latest."""

    __tablename__ = "annual_review"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        CheckConstraint(_one_of("decision", REVIEW_OUTCOMES), name="decision"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False)
    seq: int = Field(nullable=False)
    meeting: date | None = None
    report_sent: date | None = None
    decision: str | None = None
    decision_letter: date | None = None
    amendment_notice: date | None = None
    amended_plan_issued: date | None = None


class PhaseTransfer(SQLModel, table=True):
    """One transfer between phases of education (reg 18); ``seq`` as for :class:`AnnualReview`."""

    __tablename__ = "phase_transfer"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        CheckConstraint(_one_of("transfer_type", PHASE_TRANSFER_TYPES), name="transfer_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False)
    seq: int = Field(nullable=False)
    transfer_type: str | None = None
    transfer_date: date | None = None
    due_date: date | None = None
    final_date: date | None = None


class CaseException(SQLModel, table=True):
    """An exception to one statutory time limit (statutory-rules §2.1).

    One row per (case, clock): each regulation disapplies its own limit only where meeting *that*
    limit was impractical (§2.2), so a ground that affects several clocks is recorded, and
    evidenced, once per clock. The caseload's ``exception_<clock>`` column is ``ground``.
    """

    __tablename__ = "case_exception"
    __table_args__ = (
        UniqueConstraint("case_id", "clock"),
        CheckConstraint(_one_of("clock", EXCEPTION_CLOCKS), name="clock"),
        CheckConstraint(_one_of("ground", EXCEPTION_GROUNDS), name="ground"),
        CheckConstraint("end_date >= start_date", name="end_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False)
    clock: str = Field(nullable=False)
    ground: str = Field(nullable=False)
    start_date: date | None = None
    end_date: date | None = None
    evidence: str | None = None


class AdviceRequest(SQLModel, table=True):
    """A request for advice during the assessment (reg 8, 6 weeks to answer).

    ``seq`` numbers the requests to one provider type within a case (1, 2, ...), so an event-log
    field such as ``advice.paediatrics.1.received`` names the same request for ever.
    """

    __tablename__ = "advice_request"
    __table_args__ = (
        UniqueConstraint("case_id", "provider", "seq"),
        CheckConstraint(_one_of("provider", ADVICE_PROVIDERS), name="provider"),
        CheckConstraint(_one_of("exception_ground", EXCEPTION_GROUNDS), name="exception_ground"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False, index=True)
    provider: str = Field(nullable=False)
    seq: int = Field(nullable=False)
    requested: date | None = None
    received: date | None = None
    exception_ground: str | None = None


class Assignment(SQLModel, table=True):
    """Who held a case and when; the open row (``assigned_until`` NULL) is the current one."""

    __tablename__ = "assignment"
    __table_args__ = (Index("ix_assignment_case_id_assigned_until", "case_id", "assigned_until"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False)
    team: str | None = None
    caseworker: str | None = None
    assigned_from: datetime = Field(sa_type=UTCDateTime, nullable=False)
    assigned_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    actor: str = Field(nullable=False)
    source: str = Field(nullable=False)
    reason: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})


class EventLog(SQLModel, table=True):
    """Append-only record of every created or changed value of a case.

    ``field`` is the caseload column name (``request_received``, ``exception_final_plan``), an
    exception detail (``exception_final_plan_start``), or an advice request
    (``advice.<provider>.<seq>`` for its creation/removal, ``advice.<provider>.<seq>.<column>``).
    Values are text: ISO dates, codes, ``true``/``false``; NULL means "not recorded". Replaying the
    rows of a case in ``id`` order gives its current state
    (:func:`~ehcp_workflow.db.events.replay_case_state`).
    The migration adds triggers that refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "event_log"
    __table_args__ = (Index("ix_event_log_case_id_id", "case_id", "id"),)

    #: 64-bit on PostgreSQL (one row per changed field adds up); SQLite's rowid is already 64-bit,
    #: and only a plain INTEGER PRIMARY KEY is the auto-incrementing rowid there.
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False)
    field: str = Field(nullable=False)
    old_value: str | None = None
    new_value: str | None = None
    actor: str = Field(nullable=False)
    #: Where the change came from: an import file name, ``command:<name>`` or ``flow:<name>``.
    source: str = Field(nullable=False)
    reason: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})
    recorded_at: datetime = _created_at()


class ClockState(SQLModel, table=True):
    """The last nightly verdict for one instance of one clock of a case.

    Written by the nightly flow so that it writes only *changes* (a band moving, a clock breaching)
    rather than a row per case and clock every night. ``status`` and ``band`` are the evaluator's
    vocabulary and are not constrained here, so adding a band needs no migration.
    """

    __tablename__ = "clock_state"
    __table_args__ = (UniqueConstraint("case_id", "clock", "instance"),)

    id: int | None = Field(default=None, primary_key=True)
    #: The case (``ehcp_case.id``). No foreign key, on purpose (migration 0004): this table is the
    #: night's own derived record, written only for case ids the night has just read from
    #: ``ehcp_case`` under the store's write lock, and cases are never deleted; the key's check,
    #: a trigger per row on PostgreSQL, was half of writing a first night's 2.54M states at 200k
    #: cases (17.1 s with it, 8.9 s without).
    case_id: int = Field(nullable=False)
    clock: str = Field(nullable=False)
    #: Which occurrence of a repeating clock (the n-th annual review); 0 for one-off clocks.
    instance: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    status: str = Field(nullable=False)
    due_date: date | None = None
    band: str | None = None
    as_of: date = Field(nullable=False)
    updated_at: datetime = _created_at()


class Alert(SQLModel, table=True):
    """The alert outbox: one row per alert that should be (or was) sent.

    ``alert_key`` is built from (case_ref, clock, kind, episode) by
    :func:`~ehcp_workflow.db.outbox.alert_key`; the UNIQUE constraint on it is what stops two
    concurrent nightly runs both queueing the same alert. No personal data: ``subject`` and ``body``
    name the case by ``case_ref`` only.
    """

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(_one_of("status", ALERT_STATUSES), name="status"),
        Index("ix_alert_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_key: str = Field(unique=True, nullable=False)
    case_ref: str = Field(nullable=False, index=True)
    clock: str = Field(nullable=False)
    kind: str = Field(nullable=False)
    episode: str = Field(nullable=False)
    due_date: date | None = None
    recipient: str = Field(nullable=False)
    status: str = Field(default="queued", nullable=False, sa_column_kwargs={"server_default": "queued"})
    attempts: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    last_error: str | None = None
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created_at()
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    subject: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})
    body: str = Field(default="", nullable=False, sa_column_kwargs={"server_default": ""})


# --- SEN2 items that no clock reads (sen2-spec §2.2, modules 2-5) ---------------------------------
#
# They are kept so that the SEN2 return a council sends DfE can be made from the store, and so that
# a council's history (which arrives as SEN2 returns) is not lost on import. Codes are kept as the
# return writes them ("0"/"1" flags, letter codes), checked by the importers and by the export's
# checks for the year in hand, not by the schema: the lists change between return years.
#: ``Sen2Setting.kind``: a setting named in the plan's Section I, or a placement actually attended.
SEN2_SETTING_KINDS: tuple[str, ...] = ("plan", "placement")


class Sen2CaseDetail(SQLModel, table=True):
    """The SEN2 items of one request that occur once: source, flags, personal budget.

    One row per case. Every change is written to :class:`EventLog` as ``sen2.<column>`` (old and
    new value), so the row is the current state and the log its history.
    """

    __tablename__ = "sen2_case_detail"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", unique=True, nullable=False)
    request_source: str | None = None  # 2.2 (2025+): 1-5
    rya: str | None = None  # relevant youth accommodation
    request_mediation: str | None = None
    request_tribunal: str | None = None
    assessment_mediation: str | None = None
    assessment_tribunal: str | None = None
    other_mediation: str | None = None
    other_tribunal: str | None = None
    plan_res: str | None = None  # NamedPlan: A/B
    plan_wbp: str | None = None  # NamedPlan: A/T/S
    pb: str | None = None  # personal budget taken up
    oa: str | None = None  # organised arrangements
    dp: str | None = None  # direct payments E/S/H/I
    active_res: str | None = None  # 2023 only: Res/WBP sat in ActivePlans
    active_wbp: str | None = None


class Sen2Setting(SQLModel, table=True):
    """A setting of a case: named in the plan (``kind`` plan, SEN2 PlanDetail) or attended
    (``kind`` placement, SEN2 PlacementDetail, with entry and leaving dates).

    Placements accumulate across returns (each return lists those of its collection year); plan
    settings are the plan's current Section I. Every row added, changed or removed is written to
    :class:`EventLog` (``sen2.plan_detail`` / ``sen2.placement``).
    """

    __tablename__ = "sen2_setting"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "seq"),
        CheckConstraint(_one_of("kind", SEN2_SETTING_KINDS), name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False, index=True)
    kind: str = Field(nullable=False)
    seq: int = Field(nullable=False)
    urn: str | None = None
    ukprn: str | None = None
    sen_setting: str | None = None
    sen_setting_other: str | None = None
    placement_rank: str | None = None
    sen_unit_indicator: str | None = None
    resourced_provision_indicator: str | None = None
    entry_date: date | None = None
    leaving_date: date | None = None
    attendance_pattern: str | None = None  # 2023 only: FT/PT
    res: str | None = None  # 2024+: in PlacementDetail
    wbp: str | None = None


class Sen2Need(SQLModel, table=True):
    """A type of special educational need of a case (SEN2 SENneed), with its rank (1 or 2)."""

    __tablename__ = "sen2_need"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ehcp_case.id", nullable=False, index=True)
    seq: int = Field(nullable=False)
    sen_type: str | None = None
    sen_type_rank: str | None = None
