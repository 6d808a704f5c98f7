"""Input importers: every supported file becomes a :class:`~ehcp_workflow.core.caseload.Caseload`.

* ``.xml`` - a DfE SEN2 person-level return (:mod:`.sen2`), return years 2023-2026;
* ``.csv`` / ``.xlsx`` - the project's own one-row-per-case format (:mod:`.tabular`);
* ``.csv`` with the header ``case_ref,event,date,value`` - the long event format, one row per event,
  which carries a case's history (every review cycle) (:mod:`.events`).

Each importer offers ``read_*`` (cases + every problem; the caller decides) and ``load_*`` (the
project's policy: any error refuses the file, or with ``accept_valid`` the cases with errors are
dropped and the problems travel on the returned :class:`LoadedCaseload`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ehcp_workflow.core.caseload import Caseload
from ehcp_workflow.files import UnsafePath, check_input
from ehcp_workflow.gcpause import collector_paused
from ehcp_workflow.importers.events import is_event_file, load_events, read_events
from ehcp_workflow.importers.result import LoadedCaseload
from ehcp_workflow.importers.sen2 import is_sen2, load_sen2, read_sen2
from ehcp_workflow.importers.tabular import load_tabular, read_tabular, write_csv_template
from ehcp_workflow.importers.tabular_cells import TEMPLATE_COLUMNS
from ehcp_workflow.problems import InputError, Problem

__all__ = [
    "TEMPLATE_COLUMNS",
    "LoadedCaseload",
    "detect_format",
    "load_caseload",
    "load_events",
    "load_sen2",
    "load_tabular",
    "read_caseload",
    "read_events",
    "read_sen2",
    "read_tabular",
    "write_csv_template",
]

PathLike = str | os.PathLike[str]

_ZIP_MAGIC = b"PK\x03\x04"


def detect_format(path: PathLike) -> str:
    """``"sen2"``, ``"csv"``, ``"events"``, ``"xlsx"`` or ``"sen2-file"`` (a SEN2 companion file, CSV
    or XLSX) for the file at ``path``, or :class:`InputError`.

    Only a regular file of bounded size is read (:func:`~ehcp_workflow.files.check_input`). The
    suffix decides; an ``.xml`` file must also look like SEN2 (root ``Message``, Collection
    ``SEN2``), so that another DfE return or any other XML gets a clear refusal rather than an
    empty caseload. A file with another suffix is sniffed (XML or XLSX by content) before being
    refused with a hint.
    """
    p = Path(path)
    try:  # before anything opens it: a FIFO would block, /dev/zero would never end
        check_input(p)
    except UnsafePath as exc:
        raise InputError([Problem(str(p), "", "", "", exc.reason, rule="file")]) from None
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return "events" if is_event_file(p) else "sen2-file" if _is_sen2_file(p) else "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "sen2-file" if _is_sen2_file(p) else "xlsx"
    head = _head(p)
    looks_xml = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    if suffix == ".xml" or looks_xml:
        if is_sen2(p):
            return "sen2"
        raise _refuse(
            p,
            "the file is XML but not a SEN2 return (its root must be <Message> with "
            "Header/CollectionDetails/Collection = SEN2); the importer reads SEN2 returns, "
            "CSV and XLSX",
        )
    if head.startswith(_ZIP_MAGIC) and suffix not in (".ods",):
        raise _refuse(p, "the file looks like an XLSX workbook; rename it to end in .xlsx")
    raise _refuse(
        p,
        f"'{p.suffix or p.name}' is not a supported caseload file; use a SEN2 return (.xml), or the "
        "project's format as .csv (UTF-8) or .xlsx (an .xls or .ods file must be saved as .xlsx)",
    )


def read_caseload(path: PathLike) -> tuple[Caseload, list[Problem]]:
    """Read any supported file (see :func:`detect_format`): cases plus every problem found."""
    kind = detect_format(path)
    if kind == "sen2-file":
        raise _companion(Path(path))
    if kind == "sen2":
        return read_sen2(path)
    if kind == "events":
        return read_events(path)
    return read_tabular(path)


@collector_paused()
def load_caseload(path: PathLike, accept_valid: bool = False) -> LoadedCaseload:
    """Load any supported file (see :func:`detect_format`) under the project's policy.

    Raises :class:`InputError` if any error is found; with ``accept_valid=True`` drops the cases
    with errors and returns the rest, with every problem on ``.problems``.
    """
    kind = detect_format(path)
    if kind == "sen2-file":
        raise _companion(Path(path))
    if kind == "sen2":
        return load_sen2(path, accept_valid=accept_valid)
    if kind == "events":
        return load_events(path, accept_valid=accept_valid)
    return load_tabular(path, accept_valid=accept_valid)


def _companion(path: Path) -> InputError:
    return _refuse(
        path,
        "this is a SEN2 companion file (person fields and SEN2 details of stored cases), not a "
        "caseload: import it with `ehcp import` after the caseload it belongs to",
    )


def _is_sen2_file(path: Path) -> bool:
    """Whether a CSV/XLSX file's header is a SEN2 companion file's (:mod:`.tabular_sen2`)."""
    from ehcp_workflow.importers.tabular import rows_of
    from ehcp_workflow.importers.tabular_sen2 import is_sen2_file

    try:
        first = next(rows_of(path), None)
    except (InputError, OSError, UnicodeDecodeError, ValueError):
        return False  # the caseload reader reports the file's problem
    return first is not None and is_sen2_file(first[1])


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(512)
    except OSError as exc:
        raise InputError(
            [Problem(str(path), "", "", "", f"cannot read the file: {exc.strerror or exc}", rule="file")]
        ) from exc


def _refuse(path: Path, message: str) -> InputError:
    return InputError([Problem(str(path), "", "", "", message, rule="file-type")])
