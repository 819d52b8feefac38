"""credit notes: workers removed from a paid invoice become credit that pays the next invoices

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("program", sa.String(length=40), nullable=False),
        sa.Column("payer_key", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("source_invoice_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("unapplied", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_invoice_id"],
            ["invoice.id"],
            name=op.f("fk_credit_note_source_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_credit_note_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_note_number")),
        sa.UniqueConstraint(
            "source_invoice_id", "seq", name=op.f("uq_credit_note_source_invoice_id_seq")
        ),
    )
    op.create_index(op.f("ix_credit_note_program"), "credit_note", ["program"], unique=False)
    op.create_table(
        "credit_note_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=False),
        sa.Column("source_invoice_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_note.id"],
            name=op.f("fk_credit_note_line_credit_note_id_credit_note"),
        ),
        sa.ForeignKeyConstraint(
            ["source_invoice_id"],
            ["invoice.id"],
            name=op.f("fk_credit_note_line_source_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_credit_note_line_participant_id_participant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_line")),
        sa.UniqueConstraint(
            "credit_note_id",
            "participant_id",
            name=op.f("uq_credit_note_line_credit_note_id_participant_id"),
        ),
    )
    op.create_index(
        op.f("ix_credit_note_line_credit_note_id"),
        "credit_note_line",
        ["credit_note_id"],
        unique=False,
    )
    op.create_index(
        "uq_credit_line_current",
        "credit_note_line",
        ["source_invoice_id", "participant_id"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    # An allocation is paid from an SP2D or from a credit note. SQLite rebuilds the table (nothing
    # references payment_allocation); PostgreSQL alters it in place.
    with op.batch_alter_table("payment_allocation") as batch:
        batch.alter_column("payment_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_payment_allocation_credit_note_id_credit_note"),
            "credit_note",
            ["credit_note_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            op.f("uq_payment_allocation_credit_note_id_invoice_id"),
            ["credit_note_id", "invoice_id"],
        )
        batch.create_check_constraint(
            op.f("ck_payment_allocation_one_source"),
            sa.text("(payment_id IS NULL) <> (credit_note_id IS NULL)"),
        )


def downgrade() -> None:
    # Credit-note allocations cannot exist without their notes: they go, and the invoices they paid
    # are recomputed by the next `settle` (refresh_invoices sums the allocations that remain).
    op.execute("DELETE FROM payment_allocation WHERE credit_note_id IS NOT NULL")
    with op.batch_alter_table("payment_allocation") as batch:
        batch.drop_constraint(op.f("ck_payment_allocation_one_source"), type_="check")
        batch.drop_constraint(
            op.f("uq_payment_allocation_credit_note_id_invoice_id"), type_="unique"
        )
        batch.drop_constraint(
            op.f("fk_payment_allocation_credit_note_id_credit_note"), type_="foreignkey"
        )
        batch.drop_column("credit_note_id")
        batch.alter_column("payment_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(
        "uq_credit_line_current",
        table_name="credit_note_line",
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.drop_index(op.f("ix_credit_note_line_credit_note_id"), table_name="credit_note_line")
    op.drop_table("credit_note_line")
    op.drop_index(op.f("ix_credit_note_program"), table_name="credit_note")
    op.drop_table("credit_note")
