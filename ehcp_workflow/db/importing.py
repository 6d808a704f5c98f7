"""Importing a caseload into the store: idempotent, logged, all or nothing.

Councils re-send the whole caseload (a SEN2 file, a nightly CSV) again and again, so an import must
be a *merge*: a case already stored with the same values is left alone; a changed value is written
and logged once; a new case is created with one event per recorded value. Cases absent from the
file are left alone (an import may cover one team). The whole import is one transaction: any error
(bad code, database constraint, lost connection) leaves the store exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ehcp_workflow.core.caseload import (
    ADVICE_COLUMNS,
    ADVICE_PROVIDERS,
    CASE_COLUMNS,
    EXCEPTION_COLUMNS,
    EXCEPTION_GROUNDS,
    Caseload,
    normalise_advice,
    normalise_cases,
)
from ehcp_workflow.db.engine import write_connection
from ehcp_workflow.db.fields import CASELOAD_FIELDS, FIELDS, Kind
from ehcp_workflow.db.people import PeopleChanges, write_people
from ehcp_workflow.db.pseudonyms import pseudonymise as pseudonymise_caseload
from ehcp_workflow.db.read import CASE, IMPORT, IN_CHUNK, read_advice, read_cases
from ehcp_workflow.db.review_history import apply_review_history
from ehcp_workflow.db.sen2_details import DetailsSummary, SourceDetails, write_sen2_details
from ehcp_workflow.db.types import utcnow
from ehcp_workflow.db.write import (
    EVENT,
    EventRows,
    WriteContext,
    apply_cases,
    execute_many,
    write_events,
)
from ehcp_workflow.db.write_advice import apply_advice
from ehcp_workflow.gcpause import collector_paused
from ehcp_workflow.problems import InputError, Problem


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. ``fields_changed`` counts, per field, the existing cases it changed in."""

    source: str
    created: int
    updated: int
    unchanged: int
    fields_changed: Mapping[str, int] = field(default_factory=dict)
    advice_created: int = 0
    advice_updated: int = 0
    advice_removed: int = 0
    events: int = 0
    #: The ``import_batch`` row, or None when nothing changed (a no-op import leaves no trace).
    import_id: int | None = None
    #: People created and people whose personal fields changed (values never reported).
    people_created: int = 0
    people_updated: int = 0
    #: Cases left as stored because the store holds newer data for them than this file's extract
    #: date (a later import, or a caseworker's change after it); ``--force`` applies them anyway.
    skipped_older: tuple[str, ...] = ()
    extract_date: date | None = None
    #: Cases whose SEN2-only items (settings, placements, needs, flags) were set or changed.
    sen2_details_changed: int = 0

    @property
    def changed(self) -> bool:
        return self.events > 0

    def __str__(self) -> str:
        if not self.changed:
            return f"{self.source}: no changes ({self.unchanged} cases unchanged)"
        fields = ", ".join(f"{name} {n}" for name, n in sorted(self.fields_changed.items()))
        advice = (
            f"; advice {self.advice_created} added, {self.advice_updated} corrected, "
            f"{self.advice_removed} removed"
            if self.advice_created or self.advice_updated or self.advice_removed
            else ""
        )
        changed = f" (fields changed: {fields})" if fields else ""
        return (
            f"{self.source}: {self.created} created, {self.updated} updated{changed}, "
            f"{self.unchanged} unchanged{advice}; {self.events} events logged"
        )


def _text_problems(
    frame: pd.DataFrame, file: str, columns: Mapping[str, frozenset[str] | None], what: str
) -> list[Problem]:
    problems = []
    refs = frame["case_ref"].astype("string").fillna("")
    for col, codes in columns.items():
        values = frame[col].astype("string")
        present = values.notna().to_numpy()
        blank = present & (values.fillna("").str.strip() == "").to_numpy()
        bad = np.zeros(len(values), dtype=bool)
        if codes is not None:
            bad = present & ~blank & ~values.isin(codes).to_numpy()
        for i in blank.nonzero()[0]:
            problems.append(
                Problem(file, f"{what} {i + 1}", refs.iat[i], col, "empty text: leave it missing instead")
            )
        for i in bad.nonzero()[0]:
            allowed = ", ".join(sorted(codes or ()))
            problems.append(
                Problem(
                    file, f"{what} {i + 1}", refs.iat[i], col, f"{values.iat[i]!r} is not one of {allowed}"
                )
            )
    return problems


def validate_caseload(cases: pd.DataFrame, advice: pd.DataFrame, file: str) -> list[Problem]:
    """Everything that stops a caseload (as given) being stored, as :class:`Problem` values.

    Only what the schema would refuse (references, codes) is checked here: whether the dates make
    sense is the importers' and the evaluators' business, and a council's messy history must still
    load.
    """
    problems: list[Problem] = []
    refs = cases["case_ref"].astype("string")
    for i in refs.isna().to_numpy().nonzero()[0]:
        problems.append(Problem(file, f"case row {i + 1}", "", "case_ref", "missing case reference"))
    dup = refs.duplicated(keep="first").to_numpy() & refs.notna().to_numpy()
    for i in dup.nonzero()[0]:
        problems.append(
            Problem(file, f"case row {i + 1}", str(refs.iat[i]), "case_ref", "case reference appears twice")
        )
    text_cols: dict[str, frozenset[str] | None] = {"case_ref": None}
    text_cols |= {n: FIELDS[n].codes for n in CASELOAD_FIELDS if FIELDS[n].kind in (Kind.TEXT, Kind.CODE)}
    problems += _text_problems(cases, file, text_cols, "case row")

    known = set(refs.dropna())
    orphan = advice["case_ref"].notna().to_numpy() & ~advice["case_ref"].isin(known).to_numpy()
    for i in orphan.nonzero()[0]:
        problems.append(
            Problem(
                file,
                f"advice row {i + 1}",
                str(advice["case_ref"].iat[i]),
                "case_ref",
                "advice for a case not in the caseload",
            )
        )
    for col in ("case_ref", "provider"):
        for i in advice[col].isna().to_numpy().nonzero()[0]:
            problems.append(Problem(file, f"advice row {i + 1}", "", col, f"missing {col}"))
    problems += _text_problems(
        advice, file, {"provider": frozenset(ADVICE_PROVIDERS), "exception": EXCEPTION_GROUNDS}, "advice row"
    )
    return problems


#: The name importers put in ``Caseload.unrecorded`` when the source has no advice table at all.
ADVICE_UNRECORDED = "advice"


def _keep_unrecorded(
    cases: pd.DataFrame, stored: pd.DataFrame, unrecorded: frozenset[str], *, partial: bool = False
) -> pd.DataFrame:
    """``cases`` with the stored values put back in the columns the source does not record.

    A SEN2 file says nothing about teams, caseworkers or exception grounds: its empty columns mean
    "not in this source", not "cleared", so they must not wipe what a caseworker recorded. A
    partial source (events) speaks only for the cells it fills: every empty cell keeps its value.
    """
    keep = [c for c in CASELOAD_FIELDS if partial or c in unrecorded]
    if not keep or not len(stored):
        return cases
    existing = cases["case_ref"].isin(stored["case_ref"])
    if not existing.any():
        return cases
    aligned = stored.set_index("case_ref").reindex(cases["case_ref"].to_numpy())[keep].reset_index(drop=True)
    out = cases.copy()
    for col in keep:
        where = existing & out[col].isna() if partial and col not in unrecorded else existing
        out[col] = out[col].mask(where, aligned[col])
    return out


def _keep_recorded_grounds(cases: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with every stored exception ground kept where the file offers none or only
    ``unspecified``.

    A SEN2 return says at most *that* an exception applies (``Week20`` = 1): it cannot speak for the
    ground a caseworker recorded and evidenced ((c) exceptional personal circumstances, say), and an
    empty ``Week20`` must not erase it (a re-import once turned an excepted final plan overdue). A
    file that records a different ground still changes it.
    """
    if not len(stored):
        return cases
    aligned = stored.set_index("case_ref").reindex(cases["case_ref"].to_numpy()).reset_index(drop=True)
    out = cases.copy()
    for col in EXCEPTION_COLUMNS:
        held = aligned[col].astype("string")
        specific = held.notna() & (held != "unspecified")
        incoming = out[col].astype("string")
        vague = incoming.isna() | (incoming == "unspecified")
        keep = (specific & vague).fillna(False).to_numpy(dtype=bool)
        if keep.any():
            out[col] = out[col].astype("string").mask(keep, held)
    return out


def _working(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in the store's working dtypes: coded (categorical) columns as plain strings."""
    out = frame.reset_index(drop=True)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype("string")
    return out


@collector_paused()
def upsert_caseload(
    session: Session,
    caseload: Caseload,
    *,
    source: str | None = None,
    actor: str,
    reason: str = "",
    people: pd.DataFrame | None = None,
    pseudonymise: bool = False,
    force: bool = False,
    sen2_details: SourceDetails | None = None,
) -> ImportSummary:
    """Merge ``caseload`` into the store in one transaction (committed here) and say what changed.

    ``source`` names where the change came from in the event log (default: ``caseload.source``).
    Columns in ``caseload.unrecorded`` keep their stored values (the source cannot speak for them),
    and stored advice is left alone when ``"advice"`` is unrecorded; otherwise the caseload's advice
    rows replace the stored ones of its cases.
    ``people`` (``person_ref`` and personal fields) are written in the same transaction, each
    change recorded without its value (:mod:`ehcp_workflow.db.people`). ``pseudonymise`` renames
    cases named after a person's UPN/ULN to their pseudonym first (:mod:`ehcp_workflow.db.pseudonyms`).
    A caseload with an ``extract_date`` leaves alone the cases the store knows newer data for
    (changed by an import extracted later, or by a person after that date) unless ``force``.
    ``sen2_details`` (by the caseload's case refs, before any renaming) are the SEN2 items no clock
    reads (:mod:`ehcp_workflow.db.sen2_details`), written for the cases written, in the same
    transaction.
    Raises :class:`~ehcp_workflow.problems.InputError` listing every reference or code the schema
    would refuse, before anything is written. Re-importing the same caseload changes nothing and
    returns a summary with ``changed`` False.
    """
    source = source or caseload.source or "import"
    # Validate the caseload as given: normalising would quietly drop a code outside its vocabulary.
    problems = validate_caseload(caseload.cases, caseload.advice, caseload.source or source)
    if problems:
        raise InputError(problems)
    try:
        conn = write_connection(session)
        names: dict[str, str] = {}
        if pseudonymise:
            caseload, names = pseudonymise_caseload(conn, caseload)
        skipped: tuple[str, ...] = ()
        if caseload.extract_date is not None and not force:
            newer = _newer_in_store(conn, caseload.cases["case_ref"].dropna().tolist(), caseload.extract_date)
            if newer:
                keep = ~caseload.cases["case_ref"].isin(newer).to_numpy(dtype=bool, na_value=False)
                if people is not None:  # the people of skipped cases are left as stored too
                    gone = set(caseload.cases.loc[~keep, "person_ref"].dropna()) - set(
                        caseload.cases.loc[keep, "person_ref"].dropna()
                    )
                    named = people["person_ref"].map(lambda r: names.get(r, r))
                    people = people.loc[~named.isin(gone).to_numpy(dtype=bool, na_value=False)]
                caseload = caseload.subset(keep)
                skipped = tuple(sorted(newer))
        cases = _working(normalise_cases(caseload.cases)[list(CASE_COLUMNS)])
        advice = _working(normalise_advice(caseload.advice)[list(ADVICE_COLUMNS)])
        details = None
        if sen2_details is not None:
            details = replace(
                sen2_details, by_case=_renamed(sen2_details.by_case, names, set(cases["case_ref"]))
            )
        summary = _upsert(
            session,
            cases,
            advice,
            caseload,
            source=source,
            actor=actor,
            reason=reason,
            people=people,
            details=details,
        )
        summary = replace(summary, skipped_older=skipped, extract_date=caseload.extract_date)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary


def _upsert(
    session: Session,
    cases: pd.DataFrame,
    advice: pd.DataFrame,
    caseload: Caseload,
    *,
    source: str,
    actor: str,
    reason: str,
    people: pd.DataFrame | None = None,
    details: SourceDetails | None = None,
) -> ImportSummary:
    conn = write_connection(session)
    now = utcnow()
    refs = cases["case_ref"].tolist()
    stored = read_cases(conn, case_refs=refs, with_ids=True, with_extras=True)
    stored_advice = read_advice(conn, case_refs=refs, with_ids=True)
    batch = {
        "source": source,
        "caseload_source": caseload.source,
        "unrecorded": "" if caseload.partial else " ".join(sorted(caseload.unrecorded)),
        "actor": actor,
        "reason": reason,
        "imported_at": now,
        "extract_date": caseload.extract_date,
    }
    import_id = conn.execute(insert(IMPORT).returning(IMPORT.c.id), batch).scalar_one()
    ctx = WriteContext(
        actor=actor,
        source=source,
        reason=reason,
        now=now,
        import_id=import_id,
        provenance=not caseload.partial,
    )

    cases = _keep_unrecorded(cases, stored, caseload.unrecorded, partial=caseload.partial)
    cases = _keep_recorded_grounds(cases, stored)
    changes = apply_cases(conn, stored, cases, ctx, compare=CASELOAD_FIELDS)
    touched: set[str] = set()
    if ADVICE_UNRECORDED not in caseload.unrecorded:
        if caseload.partial:  # an event file speaks for the advice of the cases it lists advice for
            stored_advice = stored_advice[stored_advice["case_ref"].isin(advice["case_ref"]).to_numpy()]
        touched = apply_advice(conn, stored_advice, advice, changes.case_ids, ctx, changes)
    history = EventRows(ctx)  # the review cycles before the latest, when the source carries them
    touched |= apply_review_history(conn, caseload.review_history, changes, history)
    changes.events.append(history)
    personal = PeopleChanges()
    if people is not None:
        person_events = EventRows(ctx)
        personal = write_people(conn, people, person_events)
        changes.events.append(person_events)
        touched |= _case_refs_of(conn, personal.changed_ids)
        for name, n in personal.fields_changed.items():
            changes.fields_changed[f"person.{name}"] += n
    details_changed = DetailsSummary(0, 0)
    if details is not None and details.by_case:
        details_changed = write_sen2_details(conn, details.by_case, ctx, details.period_start)
    advice_only = sorted(touched - set(changes.created) - set(changes.updated))
    if advice_only:
        stmt = update(CASE).where(CASE.c.case_ref == bindparam("b_ref"))
        stmt = stmt.values(updated_at=bindparam("b_now"))
        if not caseload.partial:
            stmt = stmt.values(last_import_id=bindparam("b_import"))
        execute_many(conn, stmt, [{"b_ref": r, "b_now": now, "b_import": import_id} for r in advice_only])
    write_events(conn, changes.events)

    created, updated = len(changes.created), len(changes.updated) + len(advice_only)
    unchanged = len(cases) - created - updated
    events = changes.event_count + details_changed.events
    if not events:
        conn.execute(delete(IMPORT).where(IMPORT.c.id == import_id))
        import_id = None
    else:
        counts = {"cases_created": created, "cases_updated": updated, "cases_unchanged": unchanged}
        conn.execute(update(IMPORT).where(IMPORT.c.id == import_id).values(events=events, **counts))
    return ImportSummary(
        source=source,
        created=created,
        updated=updated,
        unchanged=unchanged,
        fields_changed=dict(changes.fields_changed),
        advice_created=changes.advice_created,
        advice_updated=changes.advice_updated,
        advice_removed=changes.advice_removed,
        events=events,
        import_id=import_id,
        sen2_details_changed=details_changed.cases_changed,
        people_created=personal.created,
        people_updated=personal.updated,
    )


def _newer_in_store(conn: Connection, refs: list[str], extract_date: date) -> set[str]:
    """The cases among ``refs`` whose stored data is newer than a file extracted on ``extract_date``.

    Newer means: last changed by an import extracted after that date, or changed by a person
    (``ehcp case record`` and other commands) after the end of that day. Cases never stored, and
    cases whose imports did not say when they were extracted, are not newer.
    """
    after = datetime.combine(extract_date, time.max).replace(tzinfo=UTC)
    newer: set[str] = set()
    for start in range(0, len(refs), IN_CHUNK):
        chunk = refs[start : start + IN_CHUNK]
        by_import = (
            select(CASE.c.case_ref)
            .join(IMPORT, IMPORT.c.id == CASE.c.last_import_id)
            .where(CASE.c.case_ref.in_(chunk), IMPORT.c.extract_date > extract_date)
        )
        by_person = (
            select(CASE.c.case_ref)
            .join(EVENT, EVENT.c.case_id == CASE.c.id)
            .where(
                CASE.c.case_ref.in_(chunk),
                EVENT.c.source.like("command:%"),
                EVENT.c.recorded_at > after,
            )
            .distinct()
        )
        newer |= {row[0] for row in conn.execute(by_import)}
        newer |= {row[0] for row in conn.execute(by_person)}
    return newer


def _case_refs_of(conn: Connection, person_ids: set[int]) -> set[str]:
    """The case refs of the people ``person_ids`` (an import that changed only personal fields)."""
    ids = sorted(person_ids)
    refs: set[str] = set()
    for start in range(0, len(ids), IN_CHUNK):
        stmt = select(CASE.c.case_ref).where(CASE.c.person_id.in_(ids[start : start + IN_CHUNK]))
        refs |= {row[0] for row in conn.execute(stmt)}
    return refs


def _renamed(by_case: Mapping[str, Any], names: Mapping[str, str], written: set[str]) -> dict[str, Any]:
    """``by_case`` keyed by the refs the cases were written under (``<UPN>/<n>`` -> pseudonym), for
    the cases written only (not those left as stored for an older extract)."""
    out: dict[str, Any] = {}
    for ref, value in by_case.items():
        person, slash, number = ref.rpartition("/")
        new = f"{names[person]}/{number}" if slash and person in names else ref
        if new in written:
            out[new] = value
    return out
