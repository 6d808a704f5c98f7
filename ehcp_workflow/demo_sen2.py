"""The demo council's SEN2 companion file: synthetic identities and SEN2 details for every case.

:func:`generate_sen2_companion` gives, for each case of a demo caseload, what a SEN2 return needs
beyond the caseload (:mod:`ehcp_workflow.importers.tabular_sen2`): the person's names, birth date,
sex, ethnicity, postcode and UPN, the request's source and flags, the plan's named setting,
personal budget, the placement attended and the types of need. With it the demo council's SEN2
export is complete (its 2024-2026 returns validate against the schemas; tests/exporters).

Identities are made with Faker (``en_GB``, seeded): pools of surnames, forenames and postcodes
drawn once, then sampled with numpy, so 20,000 people take a fraction of a second and the same seed
gives the same people. They are fictitious; the UPN is the demo's ``person_ref``, which uses the
placeholder LA number 999 (valid check letter, never a real pupil's). Establishment URNs are drawn
from a synthetic pool (1000xx-1499xx) and are not real schools.

Proportions are rough national shapes [I]: boys 72 % of plans (DfE EHCP statistics), primary needs
led by autism, then speech and language and SEMH; personal budgets for about 1 in 10 plans.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from faker import Faker

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.files import private_file
from ehcp_workflow.importers.tabular_sen2 import SEN2_FILE_COLUMNS
from ehcp_workflow.output import neutralise

_NEEDS = ("ASD", "SLCN", "SEMH", "MLD", "SLD", "SPLD", "PD", "HI", "PMLD", "VI", "OTH", "MSI")
_NEED_P = (0.33, 0.22, 0.17, 0.09, 0.05, 0.04, 0.03, 0.02, 0.02, 0.01, 0.015, 0.005)
_ETHNICITIES = (
    "WBRI",
    "WOTH",
    "MWBC",
    "MOTH",
    "AIND",
    "APKN",
    "ABAN",
    "BAFR",
    "BCRB",
    "CHNE",
    "OOTH",
    "NOBT",
)
_ETHNICITY_P = (0.70, 0.05, 0.03, 0.03, 0.03, 0.04, 0.02, 0.03, 0.02, 0.01, 0.02, 0.02)
_SOURCES = ("1", "2", "3", "4", "5")
_SOURCE_P = (0.5, 0.4, 0.04, 0.03, 0.03)


def _pool(fake: Faker, make: Any, size: int) -> np.ndarray[Any, np.dtype[np.object_]]:
    return np.array([make() for _ in range(size)], dtype=object)


def _dates(values: pd.Series) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    return np.asarray(values.to_numpy(dtype="datetime64[D]", na_value=np.datetime64("NaT")))


def _iso(days: np.ndarray[Any, np.dtype[np.datetime64]]) -> np.ndarray[Any, np.dtype[np.object_]]:
    out = days.astype("datetime64[D]").astype("U10").astype(object)
    out[np.isnat(days)] = ""
    return out


def generate_sen2_companion(caseload: Caseload, seed: int) -> pd.DataFrame:
    """One companion row per case of ``caseload`` (all text, "" for missing), deterministic."""
    cases = caseload.cases
    n = len(cases)
    rng = np.random.default_rng([seed, 2])
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    surnames = _pool(fake, fake.last_name, 1000)
    boys, girls = _pool(fake, fake.first_name_male, 300), _pool(fake, fake.first_name_female, 300)
    postcodes = _pool(fake, fake.postcode, 2000)
    out: dict[str, np.ndarray[Any, np.dtype[np.object_]]] = {}
    out["case_ref"] = cases["case_ref"].astype(str).to_numpy(dtype=object)
    out["upn"] = cases["person_ref"].astype(str).to_numpy(dtype=object)
    male = rng.random(n) < 0.72
    out["sex"] = np.where(male, "M", "F").astype(object)
    out["surname"] = surnames[rng.integers(0, len(surnames), n)]
    out["forename"] = np.where(
        male, boys[rng.integers(0, len(boys), n)], girls[rng.integers(0, len(girls), n)]
    )
    out["postcode"] = postcodes[rng.integers(0, len(postcodes), n)]
    out["ethnicity"] = rng.choice(np.array(_ETHNICITIES, dtype=object), n, p=_ETHNICITY_P)
    # born 1-15 years before the case's first known date, and not before 2001-09-01 (25 or
    # younger on any census day the demo exports)
    first = np.fmin(_dates(cases["request_received"]), _dates(cases["plan_start"]))
    first = np.where(np.isnat(first), np.datetime64("2020-01-01"), first)
    born = first - rng.integers(365, 15 * 365, n).astype("timedelta64[D]")
    born = np.maximum(born, np.datetime64("2001-09-01") + rng.integers(0, 365, n).astype("timedelta64[D]"))
    out["birth_date"] = _iso(born)

    outcome = cases["request_outcome"].astype("string").fillna("").to_numpy(dtype=object)
    decided = np.isin(outcome, ["Y", "N"])
    out["request_source"] = rng.choice(np.array(_SOURCES, dtype=object), n, p=_SOURCE_P)
    out["rya"] = np.where(rng.random(n) < 0.005, "1", "0").astype(object)
    out["request_mediation"] = np.where(decided, np.where(rng.random(n) < 0.04, "1", "0"), "").astype(object)
    out["request_tribunal"] = np.where(decided, np.where(rng.random(n) < 0.02, "1", "0"), "").astype(object)
    assessed = np.isin(
        cases["assessment_outcome"].astype("string").fillna("").to_numpy(dtype=object), ["Y", "N"]
    )
    for column, p in (
        ("assessment_mediation", 0.03),
        ("assessment_tribunal", 0.02),
        ("other_mediation", 0.01),
        ("other_tribunal", 0.01),
    ):
        out[column] = np.where(assessed, np.where(rng.random(n) < p, "1", "0"), "").astype(object)

    start = _dates(cases["plan_start"])
    plan = ~np.isnat(start)
    pb = plan & (rng.random(n) < 0.1)
    out["pb"] = np.where(plan, np.where(pb, "1", "0"), "").astype(object)
    out["oa"] = np.where(pb, np.where(rng.random(n) < 0.5, "1", "0"), "").astype(object)
    out["dp"] = np.where(
        pb & (rng.random(n) < 0.4), rng.choice(np.array(["E", "I", "S"], dtype=object), n), ""
    )
    home = plan & (rng.random(n) < 0.03)  # educated at home or otherwise: no URN
    urn = (100000 + rng.integers(0, 500, n) * 97 % 50000).astype(str).astype(object)
    out["plan1_urn"] = np.where(plan & ~home, urn, "").astype(object)
    out["plan1_sen_setting"] = np.where(home, rng.choice(np.array(["EHE", "OLA"], dtype=object), n), "")
    unit, rp = rng.random(n) < 0.08, rng.random(n) < 0.06
    for prefix in ("plan1", "placement1"):
        out[f"{prefix}_sen_unit_indicator"] = np.where(plan, np.where(unit, "1", "0"), "").astype(object)
        out[f"{prefix}_resourced_provision_indicator"] = np.where(plan, np.where(rp, "1", "0"), "").astype(
            object
        )
    out["placement1_urn"] = out["plan1_urn"]
    out["placement1_sen_setting"] = out["plan1_sen_setting"]
    out["placement1_rank"] = np.where(plan, "1", "").astype(object)
    entry = start - rng.integers(0, 900, n).astype("timedelta64[D]")
    out["placement1_entry_date"] = _iso(np.where(plan, entry, np.datetime64("NaT")))
    out["placement1_leaving_date"] = _iso(np.where(plan, _dates(cases["plan_ceased"]), np.datetime64("NaT")))
    first_need = rng.choice(np.array(_NEEDS, dtype=object), n, p=_NEED_P)
    second_need = rng.choice(np.array(_NEEDS, dtype=object), n, p=_NEED_P)
    second = plan & (rng.random(n) < 0.3) & (second_need != first_need)
    out["sen_need1"] = np.where(plan, first_need, "").astype(object)
    out["sen_need2"] = np.where(second, second_need, "").astype(object)
    frame = pd.DataFrame({c: out[c] for c in SEN2_FILE_COLUMNS if c in out})
    return frame


def write_sen2_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the companion rows as CSV (UTF-8, header first), created 0600 (it holds names, even if
    synthetic ones), every cell neutralised against spreadsheet formulas."""
    with private_file(Path(path), encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            writer.writerow([neutralise(v) for v in row])
