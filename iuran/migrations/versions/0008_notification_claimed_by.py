"""who claimed a notification being sent: a run taking over a dead run's cycle lease takes its claims

`notification.claimed_by` holds the claiming process (`@host:pid`) while the row is `sending`. A run
that takes over a stale cycle lease whose holder is that process makes the rows it had claimed for the
cycle's program and period due again at once, instead of waiting for the claim lease to run out.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification", sa.Column("claimed_by", sa.String(100), nullable=True))


def downgrade() -> None:
    # a plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), as 0007
    op.drop_column("notification", "claimed_by")
