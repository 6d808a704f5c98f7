"""The SEN2 person-level return, year by year: census days, periods, element order, code lists.

Everything that differs between return years (sen2-spec §2.2, §2.3, §5) is in this one table, so
that the builder and the writer never test a year themselves: they ask which elements a block has
in the year in hand, in which order. The order is the reconstructed one of sen2-spec §2.2-§2.3
(LIIA XSDs; where sources disagree, the spec's choice is followed and the conflict noted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: Census (reference) day of each return year (sen2-spec §1, all Thursdays).
CENSUS_DAYS: dict[int, date] = {
    2023: date(2023, 1, 19),
    2024: date(2024, 1, 18),
    2025: date(2025, 1, 16),
    2026: date(2026, 1, 15),
    2027: date(2027, 1, 21),
}
#: Return years with a known layout (sen2-spec §5); 2027 has a census day but no specification
#: yet, and is written with the newest layout.
LAYOUT_YEARS = range(2023, 2027)
EXPORT_YEARS = tuple(sorted(CENSUS_DAYS))

_PERSON_2023 = (
    "Surname",
    "Forename",
    "PersonBirthDate",
    "GenderCurrent",
    "Ethnicity",
    "PostCode",
    "UPN",
    "UniqueLearnerNumber",
    "UPNunknown",
    "Requests",
)
_PERSON_2024 = tuple("Sex" if e == "GenderCurrent" else e for e in _PERSON_2023)
_REQUESTS_2023 = (
    "ReceivedDate",
    "RYA",
    "RequestOutcomeDate",
    "RequestOutcome",
    "RequestMediation",
    "RequestTribunal",
    "Exported",
    "Assessment",
    "ActivePlans",
)
_REQUESTS_2025 = ("ReceivedDate", "RequestSource", *_REQUESTS_2023[1:])
_ASSESSMENT = (
    "AssessmentOutcome",
    "AssessmentOutcomeDate",
    "AssessmentMediation",
    "AssessmentTribunal",
    "OtherMediation",
    "OtherTribunal",
    "Week20",
    "NamedPlan",
)
_NAMED_PLAN = (
    "StartDate",
    "PlanDetail",
    "PlanRes",
    "PlanWBP",
    "PB",
    "OA",
    "DP",
    "CeaseDate",
    "CeaseReason",
)
_PLAN_DETAIL = (
    "URN",
    "UKPRN",
    "SENSetting",
    "SENSettingOther",
    "PlacementRank",
    "SENunitIndicator",
    "ResourcedProvisionIndicator",
)
_PLACEMENT_2023 = (
    "URN",
    "UKPRN",
    "SENSetting",
    "SENSettingOther",
    "PlacementRank",
    "EntryDate",
    "LeavingDate",
    "AttendancePattern",
    "SENunitIndicator",
    "ResourcedProvisionIndicator",
)
_PLACEMENT_2024 = (*(e for e in _PLACEMENT_2023 if e != "AttendancePattern"), "Res", "WBP")
_SEN_NEED = ("SENtype", "SENtypeRank")
#: sen2-spec §2.3. 2025 follows LIIA (LastReview after ReviewMeeting); MastodonC puts it last [U].
_ACTIVE_PLANS = {
    2023: ("TransferLA", "PlacementDetail", "Res", "WBP", "SENneed", "LastReview"),
    2024: ("TransferLA", "PlacementDetail", "SENneed", "ReviewMeeting", "ReviewOutcome", "LastReview"),
    2025: (
        "TransferLA",
        "PlacementDetail",
        "SENneed",
        "ReviewMeeting",
        "LastReview",
        "ReviewOutcome",
        "ReviewDraft",
        "PhaseTransferDueDate",
        "PhaseTransferFinalDate",
    ),
    2026: (
        "TransferLA",
        "PlacementDetail",
        "SENneed",
        "ReviewMeeting",
        "ReviewOutcome",
        "ReviewDraft",
        "PhaseTransferDueDate",
        "PhaseTransferFinalDate",
        "LastReview",
    ),
}
_HEADER = ("CollectionDetails", "Source")
_COLLECTION = ("Collection", "Year", "ReferenceDate")
_SOURCE_2023 = ("SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime", "DMO", "DCO")


@dataclass(frozen=True)
class Layout:
    """The blocks of one return year: block name -> its children in order."""

    year: int
    blocks: dict[str, tuple[str, ...]]

    def has(self, block: str, element: str) -> bool:
        return element in self.blocks[block]


def layout(year: int) -> Layout:
    """The layout used for return ``year`` (a year after 2026 uses the 2026 layout)."""
    y = min(max(year, min(LAYOUT_YEARS)), max(LAYOUT_YEARS))
    return Layout(
        year=y,
        blocks={
            "Message": ("Header", "Persons"),
            "Header": _HEADER,
            "CollectionDetails": _COLLECTION,
            "Source": _SOURCE_2023 + (("DSCO",) if y >= 2025 else ()),
            "Persons": ("Person",),
            "Person": _PERSON_2023 if y == 2023 else _PERSON_2024,
            "Requests": _REQUESTS_2025 if y >= 2025 else _REQUESTS_2023,
            "Assessment": _ASSESSMENT,
            "NamedPlan": _NAMED_PLAN,
            "PlanDetail": _PLAN_DETAIL,
            "ActivePlans": _ACTIVE_PLANS[y],
            "PlacementDetail": _PLACEMENT_2023 if y == 2023 else _PLACEMENT_2024,
            "SENneed": _SEN_NEED,
        },
    )


@dataclass(frozen=True)
class Period:
    """A return's dates: census day (status "as at") and the collection (activity) year."""

    year: int
    census: date
    start: date  # 1 January of the previous calendar year
    end: date  # 31 December of the previous calendar year

    def contains(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


def period(year: int) -> Period:
    """Census day and collection year of return ``year`` (sen2-spec §1)."""
    if year not in CENSUS_DAYS:
        known = ", ".join(str(y) for y in EXPORT_YEARS)
        raise ValueError(f"no SEN2 census day is known for {year}; known return years: {known}")
    return Period(year, CENSUS_DAYS[year], date(year - 1, 1, 1), date(year - 1, 12, 31))


# --- code lists (sen2-spec §3) --------------------------------------------------------------------

#: 2023 GenderCurrent (0 not known, 1 male, 2 female, 9 not specified); 2024+ Sex M/F (§3.11).
GENDER_CODES = frozenset({"0", "1", "2", "9"})
SEX_CODES = frozenset({"M", "F"})
SEX_TO_GENDER = {"M": "1", "F": "2"}
GENDER_TO_SEX = {"1": "M", "2": "F"}
#: Main ethnicity codes (§3.13); CBDS extended codes may or may not be accepted [U].
_WHITE, _MIXED = ("WBRI", "WIRI", "WIRT", "WOTH", "WROM"), ("MWBC", "MWBA", "MWAS", "MOTH")
_ASIAN, _BLACK = ("AIND", "APKN", "ABAN", "AOTH"), ("BCRB", "BAFR", "BOTH")
_OTHER = ("CHNE", "OOTH", "REFU", "NOBT")  # Chinese, any other, refused, not yet obtained
ETHNICITY_CODES = frozenset((*_WHITE, *_MIXED, *_ASIAN, *_BLACK, *_OTHER))
CEASE_REASONS = frozenset(str(i) for i in range(1, 10))  # §3.5
HEADER_OFFICER_CODES = frozenset({"Y", "N", "R"})  # §3.15 DMO/DCO/DSCO
