"""registry conflicts: name or birth date disagreeing with the registry, kept for review

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("registry_value", sa.String(length=200), nullable=False),
        sa.Column("roster_value", sa.String(length=200), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_registry_conflict_cycle_id_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_registry_conflict_participant_id_participant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_conflict")),
        sa.UniqueConstraint(
            "cycle_id",
            "participant_id",
            "field",
            name=op.f("uq_registry_conflict_cycle_id_participant_id_field"),
        ),
    )
    op.create_index(
        op.f("ix_registry_conflict_cycle_id"), "registry_conflict", ["cycle_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_conflict_cycle_id"), table_name="registry_conflict")
    op.drop_table("registry_conflict")
