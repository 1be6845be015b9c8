"""add the revocation reason of signing keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:00:00

Keys revoked before this revision get no reason, which the CRL publishes as
unspecified and the verifier treats like a compromised key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revocation_reason", sa.String(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_column("revocation_reason")
