"""Time archive searches over 100,000 generated recaps on SQLite and PostgreSQL.

Usage, from the repository root:

    .venv/bin/python bench/bench_search.py
    .venv/bin/python bench/bench_search.py --recaps 20000 --repeat 30
    .venv/bin/python bench/bench_search.py --postgres-url postgresql+psycopg://...

The SQLite database is a temporary file. PostgreSQL runs when a URL is given
or instance/test-postgres-url exists: the script creates a database named
sigrekap_bench next to the one in the URL (the role needs CREATEDB) and drops
it at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sigrekap import archive, db
from sigrekap.models import Recap, Revision, User

STATUSES = ("draft", "at_kasi", "at_kabid", "at_kadis", "signed", "archived")
STATUS_WEIGHTS = (1, 1, 1, 1, 2, 94)
SIGNER_NAMES = (
    "Ratna Kusumawati",
    "Bayu Anggara",
    "Dimas Prasetyo",
    "Hendra Wijaya",
    "Sekar Ayuningtyas",
    "Sri Wahyuni",
    "Ahmad Fauzan",
    "Rini Marlina",
    "Agus Salim",
)
#: Distinct words in one generated document, about what a recap with a few
#: hundred complaints yields (titles repeat many words).
WORDS_PER_DOCUMENT = 200
VOCABULARY_SIZE = 20_000
BATCH = 5_000


def vocabulary(rng: random.Random) -> list[str]:
    """Return made-up lower-case words, of which earlier ones are drawn more often."""
    syllables = [c + v for c in "bcdghjklmnprstw" for v in "aiueo"]
    words: set[str] = set()
    while len(words) < VOCABULARY_SIZE:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda word: (len(word), word))


def generate(session: Session, count: int, rng: random.Random) -> dict[str, list]:
    """Insert ``count`` recaps with revisions and search documents in bulk."""
    words = vocabulary(rng)
    # Zipf-like weights: the k-th word is drawn in proportion to 1 / k.
    weights = [1 / (rank + 1) for rank in range(len(words))]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    user_ids = []
    for index, name in enumerate(SIGNER_NAMES):
        user_ids.append(
            session.scalar(
                insert(User)
                .values(
                    username=f"user{index}",
                    password_hash="!",
                    name=name,
                    title="Pejabat",
                    role=("kasi", "kabid", "kadis")[index % 3],
                    is_active=True,
                    session_version=1,
                    created_dt=dt.datetime(2026, 1, 1),
                )
                .returning(User.id)
            )
        )
    creator = user_ids[0]

    hashes: list[str] = []
    numbers: list[str] = []
    for start in range(0, count, BATCH):
        stop = min(start + BATCH, count)
        recap_rows = []
        revision_rows = []
        documents = []
        for index in range(start, stop):
            # The period is unique, so 100,000 recaps need 8,334 years.
            year, month = 1000 + index // 12, index % 12 + 1
            recap_id = index + 1
            number = f"{index % 12 + 1:03d}/{recap_id % 97}/437.87/{year}"
            status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            updated = dt.datetime(2026, 1, 1) + dt.timedelta(
                seconds=rng.randrange(10**8)
            )
            recap_rows.append(
                {
                    "id": recap_id,
                    "period": f"{year:04d}-{month:02d}",
                    "sequence": month,
                    "number": number,
                    "verification_code": f"B{recap_id:09d}",
                    "status": status,
                    "version": 1,
                    "round": 1,
                    "created_by_id": creator,
                    "step_started_dt": dt.datetime(2026, 1, 1),
                    "created_dt": dt.datetime(2026, 1, 1),
                    "updated_dt": updated,
                }
            )
            signers = {}
            files = []
            workbook = hashlib.sha256(f"workbook {recap_id}".encode()).hexdigest()
            for step in range(3):
                revision_id = recap_id * 3 + step
                signer = user_ids[step * 3 + rng.randrange(3)]
                signers[signer] = SIGNER_NAMES[user_ids.index(signer)]
                sha256 = hashlib.sha256(f"pdf {revision_id}".encode()).hexdigest()
                revision_rows.append(
                    {
                        "id": revision_id,
                        "recap_id": recap_id,
                        "kind": ("kasi", "kabid", "kadis")[step],
                        "round": 1,
                        "sha256": sha256,
                        "size": 1,
                        "workbook_sha256": workbook,
                        "signer_id": signer,
                        "created_dt": dt.datetime(2026, 1, 1),
                    }
                )
                files += [
                    (sha256, revision_id, "pdf"),
                    (workbook, revision_id, "workbook"),
                ]
            chosen = dict.fromkeys(
                words[position]
                for position in _draw(rng, cumulative, total, WORDS_PER_DOCUMENT)
            )
            body = " ".join(
                archive.normalize_words(f"{number} {year} {' '.join(signers.values())}")
                + list(chosen)
            )
            documents.append(
                archive.SearchDocument(
                    recap_id=recap_id,
                    period=f"{year:04d}-{month:02d}",
                    sequence=month,
                    number=number,
                    status=status,
                    updated_dt=updated,
                    body=body,
                    recap_version=1,
                    signers=signers,
                    files=files,
                )
            )
            if index % 1000 == 0:
                hashes.append(files[0][0])
                numbers.append(number)
        session.execute(insert(Recap.__table__), recap_rows)
        session.execute(insert(Revision.__table__), revision_rows)
        archive.store_documents(session, documents)
        session.commit()
        print(f"  {stop:>7} recaps written", flush=True)
    return {
        "words": words,
        "hashes": hashes,
        "numbers": numbers,
        "last_year": 1000 + (count - 1) // 12,
    }


def _draw(
    rng: random.Random, cumulative: list[float], total: float, count: int
) -> list[int]:
    import bisect

    return [bisect.bisect(cumulative, rng.random() * total) for _ in range(count)]


def query_types(data: dict[str, list], rng: random.Random) -> dict[str, Callable]:
    """Return the query kinds, each a function that makes one varied filter."""
    words = data["words"]
    common, rare = words[:20], words[5000:15000]

    def year() -> int:
        return rng.randint(1000, data["last_year"])

    return {
        "text: common word": lambda: archive.SearchFilters(text=rng.choice(common)),
        "text: rare word": lambda: archive.SearchFilters(text=rng.choice(rare)),
        "text: two words": lambda: archive.SearchFilters(
            text=f"{rng.choice(words[:300])} {rng.choice(words[:300])}"
        ),
        "text: prefix": lambda: archive.SearchFilters(
            text=rng.choice(words[:2000])[:3]
        ),
        "text + year + status": lambda: archive.SearchFilters(
            text=rng.choice(common), year=year(), status="archived"
        ),
        "one letter + month + status": lambda: archive.SearchFilters(
            text=rng.choice("bcdghjklmnprstw"),
            month=rng.randint(1, 12),
            status="signed",
        ),
        "filter: year": lambda: archive.SearchFilters(year=year()),
        "filter: month + status": lambda: archive.SearchFilters(
            month=rng.randint(1, 12), status="signed"
        ),
        "filter: signer": lambda: archive.SearchFilters(
            signer=rng.choice(SIGNER_NAMES).split()[0]
        ),
        "filter: number": lambda: archive.SearchFilters(
            number=rng.choice(data["numbers"])
        ),
        "hash: full SHA-256": lambda: archive.SearchFilters(
            sha256=rng.choice(data["hashes"])
        ),
        "list: all, sorted by number": lambda: archive.SearchFilters(sort="number"),
    }


def run_queries(session: Session, data: dict[str, list], repeat: int) -> None:
    rng = random.Random(7)
    print(
        f"  {'query':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'hits (median)':>14}"
    )
    for name, make in query_types(data, rng).items():
        timings = []
        hits = []
        for iteration in range(repeat + 2):
            filters = make()
            page = rng.randint(1, 5)
            started = time.perf_counter()
            result = archive.search(session, filters, page, 20)
            elapsed = (time.perf_counter() - started) * 1000
            if iteration >= 2:  # the first two warm the caches
                timings.append(elapsed)
                hits.append(result.total)
        timings.sort()
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        print(
            f"  {name:<30} {statistics.median(timings):8.1f} {p95:8.1f} "
            f"{timings[-1]:8.1f} {statistics.median(hits):14.0f}"
        )


def bench(url: str, count: int, repeat: int) -> None:
    db.upgrade_schema(url)
    engine = db.make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        data = generate(session, count, random.Random(1))
        print(f"  generated in {time.perf_counter() - started:.0f} s")
        session.commit()
    # Statistics for the query planners and, on PostgreSQL, a visibility map
    # for index-only scans, as a database under autovacuum has.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as raw:
        raw.execute(
            text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    with Session(engine) as session:
        run_queries(session, data, repeat)
    engine.dispose()


def postgres_url(argument: str | None) -> str | None:
    if argument:
        return argument
    path = ROOT / "instance" / "test-postgres-url"
    return path.read_text().strip() if path.exists() else None


def with_postgres_database(url: str, name: str, action: Callable[[str], None]) -> None:
    """Create database ``name`` beside the one in ``url``, run, then drop it."""
    from sqlalchemy import create_engine

    server = make_url(url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        action(server.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recaps", type=int, default=100_000, help="recaps to generate"
    )
    parser.add_argument(
        "--repeat", type=int, default=40, help="timed runs per query kind"
    )
    parser.add_argument("--postgres-url", help="PostgreSQL server URL (any database)")
    parser.add_argument("--no-postgres", action="store_true", help="run SQLite only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sigrekap-bench-") as folder:
        print(f"SQLite, {args.recaps} recaps:")
        bench(f"sqlite:///{Path(folder) / 'bench.db'}", args.recaps, args.repeat)

    url = None if args.no_postgres else postgres_url(args.postgres_url)
    if url:
        print(f"PostgreSQL, {args.recaps} recaps:")
        with_postgres_database(
            url,
            "sigrekap_bench",
            lambda bench_url: bench(bench_url, args.recaps, args.repeat),
        )


if __name__ == "__main__":
    main()
