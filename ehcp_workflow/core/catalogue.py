"""The clock catalogue: typed rules loaded from ``config/clocks.yaml``.

Rules are data (like vacanza/holidays' rules with statute references) so that the law lives in one
reviewed file and both evaluators interpret the same definitions. Loading validates the file
strictly: a typo in a field name or unit is an error at start-up, not a silently wrong deadline.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ehcp_workflow.core import caseload as cl

#: Anchors the evaluator derives from a case's review history (see the catalogue header).
DERIVED_ANCHORS = frozenset({"review_anchor_before_transfer", "first_review_after_transfer"})
#: Columns of a review period (``per: review_period``): the anchor it runs from and the next one.
PERIOD_FIELDS = frozenset({"review_anchor", "next_review_anchor"})
#: Named rules, each implemented once in the evaluator (``ehcp_workflow.core.evaluator``).
NAMED_RULES = frozenset({"reg18_phase_transfer", "reg15_move_day", "superseded_by_transfer_in_review"})
ADVICE_FIELDS = frozenset(cl.ADVICE_COLUMNS)
REVIEW_FIELDS = frozenset(cl.REVIEW_COLUMNS)
#: What each kind of row can refer to: its own columns, plus its case's (gathered by case).
Per = Literal["case", "advice_request", "review", "review_period"]


class Unit(StrEnum):
    WEEKS = "weeks"
    DAYS = "days"
    MONTHS = "months"
    WORKING_DAYS = "working_days"
    RULE = "rule"


class Counting(StrEnum):
    WITHIN = "within"
    BEGINNING_WITH = "beginning_with"


class Kind(StrEnum):
    DUTY = "duty"
    WINDOW = "window"


class Law(StrEnum):
    STATUTE = "statute"
    TRIBUNAL_RULES = "tribunal_rules"
    GUIDANCE = "guidance"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Limit(_Strict):
    unit: Unit
    amount: int = Field(default=0, ge=0)
    rule: str | None = None
    #: For ``later_of`` entries: the column or derived anchor the period runs from.
    from_: str | None = Field(default=None, alias="from")

    @model_validator(mode="after")
    def _check(self) -> Limit:
        if self.unit is Unit.RULE:
            if self.rule not in NAMED_RULES:
                raise ValueError(f"unknown named rule {self.rule!r}")
        elif self.amount <= 0:
            raise ValueError("a limit needs a positive amount")
        return self


class When(_Strict):
    field: str
    in_: tuple[str, ...] = Field(alias="in")


class End(_Strict):
    field: str
    when: When | None = None
    after_start_only: bool = False


class Invalid(_Strict):
    """A combination of recorded values the clock cannot be judged from (a data problem, an alert)."""

    field: str
    in_: tuple[str, ...] = Field(alias="in")
    without: str
    reason: str


class Stop(_Strict):
    """An event that stops a clock still running (advice outstanding when the assessment ends)."""

    field: str
    when: When | None = None
    #: why a stopped clock is late ("not received before the assessment ended")
    reason: str
    #: why it no longer applies when the stop came before the due date
    early: str


class ExceptionWindow(_Strict):
    """A ground that only covers limits falling in a window (SI 2020/471's coronavirus ground)."""

    ground: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    source: str


class Condition(_Strict):
    """A reason the clock does not apply to a case."""

    reason: str
    field: str | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    present: bool | None = None
    is_: bool | None = Field(default=None, alias="is")
    rule: str | None = None
    unless_ended: bool = False

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [self.in_ is not None, self.present is not None, self.is_ is not None, self.rule is not None]
        if sum(tests) != 1:
            raise ValueError("a condition needs exactly one of: in, present, is, rule")
        if self.rule is not None and self.rule not in NAMED_RULES:
            raise ValueError(f"unknown named rule {self.rule!r}")
        if self.rule is None and self.field is None:
            raise ValueError("a condition needs a field")
        return self


class ClockRule(_Strict):
    id: str
    ref: str
    title: str
    regulation: str
    law: Law
    kind: Kind
    starts: str
    limit: Limit
    counting: Counting = Counting.WITHIN
    later_of: tuple[Limit, ...] = ()
    rule: str | None = None
    ends: End | None = None
    per: Per = "case"
    exception_grounds: tuple[str, ...] = ()
    not_applicable_when: tuple[Condition, ...] = ()
    invalid_when: tuple[Invalid, ...] = ()
    #: Duty clocks: an event that stops the clock while it is still running (reported late once).
    stops: Stop | None = None
    #: Window clocks: an event the council must not take inside the window (a breach if it does).
    cut_short_by: End | None = None

    @property
    def exception_column(self) -> str | None:
        """The case column holding an exception ground for this clock, if it can have one."""
        if not self.exception_grounds:
            return None
        return "exception" if self.per == "advice_request" else cl.exception_column(self.id)

    def field_names(self) -> list[str]:
        """Every field the rule reads (for validation against the row kind's columns)."""
        names = [self.starts]
        names += [e.from_ for e in self.later_of if e.from_]
        for end in (self.ends, self.cut_short_by):
            if end:
                names.append(end.field)
                if end.when:
                    names.append(end.when.field)
        if self.stops:
            names.append(self.stops.field)
            if self.stops.when:
                names.append(self.stops.when.field)
        names += [k.field for k in self.not_applicable_when if k.field]
        names += [f for k in self.invalid_when for f in (k.field, k.without)]
        return names

    def grounds_accepted(self) -> frozenset[str]:
        """Grounds that disapply this limit (``unspecified`` wherever any ground is)."""
        if not self.exception_grounds:
            return frozenset()
        return frozenset(self.exception_grounds) | {"unspecified"}


class Catalogue(_Strict):
    version: int
    exception_windows: tuple[ExceptionWindow, ...] = ()
    clocks: tuple[ClockRule, ...]

    @model_validator(mode="after")
    def _check_fields(self) -> Catalogue:
        case = set(cl.CASE_COLUMNS) | DERIVED_ANCHORS
        own = {"case": set(), "advice_request": ADVICE_FIELDS, "review": REVIEW_FIELDS}
        own["review_period"] = PERIOD_FIELDS
        seen: set[str] = set()
        for c in self.clocks:
            if c.id in seen:
                raise ValueError(f"duplicate clock id {c.id!r}")
            seen.add(c.id)
            fields = case | own[c.per]
            for n in c.field_names():
                if n not in fields:
                    raise ValueError(f"clock {c.id!r} refers to unknown field {n!r}")
            for g in c.exception_grounds:
                if g not in cl.EXCEPTION_GROUNDS:
                    raise ValueError(f"clock {c.id!r}: unknown exception ground {g!r}")
            if c.exception_grounds and c.per == "case" and c.id not in cl.EXCEPTION_CLOCKS:
                raise ValueError(f"clock {c.id!r} has exception grounds but no exception column")
            if c.rule is not None and c.rule not in NAMED_RULES:
                raise ValueError(f"clock {c.id!r}: unknown named rule {c.rule!r}")
        for w in self.exception_windows:
            if w.ground not in cl.EXCEPTION_GROUNDS or w.to < w.from_:
                raise ValueError(f"exception window {w.ground!r}: unknown ground or empty window")
        return self

    def window(self, ground: str) -> ExceptionWindow | None:
        """The window a ground is limited to, if it is."""
        return next((w for w in self.exception_windows if w.ground == ground), None)

    def __getitem__(self, clock_id: str) -> ClockRule:
        for c in self.clocks:
            if c.id == clock_id:
                return c
        raise KeyError(clock_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.clocks)


#: The catalogue the package ships: ``config/clocks.yaml``, linked into this folder so that an
#: installed wheel (no checkout beside it) has it too (setuptools copies the file it links to).
DEFAULT_CATALOGUE_PATH = Path(__file__).resolve().parent / "clocks.yaml"


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load and validate the clock catalogue (``config/clocks.yaml`` by default)."""
    p = Path(path) if path is not None else DEFAULT_CATALOGUE_PATH
    if path is None:
        return _default_catalogue()
    return _parse(p)


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return _parse(DEFAULT_CATALOGUE_PATH)


#: libyaml's parser where PyYAML has it (its wheels do): the same safe loading, the same values,
#: ~1.5 ms instead of ~15 ms for the catalogue on every ``ehcp case show``.
_SAFE_LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(p: Path) -> Catalogue:
    with p.open(encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=_SAFE_LOADER)  # a safe loader, C or Python
    try:
        return Catalogue.model_validate(raw)
    except ValueError as exc:
        raise ValueError(f"{p}: invalid clock catalogue: {exc}") from exc
