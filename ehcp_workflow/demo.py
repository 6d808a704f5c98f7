"""Synthetic demo council: a realistic, fully synthetic caseload for demos, tests and benchmarks.

:func:`generate_council` builds ``n_cases`` case rows (and their advice requests) as they stand at
the end of ``as_of``; :func:`write_council_csv` writes them in the project CSV format. Everything is
vectorised with numpy (no Python loop per case: a million cases take a few seconds), deterministic
for a seed, and never reads the clock. Nothing is dated after ``as_of`` except the *planned* columns
(``phase_transfer_date``, ``transfer_out_move``).

No personal data: ``person_ref`` is UPN-shaped (check letter + 12 digits, DfE modulus-23 check
letter) but uses the placeholder LA number ``999``, which no council has, so it can never be a real
pupil's UPN. There are no names or birth dates.

What a council looks like
-------------------------
Three kinds of case row, in proportion to a Kent-sized council (``n_cases`` ≈ 28,000 gives ~17,000
plans that started before the request window and ~310 requests a month, as Kent reported):

* **Long-standing plans** (58.8 %): request and assessment outcome ``H``, ``plan_start`` 3 to 12
  years back (not before September 2014, when EHC plans began, unless ``as_of`` is too early for
  that), the request received 100-300 days before the plan for 90 % (SEN2 does not need it for
  ``H``). Some ceased in the past year (SEN2
  cease reason codes in ``cease_reason``), some transferring out to another council.
* **Transfers in** (1.2 %): ``H`` plans made by another council (``transfer_in_from``), transferred in
  the last two years, with the reg 15(4) notice mostly within 6 weeks.
* **Recent requests** (40 %): received in the three years before ``as_of``, flowing through the
  20-week process; some still open at every stage, including a backlog with waits past 30, 52 and
  100 weeks.

Every plan (old or new) gets a latest annual review state; about 15 % of active plans are in the
phase-transfer cohort of the September after ``as_of`` and 15 % in the previous one; a few have
re-assessments, appealable decisions (mediation certificates, appeals lodged) and transfers.
``phase_transfer_due`` is left empty: an explicit due date overrides the reg 18 deadline the engine
computes from ``phase_transfer_type`` and ``phase_transfer_date``, and which date SEN2 means by it
is not settled (sen2-spec, open question 6).

Calibration (figure → source)
-----------------------------
Sources: "§5" is ``statutory-rules.md`` §5 (national figures) and "§2.3" its exceptions section;
"Kent 2021" the Kent SEND update for 1-30 August 2021 (seed 003); "Kent 2024a" the SEND
Sub-Committee pack of 7 February 2024 (seed 000); "Kent 2024b" the Scrutiny Committee pack of
18 September 2024 (seed 001); "Kingston 2021" the Kingston upon Thames WSOA impact report of March
2021 (seed 004). "[I]" marks a judgement where no source gave a figure. "Observed" is what
``generate_council(1_000_000, 1, date(2026, 11, 20))`` produces.

Requests and assessments

- Row mix: 40 % recent requests, 1.2 % transfers in, 58.8 % older plans. Kent 2021: 17,088 plans;
  Kent 2024a: ~316 requests a month (161 parental = 50.9 %), so 36 months ≈ 11,400 requests beside
  ~17,000 plans.
- Growth +12 % a year. §5: initial requests 138,242 (2023) → 154,489 (2024), +11.8 %.
- Seasonality (x the monthly mean, Jan..Dec) 1.12 1.15 1.35 1.00 1.15 1.15 1.00 0.51 1.10 1.15 1.15
  0.57. Kent 2024a, 2023 parental requests: mean 161, March 218 (peak), August 82, December 92,
  other months 166-199 (April and July not given: 1.00 [I]). Weekends 0.1 x a weekday [I].
- Refused to assess: 22 % of requests (observed 22.7 % of decisions). §5: 22.3 % (2021), 22.1 %
  (2022). Kent 2024a implies ~37 % (56.8 % of parental, 16.9 % of school requests): not used.
- Decision to assess within 6 weeks: 78 %, the rest 6-13 weeks [I] (reg 5 limit; Kent 2024a
  parents: "It was longer than 6 weeks").
- Withdrawn before the decision 3 %, during the assessment 2 %; exported 1.2 % [I].
- Not to issue after assessment: 8 % of assessments, 12-23 weeks, 75 % within 16 weeks [I] (§5:
  new plans ≈ 60 % of requests in 2022).
- Final plan, days from request: 47 % within 20 weeks (84-140 days), 44 % 20-52 weeks, 9 % over 52
  weeks (365 + exponential, mean 200 days, up to 157 weeks). Observed among plans issued by as_of:
  52 % within 20 weeks, 43 % 20-52, 5 % over 52 (the slowest are still open). §5: 50.3 % within
  20 weeks (2023), 46.4 % (2024), 2024 bands 46.3 % 20-52 and 7.3 % over 52 weeks; Kent 2024b:
  51.6 % in August 2024; Kent 2021: 42 %.
- Open backlog: the slow tail, still open at as_of. Observed 33 % of open requests past 20 weeks
  and 0.9 % past 100 weeks. Kent 2024b: 31.7 % of 1,306 open assessments over the time limit (May
  2024); 1,080 children waiting 100+ weeks (Sep 2023), oldest case 119-124 weeks.
- Draft plan served 2-6 weeks before the final [I] (IPSEA: draft by week 14, rules A5).
- ``exception_final_plan``: 2.5 % of on-time and 11 % of late plans (observed 6.5 % of issued
  plans); ground a for requests received in June-July (school closure window), else c or d. §2.3:
  3,808 of 53,327 plans (7.1 %, 2019) to 3,404 of 68,665 (5.0 %, 2022).

Plans and reviews

- Older plans start 3-12 years before as_of (exponential, mean 3 years beyond the request window),
  not before September 2014 when as_of allows [I].
- Latest review: 74 % in the last 12 months, 14 % overdue up to a year, 5 % 1-2 years, 4 % over 2
  years, 3 % never reviewed [I]. Kent 2024a: ~9,000 children waiting over 2 years for a review (an
  extreme); Kent 2024b: 5,000 overdue reviews cleared.
- Decision letter within 4 weeks of the meeting 55 %, the rest 4-30 weeks. Kingston 2021: 49 %,
  54 %, 57 %.
- Review report within 2 weeks 85 % [I]. Outcomes M 55 %, A 40 %, C 5 % [I].
- Amendment notice within 8 weeks of the decision 50 % (35 % sent with the letter). Kingston 2021
  local KPI: 54 %, 23 %, 54 %.
- Final amended plan within 8 weeks of the notice 82 %. Kingston 2021: 83 %, 80 %, 83 %.
- Ceased in the last year 4 % of older plans (SEN2 cease reason codes) [I]; transfers out 0.6 %,
  transfers in 1.2 % [I]; re-assessments 1 % of active plans, 65 % agreed [I].
- Phase transfer: 15 % of active plans in each of the two cohorts [I] (roughly one year group in
  seven); school 62 %, post16 35 %, post16_other 3 % [I]; amended plan on time 85 % (school) and
  65 % (post16). Kent 2024b: 92 % of Year 6→7 and 70 % of post-16 families had an answer by the
  deadline in 2024 (c.70 % and 20-30 % in 2023).
- Appealable decisions: 12 % of refusals, 25 % of not-to-issue and cease decisions, 4 % of new
  plans, 20 % of refused re-assessments; 55 % with a mediation certificate, 45 % appeal lodged [I].

Advice (reg 8) and routing

- Requested 0-14 days after the decision to assess (about a week) [I].
- Providers asked: school 97 %, EP 95 %, paediatrics 85 %, social care 75 %, SaLT 55 %, OT 30 %,
  physio 12 % [I] (reg 6(1): educational, medical, psychological and social care advice).
- Answered within 6 weeks: EP 81 %, paediatrics 52 %, SaLT 45 %, physio 43 %, OT 39 %, social care
  39 % (Kingston 2021, means of the monthly table Sep 2019-Sep 2020); school 75 % [I]. Late answers
  arrive 3-7 weeks later on average [I]. Advice still due when the plan was issued arrives just
  before it (60 %) or never. Kingston's table shows the EP service as the *fastest* adviser and
  social care as the slowest; the generator follows the paper.
- Area teams North 21 %, East 35 %, South 19 %, West 24 % of area cases: Kent 2024a parental
  requests a month by area 34 / 56 / 30 / 38. Post-16 team: post-16 phase transfers, 15 % of other
  plans, 5 % of requests [I].
- One caseworker per ~120 open cases (active plans and open requests) in each team [I].
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ehcp_workflow.core.caseload import (
    ADVICE_PROVIDERS,
    BOOL_COLUMNS,
    CASE_COLUMNS,
    DATE_COLUMNS,
    DATE_DTYPE,
    ID_COLUMNS,
    Caseload,
    empty_advice,
    empty_cases,
    normalise_advice,
    normalise_cases,
)

__all__ = ["DEMO_PROVIDERS", "TEAMS", "advice_csv_columns", "generate_council", "write_council_csv"]

Arr = npt.NDArray[Any]

_NAT: Final = np.datetime64("NaT", "D")
_NONE: Final = np.array(None, dtype=object)  # a missing string, for np.where
_EHCP_START: Final = np.datetime64("2014-09-01", "D")  # CFA 2014 Part 3 in force

# --- calibration constants (see the module docstring for sources) ----------------------------------

P_RECENT: Final = 0.40
P_TRANSFER_IN: Final = 0.012
REQUEST_WINDOW_DAYS: Final = 3 * 365 + 1
REQUEST_GROWTH: Final = 1.12
SEASON: Final = np.array([1.12, 1.15, 1.35, 1.00, 1.15, 1.15, 1.00, 0.51, 1.10, 1.15, 1.15, 0.57])
WEEKEND_WEIGHT: Final = 0.1

P_REFUSE: Final = 0.22
P_WITHDRAW_REQUEST: Final = 0.03
P_EXPORT: Final = 0.012
P_NOT_TO_ISSUE: Final = 0.08
P_WITHDRAW_ASSESSMENT: Final = 0.02
P_DECISION_ON_TIME: Final = 0.78

P_FINAL_FAST: Final = 0.47
P_FINAL_MEDIUM: Final = 0.44  # the rest (0.09) takes over 52 weeks
P_EXCEPTION_ON_TIME: Final = 0.025
P_EXCEPTION_LATE: Final = 0.11

P_REVIEW_STATE: Final = (0.74, 0.14, 0.05, 0.04)  # last 12 months, overdue ≤1y, 1-2y, >2y; rest never
P_REVIEW_OUTCOME: Final = (0.55, 0.40)  # M, A; rest C
P_CEASED: Final = 0.04
P_TRANSFER_OUT: Final = 0.006
P_REASSESS: Final = 0.01
P_PHASE_COHORT: Final = 0.15

TEAMS: Final = ("North", "East", "South", "West", "Post-16")
AREA_WEIGHTS: Final = np.array([34.0, 56.0, 30.0, 38.0])
CASES_PER_CASEWORKER: Final = 120

#: Advice providers the demo asks, with the share of assessments asking each, the share answering
#: within 6 weeks (Kingston 2021) and the mean days beyond 6 weeks for late answers [I].
DEMO_PROVIDERS: Final = (
    "educational_psychology",
    "paediatrics",
    "speech_language_therapy",
    "occupational_therapy",
    "physiotherapy",
    "social_care",
    "school_or_early_years",
)
_ASKED: Final = np.array([0.95, 0.85, 0.55, 0.30, 0.12, 0.75, 0.97])
_ON_TIME: Final = np.array([0.81, 0.52, 0.45, 0.39, 0.43, 0.39, 0.75])
_LATE_MEAN: Final = np.array([28.0, 45.0, 40.0, 45.0, 40.0, 50.0, 21.0])
_HEALTH: Final = np.array([False, True, True, True, True, False, False])

#: Other councils (DfE 3-digit LA numbers) for transfers in/out and exports.
OTHER_LAS: Final = ("887", "845", "936", "938", "881", "314", "210", "316", "330", "350", "850", "855")

_CEASE_REASONS: Final = np.array(["1", "2", "3", "4", "6", "7", "8", "9"], dtype=object)
_CEASE_WEIGHTS: Final = np.array([0.30, 0.22, 0.05, 0.05, 0.08, 0.05, 0.01, 0.24])

# stage ids for independent random streams (adding a stage never changes the others)
_S_SEGMENT, _S_HIST, _S_TIN, _S_RECENT, _S_CEASE, _S_REVIEW, _S_PHASE = range(7)
_S_REASSESS, _S_APPEAL, _S_ROUTE, _S_ADVICE, _S_IDS = range(7, 12)


# --- small vectorised helpers ----------------------------------------------------------------------


def _td(days: Arr) -> Arr:
    return np.asarray(days, dtype=np.int64).view("timedelta64[D]")


def _uniform(rng: np.random.Generator, lo: int, hi: int, n: int) -> Arr:
    """Integer days uniform on [lo, hi]."""
    return rng.integers(lo, hi + 1, size=n)


def _delay(
    rng: np.random.Generator,
    n: int,
    p_on_time: float | Arr,
    lo: int,
    hi: int,
    late_mean: float | Arr,
    cap: int,
) -> Arr:
    """Days: with ``p_on_time`` uniform on [lo, hi], otherwise hi + 1 + exponential, capped at ``cap``."""
    on = rng.random(n) < p_on_time
    fast = rng.integers(lo, hi + 1, size=n)
    late = hi + 1 + np.minimum(rng.exponential(1.0, size=n) * late_mean, cap - hi - 1).astype(np.int64)
    return np.where(on, fast, late)


def _upto(dates: Arr, limit: Arr | np.datetime64) -> Arr:
    """``dates`` with everything after ``limit`` set to NaT (not happened yet)."""
    return np.where(dates <= limit, dates, _NAT)


def _pick(rng: np.random.Generator, labels: Arr, weights: Arr, n: int) -> Arr:
    p = np.asarray(weights, dtype=float)
    return labels[rng.choice(len(labels), size=n, p=p / p.sum())]


def _digits(values: Arr, width: int) -> Arr:
    """(n, width) uint8 array of the decimal digits (as ASCII) of non-negative ``values``."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + 48).astype(np.uint8)


def _strings(prefix: Arr, digits: Arr) -> Arr:
    """Object array of str: per-row ASCII ``prefix`` bytes (n, p) followed by ``digits`` (n, w)."""
    buf = np.ascontiguousarray(np.concatenate([prefix, digits], axis=1))
    width = buf.shape[1]
    return buf.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def _numbered(prefix: str, numbers: Arr, width: int) -> Arr:
    numbers = np.asarray(numbers, dtype=np.int64)
    width = max(width, len(str(int(numbers.max())))) if len(numbers) else width
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    return _strings(np.broadcast_to(head, (len(numbers), len(head))), _digits(numbers, width))


_UPN_LETTERS: Final = np.frombuffer(b"ABCDEFGHJKLMNPQRTUVWXYZ", dtype=np.uint8)


def _synthetic_upns(serials: Arr) -> Arr:
    """UPN-shaped refs: DfE modulus-23 check letter + ``999`` (no such LA) + 9 digits."""
    body = np.concatenate([np.full((len(serials), 3), ord("9"), dtype=np.uint8), _digits(serials, 9)], axis=1)
    weights = np.arange(2, 14, dtype=np.int64)
    check = ((body.astype(np.int64) - 48) * weights).sum(axis=1) % 23
    return _strings(_UPN_LETTERS[check][:, None], body)


# --- the build ---------------------------------------------------------------------------------------


class _Columns(dict[str, Arr]):
    """Column arrays created on first use: NaT for dates, ``None`` for strings."""

    def __init__(self, n: int, fill: Any) -> None:
        super().__init__()
        self.n = n
        self.fill = fill

    def __missing__(self, key: str) -> Arr:
        arr = np.full(self.n, self.fill, dtype=None if self.fill is not None else object)
        self[key] = arr
        return arr


class _Build:
    """Column arrays under construction: dates as ``datetime64[D]``, strings as object arrays."""

    def __init__(self, n: int, seed: int, today: np.datetime64, la: str) -> None:
        self.n = n
        self.seed = seed & 0xFFFFFFFFFFFFFFFF
        self.today = today
        self.la = la
        self.d = _Columns(n, _NAT)
        self.s = _Columns(n, None)
        self.agreed = np.full(n, -1, dtype=np.int8)  # reassessment_agreed: -1 NA, 0 False, 1 True
        # internal state shared between stages
        self.recent = np.zeros(n, dtype=bool)
        self.open_request = np.zeros(n, dtype=bool)
        self.assess_end = np.full(n, _NAT)  # when the assessment stopped (plan, N, W or export)
        self.advice_cap = np.zeros(n, dtype=bool)  # late advice pulled before the end (plan or N)
        self.transfer_out = np.zeros(n, dtype=bool)

    def rng(self, stage: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stage])

    def active_plan(self) -> Arr:
        d = self.d
        return (d["plan_start"] <= self.today) & np.isnat(d["plan_ceased"])


def _segments(b: _Build) -> tuple[Arr, Arr, Arr]:
    u = b.rng(_S_SEGMENT).random(b.n)
    recent = u < P_RECENT
    tin = (u >= P_RECENT) & (u < P_RECENT + P_TRANSFER_IN)
    return recent, tin, ~(recent | tin)


def _historical(b: _Build, mask: Arr) -> None:
    rng = b.rng(_S_HIST)
    idx = np.flatnonzero(mask)
    m = len(idx)
    newest = b.today - REQUEST_WINDOW_DAYS
    floor = _EHCP_START if newest - 400 > _EHCP_START else b.today - 12 * 365
    floor = max(floor, b.today - 12 * 365)
    start = newest - _td(rng.exponential(1100.0, size=m))
    span = int((newest - floor).astype(np.int64))
    start = np.where(start < floor, floor + _td(rng.integers(0, span + 1, size=m)), start)
    b.d["plan_start"][idx] = start
    received = start - _td(_uniform(rng, 100, 300, m))
    b.d["request_received"][idx] = np.where(rng.random(m) < 0.9, received, _NAT)
    b.s["request_outcome"][idx] = "H"
    b.s["assessment_outcome"][idx] = "H"


def _transfers_in(b: _Build, mask: Arr) -> None:
    rng = b.rng(_S_TIN)
    idx = np.flatnonzero(mask)
    m = len(idx)
    moved = b.today - _td(_uniform(rng, 0, 730, m))
    start = np.maximum(moved - _td(_uniform(rng, 60, 2500, m)), _EHCP_START)
    b.d["plan_start"][idx] = np.minimum(start, moved - 30)
    b.d["transfer_in_date"][idx] = moved
    notice = moved + _td(_delay(rng, m, 0.65, 3, 42, 30.0, 150))
    notice = np.where(rng.random(m) < 0.04, _NAT, notice)
    b.d["transfer_in_notice_sent"][idx] = _upto(notice, b.today)
    b.s["transfer_in_from"][idx] = _pick(
        rng, np.array(_others(b.la), dtype=object), np.ones(len(_others(b.la))), m
    )
    b.s["request_outcome"][idx] = "H"
    b.s["assessment_outcome"][idx] = "H"


def _others(la: str) -> tuple[str, ...]:
    return tuple(x for x in OTHER_LAS if x != la)


def _request_dates(rng: np.random.Generator, today: np.datetime64, m: int) -> Arr:
    """Receipt dates over the window, weighted by month, weekday and growth."""
    days = np.arange(today - (REQUEST_WINDOW_DAYS - 1), today + 1)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    years = (days - days[0]).astype(np.int64) / 365.25
    w = SEASON[month] * REQUEST_GROWTH**years * np.where(weekday < 5, 1.0, WEEKEND_WEIGHT)
    return days[rng.choice(len(days), size=m, p=w / w.sum())]


def _final_plan_days(rng: np.random.Generator, m: int) -> Arr:
    """Days from request to final plan: 47 % ≤ 20 weeks, 44 % 20-52 weeks, 9 % over 52 weeks."""
    u = rng.random(m)
    fast = 84 + np.floor(56 * rng.beta(2.5, 1.3, size=m))
    medium = 141 + np.floor(223 * rng.beta(1.3, 2.2, size=m))
    slow = 365 + np.minimum(rng.exponential(200.0, size=m), 735)
    return np.select([u < P_FINAL_FAST, u < P_FINAL_FAST + P_FINAL_MEDIUM], [fast, medium], slow).astype(
        np.int64
    )


def _recent(b: _Build, mask: Arr) -> None:
    rng = b.rng(_S_RECENT)
    idx = np.flatnonzero(mask)
    m = len(idx)
    today = b.today
    received = _request_dates(rng, today, m)
    u = rng.random(m)
    refuse = u < P_REFUSE
    withdraw = (u >= P_REFUSE) & (u < P_REFUSE + P_WITHDRAW_REQUEST)
    export = (u >= P_REFUSE + P_WITHDRAW_REQUEST) & (u < P_REFUSE + P_WITHDRAW_REQUEST + P_EXPORT)
    agree = ~(refuse | withdraw | export)

    dec_days = _delay(rng, m, P_DECISION_ON_TIME, 21, 42, 14.0, 90)
    decided = received + _td(dec_days)
    is_decided = decided <= today

    req_out = np.full(m, "A", dtype=object)
    req_date = np.full(m, _NAT)
    ass_out = np.full(m, None, dtype=object)
    ass_date = np.full(m, _NAT)
    draft = np.full(m, _NAT)
    end = np.full(m, _NAT)
    cap = np.zeros(m, dtype=bool)
    open_ = np.zeros(m, dtype=bool)
    exported_to = np.full(m, None, dtype=object)

    # refused to assess (reg 5) and withdrawn before the decision
    req_out[refuse & is_decided] = "N"
    req_date[refuse & is_decided] = decided[refuse & is_decided]
    withdrawn_on = received + _td(_uniform(rng, 7, 42, m))
    w_done = withdraw & (withdrawn_on <= today)
    req_out[w_done] = "W"
    open_ |= (refuse & ~is_decided) | (withdraw & ~w_done)

    # exported to another council before the assessment was completed
    export_on = received + _td(_uniform(rng, 14, 200, m))
    x_done = export & (export_on <= today)
    exported_to[x_done] = _pick(rng, np.array(_others(b.la), dtype=object), np.ones(len(_others(b.la))), m)[
        x_done
    ]
    x_agreed = x_done & (decided <= export_on)
    req_out[x_agreed] = "Y"
    req_date[x_agreed] = decided[x_agreed]
    end[x_done] = export_on[x_done]
    # not yet gone: behaves like an agreed request still in progress
    agree |= export & ~x_done

    # agreed: the assessment (reg 6-13)
    ya = agree & is_decided
    req_out[ya] = "Y"
    req_date[ya] = decided[ya]
    open_ |= agree & ~is_decided
    v = rng.random(m)
    not_issue = ya & (v < P_NOT_TO_ISSUE)
    a_withdraw = ya & (v >= P_NOT_TO_ISSUE) & (v < P_NOT_TO_ISSUE + P_WITHDRAW_ASSESSMENT)
    issue = ya & ~(not_issue | a_withdraw)

    ni_days = np.where(rng.random(m) < 0.75, _uniform(rng, 84, 112, m), _uniform(rng, 113, 160, m))
    ni_on = np.maximum(received + _td(ni_days), decided + 21)
    ni_done = not_issue & (ni_on <= today)
    ass_out[ni_done] = "N"
    ass_date[ni_done] = ni_on[ni_done]
    end[ni_done] = ni_on[ni_done]
    cap |= ni_done

    aw_on = decided + _td(_uniform(rng, 30, 150, m))
    aw_done = a_withdraw & (aw_on <= today)
    ass_out[aw_done] = "W"
    end[aw_done] = aw_on[aw_done]

    final = received + _td(np.maximum(_final_plan_days(rng, m), dec_days + 28))
    draft_on = np.maximum(final - _td(_uniform(rng, 14, 42, m)), decided + 7)
    issued = issue & (final <= today)
    issuing = issue & ~issued & (draft_on <= today)
    ass_out[issued | issuing] = "Y"
    ass_date[issued] = final[issued]
    draft[issued | issuing] = draft_on[issued | issuing]
    end[issued] = final[issued]
    cap |= issued

    assessing = (not_issue & ~ni_done) | (a_withdraw & ~aw_done) | (issue & ~issued & ~issuing)
    ass_out[assessing] = np.where(rng.random(m) < 0.8, "A", _NONE)[assessing]
    open_ |= assessing | issuing

    d, s = b.d, b.s
    d["request_received"][idx] = received
    d["request_outcome_date"][idx] = req_date
    d["assessment_outcome_date"][idx] = ass_date
    d["draft_plan_served"][idx] = draft
    d["plan_start"][idx] = np.where(issued, final, _NAT)
    s["request_outcome"][idx] = req_out
    s["assessment_outcome"][idx] = ass_out
    s["exported_to"][idx] = exported_to
    b.recent[idx] = True
    b.open_request[idx] = open_
    b.assess_end[idx] = end
    b.advice_cap[idx] = cap

    # exceptions (statutory-rules §2.1): grounds a (school closure: requests in June-July), c, d
    late_plan = (final - received).astype(np.int64) > 140
    p_exc = np.where(late_plan, P_EXCEPTION_LATE, P_EXCEPTION_ON_TIME)
    summer = np.isin(received.astype("datetime64[M]").astype(np.int64) % 12, (5, 6))
    ground = np.where(
        summer & (rng.random(m) < 0.7),
        "a",
        _pick(rng, np.array(["a", "c", "d"], dtype=object), np.array([0.15, 0.65, 0.20]), m),
    )
    exc = issued & (rng.random(m) < p_exc)
    s["exception_final_plan"][idx] = np.where(exc, ground, _NONE)
    late_dec = (refuse | agree | x_agreed) & is_decided & (dec_days > 42) & (rng.random(m) < 0.06)
    s["exception_decision_to_assess"][idx] = np.where(late_dec, ground, _NONE)
    late_ni = ni_done & (ni_days > 112) & (rng.random(m) < 0.08)
    s["exception_decision_not_to_issue"][idx] = np.where(late_ni, np.where(ground == "a", "c", ground), _NONE)


def _ceasing_and_transfers_out(b: _Build) -> None:
    """Plans ended in the last year (cease reasons) and transfers out (reg 15)."""
    rng = b.rng(_S_CEASE)
    n, today, d = b.n, b.today, b.d
    old_plan = ~b.recent & ~np.isnat(d["plan_start"])
    u = rng.random(n)
    ceased_on = np.maximum(today - _td(_uniform(rng, 0, 364, n)), d["plan_start"] + 180)
    cease = old_plan & (u < P_CEASED) & (ceased_on <= today)
    d["plan_ceased"][cease] = ceased_on[cease]
    b.s["cease_reason"][cease] = _pick(rng, _CEASE_REASONS, _CEASE_WEIGHTS, n)[cease]

    aware = today - _td(_uniform(rng, 0, 240, n))
    out = old_plan & (u >= P_CEASED) & (u < P_CEASED + P_TRANSFER_OUT) & (aware > d["plan_start"] + 90)
    out &= ~(aware <= d["transfer_in_date"] + 90)
    notice_given = rng.random(n) < 0.7
    move = aware + _td(np.where(notice_given, _uniform(rng, 21, 60, n), _uniform(rng, -30, 14, n)))
    on_time = rng.random(n) < 0.85
    completed = np.where(
        notice_given,
        move + _td(np.where(on_time, 0, _uniform(rng, 1, 30, n))),
        aware + _td(np.where(on_time, _uniform(rng, 3, 21, n), _uniform(rng, 22, 50, n))),
    )
    completed = _upto(completed, today)
    d["transfer_out_aware"][out] = aware[out]
    d["transfer_out_move"][out] = move[out]
    d["transfer_out_completed"][out] = completed[out]
    done = out & ~np.isnat(completed)
    d["plan_ceased"][done] = completed[done]
    b.s["cease_reason"][done] = "5"  # transferred to another English LA (SEN2 4.6)
    b.transfer_out = out


def _reviews(b: _Build) -> None:
    """Latest annual review (s.44, regs 20-22) of every plan, as it stood at as_of."""
    rng = b.rng(_S_REVIEW)
    n, today, d, s = b.n, b.today, b.d, b.s
    start = d["plan_start"]
    has_plan = ~np.isnat(start)
    ref = np.where(np.isnat(d["plan_ceased"]), today, d["plan_ceased"])
    p = np.cumsum(P_REVIEW_STATE)
    u = rng.random(n)
    gap = np.select(
        [u < p[0], u < p[1], u < p[2], u < p[3]],
        [
            _uniform(rng, 0, 340, n),
            _uniform(rng, 365, 730, n),
            _uniform(rng, 731, 1095, n),
            _uniform(rng, 1096, 1800, n),
        ],
        -1,
    )
    meeting = ref - _td(np.maximum(gap, 0))
    meeting = np.where(has_plan & (gap >= 0) & (meeting >= start + 300), meeting, _NAT)
    report = _upto(meeting + _td(_delay(rng, n, 0.85, 1, 14, 20.0, 120)), today)
    letter = _upto(meeting + _td(_delay(rng, n, 0.55, 5, 28, 30.0, 200)), ref)
    decided = ~np.isnat(letter)
    v = rng.random(n)
    outcome = np.where(v < P_REVIEW_OUTCOME[0], "M", np.where(v < sum(P_REVIEW_OUTCOME), "A", "C"))
    amend = decided & (outcome == "A")
    w = rng.random(n)
    notice_days = np.where(
        w < 0.35, 0, np.where(w < 0.5, _uniform(rng, 1, 56, n), _delay(rng, n, 0, 0, 56, 40.0, 300))
    )
    notice = _upto(letter + _td(notice_days), today)
    amended = _upto(notice + _td(_delay(rng, n, 0.82, 15, 56, 45.0, 300)), today)
    d["review_meeting"] = meeting
    d["review_report_sent"] = report
    d["review_decision_letter"] = letter
    s["review_outcome"] = np.where(decided, outcome, _NONE).astype(object)
    d["amendment_notice"] = np.where(amend, notice, _NAT)
    d["amended_plan_issued"] = np.where(amend, amended, _NAT)

    # a cease decision ends the plan once the appeal period has run (CFA s.45; rules C2)
    cease = decided & (outcome == "C") & np.isnat(d["plan_ceased"])
    ends = _upto(letter + _td(_uniform(rng, 61, 150, n)), today)
    ends_now = cease & ~np.isnat(ends)
    d["plan_ceased"][ends_now] = ends[ends_now]
    s["cease_reason"][ends_now] = _pick(
        rng, np.array(["2", "1", "9"], dtype=object), np.array([0.7, 0.2, 0.1]), n
    )[ends_now]


def _next_september(today: np.datetime64) -> np.datetime64:
    year = today.astype("datetime64[Y]").astype(np.int64) + 1970
    sept = np.datetime64(f"{year}-09-01", "D")
    return sept if sept > today else np.datetime64(f"{year + 1}-09-01", "D")


def _phase_transfers(b: _Build) -> None:
    """Reg 18 cohorts: the September after as_of and the one before."""
    rng = b.rng(_S_PHASE)
    n, today, d, s = b.n, b.today, b.d, b.s
    nxt = _next_september(today)
    year_next = int(nxt.astype("datetime64[Y]").astype(np.int64)) + 1970
    prev = np.datetime64(f"{year_next - 1}-09-01", "D")
    eligible = b.active_plan() & ~b.transfer_out
    u = rng.random(n)
    cohort = np.where(u < P_PHASE_COHORT, 1, np.where(u < 2 * P_PHASE_COHORT, 0, -1))  # 1 next, 0 previous
    kind = _pick(
        rng, np.array(["school", "post16", "post16_other"], dtype=object), np.array([0.62, 0.35, 0.03]), n
    )
    transfer = np.where(cohort == 1, nxt, prev)
    other_date = today + _td(_uniform(rng, -180, 365, n))
    transfer = np.where(kind == "post16_other", other_date, transfer)
    january = transfer.astype("datetime64[Y]").astype("datetime64[M]")
    feb15 = (january + np.timedelta64(1, "M")).astype("datetime64[D]") + np.timedelta64(14, "D")
    mar31 = (january + np.timedelta64(2, "M")).astype("datetime64[D]") + np.timedelta64(30, "D")
    month = transfer.astype("datetime64[M]")
    day = np.minimum((transfer - month.astype("datetime64[D]")).astype(np.int64), 27)  # clamp to the 28th
    five_months_before = (month - np.timedelta64(5, "M")).astype("datetime64[D]") + _td(day)
    # the reg 18 deadlines (rules P1-P3), used to time the amended plan; not stored (see above)
    due = np.where(kind == "school", feb15, np.where(kind == "post16", mar31, five_months_before))

    in_cohort = eligible & (cohort >= 0) & (d["plan_start"] < due - 200)
    p_on_time = np.where(kind == "school", 0.85, 0.65)
    on_time = rng.random(n) < p_on_time
    late_days = 1 + np.minimum(rng.exponential(45.0, size=n), 200)
    final = np.where(on_time, due - _td(_uniform(rng, 1, 120, n)), due + _td(late_days))
    final = np.minimum(final, np.maximum(transfer - 1, due))
    final = np.where(rng.random(n) < 0.03, _NAT, final)
    final = _upto(final, today)

    d["phase_transfer_date"][in_cohort] = transfer[in_cohort]
    s["phase_transfer_type"][in_cohort] = kind[in_cohort]
    has_final = in_cohort & ~np.isnat(final)
    d["phase_transfer_final"][has_final] = final[has_final]

    # the phase-transfer review that produced the amended plan, if it is the latest review
    notice = final - _td(_uniform(rng, 15, 56, n))
    letter = notice - _td(_uniform(rng, 0, 10, n))
    meeting = letter - _td(_uniform(rng, 7, 35, n))
    report = _upto(meeting + _td(_delay(rng, n, 0.85, 1, 14, 20.0, 120)), today)
    newer = has_final & (meeting > d["plan_start"]) & ~(d["review_meeting"] >= meeting)
    d["review_meeting"][newer] = meeting[newer]
    d["review_report_sent"][newer] = report[newer]
    d["review_decision_letter"][newer] = letter[newer]
    s["review_outcome"][newer] = "A"
    d["amendment_notice"][newer] = notice[newer]
    d["amended_plan_issued"][newer] = final[newer]


def _reassessments(b: _Build) -> None:
    rng = b.rng(_S_REASSESS)
    n, today, d = b.n, b.today, b.d
    requested = today - _td(_uniform(rng, 0, 540, n))
    pick = b.active_plan() & (rng.random(n) < P_REASSESS) & (requested > d["plan_start"] + 180)
    decision = _upto(requested + _td(_delay(rng, n, 0.7, 3, 15, 10.0, 45)), today)
    agreed = rng.random(n) < 0.65
    plan = _upto(decision + _td(_delay(rng, n, 0.6, 60, 98, 50.0, 300)), today)
    d["reassessment_requested"][pick] = requested[pick]
    d["reassessment_decision_date"][pick] = decision[pick]
    decided = pick & ~np.isnat(decision)
    b.agreed[decided] = agreed[decided].astype(np.int8)
    issued = decided & agreed & ~np.isnat(plan)
    d["reassessed_plan_issued"][issued] = plan[issued]
    late = issued & ((plan - decision).astype(np.int64) > 98) & (rng.random(n) < 0.1)
    b.s["exception_reassessed_plan"][late] = "c"


def _appeals(b: _Build) -> None:
    """Appealable decisions (TR r.20): refusals, not-to-issue, plan contents, cease, re-assessment."""
    rng = b.rng(_S_APPEAL)
    n, today, d, s = b.n, b.today, b.d, b.s
    decision = np.full(n, _NAT)
    u = rng.random(n)
    sources = [
        ((s["request_outcome"] == "N") & (u < 0.12), d["request_outcome_date"]),
        ((s["assessment_outcome"] == "N") & (u < 0.25), d["assessment_outcome_date"]),
        ((s["assessment_outcome"] == "Y") & (u < 0.04), d["assessment_outcome_date"]),
        ((s["review_outcome"] == "C") & (u < 0.25), d["review_decision_letter"]),
        ((b.agreed == 0) & (u < 0.2), d["reassessment_decision_date"]),
    ]
    for mask, when in sources:
        take = mask & ~np.isnat(when) & ~(decision >= when)
        decision[take] = when[take]
    has = ~np.isnat(decision)
    cert = _upto(decision + _td(_uniform(rng, 14, 60, n)), today)
    cert = np.where(has & (rng.random(n) < 0.55), cert, _NAT)
    lodge_from_decision = decision + _td(_uniform(rng, 20, 61, n))
    lodge_from_cert = cert + _td(_uniform(rng, 3, 30, n))
    lodged = np.where(np.isnat(cert), lodge_from_decision, np.maximum(lodge_from_decision, lodge_from_cert))
    lodged = lodged + _td(np.where(rng.random(n) < 0.05, _uniform(rng, 1, 30, n), 0))  # a few out of time
    lodged = np.where(has & (rng.random(n) < 0.45), _upto(lodged, today), _NAT)
    d["appealable_decision_date"] = decision
    d["mediation_certificate_date"] = cert
    d["appeal_lodged"] = lodged


def _routing(b: _Build) -> None:
    rng = b.rng(_S_ROUTE)
    n, s = b.n, b.s
    area = rng.choice(4, size=n, p=AREA_WEIGHTS / AREA_WEIGHTS.sum())
    kind = s["phase_transfer_type"]
    has_plan = ~np.isnat(b.d["plan_start"])
    post16 = (kind == "post16") | (kind == "post16_other")
    post16 |= np.where(has_plan, rng.random(n) < 0.15, rng.random(n) < 0.05)
    team = np.where(post16, 4, area)
    s["team"] = np.array(TEAMS, dtype=object)[team]
    open_case = b.open_request | b.active_plan()
    per_team = np.bincount(team[open_case], minlength=len(TEAMS))
    workers = np.maximum(1, np.rint(per_team / CASES_PER_CASEWORKER)).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(workers)[:-1]])
    worker = offset[team] + np.floor(rng.random(n) * workers[team]).astype(np.int64)
    total = int(workers.sum())
    labels = _numbered("cw-", np.arange(1, total + 1), 3)
    s["caseworker"] = labels[worker]


def _identities(b: _Build) -> None:
    rng = b.rng(_S_IDS)
    n, s = b.n, b.s
    if n == 0:
        return
    s["case_ref"] = _numbered("C", np.arange(1, n + 1), 7)
    # a scrambled bijection of 0..10^9-1 keeps person refs unique without a per-case loop
    mult = int(rng.integers(1, 10**8)) * 10 + np.array([1, 3, 7, 9])[int(rng.integers(0, 4))]
    add = int(rng.integers(0, 10**9))
    serials = (np.arange(n, dtype=np.int64) * (mult % 10**9) + add) % 10**9
    s["person_ref"] = _synthetic_upns(serials)
    s["la"] = np.full(n, b.la, dtype=object)


def _advice(b: _Build) -> pd.DataFrame:
    """Advice requests (reg 8) for every assessment the council agreed to carry out."""
    rng = b.rng(_S_ADVICE)
    today, d = b.today, b.d
    rod = d["request_outcome_date"]
    cases = np.flatnonzero((b.s["request_outcome"] == "Y") & ~np.isnat(rod))
    k, p = len(cases), len(DEMO_PROVIDERS)
    asked = rng.random((k, p)) < _ASKED[None, :]
    pos, prov = np.nonzero(asked)
    case_i = cases[pos]
    m = len(case_i)
    requested = rod[case_i] + _td(_uniform(rng, 0, 14, m))
    end = b.assess_end[case_i]
    keep = (requested <= today) & ~(requested > end)
    case_i, prov, requested, end = case_i[keep], prov[keep], requested[keep], end[keep]
    m = len(case_i)
    received = requested + _td(_delay(rng, m, _ON_TIME[prov], 5, 42, _LATE_MEAN[prov], 300))
    after_end = received > end
    capped = b.advice_cap[case_i] & (rng.random(m) < 0.6)
    pulled = np.maximum(end - _td(_uniform(rng, 0, 7, m)), requested)
    received = np.where(after_end, np.where(capped, pulled, _NAT), received)
    received = _upto(received, today)
    u = rng.random(m)
    code = np.select([_HEALTH[prov] & (u < 0.03), u > 0.99, u > 0.985], [0, 1, 2], 3)
    exception = np.array(["e", "c", "d", pd.NA], dtype=object)[code]
    contract = empty_advice(0).dtypes
    return pd.DataFrame(
        {
            "case_ref": _contract_array(
                b.s["case_ref"][case_i], contract["case_ref"], "case_ref", complete=True
            ),
            "provider": _contract_array(
                np.array(DEMO_PROVIDERS, dtype=object)[prov], contract["provider"], "provider", complete=True
            ),
            "requested": requested.astype(contract["requested"]),
            "received": received.astype(contract["received"]),
            "exception": _contract_array(exception, contract["exception"], "exception", complete=True),
        }
    )


_PYTHON_STRINGS: Final = pd.StringDtype().storage == "python" and pd.StringDtype().na_value is pd.NA


def _string_array(values: Arr, *, complete: bool = False) -> Any:
    """A ``string`` array from an object array of str and ``None``.

    ``complete``: ``values`` holds no ``None`` (only str, or ``pd.NA`` already), so skip the scan.
    """
    if _PYTHON_STRINGS:  # fast path: StringArray validates in C, needs pd.NA for missing
        if not complete:
            values = values.copy()
            values[pd.isna(values)] = pd.NA
        return pd.arrays.StringArray(values)
    return pd.array(values, dtype="string")


def _contract_array(values: Arr, dtype: Any, column: str, *, complete: bool = False) -> Any:
    """``values`` (object array of str / ``None``) in the contract dtype of ``column``.

    The dtype comes from :func:`empty_cases` / :func:`empty_advice`, so the demo follows the
    contract whether a coded column is held as strings or as a categorical.
    """
    if isinstance(dtype, pd.CategoricalDtype):
        found, uniques = pd.factorize(values)  # missing -> -1
        where = pd.Index(dtype.categories).get_indexer(uniques)
        if (where < 0).any():
            raise ValueError(f"{column}: {uniques[where < 0][0]!r} is not in the contract vocabulary")
        return pd.Categorical.from_codes(np.append(where, -1)[found], dtype=dtype)
    if isinstance(dtype, pd.StringDtype) and dtype == pd.StringDtype():
        return _string_array(values, complete=complete)
    return pd.array(values, dtype=dtype)


def _frame(b: _Build) -> pd.DataFrame:
    contract = empty_cases(0).dtypes
    date_cols = [c for c in CASE_COLUMNS if c in DATE_COLUMNS]
    block = np.empty((len(date_cols), b.n), dtype=DATE_DTYPE)
    for i, col in enumerate(date_cols):
        block[i] = b.d.get(col, _NAT)
    df = pd.DataFrame(block.T, columns=date_cols, copy=False)
    for col in CASE_COLUMNS:
        if col in BOOL_COLUMNS:
            df[col] = pd.array(pd.arrays.BooleanArray(b.agreed == 1, b.agreed < 0), dtype=contract[col])
        elif col not in DATE_COLUMNS:
            df[col] = _contract_array(b.s[col], contract[col], col, complete=col in ID_COLUMNS)
    return df[list(CASE_COLUMNS)]


def generate_council(n_cases: int, seed: int, as_of: dt.date, *, la: str = "886") -> Caseload:
    """A synthetic council of ``n_cases`` case rows as it stood at the end of ``as_of``.

    Deterministic for ``(n_cases, seed, as_of, la)``. ``la`` is the council's 3-digit DfE number
    (default 886, Kent, whose papers calibrate the mix). See the module docstring for the
    calibration and its sources.
    """
    if n_cases < 0:
        raise ValueError("n_cases must be >= 0")
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    today = np.datetime64(as_of, "D")
    b = _Build(int(n_cases), int(seed), today, str(la))
    recent, tin, hist = _segments(b)
    _historical(b, hist)
    _transfers_in(b, tin)
    _recent(b, recent)
    _ceasing_and_transfers_out(b)
    _reviews(b)
    _phase_transfers(b)
    _reassessments(b)
    _appeals(b)
    _identities(b)
    _routing(b)
    cases = _frame(b)
    advice = _advice(b)
    from ehcp_workflow.demo_history import review_history  # the cycles behind each latest review

    return Caseload(
        cases=cases,
        advice=advice,
        source=f"demo:la={la},seed={seed},n={n_cases},as_of={as_of.isoformat()}",
        reviews=review_history(cases, int(seed)),
    )


# --- CSV -----------------------------------------------------------------------------------------


_CSV_CHUNK: Final = 100_000


def advice_csv_columns(providers: tuple[str, ...] = ADVICE_PROVIDERS) -> tuple[str, ...]:
    """The advice columns of the project CSV: ``advice_<provider>_requested/received/exception``."""
    return tuple(f"advice_{p}_{part}" for p in providers for part in ("requested", "received", "exception"))


def _iso(values: Any) -> Arr:
    """ISO dates (``YYYY-MM-DD``) as an object array, empty string for missing."""
    days = np.asarray(values, dtype="datetime64[D]")
    out = days.astype("U10").astype(object)
    out[np.isnat(days)] = ""
    return out


def _text(values: Any) -> Arr:
    """Text cells (strings or categoricals) as an object array, empty string for missing."""
    arr = pd.Series(values).astype("string")
    return np.asarray(arr.to_numpy(dtype=object, na_value=""), dtype=object)


def write_council_csv(caseload: Caseload, path: str | os.PathLike[str]) -> None:
    """Write ``caseload`` in the project CSV format: one row per case.

    The header is the contract case columns (:data:`~ehcp_workflow.core.caseload.CASE_COLUMNS`, in order)
    then ``advice_<provider>_requested``, ``_received`` and ``_exception`` for every provider in
    :data:`~ehcp_workflow.core.caseload.ADVICE_PROVIDERS`: the advice table pivoted, which needs at most
    one request per case and provider. Dates are ISO ``YYYY-MM-DD``, booleans ``true``/``false``,
    missing values empty.
    """
    cases = normalise_cases(caseload.cases)
    advice = normalise_advice(caseload.advice)
    n = len(cases)
    out: dict[str, Arr] = {}
    for col in CASE_COLUMNS:
        if col in DATE_COLUMNS:
            out[col] = _iso(cases[col].to_numpy())
        elif col in BOOL_COLUMNS:
            na = cases[col].isna().to_numpy(dtype=bool)
            true = cases[col].fillna(False).to_numpy(dtype=bool)
            out[col] = np.where(na, "", np.where(true, "true", "false")).astype(object)
        else:
            out[col] = _text(cases[col])
    refs = pd.Index(cases["case_ref"].astype(object))
    if not refs.is_unique:
        raise ValueError("case_ref is not unique: the CSV needs one row per case")
    row = refs.get_indexer(advice["case_ref"].astype(object))
    if (row < 0).any():
        raise ValueError("advice rows refer to case_refs not in the case table")
    provider = advice["provider"].to_numpy(dtype=object, na_value=None)
    unknown = set(pd.unique(provider)) - set(ADVICE_PROVIDERS)
    if unknown:
        raise ValueError(f"unknown advice providers: {sorted(map(str, unknown))}")
    requested = _iso(advice["requested"].to_numpy())
    received = _iso(advice["received"].to_numpy())
    exception = _text(advice["exception"])
    for p in ADVICE_PROVIDERS:
        sel = provider == p
        rows = row[sel]
        if len(np.unique(rows)) != len(rows):
            raise ValueError(f"more than one {p} advice request for a case: cannot pivot to one row per case")
        for part, values in (("requested", requested), ("received", received), ("exception", exception)):
            column = np.full(n, "", dtype=object)
            column[rows] = values[sel]
            out[f"advice_{p}_{part}"] = column
    header = list(out)
    columns = list(out.values())
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for lo in range(0, n, _CSV_CHUNK):  # the csv module iterates rows in C; chunks bound memory
            writer.writerows(zip(*(col[lo : lo + _CSV_CHUNK].tolist() for col in columns), strict=True))
