"""Shared helpers for the importer tests (imported relatively: ``from .helpers import ...``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.problems import Problem, Severity

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sen2"
#: The project's sibling folder with third-party material; absent on some machines.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "sen2-samples"

_PERSONAL = re.compile(r"<(Surname|Forename|PersonBirthDate|PostCode)>([^<]+)</", re.IGNORECASE)
_ETHNICITY = re.compile(r"<(Ethnicity)>([^<]+)</", re.IGNORECASE)


def only(problems: Iterable[Problem], **match: str) -> Problem:
    """The single problem whose attributes equal ``match`` (fails with the candidates otherwise)."""
    found = [p for p in problems if all(str(getattr(p, k)) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one problem matching {match}, got {found}"
    return found[0]


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def row(caseload: Caseload, case_ref: str) -> pd.Series:
    rows = caseload.cases.loc[caseload.cases["case_ref"] == case_ref]
    assert len(rows) == 1, f"{case_ref}: {len(rows)} rows"
    return rows.iloc[0]


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def assert_no_personal_data(xml_path: Path, caseload: Caseload, problems: Iterable[Problem]) -> None:
    """No name, birth date or postcode from the file in any problem or cell; no ethnicity cell.

    (Sex/GenderCurrent codes are single characters that also occur as legitimate codes, so they
    are covered by the reader's redaction test instead.)
    """
    text = xml_path.read_text(encoding="utf-8")
    secrets = {v.strip() for _, v in _PERSONAL.findall(text)}
    ethnicity = {v.strip() for _, v in _ETHNICITY.findall(text)}
    assert secrets, "fixture has no personal fields to check"
    messages = "\n".join(str(p) for p in problems)
    cells = {str(v) for col in caseload.cases.columns for v in caseload.cases[col].dropna()}
    cells |= {v[:10] for v in cells}  # dates print as "YYYY-MM-DD 00:00:00"
    for secret in secrets:
        assert secret not in messages, f"personal value {secret!r} in a problem"
        assert secret not in cells, f"personal value {secret!r} in the caseload"
    assert not ethnicity & cells, "ethnicity in the caseload"
