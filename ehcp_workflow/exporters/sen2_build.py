"""From stored cases to the SEN2 ``Requests`` of a return: as at census day, in scope or not.

Three steps per case, each a small pure function of the stored values (so a test can state the
rule and the round trip export -> import -> export is a fixed point):

1. **As at census day** (sen2-spec §4.1, "status at census"): anything dated after census day has
   not happened yet. A decision dated later is still awaited (``A``); a plan issued later leaves
   the assessment at the issuing stage (``Y`` without a date) if the draft plan was served by census
   day, else still ``A``; a plan ceasing later is still active; a historical plan that started, or
   was transferred in, after census day was not the council's yet and is left out.
2. **Historical** (sen2-spec §3.1-§3.2 code ``H``): a request whose plan was issued before the
   collection year, or that the store already calls historical, is sent as ``H`` with no request
   dates; its assessment as ``H`` with no date. Requests still open keep their dates whatever their
   age, so the 20-week measures stay computable.
3. **Scope** (sen2-spec §4.1): the case is in the return if its plan was active at any time in the
   collection year or on census day (1.3.1, 1.3.2, 1.3.8), if the request was received, decided or
   its assessment completed in the collection year (1.3.3, 1.3.4, requests received incl. withdrawn
   and exported), or if the work is ongoing at census day (1.3.5-1.3.7) for a request received by
   the end of the collection year. Scope reads only the values that are exported.

The result is a :class:`Block` tree in which only the items of the return year's layout are kept
(:mod:`.sen2_layout`); empty items and empty blocks are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ehcp_workflow.core.conventions import Conventions
from ehcp_workflow.core.evaluator import phase_transfer_due_date
from ehcp_workflow.exporters.sen2_layout import Layout, Period
from ehcp_workflow.exporters.sen2_store import StoredCase, StoredReview, StoredTransfer
from ehcp_workflow.importers.sen2_details import CASE_ITEMS, NEED_ITEMS, SETTING_ITEMS, Row
from ehcp_workflow.importers.sen2_schema import spelling

#: Scope reasons, in the order they are reported.
ACTIVE_PLAN = "active plan at census"
PLAN_ENDED = "plan active in the year, since ceased"
ACTIVITY = "request, decision or assessment in the year"
ONGOING = "work ongoing at census"
SCOPE_REASONS = (ACTIVE_PLAN, PLAN_ENDED, ACTIVITY, ONGOING)


@dataclass
class Block:
    """One XML element with children: leaf items (text) and repeated child blocks."""

    name: str
    items: dict[str, str | list[Block]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.items)


def put(block: Block, layout: Layout, element: str, value: str | date | None) -> None:
    """Set a leaf item if the year's layout has it and it has a value (empty items are left out)."""
    if value is None or not layout.has(block.name, element):
        return
    text = value.isoformat() if isinstance(value, date) else value
    if text:
        block.items[element] = text


def attach(parent: Block, layout: Layout, child: Block) -> None:
    """Add a child block unless it is empty or the year's layout does not have it."""
    if child and layout.has(parent.name, child.name):
        existing = parent.items.setdefault(child.name, [])
        assert isinstance(existing, list)
        existing.append(child)


@dataclass(frozen=True)
class Context:
    layout: Layout
    period: Period
    conventions: Conventions


@dataclass
class RequestOut:
    """The values one stored case contributes to the return, before the year's layout is applied."""

    case: StoredCase
    reasons: list[str] = field(default_factory=list)
    received: date | None = None
    outcome: str | None = None
    outcome_date: date | None = None
    exported: str | None = None
    assessment: bool = False
    assessment_outcome: str | None = None
    assessment_outcome_date: date | None = None
    week20: str | None = None
    plan: bool = False
    start: date | None = None
    ceased: date | None = None
    cease_reason: str | None = None
    active: bool = False  # ActivePlans
    transfer_la: str | None = None
    review_meeting: date | None = None
    review_outcome: str | None = None
    last_review: date | None = None
    review_draft: date | None = None
    phase_due: date | None = None
    phase_final: date | None = None
    #: Stored values that were not sent and why (for the checks): element -> reason code.
    dropped: dict[str, str] = field(default_factory=dict)
    #: SEN2-only items sent: ``sen2_case_detail`` column -> value; settings and needs as sent.
    detail: dict[str, str] = field(default_factory=dict)
    plan_settings: list[Row] = field(default_factory=list)
    placements: list[Row] = field(default_factory=list)
    needs: list[Row] = field(default_factory=list)
    #: Stored SEN2 items the return leaves out by the spec's own rules: (element, why). Each is
    #: named in the check report, so nothing the store holds disappears without a word.
    excluded: list[tuple[str, str]] = field(default_factory=list)


def _upto(day: date | None, census: date) -> date | None:
    return day if day is not None and day <= census else None


def build_request(case: StoredCase, ctx: Context) -> RequestOut | None:
    """The case as the return shows it, or None when it is not in this return's scope."""
    p = ctx.period
    census = p.census
    if case.request_received is not None and case.request_received > census:
        return None  # not received yet on census day
    out = RequestOut(case)
    received = case.request_received
    ro, rod = case.request_outcome, case.request_outcome_date
    ao, aod = case.assessment_outcome, case.assessment_outcome_date
    # 1. as at census day
    if ro in ("Y", "N") and rod is not None and rod > census:
        ro, rod, ao, aod = "A", None, None, None
    if ao in ("Y", "N") and aod is not None and aod > census:
        served = case.draft_plan_served
        if ao == "Y" and served is not None and served <= census:
            aod = None
        else:
            ao, aod = "A", None
    start = _upto(case.plan_start, census)
    ceased = _upto(case.plan_ceased, census)
    # a plan the store calls historical, or transferred in, that was not this council's on census day
    later = case.plan_start is not None and start is None
    later |= case.transfer_in_date is not None and case.transfer_in_date > census
    if later and (ro == "H" or ao == "H"):
        return None
    # 2. historical
    issued_before = ao == "Y" and aod is not None and aod < p.start
    assessment_historical = ao == "H" or issued_before
    if ro == "H" or assessment_historical:
        out.outcome = "H"
    else:
        out.outcome = ro
        out.received = received
        out.exported = case.exported_to
        if ro in ("Y", "N"):
            out.outcome_date = rod
        elif rod is not None:
            out.dropped["RequestOutcomeDate"] = "R2"
    exported_unassessed = out.exported is not None and ao is None
    if out.outcome in ("Y", "H") and not exported_unassessed:
        if assessment_historical:
            out.assessment_outcome = "H"
        elif ao is not None:
            out.assessment_outcome = ao
        elif out.outcome == "Y":
            out.assessment_outcome = "A"  # agreed to assess, no outcome yet
        elif start is not None or ceased is not None:
            out.assessment_outcome = "H"  # a historical request with a plan
        out.assessment = out.assessment_outcome is not None
        if out.assessment_outcome in ("Y", "N"):
            out.assessment_outcome_date = aod
            clocks = case.exceptions
            excepted = "final_plan" in clocks or (ao == "N" and "decision_not_to_issue" in clocks)
            out.week20 = "1" if excepted else "0"
        elif aod is not None and not assessment_historical:
            out.dropped["AssessmentOutcomeDate"] = "R6"
    elif ao is not None and out.outcome in ("N", "A", "W"):
        out.dropped["Assessment"] = "R5"
    # the plan
    e_ao = out.assessment_outcome
    out.plan = e_ao == "H" or (e_ao == "Y" and out.assessment_outcome_date is not None)
    if out.plan:
        out.start, out.ceased = start, ceased
        if later:
            out.dropped["StartDate"] = "after census"
        out.cease_reason = case.cease_reason if ceased is not None else None
        if ceased is None and case.cease_reason is not None and case.plan_ceased is None:
            out.dropped["CeaseReason"] = "R17"
        out.active = ceased is None or ceased >= p.start
    elif start is not None:
        out.dropped["StartDate"] = "no plan"
    if out.active:
        _active_plan(out, case, ctx)
    _details(out, case, ctx)
    _conversions(out, case, ctx)
    # 3. scope
    if out.active:
        out.reasons.append(ACTIVE_PLAN if out.ceased is None else PLAN_ENDED)
    if any(p.contains(d) for d in (out.received, out.outcome_date, out.assessment_outcome_date)):
        out.reasons.append(ACTIVITY)
    awaiting = out.outcome == "A" or (
        out.outcome in ("Y", "H") and (e_ao == "A" or (e_ao == "Y" and out.assessment_outcome_date is None))
    )
    if awaiting and out.exported is None and (out.received is None or out.received <= p.end):
        out.reasons.append(ONGOING)
    return out if out.reasons else None


def _active_plan(out: RequestOut, case: StoredCase, ctx: Context) -> None:
    p, layout = ctx.period, ctx.layout
    tid = case.transfer_in_date
    if case.transfer_in_from is not None and (tid is None or p.contains(tid)):
        out.transfer_la = case.transfer_in_from  # transferred in during the collection year
    if layout.has("ActivePlans", "ReviewMeeting"):
        review = _latest_review(case.reviews, p.census, by_meeting=True)
        if review is not None:
            out.review_meeting = review.meeting
            out.last_review = _upto(review.decision_letter, p.census)
            decided_by_census = review.decision_letter is None or out.last_review is not None
            if review.decision is not None and decided_by_census:
                if review.meeting is not None:
                    out.review_outcome = review.decision
                else:
                    out.dropped["ReviewOutcome"] = "R18"
            out.review_draft = _upto(review.amendment_notice, p.census)
            if review.amendment_notice is not None and out.review_draft is None:
                out.dropped["ReviewDraft"] = "after census"
    else:  # 2023: only the date of the latest review decision (item 5.4)
        review = _latest_review(case.reviews, p.census, by_meeting=False)
        if review is not None:
            out.last_review = review.decision_letter
    if layout.has("ActivePlans", "PhaseTransferDueDate"):
        chosen = _phase_transfer(case.transfers, ctx)
        if chosen is not None:
            out.phase_due, final = chosen
            out.phase_final = _upto(final, p.census)


_BLOCKS = {"requests": "Requests", "assessment": "Assessment", "namedplan": "NamedPlan"}
#: ``sen2_case_detail`` column -> (block, DfE element name).
DETAIL_ELEMENT: dict[str, tuple[str, str]] = {
    column: (_BLOCKS.get(b, "ActivePlans"), spelling(k)) for (b, k), column in CASE_ITEMS.items()
}
SETTING_ELEMENT: dict[str, str] = {column: spelling(k) for k, column in SETTING_ITEMS.items()}
SETTING_ELEMENT["sen_setting"] = "SENSetting"  # the spelling of the XSDs and of LAs' files (sen2-spec §2.1)
NEED_ELEMENT: dict[str, str] = {column: spelling(k) for k, column in NEED_ITEMS.items()}


def _details(out: RequestOut, case: StoredCase, ctx: Context) -> None:
    """The SEN2-only items this request sends, and each stored one it leaves out (with why).

    Module 2 items go with every request but a historical one (R3: an ``H`` request sends no
    request dates or flags); the assessment's mediation and tribunal flags with an assessment
    that is not awaited or withdrawn (R8: "no further information"); the plan's items with the
    plan; placements and needs with ActivePlans, placements only those of the collection year or
    census day (sen2-spec §4.1 1.3.8), a leaving date after census day left out (ongoing then).
    """
    lay, p = ctx.layout, ctx.period
    sends = {
        "Requests": out.outcome != "H",
        "Assessment": out.assessment and out.assessment_outcome not in ("A", "W"),
        "NamedPlan": out.plan,
        "ActivePlans": out.active,
    }
    why_not = {
        "Requests": "the request is sent as historical (H), which carries no request items (R3)",
        "Assessment": (
            f"the assessment is sent as {out.assessment_outcome}, which carries no further items (R8)"
            if out.assessment
            else "the return has no Assessment for this request (R5)"
        ),
        "NamedPlan": "the return has no NamedPlan for this request (no plan issued by census day, R9)",
        "ActivePlans": "the plan was not active in the collection year or on census day (sen2-spec §4.1)",
    }
    for column, value in case.detail.items():
        block, element = DETAIL_ELEMENT[column]
        if not sends[block]:
            out.excluded.append((element, why_not[block]))
        elif not lay.has(block, element):
            out.excluded.append((element, f"{block}/{element} is not part of the {p.year} return"))
        else:
            out.detail[column] = value
    if case.plan_settings:
        if sends["NamedPlan"]:
            out.plan_settings = list(case.plan_settings)
        else:
            out.excluded.append(("PlanDetail", why_not["NamedPlan"]))
    if case.needs:
        if sends["ActivePlans"]:
            out.needs = list(case.needs)
        else:
            out.excluded.append(("SENneed", why_not["ActivePlans"]))
    for row in case.placements:
        entry, leaving = row.get("entry_date"), row.get("leaving_date")
        where = f"PlacementDetail (entry {entry or 'not recorded'}, leaving {leaving or 'not recorded'})"
        if not sends["ActivePlans"]:
            out.excluded.append(("PlacementDetail", f"{where}: {why_not['ActivePlans']}"))
        elif isinstance(entry, date) and entry > p.census:
            out.excluded.append(("PlacementDetail", f"{where}: entered after census day"))
        elif isinstance(leaving, date) and leaving < p.start:
            out.excluded.append(("PlacementDetail", f"{where}: ended before the collection year (1.3.8)"))
        elif isinstance(leaving, date) and leaving > p.census:
            out.placements.append(row | {"leaving_date": None})
            out.excluded.append(("LeavingDate", f"{where}: still attended on census day"))
        else:
            out.placements.append(row)
    for rows, block in ((out.plan_settings, "PlanDetail"), (out.placements, "PlacementDetail")):
        for row in rows:
            for column, stored in row.items():
                name = SETTING_ELEMENT[column]
                if stored is not None and not lay.has(block, name):
                    out.excluded.append((name, f"{block}/{name} is not part of the {p.year} return"))


def _conversions(out: RequestOut, case: StoredCase, ctx: Context) -> None:
    """Name each stored request, assessment or plan value the return sends differently or not at
    all because of steps 1-2 (as at census day, historical), unless a check already names it."""
    pairs = (
        ("ReceivedDate", case.request_received, out.received),
        ("RequestOutcome", case.request_outcome, out.outcome),
        ("RequestOutcomeDate", case.request_outcome_date, out.outcome_date),
        ("Exported", case.exported_to, out.exported),
        ("AssessmentOutcome", case.assessment_outcome, out.assessment_outcome if out.assessment else None),
        ("AssessmentOutcomeDate", case.assessment_outcome_date, out.assessment_outcome_date),
        ("StartDate", case.plan_start, out.start if out.plan else None),
        ("CeaseDate", case.plan_ceased, out.ceased if out.plan else None),
        ("CeaseReason", case.cease_reason, out.cease_reason if out.plan else None),
    )
    census = ctx.period.census
    request_items = ("ReceivedDate", "RequestOutcome", "RequestOutcomeDate", "Exported")
    for item, stored, sent in pairs:
        if stored is None or stored == sent or item in out.dropped or "Assessment" in out.dropped:
            continue
        converted = out.outcome == "H" and case.request_outcome != "H"
        if converted and (item in request_items or item.startswith("Assessment")):
            why = "the request is sent as historical (H): its plan was issued before the collection year"
        elif out.outcome == "H" and item in request_items:
            why = "a historical (H) request carries no request dates (R3)"
        else:
            why = f"the return shows the request and plan as they stood on census day {census}"
        shown = f"sent as {sent}" if sent is not None else "left out"
        out.excluded.append((item, f"stored {stored}, {shown}: {why} (sen2-spec §3.1, §4.1)"))


def _row_block(name: str, row: Row, names: dict[str, str], layout: Layout) -> Block:
    block = Block(name)
    for column, value in row.items():
        put(block, layout, names[column], value)
    return block


def _latest_review(reviews: list[StoredReview], census: date, *, by_meeting: bool) -> StoredReview | None:
    """The latest review held by census day (by meeting, else decision letter; 2023: by letter)."""
    best: StoredReview | None = None
    for r in reviews:
        key = (r.meeting or r.decision_letter) if by_meeting else r.decision_letter
        if key is not None and key <= census and (best is None or r.seq > best.seq):
            best = r
    return best


def _phase_transfer(transfers: list[StoredTransfer], ctx: Context) -> tuple[date, date | None] | None:
    """(due date, final plan date) of the phase transfer this return reports, or None.

    The one with the latest reg 18 due date between the start of the collection year and the end of
    the return year (the cohort moving in the coming September, as in sen2-spec §6 person 4). The due
    date is the one recorded, else the one the engine computes from the transfer's type and date.
    """
    p = ctx.period
    last = date(p.year, 12, 31)
    best: tuple[date, int, date | None] | None = None
    for t in transfers:
        due = phase_transfer_due_date(t.transfer_type, t.transfer_date, t.due_date, ctx.conventions)
        if due is None or not p.start <= due <= last:
            continue
        if best is None or (due, t.seq) > (best[0], best[1]):
            best = (due, t.seq, t.final_date)
    return None if best is None else (best[0], best[2])


def request_block(out: RequestOut, layout: Layout) -> Block:
    """The ``Requests`` element of ``out`` in the year's layout."""
    req = Block("Requests")
    put(req, layout, "ReceivedDate", out.received)
    for column in ("request_source", "rya"):
        put(req, layout, DETAIL_ELEMENT[column][1], out.detail.get(column))
    put(req, layout, "RequestOutcomeDate", out.outcome_date)
    put(req, layout, "RequestOutcome", out.outcome)
    for column in ("request_mediation", "request_tribunal"):
        put(req, layout, DETAIL_ELEMENT[column][1], out.detail.get(column))
    put(req, layout, "Exported", out.exported)
    if out.assessment:
        ass = Block("Assessment")
        put(ass, layout, "AssessmentOutcome", out.assessment_outcome)
        put(ass, layout, "AssessmentOutcomeDate", out.assessment_outcome_date)
        for column in ("assessment_mediation", "assessment_tribunal", "other_mediation", "other_tribunal"):
            put(ass, layout, DETAIL_ELEMENT[column][1], out.detail.get(column))
        put(ass, layout, "Week20", out.week20)
        if out.plan:
            plan = Block("NamedPlan")
            put(plan, layout, "StartDate", out.start)
            for row in out.plan_settings:
                attach(plan, layout, _row_block("PlanDetail", row, SETTING_ELEMENT, layout))
            for column in ("plan_res", "plan_wbp", "pb", "oa", "dp"):
                put(plan, layout, DETAIL_ELEMENT[column][1], out.detail.get(column))
            put(plan, layout, "CeaseDate", out.ceased)
            put(plan, layout, "CeaseReason", out.cease_reason)
            attach(ass, layout, plan)
        attach(req, layout, ass)
    if out.active:
        active = Block("ActivePlans")
        put(active, layout, "TransferLA", out.transfer_la)
        for row in out.placements:
            attach(active, layout, _row_block("PlacementDetail", row, SETTING_ELEMENT, layout))
        put(active, layout, "Res", out.detail.get("active_res"))
        put(active, layout, "WBP", out.detail.get("active_wbp"))
        for row in out.needs:
            attach(active, layout, _row_block("SENneed", row, NEED_ELEMENT, layout))
        put(active, layout, "ReviewMeeting", out.review_meeting)
        put(active, layout, "ReviewOutcome", out.review_outcome)
        put(active, layout, "LastReview", out.last_review)
        put(active, layout, "ReviewDraft", out.review_draft)
        put(active, layout, "PhaseTransferDueDate", out.phase_due)
        put(active, layout, "PhaseTransferFinalDate", out.phase_final)
        attach(req, layout, active)
    return req
