"""Manager reporting: KPIs, the phase-transfer planner, charts, a committee workbook and an HTML report.

Every figure is computed from an :class:`~ehcp_workflow.core.evaluator.Evaluation` (the same engine and
definitions as the alerts), so a KPI and an alert can never disagree about a date or a status.
Nothing here re-derives a statutory due date: start, due, end and status come from the evaluation.
"""

from __future__ import annotations
