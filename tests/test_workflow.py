"""The approval workflow through the core: every path, rejection and guard."""

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from conftest import FIXTURES
from pdftools import assert_all_valid_and_trusted, make_nss_database, pdfsig_blocks
from sqlalchemy import select

from sigrekap import audit, db, demo, importing, keys, recaps, signing, workflow
from sigrekap.domain import SEAL_FIELD, SIGNATURE_FIELDS
from sigrekap.errors import ConflictError, PermissionDeniedError, UserError
from sigrekap.models import ActingAppointment, AuditEvent, Recap, Revision, User
from sigrekap.verify import verify_pdf

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.csv").exists(), reason="sample exports not found"
)


class Chain:
    """Drive one recap through the workflow as the demo users."""

    def __init__(self, app, office_pki):
        self.app = app
        self.session = db.session()
        self.settings = workflow.settings_from_config(
            app.config, Path(app.instance_path), demo.OFFICE_NAME
        )
        self.credentials = demo.load_credentials(Path(app.instance_path))
        self.users = {u.username: u for u in self.session.scalars(select(User))}
        admin = self.users["admin"]
        self.recap = recaps.create_recap(self.session, admin, "2026-11")
        upload_dir = Path(app.instance_path) / "uploads"
        data = (FIXTURES / "lapor-2026-11.csv").read_bytes()
        preview = importing.preview_import(
            self.session, admin, self.recap, "lapor.csv", data, upload_dir, max_bytes=10**7
        )
        importing.confirm_import(
            self.session, admin, self.recap, preview.token, upload_dir, max_bytes=10**7
        )

    def submit(self):
        return workflow.submit(
            self.session, self.settings, self.users["admin"], self.recap, self.recap.version
        )

    def approve(self, username, passphrase=None):
        if passphrase is None:
            passphrase = self.credentials[username]["passphrase"]
        return workflow.approve(
            self.session, self.settings, self.users[username], self.recap,
            self.recap.version, passphrase,
        )

    def reject(self, username, reason="Angka kanal perlu dicek ulang."):
        return workflow.reject(
            self.session, self.users[username], self.recap, self.recap.version, reason
        )

    def archive(self):
        return workflow.archive(
            self.session, self.settings, self.users["admin"], self.recap, self.recap.version
        )

    def current_pdf(self):
        return workflow.read_revision(self.settings, self.recap.current_revision)

    def revisions(self):
        return workflow.revisions_of(self.session, self.recap)

    def snapshot(self):
        self.session.expire_all()
        recap = self.session.get(Recap, self.recap.id)
        return (
            recap.status,
            recap.version,
            recap.current_revision_id,
            self.session.query(Revision).count(),
            self.session.query(AuditEvent).count(),
        )


@pytest.fixture
def chain(app, office_pki):
    with app.app_context():
        yield Chain(app, office_pki)


@pytest.fixture
def nss(app, office_pki, tmp_path):
    return make_nss_database(tmp_path / "nss", sorted(Path(app.config["CERTS_DIR"]).glob("*.pem")))


def _trust_roots(app):
    return keys.trust_roots(Path(app.config["CERTS_DIR"]))


def _assert_genuine(app, nss, pdf, tmp_path, last_field):
    report = verify_pdf(pdf, _trust_roots(app))
    assert report.exit_code == 0, report.to_dict()
    blocks = pdfsig_blocks(nss, pdf, tmp_path)
    assert_all_valid_and_trusted(blocks, last_field)
    return blocks


def test_full_chain_produces_valid_signed_recap(app, chain, nss, tmp_path):
    chain.submit()
    assert chain.recap.status == "at_kasi"
    chain.approve("kasi")
    assert chain.recap.status == "at_kabid"
    chain.approve("kabid")
    assert chain.recap.status == "at_kadis"
    chain.approve("kadis")
    assert chain.recap.status == "signed"
    chain.archive()
    assert chain.recap.status == "archived"

    pdfs = [workflow.read_revision(chain.settings, r) for r in chain.revisions()]
    assert [r.kind for r in chain.revisions()] == ["draft", "sealed", "kasi", "kabid", "kadis"]
    for earlier, later in zip(pdfs, pdfs[1:]):
        assert later.startswith(earlier)

    blocks = _assert_genuine(app, nss, pdfs[-1], tmp_path, SIGNATURE_FIELDS["kadis"])
    assert set(blocks) == {SEAL_FIELD, *SIGNATURE_FIELDS.values()}
    for pdf in pdfs[1:-1]:
        assert verify_pdf(pdf, _trust_roots(app)).exit_code == 0


def test_every_signed_revision_passes_pdfsig(app, chain, nss, tmp_path):
    chain.submit()
    expected_last = [SEAL_FIELD]
    for username in ("kasi", "kabid", "kadis"):
        chain.approve(username)
        expected_last.append(SIGNATURE_FIELDS[username])
    for revision, last in zip(chain.revisions()[1:], expected_last):
        pdf = workflow.read_revision(chain.settings, revision)
        _assert_genuine(app, nss, pdf, tmp_path, last)


def test_kasi_rejection_returns_to_draft(app, chain, nss, tmp_path):
    chain.submit()
    chain.reject("kasi", "Data kategori belum lengkap.")
    assert chain.recap.status == "draft"
    assert chain.recap.current_revision is None
    assert chain.recap.round == 2
    entry = workflow.timeline(chain.session, chain.recap)[-1]
    assert entry.action == "reject"
    assert entry.reason == "Data kategori belum lengkap."

    chain.submit()
    for username in ("kasi", "kabid", "kadis"):
        chain.approve(username)
    _assert_genuine(app, nss, chain.current_pdf(), tmp_path, SIGNATURE_FIELDS["kadis"])
    assert [r.round for r in chain.revisions()] == [1, 1, 2, 2, 2, 2, 2]


def test_kabid_rejection_strips_kasi_paraf(app, chain, nss, tmp_path):
    chain.submit()
    sealed = chain.recap.current_revision
    chain.approve("kasi")
    kasi_revision = chain.recap.current_revision
    chain.reject("kabid")
    assert chain.recap.status == "at_kasi"
    assert chain.recap.current_revision_id == sealed.id
    assert chain.session.get(Revision, kasi_revision.id) is not None  # kept in history

    chain.approve("kasi")
    chain.approve("kabid")
    chain.approve("kadis")
    pdf = chain.current_pdf()
    blocks = _assert_genuine(app, nss, pdf, tmp_path, SIGNATURE_FIELDS["kadis"])
    assert len(blocks) == 4  # the stripped paraf is not in the final file
    assert pdf.startswith(workflow.read_revision(chain.settings, sealed))


def test_kadis_rejection_strips_kabid_paraf(app, chain, nss, tmp_path):
    chain.submit()
    chain.approve("kasi")
    kasi_revision = chain.recap.current_revision
    chain.approve("kabid")
    chain.reject("kadis", "Mohon lampirkan grafik per hari.")
    assert chain.recap.status == "at_kabid"
    assert chain.recap.current_revision_id == kasi_revision.id

    chain.approve("kabid")
    chain.approve("kadis")
    _assert_genuine(app, nss, chain.current_pdf(), tmp_path, SIGNATURE_FIELDS["kadis"])
    kinds = [r.kind for r in chain.revisions()]
    assert kinds == ["draft", "sealed", "kasi", "kabid", "kabid", "kadis"]


def test_rejection_needs_reason(chain):
    chain.submit()
    before = chain.snapshot()
    with pytest.raises(UserError, match="Alasan penolakan wajib"):
        chain.reject("kasi", "   ")
    assert chain.snapshot() == before


def test_wrong_passphrase_changes_nothing(chain):
    chain.submit()
    before = chain.snapshot()
    with pytest.raises(UserError, match="Frasa sandi salah"):
        chain.approve("kasi", "bukan-frasa-yang-benar")
    assert chain.snapshot() == before


def test_five_wrong_passphrases_lock_key(chain, caplog):
    chain.submit()
    for _ in range(4):
        with pytest.raises(UserError, match="Tersisa"):
            chain.approve("kasi", "salah-salah-salah")
    with pytest.raises(UserError, match="dikunci selama 15 menit"):
        chain.approve("kasi", "salah-salah-salah")
    with pytest.raises(UserError, match="dikunci sementara"):
        chain.approve("kasi")  # even the right passphrase waits
    assert chain.recap.status == "at_kasi"
    assert "locked after 5 wrong passphrases" in caplog.text

    key = keys.active_key(chain.session, chain.users["kasi"])
    key.locked_until_dt -= dt.timedelta(minutes=16)
    chain.session.commit()
    chain.approve("kasi")
    assert chain.recap.status == "at_kabid"


def test_passphrase_never_logged(chain, caplog):
    chain.submit()
    with pytest.raises(UserError):
        chain.approve("kasi", "rahasia-yang-salah-77")
    chain.approve("kasi")
    assert "rahasia-yang-salah-77" not in caplog.text
    assert chain.credentials["kasi"]["passphrase"] not in caplog.text


@pytest.mark.parametrize("username", ["kabid", "kadis", "admin", "sysadmin"])
def test_wrong_role_cannot_approve(chain, username):
    chain.submit()
    before = chain.snapshot()
    with pytest.raises(PermissionDeniedError):
        workflow.approve(
            chain.session, chain.settings, chain.users[username], chain.recap,
            chain.recap.version, "apa-saja-1234",
        )
    assert chain.snapshot() == before


def test_drafting_admin_cannot_approve_even_as_acting_kasi(chain):
    admin = chain.users["admin"]
    chain.session.add(
        ActingAppointment(
            user_id=admin.id, role="kasi", kind="Plh", starts_on=dt.date.today(),
            ends_on=dt.date.today(), created_by_id=chain.users["sysadmin"].id,
        )
    )
    chain.session.commit()
    chain.submit()
    with pytest.raises(PermissionDeniedError, match="Penyusun konsep"):
        workflow.approve(
            chain.session, chain.settings, admin, chain.recap, chain.recap.version, "x" * 12
        )
    with pytest.raises(PermissionDeniedError, match="Penyusun konsep"):
        workflow.reject(chain.session, admin, chain.recap, chain.recap.version, "Tidak setuju")


def test_same_person_cannot_mark_twice(chain):
    kasi = chain.users["kasi"]
    chain.session.add(
        ActingAppointment(
            user_id=kasi.id, role="kabid", kind="Plt", starts_on=dt.date.today(),
            ends_on=dt.date.today() + dt.timedelta(days=5),
            created_by_id=chain.users["sysadmin"].id,
        )
    )
    chain.session.commit()
    chain.submit()
    chain.approve("kasi")
    with pytest.raises(PermissionDeniedError, match="satu kali"):
        chain.approve("kasi")


def test_acting_official_can_approve(chain):
    kabid = chain.users["kabid"]
    chain.session.add(
        ActingAppointment(
            user_id=kabid.id, role="kadis", kind="Plh", starts_on=dt.date.today(),
            ends_on=dt.date.today(), created_by_id=chain.users["sysadmin"].id,
        )
    )
    chain.session.commit()
    chain.submit()
    chain.approve("kasi")
    # Kabid marks as Kabid, so cannot also sign as acting Kadis in this round.
    chain.approve("kabid")
    with pytest.raises(PermissionDeniedError):
        chain.approve("kabid")
    assert "approve" not in workflow.available_actions(chain.session, kabid, chain.recap)


def test_stale_version_rejected(chain):
    chain.submit()
    stale_version = chain.recap.version - 1
    before = chain.snapshot()
    with pytest.raises(ConflictError, match="sudah diproses"):
        workflow.approve(
            chain.session, chain.settings, chain.users["kasi"], chain.recap, stale_version,
            chain.credentials["kasi"]["passphrase"],
        )
    assert chain.snapshot() == before


def test_double_submit_produces_one_signature(app, chain):
    chain.submit()
    version = chain.recap.version
    passphrase = chain.credentials["kasi"]["passphrase"]
    kasi_id = chain.users["kasi"].id

    # Two requests load the same recap before either commits.
    other_session = db.make_engine(app.config["DATABASE_URL"])
    from sqlalchemy.orm import Session

    with Session(other_session, expire_on_commit=False) as second:
        recap_b = second.get(Recap, chain.recap.id)
        kasi_b = second.get(User, kasi_id)
        assert recap_b.version == version

        workflow.approve(
            chain.session, chain.settings, chain.users["kasi"], chain.recap, version, passphrase
        )
        with pytest.raises(ConflictError):
            workflow.approve(second, chain.settings, kasi_b, recap_b, version, passphrase)
    other_session.dispose()

    chain.session.expire_all()
    kasi_revisions = chain.session.scalars(select(Revision).where(Revision.kind == "kasi")).all()
    assert len(kasi_revisions) == 1
    assert chain.session.get(Recap, chain.recap.id).status == "at_kabid"


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tsa_down_fails_signing_and_changes_nothing(app, chain):
    chain.submit()
    before = chain.snapshot()
    settings = workflow.SigningSettings(
        office_pki=chain.settings.office_pki,
        timestamp=workflow.TimestampConfig(
            url=f"http://127.0.0.1:{_closed_port()}/tsa", timeout=2
        ),
        store=chain.settings.store,
        base_url=chain.settings.base_url,
        office_name=chain.settings.office_name,
    )
    with pytest.raises(UserError, match="cap waktu"):
        workflow.approve(
            chain.session, settings, chain.users["kasi"], chain.recap, chain.recap.version,
            chain.credentials["kasi"]["passphrase"],
        )
    assert chain.snapshot() == before


def test_tampered_revision_in_storage_stops_signing(chain):
    chain.submit()
    path = chain.settings.store.path_for(chain.recap.current_revision.sha256)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    before = chain.snapshot()
    with pytest.raises(UserError, match="rusak atau hilang"):
        chain.approve("kasi")
    assert chain.snapshot() == before


def test_archive_requires_signed_recap(chain):
    chain.submit()
    with pytest.raises(ConflictError):
        chain.archive()


def test_audit_chain_intact_and_detects_changes(chain):
    chain.submit()
    chain.approve("kasi")
    chain.reject("kabid", "Periksa ulang.")
    assert audit.check_chain(chain.session, chain.recap) == []

    events = chain.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["submit", "paraf", "reject"]
    assert events[1].sha256_before == events[0].sha256_after
    events[1].reason = "diubah diam-diam"
    chain.session.commit()
    problems = audit.check_chain(chain.session, chain.recap)
    assert any("content does not match" in p for p in problems)


def test_audit_chain_detects_deleted_last_event(chain):
    chain.submit()
    chain.approve("kasi")
    last = chain.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    chain.session.delete(last)
    chain.session.commit()
    problems = audit.check_chain(chain.session, chain.recap)
    assert any("newest event is missing" in p for p in problems)


def test_inbox_lists_waiting_recaps(chain):
    chain.submit()
    assert workflow.inbox_recaps(chain.session, chain.users["kasi"]) == [chain.recap]
    assert workflow.inbox_recaps(chain.session, chain.users["kabid"]) == []
    chain.approve("kasi")
    assert workflow.inbox_recaps(chain.session, chain.users["kabid"]) == [chain.recap]


def test_step_durations_recorded(chain):
    chain.submit()
    chain.approve("kasi")
    entries = workflow.timeline(chain.session, chain.recap)
    assert entries[-1].standard == dt.timedelta(hours=3)
    assert entries[-1].duration >= dt.timedelta(0)
    assert not entries[-1].is_over_standard


def test_acting_head_signs_with_own_key(app, chain, nss, tmp_path, monkeypatch):
    from sigrekap import accounts

    stamps = []
    sign_field = signing.sign_field

    def record_stamp(*args, **kwargs):
        stamps.append(kwargs["stamp"])
        return sign_field(*args, **kwargs)

    monkeypatch.setattr(signing, "sign_field", record_stamp)

    deputy = accounts.create_user(
        chain.session, chain.users["sysadmin"], username="sekdin", password="sandi-sekdin-1",
        name="Hendra Gunawan, S.E.", role="kabid", nip="197805112003121002",
        title="Kepala Bidang Aplikasi Informatika",
    )
    keys.create_key(chain.session, deputy, chain.settings.office_pki, demo.OFFICE_NAME,
                    "frasa-sekdin-1", "frasa-sekdin-1")
    accounts.create_appointment(
        chain.session, chain.users["sysadmin"], user_id=deputy.id, role="kadis", kind="Plh",
        starts_on=dt.date.today(), ends_on=dt.date.today(),
    )
    chain.submit()
    chain.approve("kasi")
    chain.approve("kabid")
    workflow.approve(chain.session, chain.settings, deputy, chain.recap, chain.recap.version,
                     "frasa-sekdin-1")
    assert chain.recap.status == "signed"
    blocks = _assert_genuine(app, nss, chain.current_pdf(), tmp_path, SIGNATURE_FIELDS["kadis"])
    assert "Hendra Gunawan" in blocks[SIGNATURE_FIELDS["kadis"]]
    # The stamp names the position the deputy acts in, not their own.
    kadis_title = chain.users["kadis"].title
    assert stamps[-1].name == "Hendra Gunawan, S.E."
    assert stamps[-1].title == f"Plh. {kadis_title}"
    assert stamps[-1].role_label == "Tanda Tangan Plh. Kepala Dinas"
    assert stamps[0].role_label == "Paraf Kepala Seksi"
    assert stamps[0].title == chain.users["kasi"].title


@pytest.mark.parametrize("reason", ["key_compromise", "superseded"])
def test_leaked_paraf_key_blocks_next_mark(app, chain, reason):
    chain.submit()
    chain.approve("kasi")
    sysadmin = chain.users["sysadmin"]
    keys.revoke_key(chain.session, sysadmin, chain.users["kasi"].id, reason)
    kabid = chain.users["kabid"]
    problem = workflow.leaked_key_problem(chain.session, chain.recap)
    if reason == "superseded":
        # A replaced key's earlier paraf stays valid, so the chain goes on.
        assert problem is None
        chain.approve("kabid")
        assert chain.recap.status == "at_kadis"
        return

    assert "dicabut karena bocor" in problem
    before = chain.snapshot()
    with pytest.raises(ConflictError, match="dicabut karena bocor"):
        chain.approve("kabid")
    assert chain.snapshot() == before
    # Kabid can still reject, which strips the paraf, and the Kasi marks
    # again with a new key.
    assert "reject" in workflow.available_actions(chain.session, kabid, chain.recap)
    chain.reject("kabid")
    assert chain.recap.status == "at_kasi"
    assert workflow.leaked_key_problem(chain.session, chain.recap) is None
    kasi = chain.users["kasi"]
    keys.create_key(
        chain.session,
        kasi,
        chain.settings.office_pki,
        demo.OFFICE_NAME,
        "frasa-baru-kasi-1",
        "frasa-baru-kasi-1",
    )
    chain.approve("kasi", "frasa-baru-kasi-1")
    chain.approve("kabid")
    assert chain.recap.status == "at_kadis"

    # A leak found after the Kadis signed cannot be undone by rejection.
    chain.approve("kadis")
    keys.revoke_key(chain.session, sysadmin, kabid.id, "key_compromise")
    problem = workflow.leaked_key_problem(chain.session, chain.recap)
    assert "tidak dapat memperbaikinya" in problem


def test_submitted_figures_survive_later_import(app, chain):
    chain.submit()
    before = recaps.recap_statistics(chain.session, chain.recap).to_dict()

    # A later export closes every complaint of the period and adds a new one.
    admin = chain.users["admin"]
    later = recaps.create_recap(chain.session, admin, "2026-12")
    rows = ["ID Tracking,Tanggal Laporan,Judul Laporan,Status,Tanggal Selesai,Kategori,Sumber,Instansi Tujuan"]
    for complaint in recaps.complaints_for_period(chain.session, recaps.period_of(chain.recap)):
        rows.append(
            f"{complaint.tracking_id},{complaint.received_at:%Y-%m-%d %H:%M},Judul,Selesai,"
            "2026-12-02 10:00,Lainnya,Website,Dinas Uji"
        )
    rows.append("99999999,2026-11-15 09:00,Baru,Proses,,Lainnya,Website,Dinas Uji")
    upload_dir = Path(app.instance_path) / "uploads"
    preview = importing.preview_import(
        chain.session, admin, later, "later.csv", "\n".join(rows).encode(), upload_dir,
        max_bytes=10**7,
    )
    importing.confirm_import(
        chain.session, admin, later, preview.token, upload_dir, max_bytes=10**7
    )

    after = recaps.recap_statistics(chain.session, chain.recap).to_dict()
    assert after == before
    live = recaps.complaints_for_period(chain.session, recaps.period_of(chain.recap))
    assert len(live) != len(recaps.recap_complaints(chain.session, chain.recap))


def test_rejection_to_draft_releases_snapshot(chain):
    chain.submit()
    assert chain.recap.complaint_snapshot is not None
    chain.reject("kasi", "Data perlu diperbarui.")
    assert chain.recap.complaint_snapshot is None
