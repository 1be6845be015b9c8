"""The archive catalog and its search.

Every recap gets a catalog row (what the archive filters and sorts by) and a
search text: the words of its metadata and content (period, number, signers,
categories, units and the titles of non-confidential complaints, never
reporter identity). Full text runs on an SQLite FTS5 table or a PostgreSQL
tsvector column, behind ``search``. Integrity checks are in
``archive_integrity`` and the export in ``archive_export``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Insert,
    Integer,
    Select,
    Table,
    Text,
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from . import recaps
from .db import Base
from .domain import Period
from .models import (
    ArchiveDocument,
    ArchiveFile,
    ArchiveSigner,
    ArchiveText,
    Complaint,
    Recap,
    Revision,
    User,
    utcnow,
)

logger = logging.getLogger(__name__)

#: The document title every recap prints, so that its words find any recap.
DOCUMENT_TITLE = "Rekapitulasi Pengaduan Masyarakat melalui SP4N-LAPOR!"
SORT_LABELS = {
    "period": "Periode",
    "number": "Nomor dokumen",
    "updated": "Terakhir diperbarui",
}
ORDER_LABELS = {"desc": "Menurun", "asc": "Menaik"}
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
#: Only this many words of a query are used, because more rarely narrow it.
MAX_QUERY_WORDS = 8
MAX_QUERY_LENGTH = 200
#: A SHA-256 look-up accepts the whole digest or a prefix of at least 8 digits.
MIN_HASH_PREFIX = 8
#: Matches are counted up to this number, and the pager reaches no further.
COUNT_LIMIT = 1000
#: A signer with at least this many recaps is checked per catalog row rather
#: than materialised. On SQLite, text queries with this many matches walk the
#: catalog in sort order (see ``_sqlite_text_plan``).
COMMON_MATCHES = 5000
#: On SQLite, text queries with this many matches check each catalog row.
VERY_COMMON_MATCHES = 50_000
#: When the other filters select fewer catalog rows than this, a text query
#: tests just those rows. SQLite does so only for words with COMMON_MATCHES or
#: more matches, because it looks rarer words up in FTS5 directly.
SELECTIVE_ROWS = 500
# Costs of a PostgreSQL text query's steps, in microseconds. They are
# estimates from bench/bench_search.py on 100,000 recaps (2 shared cores,
# PostgreSQL 15) and only need to be right in proportion to each other.
#: Cost of reading one GIN index entry into the bitmap of matches.
GIN_ENTRY_COST = 0.05
#: Cost of visiting one matching row that the bitmap points to, and sorting it.
MATCH_COST = 1.0
#: Cost of testing one catalog row against the query during a walk.
ROW_TEST_COST = 4.0
#: Planner settings that leave PostgreSQL only bitmap scans: the GIN index is
#: read once and only the matching rows are visited. Each set turns JIT off,
#: because a disabled scan type raises the plan's cost estimate past the JIT
#: threshold and compiling would then take longer than the query.
_BITMAP_SCANS = {
    "enable_seqscan": "off",
    "enable_indexscan": "off",
    "enable_indexonlyscan": "off",
    "jit": "off",
    "plan_cache_mode": "force_custom_plan",
}
#: Planner settings that make PostgreSQL walk an index in sort order and test
#: each row, which stops as soon as the page is full.
_SORTED_WALK = {
    "enable_seqscan": "off",
    "enable_bitmapscan": "off",
    "jit": "off",
    "plan_cache_mode": "force_custom_plan",
}
#: Planner settings that make PostgreSQL test rows in any order without the
#: GIN index, which suits counting a word that most rows contain.
_ROW_SCAN = {
    "enable_bitmapscan": "off",
    "jit": "off",
    "plan_cache_mode": "force_custom_plan",
}
#: Rows per statement when search documents are written in bulk.
WRITE_CHUNK = 500
#: Months of recaps whose documents are built from one complaints query.
INDEX_SPAN_MONTHS = 12

#: On PostgreSQL each document also indexes the first 2, 3 and 4 letters of
#: its words as lexemes that start with PREFIX_MARK, which normalised words
#: never contain. A query word of those lengths then reads one GIN entry
#: instead of merging every word that starts with it, as SQLite's FTS5
#: prefix indexes do.
PREFIX_LENGTHS = (2, 3, 4)
PREFIX_MARK = "~"
#: Words are indexed and searched by their first this many characters. At most
#: 400 bytes in UTF-8, which stays below PostgreSQL's 2,047-byte lexeme limit.
MAX_WORD_CHARS = 100
#: The lexemes of one PostgreSQL tsvector total less than 1 MiB.
MAX_VECTOR_TEXT_BYTES = 1_000_000

_WORD = re.compile(r"[^\W_]+")
_HEX = re.compile(r"[0-9a-f]+")


# ---------------------------------------------------------------------------
# Search documents


def normalize_words(text: str) -> list[str]:
    """Split text into lower-case words without accents or punctuation.

    Documents and queries both pass through here, so the SQLite and the
    PostgreSQL index see the same words. Words are cut to MAX_WORD_CHARS, so a
    longer query word still finds the document word it starts.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return [word[:MAX_WORD_CHARS] for word in _WORD.findall(plain.lower())]


def search_lexemes(body: str) -> list[str]:
    """Return the PostgreSQL lexemes of a search text: its words and prefixes.

    The lexemes of a tsvector may total MAX_VECTOR_TEXT_BYTES at most, so
    words past that are left out, and the text's first words are kept.
    """
    words = [word[:MAX_WORD_CHARS] for word in body.split()]
    lexemes: set[str] = set()
    size = 0
    for count, word in enumerate(words):
        new = {word} | {
            PREFIX_MARK + word[:length]
            for length in PREFIX_LENGTHS
            if len(word) >= length
        }
        new -= lexemes
        added = sum(len(lexeme.encode()) for lexeme in new)
        if size + added > MAX_VECTOR_TEXT_BYTES:
            logger.warning(
                "Search text of %d words is too long for a tsvector; "
                "PostgreSQL indexes the first %d",
                len(words),
                count,
            )
            break
        lexemes |= new
        size += added
    return sorted(lexemes)


def _postgres_tsquery(words: Sequence[str]) -> str:
    """Build a tsquery that requires every word as the start of a document word."""
    terms = [
        f"'{PREFIX_MARK}{word}'" if len(word) in PREFIX_LENGTHS else f"'{word}':*"
        for word in words
    ]
    # normalize_words yields letters and digits only, so no quote needs escaping.
    return " & ".join(terms)


@dataclass
class SearchDocument:
    """The catalog row, search text, signers and file hashes of one recap."""

    recap_id: int
    period: str
    sequence: int
    number: str
    status: str
    updated_dt: dt.datetime
    body: str
    recap_version: int
    #: user id -> name of everyone who marked a revision of the recap.
    signers: dict[int, str] = field(default_factory=dict)
    #: (sha256, revision id, "pdf" or "workbook") of every stored file.
    files: list[tuple[str, int, str]] = field(default_factory=list)


def _complaint_words(rows: Iterable[Any]) -> list[str]:
    parts: list[str] = []
    for row in rows:
        parts.extend(value for value in (row.category, row.unit) if value)
        # A confidential complaint's title is printed as "(Rahasia)", so it
        # must not be findable either. Reporter names and contacts never are.
        if not row.is_confidential:
            parts.extend((row.title, row.tracking_id))
    return parts


def _complaints_by_period(
    session: Session, periods: Sequence[Period]
) -> dict[Period, list[Any]]:
    """Group the complaints that each period's recap shows, in one query.

    The rule is ``recaps.complaints_for_period``: received in the period, or
    received earlier and still open at its start.
    """
    ordered = sorted(set(periods))
    first_start, last_end = ordered[0].start, ordered[-1].end
    rows = session.execute(
        select(
            Complaint.received_at,
            Complaint.finished_at,
            Complaint.title,
            Complaint.tracking_id,
            Complaint.category,
            Complaint.unit,
            Complaint.is_confidential,
        )
        .where(Complaint.received_at < last_end)
        .where(
            or_(
                Complaint.received_at >= first_start,
                Complaint.finished_at.is_(None),
                Complaint.finished_at >= first_start,
            )
        )
        .order_by(Complaint.received_at, Complaint.tracking_id)
    ).all()

    # Sweep the periods in order. ``carried`` contains the complaints
    # received before the current period that were still open at its start.
    grouped: dict[Period, list[Any]] = {}
    carried: list[Any] = []
    position = 0
    for period in ordered:
        while position < len(rows) and rows[position].received_at < period.start:
            carried.append(rows[position])
            position += 1
        carried = [
            row
            for row in carried
            if row.finished_at is None or row.finished_at >= period.start
        ]
        end = position
        while end < len(rows) and rows[end].received_at < period.end:
            end += 1
        grouped[period] = carried + list(rows[position:end])
    return grouped


def build_documents(
    session: Session, recaps_to_index: Sequence[Recap]
) -> list[SearchDocument]:
    """Collect the searchable words, signers and file hashes of these recaps."""
    if not recaps_to_index:
        return []
    periods = {recap.id: Period.parse(recap.period) for recap in recaps_to_index}
    complaints = _complaints_by_period(session, list(periods.values()))
    revisions: dict[int, list[Any]] = {}
    for row in session.execute(
        select(
            Revision.id,
            Revision.recap_id,
            Revision.sha256,
            Revision.workbook_sha256,
            Revision.signer_id,
            User.name,
        )
        .outerjoin(User, User.id == Revision.signer_id)
        .where(Revision.recap_id.in_(list(periods)))
        .order_by(Revision.id)
    ):
        revisions.setdefault(row.recap_id, []).append(row)

    documents = []
    for recap in recaps_to_index:
        period = periods[recap.id]
        signers: dict[int, str] = {}
        files: list[tuple[str, int, str]] = []
        for row in revisions.get(recap.id, []):
            if row.signer_id is not None and row.name:
                signers[row.signer_id] = row.name
            files.append((row.sha256, row.id, "pdf"))
            if row.workbook_sha256:
                files.append((row.workbook_sha256, row.id, "workbook"))
        parts = [
            DOCUMENT_TITLE,
            period.label(),
            str(period),
            recap.number,
            recap.verification_code,
            *signers.values(),
            *_complaint_words(
                recaps.restore_complaints(recap.complaint_snapshot)
                if recap.complaint_snapshot is not None
                else complaints[period]
            ),
        ]
        words = dict.fromkeys(w for part in parts for w in normalize_words(part))
        documents.append(
            SearchDocument(
                recap_id=recap.id,
                period=recap.period,
                sequence=recap.sequence,
                number=recap.number,
                status=recap.status,
                updated_dt=recap.updated_dt,
                body=" ".join(words),
                recap_version=recap.version,
                signers=signers,
                files=files,
            )
        )
    return documents


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _table(model: type[Base]) -> Table:
    # Core inserts skip the ORM's per-row bookkeeping, which bulk writes
    # do not need.
    return cast(Table, model.__table__)


def _insert_with_search_vector() -> Insert:
    """Build the PostgreSQL catalog insert that also fills ``body_tsv``.

    The column exists only in the migrations, so the statement names it
    through a lightweight table. The vector comes from the ``search_lexemes``
    parameter, taken as they are, without a text search parser.
    """
    documents = _table(ArchiveDocument)
    target = table(
        documents.name,
        *[column(source.name) for source in documents.columns],
        column("body_tsv"),
    )
    lexemes = bindparam("search_lexemes", type_=postgresql.ARRAY(Text))
    return insert(target).values(body_tsv=func.array_to_tsvector(lexemes))


def store_documents(session: Session, documents: Sequence[SearchDocument]) -> None:
    """Replace the stored catalog rows and texts of these recaps (caller commits)."""
    if not documents:
        return
    sqlite = _dialect(session) == "sqlite"
    for chunk in _chunks([document.recap_id for document in documents], WRITE_CHUNK):
        if sqlite:
            # An external-content FTS5 table deletes a row only when given the
            # words it indexed.
            session.execute(
                text(
                    "INSERT INTO archive_texts_fts (archive_texts_fts, rowid, body) "
                    "SELECT 'delete', recap_id, body FROM archive_texts "
                    "WHERE recap_id IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": list(chunk)},
            )
        for model in (ArchiveSigner, ArchiveFile, ArchiveText, ArchiveDocument):
            session.execute(
                delete(model).where(model.recap_id.in_(chunk)),
                execution_options={"synchronize_session": False},
            )

    now = utcnow()
    postgres = _dialect(session) == "postgresql"
    insert_documents = (
        _insert_with_search_vector() if postgres else insert(_table(ArchiveDocument))
    )
    for chunk in _chunks(documents, WRITE_CHUNK):
        catalog_rows = [
            {
                "recap_id": document.recap_id,
                "period": document.period,
                "year": int(document.period[:4]),
                "month": int(document.period[5:]),
                "sequence": document.sequence,
                "number": document.number,
                "number_key": document.number.lower(),
                "status": document.status,
                "updated_dt": document.updated_dt,
                "recap_version": document.recap_version,
                "indexed_dt": now,
            }
            for document in chunk
        ]
        if postgres:
            for row, document in zip(catalog_rows, chunk):
                row["search_lexemes"] = search_lexemes(document.body)
        session.execute(insert_documents, catalog_rows)
        texts = [
            {"recap_id": document.recap_id, "body": document.body} for document in chunk
        ]
        session.execute(insert(_table(ArchiveText)), texts)
        if sqlite:
            session.execute(
                text(
                    "INSERT INTO archive_texts_fts (rowid, body) "
                    "VALUES (:recap_id, :body)"
                ),
                texts,
            )
        signer_rows = [
            {"recap_id": document.recap_id, "user_id": user_id, "name": name}
            for document in chunk
            for user_id, name in document.signers.items()
        ]
        if signer_rows:
            session.execute(insert(_table(ArchiveSigner)), signer_rows)
        file_rows = [
            {
                "recap_id": document.recap_id,
                "sha256": sha256,
                "revision_id": revision_id,
                "kind": kind,
            }
            for document in chunk
            for sha256, revision_id, kind in document.files
        ]
        if file_rows:
            session.execute(insert(_table(ArchiveFile)), file_rows)


def index_recaps(session: Session, recaps_to_index: Sequence[Recap]) -> int:
    """(Re)build the search documents of these recaps (the caller commits)."""
    # Each chunk covers at most INDEX_SPAN_MONTHS, so one complaints query
    # never loads much more than a year of complaints.
    ordered = sorted(recaps_to_index, key=lambda recap: recap.period)
    chunk: list[Recap] = []
    pending: list[SearchDocument] = []
    for recap in ordered:
        if chunk and _months_between(chunk[0], recap) >= INDEX_SPAN_MONTHS:
            pending += build_documents(session, chunk)
            chunk = []
        if len(pending) >= WRITE_CHUNK:
            store_documents(session, pending)
            pending = []
        chunk.append(recap)
    store_documents(session, pending + build_documents(session, chunk))
    return len(ordered)


def _months_between(first: Recap, last: Recap) -> int:
    start, end = Period.parse(first.period), Period.parse(last.period)
    return (end.year - start.year) * 12 + end.month - start.month


def index_recap(session: Session, recap: Recap) -> None:
    """(Re)build one recap's search document (the caller commits)."""
    index_recaps(session, [recap])


def on_recap_changed(session: Session, recap: Recap) -> None:
    """Rebuild a recap's search document after a workflow transition.

    Call it after the transition has committed. It commits the document in
    its own transaction. A failure is logged and leaves the transition as it
    is, because the entry page and the archive list rebuild a stale or
    missing document on demand.
    """
    try:
        index_recap(session, recap)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        logger.exception("Search document of recap %s was not rebuilt", recap.id)


#: Per database engine, the newest recap id up to which every recap is known
#: to have a catalog row.
_indexed_up_to: WeakKeyDictionary[Engine, int] = WeakKeyDictionary()


def ensure_indexed(session: Session) -> int:
    """Build the documents of recaps that have none yet and return how many.

    The first call in a process looks at every recap. Later calls look only
    at recaps newer than the last check, because recaps are never deleted
    and a rebuilt document replaces the old one in the same transaction.
    """
    engine = session.get_bind().engine
    newest = session.scalar(select(func.max(Recap.id))) or 0
    checked = _indexed_up_to.get(engine)
    if checked is not None and newest <= checked:
        return 0
    # NOTE: a recap whose id was allocated before ``newest`` but committed
    # after this check is only found when its entry page is opened or the
    # process restarts.
    missing = list(
        session.scalars(
            select(Recap).where(
                Recap.id > (checked or 0),
                Recap.id <= newest,
                ~exists().where(ArchiveDocument.recap_id == Recap.id),
            )
        )
    )
    try:
        count = index_recaps(session, missing)
        session.commit()
    except IntegrityError:
        # Another request indexed the same recaps at the same moment.
        session.rollback()
        logger.info("Search documents were built by a concurrent request")
        return 0
    _indexed_up_to[engine] = newest
    if count:
        logger.info("Built %s missing search documents", count)
    return count


def refresh_document(session: Session, recap: Recap) -> None:
    """Rebuild a recap's document when it is missing or older than the recap."""
    version = session.scalar(
        select(ArchiveDocument.recap_version).where(
            ArchiveDocument.recap_id == recap.id
        )
    )
    if version != recap.version:
        on_recap_changed(session, recap)


# ---------------------------------------------------------------------------
# Search


@dataclass(frozen=True)
class SearchFilters:
    """Filters and sort order of the archive list; an empty value matches all."""

    text: str = ""
    year: int | None = None
    month: int | None = None
    status: str | None = None
    signer: str = ""
    number: str = ""
    sha256: str = ""
    sort: str = "period"
    order: str = "desc"

    def to_args(self) -> dict[str, str]:
        """Return the query-string arguments that reproduce these filters."""
        values = {
            "q": self.text,
            "year": str(self.year) if self.year else "",
            "month": str(self.month) if self.month else "",
            "status": self.status or "",
            "signer": self.signer,
            "number": self.number,
            "sha256": self.sha256,
            "sort": "" if self.sort == "period" else self.sort,
            "order": "" if self.order == "desc" else self.order,
        }
        return {key: value for key, value in values.items() if value}

    @property
    def is_empty(self) -> bool:
        return not (
            self.text
            or self.year
            or self.month
            or self.status
            or self.signer
            or self.number
            or self.sha256
        )


def _int_arg(
    args: Mapping[str, str], name: str, low: int, high: int, label: str
) -> tuple[int | None, str | None]:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None, None
    if raw.isdecimal() and low <= int(raw) <= high:
        return int(raw), None
    return None, f"{label} {raw!r} tidak valid; isi angka {low} sampai {high}."


def parse_filters(args: Mapping[str, str]) -> tuple[SearchFilters, list[str]]:
    """Read filters from query arguments, dropping and reporting invalid ones."""
    errors: list[str] = []
    year, error = _int_arg(args, "year", 1000, 9999, "Tahun")
    errors.extend([error] if error else [])
    month, error = _int_arg(args, "month", 1, 12, "Bulan")
    errors.extend([error] if error else [])

    status = (args.get("status") or "").strip() or None
    if status is not None and status not in recaps.STATUS_LABELS:
        errors.append(f"Status {status!r} tidak dikenal.")
        status = None

    text_query = (args.get("q") or "").strip()
    if len(text_query) > MAX_QUERY_LENGTH:
        errors.append(
            f"Kata kunci terlalu panjang; hanya {MAX_QUERY_LENGTH} karakter "
            "pertama yang dipakai."
        )
        text_query = text_query[:MAX_QUERY_LENGTH]
    sha256 = (args.get("sha256") or "").strip().lower()
    # A whole SHA-256 typed into the text box is a hash look-up.
    if not sha256 and re.fullmatch(r"[0-9a-fA-F]{64}", text_query):
        sha256, text_query = text_query.lower(), ""
    if sha256 and not (MIN_HASH_PREFIX <= len(sha256) <= 64 and _HEX.fullmatch(sha256)):
        errors.append(
            "SHA-256 tidak valid: isi 64 digit heksadesimal (0-9, a-f), atau "
            f"awalannya paling sedikit {MIN_HASH_PREFIX} digit."
        )
        sha256 = ""

    words = normalize_words(text_query)
    if text_query and not words:
        errors.append(
            "Kata kunci tidak berisi huruf atau angka, sehingga tidak dipakai "
            "untuk mencari."
        )
    elif len(words) > MAX_QUERY_WORDS:
        ignored = " ".join(words[MAX_QUERY_WORDS:])
        errors.append(
            f"Hanya {MAX_QUERY_WORDS} kata pertama kata kunci yang dipakai; "
            f"kata berikut tidak dicari: {ignored}."
        )

    sort = args.get("sort") or "period"
    order = args.get("order") or "desc"
    filters = SearchFilters(
        text=text_query,
        year=year,
        month=month,
        status=status,
        signer=(args.get("signer") or "").strip()[:MAX_QUERY_LENGTH],
        number=(args.get("number") or "").strip()[:MAX_QUERY_LENGTH],
        sha256=sha256,
        sort=sort if sort in SORT_LABELS else "period",
        order=order if order in ORDER_LABELS else "desc",
    )
    return filters, errors


@dataclass(frozen=True)
class ArchiveEntry:
    """One recap in a list of search results."""

    recap_id: int
    number: str
    period: str
    period_label: str
    status: str
    status_label: str
    updated_dt: dt.datetime
    verification_code: str
    signers: tuple[str, ...]


@dataclass(frozen=True)
class SearchPage:
    """One page of search results and where it sits among all of them."""

    entries: list[ArchiveEntry]
    #: Number of matches, counted up to COUNT_LIMIT.
    total: int
    page: int
    per_page: int
    #: True when more than COUNT_LIMIT recaps match (``total`` is then the limit).
    is_total_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the page's first entry among all results."""
        return (self.page - 1) * self.per_page + 1 if self.entries else 0


def _capped_count(session: Session, query: Select[Any], limit: int) -> int:
    """Count the rows of ``query``, stopping after ``limit``."""
    limited = query.limit(limit).subquery()
    return session.scalar(select(func.count()).select_from(limited)) or 0


@dataclass
class _Plan:
    """The queries that find one search's catalog rows."""

    #: Conditions on ``archive_documents`` that select the matches.
    conditions: list[ColumnElement[bool]]
    #: A query whose rows are the matches, cheaper to count than ``conditions``.
    count_query: Select[Any] | None = None
    #: The number of matches, when the plan already knows it.
    count: int | None = None
    #: PostgreSQL planner settings for the page query.
    settings: dict[str, str] = field(default_factory=dict)
    #: Count the matches in the page query, which reads them all anyway.
    count_with_page: bool = False


def _signer_condition(session: Session, signer: str) -> ColumnElement[bool]:
    user_ids = list(
        session.scalars(
            select(User.id).where(
                func.lower(User.name).contains(signer.lower(), autoescape=True)
            )
        )
    )
    signed = select(ArchiveSigner.recap_id).where(ArchiveSigner.user_id.in_(user_ids))
    if _capped_count(session, signed, COMMON_MATCHES) < COMMON_MATCHES:
        return ArchiveDocument.recap_id.in_(signed)
    # Someone who marked most recaps: probing the primary key per catalog row
    # lets the sorted catalog fill a page early, instead of materialising all.
    return exists(
        select(ArchiveSigner.recap_id).where(
            ArchiveSigner.recap_id == ArchiveDocument.recap_id,
            ArchiveSigner.user_id.in_(user_ids),
        )
    )


def _number_condition(session: Session, number: str) -> ColumnElement[bool]:
    # A prefix of the number, in any case. Words inside the number are found
    # by the full-text search.
    key = number.lower()
    column = ArchiveDocument.number_key
    if _dialect(session) == "sqlite":
        # SQLite's LIKE ignores the index here; a range over the lower-case
        # key uses it.
        return (column >= key) & (column < key + "\U0010ffff")
    return column.startswith(key, autoescape=True)


def _hash_condition(sha256: str) -> ColumnElement[bool]:
    def matches(column: Any) -> ColumnElement[bool]:
        if len(sha256) == 64:
            return column == sha256
        # A range instead of LIKE, so that both databases use the index.
        return (column >= sha256) & (column < sha256 + "g")

    files = union(
        select(ArchiveFile.recap_id).where(matches(ArchiveFile.sha256)),
        select(Revision.recap_id).where(matches(Revision.sha256)),
    )
    return ArchiveDocument.recap_id.in_(files)


def _metadata_conditions(
    session: Session, filters: SearchFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.year:
        conditions.append(ArchiveDocument.year == filters.year)
    if filters.month:
        conditions.append(ArchiveDocument.month == filters.month)
    if filters.status:
        conditions.append(ArchiveDocument.status == filters.status)
    if filters.number:
        conditions.append(_number_condition(session, filters.number))
    if filters.signer:
        conditions.append(_signer_condition(session, filters.signer))
    if filters.sha256:
        conditions.append(_hash_condition(filters.sha256))
    return conditions


def _sqlite_text_plan(
    session: Session, words: list[str], conditions: list[ColumnElement[bool]]
) -> _Plan:
    recap_id = ArchiveDocument.recap_id
    fts = table("archive_texts_fts")
    rowid: ColumnClause[Any] = literal_column("archive_texts_fts.rowid")
    match = " ".join(f'"{word}"*' for word in words)
    matches = text("archive_texts_fts MATCH :fts_match").bindparams(fts_match=match)
    found = select(rowid).select_from(fts).where(matches)

    # SQLite cannot estimate how many rows an FTS query yields, so the plan
    # is chosen here from a count that stops at VERY_COMMON_MATCHES.
    count = _capped_count(session, found, VERY_COMMON_MATCHES)
    if count < COMMON_MATCHES:
        # Few matches: look each up in the catalog, then sort them.
        return _Plan(conditions + [recap_id.in_(found)])

    selective = _selected_ids(session, conditions) is not None
    probe = exists(
        select(literal_column("1")).select_from(fts).where(matches, rowid == recap_id)
    )
    if selective:
        # The other filters select a few rows: check just those. Reading their
        # stored words is cheaper than an FTS query per row, which loads the
        # whole list of a common prefix each time.
        return _Plan(conditions + [_words_start_condition(words)])

    # A common word. Sorting all its matches would cost time in proportion to
    # their number, so the page walks the catalog in sort order instead, and
    # the count walks the FTS matches and stops at COUNT_LIMIT.
    fts_count = (
        select(rowid)
        .select_from(fts)
        .join(ArchiveDocument, recap_id == rowid)
        .where(matches, *conditions)
    )
    if count < VERY_COMMON_MATCHES:
        # "recap_id + 0" keeps SQLite from driving the query by primary-key
        # look-ups, so it walks the sort index and tests each row against the
        # matches, materialised once.
        return _Plan(conditions + [(recap_id + 0).in_(found)], fts_count)
    # Most recaps match: checking row by row fills a page within a few rows,
    # sooner than materialising the matches.
    return _Plan(conditions + [probe], fts_count)


def _words_start_condition(words: list[str]) -> ColumnElement[bool]:
    """Match catalog rows whose stored words include one starting with each word."""
    # The stored body is normalised words joined by single spaces, and words
    # hold letters and digits only, so LIKE needs no escaping.
    padded = literal(" ").concat(ArchiveText.body)
    return exists(
        select(ArchiveText.recap_id).where(
            ArchiveText.recap_id == ArchiveDocument.recap_id,
            *[padded.contains(" " + word) for word in words],
        )
    )


def _postgres_text_plan(
    session: Session,
    words: list[str],
    conditions: list[ColumnElement[bool]],
    needed: int,
) -> _Plan:
    def match(ts_query: str) -> ColumnElement[bool]:
        return text(
            "archive_documents.body_tsv @@ CAST(:ts_query AS tsquery)"
        ).bindparams(ts_query=ts_query)

    metadata = conditions
    word_queries = [_postgres_tsquery([word]) for word in words]
    text_match = match(_postgres_tsquery(words))

    selected = _selected_ids(session, metadata)
    if selected is not None:
        # The other filters select a few rows: test just those. Naming them
        # by id keeps PostgreSQL from testing the text on every row that an
        # index of one filter yields before the other filters.
        ids = bindparam("selected_ids", selected, type_=postgresql.ARRAY(Integer))
        conditions = [ArchiveDocument.recap_id == func.any(ids), text_match]
        matching = select(ArchiveDocument.recap_id).where(*conditions)
        with _planner_settings(session, _SORTED_WALK):
            count = _capped_count(session, matching, COUNT_LIMIT + 1)
        return _Plan(conditions, count=count, settings=_SORTED_WALK)

    conditions = [*metadata, text_match]
    matching = select(ArchiveDocument.recap_id).where(*conditions)

    # PostgreSQL's estimates, which the column's large statistics target keeps
    # close for prefixes too, choose between reading the GIN index and
    # walking the catalog, first for the count and then for the page.
    estimate = _postgres_row_estimate(session, matching)
    if len(words) == 1 and not metadata:
        entries = estimate
    else:
        entries = sum(
            _postgres_row_estimate(
                session, select(ArchiveDocument.recap_id).where(match(word_query))
            )
            for word_query in word_queries
        )
    costs = _TextCosts(
        rows=_postgres_catalog_rows(session), entries=entries, matches=estimate
    )
    # A walk finds the page but not the count, which costs a query of its own.
    counted = min(costs.matches, COUNT_LIMIT + 1)
    count_by_walk = costs.walk(counted) < costs.bitmap(counted)
    count_cost = costs.walk(counted) if count_by_walk else costs.bitmap(counted)
    if costs.bitmap(costs.matches) <= count_cost + costs.walk(needed):
        # One pass over the GIN bitmap finds, sorts and counts the matches.
        return _Plan(conditions, settings=_BITMAP_SCANS, count_with_page=True)

    count_settings = _ROW_SCAN if count_by_walk else _BITMAP_SCANS
    with _planner_settings(session, count_settings):
        count = _capped_count(session, matching, COUNT_LIMIT + 1)
    if count <= COUNT_LIMIT:
        # Fewer matches than estimated: the walk may no longer pay.
        costs.matches = count
    walk = costs.walk(needed) < costs.bitmap(costs.matches)
    return _Plan(
        conditions, count=count, settings=_SORTED_WALK if walk else _BITMAP_SCANS
    )


@dataclass
class _TextCosts:
    """A cost model, in microseconds, of the two ways to find text matches."""

    #: Rows in the catalog.
    rows: int
    #: GIN index entries that the query's words have, summed over the words.
    entries: int
    #: Rows that match the whole search.
    matches: int

    def bitmap(self, visited: int) -> float:
        """Estimate reading the GIN index and then visiting ``visited`` matches."""
        return GIN_ENTRY_COST * self.entries + MATCH_COST * visited

    def walk(self, found: int) -> float:
        """Estimate walking the catalog until ``found`` matches have turned up."""
        rows = max(self.rows, self.matches)
        return ROW_TEST_COST * found * rows / max(self.matches, 1)


def _postgres_catalog_rows(session: Session) -> int:
    """Return PostgreSQL's estimate of the catalog's row count (0 if unknown)."""
    estimate = session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'archive_documents'::regclass")
    )
    return max(0, int(estimate or 0))


def _postgres_row_estimate(session: Session, query: Select[Any]) -> int:
    """Return the number of rows PostgreSQL's planner expects ``query`` to return."""
    compiled = query.compile(
        dialect=session.get_bind().dialect,
        compile_kwargs={"render_postcompile": True},
    )
    plan_json = (
        session.connection()
        .exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
        .scalar_one()
    )
    return int(plan_json[0]["Plan"]["Plan Rows"])


@contextmanager
def _planner_settings(session: Session, settings: Mapping[str, str]) -> Iterator[None]:
    """Apply PostgreSQL planner settings to the statements inside the block.

    The settings are local to the transaction and are restored on exit, so
    later statements of the same transaction plan as usual.
    """
    if not settings:
        yield
        return
    names = list(settings)
    read = ", ".join(f"current_setting(:name{i})" for i in range(len(names)))
    write = ", ".join(
        f"set_config(:name{i}, :value{i}, true)" for i in range(len(names))
    )
    name_params = {f"name{i}": name for i, name in enumerate(names)}
    previous = session.execute(text(f"SELECT {read}"), name_params).one()
    session.execute(
        text(f"SELECT {write}"),
        name_params | {f"value{i}": settings[name] for i, name in enumerate(names)},
    )
    try:
        yield
    finally:
        session.execute(
            text(f"SELECT {write}"),
            name_params | {f"value{i}": value for i, value in enumerate(previous)},
        )


def _selected_ids(
    session: Session, conditions: list[ColumnElement[bool]]
) -> list[int] | None:
    """Return the ids that the metadata filters alone select, if fewer than
    SELECTIVE_ROWS, and None when there are more or no filters."""
    if not conditions:
        return None
    selected = list(
        session.scalars(
            select(ArchiveDocument.recap_id).where(*conditions).limit(SELECTIVE_ROWS)
        )
    )
    return selected if len(selected) < SELECTIVE_ROWS else None


def _plan(session: Session, filters: SearchFilters, needed: int) -> _Plan:
    """Choose the queries for a search whose page ends at match ``needed``."""
    conditions = _metadata_conditions(session, filters)
    words = normalize_words(filters.text)[:MAX_QUERY_WORDS]
    if not words:
        return _Plan(conditions)
    # Every word must match the start of a document word (prefix search).
    dialect = _dialect(session)
    if dialect == "sqlite":
        return _sqlite_text_plan(session, words, conditions)
    if dialect == "postgresql":
        return _postgres_text_plan(session, words, conditions, needed)
    # Other databases: a slower scan with the same meaning.
    return _Plan(conditions + [_words_start_condition(words)])


def _ordering(filters: SearchFilters) -> list[Any]:
    columns: list[Any]
    if filters.sort == "number":
        # Numbers restart every year, so their order is (year, sequence).
        columns = [ArchiveDocument.year, ArchiveDocument.sequence]
    elif filters.sort == "updated":
        columns = [ArchiveDocument.updated_dt]
    else:
        columns = [ArchiveDocument.period]
    columns.append(ArchiveDocument.recap_id)
    if filters.order == "asc":
        return [column.asc() for column in columns]
    return [column.desc() for column in columns]


def search(
    session: Session,
    filters: SearchFilters,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> SearchPage:
    """Return one page of the recaps (any status) that match the filters.

    Recaps without a catalog row are indexed first (and committed). Matches
    are counted up to COUNT_LIMIT, and a page past the last one shows the
    last page.
    """
    ensure_indexed(session)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    # The pager reaches no further than COUNT_LIMIT matches.
    page = max(1, min(page, math.ceil(COUNT_LIMIT / per_page)))
    plan = _plan(session, filters, page * per_page)
    matching = select(ArchiveDocument.recap_id).where(*plan.conditions)
    ordering = _ordering(filters)

    ids: list[int] | None = None
    counted = plan.count
    if plan.count_with_page:
        with _planner_settings(session, plan.settings):
            found = session.execute(
                select(ArchiveDocument.recap_id, func.count().over())
                .where(*plan.conditions)
                .order_by(*ordering)
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all()
        if found:
            ids = [recap_id for recap_id, _ in found]
            counted = found[0][1]
    # Counting stops after COUNT_LIMIT + 1 rows: an exact count of a common
    # word over decades of recaps costs more than the page itself.
    if counted is None:
        counted = _capped_count(
            session,
            matching if plan.count_query is None else plan.count_query,
            COUNT_LIMIT + 1,
        )
    is_capped = counted > COUNT_LIMIT
    total = min(counted, COUNT_LIMIT)
    pages = max(1, math.ceil(total / per_page))
    if ids is None or page > pages:
        page = min(page, pages)
        with _planner_settings(session, plan.settings):
            ids = list(
                session.scalars(
                    matching.order_by(*ordering)
                    .limit(per_page)
                    .offset((page - 1) * per_page)
                )
            )
    # What the page shows comes from the recaps themselves.
    rows = {
        row.id: row
        for row in session.execute(
            select(
                Recap.id,
                Recap.number,
                Recap.period,
                Recap.status,
                Recap.updated_dt,
                Recap.verification_code,
            ).where(Recap.id.in_(ids))
        )
    }
    signers: dict[int, list[str]] = {}
    if ids:
        for recap_id, name in session.execute(
            select(ArchiveSigner.recap_id, ArchiveSigner.name)
            .where(ArchiveSigner.recap_id.in_(ids))
            .order_by(ArchiveSigner.name)
        ):
            signers.setdefault(recap_id, []).append(name)

    entries = [
        ArchiveEntry(
            recap_id=row.id,
            number=row.number,
            period=row.period,
            period_label=Period.parse(row.period).label(),
            status=row.status,
            status_label=recaps.STATUS_LABELS.get(row.status, row.status),
            updated_dt=row.updated_dt,
            verification_code=row.verification_code,
            signers=tuple(signers.get(row.id, ())),
        )
        for row in (rows[recap_id] for recap_id in ids)
    ]
    return SearchPage(
        entries=entries,
        total=total,
        page=page,
        per_page=per_page,
        is_total_capped=is_capped,
    )


def signer_names(session: Session) -> list[str]:
    """Return the names of users who marked any recap, for the signer filter."""
    marked = exists().where(ArchiveSigner.user_id == User.id)
    return list(session.scalars(select(User.name).where(marked).order_by(User.name)))


def archive_years(session: Session) -> list[int]:
    """Return the years that have recaps, newest first."""
    return list(
        session.scalars(
            select(ArchiveDocument.year)
            .distinct()
            .order_by(ArchiveDocument.year.desc())
        )
    )
