"""BPJS's claims list: the benefits paid to a program's workers (#18)

`claim` holds one row per benefit BPJS paid (JKK, JKM, beasiswa) to a worker a program billed, with
the village that billed him; unique per program and claim (BPJS's number, or participant, type and
date), so a list imported twice adds nothing.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(40), nullable=False),
        sa.Column("claim_key", sa.String(120), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("jenis", sa.String(10), nullable=False),
        sa.Column("tanggal", sa.Date(), nullable=False),
        sa.Column("nilai", sa.BigInteger(), nullable=False),
        sa.Column("nomor_klaim", sa.String(100), nullable=True),
        sa.Column("kode_desa", sa.String(13), nullable=False),
        sa.Column("source_file", sa.String(255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participant.id"], name=op.f("fk_claim_participant_id_participant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
        sa.UniqueConstraint("program", "claim_key", name=op.f("uq_claim_program_claim_key")),
    )
    op.create_index(op.f("ix_claim_participant_id"), "claim", ["participant_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_claim_participant_id"), table_name="claim")
    op.drop_table("claim")
