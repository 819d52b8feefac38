"""what a cycle's last record wrote, per payer: a rerun records again only the payers that changed

`cycle.recorded` holds a digest of every payer's rows as the last run recorded them, and the count of
participant changes (`registry_change` under ('*', '*')) it started from. A rerun whose count is the
same skips the payers whose digest is the same: their participants, conflicts, memberships and lines
are what recording them again would write.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cycle", sa.Column("recorded", sa.JSON(), nullable=True))


def downgrade() -> None:
    # a plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): a batch copy of `cycle` would be refused
    # by the foreign keys that point at it
    op.drop_column("cycle", "recorded")
