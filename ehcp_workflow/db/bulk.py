"""Bulk reads and writes below SQLAlchemy's per-row layer, in the caller's transaction.

A night at national scale moves millions of clock-state rows. Through SQLAlchemy Core each row is
a dict in and a ``Row`` out, with a type processor per cell; measured on the 200,000-case store
that per-row layer cost more than the database did. These helpers talk to the DBAPI cursor of the
*same* connection (so the rows are in the night's one transaction, under its write lock):

* :func:`fetch_columns` runs a SELECT and hands each batch of rows to the caller as columns
  (tuples), so the caller can turn them into numpy arrays or codes and drop the Python objects;
* :func:`insert_rows` writes tuples: ``COPY ... FROM STDIN`` on PostgreSQL (psycopg's copy), one
  ``executemany`` of a plain ``INSERT`` on SQLite (sqlite3 runs it in C);
* :func:`insert_new_rows` does the same but skips rows whose unique key is taken (the outbox);
* :func:`insert_dicts` takes the dicts Core would, defaults filled as Core fills them (imports).

Callers pass values the driver takes as they are (ints, strings, ``None``); dates and instants go
through :func:`binder` (Core's own bind processor for the column on this dialect), so a row written
here is stored exactly as one written through Core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Select, Table

#: Rows per fetch and per executemany / copy batch (bounds the Python objects alive at once).
BATCH = 100_000


def _cursor(conn: Connection) -> Any:
    """A DBAPI cursor on ``conn``'s own connection (inside its current transaction)."""
    return conn.connection.cursor()


def fetch_columns(conn: Connection, stmt: Select[Any], size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
    """Run ``stmt`` and yield its rows ``size`` at a time, transposed: one tuple per column.

    On PostgreSQL through a server-side (named) cursor: psycopg's ordinary cursor receives the
    whole result into the client's memory at ``execute`` (libpq), so ``fetchmany`` bounded nothing
    (at 1,000,000 cases: all 12.7M previous clock states at once). The 1M later night's measured
    peak did not move (6.3 GiB, reached while reading the caseload; docs/performance.md §5), and
    its reads were no slower.
    """
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor: Any
    if conn.dialect.name == "postgresql":  # each FETCH brings ``size`` rows
        cursor = conn.connection.dbapi_connection.cursor(name=f"ehcp_fetch_{id(stmt):x}")  # type: ignore[union-attr]
    else:
        cursor = _cursor(conn)
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            yield list(zip(*rows, strict=True))
    finally:
        cursor.close()


def binder(conn: Connection, column: Column[Any]) -> Callable[[Any], Any]:
    """``value -> what the driver receives for column``: the bind processor Core itself applies
    (the column type's implementation for this dialect), called once per value.

    On SQLite that turns dates and datetimes into SQLAlchemy's own text (``2026-12-01 06:30:00.000000``),
    not the shorter text sqlite3's default adapters would make, so a row written here is stored
    exactly as one written through Core (tests/db/test_bulk.py compares the stored text).
    """
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(conn.dialect).bind_processor(
        conn.dialect
    )
    if processor is None:
        return lambda value: value
    return lambda value: None if value is None else processor(value)


def dict_batches(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], size: int = BATCH
) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
    """``rows`` (dicts of column values, every one with the same keys) as the column names and
    batches of driver-ready tuples, stored as Core's ``execute(insert(table), rows)`` would store
    them.

    Columns the rows leave out get the table's Python-side defaults (a scalar, or a callable such
    as ``created_at``'s clock, called once for the whole insert: one transaction, one instant),
    exactly as Core fills them; server-side defaults are the database's, as with Core. Values go
    through :func:`binder` only for the columns whose type has a processor (dates, instants).
    """
    columns = list(rows[0]) if rows else []
    defaults = {
        c.name: c.default.arg(None) if c.default.is_callable else c.default.arg  # type: ignore[attr-defined]
        for c in table.columns
        if rows
        and c.name not in rows[0]
        and c.default is not None
        and (c.default.is_scalar or c.default.is_callable)
    }
    fixed = tuple(binder(conn, table.c[name])(value) for name, value in defaults.items())
    processed = [
        (i, binder(conn, table.c[name]))
        for i, name in enumerate(columns)
        if table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) is not None
    ]
    width = len(columns)

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        for start in range(0, len(rows), size):
            batch = []
            for row in rows[start : start + size]:
                if len(row) != width:
                    raise ValueError(f"every row inserted into {table.name} must carry the columns {columns}")
                values = [row[name] for name in columns]
                for i, bind in processed:
                    values[i] = bind(values[i])
                batch.append((*values, *fixed))
            yield batch

    return [*columns, *defaults], batches()


def insert_dicts(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (see :func:`dict_batches`) through the bulk path of :func:`insert_rows`.

    Measured on a 200k-case import: Core's per-row dict handling was a fifth of the import.
    """
    if not rows:
        return 0
    names, batches = dict_batches(conn, table, rows)
    return insert_rows(conn, table, names, batches)


def bind_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (see :func:`binder`)."""
    return binder(conn, column)(value)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], batches: Iterable[Iterable[Sequence[Any]]]
) -> int:
    """Append rows (tuples in ``columns`` order, driver-ready values) to ``table``; returns the count."""
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = _cursor(conn)
    written = 0
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for batch in batches:
                    for row in batch:
                        copy.write_row(row)
                        written += 1
        else:
            marks = ", ".join("?" * len(columns))
            sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
            for batch in batches:
                rows = list(batch)
                cursor.executemany(sql, rows)
                written += len(rows)
    finally:
        cursor.close()
    return written


def insert_new_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    conflict: str,
    batches: Iterable[Iterable[Sequence[Any]]],
) -> int:
    """Like :func:`insert_rows`, but a row whose ``conflict`` column (a unique one) is already
    taken is skipped, not an error; returns how many rows were inserted.

    SQLite: ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` (its ``rowcount`` sums the
    rows inserted). PostgreSQL: COPY cannot skip conflicts, so the rows are copied into a
    temporary table and moved with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, in the
    order given (ids follow it, as they would row by row).
    """
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = _cursor(conn)
    inserted = 0
    try:
        if conn.dialect.name == "postgresql":
            cursor.execute("DROP TABLE IF EXISTS _bulk_in")
            cursor.execute(
                f"CREATE TEMP TABLE _bulk_in ON COMMIT DROP AS "
                f'SELECT {names} FROM "{table.name}" WITH NO DATA'
            )
            cursor.execute("ALTER TABLE _bulk_in ADD COLUMN _ord bigserial")
            with cursor.copy(f"COPY _bulk_in ({names}) FROM STDIN") as copy:
                for batch in batches:
                    for row in batch:
                        copy.write_row(row)
            cursor.execute(
                f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM _bulk_in ORDER BY _ord '
                f'ON CONFLICT ("{conflict}") DO NOTHING'
            )
            inserted = cursor.rowcount
            cursor.execute("DROP TABLE _bulk_in")
        else:
            marks = ", ".join("?" * len(columns))
            sql = (
                f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) ON CONFLICT ("{conflict}") DO NOTHING'
            )
            for batch in batches:
                cursor.executemany(sql, list(batch))
                inserted += cursor.rowcount
    finally:
        cursor.close()
    return inserted


__all__ = [
    "BATCH",
    "bind_value",
    "binder",
    "dict_batches",
    "fetch_columns",
    "insert_dicts",
    "insert_new_rows",
    "insert_rows",
]
