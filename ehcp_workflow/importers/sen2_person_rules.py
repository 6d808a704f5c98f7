"""SEN2 person-level rules: the person's reference, birth date, UPN/ULN and unknown elements.

The person half of :mod:`ehcp_workflow.importers.sen2_rules` (which keeps the request-level rules
and the shared helpers); each check cites the sen2-spec item it enforces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ehcp_workflow.importers.sen2_rules import Findings, leaf, listing
from ehcp_workflow.importers.sen2_schema import SCHEMA, UPN_UNKNOWN_CODES
from ehcp_workflow.importers.sen2_xml import REDACTED_BAD_DATE, Node
from ehcp_workflow.problems import Severity

_UPN = re.compile(r"[A-Z]\d{12}|[A-Z]\d{11}[A-Z]")  # permanent | temporary UPN (§2.2 item 1.7a)
_ULN = re.compile(r"\d{10}")  # item 1.7b
_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # DfE modulus-23 table (no I, O, S)


def person_ref(person: Node, number: int) -> str:
    """UPN, else ULN, else ``person-<n>`` (the Person's 1-based position in the file)."""
    for key in ("upn", "uniquelearnernumber"):
        node = person.first(key)
        if node is not None and node.text:
            return node.text
    return f"person-{number}"


def birth_date_check(person: Node, f: Findings) -> None:
    """A PersonBirthDate that is not a plausible date: a warning naming the person, never the date.

    The person is still loaded; their birth date is not (it was once stored as NULL silently).
    """
    node = person.first("personbirthdate")
    if node is not None and node.text == REDACTED_BAD_DATE:
        f.warn(
            "sen2-birth-date",
            node.name,
            "is not a plausible date of birth (ccyy-mm-dd, not in the future, not a source system's "
            "no-date placeholder); it was not stored: correct it in the source system",
            node,
        )


def upn_check_letter(upn: str) -> str:
    """The DfE modulus-23 check letter for characters 2-13 of ``upn`` (letters count by table index).

    Verified against the five UPNs of sen2-spec §6.
    """
    total = 0
    for weight, ch in enumerate(upn[1:13], start=2):
        total += weight * (int(ch) if ch.isdigit() else _CHECK_LETTERS.index(ch))
    return _CHECK_LETTERS[total % 23]


def r20_identifiers(person: Node, f: Findings) -> None:
    """R20: one of UPN, ULN or UPNunknown; UPN is letter + 12 digits with a valid check letter.

    Warnings: identifiers do not move a clock, but a bad UPN stops matching to the school census.
    """
    upn, uln, unknown = (
        leaf(person, k, f, Severity.WARNING) for k in ("upn", "uniquelearnernumber", "upnunknown")
    )
    if upn is not None and upn.text:
        text = upn.text
        if not _UPN.fullmatch(text):
            shape = f"has {len(text)} characters; a UPN is 13:" if len(text) != 13 else "is not"
            f.warn(
                "sen2-R20",
                "UPN",
                f"UPN '{text}' {shape} a capital letter and 12 digits (a temporary UPN ends in a "
                "letter). Correct it from the school census",
                upn,
            )
        elif text[0] != upn_check_letter(text):
            f.warn(
                "sen2-R20",
                "UPN",
                f"UPN '{text}' has the wrong check letter (expected '{upn_check_letter(text)}'); "
                "it is probably mistyped. Correct it from the school census",
                upn,
            )
    if uln is not None and uln.text and not _ULN.fullmatch(uln.text):
        f.warn(
            "sen2-R20",
            "UniqueLearnerNumber",
            f"ULN '{uln.text}' is not 10 digits; correct it from the learner record",
            uln,
        )
    has_id = any(n is not None and n.text for n in (upn, uln))
    if unknown is not None and unknown.text:
        if unknown.text not in UPN_UNKNOWN_CODES:
            f.warn(
                "sen2-R20",
                "UPNunknown",
                f"'{unknown.text}' is not a UPNunknown code; use one of {listing(UPN_UNKNOWN_CODES)}",
                unknown,
            )
        if has_id:
            f.warn(
                "sen2-R20",
                "UPNunknown",
                "UPNunknown is given although the person has a UPN or ULN; remove UPNunknown",
                unknown,
            )
    elif not has_id:
        f.warn(
            "sen2-R20",
            "UPN",
            "no UPN, UniqueLearnerNumber or UPNunknown; give the UPN or ULN, or the reason "
            f"neither is known (UPNunknown); the person is referred to as '{f.person_ref}'",
        )


def unknown_elements(node: Node, block: str) -> Iterator[tuple[str, Node]]:
    """(block, element) for every element not in SEN2 2023-2026 (sen2-spec §2.2), recursively."""
    allowed = SCHEMA.get(block, frozenset())
    for child in node.children:
        if child.key not in allowed:
            yield block, child
        elif child.key in SCHEMA:
            yield from unknown_elements(child, child.key)


__all__ = ["birth_date_check", "person_ref", "r20_identifiers", "unknown_elements", "upn_check_letter"]
