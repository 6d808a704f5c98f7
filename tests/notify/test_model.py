"""Alert items, keys and recipient tags."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ehcp_workflow.notify import (
    MANAGERS,
    AlertItem,
    AlertKind,
    Message,
    caseworker_tag,
    delivery_failing_item,
    digest_recipient,
    team_tag,
)
from ehcp_workflow.notify.model import alert_key, normalise_tag


def test_alert_kinds_are_the_agreed_vocabulary() -> None:
    assert [k.value for k in AlertKind] == [
        "due_in_14",
        "due_in_7",
        "due_in_2",
        "due_today",
        "overdue",
        "still_overdue",
        "band_crossed_30",
        "band_crossed_52",
        "band_crossed_100",
        "invalid",
        "cut_short",
        "delivery_failing",
    ]


def test_item_is_frozen_has_no_personal_fields_and_accepts_kind_strings() -> None:
    item = AlertItem(case_ref="EHC-1", clock="final_plan", kind="overdue")  # type: ignore[arg-type]
    assert item.kind is AlertKind.OVERDUE
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.case_ref = "x"  # type: ignore[misc]
    names = {f.name for f in dataclasses.fields(AlertItem)}
    assert not names & {"name", "first_name", "surname", "date_of_birth", "dob", "birth_date"}
    with pytest.raises(ValueError):
        AlertItem(case_ref="EHC-1", clock="final_plan", kind="nonsense")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AlertItem(case_ref="", clock="final_plan", kind=AlertKind.OVERDUE)


def test_item_key_episode_defaults_to_due_date_then_band() -> None:
    due = AlertItem(
        case_ref="C/1", clock="final_plan", kind=AlertKind.DUE_IN_7, due_date=dt.date(2024, 10, 21)
    )
    assert due.key == "C%2F1/final_plan/due_in_7/2024-10-21"
    band = AlertItem(case_ref="C1", clock="backlog", kind=AlertKind.BAND_CROSSED_52, band="over_52")
    assert band.key == "C1/backlog/band_crossed_52/over_52"
    weekly = AlertItem(
        case_ref="C1",
        clock="final_plan",
        kind=AlertKind.STILL_OVERDUE,
        due_date=dt.date(2024, 1, 1),
        episode="2024-W42",
    )
    assert weekly.key == "C1/final_plan/still_overdue/2024-W42"


def test_alert_key_has_the_outbox_format() -> None:
    # The same examples as tests/db/test_outbox.py (importing the db layer here would cost seconds).
    assert alert_key("C/1", "x", "y", dt.date(2026, 1, 2)) == "C%2F1/x/y/2026-01-02"
    assert alert_key("a/b", "c", "d", "e") != alert_key("a", "b/c", "d", "e")


def test_tags() -> None:
    assert caseworker_tag(" cw-017 ") == "caseworker:cw-017"
    assert team_tag("SEN   North") == "team:SEN North"
    assert normalise_tag("Team:SEN  North") == "team:SEN North"
    assert normalise_tag(" MANAGERS ") == MANAGERS
    assert normalise_tag("caseworker:CW-7") != normalise_tag("caseworker:cw-7")  # ids are exact
    for bad in ("manager", "always", "all", "caseworkers:x", "caseworker:", "team:  "):
        with pytest.raises(ValueError):
            normalise_tag(bad)


def test_digest_recipient_falls_back_from_caseworker_to_team_to_managers() -> None:
    base = AlertItem(case_ref="C1", clock="final_plan", kind=AlertKind.DUE_TODAY)
    assert digest_recipient(dataclasses.replace(base, caseworker="cw-1", team="North")) == "caseworker:cw-1"
    assert digest_recipient(dataclasses.replace(base, caseworker=" ", team="North")) == "team:North"
    assert digest_recipient(base) == MANAGERS


def test_delivery_failing_item_names_the_recipient_and_error() -> None:
    message = Message(recipient="caseworker:cw-1", title="EHC deadlines", body="b", alert_keys=("k1", "k2"))
    item = delivery_failing_item(message, attempts=5, error="connection refused", as_of=dt.date(2024, 10, 14))
    assert item.kind is AlertKind.DELIVERY_FAILING
    assert item.case_ref == "caseworker:cw-1"
    assert item.detail is not None and "5 attempts" in item.detail and "connection refused" in item.detail
    assert item.key.endswith("/delivery_failing/2024-10-14")


def test_from_row_reads_an_alerting_frame_and_ignores_other_columns() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            # the columns of ehcp_workflow.core.alerting.alert_candidates, plus personal data
            "key": ["EHC-1|advice:EP|due_in_7|2024-09-01", "EHC-2|backlog|band_crossed_52|2023-10-01"],
            "case_ref": ["EHC-1", "EHC-2"],
            "clock": ["advice", "backlog"],
            "instance": ["EP", ""],
            "kind": ["due_in_7", "band_crossed_52"],
            "episode": ["2024-09-01", "2023-10-01"],
            "status": ["due_soon", "open"],
            "due_date": pd.to_datetime(["2024-10-21", None]).to_numpy(dtype="datetime64[ns]"),
            "days_overdue": pd.array([pd.NA, pd.NA], dtype="Int64"),
            "team": ["North", None],
            "caseworker": ["cw-1", None],
            "band": ["within_20", "over_52"],
            "weeks_waiting": np.array([-1, 53]),
            "regulation": ["SEND Regulations 2014 reg 8(1)", "SEND Regulations 2014 reg 13(2)"],
            "name": ["Amelia Hartley-Jones", "Someone Else"],
            "date_of_birth": pd.to_datetime(["2015-03-14", "2016-01-01"]),
        }
    )
    advice, band = (AlertItem.from_row(r, clock_title="Advice") for r in frame.to_dict(orient="records"))
    assert advice == AlertItem(
        key="EHC-1|advice:EP|due_in_7|2024-09-01",
        case_ref="EHC-1",
        clock="advice",
        instance="EP",
        kind=AlertKind.DUE_IN_7,
        episode="2024-09-01",
        status="due_soon",
        due_date=dt.date(2024, 10, 21),
        team="North",
        caseworker="cw-1",
        band="within_20",
        regulation="SEND Regulations 2014 reg 8(1)",
        clock_title="Advice",
    )
    assert advice.clock_id == "advice:EP"
    assert band.due_date is None and band.days_overdue is None and band.weeks_waiting == 53
    assert type(band.weeks_waiting) is int and band.team is None


def test_key_is_kept_when_given_and_built_with_the_instance_otherwise() -> None:
    given = AlertItem(case_ref="C1", clock="advice", kind=AlertKind.OVERDUE, key="C1|advice:EP|overdue|x")
    assert given.key == "C1|advice:EP|overdue|x"
    built = AlertItem(
        case_ref="C1", clock="advice", instance="EP", kind=AlertKind.OVERDUE, episode="2024-09-01"
    )
    assert built.key == "C1/advice%3AEP/overdue/2024-09-01"
    assert dataclasses.replace(built, instance="SaLT", key="").key != built.key
