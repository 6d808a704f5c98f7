"""The long event format: one row per event, the history any case-management export can give.

A CSV whose header is exactly ``case_ref,event,date,value``. ``event`` is one of the names
``ehcp case record`` takes (``review-meeting``, ``review-decision``, ``plan-issued``...); ``value``
is what that command's ``--value`` takes (``Y``/``N``, ``A``/``C``/``M``, an adviser, a phase
transfer type), empty where the event takes none. Rows may come in any order::

    case_ref,event,date,value
    C0001,request-received,2024-01-08,
    C0001,decision-to-assess,2024-02-09,Y
    C0001,plan-issued,2024-05-17,
    C0001,review-meeting,2025-05-01,
    C0001,review-decision,2025-05-20,M
    C0001,review-meeting,2026-04-30,

Each ``review-meeting`` starts a new review cycle; the report, decision, amendment notice and
amended plan that follow belong to the latest cycle begun on or before their date. So a file can
carry every review a plan has had, and the store keeps each as its own record.

An event file is *partial*: it speaks only for what it lists. A field it has no event for keeps
its stored value, and importing it does not change what a case's own source (its SEN2 return, its
CSV) is known to record. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    CASE_COLUMNS,
    REVIEW_COLUMNS,
    REVIEW_DATE_COLUMNS,
    Caseload,
    empty_advice,
    normalise_advice,
    normalise_cases,
    normalise_reviews,
)
from ehcp_workflow.event_names import DATE_EVENTS as RECORD_DATE_EVENTS
from ehcp_workflow.importers.result import LoadedCaseload, ReadResult, finish_load
from ehcp_workflow.importers.tabular_cells import control_character
from ehcp_workflow.importers.values import date_window, parse_iso_date
from ehcp_workflow.problems import InputError, Problem

HEADER = ("case_ref", "event", "date", "value")
RULE = "events"

_YES_NO = {"y": "Y", "yes": "Y", "n": "N", "no": "N"}
_REVIEW = {"a": "A", "amend": "A", "c": "C", "cease": "C", "m": "M", "maintain": "M"}
_PHASE = {k: k for k in ("school", "post16", "post16_other")}

#: Events that set one date field: ``ehcp case record``'s, and two that record a value beside it.
DATE_EVENTS: dict[str, str] = {
    **RECORD_DATE_EVENTS,
    "plan-ceased": "plan_ceased",  # value: the reason
    "transfer-in": "transfer_in_date",  # value: the council it came from
}
#: Events with a coded value: (date field, code field, accepted values).
CODED_EVENTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "decision-to-assess": ("request_outcome_date", "request_outcome", _YES_NO),
    "review-decision": ("review_decision_letter", "review_outcome", _REVIEW),
    "phase-transfer": ("phase_transfer_date", "phase_transfer_type", _PHASE),
}
OTHER_EVENTS = frozenset(
    {"plan-issued", "decision-not-to-issue", "reassessment-decision", "advice-requested", "advice-received"}
)
EVENTS = frozenset(DATE_EVENTS) | frozenset(CODED_EVENTS) | OTHER_EVENTS
_CYCLE_STEPS = {"review-report", "review-decision", "amendment-notice", "amended-plan"}


def is_event_file(path: Path) -> bool:
    """Whether the CSV at ``path`` is in the event format (its header says so)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return tuple(c.strip().lower() for c in next(csv.reader([first]), [])) == HEADER


@dataclass
class _Case:
    values: dict[str, Any] = field(default_factory=dict)
    cycles: list[dict[str, Any]] = field(default_factory=list)
    advice: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, order=True)
class _Event:
    day: date
    line: int
    case_ref: str
    event: str
    value: str


def _problem(file: str, line: int, ref: str, fld: str, message: str) -> Problem:
    return Problem(file, f"line {line}", ref, fld, message, rule=RULE)


def _parse(path: Path) -> tuple[list[_Event], list[Problem], set[int]]:
    file = str(path)
    events: list[_Event] = []
    problems: list[Problem] = []
    bad_lines: set[int] = set()
    window = date_window()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != HEADER:
            raise InputError([_problem(file, 1, "", "", f"the header must be {','.join(HEADER)}")])
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            cells = [*row, "", "", "", ""][:4]
            if len(row) > 4:
                problems.append(_problem(file, line, cells[0], "", f"{len(row)} cells; the format has 4"))
            ref, name, when, value = (c.strip() for c in cells)
            for fld, text in zip(HEADER, (ref, name, when, value), strict=True):
                bad = control_character(text)
                if bad:
                    problems.append(_problem(file, line, ref, fld, f"contains a control character ({bad})"))
            if not ref:
                problems.append(_problem(file, line, "", "case_ref", "missing case reference"))
            if name.lower() not in EVENTS:
                problems.append(
                    _problem(file, line, ref, "event", f"{name!r} is not an event this format takes")
                )
            day = parse_iso_date(when)
            if day is None:
                problems.append(_problem(file, line, ref, "date", f"{when!r} is not a date (YYYY-MM-DD)"))
            elif (implausible := window.problem(day)) is not None:
                problems.append(_problem(file, line, ref, "date", f"{name} on {implausible}"))
            if len(problems) and problems[-1].location == f"line {line}":
                bad_lines.add(line)
                continue
            assert day is not None
            events.append(_Event(day, line, ref, name.lower(), value))
    return sorted(events), problems, bad_lines


def _apply(case: _Case, ev: _Event, file: str, problems: list[Problem]) -> None:
    """Fold one event (in date order) into the case's flat values, cycles and advice."""
    v = case.values

    def coded(choices: dict[str, str], what: str) -> str | None:
        picked = choices.get(ev.value.lower())
        if picked is None:
            problems.append(_problem(file, ev.line, ev.case_ref, "value", f"{ev.value!r} is not {what}"))
        return picked

    if ev.event == "review-meeting":
        case.cycles.append({"review_meeting": ev.day})
    elif ev.event in _CYCLE_STEPS and not case.cycles:
        case.cycles.append({})  # a step with no meeting recorded: a cycle of its own
    if ev.event in DATE_EVENTS:
        column = DATE_EVENTS[ev.event]
        v[column] = ev.day
        if column in REVIEW_DATE_COLUMNS:
            case.cycles[-1][column] = ev.day
        if ev.event == "transfer-in" and ev.value:
            v["transfer_in_from"] = ev.value
        if ev.event == "plan-ceased" and ev.value:
            v["cease_reason"] = ev.value
    elif ev.event in CODED_EVENTS:
        date_col, code_col, choices = CODED_EVENTS[ev.event]
        code = coded(choices, "one of " + "/".join(sorted(set(choices.values()))))
        if code is not None:
            v[date_col], v[code_col] = ev.day, code
            if ev.event == "review-decision":
                case.cycles[-1] |= {date_col: ev.day, code_col: code}
    elif ev.event == "plan-issued":
        v |= {"assessment_outcome": "Y", "assessment_outcome_date": ev.day}
        v.setdefault("plan_start", ev.day)  # a first plan starts the day it is issued
    elif ev.event == "decision-not-to-issue":
        v |= {"assessment_outcome": "N", "assessment_outcome_date": ev.day}
    elif ev.event == "reassessment-decision":
        code = coded(_YES_NO, "Y or N")
        if code is not None:
            v |= {"reassessment_decision_date": ev.day, "reassessment_agreed": code == "Y"}
    else:  # advice: the adviser is the value
        provider = ev.value.lower().replace("-", "_")
        if provider not in ADVICE_PROVIDERS:
            problems.append(_problem(file, ev.line, ev.case_ref, "value", f"{ev.value!r} is not an adviser"))
        elif ev.event == "advice-requested":
            seq = 1 + sum(1 for a in case.advice if a["provider"] == provider)
            case.advice.append({"provider": provider, "seq": seq, "requested": ev.day, "received": None})
        else:
            waiting = [a for a in case.advice if a["provider"] == provider and a["received"] is None]
            if not waiting:
                problems.append(
                    _problem(
                        file, ev.line, ev.case_ref, "event", f"no request for {provider} advice to receive"
                    )
                )
            else:
                waiting[-1]["received"] = ev.day


def _read(path: Path) -> ReadResult:
    file = str(path)
    events, problems, _ = _parse(path)
    cases: dict[str, _Case] = defaultdict(_Case)
    for ev in events:
        _apply(cases[ev.case_ref], ev, file, problems)
    refs = sorted(cases)
    for r in refs:  # review events go in as cycles only (see ``apply_review_history``): the flat
        # columns would update whichever cycle the store holds as latest, perhaps a newer one
        for column in (*REVIEW_DATE_COLUMNS, "review_outcome"):
            cases[r].values.pop(column, None)
    flat = pd.DataFrame([{"case_ref": r, **cases[r].values} for r in refs])
    if flat.empty:
        flat = pd.DataFrame({"case_ref": pd.array([], dtype="string")})
    rows = normalise_cases(flat)[list(CASE_COLUMNS)]
    reviews = [{"case_ref": r, **c} for r in refs for c in cases[r].cycles]
    advice = [{"case_ref": r, **a, "exception": None} for r in refs for a in cases[r].advice]
    listed = {c for r in refs for c in cases[r].values} | {"case_ref"}
    unrecorded = frozenset(c for c in CASE_COLUMNS if c not in listed)
    if not advice:
        unrecorded |= {"advice"}
    bad_refs = {p.person for p in problems if p.person}
    rejected = frozenset(i for i, r in enumerate(refs) if r in bad_refs)
    caseload = Caseload(
        cases=rows,
        advice=normalise_advice(pd.DataFrame(advice)) if advice else empty_advice(),
        reviews=normalise_reviews(pd.DataFrame(reviews, columns=list(REVIEW_COLUMNS))),
        unrecorded=unrecorded,
        source=path.name,
        partial=True,
    )
    file_errors = any(not p.person for p in problems)
    return ReadResult(caseload=caseload, problems=problems, rejected_rows=rejected, file_errors=file_errors)


def read_events(path: str | os.PathLike[str]) -> tuple[Caseload, list[Problem]]:
    """Read an event file: its cases (flat values, review cycles, advice) and every problem."""
    result = _read(Path(path))
    return result.caseload, result.problems


def load_events(path: str | os.PathLike[str], accept_valid: bool = False) -> LoadedCaseload:
    """Load an event file under the project's policy (any error refuses it unless ``accept_valid``)."""
    return finish_load(_read(Path(path)), accept_valid=accept_valid)


def write_events_csv(caseload: Caseload, path: str | Path) -> int:
    """Write the review history of ``caseload`` in the event format; return the rows written.

    The demo council uses it to hand the store every review cycle behind each plan's latest one (a
    one-row-per-case file can only carry the latest). Files that may hold case data are 0600.
    """
    rv = caseload.review_history
    rows: list[tuple[str, str, str, str]] = []
    steps = (
        ("review_meeting", "review-meeting"),
        ("review_report_sent", "review-report"),
        ("amendment_notice", "amendment-notice"),
        ("amended_plan_issued", "amended-plan"),
    )
    refs = rv["case_ref"].to_numpy(dtype=object)
    for column, name in steps:
        days = rv[column].to_numpy().astype("datetime64[D]")
        has = ~np.isnat(days)
        text = np.datetime_as_string(days[has], unit="D")
        rows += [(r, name, d, "") for r, d in zip(refs[has], text, strict=True)]
    letters = rv["review_decision_letter"].to_numpy().astype("datetime64[D]")
    outcome = rv["review_outcome"].astype("string").fillna("").to_numpy(dtype=object)
    has = ~np.isnat(letters) & (outcome != "")
    text = np.datetime_as_string(letters[has], unit="D")
    rows += [(r, "review-decision", d, o) for r, d, o in zip(refs[has], text, outcome[has], strict=True)]
    order = {name: i for i, (_, name) in enumerate(steps)} | {"review-decision": 2}
    rows.sort(key=lambda r: (r[0], r[2], order[r[1]]))
    from ehcp_workflow.files import private_file

    with private_file(Path(path), newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows)
