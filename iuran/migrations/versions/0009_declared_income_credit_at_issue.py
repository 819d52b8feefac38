"""the income a roster declares beside the applied one; the credit that paid an invoice

`contribution_line.penghasilan_dilaporkan` holds the declared income (or the program's default);
`penghasilan` stays the applied income, held inside the rule's range (BPU: Rp1,000,000 to
Rp20,700,000). The detail sheet shows both. Null on lines priced before this revision.

`invoice.credit_applied`: the payer's credit (credit notes, overpayments) that paid the invoice, applied
when it is issued (and by later settle runs); the invoice and its e-mail show total − credit as the
amount still to pay. 0 for invoices before this revision (their credit shows in their allocations).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "contribution_line", sa.Column("penghasilan_dilaporkan", sa.BigInteger(), nullable=True)
    )
    op.add_column(
        "invoice",
        sa.Column("credit_applied", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    # a plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), as 0007
    op.drop_column("invoice", "credit_applied")
    op.drop_column("contribution_line", "penghasilan_dilaporkan")
