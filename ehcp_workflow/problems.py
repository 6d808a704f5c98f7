"""Problems found in input data, named precisely enough for a caseworker to fix them.

Every importer reports what is wrong as :class:`Problem` values (file, where in the file, which
person or case, which field, what is wrong) rather than raising on the first one, so one run lists
everything to fix. Personal data stays out: a person is named by their reference (UPN, ULN or the
file's position), never by name or date of birth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """``error`` stops the case being used; ``warning`` is reported and the case is used."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    location: str  # "line 42", "row 7", "Person 3 (line 118)"
    person: str  # person or case reference, "" when the problem is about the whole file
    field: str  # element or column name, "" when not about one field
    message: str
    severity: Severity = Severity.ERROR
    rule: str = ""  # e.g. "sen2-R7" or "csv-date"

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.file, self.location) if p)
        who = f" [{self.person}]" if self.person else ""
        fld = f" {self.field}:" if self.field else ""
        rule = f" ({self.rule})" if self.rule else ""
        return f"{self.severity}: {where}{who}{fld} {self.message}{rule}"


class InputError(Exception):
    """Raised when input cannot be used; carries every problem found, errors first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(
            sorted(problems, key=lambda p: (p.severity != Severity.ERROR, p.file, p.location))
        )
        errors = [p for p in self.problems if p.severity == Severity.ERROR]
        head = "; ".join(str(p) for p in errors[:3])
        more = f" (and {len(errors) - 3} more errors)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} error(s) in input: {head}{more}")

    @property
    def errors(self) -> Sequence[Problem]:
        return [p for p in self.problems if p.severity == Severity.ERROR]


def errors_in(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == Severity.ERROR]
