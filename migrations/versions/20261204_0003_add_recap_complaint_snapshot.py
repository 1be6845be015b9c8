"""add the complaint snapshot of submitted recaps

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complaint_snapshot", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recaps", schema=None) as batch_op:
        batch_op.drop_column("complaint_snapshot")
