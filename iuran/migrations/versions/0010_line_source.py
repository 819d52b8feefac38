"""which lists named a worker in a period: carry-forward and ending follow the source (#16)

`line_source` holds, per program, period and participant, the lists that named a worker billed then
when that is not only the village's own roster (a partner OPD's list, alone or with the village's):
`desa+dinas-perikanan`. A worker without a row was listed by his village, as every line before this
revision was.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "line_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(40), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("sumber", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_line_source_participant_id_participant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_source")),
        sa.UniqueConstraint(
            "program",
            "period",
            "participant_id",
            name=op.f("uq_line_source_program_period_participant_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("line_source")
