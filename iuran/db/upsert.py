""" "Insert or ignore" for both backends: the one place that knows each dialect's spelling.

Idempotency lives in unique constraints; a writer that may meet a row already there inserts with
`ON CONFLICT (...) DO NOTHING` (SQLite and PostgreSQL share the clause, not the construct).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, table: Any, index_elements: list[str]) -> Any:
    """`INSERT INTO table … ON CONFLICT (index_elements) DO NOTHING` for the session's dialect;
    add `.values(...)`, `.returning(...)` or execute it with a list of rows."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)
