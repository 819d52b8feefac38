"""COPY's rows spelled a column at a time (`iuran.db.bulk.copy_text`): what `bulk_insert` writes
reads back as given on both databases, whatever the texts hold (tab, line breaks, a backslash, the
two characters `\\N` that COPY reads as NULL), with NULLs, dates and times with their zone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from iuran.db.bulk import copy_text
from iuran.db.models import Participant
from iuran.db.session import session_scope
from iuran.registry import bulk_insert

NAMES = ["tab\there", "baris\nbaru", "cr\rlf", "back\\slash", "\\N", "", "Ñoño"]
WHEN = dt.datetime(2026, 1, 5, 10, 30, 15, 123456, tzinfo=dt.UTC)
COLUMNS = ["nik", "nama", "tanggal_lahir", "jenis_kelamin", "bpjs_status", "bpjs_status_date",
           "created_at", "updated_at"]  # fmt: skip


def _rows() -> list[tuple[object, ...]]:
    return [
        (
            f"32010112{i:08d}",
            name,
            dt.date(1990, 1, 1 + i),
            "L",
            "aktif",
            None if i % 2 else dt.date(2025, 12, 31),
            WHEN,
            WHEN,
        )
        for i, name in enumerate(NAMES)
    ]


def test_bulk_insert_reads_back_awkward_texts_nulls_dates_and_times(database_url: str) -> None:
    with session_scope(database_url) as session:
        assert bulk_insert(session, Participant.__table__, COLUMNS, _rows()) == len(NAMES)
    with session_scope(database_url) as session:
        got = session.execute(
            select(
                Participant.nik, Participant.nama, Participant.tanggal_lahir,
                Participant.bpjs_status_date, Participant.created_at,
            ).order_by(Participant.nik)
        ).all()  # fmt: skip
    assert [r.nama for r in got] == NAMES
    assert [r.tanggal_lahir for r in got] == [r[2] for r in _rows()]
    assert [r.bpjs_status_date for r in got] == [r[5] for r in _rows()]
    # SQLite keeps a time as written, without its zone
    assert {r.created_at.replace(tzinfo=dt.UTC) for r in got} == {WHEN}


def test_copy_text_spells_each_column_once_as_copy_reads_it() -> None:
    rows = [("a\tb", 1, True, dt.date(2026, 1, 5), None), ("\\N", None, False, None, "x\ny")]
    assert copy_text(rows) == "a\\tb\t1\tt\t2026-01-05\t\\N\n\\\\N\t\\N\tf\t\\N\tx\\ny\n"
    assert copy_text([]) == ""


def test_copy_text_leaves_what_it_cannot_spell_to_the_driver() -> None:
    assert copy_text([(1.5,)]) is None  # a float: psycopg's own dumper
    assert copy_text([(1,), ("1",)]) is None  # a column of two types
    assert copy_text([("a\x00b",)]) is None  # a NUL: PostgreSQL refuses it, as it should
