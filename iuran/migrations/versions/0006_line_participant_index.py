"""registry indexes for a country: the double-funding lookup without a scan, two indexes fewer

`load_registry` asks, for this month's NIKs, which other program bills them in the month. Without an
index led by participant_id that is one scan of every current line of the country per regency
(quadratic over a national month); with it, a lookup per NIK. And two indexes every insert paid for
and no query needs: `contribution_line (invoice_id)` and `membership (program)` are the leading
columns of the unique constraints `(invoice_id, participant_id)` and `(program, participant_id)`.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_contribution_line_invoice_id", table_name="contribution_line")
    op.drop_index("ix_membership_program", table_name="membership")
    op.create_index(
        "ix_line_participant_period",
        "contribution_line",
        ["participant_id", "period"],
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )


def downgrade() -> None:
    op.drop_index("ix_line_participant_period", table_name="contribution_line")
    op.create_index("ix_membership_program", "membership", ["program"])
    op.create_index("ix_contribution_line_invoice_id", "contribution_line", ["invoice_id"])
