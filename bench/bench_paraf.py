"""Time one paraf through SigRekap's core beside a bare pyHanko signature.

Run from the repository root:

    .venv/bin/python bench/bench_paraf.py [--repeat 20] [--profile]

Everything happens in a scratch folder: a new office PKI, a SQLite database
with the demo users and their PKCS#12 keys, and one recap with a generated
LAPOR! export, submitted so that the office seal certifies it. Four variants
then sign the Kasi's paraf field of that sealed PDF, interleaved:

* ``approve``: :func:`sigrekap.workflow.approve`, the whole core path. It
  checks the role, reads the sealed revision from storage, unlocks the Kasi's
  PKCS#12 key with the passphrase, signs with the visible stamp, stores the
  new revision and commits the transition with its audit event. Each run
  starts from a fresh copy of the sealed database.
* ``bare``: pyHanko's ``PdfSigner.sign_pdf`` on the same PDF, with the same
  key (unlocked once, outside the timing), field, digest, PAdES subfilter and
  timestamper, and pyHanko's default stamp.
* ``bare_keyed``: the same bare signature, but pyHanko first opens the same
  PKCS#12 file with the same passphrase through its own loader
  (``SimpleSigner.load_pkcs12_data``). A real signature cannot skip opening
  the key, so this is the like-for-like baseline of ``approve``.
* ``sign_field``: :func:`sigrekap.signing.sign_field` with the unlocked key,
  that is the core's signing step without the unlock and the database.
* ``unlock``: decrypting the stored key blob and opening the PKCS#12 file,
  the step that spends the passphrase's PBKDF2 rounds.

The script prints min/median/max per variant and the ratios of the medians
of ``approve`` to ``bare_keyed`` (the target) and to ``bare``. ``--profile`` adds a cProfile listing of a few
extra ``approve`` runs.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import importlib.metadata
import io
import logging
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script from the repository root: make the package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer, SimpleSigner
from sqlalchemy import select
from sqlalchemy.orm import Session

from sigrekap import (
    accounts,
    cli,
    db,
    demo,
    importing,
    keys,
    pki,
    recaps,
    signing,
    workflow,
)
from sigrekap.domain import SIGNATURE_FIELDS
from sigrekap.models import Recap, User
from sigrekap.storage import FileStore
from sigrekap.tsa import make_timestamper

PERIOD = "2026-11"
BASE_URL = "http://127.0.0.1:5000"
TARGET_RATIO = 1.3
VARIANTS = ("approve", "bare", "bare_keyed", "sign_field", "unlock")
LAPOR_HEADER = (
    "No,ID Tracking,Tanggal Laporan,Judul Laporan,Isi Laporan,Klasifikasi,"
    "Kategori,Sumber,Instansi Tujuan,Status,Tanggal Selesai,Nama Pelapor,"
    "Anonim,Rahasia"
)


def lapor_export(rows: int = 40) -> bytes:
    """Generate a LAPOR! CSV export with ``rows`` complaints in the period."""
    categories = ("Infrastruktur", "Pendidikan", "Kesehatan", "Perhubungan")
    lines = [LAPOR_HEADER]
    for number in range(1, rows + 1):
        received = dt.datetime(2026, 11, 1, 8) + dt.timedelta(hours=17 * number)
        done = number % 3 == 0
        finished = (received + dt.timedelta(days=4)).isoformat(sep=" ") if done else ""
        title = f"Jalan rusak di desa nomor {number}"
        lines.append(
            ",".join(
                [
                    str(number),
                    str(50_000_000 + number),
                    received.isoformat(sep=" "),
                    title,
                    f"{title}. Mohon ditindaklanjuti.",
                    "Pengaduan",
                    categories[number % len(categories)],
                    "Website",
                    "Dinas Pekerjaan Umum",
                    "Selesai" if done else "Proses",
                    finished,
                    "",
                    "Tidak",
                    "Tidak",
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


class Scratch:
    """Scratch office with one recap sealed and waiting for the Kasi's paraf."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        instance = folder / "instance"
        instance.mkdir()
        self.office_pki = keys.ensure_office_pki(
            instance, folder / "certs", demo.OFFICE_NAME
        )
        self.sealed_db = folder / "sealed.db"
        db.upgrade_schema(self._url(self.sealed_db))

        engine = db.make_engine(self._url(self.sealed_db))
        with Session(engine, expire_on_commit=False) as session:
            cli.prepare_demo(session, instance, self.office_pki)
            self.settings = workflow.SigningSettings(
                office_pki=self.office_pki,
                timestamp=workflow.timestamp_config({}, self.office_pki),
                store=FileStore(folder / "storage"),
                base_url=BASE_URL,
                office_name=accounts.get_office(session).name,
            )
            recap = self._submit_recap(session)
            self.recap_id = recap.id
            revision = recap.current_revision
            assert revision is not None
            self.sealed_pdf = self.settings.store.get(revision.sha256)
            key = keys.active_key(session, self._user(session, "kasi"))
            assert key is not None
            self.kasi_key_blob = key.pkcs12
        engine.dispose()

        self.passphrase = demo.load_credentials(instance)["kasi"]["passphrase"]
        self.kasi_signer = self.unlock()
        self.timestamper = make_timestamper(self.settings.timestamp)
        self._runs = 0

    def _submit_recap(self, session: Session) -> Recap:
        """Import the generated export into a new recap and submit it."""
        admin = self._user(session, "admin")
        recap = recaps.create_recap(session, admin, PERIOD)
        uploads = self.folder / "uploads"
        preview = importing.preview_import(
            session,
            admin,
            recap,
            "lapor.csv",
            lapor_export(),
            uploads,
            max_bytes=10**7,
        )
        if not preview.can_confirm:
            raise SystemExit("The generated LAPOR! export failed to import.")
        importing.confirm_import(
            session, admin, recap, preview.token, uploads, max_bytes=10**7
        )
        workflow.submit(session, self.settings, admin, recap, recap.version)
        return recap

    @staticmethod
    def _url(path: Path) -> str:
        return f"sqlite:///{path}"

    @staticmethod
    def _user(session: Session, username: str) -> User:
        return session.scalars(select(User).where(User.username == username)).one()

    def fresh_database(self) -> Path:
        """Copy the sealed database to a new file with SQLite's backup API."""
        self._runs += 1
        target = self.folder / f"run-{self._runs}.db"
        source = sqlite3.connect(self.sealed_db)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return target

    def unlock(self) -> Signer:
        blob = pki.decrypt_at_rest(self.kasi_key_blob, self.office_pki.secret)
        return pki.load_signer_from_pkcs12(blob, self.passphrase)

    def time_approve(self) -> float:
        engine = db.make_engine(self._url(self.fresh_database()))
        try:
            with Session(engine, expire_on_commit=False) as session:
                kasi = self._user(session, "kasi")
                recap = session.get(Recap, self.recap_id)
                assert recap is not None and recap.status == "at_kasi"
                started = time.perf_counter()
                workflow.approve(
                    session, self.settings, kasi, recap, recap.version, self.passphrase
                )
                elapsed = time.perf_counter() - started
                assert recap.status == "at_kabid", recap.status
        finally:
            engine.dispose()
        return elapsed

    def time_bare(self) -> float:
        started = time.perf_counter()
        metadata = PdfSignatureMetadata(
            field_name=SIGNATURE_FIELDS["kasi"],
            md_algorithm=signing.DIGEST_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
        )
        signer = PdfSigner(metadata, self.kasi_signer, timestamper=self.timestamper)
        writer = IncrementalPdfFileWriter(io.BytesIO(self.sealed_pdf))
        signed = signer.sign_pdf(writer, existing_fields_only=True).getvalue()
        elapsed = time.perf_counter() - started
        assert signed.startswith(self.sealed_pdf)
        return elapsed

    def time_bare_keyed(self) -> float:
        pkcs12_file = pki.decrypt_at_rest(self.kasi_key_blob, self.office_pki.secret)
        started = time.perf_counter()
        signer = SimpleSigner.load_pkcs12_data(
            pkcs12_file, other_certs=[], passphrase=self.passphrase.encode()
        )
        assert signer is not None
        metadata = PdfSignatureMetadata(
            field_name=SIGNATURE_FIELDS["kasi"],
            md_algorithm=signing.DIGEST_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
        )
        pdf_signer = PdfSigner(metadata, signer, timestamper=self.timestamper)
        writer = IncrementalPdfFileWriter(io.BytesIO(self.sealed_pdf))
        signed = pdf_signer.sign_pdf(writer, existing_fields_only=True).getvalue()
        elapsed = time.perf_counter() - started
        assert signed.startswith(self.sealed_pdf)
        return elapsed

    def time_sign_field(self) -> float:
        stamp = signing.StampInfo(
            name="Dimas Prasetyo, S.Kom.",
            role_label="Paraf Kepala Seksi",
            signed_at=dt.datetime.now(dt.UTC),
        )
        started = time.perf_counter()
        signing.sign_field(
            self.sealed_pdf,
            SIGNATURE_FIELDS["kasi"],
            self.kasi_signer,
            self.timestamper,
            stamp=stamp,
        )
        return time.perf_counter() - started

    def time_unlock(self) -> float:
        started = time.perf_counter()
        self.unlock()
        return time.perf_counter() - started


def summarize(samples: dict[str, list[float]]) -> dict[str, float]:
    """Print min/median/max per variant and return the medians in seconds."""
    medians = {}
    print(f"{'variant':<12}{'runs':>6}{'min ms':>10}{'median ms':>12}{'max ms':>10}")
    for name in VARIANTS:
        values = samples[name]
        medians[name] = statistics.median(values)
        print(
            f"{name:<12}{len(values):>6}{min(values) * 1000:>10.1f}"
            f"{medians[name] * 1000:>12.1f}{max(values) * 1000:>10.1f}"
        )
    return medians


def profile_approve(scratch: Scratch, runs: int = 3) -> None:
    """Profile a few approve runs with cProfile and print the top entries."""
    profiler = cProfile.Profile()
    for _ in range(runs):
        profiler.enable()
        scratch.time_approve()
        profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(25)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=20, help="timed runs per variant (default 20)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed runs per variant (default 2)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile approve with cProfile"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    print(
        f"Python {platform.python_version()}, "
        f"pyHanko {importlib.metadata.version('pyHanko')}, "
        f"{platform.machine()}, PKCS#12 KDF rounds {pki.PKCS12_KDF_ROUNDS:,}"
    )
    with tempfile.TemporaryDirectory(prefix="sigrekap-bench-") as folder:
        started = time.perf_counter()
        scratch = Scratch(Path(folder))
        print(f"Scratch office ready in {time.perf_counter() - started:.1f} s")
        runners: dict[str, Callable[[], float]] = {
            "approve": scratch.time_approve,
            "bare": scratch.time_bare,
            "bare_keyed": scratch.time_bare_keyed,
            "sign_field": scratch.time_sign_field,
            "unlock": scratch.time_unlock,
        }
        # Warm-up runs load the stamp font and fill the import caches.
        for _ in range(args.warmup):
            for run in runners.values():
                run()
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for index in range(args.repeat):
            # Rotate the order so that no variant always runs first.
            shift = index % len(VARIANTS)
            for name in VARIANTS[shift:] + VARIANTS[:shift]:
                samples[name].append(runners[name]())

        print()
        medians = summarize(samples)
        ratio = medians["approve"] / medians["bare_keyed"]
        unlock_share = medians["unlock"] / medians["approve"]
        rest = medians["approve"] - medians["unlock"] - medians["sign_field"]
        print()
        print(
            f"approve / bare_keyed (medians): {ratio:.2f}x (target {TARGET_RATIO}x)"
        )
        print(f"approve / bare (medians): {medians['approve'] / medians['bare']:.2f}x")
        print(
            f"sign_field / bare (medians): {medians['sign_field'] / medians['bare']:.2f}x"
        )
        print(f"unlock share of approve: {unlock_share:.0%}")
        print(
            f"approve - unlock - sign_field: {rest * 1000:.1f} ms (checks, storage, DB)"
        )
        print("within target" if ratio <= TARGET_RATIO else "slower than target")
        if args.profile:
            print()
            profile_approve(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
