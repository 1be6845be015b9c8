"""add the archive catalog, search texts, signers and file hashes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:00:00

Full text uses an FTS5 table on SQLite and a generated tsvector column with a
GIN index on PostgreSQL. Existing recaps get their rows on demand, the first
time the archive list is opened.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_documents",
        sa.Column("recap_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=120), nullable=False),
        sa.Column("number_key", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_dt", sa.DateTime(), nullable=False),
        sa.Column("recap_version", sa.Integer(), nullable=False),
        sa.Column("indexed_dt", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recap_id"], ["recaps.id"]),
        sa.PrimaryKeyConstraint("recap_id"),
    )
    op.create_index("ix_archive_documents_period", "archive_documents", ["period"])
    op.create_index("ix_archive_documents_month", "archive_documents", ["month"])
    op.create_index(
        "ix_archive_documents_number_key", "archive_documents", ["number_key"]
    )
    op.create_index(
        "ix_archive_documents_updated_dt", "archive_documents", ["updated_dt"]
    )
    op.create_index(
        "ix_archive_documents_status_period", "archive_documents", ["status", "period"]
    )
    op.create_index(
        "ix_archive_documents_year_sequence", "archive_documents", ["year", "sequence"]
    )

    op.create_table(
        "archive_texts",
        sa.Column("recap_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["recap_id"], ["recaps.id"]),
        sa.PrimaryKeyConstraint("recap_id"),
    )

    op.create_table(
        "archive_signers",
        sa.Column("recap_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["recap_id"], ["recaps.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("recap_id", "user_id"),
    )
    op.create_index("ix_archive_signers_user_id", "archive_signers", ["user_id"])

    op.create_table(
        "archive_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("recap_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["recap_id"], ["recaps.id"]),
        sa.ForeignKeyConstraint(["revision_id"], ["revisions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_archive_files_sha256", "archive_files", ["sha256"])
    op.create_index("ix_archive_files_recap_id", "archive_files", ["recap_id"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # External content: the words live once, in archive_texts. The app
        # normalises them, and prefix indexes keep short prefixes fast.
        op.execute(
            "CREATE VIRTUAL TABLE archive_texts_fts USING fts5(body, "
            "content='archive_texts', content_rowid='recap_id', "
            "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')"
        )
    elif dialect == "postgresql":
        # 'simple' lower-cases without stemming, which suits Indonesian words,
        # names and document numbers alike.
        op.execute(
            "ALTER TABLE archive_texts ADD COLUMN body_tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED"
        )
        op.execute(
            "CREATE INDEX ix_archive_texts_body_tsv ON archive_texts "
            "USING gin (body_tsv)"
        )
        # LIKE 'prefix%' uses only an index with pattern operators, unless the
        # database collation is C.
        op.execute(
            "CREATE INDEX ix_archive_documents_number_pattern ON archive_documents "
            "(number_key text_pattern_ops)"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS archive_texts_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_archive_documents_number_pattern")

    op.drop_index("ix_archive_files_recap_id", table_name="archive_files")
    op.drop_index("ix_archive_files_sha256", table_name="archive_files")
    op.drop_table("archive_files")
    op.drop_index("ix_archive_signers_user_id", table_name="archive_signers")
    op.drop_table("archive_signers")
    # The GIN index and the generated column go with the table.
    op.drop_table("archive_texts")
    for name in (
        "ix_archive_documents_year_sequence",
        "ix_archive_documents_status_period",
        "ix_archive_documents_updated_dt",
        "ix_archive_documents_number_key",
        "ix_archive_documents_month",
        "ix_archive_documents_period",
    ):
        op.drop_index(name, table_name="archive_documents")
    op.drop_table("archive_documents")
