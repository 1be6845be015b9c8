"""move the PostgreSQL search vector into the archive catalog

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:30:00

A GIN index returns row locations, so every match costs a visit to the heap
of the indexed table. With the vector in ``archive_texts`` those visits
landed on rows that also carried the whole search text, and a common prefix
read thousands of pages. In the catalog they land on rows that hold the sort
and filter columns, so a match can be sorted without a join.

The new vector also holds each word's first 2, 3 and 4 letters as lexemes of
their own, so a short prefix reads one GIN entry instead of merging the
entries of every word that starts with it.

``toast_tuple_target = 128`` moves a vector out of line whenever PostgreSQL
toasts the row, which it does once the row passes about 2 kB. Smaller vectors
stay inline. SQLite keeps its FTS5 table and is unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE archive_documents SET (toast_tuple_target = 128)")
    op.execute("ALTER TABLE archive_documents ADD COLUMN body_tsv tsvector")
    # The lexemes are the words of the search text and, marked with "~",
    # their first 2, 3 and 4 letters, as sigrekap.archive.search_lexemes
    # writes them.
    op.execute(
        """
        UPDATE archive_documents SET body_tsv = (
            SELECT array_to_tsvector(array_agg(DISTINCT lexeme))
            FROM (
                SELECT word AS lexeme
                FROM unnest(string_to_array(archive_texts.body, ' ')) AS word
                WHERE word <> ''
                UNION
                SELECT '~' || left(word, length)
                FROM unnest(string_to_array(archive_texts.body, ' ')) AS word,
                    generate_series(2, 4) AS length
                WHERE char_length(word) >= length
            ) AS lexemes
        )
        FROM archive_texts
        WHERE archive_texts.recap_id = archive_documents.recap_id
        """
    )
    op.execute(
        "CREATE INDEX ix_archive_documents_body_tsv ON archive_documents "
        "USING gin (body_tsv)"
    )
    # The search picks its plan from the planner's estimate of the matches.
    # With the default target the statistics keep about 1,000 frequent words,
    # and a prefix of any other word is estimated as if it were rare.
    op.execute(
        "ALTER TABLE archive_documents ALTER COLUMN body_tsv SET STATISTICS 1000"
    )
    op.execute("DROP INDEX IF EXISTS ix_archive_texts_body_tsv")
    op.execute("ALTER TABLE archive_texts DROP COLUMN body_tsv")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE archive_texts ADD COLUMN body_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED"
    )
    op.execute(
        "CREATE INDEX ix_archive_texts_body_tsv ON archive_texts USING gin (body_tsv)"
    )
    op.execute("DROP INDEX IF EXISTS ix_archive_documents_body_tsv")
    op.execute("ALTER TABLE archive_documents DROP COLUMN body_tsv")
    op.execute("ALTER TABLE archive_documents RESET (toast_tuple_target)")
