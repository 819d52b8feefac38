"""the counter's sessions revoked on the server: a generation per account (#20)

`web_user.session_epoch` is written into every session cookie at login; a cookie whose generation
is not the account's current one is refused. Logging out and a password change raise it, so a
copied cookie stops working at once instead of when it expires.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "web_user",
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("web_user") as batch:
        batch.drop_column("session_epoch")
