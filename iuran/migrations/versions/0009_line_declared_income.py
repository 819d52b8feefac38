"""the income a roster declares, kept beside the income JKK is computed on

`contribution_line.penghasilan_dilaporkan` holds the declared income (or the program's default);
`penghasilan` stays the applied income, held inside the rule's range (BPU: Rp1,000,000 to
Rp20,700,000). The detail sheet shows both. Null on lines priced before this revision.

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


def downgrade() -> None:
    # a plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), as 0007
    op.drop_column("contribution_line", "penghasilan_dilaporkan")
