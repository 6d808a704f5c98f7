"""The synthetic demo council: contract, determinism, invariants, calibration and the CSV writer."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehcp_workflow.core.caseload import (
    ADVICE_COLUMNS,
    ADVICE_PROVIDERS,
    CASE_COLUMNS,
    CODE_COLUMNS,
    EVENT_DATE_COLUMNS,
    EXCEPTION_COLUMNS,
    EXCEPTION_GROUNDS,
    Caseload,
    empty_advice,
    empty_cases,
)
from ehcp_workflow.demo import (
    DEMO_PROVIDERS,
    TEAMS,
    advice_csv_columns,
    generate_council,
    write_council_csv,
)

N = 20_000
SEED = 7
AS_OF = dt.date(2026, 11, 20)
T = pd.Timestamp(AS_OF)


@pytest.fixture(scope="module")
def council() -> Caseload:
    return generate_council(N, SEED, AS_OF)


@pytest.fixture(scope="module")
def cases(council: Caseload) -> pd.DataFrame:
    return council.cases


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.days


def _open_waits(c: pd.DataFrame) -> pd.Series:
    """Days waited at as_of by open requests (not decided, issued, withdrawn, exported or historical)."""
    closed_codes = ["N", "W", "H"]
    closed = c.request_outcome.isin(closed_codes).fillna(False)
    closed |= c.assessment_outcome.isin(closed_codes).fillna(False)
    closed |= (c.assessment_outcome == "Y").fillna(False) & c.assessment_outcome_date.notna()
    closed |= c.exported_to.notna()
    open_ = c.request_received.notna() & ~closed
    return _days(pd.Series(T, index=c.index), c.request_received)[open_]


# --- determinism -------------------------------------------------------------------------------------


def test_deterministic_for_a_seed(council: Caseload) -> None:
    again = generate_council(N, SEED, AS_OF)
    pd.testing.assert_frame_equal(council.cases, again.cases)
    pd.testing.assert_frame_equal(council.advice, again.advice)


def test_another_seed_gives_another_council(council: Caseload) -> None:
    other = generate_council(N, SEED + 1, AS_OF)
    assert not council.cases.equals(other.cases)
    assert not council.cases["request_received"].equals(other.cases["request_received"])
    assert not council.cases["person_ref"].equals(other.cases["person_ref"])


def test_datetime_as_of_is_the_same_day() -> None:
    a = generate_council(500, 3, AS_OF)
    b = generate_council(500, 3, dt.datetime(2026, 11, 20, 23, 59))
    pd.testing.assert_frame_equal(a.cases, b.cases)


# --- the column contract -------------------------------------------------------------------------------


def test_every_contract_column_in_contract_dtype(council: Caseload) -> None:
    c = council.cases
    assert list(c.columns) == list(CASE_COLUMNS)
    expected = empty_cases(0).dtypes
    for col in CASE_COLUMNS:
        assert c[col].dtype == expected[col], col
    a = council.advice
    assert list(a.columns) == list(ADVICE_COLUMNS)
    expected_adv = empty_advice(0).dtypes
    for col in ADVICE_COLUMNS:
        assert a[col].dtype == expected_adv[col], col
    assert len(c) == N


def test_codes_are_valid(council: Caseload) -> None:
    c = council.cases
    for col, allowed in CODE_COLUMNS.items():
        assert set(c[col].dropna().unique()) <= allowed, col
    for col in EXCEPTION_COLUMNS:
        assert set(c[col].dropna().unique()) <= EXCEPTION_GROUNDS, col
    a = council.advice
    assert set(a.provider.unique()) <= set(ADVICE_PROVIDERS)
    assert set(a.provider.unique()) == set(DEMO_PROVIDERS)
    assert set(a.exception.dropna().unique()) <= EXCEPTION_GROUNDS
    assert not a.duplicated(["case_ref", "provider"]).any()
    assert a.case_ref.isin(c.case_ref).all()


def test_identities_and_routing(cases: pd.DataFrame) -> None:
    c = cases
    assert c.case_ref.is_unique
    assert c.case_ref.str.fullmatch(r"C\d{7}").all()
    assert c.case_ref.iloc[0] == "C0000001"
    assert c.person_ref.is_unique
    assert c.person_ref.str.fullmatch(r"[A-Z]999\d{9}").all()  # LA 999: no such council, never real
    assert (c.la == "886").all()
    assert set(c.team.unique()) == set(TEAMS)
    assert c.caseworker.str.fullmatch(r"cw-\d{3,}").all()
    open_plans = c.plan_start.notna() & c.plan_ceased.isna()
    open_cases = int(open_plans.sum()) + len(_open_waits(c))
    assert 90 <= open_cases / c.caseworker.nunique() <= 150
    # no personal data columns
    assert not {"name", "forename", "surname", "birth_date", "dob"} & set(c.columns)


def _upn_check_letter(body: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(body, range(2, 14), strict=True))
    return "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23]


def test_person_refs_carry_a_valid_upn_check_letter(cases: pd.DataFrame) -> None:
    assert _upn_check_letter("999200024001") == "B"  # the sen2-spec example B999200024001
    for ref in cases.person_ref.iloc[:200]:
        assert ref[0] == _upn_check_letter(ref[1:]), ref


def test_la_is_used_and_never_a_transfer_partner() -> None:
    c = generate_council(5_000, 11, AS_OF, la="887").cases
    assert (c.la == "887").all()
    assert not (c.exported_to == "887").any()
    assert not (c.transfer_in_from == "887").any()
    assert c.transfer_in_from.notna().any()


@pytest.mark.parametrize("n", [0, 1, 7])
def test_tiny_councils(n: int) -> None:
    cl = generate_council(n, 1, AS_OF)
    assert len(cl.cases) == n
    assert list(cl.cases.columns) == list(CASE_COLUMNS)


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError):
        generate_council(-1, 1, AS_OF)


# --- time: nothing after as_of, orderings ------------------------------------------------------------


def _assert_invariants(cl: Caseload, as_of: dt.date) -> None:
    c, a = cl.cases, cl.advice
    t = pd.Timestamp(as_of)
    for col in EVENT_DATE_COLUMNS:
        assert not (c[col] > t).any(), col
    assert not (a.requested > t).any()
    assert not (a.received > t).any()

    def never_before(later: str, earlier: str) -> None:
        bad = c[later] < c[earlier]
        assert not bad.any(), f"{later} < {earlier}: {c.loc[bad, ['case_ref', earlier, later]].head()}"

    never_before("request_outcome_date", "request_received")
    never_before("assessment_outcome_date", "request_received")
    never_before("assessment_outcome_date", "request_outcome_date")
    never_before("assessment_outcome_date", "draft_plan_served")
    never_before("draft_plan_served", "request_outcome_date")
    never_before("review_decision_letter", "review_meeting")
    never_before("review_report_sent", "review_meeting")
    never_before("amendment_notice", "review_decision_letter")
    never_before("amended_plan_issued", "amendment_notice")
    never_before("review_meeting", "plan_start")
    never_before("plan_ceased", "plan_start")
    never_before("transfer_in_notice_sent", "transfer_in_date")
    never_before("transfer_in_date", "plan_start")
    never_before("transfer_out_completed", "transfer_out_aware")
    never_before("reassessment_decision_date", "reassessment_requested")
    never_before("reassessed_plan_issued", "reassessment_decision_date")
    never_before("reassessment_requested", "plan_start")
    never_before("mediation_certificate_date", "appealable_decision_date")
    never_before("appeal_lodged", "appealable_decision_date")
    never_before("phase_transfer_date", "phase_transfer_final")
    assert not (c.review_meeting > c.plan_ceased).any()
    # a new plan starts on the day the final plan is issued
    issued = (c.assessment_outcome == "Y").fillna(False) & c.assessment_outcome_date.notna()
    assert (c.plan_start[issued] == c.assessment_outcome_date[issued]).all()
    # outcome codes agree with their dates
    assert c.request_outcome_date.notna().eq(c.request_outcome.isin(["Y", "N"]).fillna(False)).all()
    assert c.assessment_outcome_date[c.assessment_outcome.isin(["A", "W", "H"]).fillna(False)].isna().all()
    assert c.review_outcome.notna().eq(c.review_decision_letter.notna()).all()
    # advice follows the decision to assess and comes back after it was asked for
    merged = a.merge(c[["case_ref", "request_outcome", "request_outcome_date"]], on="case_ref")
    assert (merged.request_outcome == "Y").all()
    assert (merged.requested >= merged.request_outcome_date).all()
    assert not (merged.received < merged.requested).any()


def test_nothing_after_as_of_and_orderings_hold(council: Caseload) -> None:
    _assert_invariants(council, AS_OF)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    as_of=st.dates(min_value=dt.date(2017, 1, 1), max_value=dt.date(2035, 12, 31)),
    n=st.integers(min_value=0, max_value=1_500),
)
def test_invariants_hold_for_any_seed_and_date(seed: int, as_of: dt.date, n: int) -> None:
    _assert_invariants(generate_council(n, seed, as_of), as_of)


# --- calibration ----------------------------------------------------------------------------------------


def test_refusal_share_near_national(cases: pd.DataFrame) -> None:
    decided = cases.request_outcome.isin(["Y", "N"]).fillna(False)
    share = (cases.request_outcome == "N").sum() / decided.sum()
    assert 0.19 <= share <= 0.26  # target 22 % (statutory-rules §5)
    late = _days(cases.request_outcome_date, cases.request_received)[cases.request_outcome == "N"]
    assert (late <= 42).mean() > 0.65  # most decisions within 6 weeks
    assert late.between(21, 91).all()


def test_final_plans_within_20_weeks_in_band(cases: pd.DataFrame) -> None:
    issued = (cases.assessment_outcome == "Y").fillna(False) & cases.assessment_outcome_date.notna()
    weeks = _days(cases.assessment_outcome_date, cases.request_received)[issued]
    assert 0.45 <= (weeks <= 140).mean() <= 0.60  # documented band
    assert (weeks > 364).mean() > 0.02  # long tail over 52 weeks
    draft_lead = _days(cases.assessment_outcome_date, cases.draft_plan_served)[issued]
    assert draft_lead.between(0, 42).all()
    assert draft_lead.median() >= 14
    exceptions = cases.exception_final_plan[issued]
    assert 0.05 <= exceptions.notna().mean() <= 0.08
    assert set(exceptions.dropna().unique()) == {"a", "c", "d"}


def test_not_to_issue_decisions(cases: pd.DataFrame) -> None:
    n = (cases.assessment_outcome == "N").fillna(False)
    weeks = _days(cases.assessment_outcome_date, cases.request_received)[n]
    assert n.sum() > 100
    assert weeks.between(84, 175).all()
    assert (weeks <= 112).mean() > 0.6


def test_open_backlog_has_long_tails(cases: pd.DataFrame) -> None:
    waits = _open_waits(cases)
    assert (waits > 140).sum() > 100
    assert (waits > 210).sum() > 50
    assert (waits > 364).sum() > 10
    assert (waits > 700).sum() >= 1
    # open cases at every stage
    assert (cases.request_outcome == "A").sum() > 0
    assert (cases.assessment_outcome == "A").sum() > 0
    assert cases.assessment_outcome[cases.request_outcome == "Y"].isna().sum() > 0
    issuing = (cases.assessment_outcome == "Y").fillna(False) & cases.assessment_outcome_date.isna()
    assert issuing.sum() > 0
    assert cases.draft_plan_served[issuing].notna().all()


def test_requests_grow_and_are_seasonal(cases: pd.DataFrame) -> None:
    recent = cases.request_received[~cases.request_outcome.isin(["H"]).fillna(False)]
    assert recent.min() >= T - pd.Timedelta(days=3 * 365 + 1)
    first = (recent < T - pd.Timedelta(days=2 * 365)).sum()
    last = (recent > T - pd.Timedelta(days=365)).sum()
    assert last > first * 1.1
    by_month = recent.dt.month.value_counts()
    assert by_month[8] < 0.7 * by_month[3]  # August low, March peak (Kent 2023)
    assert (recent.dt.day_of_week >= 5).mean() < 0.05


def test_request_mix(cases: pd.DataFrame) -> None:
    c = cases
    assert 0.55 <= (c.request_outcome == "H").mean() <= 0.65
    assert (c.request_outcome == "W").sum() > 0
    assert (c.assessment_outcome == "W").sum() > 0
    assert c.exported_to.notna().sum() > 0
    assert c.exported_to.dropna().str.fullmatch(r"\d{3}").all()


def test_historical_plans_and_reviews(cases: pd.DataFrame) -> None:
    c = cases
    h = (c.request_outcome == "H").fillna(False)
    assert (c.assessment_outcome[h] == "H").all()
    old = h & c.transfer_in_from.isna()
    assert (c.plan_start[old] <= T - pd.Timedelta(days=3 * 365)).all()
    assert (c.plan_start[old] < T - pd.Timedelta(days=5 * 365)).mean() > 0.2
    active = c.plan_start.notna() & c.plan_ceased.isna()
    reviewed = c.review_decision_letter[active].notna().mean()
    assert reviewed > 0.6
    last = c.review_decision_letter.fillna(c.plan_start)[active]
    overdue_days = _days(pd.Series(T, index=last.index), last) - 365
    assert 0.1 <= (overdue_days > 0).mean() <= 0.4
    assert (overdue_days > 2 * 365).sum() > 0  # over 2 years overdue
    assert set(c.review_outcome.dropna().unique()) == {"A", "C", "M"}
    report = _days(c.review_report_sent, c.review_meeting).dropna()
    assert (report <= 14).mean() > 0.75
    amended = _days(c.amended_plan_issued, c.amendment_notice).dropna()
    assert (amended > 56).sum() > 0  # some late amended plans
    assert c.amendment_notice[c.review_outcome != "A"].isna().all()
    assert c.plan_ceased.notna().sum() > 0
    assert c.cease_reason.notna().eq(c.plan_ceased.notna()).all()


def test_phase_transfer_cohorts(cases: pd.DataFrame) -> None:
    c = cases
    kind = c.phase_transfer_type
    assert c.phase_transfer_date.notna().eq(kind.notna()).all()
    counts = kind.value_counts()
    assert counts["school"] > counts["post16"] > counts["post16_other"] > 0
    sept = c.phase_transfer_date[kind.isin(["school", "post16"]).fillna(False)]
    assert set(sept.unique()) == {pd.Timestamp("2026-09-01"), pd.Timestamp("2027-09-01")}
    other = c.phase_transfer_date[kind == "post16_other"]
    assert not other.isin(sept.unique()).all()
    school = (kind == "school").fillna(False)
    final = c.phase_transfer_final[school]
    deadline = pd.to_datetime(c.phase_transfer_date[school].dt.year.astype(str) + "-02-15")
    assert (final < deadline).sum() > 0
    assert (final >= deadline).sum() > 0
    # reg 18 plans are existing plans, not ones still in the 20-week process
    assert c.plan_start[kind.notna()].notna().all()


def test_transfers_reassessments_and_appeals(cases: pd.DataFrame) -> None:
    c = cases
    tin = c.transfer_in_from.notna()
    assert tin.sum() > 0
    assert (c.request_outcome[tin] == "H").all()
    assert c.transfer_in_date[tin].notna().all()
    assert c.transfer_in_notice_sent.notna().sum() > 0
    assert c.transfer_out_aware.notna().sum() > 0
    assert c.transfer_out_completed.notna().sum() > 0
    assert c.reassessment_requested.notna().sum() > 0
    assert c.reassessment_agreed.notna().eq(c.reassessment_decision_date.notna()).all()
    assert set(c.reassessment_agreed.dropna().unique()) == {True, False}
    assert c.reassessed_plan_issued[c.reassessment_agreed.eq(False).fillna(False)].isna().all()
    assert c.reassessed_plan_issued.notna().sum() > 0
    assert c.appealable_decision_date.notna().sum() > 0
    assert c.mediation_certificate_date.notna().sum() > 0
    assert c.appeal_lodged.notna().sum() > 0


def test_advice_by_provider(council: Caseload) -> None:
    a = council.advice
    delay = _days(a.received, a.requested)
    within = (delay <= 42).groupby(a.provider).sum() / a.received.notna().groupby(a.provider).sum()
    # Kingston 2021: EP fastest, social care slowest
    assert within["educational_psychology"] > within["paediatrics"] > within["social_care"]
    assert a.received.isna().sum() > 0  # some not yet received
    asked = a.groupby("provider").size()
    assert asked["school_or_early_years"] > asked["physiotherapy"]
    c = council.cases
    lag = a.merge(c[["case_ref", "request_outcome_date"]], on="case_ref")
    first = _days(lag.requested, lag.request_outcome_date)
    assert first.between(0, 14).all()
    assert 5 <= first.mean() <= 9


# --- CSV -----------------------------------------------------------------------------------------------


def test_csv_one_row_per_case_and_advice_round_trips(council: Caseload, tmp_path) -> None:
    path = tmp_path / "council.csv"
    write_council_csv(council, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == list(CASE_COLUMNS) + list(advice_csv_columns())
    assert len(back) == len(council.cases)
    assert back.case_ref.tolist() == council.cases.case_ref.tolist()
    a = council.advice
    for p in ADVICE_PROVIDERS:
        sub = a[a.provider == p]
        assert (back[f"advice_{p}_requested"] != "").sum() == len(sub), p
        assert (back[f"advice_{p}_received"] != "").sum() == sub.received.notna().sum(), p
        assert (back[f"advice_{p}_exception"] != "").sum() == sub.exception.notna().sum(), p
    iso = re.compile(r"\d{4}-\d{2}-\d{2}")
    for col in ("request_received", "plan_start", "advice_educational_psychology_requested"):
        vals = back[col][back[col] != ""]
        assert len(vals) > 0
        assert vals.map(lambda v: bool(iso.fullmatch(v))).all(), col
    # a value survives the trip
    row = council.cases.index[council.cases.plan_start.notna()][0]
    assert back.plan_start[row] == council.cases.plan_start[row].date().isoformat()
    ep = a[a.provider == "educational_psychology"].iloc[0]
    mine = back.loc[back.case_ref == ep.case_ref, "advice_educational_psychology_requested"].item()
    assert mine == ep.requested.date().isoformat()
    assert set(back.reassessment_agreed.unique()) <= {"", "true", "false"}
    assert np.isin(["true", "false"], back.reassessment_agreed.unique()).all()


def test_csv_refuses_two_requests_to_one_provider(tmp_path) -> None:
    cl = generate_council(300, 5, AS_OF)
    dup = pd.concat([cl.advice, cl.advice.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one"):
        write_council_csv(Caseload(cases=cl.cases, advice=dup), tmp_path / "x.csv")


def test_csv_reads_back_through_the_project_importer(council: Caseload, tmp_path) -> None:
    importers = pytest.importorskip("ehcp_workflow.importers")
    path = tmp_path / "council.csv"
    write_council_csv(council, path)
    back, problems = importers.read_caseload(path)
    assert problems == []
    assert not back.unrecorded
    pd.testing.assert_frame_equal(council.cases, back.cases[list(CASE_COLUMNS)])
    key = ["case_ref", "provider"]
    mine = council.advice.sort_values(key).reset_index(drop=True)
    theirs = back.advice.sort_values(key).reset_index(drop=True)[list(ADVICE_COLUMNS)]
    pd.testing.assert_frame_equal(mine, theirs)


def test_csv_quotes_text_with_commas_and_quotes(tmp_path) -> None:
    cl = generate_council(50, 9, AS_OF)
    cases = cl.cases.copy()
    cases.loc[0, "cease_reason"] = 'moved, then "returned"\nlater'
    path = tmp_path / "q.csv"
    write_council_csv(Caseload(cases=cases, advice=cl.advice), path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(back) == 50
    assert back.cease_reason[0] == 'moved, then "returned"\nlater'
