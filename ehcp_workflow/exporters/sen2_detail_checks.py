"""Pre-submission checks of the SEN2 items no clock reads (modules 2-5; sen2-spec §2.2, §4.3).

Severity follows the spec's requiredness for the return year:

* an item the spec marks **M** (PlanDetail, PB, PlacementDetail, SENneed and their mandatory
  children), or **C** with a stated condition that holds (RYA unless the request is historical,
  SENSettingOther for NIEO, ReviewDraft after a decision to amend from 2026), is an **error** when
  missing or not one of its codes: the return cannot be submitted as it is;
* an item that became mandatory in 2026 (RequestSource, DSCO) is an error in 2026, a **query** in
  2025, when it was voluntary, and nothing before; ReviewDraft and PhaseTransferFinalDate, also
  mandatory from 2026, are mandatory *once the draft or final plan is issued*: the store cannot
  tell "not issued yet" (rightly blank; a late one is a breach) from "not recorded", so a missing
  one is a query naming the date it was due;
* a conditional item whose condition the sources do not state (the mediation and tribunal flags,
  OA) is a **query** when missing: COLLECT may ask, the council knows the answer.

Rule ids: DfE publishes its validation rules as a spreadsheet that is not in the sources the project
could read (sen2-spec §4.3 [U]), so no DfE rule number is known. Each finding names the spec's
reconstructed rule (R12-R21) where there is one, else the DfE guide's item number (``item 4.7``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from ehcp_workflow.exporters.sen2_build import Context, RequestOut
from ehcp_workflow.exporters.sen2_checks import CheckSeverity, Finding
from ehcp_workflow.exporters.sen2_store import StoredPerson
from ehcp_workflow.importers.sen2_details import FLAG_ITEMS, ITEM_CODES, Row
from ehcp_workflow.importers.sen2_schema import (
    FLAG_VALUES,
    PLACEMENT_SETTING_SINCE,
    PLACEMENT_SETTINGS,
    PLAN_SETTINGS,
    RANKS,
    SEN_TYPE_SINCE,
    SEN_TYPES,
)

_E, _Q = CheckSeverity.ERROR, CheckSeverity.QUERY
_Maker = Callable[[CheckSeverity, str, str, str], Finding]
_URN = re.compile(r"\d{6}")
_UKPRN = re.compile(r"\d{8}")
CODES = ITEM_CODES
FLAGS = FLAG_ITEMS
_NAMES = {
    "request_source": "RequestSource",
    "rya": "RYA",
    "request_mediation": "RequestMediation",
    "request_tribunal": "RequestTribunal",
    "assessment_mediation": "AssessmentMediation",
    "assessment_tribunal": "AssessmentTribunal",
    "other_mediation": "OtherMediation",
    "other_tribunal": "OtherTribunal",
    "plan_res": "PlanRes",
    "plan_wbp": "PlanWBP",
    "pb": "PB",
    "oa": "OA",
    "dp": "DP",
    "active_res": "Res",
    "active_wbp": "WBP",
}


def check_details(person: StoredPerson, out: RequestOut, ctx: Context) -> Iterator[Finding]:
    """Every check of this module for one request as the return sends it."""
    case_ref = out.case.case_ref

    def f(sev: CheckSeverity, rule: str, item: str, message: str) -> Finding:
        return Finding(sev, rule, person.label, case_ref, item, message)

    year = ctx.layout.year
    yield from _values(out, f)
    if out.outcome is not None and out.outcome != "H":
        yield from _request(out, f, year)
    if out.assessment and out.assessment_outcome in ("Y", "N"):
        for column in ("assessment_mediation", "assessment_tribunal", "other_mediation", "other_tribunal"):
            if column not in out.detail:
                yield f(
                    _Q,
                    "item 3.3-3.6",
                    _NAMES[column],
                    f"{_NAMES[column]} is not recorded; give 1 if there was one about this decision, else 0",
                )
    if out.plan:
        yield from _plan(out, f)
    if out.active:
        yield from _active(out, f, ctx)


def _values(out: RequestOut, f: _Maker) -> Iterator[Finding]:
    for column, value in out.detail.items():
        name = _NAMES[column]
        if column in FLAGS and value not in FLAG_VALUES:
            yield f(_E, "item " + name, name, f"'{value}' is not a 0/1 flag (sen2-spec §3.14)")
        elif column in CODES and value not in CODES[column]:
            codes = ", ".join(sorted(CODES[column]))
            yield f(_E, "item " + name, name, f"'{value}' is not one of {codes}")


def _request(out: RequestOut, f: _Maker, year: int) -> Iterator[Finding]:
    if "rya" not in out.detail:
        yield f(
            _E,
            "R3",
            "RYA",
            "RYA is missing; it is required unless the request is historical (item 2.2/2.3: "
            "1 if the request was made while in relevant youth accommodation, else 0)",
        )
    if year >= 2025 and "request_source" not in out.detail:
        mandatory = year >= 2026
        yield f(
            _E if mandatory else _Q,
            "item 2.2",
            "RequestSource",
            "RequestSource is missing; "
            + ("it is mandatory from 2026" if mandatory else "voluntary in 2025, mandatory from 2026")
            + " (1 parent or young person, 2 school, 3 health, 4 social care, 5 other)",
        )
    if out.outcome in ("Y", "N"):
        for column in ("request_mediation", "request_tribunal"):
            if column not in out.detail:
                yield f(
                    _Q,
                    "item 2.5-2.7",
                    _NAMES[column],
                    f"{_NAMES[column]} is not recorded for a decision on the request; give 1 or 0",
                )


def _plan(out: RequestOut, f: _Maker) -> Iterator[Finding]:
    if not out.plan_settings:
        yield f(
            _E,
            "item 4.7",
            "PlanDetail",
            "the plan names no setting; PlanDetail (the setting(s) in Section I: URN, UKPRN or "
            "SENsetting, rank and unit/resourced-provision indicators) is mandatory",
        )
    elif len(out.plan_settings) > 2:
        yield f(_E, "item 4.7", "PlanDetail", f"{len(out.plan_settings)} PlanDetail; at most 2 (rank 1, 2)")
    for row in out.plan_settings:
        yield from _setting(row, "PlanDetail", PLAN_SETTINGS, f, None)
    yield from _ranks(out.plan_settings, "PlanDetail", "placement_rank", f)
    if "pb" not in out.detail:
        yield f(_E, "item 4.4a", "PB", "PB (personal budget taken up, 1 or 0) is missing; it is mandatory")
    elif out.detail["pb"] == "1" and "oa" not in out.detail:
        yield f(_Q, "item 4.4b", "OA", "a personal budget was taken up (PB 1) but OA is not recorded")


def _active(out: RequestOut, f: _Maker, ctx: Context) -> Iterator[Finding]:
    year, census = ctx.layout.year, ctx.period.census
    if not out.placements:
        yield f(
            _E,
            "item 5.7",
            "PlacementDetail",
            "no placement in the collection year is recorded; PlacementDetail (every setting "
            "attended in the year, with entry date) is mandatory for an active plan",
        )
    for row in out.placements:
        yield from _setting(row, "PlacementDetail", PLACEMENT_SETTINGS, f, year)
        entry, leaving = row.get("entry_date"), row.get("leaving_date")
        if entry is None:
            yield f(
                _E, "R16", "PlacementDetail/EntryDate", "a PlacementDetail has no EntryDate; it is mandatory"
            )
        elif isinstance(leaving, date) and isinstance(entry, date) and leaving < entry:
            yield f(
                _E, "R16", "PlacementDetail/LeavingDate", f"LeavingDate {leaving} is before EntryDate {entry}"
            )
    open_first = [
        r for r in out.placements if r.get("leaving_date") is None and r.get("placement_rank") == "1"
    ]
    if len(open_first) > 1:
        yield f(_Q, "R16", "PlacementDetail", f"{len(open_first)} rank-1 placements are open on census day")
    yield from _needs(out.needs, f, year)
    draft_missing = out.review_outcome == "A" and out.review_draft is None
    if ctx.layout.has("ActivePlans", "ReviewDraft") and draft_missing:
        yield _review_draft(out, f, year, census)
    due = out.phase_due
    has_final = ctx.layout.has("ActivePlans", "PhaseTransferFinalDate")
    if has_final and due is not None and due <= census and out.phase_final is None:
        yield f(
            _Q,
            "item 5.6b",
            "PhaseTransferFinalDate",
            f"the phase transfer was due by {due} but no final amended plan is recorded by census day: "
            "record its date (mandatory from 2026 once issued), or explain the late transfer",
        )


def _review_draft(out: RequestOut, f: _Maker, year: int, census: date) -> Finding:
    """R19 / item 5.4d: after a decision to amend, the draft's date. Mandatory from 2026 *once the
    draft is issued*: the store cannot tell a draft not yet issued (a late one is a breach, and the
    item is then rightly blank) from one not recorded, so this stays a query, naming the due date
    (reg 22(2): 4 weeks from the meeting) when it has passed."""
    if out.dropped.get("ReviewDraft") == "after census":
        return f(
            _Q,
            "R19",
            "ReviewDraft",
            "the draft amended plan was issued after census day; blank in this return",
        )
    meeting = out.review_meeting
    due = meeting + timedelta(weeks=4) if meeting is not None else None
    late = f" (it was due by {due})" if due is not None and due <= census else ""
    return f(
        _Q,
        "R19",
        "ReviewDraft",
        f"the review decided to amend the plan (A) but no date of the draft amended plan is recorded{late}; "
        "if it was issued by census day, record it" + (" (mandatory from 2026)" if year >= 2025 else ""),
    )


def _setting(
    row: Row, block: str, settings: frozenset[str], f: _Maker, year: int | None
) -> Iterator[Finding]:
    """R12 (exactly one of URN/UKPRN/SENsetting; formats), R13 (codes), R14, ranks and indicators."""
    urn, ukprn, setting = row.get("urn"), row.get("ukprn"), row.get("sen_setting")
    given = [n for n, v in (("URN", urn), ("UKPRN", ukprn), ("SENSetting", setting)) if v is not None]
    if len(given) != 1:
        what = " and ".join(given) if given else "none of them"
        yield f(
            _E,
            "R12",
            block,
            f"a {block} must name its setting by exactly one of URN, UKPRN or SENsetting, but has {what}",
        )
    if isinstance(urn, str) and not _URN.fullmatch(urn):
        yield f(_E, "R12", f"{block}/URN", f"URN '{urn}' is not 6 digits (GIAS URN)")
    if isinstance(ukprn, str) and not _UKPRN.fullmatch(ukprn):
        yield f(_E, "R12", f"{block}/UKPRN", f"UKPRN '{ukprn}' is not 8 digits")
    if isinstance(setting, str):
        since = PLACEMENT_SETTING_SINCE.get(setting, 0) if block == "PlacementDetail" else 0
        if setting not in settings or (year is not None and year < since):
            codes = ", ".join(
                sorted(c for c in settings if year is None or PLACEMENT_SETTING_SINCE.get(c, 0) <= year)
            )
            yield f(
                _E,
                "R13",
                f"{block}/SENsetting",
                f"'{setting}' is not a SENsetting of {block} in this return; use {codes}",
            )
        elif setting == "NIEO" and row.get("sen_setting_other") is None:
            yield f(
                _E, "R14", f"{block}/SENSettingOther", "SENsetting NIEO needs SENSettingOther (the details)"
            )
        elif setting == "OTH" and row.get("sen_setting_other") is None:
            yield f(
                _Q,
                "R14",
                f"{block}/SENSettingOther",
                "SENsetting OTH without SENSettingOther: say what kind of setting",
            )
    if row.get("placement_rank") not in RANKS:
        yield f(_E, "R12", f"{block}/PlacementRank", f"a {block} needs a PlacementRank of 1 or 2")
    for column, name in (
        ("sen_unit_indicator", "SENunitIndicator"),
        ("resourced_provision_indicator", "ResourcedProvisionIndicator"),
    ):
        value = row.get(column)
        if value is None:
            yield f(
                _E,
                "item 4.7e-f/5.7g-h",
                f"{block}/{name}",
                f"{name} (1 or 0) is missing in a {block}; it is mandatory",
            )
        elif value not in FLAG_VALUES:
            yield f(_E, "item 4.7e-f/5.7g-h", f"{block}/{name}", f"'{value}' is not a 0/1 flag")
    for column in ("res", "wbp", "attendance_pattern"):
        value = row.get(column)
        if isinstance(value, str) and value not in CODES[column]:
            yield f(
                _E,
                "item 5.7",
                f"{block}/{column.upper()}",
                f"'{value}' is not one of {', '.join(sorted(CODES[column]))}",
            )


def _ranks(rows: list[Row], block: str, column: str, f: _Maker) -> Iterator[Finding]:
    counts = Counter(r.get(column) for r in rows)
    if counts["1"] > 1 or counts["2"] > 1:
        yield f(_E, "item 4.7d", "PlacementRank", f"two {block} share a rank; rank them 1 and 2")


def _needs(needs: list[Row], f: _Maker, year: int) -> Iterator[Finding]:
    """R15 (one or two needs, exactly one rank 1, no repeated type) and R21 (codes of the year)."""
    if not needs:
        yield f(
            _E,
            "R15",
            "SENneed",
            "no type of need is recorded; SENneed (SENtype with SENtypeRank 1, and optionally a second, "
            "rank 2) is mandatory for an active plan",
        )
        return
    if len(needs) > 2:
        yield f(_E, "R15", "SENneed", f"{len(needs)} SENneed; at most 2 (ranks 1 and 2)")
    ranks = Counter(n.get("sen_type_rank") for n in needs)
    if ranks["1"] != 1 or any(r not in RANKS for r in ranks):
        yield f(_E, "R15", "SENtypeRank", "exactly one SENneed must have SENtypeRank 1 (and any other 2)")
    types = [n.get("sen_type") for n in needs]
    if len(set(types)) < len(types):
        yield f(_E, "R15", "SENtype", "the same SENtype is given twice")
    for t in types:
        if t is None:
            yield f(_E, "R15", "SENtype", "a SENneed has no SENtype")
        elif not isinstance(t, str) or t not in SEN_TYPES or year < SEN_TYPE_SINCE.get(t, 0):
            yield f(_E, "R21", "SENtype", f"'{t}' is not a SENtype of the {year} return (sen2-spec §3.10)")
