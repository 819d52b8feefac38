"""registry change log: what an unchanged rerun must not miss

Inserts are counted from the tables themselves; an UPDATE or DELETE of a contribution line or a
participant leaves no count behind, so triggers count them here: per (program, period) of the changed
lines, and under ('*', '*') for participants. `iuran.rerun` reads the counts that a month's decisions
depend on before trusting a rerun to be unchanged.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PG_LINES = """
CREATE FUNCTION iuran_line_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO registry_change (program, period, n)
    SELECT program, period, count(*) FROM changed GROUP BY program, period
    ON CONFLICT (program, period) DO UPDATE SET n = registry_change.n + EXCLUDED.n;
    RETURN NULL;
END $$
"""
_PG_PARTICIPANTS = """
CREATE FUNCTION iuran_participant_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO registry_change (program, period, n) VALUES ('*', '*', 1)
    ON CONFLICT (program, period) DO UPDATE SET n = registry_change.n + 1;
    RETURN NULL;
END $$
"""
_SQLITE = """
CREATE TRIGGER {table}_{event}d AFTER {EVENT} ON {table} BEGIN
    INSERT INTO registry_change (program, period, n) VALUES ({key}, 1)
    ON CONFLICT (program, period) DO UPDATE SET n = n + 1;
END
"""


def upgrade() -> None:
    op.create_table(
        "registry_change",
        sa.Column("program", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("program", "period"),
    )
    if op.get_context().dialect.name == "postgresql":
        # Statement triggers with the changed rows as a table: one upsert per statement and month.
        op.execute(_PG_LINES)
        op.execute(_PG_PARTICIPANTS)
        for event in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER contribution_line_{event}d AFTER {event.upper()} "
                "ON contribution_line REFERENCING OLD TABLE AS changed "
                "FOR EACH STATEMENT EXECUTE FUNCTION iuran_line_change()"
            )
            op.execute(
                f"CREATE TRIGGER participant_{event}d AFTER {event.upper()} ON participant "
                "FOR EACH STATEMENT EXECUTE FUNCTION iuran_participant_change()"
            )
    else:
        for event in ("update", "delete"):
            for table, key in (
                ("contribution_line", "OLD.program, OLD.period"),
                ("participant", "'*', '*'"),
            ):
                op.execute(_SQLITE.format(table=table, event=event, EVENT=event.upper(), key=key))


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    for event in ("update", "delete"):
        for table in ("contribution_line", "participant"):
            op.execute(
                f"DROP TRIGGER IF EXISTS {table}_{event}d" + (f" ON {table}" if postgres else "")
            )
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS iuran_line_change()")
        op.execute("DROP FUNCTION IF EXISTS iuran_participant_change()")
    op.drop_table("registry_change")
