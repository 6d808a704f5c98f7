"""Exports from the store for bodies outside the council: the DfE SEN2 person-level return.

Start here::

    from ehcp_workflow.exporters import export_sen2

    result = export_sen2(engine, year=2026, la="886", out=Path("sen2_2026.xml"),
                         generated_at=datetime(2026, 2, 2, 10, 30), dmo="Y", dco="Y", dsco="N")
    result.passed          # no check errors; result.report is the CSV of every finding

``ehcp sen2 export`` is the command-line face of the same call.
"""

from ehcp_workflow.exporters.sen2 import ExportResult, export_sen2, report_path
from ehcp_workflow.exporters.sen2_checks import CheckSeverity, Finding
from ehcp_workflow.exporters.sen2_layout import CENSUS_DAYS, EXPORT_YEARS, layout, period
from ehcp_workflow.exporters.sen2_people import import_sen2, read_sen2_people

__all__ = [
    "CENSUS_DAYS",
    "EXPORT_YEARS",
    "CheckSeverity",
    "ExportResult",
    "Finding",
    "export_sen2",
    "import_sen2",
    "layout",
    "period",
    "read_sen2_people",
    "report_path",
]
