"""The reliability corpus: hostile and broken inputs, each a message and an unchanged store.

Every case runs the real command line in-process against a store that already holds the fixture
caseload, and asserts: the exit code (2 for input that cannot be used), no traceback, a message
naming the file (and the row and field where there is one), no control character from the file
on the terminal, and a store whose every table is the same before and after. The NUL case runs on
PostgreSQL too (which cannot store NUL at all). Files are built in ``tmp_path``; nothing here
reads the shared samples in place.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import AS_OF, CSV_HEADER, FIXTURES, Run, said, write_csv

SEN2_EXAMPLE = FIXTURES / "spec_example_2026.xml"
XML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Message><Header><CollectionDetails><Collection>SEN2'
    "</Collection><Year>2026</Year><ReferenceDate>2026-01-15</ReferenceDate></CollectionDetails>"
    "</Header><Persons><Person>"
)
XML_TAIL = "</Person></Persons></Message>\n"


def _csv_text(*rows: str) -> str:
    return "\n".join([CSV_HEADER, *rows]) + "\n"


def _row(cells: str) -> str:
    """A fixture row with the empty trailing columns."""
    return cells + "," * (CSV_HEADER.count(",") - cells.count(","))


def _text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(text.encode(encoding))
        return path

    return build


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _billion_laughs(folder: Path) -> Path:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    path = folder / "laughs.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE Message [{"".join(entities)}]>\n<Message>&lol9;</Message>\n'
    )
    return path


def _truncated_xml(folder: Path) -> Path:
    data = SEN2_EXAMPLE.read_bytes()
    path = folder / "truncated.xml"
    path.write_bytes(data[: len(data) // 2])
    return path


def _deep_xml(folder: Path) -> Path:
    path = folder / "deep.xml"
    path.write_text(XML_HEAD + "<a>" * 1000 + "</a>" * 1000 + XML_TAIL)
    return path


def _dtd_xlsx(folder: Path) -> Path:
    import zipfile

    import openpyxl

    plain = folder / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["case_ref", "request_received"])
    wb.active.append(["C-99", "2026-01-05"])
    wb.save(plain)
    path = folder / "dtd.xlsx"
    dtd = b'<?xml version="1.0"?>\n<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]>\n'
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, dtd + data if info.filename == "xl/worksheets/sheet1.xml" else data)
    plain.unlink()
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.csv"
    os.mkfifo(path)
    return path


def _dev_zero(folder: Path) -> Path:
    path = folder / "zero.csv"
    path.symlink_to("/dev/zero")
    return path


def _bom(folder: Path) -> Path:
    path = write_csv(folder / "bom.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


@dataclass(frozen=True)
class Case:
    """One corpus entry: how to build the file, the exit code, and what the message must say."""

    build: Callable[[Path], Path]
    code: int = 2
    says: tuple[str, ...] = ()


CORPUS: dict[str, Case] = {
    "utf-16 with BOM": Case(
        _text("utf16.csv", _csv_text(_row("C-99,P-99,north")), "utf-16"), says=("UTF-8",)
    ),
    "latin-1": Case(_text("latin1.csv", _csv_text(_row("C-99,P-99,Équipe")), "latin-1"), says=("UTF-8",)),
    "utf-8 BOM (accepted, same data)": Case(_bom, code=0, says=("No changes",)),
    "truncated XML": Case(_truncated_xml, says=("not well-formed",)),
    "XML billion laughs": Case(_billion_laughs, says=("DTD",)),
    "XML nested 1,000 deep": Case(_deep_xml, says=("nested",)),
    "XLSX declaring a DTD": Case(_dtd_xlsx, says=("DTD",)),
    "formulas in dates": Case(
        _text("formulas.csv", _csv_text(_row('=1+1,P-99,north,alice,=HYPERLINK("http://x")'))),
        says=("row 2", "request_received"),
    ),
    "ANSI escape in a cell": Case(
        _text("ansi.csv", _csv_text(_row("C-99,P-99,\x1b[31mnorth\x1b[0m,alice,2026-01-05"))),
        says=("row 2", "team", "U+001B"),
    ),
    "NUL in a cell": Case(
        _text("nul.csv", _csv_text(_row("C-99,P-99,nor\x00th,alice,2026-01-05"))),
        says=("row 2", "team", "U+0000"),
    ),
    "empty file": Case(_text("empty.csv", ""), says=("empty",)),
    "header only": Case(_text("header.csv", CSV_HEADER + "\n"), says=("no valid case",)),
    "huge line": Case(_text("huge.csv", _csv_text(_row("C-99,P-99," + "x" * 300_000))), says=("CSV",)),
    "FIFO": Case(_fifo, says=("FIFO",)),
    "link to /dev/zero": Case(_dev_zero, says=("not a regular file",)),
    "XML that is not SEN2": Case(_text("other.xml", "<?xml version='1.0'?><Other/>\n"), says=("SEN2",)),
    "unknown suffix": Case(_text("caseload.txt", _csv_text(_row("C-99"))), says=("not a supported",)),
}


def dump(url: str) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: equal dumps mean an unchanged store."""
    from sqlalchemy import select
    from sqlmodel import SQLModel

    import ehcp_workflow.db.models  # noqa: F401 - registers the tables
    from ehcp_workflow.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
                for t in SQLModel.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _seeded(run: Run, folder: Path) -> None:
    result = run("import", str(write_csv(folder / "seed.csv")), "--actor", "importer")
    assert result.exit_code == 0, result.output


def check(result: Any, case: Case, name: str) -> None:
    assert result.exit_code == case.code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = said(result)
    assert name in text, f"the message does not name {name}: {text}"
    for fragment in case.says:
        assert fragment in text, f"{fragment!r} missing from: {text}"
    assert "\x1b" not in result.output and "\x00" not in result.output, (
        "a control character reached the terminal"
    )


@pytest.mark.parametrize("key", list(CORPUS))
def test_import_of_hostile_input(key: str, ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    _seeded(ehcp_sqlite, tmp_path)
    case = CORPUS[key]
    path = case.build(tmp_path)
    before = dump(sqlite_url)
    result = ehcp_sqlite("import", str(path))
    check(result, case, path.name)
    assert dump(sqlite_url) == before


def test_nul_in_a_cell_on_every_backend(ehcp: Run, url: str, tmp_path: Path) -> None:
    _seeded(ehcp, tmp_path)
    case = CORPUS["NUL in a cell"]
    path = case.build(tmp_path)
    before = dump(url)
    check(ehcp("import", str(path)), case, path.name)
    assert dump(url) == before


# --- commands whose output or arguments are hostile ----------------------------------------------


def _link_to(folder: Path) -> Path:
    target = folder / "precious.txt"
    target.write_text("keep\n")
    link = folder / "clocks.csv"
    link.symlink_to(target)
    return link


def _a_file(folder: Path) -> Path:
    path = folder / "notes.txt"
    path.write_text("mine\n")
    return path


COMMANDS: dict[str, tuple[Callable[[Path], list[str]], Case]] = {
    "export into a missing folder": (
        lambda f: ["export", "clocks", "--as-of", AS_OF, "-o", str(f / "missing" / "clocks.csv")],
        Case(_text("unused", ""), says=("clocks.csv", "does not exist")),
    ),
    "export onto a symlink": (
        lambda f: ["export", "clocks", "--as-of", AS_OF, "-o", str(_link_to(f))],
        Case(_text("unused", ""), says=("clocks.csv", "symbolic link")),
    ),
    "report onto an existing file": (
        lambda f: ["report", "--from", "2026-01", "--to", "2026-05", "--as-of", AS_OF, "-o", str(_a_file(f))],
        Case(_text("unused", ""), says=("notes.txt", "folder")),
    ),
    "case list for nobody": (
        lambda f: ["case", "list", "--caseworker", "nobody", "--format", "csv"],
        Case(_text("unused", ""), code=0, says=("0 matching case(s)",)),
    ),
}


@pytest.mark.parametrize("key", list(COMMANDS))
def test_hostile_command(key: str, ehcp_sqlite: Run, sqlite_url: str, tmp_path: Path) -> None:
    _seeded(ehcp_sqlite, tmp_path)
    args, case = COMMANDS[key]
    before = dump(sqlite_url)
    result = ehcp_sqlite(*args(tmp_path))
    named = case.says[0]
    check(result, case, named)
    assert dump(sqlite_url) == before
    if key == "export onto a symlink":
        assert (tmp_path / "precious.txt").read_text() == "keep\n"


def test_case_show_escapes_what_the_event_log_holds(ehcp_sqlite: Run, tmp_path: Path) -> None:
    """A reason typed with an ANSI escape (clear screen) is stored as given, and shown escaped."""
    _seeded(ehcp_sqlite, tmp_path)
    recorded = ehcp_sqlite(
        "case", "record", "C-03", "withdrawn", "2026-05-01", "--as-of", AS_OF, "--reason", "moved\x1b[2J"
    )
    assert recorded.exit_code == 0, recorded.output
    shown = ehcp_sqlite("case", "show", "C-03", "--as-of", AS_OF)
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output
    assert "moved\\x1b[2J" in shown.output
