"""The approval workflow through the web pages, as the demo users use it."""

import io
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, csrf_token_from
from cryptography import x509

from sigrekap import db, keys
from sigrekap.models import Recap, SigningKey, User
from sigrekap.storage import FileStore

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.xlsx").exists(), reason="sample exports not found"
)


class Desk:
    """One browser session that logs in as each demo user in turn."""

    def __init__(self, client, auth, credentials):
        self.client = client
        self.auth = auth
        self.credentials = credentials
        self.recap_id = None

    def as_user(self, username):
        token = self._token("/")
        if token:
            self.client.post("/keluar", data={"csrf_token": token})
        response = self.auth.login(username)
        assert response.status_code == 302, username

    def _token(self, path):
        html = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        return match.group(1) if match else ""

    def page(self):
        return self.client.get(f"/rekap/{self.recap_id}").get_data(as_text=True)

    def post(self, action, **fields):
        html = self.page()
        version = re.search(r'name="version" value="(\d+)"', html)
        data = {"csrf_token": csrf_token_from(html), **fields}
        if version:
            data.setdefault("version", version.group(1))
        return self.client.post(f"/rekap/{self.recap_id}/{action}", data=data)

    def prepare_draft(self):
        self.as_user("admin")
        response = self.client.post(
            "/rekap", data={"csrf_token": self._token("/"), "period": "2026-11"}
        )
        self.recap_id = int(response.headers["Location"].rsplit("/", 1)[1])
        upload = self.client.post(
            f"/rekap/{self.recap_id}/impor",
            data={
                "csrf_token": csrf_token_from(self.page()),
                "file": (
                    io.BytesIO((FIXTURES / "lapor-2026-11.xlsx").read_bytes()),
                    "lapor.xlsx",
                ),
            },
            content_type="multipart/form-data",
        )
        preview = upload.headers["Location"]
        self.client.post(
            f"{preview}/konfirmasi", data={"csrf_token": self._token(preview)}
        )

    def approve(self, username):
        self.as_user(username)
        response = self.post(
            "setujui", passphrase=self.credentials[username]["passphrase"]
        )
        assert response.status_code == 302, response.get_data(as_text=True)

    def reject(self, username, reason):
        self.as_user(username)
        response = self.post("tolak", reason=reason)
        assert response.status_code == 302

    def revoke_key(self, user_id, reason=None):
        """Revoke a user's key from the sysadmin's user form."""
        page = self.client.get(f"/admin/pengguna/{user_id}").get_data(as_text=True)
        data = {"csrf_token": csrf_token_from(page)}
        if reason is not None:
            data["reason"] = reason
        return self.client.post(f"/admin/pengguna/{user_id}/kunci/cabut", data=data)

    def import_key(self, user_id, p12, passphrase):
        """Import a PKCS#12 for a user from the sysadmin's user form."""
        page = self.client.get(f"/admin/pengguna/{user_id}").get_data(as_text=True)
        return self.client.post(
            f"/admin/pengguna/{user_id}/kunci/impor",
            data={
                "csrf_token": csrf_token_from(page),
                "passphrase": passphrase,
                "pkcs12": (io.BytesIO(p12), "kunci.p12"),
            },
            content_type="multipart/form-data",
        )

    def status(self, app):
        with app.app_context():
            return db.session().get(Recap, self.recap_id).status


@pytest.fixture
def desk(client, auth, credentials, office_pki):
    return Desk(client, auth, credentials)


def test_recap_carried_through_with_rejection_at_each_level(app, desk):
    desk.prepare_draft()
    assert desk.post("ajukan").status_code == 302
    assert desk.status(app) == "at_kasi"

    desk.reject("kasi", "Kategori Perhubungan belum dicek.")
    assert desk.status(app) == "draft"
    desk.as_user("admin")
    assert "Kategori Perhubungan belum dicek." in desk.page()
    desk.post("ajukan")

    desk.approve("kasi")
    desk.reject("kabid", "Grafik per hari kurang jelas.")
    assert desk.status(app) == "at_kasi"
    desk.as_user("kasi")
    page = desk.page()
    assert "Grafik per hari kurang jelas." in page
    assert "Beri paraf" in page

    desk.approve("kasi")
    desk.approve("kabid")
    desk.reject("kadis", "Mohon periksa total.")
    assert desk.status(app) == "at_kabid"
    desk.approve("kabid")
    desk.approve("kadis")
    assert desk.status(app) == "signed"

    desk.as_user("admin")
    assert desk.post("arsipkan").status_code == 302
    assert desk.status(app) == "archived"
    page = desk.page()
    for label in ("Menolak", "Memberi paraf", "Menandatangani", "Mengarsipkan"):
        assert label in page
    pdf_links = re.findall(rf"/rekap/{desk.recap_id}/revisi/\d+\.pdf", page)
    assert len(set(pdf_links)) >= 8
    response = desk.client.get(pdf_links[-1])
    assert response.data.startswith(b"%PDF-")


def test_inbox_shows_waiting_recap_for_role(desk):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user("kasi")
    assert "Menunggu paraf Kepala Seksi" in desk.client.get("/").get_data(as_text=True)
    fragment = desk.client.get("/", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "<html" not in fragment
    assert "065.1/1/437.87/2026" in fragment
    desk.as_user("kabid")
    assert "Tidak ada rekapitulasi yang menunggu" in desk.client.get("/").get_data(
        as_text=True
    )


def test_wrong_passphrase_shows_message(app, desk):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user("kasi")
    response = desk.post("setujui", passphrase="salah-sekali-999")
    assert response.status_code == 400
    assert "Frasa sandi salah" in response.get_data(as_text=True)
    assert desk.status(app) == "at_kasi"


def test_reject_without_reason_shows_message(app, desk):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user("kasi")
    response = desk.post("tolak", reason="")
    assert response.status_code == 400
    assert "Alasan penolakan wajib" in response.get_data(as_text=True)
    assert desk.status(app) == "at_kasi"


def test_double_click_on_paraf_is_stale(app, desk):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user("kasi")
    html = desk.page()
    data = {
        "csrf_token": csrf_token_from(html),
        "version": re.search(r'name="version" value="(\d+)"', html).group(1),
        "passphrase": desk.credentials["kasi"]["passphrase"],
    }
    first = desk.client.post(f"/rekap/{desk.recap_id}/setujui", data=data)
    second = desk.client.post(f"/rekap/{desk.recap_id}/setujui", data=data)
    assert first.status_code == 302
    assert second.status_code == 409
    assert "sudah diproses" in second.get_data(as_text=True)
    assert desk.status(app) == "at_kabid"


@pytest.mark.parametrize("username", ["admin", "kabid", "kadis", "sysadmin"])
def test_approve_by_wrong_role_forbidden(app, desk, username):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user(username)
    with app.app_context():
        version = db.session().get(Recap, desk.recap_id).version
    response = desk.post("setujui", passphrase="apa-saja-12345", version=str(version))
    assert response.status_code == 403
    assert desk.status(app) == "at_kasi"


def test_post_without_csrf_rejected(app, desk):
    desk.prepare_draft()
    response = desk.client.post(f"/rekap/{desk.recap_id}/ajukan", data={"version": "1"})
    assert response.status_code == 400
    assert desk.status(app) == "draft"


def test_revoked_key_replaced_by_new_passphrase(app, desk):
    desk.as_user("sysadmin")
    with app.app_context():
        kasi_id = db.session().query(User).filter_by(username="kasi").one().id
    page = desk.client.get(f"/admin/pengguna/{kasi_id}").get_data(as_text=True)
    assert "Cabut kunci" in page
    assert "Alasan pencabutan" in page
    # A revocation without a reason is rejected and leaves the key active.
    response = desk.revoke_key(kasi_id)
    assert response.status_code == 400
    with app.app_context():
        kasi = db.session().get(User, kasi_id)
        assert keys.active_key(db.session(), kasi) is not None
    desk.revoke_key(kasi_id, "superseded")
    with app.app_context():
        revoked = db.session().query(SigningKey).filter_by(user_id=kasi_id).one()
        assert revoked.is_revoked
        assert revoked.revocation_reason == "superseded"
    desk.as_user("kasi")
    page = desk.client.get("/kunci").get_data(as_text=True)
    assert "belum memiliki kunci" in page
    response = desk.client.post(
        "/kunci",
        data={
            "csrf_token": csrf_token_from(page),
            "passphrase": "frasa-baru-kasi-1",
            "confirmation": "frasa-baru-kasi-2",
        },
    )
    assert response.status_code == 422
    assert "tidak sama" in response.get_data(as_text=True)
    response = desk.client.post(
        "/kunci",
        data={
            "csrf_token": csrf_token_from(page),
            "passphrase": "frasa-baru-kasi-1",
            "confirmation": "frasa-baru-kasi-1",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        stored = db.session().query(SigningKey).filter_by(user_id=kasi_id).all()
        assert [k.is_revoked for k in stored] == [True, False]
        assert b"frasa-baru-kasi-1" not in stored[1].pkcs12


def test_tsa_endpoint_answers_timestamp_request(app, client, office_pki):
    from asn1crypto import algos, tsp

    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": b"\x11" * 32,
            },
            "nonce": 12345,
            "cert_req": True,
        }
    )
    response = client.post(
        "/tsa",
        data=request.dump(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    assert response.status_code == 200
    answer = tsp.TimeStampResp.load(response.data)
    assert answer["status"]["status"].native == "granted"
    info = answer["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 12345


def test_tsa_endpoint_rejects_wrong_content_type(client, office_pki):
    response = client.post("/tsa", data=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_inbox_badge_counts_waiting(desk):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user("kasi")
    badge = desk.client.get("/kotak-masuk/jumlah", headers={"HX-Request": "true"})
    assert ">1</span>" in badge.get_data(as_text=True)
    desk.as_user("kadis")
    badge = desk.client.get("/kotak-masuk/jumlah")
    assert "nav-badge" not in badge.get_data(as_text=True)


def test_inbox_page_counts_per_state(desk):
    desk.prepare_draft()
    page = desk.client.get("/").get_data(as_text=True)
    assert "Konsep: <strong>1</strong>" in page
    assert "Diarsipkan: <strong>0</strong>" in page


def test_external_pkcs12_imported_and_used_for_paraf(app, desk):
    from sigrekap import keys, pki
    from sigrekap.verify import verify_pdf

    external_ca = pki.create_ca("Balai Sertifikasi Elektronik Uji")
    issued = pki.issue_signing_certificate(
        external_ca,
        name="Dimas Prasetyo, S.Kom.",
        title="Kepala Seksi Layanan Informasi dan Statistik",
        nip="198507222010011003",
        office="Dinas Komunikasi dan Informatika Kabupaten Gresik",
    )
    p12 = pki.export_pkcs12(issued, external_ca.certificate, "frasa-dari-bsre-1")

    desk.as_user("sysadmin")
    with app.app_context():
        kasi_id = db.session().query(User).filter_by(username="kasi").one().id
    desk.revoke_key(kasi_id, "superseded")
    response = desk.import_key(kasi_id, p12, "frasa-salah-sekali")
    assert response.status_code == 400
    response = desk.import_key(kasi_id, p12, "frasa-dari-bsre-1")
    assert response.status_code == 302
    certs = Path(app.config["CERTS_DIR"])
    assert any(p.name.startswith("external-") for p in certs.glob("*.pem"))

    desk.prepare_draft()
    desk.post("ajukan")
    desk.as_user("kasi")
    response = desk.post("setujui", passphrase="frasa-dari-bsre-1")
    assert response.status_code == 302
    assert desk.status(app) == "at_kabid"
    with app.app_context():
        recap = db.session().get(Recap, desk.recap_id)
        store = FileStore(Path(app.config["STORAGE_DIR"]))
        data = store.get(recap.current_revision.sha256)
    report = verify_pdf(data, keys.trust_roots(certs))
    assert report.exit_code == 0, report.to_dict()

    # The office has no CRL of the external CA, yet revoking the key as
    # compromised must still reach every verification.
    desk.as_user("sysadmin")
    assert desk.revoke_key(kasi_id, "key_compromise").status_code == 302
    page = desk.client.get("/verifikasi").get_data(as_text=True)
    response = desk.client.post(
        "/verifikasi",
        data={
            "csrf_token": csrf_token_from(page),
            "berkas": (io.BytesIO(data), "r.pdf"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert re.findall(r'data-verdict="(\w+)"', page) == ["invalid"]
    assert "Sertifikat penanda tangan telah dicabut." in page

    # The leaked key cannot come back through a second import.
    response = desk.import_key(kasi_id, p12, "frasa-dari-bsre-1")
    assert response.status_code == 400
    with app.app_context():
        kasi = db.session().get(User, kasi_id)
        assert keys.active_key(db.session(), kasi) is None


def test_external_cas_with_same_serial_are_both_trusted(app, office_pki, monkeypatch):
    from sigrekap import pki

    monkeypatch.setattr(pki.x509, "random_serial_number", lambda: 1)
    with app.app_context():
        session = db.session()
        sysadmin = session.query(User).filter_by(username="sysadmin").one()
        certs = Path(app.config["CERTS_DIR"])
        for index, username in enumerate(("kasi", "kabid")):
            user = session.query(User).filter_by(username=username).one()
            if keys.active_key(session, user) is not None:
                keys.revoke_key(session, sysadmin, user.id, "superseded")
            ca = pki.create_ca(f"Penerbit Uji {index}")
            issued = pki.issue_signing_certificate(
                ca, name=user.name, title="Pejabat", nip=user.nip, office="Dinas Uji"
            )
            p12 = pki.export_pkcs12(issued, ca.certificate, "frasa-impor-1")
            keys.import_external_key(
                session, sysadmin, user.id, p12, "frasa-impor-1", office_pki, certs
            )
        subjects = {root.subject for root in keys.trust_roots(certs)}
    assert {f"Penerbit Uji {index}" in str(subjects) for index in (0, 1)} == {True}
    assert len(list(certs.glob("external-*.pem"))) == 2


@pytest.mark.parametrize(
    "reason, verdict, revocation_text",
    [
        ("key_compromise", "invalid", "Dicabut"),
        ("superseded", "valid", "Dicabut setelah penandatanganan"),
    ],
)
def test_revocation_reaches_crl_and_verification(
    app, desk, reason, verdict, revocation_text
):
    desk.prepare_draft()
    desk.post("ajukan")
    for username in ("kasi", "kabid", "kadis"):
        desk.approve(username)
    with app.app_context():
        session = db.session()
        recap = session.get(Recap, desk.recap_id)
        signed = FileStore(Path(app.config["STORAGE_DIR"])).get(
            recap.current_revision.sha256
        )
        kabid = session.query(User).filter_by(username="kabid").one()
        kabid_id = kabid.id
        serial = int(keys.active_key(session, kabid).serial, 16)

    # Revoked right after signing, often within the same second: CRLs give
    # whole seconds, and the revocation must still come after the timestamp.
    desk.as_user("sysadmin")
    response = desk.revoke_key(kabid_id, reason)
    assert response.status_code == 302

    # The CRL needs no login and lists the key with its reason.
    desk.client.post(
        "/keluar",
        data={
            "csrf_token": csrf_token_from(desk.client.get("/").get_data(as_text=True))
        },
    )
    response = desk.client.get("/crl/sigrekap-ca.crl")
    assert response.status_code == 200
    assert response.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.data)
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    listed = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert listed.name == reason

    page = desk.client.get("/verifikasi").get_data(as_text=True)
    response = desk.client.post(
        "/verifikasi",
        data={
            "csrf_token": csrf_token_from(page),
            "berkas": (io.BytesIO(signed), "r.pdf"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert re.findall(r'data-verdict="(\w+)"', page) == [verdict]
    assert revocation_text in page


def test_revocation_reason_can_be_set_or_escalated(app, desk):
    desk.as_user("sysadmin")
    with app.app_context():
        session = db.session()
        kasi = session.query(User).filter_by(username="kasi").one()
        kasi_id = kasi.id
        key_id = keys.active_key(session, kasi).id
    desk.revoke_key(kasi_id, "superseded")
    page = desk.client.get(f"/admin/pengguna/{kasi_id}").get_data(as_text=True)
    assert "Kunci yang dicabut" in page
    assert "Diganti kunci baru" in page

    def change(reason):
        page = desk.client.get(f"/admin/pengguna/{kasi_id}").get_data(as_text=True)
        return desk.client.post(
            f"/admin/pengguna/{kasi_id}/kunci/{key_id}/alasan",
            data={"csrf_token": csrf_token_from(page), "reason": reason},
        )

    def stored_reason():
        with app.app_context():
            return db.session().get(SigningKey, key_id).revocation_reason

    # One replacement reason cannot become another, but any can become a leak.
    assert change("cessation_of_operation").status_code == 400
    assert stored_reason() == "superseded"
    assert change("key_compromise").status_code == 302
    assert stored_reason() == "key_compromise"
    # A leak stays a leak.
    assert change("superseded").status_code == 400
    assert stored_reason() == "key_compromise"

    # A key revoked before reasons were recorded may get any reason.
    with app.app_context():
        session = db.session()
        session.get(SigningKey, key_id).revocation_reason = None
        session.commit()
    page = desk.client.get(f"/admin/pengguna/{kasi_id}").get_data(as_text=True)
    assert "Tidak dicatat; dianggap bocor" in page
    assert change("superseded").status_code == 302
    assert stored_reason() == "superseded"
    # Another user's key id in the path is not found.
    response = desk.client.post(
        f"/admin/pengguna/{kasi_id + 1}/kunci/{key_id}/alasan",
        data={"csrf_token": csrf_token_from(page), "reason": "key_compromise"},
    )
    assert response.status_code == 404
    desk.as_user("kasi")
    response = desk.client.post(
        f"/admin/pengguna/{kasi_id}/kunci/{key_id}/alasan",
        data={"csrf_token": desk._token("/"), "reason": "key_compromise"},
    )
    assert response.status_code == 403
    assert stored_reason() == "superseded"


def test_leaked_paraf_key_hides_approve_button(app, desk):
    desk.prepare_draft()
    desk.post("ajukan")
    desk.approve("kasi")
    desk.as_user("sysadmin")
    with app.app_context():
        kasi_id = db.session().query(User).filter_by(username="kasi").one().id
    desk.revoke_key(kasi_id, "key_compromise")
    desk.as_user("kabid")
    page = desk.page()
    assert "dicabut karena bocor" in page
    assert "Setiap penolakan mengembalikannya satu langkah" in page
    assert "Beri paraf…" not in page
    assert "Tolak…" in page
    response = desk.post("setujui", passphrase=desk.credentials["kabid"]["passphrase"])
    assert response.status_code == 409
    assert desk.status(app) == "at_kabid"


def test_signing_passphrase_must_differ_from_password(app, desk):
    desk.as_user("sysadmin")
    with app.app_context():
        kasi_id = db.session().query(User).filter_by(username="kasi").one().id
    desk.revoke_key(kasi_id, "superseded")
    desk.as_user("kasi")
    password = desk.credentials["kasi"]["password"]
    page = desk.client.get("/kunci").get_data(as_text=True)
    response = desk.client.post(
        "/kunci",
        data={
            "csrf_token": csrf_token_from(page),
            "passphrase": password,
            "confirmation": password,
        },
    )
    assert response.status_code == 422
    assert "berbeda dari kata sandi masuk" in response.get_data(as_text=True)


def test_logout_invalidates_copied_cookie(desk):
    desk.as_user("kasi")
    cookie = desk.client.get_cookie("session").value
    desk.client.post("/keluar", data={"csrf_token": desk._token("/")})
    desk.client.set_cookie("session", cookie)
    assert desk.client.get("/").status_code == 302


def test_huge_id_is_not_found(desk):
    desk.as_user("admin")
    assert desk.client.get("/rekap/999999999999999999999").status_code == 404


def test_confirming_preview_twice_saves_once(app, desk):
    desk.as_user("admin")
    response = desk.client.post(
        "/rekap", data={"csrf_token": desk._token("/"), "period": "2026-11"}
    )
    desk.recap_id = int(response.headers["Location"].rsplit("/", 1)[1])
    upload = desk.client.post(
        f"/rekap/{desk.recap_id}/impor",
        data={
            "csrf_token": csrf_token_from(desk.page()),
            "file": (
                io.BytesIO((FIXTURES / "lapor-2026-11.csv").read_bytes()),
                "a.csv",
            ),
        },
        content_type="multipart/form-data",
    )
    preview = upload.headers["Location"]
    token = desk._token(preview)
    first = desk.client.post(f"{preview}/konfirmasi", data={"csrf_token": token})
    second = desk.client.post(f"{preview}/konfirmasi", data={"csrf_token": token})
    assert first.status_code == 302
    assert second.status_code == 404
    from sigrekap.models import ImportBatch

    with app.app_context():
        assert db.session().query(ImportBatch).count() == 1


def test_sysadmin_unblocks_locked_key(app, desk):
    import datetime as dt

    from sigrekap.models import utcnow

    with app.app_context():
        session = db.session()
        kasi = session.query(User).filter_by(username="kasi").one()
        key = (
            session.query(SigningKey).filter_by(user_id=kasi.id, is_revoked=False).one()
        )
        key.locked_until_dt = utcnow() + dt.timedelta(minutes=10)
        session.commit()
        kasi_id = kasi.id
    desk.as_user("sysadmin")
    page = desk.client.get(f"/admin/pengguna/{kasi_id}").get_data(as_text=True)
    assert "Kunci diblokir sampai" in page
    response = desk.client.post(
        f"/admin/pengguna/{kasi_id}/kunci/buka-blokir",
        data={"csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
    with app.app_context():
        key = (
            db.session()
            .query(SigningKey)
            .filter_by(user_id=kasi_id, is_revoked=False)
            .one()
        )
        assert key.locked_until_dt is None
