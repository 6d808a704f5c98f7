"""What an importer hands back, and the one rule for turning problems into a load or a refusal.

Every reader (SEN2 XML, the project's CSV/XLSX) first produces a :class:`ReadResult`: all the rows
it could build, every problem it found, which rows carry an error, and whether some error belongs
to the file as a whole. Keeping "read" separate from "decide" lets a caller show the full list of
problems (``read_*``) or apply the project's policy (``load_*``) without reading the file twice.

The policy (:func:`finish_load`): by default any error refuses the whole file, because a caseload
with silently missing cases would under-report breaches. With ``accept_valid=True`` the cases that
carry an error are dropped and the rest are used; the caller still gets every problem, on the
returned :class:`LoadedCaseload`, so it can tell the user which cases were left out and why.
An error that belongs to no case (an unknown column, a header that cannot be read) always refuses:
dropping cases cannot fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.problems import InputError, Problem, errors_in


@dataclass(frozen=True)
class LoadedCaseload(Caseload):
    """A :class:`Caseload` that also carries what the importer found while loading it.

    It *is* a ``Caseload`` (evaluators need nothing else), so the problems travel with the data
    instead of needing a second return value that callers could forget to look at.
    """

    #: Every problem found, in file order: the warnings, and with ``accept_valid`` the errors too.
    problems: tuple[Problem, ...] = ()
    #: ``case_ref`` of each case left out because it had an error (``accept_valid`` only).
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadResult:
    """Everything a reader found; the input to :func:`finish_load`."""

    caseload: Caseload
    problems: list[Problem]
    #: Positions (0-based, in ``caseload.cases``) of the rows that carry at least one error.
    rejected_rows: frozenset[int]
    #: True when an error belongs to the file rather than to any one case.
    file_errors: bool


def finish_load(result: ReadResult, *, accept_valid: bool) -> LoadedCaseload:
    """Apply the load policy described in the module docstring."""
    problems = tuple(result.problems)
    if errors_in(problems) and (not accept_valid or result.file_errors):
        raise InputError(problems)
    cl = result.caseload
    keep = np.array([i not in result.rejected_rows for i in range(len(cl.cases))], dtype=bool)
    rejected = _refs(cl.cases, sorted(result.rejected_rows))
    part = cl.subset(keep)
    carried = {f.name: getattr(part, f.name) for f in fields(Caseload)}  # history, provenance, partial
    return LoadedCaseload(**carried, problems=problems, rejected=rejected)


def _refs(cases: pd.DataFrame, rows: Sequence[int]) -> tuple[str, ...]:
    refs = cases["case_ref"].iloc[list(rows)]
    return tuple(str(r) for r in refs if not pd.isna(r))
