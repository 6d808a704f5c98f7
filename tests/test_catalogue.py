"""The clock catalogue is strict: a typo in the law-as-data fails loudly at load time."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ehcp_workflow.core.catalogue import DEFAULT_CATALOGUE_PATH, load_catalogue

PUBLIC_IDS = {
    "decision_to_assess",
    "advice",
    "decision_not_to_issue",
    "draft_representations",
    "final_plan",
    "annual_review",
    "review_report",
    "review_decision",
    "amendment_notice",
    "amended_plan",
    "phase_transfer",
    "transfer_in_notice",
    "transfer_in_review",
    "reassessment_decision",
    "reassessed_plan",
    "appeal_window",
}


def test_every_public_clock_id_is_in_the_catalogue_with_its_regulation() -> None:
    cat = load_catalogue()
    assert set(cat.ids) >= PUBLIC_IDS
    for clock in cat.clocks:
        assert clock.regulation, clock.id
        assert clock.law.value in {"statute", "tribunal_rules", "guidance"}


def test_exception_grounds_follow_statutory_rules_2_1() -> None:
    cat = load_catalogue()
    assert "e" in cat["advice"].exception_grounds  # reg 8(2)(c): missed appointment, advice only
    assert "a" not in cat["advice"].exception_grounds  # no closure ground for reg 8
    assert "e" not in cat["final_plan"].exception_grounds  # reg 13(3) cites 10(4)(a)-(d) only
    assert cat["phase_transfer"].exception_grounds == ()  # reg 18 has none


def _broken(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text())
    mutate(raw)
    p = tmp_path / "clocks.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["clocks"][0].update(starts="request_recieved"), "unknown field 'request_recieved'"),
        (lambda r: r["clocks"][0]["limit"].update(unit="fortnights"), "unit"),
        (lambda r: r["clocks"][0].update(exception_grounds=["z"]), "unknown exception ground 'z'"),
        (lambda r: r["clocks"].append(dict(r["clocks"][0])), "duplicate clock id"),
        (lambda r: r["clocks"][0].update(colour="red"), "colour"),
    ],
)
def test_a_broken_catalogue_is_refused_with_a_useful_message(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        load_catalogue(_broken(tmp_path, mutate))


def test_the_fast_loader_reads_the_same_catalogue() -> None:
    """The catalogue is parsed with libyaml where PyYAML has it: the same data as the Python parser."""
    from ehcp_workflow.core.catalogue import _SAFE_LOADER, _parse

    text = DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8")
    assert yaml.load(text, Loader=_SAFE_LOADER) == yaml.safe_load(text)
    assert _parse(DEFAULT_CATALOGUE_PATH) == load_catalogue()
