"""One clock's results over its rows: the arrays the evaluator returns, and what their codes mean.

A module of its own so that the explanations (:mod:`.explain`) read these arrays without importing
the evaluator that fills them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ehcp_workflow.core.caseload import EXCEPTION_GROUNDS
from ehcp_workflow.core.catalogue import ClockRule
from ehcp_workflow.core.history import Dates
from ehcp_workflow.core.statuses import STATUS_CODE, STATUS_ORDER, Status

_S = {s: np.int8(STATUS_CODE[s]) for s in Status}
GROUNDS = tuple(sorted(EXCEPTION_GROUNDS))

#: ``ClockArrays.due_from`` codes beyond the limits (0 = the main limit, k = ``later_of[k-1]``).
DUE_MOVE_DAY = np.int8(-1)  # reg 15(2): the day of the move
#: Phase transfers (reg 18): which rule set the due date.
PHASE_DUE_FROM = ("school", "post16", "post16_other", "recorded")
#: ``ClockArrays.end_from``: the end event, the event that stopped the clock, or cut a window short.
END_EVENT, END_STOPPED, END_CUT_SHORT = np.int8(0), np.int8(1), np.int8(2)
#: Reason templates filled by :mod:`ehcp_workflow.core.explain` from the row's dates.
END_BEFORE_START = "Cannot evaluate: {end_name} ({end}) is before {start_name} ({start})."
BAD_GROUND = "Cannot evaluate: exception ground ({ground}) does not disapply {regulation}{window}."


@dataclass(frozen=True)
class ClockArrays:
    """One clock over its rows: dates (``datetime64[D]``), status and reason codes, provenance.

    ``case_index`` maps each row to its case, ``instance`` names it ("" for a case's only instance,
    "review 2", an adviser). ``reason`` indexes ``reasons`` (0: the status speaks for itself).
    Provenance: ``start_from`` indexes ``start_names`` (which event started the clock), ``due_from``
    says which limit set the due date (``due_base`` is the date that limit ran from, where it is not
    the start), ``end_from`` whether the end is the end event, a stop or a cut-short.
    """

    rule: ClockRule
    case_index: npt.NDArray[np.int64]
    instance: npt.NDArray[np.object_]
    start: Dates
    due: Dates
    computed_due: Dates
    end: Dates
    status: npt.NDArray[np.int8]
    reason: npt.NDArray[np.int8]
    reasons: tuple[str, ...]
    exception: npt.NDArray[np.int8]  # index into GROUNDS, -1 for none
    start_from: npt.NDArray[np.int8]
    start_names: tuple[str, ...]
    due_from: npt.NDArray[np.int8]
    end_from: npt.NDArray[np.int8]
    end_names: tuple[str, ...]
    due_base: Dates | None = None

    def __len__(self) -> int:
        return len(self.status)

    def status_labels(self) -> npt.NDArray[np.object_]:
        return np.array([s.value for s in STATUS_ORDER], dtype=object)[self.status]
