"""`iuran.registry.in_list`: a list of any length as one bound text value on both databases (on
PostgreSQL an array literal the server parses, not a list psycopg dumps value by value), and the
same rows found whatever the texts hold: quotes, backslashes, commas, braces, the word NULL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from iuran.db.models import Participant
from iuran.db.session import session_scope
from iuran.registry import array_literal, in_list

#: Names a list literal must not split, merge or read as NULL.
AWKWARD = [
    'O"Brien',
    "back\\slash",
    "koma, titik",
    "{kurung}",
    "NULL",
    "",
    " spasi ",
    "Ñoño Ṣiti",
    'akhir\\"',
]


def _people(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        session.execute(
            insert(Participant),
            [
                {
                    "nik": f"32010112{i:08d}",
                    "nama": name,
                    "tanggal_lahir": dt.date(1990, 1, 1),
                    "jenis_kelamin": "L",
                }
                for i, name in enumerate([*AWKWARD, "tidak dicari"])
            ],
        )
    with session_scope(url) as session:
        return {n: i for n, i in session.execute(select(Participant.nama, Participant.id)).tuples()}


def test_in_list_finds_exactly_the_listed_texts_and_ids(database_url: str) -> None:
    ids = _people(database_url)
    with session_scope(database_url) as session:
        conn = session.connection()
        by_name = conn.scalars(
            select(Participant.nama).where(in_list(conn, Participant.nama, AWKWARD))
        ).all()
        wanted = [ids["NULL"], ids['O"Brien'], 10**6]
        by_id = conn.scalars(
            select(Participant.id).where(in_list(conn, Participant.id, wanted))
        ).all()
        none = conn.scalars(select(Participant.id).where(in_list(conn, Participant.id, []))).all()
    assert sorted(by_name) == sorted(AWKWARD)
    assert sorted(by_id) == sorted([ids["NULL"], ids['O"Brien']])
    assert none == []


def test_in_list_binds_one_text_value_however_long_the_list(database_url: str) -> None:
    niks = [f"32010112{i:08d}" for i in range(5000)]
    with session_scope(database_url) as session:
        conn = session.connection()
        for column, values in ((Participant.nik, niks), (Participant.id, list(range(5000)))):
            query = select(Participant.id).where(in_list(conn, column, values))
            params = query.compile(dialect=conn.dialect).construct_params()
            assert [type(v) for v in params.values()] == [str]


def test_array_literal_leaves_what_it_cannot_spell_to_the_driver() -> None:
    assert array_literal([3, 1]) == "{3,1}"
    assert array_literal(['a"b', "c\\d"]) == '{"a\\"b","c\\\\d"}'
    assert array_literal(["a\x00b"]) is None
    assert array_literal([1, "a"]) is None
    assert array_literal([dt.date(2026, 1, 1)]) is None
