"""SEN2 element names, code lists and the mapping onto the caseload contract (sen2-spec §2–§3).

Kept apart from the checks so that the year differences (§5) and the mapping can be read in one
place: which element fills which contract column, and from which return year it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ehcp_workflow.core.caseload import OUTCOME_CODES, REVIEW_OUTCOMES

SUPPORTED_YEARS = range(2023, 2027)  # sen2-spec §5: person-level statutory returns 2023-2026

#: Allowed children of each block (lower case), the union over 2023-2026 (sen2-spec §2.1-§2.2).
#: Anything else is reported once per file as a probable typo.
SCHEMA: dict[str, frozenset[str]] = {
    "message": frozenset({"header", "persons"}),
    "header": frozenset({"collectiondetails", "source"}),
    "collectiondetails": frozenset({"collection", "year", "referencedate"}),
    "source": frozenset(
        {"sourcelevel", "lea", "softwarecode", "release", "serialno", "datetime", "dmo", "dco", "dsco"}
    ),
    "person": frozenset(
        {
            "surname",
            "forename",
            "personbirthdate",
            "gendercurrent",
            "sex",
            "ethnicity",
            "postcode",
            "upn",
            "uniquelearnernumber",
            "upnunknown",
            "requests",
        }
    ),
    "requests": frozenset(
        {
            "receiveddate",
            "requestsource",
            "rya",
            "requestoutcomedate",
            "requestoutcome",
            "requestmediation",
            "requesttribunal",
            "exported",
            "assessment",
            "activeplans",
        }
    ),
    "assessment": frozenset(
        {
            "assessmentoutcome",
            "assessmentoutcomedate",
            "assessmentmediation",
            "assessmenttribunal",
            "othermediation",
            "othertribunal",
            "week20",
            "namedplan",
        }
    ),
    "namedplan": frozenset(
        {"startdate", "plandetail", "planres", "planwbp", "pb", "oa", "dp", "ceasedate", "ceasereason"}
    ),
    "plandetail": frozenset(
        {
            "urn",
            "ukprn",
            "sensetting",
            "sensettingother",
            "placementrank",
            "senunitindicator",
            "resourcedprovisionindicator",
        }
    ),
    "activeplans": frozenset(
        {
            "transferla",
            "res",
            "wbp",
            "placementdetail",
            "senneed",
            "reviewmeeting",
            "reviewoutcome",
            "reviewdraft",
            "phasetransferduedate",
            "phasetransferfinaldate",
            "lastreview",
        }
    ),
    "placementdetail": frozenset(
        {
            "urn",
            "ukprn",
            "sensetting",
            "sensettingother",
            "placementrank",
            "entrydate",
            "leavingdate",
            "attendancepattern",
            "senunitindicator",
            "resourcedprovisionindicator",
            "res",
            "wbp",
        }
    ),
    "senneed": frozenset({"sentype", "sentyperank"}),
}

#: DfE-guide spelling of every element, for messages (sen2-spec §2.1 on ``SENsetting``).
_SPELLINGS = (
    "Message Header Persons CollectionDetails Collection Year ReferenceDate Source SourceLevel LEA "
    "SoftwareCode Release SerialNo DateTime DMO DCO DSCO Person Surname Forename PersonBirthDate "
    "GenderCurrent Sex Ethnicity PostCode UPN UniqueLearnerNumber UPNunknown Requests ReceivedDate "
    "RequestSource RYA RequestOutcomeDate RequestOutcome RequestMediation RequestTribunal Exported "
    "Assessment AssessmentOutcome AssessmentOutcomeDate AssessmentMediation AssessmentTribunal "
    "OtherMediation OtherTribunal Week20 NamedPlan StartDate PlanDetail URN UKPRN SENsetting "
    "SENSettingOther PlacementRank SENunitIndicator ResourcedProvisionIndicator PlanRes PlanWBP PB OA "
    "DP CeaseDate CeaseReason ActivePlans TransferLA Res WBP PlacementDetail EntryDate LeavingDate "
    "AttendancePattern SENneed SENtype SENtypeRank ReviewMeeting ReviewOutcome ReviewDraft "
    "PhaseTransferDueDate PhaseTransferFinalDate LastReview"
)
CANONICAL: dict[str, str] = {name.lower(): name for name in _SPELLINGS.split()}


def spelling(key: str) -> str:
    """The DfE spelling of the element with lower-case name ``key``."""
    return CANONICAL.get(key, key)


class Kind(StrEnum):
    DATE = "date"  # ccyy-mm-dd; a bad one is an error
    OUTCOME = "outcome"  # Y/N/A/W/H (§3.1, §3.2); unknown is an error
    REVIEW = "review"  # A/C/M (§3.4); unknown is an error
    LA = "la"  # 3-digit LA number (§3.16); a bad one is a warning, the value is kept
    CEASE = "cease"  # 1-9 (§3.5); unknown is a warning, the value is kept


@dataclass(frozen=True)
class Mapped:
    """One SEN2 element that fills a caseload column."""

    block: str  # "requests", "assessment", "namedplan" or "activeplans"
    key: str  # element, lower case
    column: str  # contract column
    kind: Kind
    since: int = 2023  # first return year that has the element (sen2-spec §5)


#: The mapping from SEN2 onto the caseload contract (one row per ``Requests``).
MAPPED: tuple[Mapped, ...] = (
    Mapped("requests", "receiveddate", "request_received", Kind.DATE),
    Mapped("requests", "requestoutcome", "request_outcome", Kind.OUTCOME),
    Mapped("requests", "requestoutcomedate", "request_outcome_date", Kind.DATE),
    Mapped("requests", "exported", "exported_to", Kind.LA),
    Mapped("assessment", "assessmentoutcome", "assessment_outcome", Kind.OUTCOME),
    Mapped("assessment", "assessmentoutcomedate", "assessment_outcome_date", Kind.DATE),
    Mapped("namedplan", "startdate", "plan_start", Kind.DATE),
    Mapped("namedplan", "ceasedate", "plan_ceased", Kind.DATE),
    Mapped("namedplan", "ceasereason", "cease_reason", Kind.CEASE),
    Mapped("activeplans", "transferla", "transfer_in_from", Kind.LA),
    Mapped("activeplans", "reviewmeeting", "review_meeting", Kind.DATE, since=2024),
    Mapped("activeplans", "reviewoutcome", "review_outcome", Kind.REVIEW, since=2024),
    Mapped("activeplans", "lastreview", "review_decision_letter", Kind.DATE),
    Mapped("activeplans", "reviewdraft", "amendment_notice", Kind.DATE, since=2025),
    Mapped("activeplans", "phasetransferduedate", "phase_transfer_due", Kind.DATE, since=2025),
    Mapped("activeplans", "phasetransferfinaldate", "phase_transfer_final", Kind.DATE, since=2025),
)
COLUMN_ELEMENT: dict[str, str] = {m.column: spelling(m.key) for m in MAPPED}
#: Week20 = 1 fills this column with "unspecified" (SEN2 says only *that* an exception applies).
WEEK20_COLUMN = "exception_final_plan"
COLUMN_ELEMENT[WEEK20_COLUMN] = "Week20"

#: 0/1 flags that matter to the clocks or appeals (errors when bad), by block (sen2-spec §3.14).
CLOCK_FLAGS: dict[str, tuple[str, ...]] = {
    "requests": ("rya", "requestmediation", "requesttribunal"),
    "assessment": ("assessmentmediation", "assessmenttribunal", "othermediation", "othertribunal", "week20"),
}
#: 0/1 flags about the plan's content only (warnings when bad).
CONTENT_FLAGS: dict[str, tuple[str, ...]] = {
    "namedplan": ("pb", "oa"),
    "plandetail": ("senunitindicator", "resourcedprovisionindicator"),
    "placementdetail": ("senunitindicator", "resourcedprovisionindicator"),
}
FLAG_VALUES = frozenset({"0", "1"})

CODES: dict[Kind, frozenset[str]] = {
    Kind.OUTCOME: OUTCOME_CODES,
    Kind.REVIEW: REVIEW_OUTCOMES,
    Kind.CEASE: frozenset(str(i) for i in range(1, 10)),
}
UPN_UNKNOWN_CODES = frozenset({"UN1", "UN2", "UN3", "UN5", "UN8", "UN9", "UN10"})  # §3.12
SEN_TYPES = frozenset(
    {"SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "DS"}
)  # §3.10
SEN_TYPE_SINCE = {"DS": 2025}
PLAN_SETTINGS = frozenset({"OLA", "OPA", "EHE", "EYP", "OTH"})  # §3.6, PlanDetail
PLACEMENT_SETTINGS = frozenset({"OLA", "OPA", "EHE", "EYP", "OTH", "NEET", "NIEC", "NIEO"})
PLACEMENT_SETTING_SINCE = {"OTH": 2024}  # R13
RANKS = frozenset({"1", "2"})  # §3.9
