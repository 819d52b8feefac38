"""COPY-based bulk writes for PostgreSQL: rows go in through `COPY`, then one set-based statement.

Why: an `executemany` of 36,000 inserts goes to the server as 36,000 statements (psycopg's pipeline
saves the waits, not the parsing, planning and per-statement upkeep): three fifths of a Lahat month's
recording on PostgreSQL. `COPY` streams the same rows as one statement. Rows that may meet rows
already there (idempotency lives in the unique constraints) go to a temporary staging table first,
then `INSERT … SELECT … ON CONFLICT DO NOTHING`; updates by key go the same way, then
`UPDATE … FROM` the staging table. All of it inside the caller's transaction: a crash leaves
nothing behind (the staging tables are dropped at commit, and with a rollback).

SQLite keeps its own path (`iuran.registry.bulk_insert`): it has no COPY, and its executemany is
already a loop inside one statement.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

#: One staging table a statement: the names only need to differ within a transaction.
_stage_numbers = itertools.count()


def _quote(conn: Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote(name))


def _copy(conn: Connection, table: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    """`COPY table (columns) FROM STDIN` with these rows (plain values: int, str, bool, date,
    datetime, None), on the connection's own psycopg connection and so inside its transaction.
    As one block of COPY's text format when every column spells (`copy_text`), else row by row."""
    names = ", ".join(_quote(conn, c) for c in columns)
    raw = conn.connection.driver_connection
    block = copy_text(rows)
    with (
        raw.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        if block is not None:
            copy.write(block)
            return
        for row in rows:
            copy.write_row(row)


#: COPY text format's escapes for a text value (`\N` is NULL, so a backslash is doubled first)
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_NUL = "\x00"


def _cells(values: tuple[Any, ...]) -> list[str] | None:
    """One column as COPY text cells, spelled for the whole column at once; None when a value
    is of a type not spelled here (or a text holds a NUL, which PostgreSQL cannot store)."""
    kinds = set(map(type, values))
    nulls = type(None) in kinds
    kinds.discard(type(None))
    if len(kinds) > 1:
        return None
    kind = next(iter(kinds), str)
    present = [v for v in values if v is not None] if nulls else values
    if kind is str:
        joined = _NUL.join(present)
        if joined.count(_NUL) != max(0, len(present) - 1):
            return None
        for char, escaped in _ESCAPES:
            if char in joined:
                joined = joined.replace(char, escaped)
        cells = joined.split(_NUL) if present else []
    elif kind is int:
        cells = list(map(str, present))
    elif kind is bool:
        cells = list(map({True: "t", False: "f"}.__getitem__, present))
    elif kind in (dt.date, dt.datetime):  # few distinct values (a run's clock, birth dates)
        spelled = {v: v.isoformat() for v in set(present)}
        cells = list(map(spelled.__getitem__, present))
    else:
        return None
    if not nulls:
        return cells
    spelled_in_turn = iter(cells)
    return ["\\N" if v is None else next(spelled_in_turn) for v in values]


def copy_text(rows: Sequence[Sequence[Any]]) -> str | None:
    """The rows in COPY's text format (tab between values, a line a row, `\\N` for NULL), built
    column by column with joins and C-level maps; None when a column holds a type not spelled here.

    Why: psycopg's `write_row` formats each value in Python (~4 µs a row, a sixth of the national
    writer's CPU on PostgreSQL); the column's type is decided once here instead of once a value."""
    if not rows:
        return ""
    columns = [_cells(c) for c in zip(*rows, strict=True)]
    if any(c is None for c in columns):
        return None
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _stage(conn: Connection, table: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> str:
    """A temporary table with `table`'s `columns` (same types, no constraints), filled by COPY;
    dropped at commit or rollback. Returns its name."""
    stage = f"iuran_stage_{table}_{next(_stage_numbers)}"
    names = ", ".join(_quote(conn, c) for c in columns)
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {names} FROM {_quote(conn, table)} WITH NO DATA"
    )
    _copy(conn, stage, columns, rows)
    return stage


def copy_insert(
    conn: Connection,
    table: str,
    columns: list[str],
    rows: Sequence[Sequence[Any]],
    ignore_conflict: list[str] | None = None,
) -> int:
    """Insert `rows` (every one of `columns`) into `table`; returns how many were inserted.

    Without `ignore_conflict`, straight into the table (a conflict fails the transaction, as an
    insert would). With it, through a staging table: the rows whose `ignore_conflict` columns match
    a unique index's existing row are skipped, as `ON CONFLICT (...) DO NOTHING` skips them.
    """
    if not rows:
        return 0
    if not ignore_conflict:
        _copy(conn, _quote(conn, table), columns, rows)
        return len(rows)
    return len(copy_insert_new(conn, table, columns, rows, ignore_conflict, ignore_conflict[:1]))


def copy_insert_new(
    conn: Connection,
    table: str,
    columns: list[str],
    rows: Sequence[Sequence[Any]],
    ignore_conflict: list[str],
    returning: list[str],
) -> list[tuple[Any, ...]]:
    """`copy_insert` with `ignore_conflict`, returning the `returning` columns of the rows it
    inserted (a new participant's id with its NIK: no second query to read them back)."""
    if not rows:
        return []
    stage = _stage(conn, table, columns, rows)
    names = ", ".join(_quote(conn, c) for c in columns)
    keys = ", ".join(_quote(conn, c) for c in ignore_conflict)
    back = ", ".join(_quote(conn, c) for c in returning)
    inserted = conn.exec_driver_sql(
        f"INSERT INTO {_quote(conn, table)} ({names}) SELECT {names} FROM {stage} "
        f"ON CONFLICT ({keys}) DO NOTHING RETURNING {back}"
    ).all()
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return [tuple(r) for r in inserted]


def copy_update(
    conn: Connection,
    table: str,
    key: str,
    columns: list[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """`UPDATE table SET columns … WHERE key = …` for many rows in one statement: each row is
    (key value, *column values). Returns the rows updated."""
    if not rows:
        return 0
    stage = _stage(conn, table, [key, *columns], rows)
    sets = ", ".join(f"{_quote(conn, c)} = s.{_quote(conn, c)}" for c in columns)
    k = _quote(conn, key)
    updated = conn.exec_driver_sql(
        f"UPDATE {_quote(conn, table)} AS t SET {sets} FROM {stage} AS s WHERE t.{k} = s.{k}"
    ).rowcount
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return int(updated)
