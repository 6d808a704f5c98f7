"""Validating an export against the third-party SEN2 schema of its year (``xmlschema``).

The schemas (../shared/reference/sen2-xsd, LIIA, MIT) have documented defects (their README, and
README.md's SEN2 section). :func:`schema_errors` returns every validation error **except** those,
each recognised exactly (the element, the failing facet and a value that is right by the spec), so a
real fault of the same element is still reported:

* URN and UKPRN patterns are written ``^\\d{1,6}$`` / ``^\\d{8}$``; XSD patterns are implicitly
  anchored, so ``^`` and ``$`` are literal characters and every real URN and UKPRN fails;
* the ULN pattern of 2023, 2024 and 2026 asks for 8 digits (``^[1-9][0-9]{7}$``); real ULNs have 10;
* LA codes (LEA, TransferLA, Exported) are an enumeration of the London councils and XXX, so every
  other council's valid 3-digit code fails.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import xmlschema

from ..importers.helpers import SHARED

XSD_DIR = SHARED / "reference" / "sen2-xsd"

#: (element, what a right value looks like by the spec, text the schema's failing facet contains)
DEFECTS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("URN", re.compile(r"\d{6}"), "^\\d{1,6}$"),
    ("UKPRN", re.compile(r"\d{8}"), "^\\d{8}$"),
    ("UniqueLearnerNumber", re.compile(r"\d{10}"), "^[1-9][0-9]{7}$"),
    ("LEA", re.compile(r"\d{3}"), "enumeration"),
    ("TransferLA", re.compile(r"\d{3}"), "enumeration"),
    ("Exported", re.compile(r"\d{3}"), "enumeration"),
)


@cache
def schema(year: int) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD_DIR / f"liia_sen2_schema_{year}.xsd"))


def _documented(error: xmlschema.XMLSchemaValidationError) -> bool:
    elem = error.elem
    if elem is None:
        return False
    tag, text = str(elem.tag), (elem.text or "").strip()
    validator = error.validator
    patterns = [str(p) for p in getattr(validator, "regexps", ())]
    enumeration = type(validator).__name__ == "XsdEnumerationFacets"
    for name, right, facet in DEFECTS:
        if tag != name or not right.fullmatch(text):
            continue
        if (facet == "enumeration" and enumeration) or patterns == [facet]:
            return True
    return False


def schema_errors(path: Path, year: int) -> list[str]:
    """Every error of ``path`` against the ``year`` schema other than the documented defects."""
    return [
        f"{e.path}: {e.reason}"
        for e in schema(year).iter_errors(str(path))
        if isinstance(e, xmlschema.XMLSchemaValidationError) and not _documented(e)
    ]


def all_errors(path: Path, year: int) -> list[xmlschema.XMLSchemaValidationError]:
    return [
        e for e in schema(year).iter_errors(str(path)) if isinstance(e, xmlschema.XMLSchemaValidationError)
    ]
