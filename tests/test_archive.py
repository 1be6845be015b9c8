"""The archive of a really signed recap: entry page, integrity, export, access."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select, update

from sigrekap import archive, db
from sigrekap.models import AuditEvent, Recap, Revision, User
from sigrekap.storage import FileStore

needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.csv").exists(), reason="sample exports not found"
)


@dataclass
class Archived:
    recap_id: int
    number: str
    pdf_sha256: str
    workbook_sha256: str
    revision_ids: list[int]
    store: FileStore

    def path(self, sha256: str) -> Path:
        return self.store.path_for(sha256)


def _archive_real_chain(app, office_pki) -> Archived:
    from test_workflow import Chain

    with app.app_context():
        chain = Chain(app, office_pki)
        chain.submit()
        for username in ("kasi", "kabid", "kadis"):
            chain.approve(username)
        chain.archive()
        archive.on_recap_changed(chain.session, chain.recap)
        revision = chain.recap.current_revision
        return Archived(
            recap_id=chain.recap.id,
            number=chain.recap.number,
            pdf_sha256=revision.sha256,
            workbook_sha256=revision.workbook_sha256,
            revision_ids=[r.id for r in chain.revisions()],
            store=chain.settings.store,
        )


@pytest.fixture
def archived(app, office_pki) -> Archived:
    return _archive_real_chain(app, office_pki)


def _damage(path: Path) -> None:
    # Stored files are read-only. An intruder or a disk fault changes one byte.
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@needs_fixtures
def test_entry_page_shows_files_and_verification(archived, client, auth):
    auth.login("kabid")
    page = client.get(f"/arsip/{archived.recap_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert archived.pdf_sha256 in html
    assert archived.workbook_sha256 in html
    assert "Sah: semua tanda tangan sah dan tepercaya" in html
    assert "Tanda tangan Kepala Dinas" in html
    assert "Rantai riwayat audit utuh" in html
    assert html.count('class="hash"') >= 2 + len(archived.revision_ids)
    assert "Pemeriksaan keutuhan arsip gagal" not in html
    assert f"/arsip/{archived.recap_id}/cetak.pdf" in html

    pdf = client.get(f"/arsip/{archived.recap_id}/dokumen.pdf")
    assert pdf.status_code == 200
    assert hashlib.sha256(pdf.data).hexdigest() == archived.pdf_sha256
    workbook = client.get(f"/arsip/{archived.recap_id}/rekap.xlsx")
    assert hashlib.sha256(workbook.data).hexdigest() == archived.workbook_sha256
    first = archived.revision_ids[0]
    revision = client.get(f"/arsip/{archived.recap_id}/revisi/{first}.pdf")
    assert revision.status_code == 200
    assert archived.pdf_sha256 != hashlib.sha256(revision.data).hexdigest()
    assert (
        client.get(f"/arsip/{archived.recap_id}/revisi/999999.pdf").status_code == 404
    )


@needs_fixtures
def test_archive_list_finds_real_recap(archived, client, auth):
    auth.login("admin")
    for query in (
        f"sha256={archived.pdf_sha256}",
        f"sha256={archived.workbook_sha256[:12]}",
        "q=november+2026",
        "signer=Fauzi",
        "status=archived&year=2026&month=11",
    ):
        html = client.get(f"/arsip?{query}").get_data(as_text=True)
        assert "1 rekapitulasi ditemukan" in html, query
        assert f"/arsip/{archived.recap_id}" in html, query
    html = client.get("/arsip?status=draft").get_data(as_text=True)
    assert "Tidak ada rekapitulasi yang cocok" in html


@needs_fixtures
def test_archive_check_passes_on_intact_archive(archived, app):
    result = app.test_cli_runner().invoke(args=["archive-check"])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output
    # Five revisions share one workbook: six distinct files.
    assert "Checked 6 stored files and the audit chains of 1 recaps" in result.output


@needs_fixtures
def test_export_zip_matches_manifest(archived, app, client, auth, tmp_path):
    auth.login("kadis")
    response = client.get("/arsip/ekspor?period=2026")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert 'filename="arsip-rekap-2026.zip"' in response.headers["Content-Disposition"]

    bundle = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(bundle.namelist())
    assert names == {
        "manifest.json",
        "manifest-sha256.txt",
        "2026-11/rekap-2026-11-ditandatangani.pdf",
        "2026-11/rekap-2026-11.xlsx",
        "2026-11/verifikasi.json",
        "2026-11/riwayat-audit.json",
    }
    contents = {name: bundle.read(name) for name in names}

    manifest = json.loads(contents["manifest.json"])
    listed = {item["path"]: item for item in manifest["files"]}
    assert set(listed) == names - {"manifest.json", "manifest-sha256.txt"}
    for path, item in listed.items():
        assert hashlib.sha256(contents[path]).hexdigest() == item["sha256"], path
        assert len(contents[path]) == item["size"], path

    checksum_lines = contents["manifest-sha256.txt"].decode().splitlines()
    checksums = dict(reversed(line.split("  ", 1)) for line in checksum_lines)
    assert set(checksums) == names - {"manifest-sha256.txt"}
    for path, digest in checksums.items():
        assert hashlib.sha256(contents[path]).hexdigest() == digest, path

    pdf = contents["2026-11/rekap-2026-11-ditandatangani.pdf"]
    assert hashlib.sha256(pdf).hexdigest() == archived.pdf_sha256
    xlsx = contents["2026-11/rekap-2026-11.xlsx"]
    assert hashlib.sha256(xlsx).hexdigest() == archived.workbook_sha256
    [entry] = manifest["recaps"]
    assert entry["number"] == archived.number
    assert entry["signed_pdf_sha256"] == archived.pdf_sha256
    assert entry["verification_status"] == "valid"

    report = json.loads(contents["2026-11/verifikasi.json"])
    assert report["status"] == "valid"
    assert len(report["signatures"]) == 4
    history = json.loads(contents["2026-11/riwayat-audit.json"])
    assert history["chain_intact"] is True
    assert [e["action"] for e in history["events"]] == [
        "submit",
        "paraf",
        "paraf",
        "sign",
        "archive",
    ]

    # The command line writes the same files.
    out = tmp_path / "export.zip"
    result = app.test_cli_runner().invoke(
        args=["archive-export", "--period", "2026-11", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert set(zipfile.ZipFile(out).namelist()) == names

    assert client.get("/arsip/ekspor?period=2025").status_code == 404
    assert client.get("/arsip/ekspor?period=2026-13").status_code == 400
    failed = app.test_cli_runner().invoke(
        args=["archive-export", "--period", "1999", "--out", str(out)]
    )
    assert failed.exit_code == 1
    assert "Tidak ada rekapitulasi yang diarsipkan" in failed.output


@needs_fixtures
def test_changed_byte_is_caught(archived, app, client, auth, caplog):
    _damage(archived.path(archived.pdf_sha256))
    auth.login("kasi")

    with caplog.at_level(logging.ERROR, logger="sigrekap"):
        download = client.get(f"/arsip/{archived.recap_id}/dokumen.pdf")
    assert download.status_code == 500
    assert b"%PDF" not in download.data
    body = download.get_data(as_text=True)
    assert "tidak cocok dengan SHA-256" in body
    assert archived.pdf_sha256 in body
    assert any(archived.pdf_sha256 in record.getMessage() for record in caplog.records)

    last = archived.revision_ids[-1]
    assert (
        client.get(f"/arsip/{archived.recap_id}/revisi/{last}.pdf").status_code == 500
    )
    assert client.get(f"/arsip/{archived.recap_id}/cetak.pdf").status_code == 500
    entry = client.get(f"/arsip/{archived.recap_id}").get_data(as_text=True)
    assert "Pemeriksaan keutuhan arsip gagal" in entry
    assert archived.pdf_sha256 in entry
    auth.logout()
    auth.login("admin")
    assert client.get("/arsip/ekspor?period=2026-11").status_code == 500

    result = app.test_cli_runner().invoke(args=["archive-check"])
    assert result.exit_code == 1
    assert f"{archived.pdf_sha256}: content changed" in result.output
    assert "1 problem(s) found" in result.output


@needs_fixtures
def test_missing_file_is_caught(archived, app, client, auth):
    path = archived.path(archived.workbook_sha256)
    path.unlink()
    auth.login("kadis")
    download = client.get(f"/arsip/{archived.recap_id}/rekap.xlsx")
    assert download.status_code == 500
    assert "hilang" in download.get_data(as_text=True)
    assert not download.data.startswith(b"PK")

    result = app.test_cli_runner().invoke(args=["archive-check"])
    assert result.exit_code == 1
    assert f"{archived.workbook_sha256}: missing" in result.output
    # One line per file, though all five revisions reference the workbook.
    assert result.output.count(archived.workbook_sha256) == 1


@needs_fixtures
def test_tampered_audit_event_is_caught(archived, app, client, auth):
    with app.app_context():
        session = db.session()
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "paraf")
        ).first()
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == event.id)
            .values(actor_name="Orang Lain")
        )
        session.commit()
        event_id = event.id

    result = app.test_cli_runner().invoke(args=["archive-check"])
    assert result.exit_code == 1
    assert f"audit chain: event {event_id}: content does not match its hash" in (
        result.output
    )

    auth.login("sysadmin")
    entry = client.get(f"/arsip/{archived.recap_id}").get_data(as_text=True)
    assert "Rantai riwayat audit rusak" in entry


@needs_fixtures
def test_sysadmin_runs_check_in_browser(archived, client, auth):
    auth.login("sysadmin")
    page = client.get("/arsip/pemeriksaan")
    assert page.status_code == 200
    assert "Hasil pemeriksaan" not in page.get_data(as_text=True)
    assert client.post("/arsip/pemeriksaan").status_code == 400  # no CSRF token

    token = auth.csrf_token("/arsip/pemeriksaan")
    clean = client.post("/arsip/pemeriksaan", data={"csrf_token": token})
    assert "Tidak ada masalah" in clean.get_data(as_text=True)

    _damage(archived.path(archived.pdf_sha256))
    damaged = client.post("/arsip/pemeriksaan", data={"csrf_token": token})
    html = damaged.get_data(as_text=True)
    assert damaged.status_code == 200
    assert "Ditemukan 1 masalah" in html
    assert "Isi berkas berubah" in html
    assert archived.pdf_sha256 in html


# ---------------------------------------------------------------------------
# Access rules, on a recap made of rows and small stored files


def _small_pdf() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, "Rekapitulasi uji akses")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@pytest.fixture
def stored_recap(app) -> dict[str, int]:
    """An archived recap with one revision, without signatures."""
    with app.app_context():
        session = db.session()
        store = FileStore(Path(app.config["STORAGE_DIR"]))
        pdf = _small_pdf()
        admin = session.scalar(select(User).where(User.username == "admin"))
        recap = Recap(
            period="2026-10",
            sequence=1,
            number="001/UJI/2026",
            verification_code="UJIAKSES01",
            status="archived",
            created_by_id=admin.id,
        )
        session.add(recap)
        session.flush()
        revision = Revision(
            recap_id=recap.id,
            kind="kadis",
            round=1,
            sha256=store.put(pdf),
            size=len(pdf),
            workbook_sha256=store.put(b"PK workbook placeholder"),
            created_dt=dt.datetime(2026, 11, 1),
        )
        session.add(revision)
        session.flush()
        recap.current_revision_id = revision.id
        session.commit()
        return {"recap": recap.id, "revision": revision.id}


ROUTES = {
    "list": ("/arsip", None),
    "entry": ("/arsip/{recap}", None),
    "pdf": ("/arsip/{recap}/dokumen.pdf", None),
    "workbook": ("/arsip/{recap}/rekap.xlsx", None),
    "revision pdf": ("/arsip/{recap}/revisi/{revision}.pdf", None),
    "revision workbook": ("/arsip/{recap}/revisi/{revision}.xlsx", None),
    "printed copy": ("/arsip/{recap}/cetak.pdf", None),
    "export": ("/arsip/ekspor?period=2026", ("admin", "sysadmin", "kadis")),
    "check page": ("/arsip/pemeriksaan", ("sysadmin",)),
}


@pytest.mark.parametrize("role", ["admin", "kasi", "kabid", "kadis", "sysadmin"])
def test_routes_follow_role_rules(stored_recap, client, auth, role):
    auth.login(role)
    for name, (template, allowed) in ROUTES.items():
        response = client.get(template.format(**stored_recap))
        expected = 200 if allowed is None or role in allowed else 403
        assert response.status_code == expected, name

    token = auth.csrf_token("/arsip")
    check = client.post("/arsip/pemeriksaan", data={"csrf_token": token})
    assert check.status_code == (200 if role == "sysadmin" else 403)


def test_routes_need_login(stored_recap, client):
    for name, (template, _) in ROUTES.items():
        response = client.get(template.format(**stored_recap))
        assert response.status_code == 302, name
        assert "/masuk" in response.headers["Location"], name


def test_printed_copy_needs_signed_recap(stored_recap, app, client, auth):
    with app.app_context():
        session = db.session()
        recap = session.get(Recap, stored_recap["recap"])
        recap.status = "at_kadis"
        session.commit()
    auth.login("kasi")
    response = client.get(f"/arsip/{stored_recap['recap']}/cetak.pdf")
    assert response.status_code == 409
    assert "sudah ditandatangani" in response.get_data(as_text=True)
