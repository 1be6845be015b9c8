"""index one-letter prefixes in the SQLite full-text table

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:55:00

FTS5 answers a prefix query from a prefix index only for the lengths it
was built with. Without one for a single letter, each check of a row
against a one-letter query scanned the whole term list: with a few
hundred rows selected by other filters, one search took about 3 s on
6,000 recaps. PostgreSQL is unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _recreate(prefixes: str) -> None:
    op.execute("DROP TABLE IF EXISTS archive_texts_fts")
    op.execute(
        "CREATE VIRTUAL TABLE archive_texts_fts USING fts5(body, "
        "content='archive_texts', content_rowid='recap_id', "
        f"tokenize='unicode61 remove_diacritics 2', prefix='{prefixes}')"
    )
    # An external-content table rebuilds its index from archive_texts.
    op.execute("INSERT INTO archive_texts_fts (archive_texts_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate("1 2 3 4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate("2 3 4")
