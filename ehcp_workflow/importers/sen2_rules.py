"""Reading one SEN2 ``Person`` into case rows, and the validation rules of sen2-spec §4.3.

Each rule is a small function named after its id (R1-R22 are the spec's reconstructed rule
numbers, sen2-spec §4.3; the spec says they are not DfE's). The severity follows one principle:

* **error** - the case is held back: something a statutory clock reads is missing, unreadable or
  impossible (a date that is not ``ccyy-mm-dd``, an unknown outcome or 0/1 flag, an end before its
  start, a missing RequestOutcome or the date it requires);
* **warning** - reported, the case is used: format and coverage rules that no clock reads (UPN
  check letter, establishment identifiers, SEN need ranks, placement dates).

Problems name the person by reference (UPN, ULN or ``person-<n>``), never by name; values are only
quoted from fields that carry no personal data.

The person-level rules (reference, birth date, UPN/ULN, unknown elements) live in
:mod:`ehcp_workflow.importers.sen2_person_rules`; this module keeps the request-level rules and the
helpers both use (:class:`Findings`, :func:`leaf`, :func:`listing`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ehcp_workflow.importers.ordering import out_of_order
from ehcp_workflow.importers.sen2_schema import (
    CLOCK_FLAGS,
    CODES,
    COLUMN_ELEMENT,
    CONTENT_FLAGS,
    FLAG_VALUES,
    MAPPED,
    PLACEMENT_SETTING_SINCE,
    PLACEMENT_SETTINGS,
    PLAN_SETTINGS,
    RANKS,
    SEN_TYPE_SINCE,
    SEN_TYPES,
    WEEK20_COLUMN,
    Kind,
    Mapped,
    spelling,
)
from ehcp_workflow.importers.sen2_xml import Node
from ehcp_workflow.importers.values import DateWindow, parse_iso_date
from ehcp_workflow.problems import Problem, Severity

Value = date | str | None

_LA = re.compile(r"\d{3}|XXX")  # §3.16 (XXX = unknown/outside UK, allowed by LIIA [U])
_URN = re.compile(r"\d{6}")
_UKPRN = re.compile(r"\d{8}")


@dataclass
class Findings:
    """Where we are in the file, and the problems found there."""

    file: str
    person_no: int
    person_line: int
    person_ref: str
    problems: list[Problem] = field(default_factory=list)
    request_no: int | None = None
    request_line: int = 0
    blocked: bool = False  # the current request has an error
    #: Elements present in a year whose return does not have them (read, not used).
    out_of_year: list[tuple[Mapped, Node]] = field(default_factory=list)
    #: Dates outside it are refused (``EHCP_EARLIEST_DATE``, ``EHCP_LATEST_YEARS_AHEAD``).
    window: DateWindow | None = None

    def location(self, node: Node | None = None) -> str:
        """``Person 3 (line 118)[, Requests 2 (line 125)|, Requests 2][, line 127]``."""
        where = f"Person {self.person_no} (line {self.person_line})"
        if self.request_no is not None:
            where += f", Requests {self.request_no}"
            if node is None:
                where += f" (line {self.request_line})"
        if node is not None and node.line:
            where += f", line {node.line}"
        return where

    def report(self, severity: Severity, rule: str, fld: str, message: str, node: Node | None) -> None:
        if severity is Severity.ERROR and self.request_no is not None:
            self.blocked = True
        self.problems.append(
            Problem(self.file, self.location(node), self.person_ref, fld, message, severity, rule)
        )

    def error(self, rule: str, fld: str, message: str, node: Node | None = None) -> None:
        self.report(Severity.ERROR, rule, fld, message, node)

    def warn(self, rule: str, fld: str, message: str, node: Node | None = None) -> None:
        self.report(Severity.WARNING, rule, fld, message, node)


# --- request level --------------------------------------------------------------------------------


@dataclass
class Request:
    """The blocks and mapped values of one ``Requests`` element."""

    node: Node
    blocks: dict[str, Node | None]
    nodes: dict[str, Node | None]  # contract column -> element
    values: dict[str, Value]  # contract column -> parsed value

    def code(self, column: str) -> str | None:
        value = self.values.get(column)
        return value if isinstance(value, str) else None

    def dates(self) -> dict[str, date | None]:
        return {c: v for c, v in self.values.items() if isinstance(v, date)}


def read_request(req: Node, f: Findings, year: int | None) -> dict[str, Value]:
    """Validate one ``Requests`` and return its contract values (sen2-spec §2.1 Modules 2-5)."""
    r = _parse_request(req, f, year)
    for check in REQUEST_CHECKS:
        check(r, f, year)
    return r.values


def _parse_request(req: Node, f: Findings, year: int | None) -> Request:
    blocks: dict[str, Node | None] = {"requests": req}
    blocks["assessment"] = _block(req, "assessment", f)
    assessment = blocks["assessment"]
    blocks["namedplan"] = _block(assessment, "namedplan", f) if assessment is not None else None
    blocks["activeplans"] = _block(req, "activeplans", f)
    r = Request(req, blocks, {}, {})
    for m in MAPPED:
        parent = blocks[m.block]
        node = leaf(parent, m.key, f, Severity.ERROR) if parent is not None else None
        if node is not None and year is not None and year < m.since:
            f.out_of_year.append((m, node))
            node = None
        r.nodes[m.column] = node
        r.values[m.column] = _value(m, node, f)
    week20 = None
    for block, keys in CLOCK_FLAGS.items():
        for key in keys:
            node = _flag(blocks[block], key, f, Severity.ERROR)
            if key == "week20":
                week20 = node
    r.nodes[WEEK20_COLUMN] = week20
    r.values[WEEK20_COLUMN] = "unspecified" if week20 is not None and week20.text == "1" else None
    for key in CONTENT_FLAGS["namedplan"]:
        _flag(blocks["namedplan"], key, f, Severity.WARNING)
    return r


def _value(m: Mapped, node: Node | None, f: Findings) -> Value:
    if node is None or node.text is None:
        return None
    text, name = node.text, spelling(m.key)
    if m.kind is Kind.DATE:
        parsed = parse_iso_date(text)
        if parsed is None:
            f.error(
                "sen2-date",
                name,
                f"'{text}' is not a date; write it as ccyy-mm-dd, e.g. 2025-03-01 (sen2-spec §2.1)",
                node,
            )
        elif f.window is not None and (implausible := f.window.problem(parsed)) is not None:
            f.error("sen2-date", name, implausible, node)
            return None
        return parsed
    if m.kind is Kind.LA:
        if not _LA.fullmatch(text):
            f.warn("sen2-la", name, f"'{text}' is not a 3-digit DfE LA number (sen2-spec §3.16)", node)
        return text
    codes = CODES[m.kind]
    if text in codes:
        return text
    if m.kind is Kind.CEASE:
        f.warn("sen2-code", name, f"'{text}' is not a valid CeaseReason; use one of {listing(codes)}", node)
        return text
    f.error("sen2-code", name, f"'{text}' is not a valid {name}; use one of {listing(codes)}", node)
    return None


def r1_request_outcome(r: Request, f: Findings, year: int | None) -> None:
    """R1: RequestOutcome is mandatory (every clock of a request depends on it)."""
    if r.nodes["request_outcome"] is None or r.nodes["request_outcome"].text is None:
        f.error("sen2-R1", "RequestOutcome", "RequestOutcome is missing; give Y, N, A, W or H")


def r2_request_outcome_date(r: Request, f: Findings, year: int | None) -> None:
    """R2: RequestOutcomeDate is required for Y and N (it ends the 6-week clock), absent otherwise."""
    outcome, node = r.code("request_outcome"), r.nodes["request_outcome_date"]
    if outcome in ("Y", "N") and (node is None or node.text is None):
        f.error(
            "sen2-R2",
            "RequestOutcomeDate",
            f"RequestOutcome is {outcome} but RequestOutcomeDate is missing; give the date the "
            "family was told whether the LA would assess",
        )
    elif outcome in ("A", "W", "H") and node is not None and node.text is not None:
        f.warn(
            "sen2-R2",
            "RequestOutcomeDate",
            f"RequestOutcomeDate is given although RequestOutcome is {outcome}; it is only "
            "expected for Y or N. Check the outcome",
            node,
        )


def r3_received_date(r: Request, f: Findings, year: int | None) -> None:
    """R3: ReceivedDate may be omitted only for historical (H) requests; it starts every clock."""
    node = r.nodes["request_received"]
    if r.code("request_outcome") != "H" and (node is None or node.text is None):
        f.error(
            "sen2-R3",
            "ReceivedDate",
            "ReceivedDate is missing; it is required unless RequestOutcome is H. Give the date "
            "the request was received",
        )


def r5_assessment_present(r: Request, f: Findings, year: int | None) -> None:
    """R5: an Assessment exists only when RequestOutcome is Y or H."""
    outcome, assessment = r.code("request_outcome"), r.blocks["assessment"]
    if assessment is not None and outcome in ("N", "A", "W"):
        f.warn(
            "sen2-R5",
            "Assessment",
            f"an Assessment is given although RequestOutcome is {outcome}; an assessment is "
            "expected only when the LA agreed to assess (Y) or for a historical plan (H)",
            assessment,
        )


def r6_assessment_outcome(r: Request, f: Findings, year: int | None) -> None:
    """R6: AssessmentOutcome is mandatory in Assessment; its date is required for N, blank for A/W."""
    if r.blocks["assessment"] is None:
        return
    outcome_node, date_node = r.nodes["assessment_outcome"], r.nodes["assessment_outcome_date"]
    outcome = r.code("assessment_outcome")
    has_date = date_node is not None and date_node.text is not None
    if outcome_node is None or outcome_node.text is None:
        f.error(
            "sen2-R6",
            "AssessmentOutcome",
            "Assessment has no AssessmentOutcome; give Y, N, A, W or H",
            r.blocks["assessment"],
        )
    elif outcome == "N" and not has_date:
        f.error(
            "sen2-R6",
            "AssessmentOutcomeDate",
            "AssessmentOutcome is N but AssessmentOutcomeDate is missing; give the date the family "
            "was told the LA would not issue a plan",
            r.blocks["assessment"],
        )
    elif outcome in ("A", "W") and has_date:
        f.warn(
            "sen2-R6",
            "AssessmentOutcomeDate",
            f"AssessmentOutcomeDate is given although AssessmentOutcome is {outcome}; it is only "
            "expected for Y (date the plan was issued) or N. Check the outcome",
            date_node,
        )


def r8_no_plan_without_decision(r: Request, f: Findings, year: int | None) -> None:
    """R8: after AssessmentOutcome A or W nothing further is expected (no NamedPlan/ActivePlans)."""
    outcome = r.code("assessment_outcome")
    if outcome not in ("A", "W"):
        return
    for block in ("namedplan", "activeplans"):
        node = r.blocks[block]
        if node is not None:
            f.warn(
                "sen2-R8",
                spelling(block),
                f"{spelling(block)} is given although AssessmentOutcome is {outcome} (no plan decided); "
                "check the outcome",
                node,
            )


def r9_plan_present(r: Request, f: Findings, year: int | None) -> None:
    """R9: a plan issued (Y with a date) or historical (H) needs a NamedPlan with a StartDate."""
    outcome, plan = r.code("assessment_outcome"), r.blocks["namedplan"]
    issued = outcome == "Y" and r.values.get("assessment_outcome_date") is not None
    if plan is None and issued:
        f.warn(
            "sen2-R9",
            "NamedPlan",
            "AssessmentOutcome is Y with a date (plan issued) but there is no NamedPlan; add the plan",
            r.blocks["assessment"],
        )
    if plan is not None and r.nodes["plan_start"] is None:
        f.warn(
            "sen2-R9",
            "StartDate",
            "NamedPlan has no StartDate; clocks that run from the plan's start cannot be judged",
            plan,
        )


def order_rules(r: Request, f: Findings, year: int | None) -> None:
    """R4, R7, R9, R17, R18: dates that must come in order (see :mod:`.ordering`)."""
    dates = r.dates()
    for rule in out_of_order(dates):
        if not rule.sen2_rule:
            continue
        end_el, start_el = COLUMN_ELEMENT[rule.end], COLUMN_ELEMENT[rule.start]
        f.report(
            rule.severity,
            rule.sen2_rule,
            end_el,
            f"{end_el} {dates[rule.end]} is before {start_el} {dates[rule.start]}: {rule.why}",
            r.nodes[rule.end],
        )


def r17_cease_pair(r: Request, f: Findings, year: int | None) -> None:
    """R17: CeaseDate and CeaseReason are given together."""
    date_node, reason_node = r.nodes["plan_ceased"], r.nodes["cease_reason"]
    if (date_node is None) != (reason_node is None):
        missing = "CeaseReason" if reason_node is None else "CeaseDate"
        f.warn(
            "sen2-R17",
            missing,
            f"{missing} is missing; CeaseDate and CeaseReason are given together",
            date_node or reason_node,
        )


def r18_review_outcome_needs_meeting(r: Request, f: Findings, year: int | None) -> None:
    """R18: ReviewOutcome is blank when there is no ReviewMeeting."""
    node = r.nodes["review_outcome"]
    if node is not None and node.text and r.nodes["review_meeting"] is None:
        f.warn(
            "sen2-R18",
            "ReviewOutcome",
            "ReviewOutcome is given but ReviewMeeting is missing; give the meeting date",
            node,
        )


def r19_review_draft(r: Request, f: Findings, year: int | None) -> None:
    """R19: ReviewDraft (draft amended plan) is expected only when ReviewOutcome is A (amend)."""
    node, outcome = r.nodes["amendment_notice"], r.code("review_outcome")
    if node is not None and node.text and outcome != "A":
        f.warn(
            "sen2-R19",
            "ReviewDraft",
            f"ReviewDraft is given although ReviewOutcome is {outcome or 'missing'}; a draft "
            "amended plan is expected only after a decision to amend (A)",
            node,
        )


def r12_to_r16_details(r: Request, f: Findings, year: int | None) -> None:
    """R12-R14, R16: establishments named in the plan and attended (content only: warnings)."""
    plan, active = r.blocks["namedplan"], r.blocks["activeplans"]
    for detail in plan.all("plandetail") if plan is not None else []:
        _detail(detail, PLAN_SETTINGS, f, year)
    for detail in active.all("placementdetail") if active is not None else []:
        _detail(detail, PLACEMENT_SETTINGS, f, year)
        _placement_dates(detail, f)


def r15_r21_sen_needs(r: Request, f: Findings, year: int | None) -> None:
    """R15: 1-2 SENneed, exactly one of rank 1, no duplicate type; R21: SENtype in the year's list."""
    active = r.blocks["activeplans"]
    if active is None:
        return
    needs = active.all("senneed")
    if not 1 <= len(needs) <= 2:
        f.warn("sen2-R15", "SENneed", f"ActivePlans has {len(needs)} SENneed; give 1 or 2", active)
    types: list[str] = []
    ranks: list[str] = []
    for need in needs:
        type_node = leaf(need, "sentype", f, Severity.WARNING)
        rank_node = leaf(need, "sentyperank", f, Severity.WARNING)
        sen_type = type_node.text if type_node is not None else None
        rank = rank_node.text if rank_node is not None else None
        if sen_type not in SEN_TYPES:
            f.warn(
                "sen2-R21",
                "SENtype",
                f"'{sen_type or ''}' is not a SENtype code; use one of {listing(SEN_TYPES)}",
                type_node or need,
            )
        elif year is not None and year < SEN_TYPE_SINCE.get(sen_type, 0):
            f.warn(
                "sen2-R21",
                "SENtype",
                f"SENtype {sen_type} exists only from the {SEN_TYPE_SINCE[sen_type]} return",
                type_node,
            )
        if rank not in RANKS:
            f.warn("sen2-R15", "SENtypeRank", "SENtypeRank must be 1 or 2", rank_node or need)
        if sen_type:
            types.append(sen_type)
        if rank:
            ranks.append(rank)
    if needs and ranks.count("1") != 1:
        f.warn("sen2-R15", "SENtypeRank", "exactly one SENneed must have SENtypeRank 1", active)
    if len(set(types)) < len(types):
        f.warn("sen2-R15", "SENtype", "the same SENtype is given twice; give each need once", active)


REQUEST_CHECKS = (
    r1_request_outcome,
    r2_request_outcome_date,
    r3_received_date,
    r5_assessment_present,
    r6_assessment_outcome,
    r8_no_plan_without_decision,
    r9_plan_present,
    order_rules,
    r17_cease_pair,
    r18_review_outcome_needs_meeting,
    r19_review_draft,
    r12_to_r16_details,
    r15_r21_sen_needs,
)


# --- helpers --------------------------------------------------------------------------------------


def listing(codes: frozenset[str]) -> str:
    return ", ".join(sorted(codes, key=lambda c: (len(c), c)))


def _block(parent: Node, key: str, f: Findings) -> Node | None:
    """The single ``key`` block of ``parent``; two of them make the case ambiguous (error)."""
    found = parent.all(key)
    if len(found) > 1:
        f.error(
            "sen2-structure",
            spelling(key),
            f"{spelling(parent.key)} has {len(found)} <{spelling(key)}> blocks; at most one is allowed "
            "(sen2-spec §2.1). Put each request in its own Requests",
            found[1],
        )
    return found[0] if found else None


def leaf(parent: Node | None, key: str, f: Findings, severity: Severity) -> Node | None:
    """The single ``key`` item of ``parent``, reporting repeats with ``severity``.

    An empty item (``<X/>``) counts as absent: SEN2 leaves out what it does not know (sen2-spec §7).
    """
    if parent is None:
        return None
    found = parent.all(key)
    if len(found) > 1:
        f.report(
            severity,
            "sen2-structure",
            spelling(key),
            f"<{spelling(key)}> appears {len(found)} times in {spelling(parent.key)}; give it once",
            found[1],
        )
    return found[0] if found and found[0].text is not None else None


def _flag(parent: Node | None, key: str, f: Findings, severity: Severity) -> Node | None:
    """A 0/1 item (sen2-spec §3.14); anything else is reported with ``severity``."""
    node = leaf(parent, key, f, severity)
    if node is not None and node.text is not None and node.text not in FLAG_VALUES:
        f.report(
            severity,
            "sen2-flag",
            spelling(key),
            f"'{node.text}' is not a 0/1 flag; use 1 for yes and 0 for no (sen2-spec §3.14)",
            node,
        )
    return node


def _detail(detail: Node, settings: frozenset[str], f: Findings, year: int | None) -> None:
    """R12 (exactly one of URN/UKPRN/SENsetting, a rank), R13 (setting codes), R14 (NIEO text)."""
    name = spelling(detail.key)
    urn, ukprn, setting = (leaf(detail, k, f, Severity.WARNING) for k in ("urn", "ukprn", "sensetting"))
    given = [spelling(n.key) for n in (urn, ukprn, setting) if n is not None and n.text]
    if len(given) != 1:
        what = " and ".join(given) if given else "none of them"
        f.warn(
            "sen2-R12",
            name,
            f"{name} must identify the setting by exactly one of URN, UKPRN or SENsetting, but has "
            f"{what}; keep the one that applies",
            detail,
        )
    if urn is not None and urn.text and not _URN.fullmatch(urn.text):
        f.warn("sen2-R12", "URN", f"URN '{urn.text}' is not 6 digits (GIAS URN)", urn)
    if ukprn is not None and ukprn.text and not _UKPRN.fullmatch(ukprn.text):
        f.warn("sen2-R12", "UKPRN", f"UKPRN '{ukprn.text}' is not 8 digits", ukprn)
    if setting is not None and setting.text:
        since = PLACEMENT_SETTING_SINCE.get(setting.text, 0) if settings is PLACEMENT_SETTINGS else 0
        if setting.text not in settings:
            f.warn(
                "sen2-R13",
                "SENsetting",
                f"'{setting.text}' is not a SENsetting code for {name}; use one of {listing(settings)}",
                setting,
            )
        elif year is not None and year < since:
            f.warn(
                "sen2-R13",
                "SENsetting",
                f"SENsetting {setting.text} in {name} exists only from {since}",
                setting,
            )
        elif setting.text == "NIEO" and not detail.first("sensettingother"):
            f.warn("sen2-R14", "SENSettingOther", "SENsetting NIEO needs SENSettingOther (details)", setting)
    rank = leaf(detail, "placementrank", f, Severity.WARNING)
    if rank is None or rank.text not in RANKS:
        f.warn("sen2-R12", "PlacementRank", f"{name} needs a PlacementRank of 1 or 2", rank or detail)
    for key in CONTENT_FLAGS[detail.key]:
        _flag(detail, key, f, Severity.WARNING)


def _placement_dates(detail: Node, f: Findings) -> None:
    """R16: EntryDate is given and is a date; LeavingDate, if given, is on or after it."""
    entry, leaving = (
        leaf(detail, "entrydate", f, Severity.WARNING),
        leaf(detail, "leavingdate", f, Severity.WARNING),
    )
    parsed: dict[str, date | None] = {}
    for key, node in (("EntryDate", entry), ("LeavingDate", leaving)):
        parsed[key] = None
        if node is not None and node.text:
            parsed[key] = parse_iso_date(node.text)
            if parsed[key] is None:
                f.warn("sen2-R16", key, f"'{node.text}' is not a date; write it as ccyy-mm-dd", node)
    if entry is None:
        f.warn("sen2-R16", "EntryDate", "PlacementDetail has no EntryDate; give the placement start", detail)
    start, end = parsed["EntryDate"], parsed["LeavingDate"]
    if start is not None and end is not None and end < start:
        f.warn("sen2-R16", "LeavingDate", f"LeavingDate {end} is before EntryDate {start}", leaving)
