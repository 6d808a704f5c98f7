"""Pseudonymous, stable case references for cases that come from a SEN2 return.

A SEN2 return identifies a child by UPN (or ULN), and a case reference built from it would carry
that personal identifier into every alert, log line and artifact. Instead a SEN2 case is named
``S2-<pseudonym>/<n>``: ``<pseudonym>`` is a keyed hash (HMAC-SHA256) of the person's identifier
under a key that is created once per store and never leaves it (:class:`~ehcp_workflow.db.models.
StoreKey`). The same child gets the same reference on every import, nobody can recompute it from a
guessed UPN without the database, and the ``person`` table keeps the mapping back (``person_ref`` ->
``pseudonym``) for the SEN2 export and for support staff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import replace

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, insert, select, update

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.db.models import StoreKey, table_of
from ehcp_workflow.db.read import CASE, IN_CHUNK, PERSON

STORE_KEY = table_of(StoreKey)
#: ``store_key.name`` of the pseudonym key.
KEY_NAME = "pseudonym"
#: Case references of SEN2 cases start with this, so a reader can tell them from a council's own.
PREFIX = "S2-"


def pseudonym(key: bytes, person_ref: str) -> str:
    """The pseudonym of ``person_ref`` under ``key``: 12 base32 characters (60 bits) after ``S2-``.

    Migration 0002 holds a frozen copy of this formula (migrations never import application code);
    change both or neither.
    """
    digest = hmac.new(key, person_ref.encode("utf-8"), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(digest).decode("ascii")[:12]


def store_key(conn: Connection) -> bytes:
    """This store's pseudonym key, created on first use (a store made by ``create_all`` has none)."""
    value = conn.execute(select(STORE_KEY.c.value).where(STORE_KEY.c.name == KEY_NAME)).scalar()
    if value is None:
        value = secrets.token_hex(32)
        conn.execute(insert(STORE_KEY).values(name=KEY_NAME, value=value))
    return bytes.fromhex(str(value))


def pseudonymise(conn: Connection, caseload: Caseload) -> tuple[Caseload, dict[str, str]]:
    """``caseload`` with each case named ``<person_ref>/<n>`` renamed ``<pseudonym>/<n>``.

    The case's ``person_ref`` becomes the pseudonym too, and every table of the caseload that names
    cases is renamed alike; each person gets (or keeps) their pseudonym in the ``person`` table,
    inside the caller's transaction. Returns the caseload and the map person_ref -> pseudonym.
    """
    cases = caseload.cases
    refs = cases["case_ref"].astype(object).where(cases["case_ref"].notna(), None).tolist()
    people = cases["person_ref"].astype(object).where(cases["person_ref"].notna(), None).tolist()
    ours = np.array(
        [
            p is not None and r is not None and r.startswith(p + "/")
            for r, p in zip(refs, people, strict=True)
        ],
        dtype=bool,
    )
    if not ours.any():
        return caseload, {}
    key = store_key(conn)
    owners = [p for p, o in zip(people, ours, strict=True) if o]
    names = {ref: pseudonym(key, ref) for ref in sorted(set(owners))}
    _record(conn, names)
    old = [r for r, o in zip(refs, ours, strict=True) if o]
    new = [names[p] + r[len(p) :] for p, r in zip(owners, old, strict=True)]
    mapping = dict(zip(old, new, strict=True))
    renamed = cases.copy()
    values = renamed["case_ref"].astype(object).to_numpy(copy=True)
    values[ours] = new
    renamed["case_ref"] = pd.array(values, dtype=cases["case_ref"].dtype)
    persons = renamed["person_ref"].astype(object).to_numpy(copy=True)
    persons[ours] = [names[p] for p in owners]
    renamed["person_ref"] = pd.array(persons, dtype=cases["person_ref"].dtype)
    renamed_caseload = replace(
        caseload,
        cases=renamed,
        advice=_rename(caseload.advice, mapping),
        reviews=_rename(caseload.review_history, mapping),
    )
    return renamed_caseload, names


def _rename(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    if not len(frame):
        return frame
    out = frame.copy()
    refs = out["case_ref"].astype(object).to_numpy()
    out["case_ref"] = pd.array(
        np.array([mapping.get(r, r) for r in refs], dtype=object), dtype=frame["case_ref"].dtype
    )
    return out


def _record(conn: Connection, names: dict[str, str]) -> None:
    """Store each person's pseudonym: new people are created, stored ones without one get theirs."""
    from ehcp_workflow.db.write import execute_many  # the writer loads only where one writes

    refs = list(names)
    stored: dict[str, str | None] = {}
    for start in range(0, len(refs), IN_CHUNK):
        stmt = select(PERSON.c.person_ref, PERSON.c.pseudonym).where(
            PERSON.c.person_ref.in_(refs[start : start + IN_CHUNK])
        )
        stored |= {row[0]: row[1] for row in conn.execute(stmt)}
    new = [{"person_ref": r, "pseudonym": names[r]} for r in refs if r not in stored]
    if new:
        execute_many(conn, insert(PERSON), new)
    missing = [{"b_ref": r, "b_name": names[r]} for r, p in stored.items() if p is None]
    if missing:
        named = update(PERSON).where(PERSON.c.person_ref == bindparam("b_ref"))
        execute_many(conn, named.values(pseudonym=bindparam("b_name")), missing)


def resolve_case_ref(conn: Connection, ref: str) -> str:
    """``ref`` itself when a case has it, else the pseudonymous ref of ``<UPN or ULN>/<n>``.

    Support staff know a child by UPN; alerts name the case by pseudonym. This lets
    ``ehcp case show <UPN>/1`` find ``S2-.../1`` (and print only the pseudonym).
    """
    if conn.execute(select(CASE.c.id).where(CASE.c.case_ref == ref)).first() is not None:
        return ref
    person_ref, slash, number = ref.rpartition("/")
    if not slash or not number.isdigit():
        return ref
    name = conn.execute(select(PERSON.c.pseudonym).where(PERSON.c.person_ref == person_ref)).scalar()
    return ref if name is None else f"{name}/{number}"
