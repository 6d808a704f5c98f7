"""Plain, immutable views of one stored case (what ``get_case`` and the event-log replay return).

Both are built from the same field registry, so "the replayed state equals the stored state" is a
comparison of two :class:`CaseRecord` values, not of two differently shaped things.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ehcp_workflow.db.fields import FieldValue, Kind


@dataclass(frozen=True, order=True)
class AdviceRecord:
    """One request for advice. ``seq`` numbers the requests to one provider type in a case."""

    provider: str
    seq: int
    requested: date | None = None
    received: date | None = None
    exception: str | None = None


@dataclass(frozen=True)
class CaseRecord:
    """A case's current values, by caseload column name (plus exception details)."""

    case_ref: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    advice: tuple[AdviceRecord, ...] = ()

    def __getitem__(self, name: str) -> FieldValue:
        return self.fields[name]


def python_values(series: pd.Series, kind: Kind) -> list[Any]:
    """A column as Python values for the driver: ``date``/``str``/``bool``, None for missing."""
    if kind is Kind.DATE:
        values: list[Any] = series.to_numpy(dtype="datetime64[s]").astype("datetime64[D]").tolist()
        return values
    if kind is Kind.BOOL:
        return [None if v is pd.NA else bool(v) for v in series.to_numpy(dtype=object, na_value=pd.NA)]
    return list(series.to_numpy(dtype=object, na_value=None))


def text_values(series: pd.Series, kind: Kind) -> np.ndarray[Any, np.dtype[np.object_]]:
    """A column as event-log text (ISO dates, ``true``/``false``), None for missing."""
    if kind is Kind.DATE:
        days = series.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
        text: np.ndarray[Any, np.dtype[np.object_]] = np.datetime_as_string(days, unit="D").astype(object)
        text[np.isnat(days)] = None
        return text
    if kind is Kind.BOOL:
        out = np.full(len(series), None, dtype=object)
        present = series.notna().to_numpy()
        out[present] = np.where(series[present].to_numpy(dtype=bool), "true", "false")
        return out
    values: np.ndarray[Any, np.dtype[np.object_]] = series.to_numpy(dtype=object, na_value=None)
    return values


def records_from_frames(
    cases: pd.DataFrame, advice: pd.DataFrame, kinds: Mapping[str, Kind]
) -> list[CaseRecord]:
    """Turn flat case rows and advice rows (with ``seq``) into :class:`CaseRecord` values."""
    names = [c for c in cases.columns if c in kinds and c != "case_ref"]
    columns = {name: python_values(cases[name], kinds[name]) for name in names}
    by_case: dict[str, list[AdviceRecord]] = {}
    if len(advice):
        adv_cols = {
            "requested": python_values(advice["requested"], Kind.DATE),
            "received": python_values(advice["received"], Kind.DATE),
            "exception": python_values(advice["exception"], Kind.CODE),
        }
        for i, (ref, provider, seq) in enumerate(
            zip(advice["case_ref"], advice["provider"], advice["seq"], strict=True)
        ):
            by_case.setdefault(str(ref), []).append(
                AdviceRecord(
                    provider=str(provider),
                    seq=int(seq),
                    requested=adv_cols["requested"][i],
                    received=adv_cols["received"][i],
                    exception=adv_cols["exception"][i],
                )
            )
    records = []
    for i, ref in enumerate(cases["case_ref"]):
        values = {name: columns[name][i] for name in names}
        records.append(CaseRecord(str(ref), values, tuple(sorted(by_case.get(str(ref), [])))))
    return records
