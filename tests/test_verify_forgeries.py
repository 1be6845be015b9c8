"""Forged and tampered recaps through verify_pdf, `flask verify` and the page.

One genuine recap is driven through the workflow once per module, and every
forgery in tests/forgeries.py is built from it.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, csrf_token_from, truncate_postgres
from forgeries import FORGERIES, GenuineRecap, make_forgeries
from pdftools import assert_all_valid_and_trusted, make_nss_database, pdfsig_blocks
from test_workflow import Chain

from sigrekap import cli, create_app, db, demo, keys, tsa, verify, workflow
from sigrekap.domain import SEAL_FIELD, SIGNATURE_FIELDS
from sigrekap.verify import EXIT_INVALID, EXIT_UNVERIFIABLE, EXIT_VALID, verify_pdf

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.csv").exists(), reason="sample exports not found"
)

# Verdict and a keyword of the reason that each forgery must produce.
EXPECTED = {
    "flipped_byte": ("invalid", "dokumen telah diubah"),
    "content_after_final": ("invalid", "diubah setelah tanda tangan"),
    "metadata_after_final": ("invalid", "tanpa tanda tangan yang sah"),
    "content_after_paraf": ("invalid", "diubah setelah tanda tangan"),
    "overlay_stream": ("invalid", "diubah setelah tanda tangan"),
    "signature_without_contents": ("invalid", "(/Contents) tidak ada"),
    "signature_without_byterange": ("invalid", "(/ByteRange) tidak ada"),
    "signature_null_byterange": ("invalid", "bernilai null"),
    "broken_field_tree": ("invalid", "Struktur kolom tanda tangan dalam PDF rusak"),
    "byterange_gap_too_large": ("invalid", "Cakupan tanda tangan tidak standar"),
    "byterange_tail_uncovered": ("invalid", "Cakupan tanda tangan tidak standar"),
    "swapped_content_reference": ("invalid", "diubah setelah tanda tangan"),
    "annotation_after_final": ("invalid", "diubah setelah tanda tangan"),
    "annotation_after_paraf": ("invalid", "diubah setelah tanda tangan"),
    "annotation_then_paraf": ("invalid", "diubah setelah tanda tangan"),
    "sneaky_signed_field": ("invalid", "tidak dibuat oleh aplikasi"),
    "sneaky_unsigned_field": ("invalid", "tidak dibuat oleh aplikasi"),
    "sneaky_field_without_seal": ("invalid", "tidak dibuat oleh aplikasi"),
    "paraf_out_of_order": ("invalid", "Urutan tanda tangan tidak sesuai"),
    "seal_certificate_on_paraf": ("invalid", "sertifikat pribadi"),
    "junk_after_eof": ("invalid", "data tambahan setelah revisi terakhir"),
    "junk_with_fake_eof": ("invalid", "data tambahan setelah revisi terakhir"),
    "unknown_ca_signature": ("invalid", "tidak tepercaya"),
    "expired_certificate": ("invalid", "kedaluwarsa"),
    "not_a_pdf": ("unverifiable", "bukan dokumen PDF"),
    "encrypted_pdf": ("unverifiable", "terenkripsi"),
    "empty_file": ("unverifiable", "Berkas kosong"),
}
VERDICT_TEXT = {
    "valid": "Sah",
    "invalid": "Tidak sah",
    "unverifiable": "Tidak dapat diverifikasi",
}
EXIT_CODES = {
    "valid": EXIT_VALID,
    "invalid": EXIT_INVALID,
    "unverifiable": EXIT_UNVERIFIABLE,
}
VERDICT_PATTERN = re.compile(r'data-verdict="(\w+)"')


class World:
    """An app with one recap taken through the whole workflow."""

    def __init__(self, app, chain: Chain, office_pki: keys.OfficePKI):
        self.app = app
        self.recap = chain.recap
        self.revisions = {
            revision.kind: workflow.read_revision(chain.settings, revision)
            for revision in chain.revisions()
        }
        self.genuine = GenuineRecap(
            draft=self.revisions["draft"],
            sealed=self.revisions["sealed"],
            kasi=self.revisions["kasi"],
            kabid=self.revisions["kabid"],
            kadis=self.revisions["kadis"],
            ca=office_pki.ca,
            timestamper=tsa.make_timestamper(
                tsa.TimestampConfig(internal_key=office_pki.tsa)
            ),
        )

    @property
    def certs_dir(self) -> Path:
        return Path(self.app.config["CERTS_DIR"])

    def trust_roots(self):
        return keys.trust_roots(self.certs_dir)


def build_world(
    base: Path, sqlite_template: Path, database_url: str | None = None
) -> World:
    """Create an app in ``base`` and drive one recap to the archive.

    The app uses a copy of the SQLite template, or ``database_url`` after
    emptying its tables.
    """
    instance = base / "instance"
    instance.mkdir()
    if database_url is None:
        database = base / "test.db"
        shutil.copy(sqlite_template, database)
        database_url = f"sqlite:///{database}"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-only-secret",
            "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
            "CERTS_DIR": str(base / "certs"),
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance),
            # The module's tests upload far more files than a person would.
            "VERIFY_UPLOADS_PER_MINUTE": 10_000,
        }
    )
    if not database_url.startswith("sqlite"):
        truncate_postgres(app)
    with app.app_context():
        demo.ensure_demo_office(db.session(), instance)
        office_pki = keys.ensure_office_pki(
            instance, Path(app.config["CERTS_DIR"]), demo.OFFICE_NAME
        )
        cli.prepare_demo(db.session(), instance, office_pki)
        chain = Chain(app, office_pki)
        chain.submit()
        for username in ("kasi", "kabid", "kadis"):
            chain.approve(username)
        chain.archive()
        return World(app, chain, office_pki)


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template):
    built = build_world(tmp_path_factory.mktemp("verify-forgeries"), sqlite_template)
    yield built
    built.app.extensions["sigrekap.engine"].dispose()


@pytest.fixture(scope="module")
def forged(world):
    return make_forgeries(world.genuine)


@pytest.fixture(scope="module")
def reports(world, forged):
    roots = world.trust_roots()
    return {name: verify_pdf(data, roots) for name, data in forged.items()}


def all_reasons(report) -> str:
    return "\n".join([report.message, *report.reasons()])


def upload(world, data: bytes, name: str = "rekap.pdf"):
    client = world.app.test_client()
    page = client.get("/verifikasi").get_data(as_text=True)
    return client.post(
        "/verifikasi",
        data={"csrf_token": csrf_token_from(page), "berkas": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def run_cli(world, path: Path):
    # The flask command pushes an app context around every command, but the
    # test runner does not.
    with world.app.app_context():
        return world.app.test_cli_runner().invoke(args=["verify", str(path)])


# Every forgery, three ways


def test_every_forgery_has_an_expectation():
    assert set(EXPECTED) == set(FORGERIES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forgery_verdict(reports, name):
    status, keyword = EXPECTED[name]
    report = reports[name]
    assert report.status == status, report.summary()
    assert report.exit_code == EXIT_CODES[status]
    assert keyword in all_reasons(report), report.summary()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forgery_verdict_from_cli(world, forged, tmp_path, name):
    status, keyword = EXPECTED[name]
    path = tmp_path / "berkas.pdf"
    path.write_bytes(forged[name])
    result = run_cli(world, path)
    assert result.exit_code == EXIT_CODES[status], result.output
    assert f"Hasil: {VERDICT_TEXT[status]} ({status})" in result.output
    assert keyword in result.output


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forgery_verdict_on_page(world, forged, name):
    status, keyword = EXPECTED[name]
    response = upload(world, forged[name])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert VERDICT_PATTERN.findall(html) == [status]
    assert f'<span class="verdict-label">{VERDICT_TEXT[status]}</span>' in html
    assert keyword.replace("'", "&#39;") in html


# What each rule catches


def test_illegal_addition_fails_seal_only(reports):
    report = reports["annotation_then_paraf"]
    by_field = {sig.field_name: sig for sig in report.signatures}
    newest = by_field[SIGNATURE_FIELDS["kasi"]]
    assert newest.ok, newest.problems
    assert newest.coverage == "entire_file"
    assert not by_field[SEAL_FIELD].ok
    assert by_field[SEAL_FIELD].docmdp_ok is False


def test_field_rule_catches_what_pyhanko_accepts(reports):
    report = reports["sneaky_field_without_seal"]
    for sig in report.signatures:
        assert sig.intact
        assert sig.valid
        assert sig.trusted
        assert sig.docmdp_ok is not False
        assert sig.modification_level in ("none", "form_filling")
    assert any("SegelKantor" in problem for problem in report.problems)
    extra = next(sig for sig in report.signatures if sig.field_name == "ParafTambahan")
    assert "bukan kolom tanda tangan rekapitulasi" in extra.problems[0]


def test_sneaky_field_after_paraf_fails_seal(reports):
    for name in ("sneaky_signed_field", "sneaky_unsigned_field"):
        seal = reports[name].signatures[0]
        assert seal.field_name == SEAL_FIELD
        assert any("kolom lain ditambahkan" in p for p in seal.problems), name


def test_trailing_bytes_fail_verdict_only(reports):
    for name in ("junk_after_eof", "junk_with_fake_eof"):
        report = reports[name]
        assert all(sig.intact for sig in report.signatures), name
        assert all(sig.valid for sig in report.signatures), name
        assert all(sig.trusted for sig in report.signatures), name
        assert report.signatures[-1].modification_level == "none"
        assert report.status == "invalid"


def test_malformed_signature_is_listed_not_skipped(reports):
    for name in (
        "signature_without_contents",
        "signature_without_byterange",
        "signature_null_byterange",
    ):
        report = reports[name]
        fields = [sig.field_name for sig in report.signatures]
        assert SIGNATURE_FIELDS["kabid"] in fields, name
        kabid = report.signatures[fields.index(SIGNATURE_FIELDS["kabid"])]
        assert "rusak" in kabid.problems[0]


def test_forged_byte_range_is_cryptographically_intact(reports):
    for name in ("byterange_gap_too_large", "byterange_tail_uncovered"):
        kabid = reports[name].signatures[-1]
        assert kabid.intact, name
        assert kabid.valid, name
        assert kabid.coverage in ("unclear", "contiguous_block_from_start")


def test_flipped_byte_breaks_every_signature(reports):
    assert not any(sig.intact for sig in reports["flipped_byte"].signatures)


def test_expired_certificate_was_invalid_at_signing(reports):
    kabid = reports["expired_certificate"].signatures[-1]
    assert kabid.certificate_valid_at_signing is False
    assert not kabid.trusted


def test_role_check_needs_personal_certificate(reports):
    kabid = reports["seal_certificate_on_paraf"].signatures[-1]
    assert kabid.certificate_kind == "seal"
    assert kabid.intact
    assert kabid.trusted


def test_unexpected_error_fails_closed(world, monkeypatch, caplog):
    def broken_check(*args):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(verify, "_check_revisions", broken_check)
    report = verify_pdf(world.revisions["kadis"], world.trust_roots())
    assert report.status == "invalid"
    assert report.exit_code == EXIT_INVALID
    assert "tidak dapat diperiksa sampai tuntas" in report.message
    assert "simulated bug" in caplog.text


# Genuine revisions


@pytest.mark.parametrize("kind", ["sealed", "kasi", "kabid", "kadis"])
def test_genuine_revision_is_valid(world, kind):
    report = verify_pdf(world.revisions[kind], world.trust_roots())
    assert report.status == "valid", report.summary()
    assert report.is_recap
    assert report.problems == []


def test_genuine_recap_report_details(world):
    report = verify_pdf(world.revisions["kadis"], world.trust_roots())
    seal, kasi, kabid, kadis = report.signatures
    assert [sig.role for sig in report.signatures] == ["seal", "kasi", "kabid", "kadis"]
    assert seal.certificate_kind == "seal"
    assert seal.certification
    assert {kasi.certificate_kind, kabid.certificate_kind, kadis.certificate_kind} == {
        "personal"
    }
    assert kasi.signer_title == "Kepala Seksi Layanan Informasi dan Statistik"
    assert kasi.signer_nip == "198507222010011003"
    assert "SigRekap CA" in kadis.issuer
    assert kadis.timestamp_authority.startswith("SigRekap TSA")
    assert [sig.revision for sig in report.signatures] == [3, 4, 5, 6]
    assert report.revisions == 6
    assert [sig.changes_after for sig in report.signatures] == [
        "signatures",
        "signatures",
        "signatures",
        "none",
    ]
    assert all(sig.certificate_valid_at_signing for sig in report.signatures)
    assert all(sig.revocation == "unknown" for sig in report.signatures)


def test_unsigned_draft_is_unverifiable(world):
    report = verify_pdf(world.revisions["draft"], world.trust_roots())
    assert report.status == "unverifiable"
    assert "tidak memuat tanda tangan" in report.message


@pytest.mark.parametrize("kind", ["sealed", "kasi", "kabid", "kadis"])
def test_genuine_revision_from_cli_and_page(world, tmp_path, kind):
    path = tmp_path / "rekap.pdf"
    path.write_bytes(world.revisions[kind])
    result = run_cli(world, path)
    assert result.exit_code == EXIT_VALID, result.output
    assert "Hasil: Sah (valid)" in result.output

    html = upload(world, world.revisions[kind]).get_data(as_text=True)
    assert VERDICT_PATTERN.findall(html) == ["valid"]
    assert "Tidak sah" not in html


def test_pdfsig_agrees_on_genuine_revisions(world, tmp_path):
    nss = make_nss_database(tmp_path / "nss", sorted(world.certs_dir.glob("*.pem")))
    last_fields = {
        "sealed": SEAL_FIELD,
        "kasi": SIGNATURE_FIELDS["kasi"],
        "kabid": SIGNATURE_FIELDS["kabid"],
        "kadis": SIGNATURE_FIELDS["kadis"],
    }
    for kind, last_field in last_fields.items():
        pdf = world.revisions[kind]
        blocks = pdfsig_blocks(nss, pdf, tmp_path)
        assert_all_valid_and_trusted(blocks, last_field)
        report = verify_pdf(pdf, world.trust_roots())
        assert sorted(blocks) == sorted(sig.field_name for sig in report.signatures)
        assert all(sig.intact for sig in report.signatures), kind
        assert all(sig.valid for sig in report.signatures), kind
        assert all(sig.trusted for sig in report.signatures), kind


def test_cli_without_database_stops_with_advice(world, tmp_path):
    # A fresh instance whose database was never migrated has no key table.
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-only-secret",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "CERTS_DIR": str(world.certs_dir),
        }
    )
    path = tmp_path / "rekap.pdf"
    path.write_bytes(world.genuine.kadis)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["verify", str(path)])
    assert result.exit_code == EXIT_CODES["unverifiable"]
    assert "upgrade-db" in result.output
    assert "Traceback" not in result.output
