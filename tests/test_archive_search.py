"""Archive search over 1,000 generated recaps, checked against plain Python."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, insert, select, text, update

from sigrekap import archive, audit, db
from sigrekap.models import AuditEvent, Complaint, Recap, Revision, User
from sigrekap.storage import FileStore

RECAP_COUNT = 1000
FIRST_YEAR = 1940
MONTHS = [
    "januari",
    "februari",
    "maret",
    "april",
    "mei",
    "juni",
    "juli",
    "agustus",
    "september",
    "oktober",
    "november",
    "desember",
]
STATUSES = ("draft", "at_kasi", "at_kabid", "at_kadis", "signed", "archived")
STATUS_WEIGHTS = (5, 3, 3, 3, 6, 80)
# Revisions that exist once a recap has reached a status.
KINDS_BY_STATUS = {
    "draft": (),
    "at_kasi": ("draft", "sealed"),
    "at_kabid": ("draft", "sealed", "kasi"),
    "at_kadis": ("draft", "sealed", "kasi", "kabid"),
    "signed": ("draft", "sealed", "kasi", "kabid", "kadis"),
    "archived": ("draft", "sealed", "kasi", "kabid", "kadis"),
}
SIGNERS = {
    "kasi": ("Ratna Kusumawati", "Bayu Anggara"),
    "kabid": ("Hendra Wijaya", "Sekar Ayuningtyas"),
    "kadis": ("Ahmad Fauzan", "Rini Marlina"),
}
TOPICS = (
    "jembatan",
    "sampah",
    "lampu",
    "banjir",
    "parkir",
    "sekolah",
    "puskesmas",
    "drainase",
    "pungli",
    "trotoar",
)
PLACES = ("Manyar", "Kebomas", "Cerme", "Benjeng", "Sidayu", "Wringinanom")
CATEGORIES = (
    "Infrastruktur",
    "Lingkungan Hidup",
    "Kesehatan",
    "Pendidikan",
    "Perhubungan",
)
UNITS = (
    "Dinas Pekerjaan Umum",
    "Dinas Lingkungan Hidup",
    "RSUD Ibnu Sina",
    "Dinas Pendidikan",
    "Dinas Perhubungan",
)
DOCUMENT_TITLE = "Rekapitulasi Pengaduan Masyarakat melalui SP4N-LAPOR!"


def words_of(text: str) -> set[str]:
    # The generated data is plain ASCII, so this is enough to tokenise it.
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass
class RecapFacts:
    id: int
    period: str
    year: int
    month: int
    sequence: int
    number: str
    status: str
    updated_dt: dt.datetime
    signers: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)


@dataclass
class ComplaintFacts:
    tracking_id: str
    received_at: dt.datetime
    finished_at: dt.datetime | None
    title: str
    category: str
    unit: str
    is_confidential: bool
    reporter_name: str


@dataclass
class Archive:
    recaps: dict[int, RecapFacts]
    complaints: list[ComplaintFacts]
    stored_hashes: list[str]

    def ids(self, predicate) -> set[int]:
        return {facts.id for facts in self.recaps.values() if predicate(facts)}

    def matching_text(self, query: str) -> set[int]:
        terms = words_of(query)
        return self.ids(
            lambda facts: all(
                any(word.startswith(term) for word in facts.words) for term in terms
            )
        )


def _month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, month, 1)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1)
    return start, end


def _insert_with_ids(session, model, rows: list[dict]) -> list[int]:
    # Explicit ids avoid RETURNING, which makes bulk inserts slow here.
    first = (session.scalar(select(func.max(model.id))) or 0) + 1
    ids = list(range(first, first + len(rows)))
    session.execute(
        insert(model.__table__), [row | {"id": i} for row, i in zip(rows, ids)]
    )
    if session.get_bind().dialect.name == "postgresql":
        table = model.__tablename__
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
            {"last": ids[-1]},
        )
    return ids


def _generate(session, store: FileStore) -> Archive:
    rng = random.Random(20261204)
    admin = session.scalar(select(User).where(User.username == "admin"))
    signer_ids: dict[str, list[tuple[int, str]]] = {}
    for role, names in SIGNERS.items():
        for name in names:
            user_id = session.scalar(
                insert(User)
                .values(
                    username=name.split()[0].lower(),
                    password_hash="!",
                    name=name,
                    title=f"Pejabat {role}",
                    role=role,
                    is_active=True,
                    session_version=1,
                    created_dt=dt.datetime(2026, 1, 1),
                )
                .returning(User.id)
            )
            signer_ids.setdefault(role, []).append((user_id, name))

    # Recaps: one per month from January 1940, as the period is unique.
    recap_rows = []
    sequences: dict[int, int] = {}
    for index in range(RECAP_COUNT):
        year, month = FIRST_YEAR + index // 12, index % 12 + 1
        sequences[year] = sequences.get(year, 0) + 1
        recap_rows.append(
            {
                "period": f"{year:04d}-{month:02d}",
                "sequence": sequences[year],
                "number": f"{sequences[year]:03d}/ARS/{year}",
                "verification_code": f"K{index:09d}",
                "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
                "version": 1,
                "round": 1,
                "created_by_id": admin.id,
                "step_started_dt": dt.datetime(2026, 1, 1),
                "created_dt": dt.datetime(2026, 1, 1),
                "updated_dt": dt.datetime(2026, 1, 1)
                + dt.timedelta(minutes=rng.randrange(10**6)),
            }
        )
    recap_ids = _insert_with_ids(session, Recap, recap_rows)
    facts = {}
    for recap_id, row in zip(recap_ids, recap_rows, strict=True):
        year, month = (int(part) for part in row["period"].split("-"))
        facts[recap_id] = RecapFacts(
            id=recap_id,
            period=row["period"],
            year=year,
            month=month,
            sequence=row["sequence"],
            number=row["number"],
            status=row["status"],
            updated_dt=row["updated_dt"],
        )
        facts[recap_id].words |= words_of(
            f"{DOCUMENT_TITLE} {MONTHS[month - 1]} {year} {row['period']} "
            f"{row['number']} {row['verification_code']}"
        )

    # Revisions have tiny distinct contents. A few are really stored, so that a
    # hash look-up also finds a file that exists.
    stored_hashes = []
    revision_rows = []
    for recap_id, recap in facts.items():
        kinds = KINDS_BY_STATUS[recap.status]
        if not kinds:
            continue
        workbook = f"workbook {recap_id}".encode()
        workbook_sha = hashlib.sha256(workbook).hexdigest()
        if recap_id % 100 == 0:
            stored_hashes.append(store.put(workbook))
        for kind in kinds:
            content = f"pdf {recap_id} {kind}".encode()
            signer = None
            if kind in SIGNERS:
                signer = rng.choice(signer_ids[kind])
                recap.signers.add(signer[1])
            revision_rows.append(
                {
                    "recap_id": recap_id,
                    "kind": kind,
                    "round": 1,
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "size": len(content),
                    "workbook_sha256": workbook_sha,
                    "signer_id": signer[0] if signer else None,
                    "created_dt": dt.datetime(2026, 1, 1),
                }
            )
            recap.hashes |= {revision_rows[-1]["sha256"], workbook_sha}
        recap.words |= words_of(" ".join(recap.signers))
    revision_ids = _insert_with_ids(session, Revision, revision_rows)
    current = {}
    for revision_id, row in zip(revision_ids, revision_rows, strict=True):
        current[row["recap_id"]] = revision_id
    recaps_table = Recap.__table__
    session.execute(
        update(recaps_table)
        .where(recaps_table.c.id == bindparam("recap_id"))
        .values(current_revision_id=bindparam("revision_id")),
        [{"recap_id": key, "revision_id": value} for key, value in current.items()],
    )

    # One hash-chained event per recap, as a submission would leave.
    event_rows = []
    for recap_id in current:
        event = AuditEvent(
            recap_id=recap_id,
            actor_id=admin.id,
            actor_name=admin.name,
            role="admin",
            action="submit",
            reason="",
            from_status="draft",
            to_status="at_kasi",
            sha256_before=None,
            sha256_after=None,
            step_started_dt=dt.datetime(2026, 1, 1),
            created_dt=dt.datetime(2026, 1, 1),
            previous_hash=audit.GENESIS_HASH,
        )
        event_rows.append(
            {
                column: getattr(event, column)
                for column in (
                    "recap_id",
                    "actor_id",
                    "actor_name",
                    "role",
                    "action",
                    "reason",
                    "from_status",
                    "to_status",
                    "step_started_dt",
                    "created_dt",
                    "previous_hash",
                )
            }
            | {"event_hash": audit.event_digest(event)}
        )
    session.execute(insert(AuditEvent.__table__), event_rows)

    # Complaints: most are finished within their month. Some run into the
    # next months or stay open, so later recaps carry them over.
    complaints = []
    for index in range(RECAP_COUNT):
        year, month = FIRST_YEAR + index // 12, index % 12 + 1
        start, end = _month_bounds(year, month)
        for _ in range(rng.randrange(0, 7)):
            number = len(complaints)
            received = start + dt.timedelta(minutes=rng.randrange(60 * 24 * 28))
            roll = rng.random()
            if roll < 0.8:
                finished = received + dt.timedelta(hours=rng.randrange(1, 48))
                finished = min(finished, end - dt.timedelta(minutes=1))
            elif roll < 0.95 or index < RECAP_COUNT - 24:
                finished = end + dt.timedelta(days=rng.randrange(1, 70))
            else:
                finished = None
            is_confidential = rng.random() < 0.15
            topic = rng.choice(TOPICS)
            title = f"Keluhan {topic} di {rng.choice(PLACES)}"
            if is_confidential:
                title += f" rahasiaxq{number}"
            complaints.append(
                ComplaintFacts(
                    tracking_id=f"T{number:07d}",
                    received_at=received,
                    finished_at=finished,
                    title=title,
                    category=rng.choice(CATEGORIES),
                    unit=rng.choice(UNITS),
                    is_confidential=is_confidential,
                    reporter_name=f"Pelapor Zulkarnaen{number}",
                )
            )
    session.execute(
        insert(Complaint.__table__),
        [
            {
                "tracking_id": c.tracking_id,
                "received_at": c.received_at,
                "finished_at": c.finished_at,
                "title": c.title,
                "content": f"Isi laporan dari {c.reporter_name}",
                "category": c.category,
                "unit": c.unit,
                "status": "Selesai" if c.finished_at else "Proses",
                "reporter_name": c.reporter_name,
                "reporter_contact": "0812-0000-0000",
                "is_anonymous": False,
                "is_confidential": c.is_confidential,
                "extra": {},
                "updated_dt": dt.datetime(2026, 1, 1),
            }
            for c in complaints
        ],
    )

    # The words each recap shows: complaints received in its month, plus
    # earlier ones still open at its start (so up to the month they finished).
    by_period = {recap.period: recap for recap in facts.values()}
    for c in complaints:
        year, month = c.received_at.year, c.received_at.month
        while True:
            recap = by_period.get(f"{year:04d}-{month:02d}")
            if recap is None:
                break
            recap.words |= words_of(f"{c.category} {c.unit}")
            if not c.is_confidential:
                recap.words |= words_of(f"{c.title} {c.tracking_id}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if c.finished_at is not None and c.finished_at < dt.datetime(
                year, month, 1
            ):
                break
    session.commit()
    return Archive(facts, complaints, stored_hashes)


@pytest.fixture
def generated(app):
    with app.app_context():
        session = db.session()
        data = _generate(session, FileStore(Path(app.config["STORAGE_DIR"])))
        archive.ensure_indexed(session)
        yield data


def all_ids(filters: archive.SearchFilters) -> set[int]:
    """Collect the ids of every page of a search."""
    session = db.session()
    first = archive.search(session, filters, 1, 100)
    ids = [entry.recap_id for entry in first.entries]
    for page in range(2, first.pages + 1):
        ids += [e.recap_id for e in archive.search(session, filters, page, 100).entries]
    assert len(ids) == len(set(ids)) == first.total
    return set(ids)


def filters(**values) -> archive.SearchFilters:
    return archive.SearchFilters(**values)


def test_metadata_filters_match_expectations(generated):
    recaps = generated.recaps
    assert all_ids(filters(year=1977)) == generated.ids(lambda r: r.year == 1977)
    assert all_ids(filters(month=11)) == generated.ids(lambda r: r.month == 11)
    assert all_ids(filters(year=1977, month=2)) == generated.ids(
        lambda r: r.period == "1977-02"
    )
    for status in STATUSES:
        expected = generated.ids(lambda r, status=status: r.status == status)
        assert all_ids(filters(status=status)) == expected, status

    # The number filter matches the start of the number, in any case.
    assert all_ids(filters(number="007/ars/")) == generated.ids(
        lambda r: r.number.startswith("007/")
    )
    assert all_ids(filters(number="012/ARS/1999")) == generated.ids(
        lambda r: r.number == "012/ARS/1999"
    )
    assert all_ids(filters(number="/ARS/1999")) == set()
    assert all_ids(filters(number="100%")) == set()

    for name in ("Ratna", "wijaya", "Rini Marlina"):
        expected = generated.ids(
            lambda r, name=name: any(name.lower() in s.lower() for s in r.signers)
        )
        assert expected, name
        assert all_ids(filters(signer=name)) == expected, name
    assert all_ids(filters(signer="Tidak Ada Orang Ini")) == set()

    combined = filters(year=2000, status="archived", signer="Ahmad")
    assert all_ids(combined) == generated.ids(
        lambda r: (
            r.year == 2000 and r.status == "archived" and "Ahmad Fauzan" in r.signers
        )
    )
    assert len(recaps) == RECAP_COUNT


TEXT_QUERIES = (
    "jembatan",
    "jemb",
    "je",
    "j",
    "jembata",
    "banjir cerme",
    "Puskesmas  MANYAR!",
    "november 1999",
    "rsud ibnu",
    "lingkungan",
    "Ratna",
    "K000000042",
)


def test_full_text_matches_expectations(generated):
    for query in TEXT_QUERIES:
        expected = generated.matching_text(query)
        assert expected, f"{query!r} should find something in the generated data"
        assert all_ids(filters(text=query)) == expected, query
    assert all_ids(filters(text="kata-yang-tidak-ada")) == set()
    # Accents are dropped from queries as from documents.
    assert all_ids(filters(text="JÉMB")) == generated.matching_text("jemb")
    combined = filters(text="sampah", status="archived", year=1990)
    assert all_ids(combined) == generated.matching_text("sampah") & generated.ids(
        lambda r: r.status == "archived" and r.year == 1990
    )
    # Punctuation alone is no query: it lists everything.
    assert all_ids(filters(text="!!")) == set(generated.recaps)


def check_text_plans(generated) -> None:
    """Run text searches that exercise each plan and check their results."""
    for query in TEXT_QUERIES:
        assert all_ids(filters(text=query)) == generated.matching_text(query), query
    for name in ("Ratna", "Marlina"):
        expected = generated.ids(
            lambda r, name=name: any(name in signer for signer in r.signers)
        )
        assert all_ids(filters(signer=name)) == expected, name
    for extra in ({"year": 1990}, {"status": "archived"}, {"month": 4}):
        expected = generated.matching_text("sampah") & generated.ids(
            lambda r, extra=extra: all(getattr(r, k) == v for k, v in extra.items())
        )
        assert all_ids(filters(text="sampah", **extra)) == expected, extra
    for sort in ("number", "updated"):
        query = filters(text="banjir", sort=sort, order="asc")
        ids = [e.recap_id for e in archive.search(db.session(), query, 1, 50).entries]
        expected = sorted(
            generated.matching_text("banjir"),
            key=lambda i: SORT_KEYS[sort](generated.recaps[i]),
        )
        assert ids == expected[:50], sort


@pytest.mark.parametrize("very_common", [10**6, 10])
def test_common_word_plans_give_same_results(generated, monkeypatch, very_common):
    # Lowered limits make the generated words "common" (and, with 10, "very
    # common"), so the plans for such words run on SQLite: a sort-order walk
    # or per-row checks, counted from FTS or from selective filters.
    monkeypatch.setattr(archive, "COMMON_MATCHES", 5)
    monkeypatch.setattr(archive, "VERY_COMMON_MATCHES", very_common)
    check_text_plans(generated)


POSTGRES_PLANS = {
    # Walking costs too much: one GIN query finds, sorts and counts a page.
    "bitmap page with count": (
        {"ROW_TEST_COST": 1e9},
        False,
        [archive._BITMAP_SCANS],
    ),
    # Walking costs nothing: count and page both test rows one by one.
    "row scan count, sorted walk": (
        {"ROW_TEST_COST": 0.0},
        False,
        [archive._ROW_SCAN, archive._SORTED_WALK],
    ),
    # An estimate far above the real matches, corrected by the count.
    "bitmap count, bitmap page": (
        {"GIN_ENTRY_COST": 0.0},
        True,
        [archive._BITMAP_SCANS, archive._BITMAP_SCANS],
    ),
}


@pytest.mark.parametrize("plan", POSTGRES_PLANS)
def test_postgres_plans_give_same_results(generated, monkeypatch, plan):
    if db.session().get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    costs, overestimate, expected_settings = POSTGRES_PLANS[plan]
    for name, value in costs.items():
        monkeypatch.setattr(archive, name, value)
    if overestimate:
        monkeypatch.setattr(
            archive, "_postgres_row_estimate", lambda session, query: 10**6
        )
    used: list[dict[str, str]] = []
    apply_settings = archive._planner_settings

    def record(session, settings):
        used.append(settings)
        return apply_settings(session, settings)

    monkeypatch.setattr(archive, "_planner_settings", record)
    check_text_plans(generated)
    runs = [used[i : i + len(expected_settings)] for i in range(len(used))]
    assert expected_settings in runs


def test_count_stops_at_limit(generated, client, auth, monkeypatch):
    monkeypatch.setattr(archive, "COUNT_LIMIT", 100)
    session = db.session()
    first = archive.search(session, filters(), 1, 20)
    assert first.total == 100
    assert first.is_total_capped
    assert first.pages == 5
    assert archive.search(session, filters(), 9, 20).page == 5
    assert not archive.search(session, filters(year=1950), 1, 20).is_total_capped

    auth.login("admin")
    html = client.get("/arsip").get_data(as_text=True)
    assert "Lebih dari 100 rekapitulasi ditemukan" in html
    assert "Halaman 1 dari 5" in html


def test_full_text_never_finds_confidential_or_reporters(generated):
    confidential = next(c for c in generated.complaints if c.is_confidential)
    public = next(c for c in generated.complaints if not c.is_confidential)
    secret_word = confidential.title.split()[-1]
    assert all_ids(filters(text=secret_word)) == set()
    assert all_ids(filters(text="rahasiaxq")) == set()
    assert all_ids(filters(text="Zulkarnaen")) == set()
    assert all_ids(filters(text="0812")) == set()
    assert all_ids(filters(text=confidential.tracking_id)) == set()
    assert all_ids(filters(text=public.tracking_id)) == generated.matching_text(
        public.tracking_id
    )


def test_hash_lookup_finds_pdf_and_workbook(generated):
    recap = next(r for r in generated.recaps.values() if r.hashes)
    for sha256 in sorted(recap.hashes):
        assert all_ids(filters(sha256=sha256)) == {recap.id}
    # Typed into the text box, a whole digest is a hash look-up too.
    some_hash = min(recap.hashes)
    assert all_ids(filters(**_parsed({"q": some_hash.upper()}))) == {recap.id}

    prefix = some_hash[:8]
    assert all_ids(filters(sha256=prefix)) == generated.ids(
        lambda r: any(h.startswith(prefix) for h in r.hashes)
    )
    stored = generated.stored_hashes[0]
    assert all_ids(filters(sha256=stored)) == generated.ids(
        lambda r: stored in r.hashes
    )
    assert all_ids(filters(sha256="0" * 64)) == set()


def _parsed(args: dict[str, str]) -> dict:
    parsed, errors = archive.parse_filters(args)
    assert errors == []
    return {name: getattr(parsed, name) for name in parsed.__dataclass_fields__}


def test_search_lexemes_add_short_prefixes():
    lexemes = archive.search_lexemes("jalan rusak di 2026")
    assert lexemes == sorted(lexemes)
    for word in ("jalan", "rusak", "di", "2026"):
        assert word in lexemes
    for prefix in ("~ja", "~jal", "~jala", "~ru", "~rus", "~rusa", "~di", "~20"):
        assert prefix in lexemes
    assert "~j" not in lexemes
    assert "~jalan" not in lexemes
    assert "~d" not in lexemes
    assert archive.search_lexemes("") == []


def test_long_words_are_cut_to_limit():
    word = "a" * 150
    assert archive.normalize_words(f"x {word} y") == ["x", "a" * 100, "y"]


def test_search_lexemes_stop_at_vector_limit(monkeypatch, caplog):
    monkeypatch.setattr(archive, "MAX_VECTOR_TEXT_BYTES", 40)
    lexemes = archive.search_lexemes("pertama kedua ketiga keempat kelima")
    assert "pertama" in lexemes
    assert "kelima" not in lexemes
    assert sum(len(lexeme.encode()) for lexeme in lexemes) <= 40
    assert "too long for a tsvector" in caplog.text


def test_oversized_search_text_is_stored_and_found(generated, monkeypatch):
    # One word past PostgreSQL's lexeme limit and a text past the vector
    # limit, as a hostile export could produce.
    monkeypatch.setattr(archive, "MAX_VECTOR_TEXT_BYTES", 5_000)
    session = db.session()
    recap_id = min(generated.recaps)
    long_word = "panjang" * 500
    filler = " ".join(f"kata{index}" for index in range(5_000))
    document = archive.build_documents(session, [session.get(Recap, recap_id)])[0]
    document.body = f"{long_word} {document.body} {filler}"
    archive.store_documents(session, [document])
    session.commit()
    assert recap_id in all_ids(filters(text=long_word[:180]))
    assert recap_id in all_ids(filters(text="panjangpanjang"))


def test_postgres_tsquery_uses_prefix_lexemes():
    query = archive._postgres_tsquery(["j", "ja", "jal", "jala", "jalan"])
    assert query == "'j':* & '~ja' & '~jal' & '~jala' & 'jalan':*"


def test_invalid_filters_are_reported_and_ignored():
    parsed, errors = archive.parse_filters(
        {
            "year": "20x6",
            "month": "13",
            "status": "hilang",
            "sha256": "xyz",
            "sort": "?",
        }
    )
    assert parsed == archive.SearchFilters()
    assert len(errors) == 4


def test_dropped_query_parts_are_reported():
    parsed, errors = archive.parse_filters(
        {"q": "satu dua tiga empat lima enam tujuh delapan sembilan sepuluh"}
    )
    assert parsed.text.endswith("sepuluh")
    assert errors == [
        "Hanya 8 kata pertama kata kunci yang dipakai; kata berikut tidak "
        "dicari: sembilan sepuluh."
    ]
    parsed, errors = archive.parse_filters({"q": "%!?"})
    assert len(errors) == 1
    assert "tidak berisi huruf atau angka" in errors[0]
    parsed, errors = archive.parse_filters({"q": "a" * 250})
    assert len(parsed.text) == archive.MAX_QUERY_LENGTH
    assert len(errors) == 1
    assert "terlalu panjang" in errors[0]
    assert archive.parse_filters({"q": "jalan rusak"})[1] == []


def test_pagination_splits_results(generated):
    assert all_ids(filters()) == set(generated.recaps)
    assert archive.ensure_indexed(db.session()) == 0
    expected = generated.ids(lambda r: r.status == "archived")
    session = db.session()
    pages = []
    first = archive.search(session, filters(status="archived"), 1, 20)
    assert first.total == len(expected)
    assert first.pages == math.ceil(len(expected) / 20)
    for number in range(1, first.pages + 1):
        page = archive.search(session, filters(status="archived"), number, 20)
        assert page.page == number
        assert len(page.entries) == (
            20 if number < first.pages else len(expected) - 20 * (first.pages - 1)
        )
        pages.append([entry.recap_id for entry in page.entries])
    flat = [recap_id for page in pages for recap_id in page]
    assert len(flat) == len(set(flat))
    assert set(flat) == expected
    # A page past the end shows the last page.
    beyond = archive.search(session, filters(status="archived"), first.pages + 5, 20)
    assert beyond.page == first.pages
    assert [e.recap_id for e in beyond.entries] == pages[-1]

    # The same for a text search, whose count may come with its page.
    expected = generated.matching_text("jembatan")
    first = archive.search(session, filters(text="jembatan"), 1, 20)
    assert first.total == len(expected)
    last = archive.search(session, filters(text="jembatan"), first.pages, 20)
    beyond = archive.search(session, filters(text="jembatan"), first.pages + 5, 20)
    assert beyond.page == first.pages
    assert beyond.total == len(expected)
    assert [e.recap_id for e in beyond.entries] == [e.recap_id for e in last.entries]


SORT_KEYS = {
    "period": lambda r: (r.period, r.id),
    "number": lambda r: (r.year, r.sequence, r.id),
    "updated": lambda r: (r.updated_dt, r.id),
}


def test_sorting_orders_results(generated):
    session = db.session()
    chosen = filters(status="at_kasi")
    recaps = [r for r in generated.recaps.values() if r.status == "at_kasi"]
    assert len(recaps) > 20
    for sort, order in [
        ("period", "desc"),
        ("period", "asc"),
        ("number", "asc"),
        ("number", "desc"),
        ("updated", "desc"),
        ("updated", "asc"),
    ]:
        expected = [
            r.id for r in sorted(recaps, key=SORT_KEYS[sort], reverse=order == "desc")
        ]
        query = archive.SearchFilters(status="at_kasi", sort=sort, order=order)
        seen = []
        for page in (1, 2):
            seen += [
                e.recap_id for e in archive.search(session, query, page, 20).entries
            ]
        assert seen == expected[:40], (sort, order)
    # Without filters too, over all recaps.
    everything = list(generated.recaps.values())
    for sort, key in SORT_KEYS.items():
        query = archive.SearchFilters(sort=sort, order="desc")
        page = [e.recap_id for e in archive.search(session, query, 2, 20).entries]
        ordered = sorted(everything, key=key, reverse=True)
        assert page == [r.id for r in ordered[20:40]], sort
    # The default is the newest period first.
    default = archive.search(session, chosen, 1, 20).entries
    assert [e.recap_id for e in default] == [
        r.id for r in sorted(recaps, key=SORT_KEYS["period"], reverse=True)
    ][:20]


def test_list_page_full_and_htmx(generated, client, auth):
    auth.login("kasi")
    url = "/arsip?status=archived&q=banjir"
    full = client.get(url)
    assert full.status_code == 200
    html = full.get_data(as_text=True)
    assert "<html" in html
    assert 'id="archive-results"' in html
    assert "HX-Request" in full.headers.get("Vary", "")

    partial = client.get(url, headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200
    assert "<html" not in body
    assert 'id="archive-results"' not in body
    expected = generated.matching_text("banjir") & generated.ids(
        lambda r: r.status == "archived"
    )
    assert f"{len(expected)} rekapitulasi ditemukan" in body
    # The pager carries the filters, as a real link and as an htmx request.
    assert 'href="/arsip?page=2&amp;q=banjir&amp;status=archived"' in body
    assert 'hx-get="/arsip?page=2&amp;q=banjir&amp;status=archived"' in body
    assert 'hx-target="#archive-results"' in body
    assert 'hx-push-url="true"' in body

    page_two = client.get("/arsip?page=2&q=banjir&status=archived")
    assert "Halaman 2 dari" in page_two.get_data(as_text=True)


def test_list_page_needs_login(client):
    response = client.get("/arsip")
    assert response.status_code in (302, 401)
