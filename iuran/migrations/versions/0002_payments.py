"""payments: imports, receipts, reminders; payment provenance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Columns added to `payment`. `import_id` references `payment_import`.
PAYMENT_COLUMNS = (
    ("import_id", sa.Integer()),
    ("source_row", sa.Integer()),
    ("matched_by", sa.String(length=20)),
    ("note", sa.Text()),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "payment_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("program", sa.String(length=40), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_import")),
        sa.UniqueConstraint("kind", "sha256", name=op.f("uq_payment_import_kind_sha256")),
    )
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nomor_sp2d", sa.String(length=100), nullable=False),
        sa.Column("tanggal_terima", sa.Date(), nullable=False),
        sa.Column("jumlah", sa.BigInteger(), nullable=False),
        sa.Column("program", sa.String(length=40), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_receipt_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["payment_import.id"], name=op.f("fk_receipt_import_id_payment_import")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint("nomor_sp2d", name=op.f("uq_receipt_nomor_sp2d")),
    )
    op.create_index(op.f("ix_receipt_payment_id"), "receipt", ["payment_id"], unique=False)
    op.create_table(
        "payment_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("program", sa.String(length=40), nullable=False),
        sa.Column("notification_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reminder")),
        sa.UniqueConstraint(
            "kind",
            "subject",
            "window_start",
            name=op.f("uq_payment_reminder_kind_subject_window_start"),
        ),
    )
    op.create_index(
        op.f("ix_payment_allocation_invoice_id"), "payment_allocation", ["invoice_id"], unique=False
    )

    if sqlite:
        # SQLite adds a column with an inline REFERENCES clause (no ALTER ... ADD CONSTRAINT); a batch
        # rebuild of `payment` is avoided on purpose: payment_allocation references it.
        op.execute(
            "ALTER TABLE payment ADD COLUMN import_id INTEGER REFERENCES payment_import (id)"
        )
        for name, type_ in PAYMENT_COLUMNS[1:]:
            op.add_column("payment", sa.Column(name, type_, nullable=True))
        # nomor_tagihan VARCHAR(60) -> TEXT: SQLite does not enforce lengths, nothing to do.
    else:
        for name, type_ in PAYMENT_COLUMNS:
            op.add_column("payment", sa.Column(name, type_, nullable=True))
        op.create_foreign_key(
            op.f("fk_payment_import_id_payment_import"),
            "payment",
            "payment_import",
            ["import_id"],
            ["id"],
        )
        op.alter_column(
            "payment",
            "nomor_tagihan",
            existing_type=sa.String(length=60),
            type_=sa.Text(),
            existing_nullable=True,
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.batch_alter_table("payment") as batch:
            for name, _ in reversed(PAYMENT_COLUMNS):
                batch.drop_column(name)
    else:
        op.alter_column(
            "payment",
            "nomor_tagihan",
            existing_type=sa.Text(),
            type_=sa.String(length=60),
            existing_nullable=True,
        )
        op.drop_constraint(op.f("fk_payment_import_id_payment_import"), "payment", "foreignkey")
        for name, _ in reversed(PAYMENT_COLUMNS):
            op.drop_column("payment", name)
    op.drop_index(op.f("ix_payment_allocation_invoice_id"), table_name="payment_allocation")
    op.drop_table("payment_reminder")
    op.drop_index(op.f("ix_receipt_payment_id"), table_name="receipt")
    op.drop_table("receipt")
    op.drop_table("payment_import")
