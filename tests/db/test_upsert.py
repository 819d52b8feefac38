"""Insert or ignore (`iuran.db.upsert`) on both backends: a second insert of a key is a no-op."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from iuran.db.models import PaymentImport
from iuran.db.session import session_scope
from iuran.db.upsert import insert_or_ignore


def test_insert_or_ignore_inserts_once(database_url: str) -> None:
    row = {
        "kind": "pembayaran",
        "program": "lebak",
        "path": "a.csv",
        "sha256": "0" * 64,
        "rows": 1,
        "imported_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    }
    ids = []
    for _ in range(2):
        with session_scope(database_url) as session:
            stmt = insert_or_ignore(session, PaymentImport, ["kind", "sha256"])
            ids.append(session.execute(stmt.values(**row).returning(PaymentImport.id)).scalar())
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(PaymentImport)) == 1
    assert ids[0] is not None and ids[1] is None
