"""The pre-submission checks of a SEN2 return (sen2-spec §4.3 R1-R22, plus the person module).

Each finding names the person by UPN, else ULN, else the store's reference (never by name), the
case by ``case_ref`` and the SEN2 item, with a severity in COLLECT's terms:

* **error** - COLLECT would refuse the return, or the item is mandatory and missing or malformed;
  fix it in the store before submitting;
* **query** - COLLECT would ask for an explanation, or the store holds something the return cannot
  carry as it is (the value was left out of the file);
* **excluded** - not a problem: a stored request or item the return leaves out by the spec's scope
  rules, named so that a round trip can account for every item.

The rule ids R1-R22 are the spec's reconstructions, not DfE's (sen2-spec §4.3). Messages quote
dates and codes, never a name, birth date or postcode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ehcp_workflow.exporters.sen2_build import Context, RequestOut
from ehcp_workflow.exporters.sen2_layout import (
    CEASE_REASONS,
    ETHNICITY_CODES,
    GENDER_CODES,
    GENDER_TO_SEX,
    HEADER_OFFICER_CODES,
    SEX_CODES,
    SEX_TO_GENDER,
)
from ehcp_workflow.exporters.sen2_store import StoredPerson
from ehcp_workflow.exporters.sen2_xml import XML_INVALID
from ehcp_workflow.importers.sen2_person_rules import upn_check_letter
from ehcp_workflow.importers.sen2_schema import UPN_UNKNOWN_CODES


class CheckSeverity(StrEnum):
    ERROR = "error"
    QUERY = "query"
    #: Not a problem: something the store holds that the return leaves out by the spec's own scope
    #: rules (a request out of the year's scope, a placement that ended before it, the items of a
    #: historical request). Listed so that nothing disappears from a return without a word.
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class Finding:
    """One problem of the return, as written to the check report."""

    severity: CheckSeverity
    rule: str
    person: str  # UPN, ULN or store reference; "" for the whole return
    case_ref: str
    item: str  # SEN2 element
    message: str

    @property
    def module(self) -> str:
        """The SEN2 module (block) the item belongs to, e.g. ``Module 4 NamedPlan``."""
        return module_of(self.item)

    def __str__(self) -> str:
        who = f" [{self.person}{' ' + self.case_ref if self.case_ref else ''}]" if self.person else ""
        return f"{self.severity}:{who} {self.module} {self.item}: {self.message} ({self.rule})"


REPORT_COLUMNS = ("severity", "rule", "person", "case_ref", "module", "item", "message")

#: SEN2 modules (sen2-spec §2.1) and the elements in each (as findings name them).
_MODULES: dict[str, tuple[str, ...]] = {
    "Header": ("Header", "LEA", "DMO", "DCO", "DSCO", "Year", "Persons"),
    "Module 1 Person": ("Person", "Surname", "Forename", "PersonBirthDate", "GenderCurrent", "Sex",
                        "Ethnicity", "PostCode", "UPN", "UniqueLearnerNumber", "UPNunknown"),
    "Module 2 Requests": ("Requests", "ReceivedDate", "RequestSource", "RYA", "RequestOutcomeDate",
                          "RequestOutcome", "RequestMediation", "RequestTribunal", "Exported"),
    "Module 3 Assessment": ("Assessment", "AssessmentOutcome", "AssessmentOutcomeDate", "AssessmentMediation",
                            "AssessmentTribunal", "OtherMediation", "OtherTribunal", "Week20"),
    "Module 4 NamedPlan": ("NamedPlan", "StartDate", "PlanDetail", "PlanRes", "PlanWBP", "PB", "OA", "DP",
                           "CeaseDate", "CeaseReason"),
    "Module 5 ActivePlans": ("ActivePlans", "TransferLA", "Res", "WBP", "PlacementDetail", "EntryDate",
                             "LeavingDate", "AttendancePattern", "SENneed", "SENtype", "SENtypeRank",
                             "ReviewMeeting", "ReviewOutcome", "ReviewDraft", "PhaseTransferDueDate",
                             "PhaseTransferFinalDate", "LastReview"),
}  # fmt: skip
_MODULE_OF = {item.lower(): module for module, items in _MODULES.items() for item in items}


def module_of(item: str) -> str:
    """The module of a finding's item (``PlanDetail/URN``: the module of PlanDetail)."""
    return _MODULE_OF.get(item.split("/")[0].lower(), "")


#: Makes a finding about one person (and case): severity, rule, item, message.
_Maker = Callable[[CheckSeverity, str, str, str], Finding]

_E, _Q = CheckSeverity.ERROR, CheckSeverity.QUERY
_UPN = re.compile(r"[A-Z]\d{12}|[A-Z]\d{11}[A-Z]")
_ULN = re.compile(r"\d{10}")
_LA = re.compile(r"\d{3}")
_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", re.IGNORECASE)


def sex_code(stored: str | None, year: int) -> str | None:
    """The stored sex (M/F or a 2023 GenderCurrent code) in the return year's code list, or None."""
    if stored is None:
        return None
    value = stored.upper()
    if year == 2023:
        return value if value in GENDER_CODES else SEX_TO_GENDER.get(value)
    return value if value in SEX_CODES else GENDER_TO_SEX.get(value)


# --- header ---------------------------------------------------------------------------------------


def check_header(la: str, officers: dict[str, str | None], ctx: Context, year: int) -> Iterator[Finding]:
    if not _LA.fullmatch(la):
        yield Finding(_E, "header", "", "", "LEA", f"'{la}' is not a 3-digit DfE LA number (sen2-spec §3.16)")
    for item, value in officers.items():
        if not ctx.layout.has("Source", item):
            continue
        if value is None:
            mandatory = item != "DSCO" or year >= 2026
            yield Finding(
                _E if mandatory else _Q,
                "header",
                "",
                "",
                item,
                f"{item} is not given; say whether the post is filled (Y), not (N) or being recruited "
                f"(R){'' if mandatory else ' (voluntary in 2025)'}",
            )
        elif value not in HEADER_OFFICER_CODES:
            yield Finding(_E, "header", "", "", item, f"'{value}' is not Y, N or R (sen2-spec §3.15)")
    if year not in range(2023, 2027):
        yield Finding(
            _Q,
            "year",
            "",
            "",
            "Year",
            f"no SEN2 specification for {year} was found; the file follows the 2026 layout "
            "(sen2-spec §5). Check it against the year's technical specification",
        )


# --- person ---------------------------------------------------------------------------------------


def check_person(person: StoredPerson, ctx: Context, seen: dict[str, str]) -> Iterator[Finding]:
    """Module 1 and R20-R21 for one person in the return; ``seen`` tracks identifiers across people."""
    year, census = ctx.period.year, ctx.period.census
    who = person.label

    def f(sev: CheckSeverity, rule: str, item: str, message: str) -> Finding:
        return Finding(sev, rule, who, "", item, message)

    for item, value in (("Surname", person.surname), ("Forename", person.forename)):
        if value is None:
            yield f(_E, "person", item, f"{item} is missing; it is mandatory (item 1.1/1.2)")
    for item, value in (
        ("Surname", person.surname),
        ("Forename", person.forename),
        ("PostCode", person.postcode),
    ):
        if value is not None and XML_INVALID.search(value):
            yield f(
                _E, "person", item, f"{item} holds control characters XML cannot carry; they were removed"
            )
    if person.birth_date is None:
        yield f(_E, "person", "PersonBirthDate", "PersonBirthDate is missing; it is mandatory (item 1.3)")
    elif person.birth_date > census:
        yield f(_E, "person", "PersonBirthDate", "PersonBirthDate is after census day; check it")
    elif person.birth_date < date(census.year - 26, 1, 1):
        yield f(_Q, "person", "PersonBirthDate", "the person is over 25 on census day; check the birth date")
    gender_item = "GenderCurrent" if ctx.layout.has("Person", "GenderCurrent") else "Sex"
    if person.sex is None:
        yield f(_E, "R21", gender_item, f"{gender_item} is missing; it is mandatory (item 1.4)")
    elif sex_code(person.sex, ctx.layout.year) is None:
        allowed = "0, 1, 2 or 9" if gender_item == "GenderCurrent" else "M or F"
        yield f(
            _E,
            "R21",
            gender_item,
            f"the stored sex '{person.sex}' has no {gender_item} code in the {year} return ({allowed}); "
            "it was left out",
        )
    if person.ethnicity is None:
        yield f(
            _E,
            "person",
            "Ethnicity",
            "Ethnicity is missing; it is mandatory (item 1.5; NOBT if not obtained)",
        )
    elif person.ethnicity.upper() not in ETHNICITY_CODES:
        yield f(
            _Q,
            "person",
            "Ethnicity",
            f"'{person.ethnicity}' is not a main ethnicity code (sen2-spec §3.13); COLLECT may not "
            "accept an extended code",
        )
    if person.postcode is None:
        yield f(
            _Q, "person", "PostCode", "PostCode is missing; give it, or a note explaining why it cannot be"
        )
    elif not _POSTCODE.fullmatch(person.postcode):
        yield f(_Q, "person", "PostCode", "PostCode does not look like a UK postcode; check it")
    yield from _identifiers(person, f, seen)


def _identifiers(person: StoredPerson, f: _Maker, seen: dict[str, str]) -> Iterator[Finding]:
    upn, uln, unknown = person.upn, person.uln, person.upn_unknown
    if upn is not None:
        if not _UPN.fullmatch(upn):
            yield f(
                _E, "R20", "UPN", f"UPN '{upn}' is not a capital letter and 12 digits (or a temporary UPN)"
            )
        elif upn[0] != upn_check_letter(upn):
            yield f(
                _E,
                "R20",
                "UPN",
                f"UPN '{upn}' has the wrong check letter (expected '{upn_check_letter(upn)}')",
            )
    if uln is not None and not _ULN.fullmatch(uln):
        yield f(_E, "R20", "UniqueLearnerNumber", f"ULN '{uln}' is not 10 digits")
    if unknown is not None:
        if unknown not in UPN_UNKNOWN_CODES:
            codes = ", ".join(sorted(UPN_UNKNOWN_CODES, key=lambda c: (len(c), c)))
            yield f(_E, "R20", "UPNunknown", f"'{unknown}' is not a UPNunknown code; use one of {codes}")
        if upn is not None or uln is not None:
            yield f(_Q, "R20", "UPNunknown", "UPNunknown is given although the person has a UPN or ULN")
    elif upn is None and uln is None:
        yield f(
            _E,
            "R20",
            "UPN",
            "no UPN, ULN or UPNunknown: give the UPN or ULN, or the reason neither is known",
        )
    for item, value in (("UPN", upn), ("UniqueLearnerNumber", uln)):
        if value is None:
            continue
        other = seen.get(value)
        if other is not None and other != person.person_ref:
            yield f(
                _E,
                "duplicate",
                item,
                f"'{value}' is also the {item} of another person in this return (store reference "
                f"'{other}'); a person appears once, with all their requests. Merge the two",
            )
        else:
            seen[value] = person.person_ref


# --- requests -------------------------------------------------------------------------------------


def check_request(person: StoredPerson, out: RequestOut, ctx: Context) -> Iterator[Finding]:
    """R1-R22 for one request in the return."""
    case = out.case

    def f(sev: CheckSeverity, rule: str, item: str, message: str) -> Finding:
        return Finding(sev, rule, person.label, case.case_ref, item, message)

    ro, rr, rod = out.outcome, out.received, out.outcome_date
    if ro is None:
        yield f(_E, "R1", "RequestOutcome", "RequestOutcome is missing; record Y, N, A, W or H")
    if ro in ("Y", "N") and rod is None:
        yield f(
            _E,
            "R2",
            "RequestOutcomeDate",
            f"RequestOutcome is {ro} but the date the family was told is missing",
        )
    if out.dropped.get("RequestOutcomeDate"):
        yield f(
            _Q,
            "R2",
            "RequestOutcomeDate",
            f"a request outcome date is stored although the outcome is {ro}; it was left out",
        )
    if ro != "H" and rr is None:
        yield f(
            _E,
            "R3",
            "ReceivedDate",
            "ReceivedDate is missing; it is required unless the request is historical",
        )
    if rr is not None and rod is not None and rod < rr:
        yield f(_E, "R4", "RequestOutcomeDate", f"RequestOutcomeDate {rod} is before ReceivedDate {rr}")
    if out.dropped.get("Assessment"):
        yield f(
            _Q,
            "R5",
            "Assessment",
            f"an assessment outcome is stored although RequestOutcome is {ro}; it was left out",
        )
    yield from _assessment(out, f)
    yield from _plan(out, f)
    if out.exported is not None:
        if not _LA.fullmatch(out.exported):
            yield f(_E, "R22", "Exported", f"'{out.exported}' is not a 3-digit DfE LA number")
        if out.assessment_outcome in ("Y", "N") and out.assessment_outcome_date is not None:
            yield f(
                _Q,
                "R22",
                "Exported",
                "the request is marked exported but its assessment was completed; Exported is only for "
                "a child who moved before the assessment was completed",
            )
    if out.active:
        yield from _active(out, f, ctx)


def _assessment(out: RequestOut, f: _Maker) -> Iterator[Finding]:
    ao, aod = out.assessment_outcome, out.assessment_outcome_date
    if ao == "N" and aod is None:
        yield f(
            _E,
            "R6",
            "AssessmentOutcomeDate",
            "AssessmentOutcome is N but the date of the decision is missing",
        )
    if out.dropped.get("AssessmentOutcomeDate"):
        yield f(
            _Q,
            "R6",
            "AssessmentOutcomeDate",
            f"an assessment outcome date is stored although the outcome is {ao}; it was left out",
        )
    if aod is not None:
        for name, start in (("RequestOutcomeDate", out.outcome_date), ("ReceivedDate", out.received)):
            if start is not None and aod < start:
                yield f(
                    _E, "R7", "AssessmentOutcomeDate", f"AssessmentOutcomeDate {aod} is before {name} {start}"
                )
                break


def _plan(out: RequestOut, f: _Maker) -> Iterator[Finding]:
    if out.dropped.get("StartDate") == "no plan":
        yield f(
            _Q,
            "R9",
            "StartDate",
            "a plan start date is stored but the assessment outcome is "
            f"{out.assessment_outcome or 'missing'} (no plan issued); the plan was left out",
        )
    if not out.plan:
        return
    if out.dropped.get("StartDate") == "after census":
        yield f(
            _E,
            "R9",
            "StartDate",
            f"the plan was issued on {out.assessment_outcome_date} but its start date is after census "
            "day; NamedPlan/StartDate is mandatory, correct it",
        )
    elif out.start is None:
        yield f(_E, "R9", "StartDate", "the plan has no start date; NamedPlan/StartDate is mandatory")
    elif out.assessment_outcome_date is not None and out.start < out.assessment_outcome_date:
        yield f(
            _Q,
            "R9",
            "StartDate",
            f"StartDate {out.start} is before the plan was issued ({out.assessment_outcome_date}); "
            "check both",
        )
    if out.ceased is not None:
        if out.cease_reason is None:
            yield f(
                _E, "R17", "CeaseReason", f"the plan ceased on {out.ceased} but no CeaseReason is recorded"
            )
        elif out.cease_reason not in CEASE_REASONS:
            yield f(_E, "R17", "CeaseReason", f"'{out.cease_reason}' is not a CeaseReason (1-9)")
        if out.start is not None and out.ceased < out.start:
            yield f(_E, "R17", "CeaseDate", f"CeaseDate {out.ceased} is before StartDate {out.start}")
    if out.dropped.get("CeaseReason"):
        yield f(_Q, "R17", "CeaseReason", "a cease reason is stored without a cease date; it was left out")


def _active(out: RequestOut, f: _Maker, ctx: Context) -> Iterator[Finding]:
    layout, census = ctx.layout, ctx.period.census
    if out.transfer_la is not None and not _LA.fullmatch(out.transfer_la):
        yield f(_E, "R22", "TransferLA", f"'{out.transfer_la}' is not a 3-digit DfE LA number")
    if out.dropped.get("ReviewOutcome"):
        yield f(
            _Q,
            "R18",
            "ReviewOutcome",
            "a review decision is stored without the date of the review meeting; it was left out",
        )
    meeting, letter = out.review_meeting, out.last_review
    if layout.has("ActivePlans", "ReviewMeeting"):
        if meeting is not None and letter is not None and letter < meeting:
            yield f(
                _Q,
                "R18",
                "LastReview",
                f"LastReview {letter} is before ReviewMeeting {meeting}; the decision date may belong to "
                "an earlier review",
            )
        if meeting is not None and out.review_outcome is None and letter is not None:
            yield f(
                _Q,
                "R18",
                "ReviewOutcome",
                "the review decision was sent but its outcome (A/C/M) is not recorded",
            )
        mandatory = layout.year >= 2025
        year_old = out.start is not None and out.start <= census - timedelta(days=365)
        if mandatory and out.ceased is None and meeting is None and year_old:
            yield f(
                _Q,
                "R18",
                "ReviewMeeting",
                f"the plan started on {out.start} but no annual review meeting by census day is recorded",
            )
    if (
        layout.has("ActivePlans", "ReviewDraft")
        and out.review_draft is not None
        and out.review_outcome != "A"
    ):
        yield f(
            _Q,
            "R19",
            "ReviewDraft",
            f"ReviewDraft is given although ReviewOutcome is {out.review_outcome or 'missing'}; a draft "
            "amended plan follows a decision to amend (A)",
        )
