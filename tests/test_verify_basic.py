"""verify_pdf on genuine, tampered, forged and unsigned files."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    SigFieldSpec,
    append_signature_field,
    enumerate_sig_fields,
)
from pyhanko.sign.signers import PdfTimeStamper
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from sigrekap import pki, signing, tsa
from sigrekap.domain import SIGNATURE_FIELDS
from sigrekap.verify import (
    EXIT_INVALID,
    EXIT_UNVERIFIABLE,
    EXIT_VALID,
    MAX_REVISIONS,
    MAX_UPDATED_OBJECTS,
    RevokedCertificate,
    verify_pdf,
)

OFFICE = "Dinas Komunikasi dan Informatika Kabupaten Contoh"
WIB = ZoneInfo("Asia/Jakarta")
MARKER = b"Rekapitulasi pengaduan LAPOR"
# Declared in the certificates so that validators check revocation; the
# tests hand CRLs to verify_pdf directly and nothing is ever fetched.
CRL_URL = "http://127.0.0.1:5000/crl/sigrekap-ca.crl"


def make_unsigned_pdf(with_fields: bool = True) -> bytes:
    buffer = io.BytesIO()
    # Uncompressed page content keeps MARKER visible for the byte-flip test.
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
    pdf.drawString(72, 760, MARKER.decode() + "! November 2026")
    pdf.showPage()
    pdf.drawString(72, 760, "Lembar pengesahan")
    pdf.showPage()
    pdf.save()
    if not with_fields:
        return buffer.getvalue()
    writer = IncrementalPdfFileWriter(io.BytesIO(buffer.getvalue()))
    for index, name in enumerate(SIGNATURE_FIELDS.values()):
        box = (40 + 180 * index, 120, 200 + 180 * index, 180)
        append_signature_field(writer, SigFieldSpec(name, on_page=1, box=box))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def office():
    ca = pki.create_ca(OFFICE)
    people = {}
    for index, role in enumerate(SIGNATURE_FIELDS):
        people[role] = pki.issue_signing_certificate(
            ca,
            name=f"Pejabat {role.title()}",
            title=f"Jabatan {role}",
            nip=f"19800101200501100{index}",
            office=OFFICE,
            crl_url=CRL_URL,
        )
    return {
        "ca": ca,
        "seal": pki.issue_seal_certificate(ca, office=OFFICE),
        "timestamper": tsa.make_timestamper(
            tsa.TimestampConfig(
                internal_key=pki.issue_tsa_certificate(ca, office=OFFICE)
            )
        ),
        **people,
    }


def sign_role(pdf: bytes, office, role: str, key=None) -> bytes:
    """Sign the role's field with its key, or with ``key`` in its place."""
    stamp = signing.StampInfo(
        name=f"Pejabat {role.title()}",
        role_label=f"Paraf {role}",
        signed_at=dt.datetime.now(WIB),
        verification_url="http://127.0.0.1:5000/verifikasi/XYZ",
    )
    return signing.sign_field(
        pdf,
        SIGNATURE_FIELDS[role],
        (key or office[role]).to_signer(),
        office["timestamper"],
        stamp=stamp,
        lock=role == "kadis",
    )


@pytest.fixture(scope="module")
def revisions(office):
    """Draft, sealed, kasi, kabid and kadis revisions of one recap."""
    result = [make_unsigned_pdf()]
    result.append(
        signing.certify_draft(
            result[-1], office["seal"].to_signer(), office["timestamper"]
        )
    )
    for role in ("kasi", "kabid", "kadis"):
        result.append(sign_role(result[-1], office, role))
    return result


@pytest.fixture(scope="module")
def roots(office):
    return [office["ca"].certificate]


def append_update(pdf: bytes, change) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def problems_of(report) -> list[str]:
    return [problem for sig in report.signatures for problem in sig.problems]


# Genuine files


def test_fully_signed_recap_is_valid(revisions, roots):
    report = verify_pdf(revisions[-1], roots)
    assert report.status == "valid", report.to_dict()
    assert report.exit_code == EXIT_VALID
    fields = [sig.field_name for sig in report.signatures]
    assert fields == ["SegelKantor", "ParafKasi", "ParafKabid", "TandaTanganKadis"]
    roles = [sig.role for sig in report.signatures]
    assert roles == ["seal", "kasi", "kabid", "kadis"]
    for sig in report.signatures:
        assert sig.intact
        assert sig.valid
        assert sig.trusted
        assert sig.timestamp_trusted
        assert sig.timestamp_time is not None
        assert sig.docmdp_ok
    assert report.signatures[0].certification
    assert not any(sig.certification for sig in report.signatures[1:])
    assert report.signatures[1].signer_name == "Pejabat Kasi"
    coverages = [sig.coverage for sig in report.signatures]
    assert coverages == ["entire_revision"] * 3 + ["entire_file"]
    levels = [sig.modification_level for sig in report.signatures]
    assert levels == ["form_filling"] * 3 + ["none"]


@pytest.mark.parametrize("index", [1, 2, 3])
def test_intermediate_revisions_are_valid(revisions, roots, index):
    report = verify_pdf(revisions[index], roots)
    assert report.exit_code == EXIT_VALID, report.to_dict()
    assert len(report.signatures) == index


def test_trust_roots_accept_pem_bytes(revisions, office):
    report = verify_pdf(revisions[-1], [office["ca"].certificate_pem()])
    assert report.exit_code == EXIT_VALID


def test_report_serialises_to_json(revisions, roots):
    data = json.loads(json.dumps(verify_pdf(revisions[-1], roots).to_dict()))
    assert data["status"] == "valid"
    assert data["exit_code"] == 0
    assert len(data["sha256"]) == 64
    first = data["signatures"][0]
    assert first["ok"] is True
    assert first["problems"] == []
    dt.datetime.fromisoformat(first["timestamp_time"])


def test_document_timestamp_after_lock_is_valid(revisions, roots, office):
    writer = IncrementalPdfFileWriter(io.BytesIO(revisions[-1]))
    stamped = PdfTimeStamper(office["timestamper"]).timestamp_pdf(writer, "sha256")
    report = verify_pdf(stamped.getvalue(), roots)
    assert report.exit_code == EXIT_VALID, report.to_dict()
    last = report.signatures[-1]
    assert last.kind == "document_timestamp"
    assert last.coverage == "entire_file"
    assert last.timestamp_trusted
    assert report.signatures[-2].modification_level == "lta_updates"


# Forged and tampered files


def test_unknown_ca_is_untrusted(revisions):
    stranger = pki.create_ca("Kantor Lain")
    report = verify_pdf(revisions[-1], [stranger.certificate])
    assert report.exit_code == EXIT_INVALID
    assert report.status == "invalid"
    assert not any(sig.trusted for sig in report.signatures)
    assert all(sig.intact for sig in report.signatures)
    assert any("tidak tepercaya" in p for p in problems_of(report))


def test_bytes_after_last_eof_are_invalid(revisions, roots):
    report = verify_pdf(revisions[-1] + b"\n% ditambahkan\n", roots)
    assert report.exit_code == EXIT_INVALID
    last = report.signatures[-1]
    assert last.coverage == "entire_revision"
    assert any("setelah tanda tangan terakhir" in p for p in last.problems)


def test_flipped_byte_in_signed_range_is_invalid(revisions, roots):
    data = bytearray(revisions[-1])
    position = data.index(MARKER) + 3
    data[position] ^= 0x01
    report = verify_pdf(bytes(data), roots)
    assert report.exit_code == EXIT_INVALID
    assert not any(sig.intact for sig in report.signatures)
    assert any("telah diubah" in p for p in problems_of(report))


def test_flipped_byte_in_signature_value_is_invalid(revisions, roots):
    data = bytearray(revisions[-1])
    reader = PdfFileReader(io.BytesIO(revisions[-1]))
    kadis = reader.embedded_signatures[-1]
    signature_hex = kadis.signer_info["signature"].native.hex().encode()
    position = bytes(data).lower().index(signature_hex) + 10
    data[position] = ord("0") if data[position] != ord("0") else ord("1")
    report = verify_pdf(bytes(data), roots)
    assert report.exit_code == EXIT_INVALID
    last = report.signatures[-1]
    assert last.intact
    assert not last.valid
    assert any("kriptografis tidak valid" in p for p in last.problems)


def test_content_change_after_lock_is_invalid(revisions, roots):
    def replace_first_page(writer):
        page_ref = writer.root["/Pages"]["/Kids"][0]
        page = page_ref.get_object()
        stream = generic.StreamObject(
            stream_data=b"BT /F1 24 Tf 72 700 Td (PALSU) Tj ET"
        )
        page["/Contents"] = writer.add_object(stream)
        writer.update_container(page)

    report = verify_pdf(append_update(revisions[-1], replace_first_page), roots)
    assert report.exit_code == EXIT_INVALID
    kadis = report.signatures[-1]
    assert kadis.intact
    assert not kadis.ok
    assert kadis.modification_level == "other"


def test_annotation_after_lock_is_invalid(revisions, roots):
    def add_note(writer):
        page_ref = writer.root["/Pages"]["/Kids"].raw_get(1)
        annot = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Text"),
                pdf_name("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (100, 100, 120, 120)]
                ),
                pdf_name("/Contents"): generic.TextStringObject("disetujui"),
            }
        )
        writer.register_annotation(page_ref, writer.add_object(annot))

    report = verify_pdf(append_update(revisions[-1], add_note), roots)
    assert report.exit_code == EXIT_INVALID
    assert not report.signatures[-1].ok
    # The seal allows form filling only, so it rejects the annotation too.
    assert not report.signatures[0].ok


def test_new_signature_field_after_lock_is_invalid(revisions, roots):
    def add_field(writer):
        append_signature_field(
            writer, SigFieldSpec("Tambahan", on_page=1, box=(40, 300, 200, 360))
        )

    report = verify_pdf(append_update(revisions[-1], add_field), roots)
    assert report.exit_code == EXIT_INVALID
    assert not report.signatures[-1].ok


def test_missing_crl_is_soft_fail(revisions, roots):
    # Nothing is fetched, so a declared but unavailable CRL does not fail.
    assert verify_pdf(revisions[-1], roots).exit_code == EXIT_VALID


def test_crl_without_revocations_is_valid(revisions, roots, office):
    crl = pki.make_crl(office["ca"], [])
    assert verify_pdf(revisions[-1], roots, crls=[crl]).exit_code == EXIT_VALID


def test_revoked_certificate_is_invalid(revisions, roots, office):
    revoked_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    crl = pki.make_crl(
        office["ca"], [(office["kabid"].certificate.serial_number, revoked_at)]
    )
    report = verify_pdf(revisions[-1], roots, crls=[crl])
    assert report.exit_code == EXIT_INVALID
    by_role = {sig.role: sig for sig in report.signatures}
    assert not by_role["kabid"].trusted
    assert any("dicabut" in p for p in by_role["kabid"].problems)
    assert by_role["kasi"].ok


# Validation time


def after_days(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def test_expired_certificate_checked_at_timestamp(revisions, roots):
    # Personal certificates last 730 days, the seal and the TSA 1,825 days.
    report = verify_pdf(revisions[-1], roots, moment=after_days(800))
    assert report.exit_code == EXIT_VALID, report.to_dict()
    by_role = {sig.role: sig for sig in report.signatures}
    assert by_role["seal"].certificate_checked_at is None
    for role in ("kasi", "kabid", "kadis"):
        signature = by_role[role]
        assert signature.trusted, role
        assert signature.certificate_checked_at == signature.timestamp_time, role
    assert report.to_dict()["signatures"][1]["certificate_checked_at"]


def test_expired_timestamp_authority_is_invalid(revisions, roots):
    report = verify_pdf(revisions[-1], roots, moment=after_days(2000))
    assert report.exit_code == EXIT_INVALID
    for signature in report.signatures:
        assert not signature.trusted, signature.role
        assert signature.certificate_checked_at is None, signature.role
        assert "Sertifikat penanda tangan sudah kedaluwarsa." in signature.problems


def test_certificate_expired_before_signing_is_invalid(
    revisions, roots, office, monkeypatch
):
    # Issued an hour ago and valid for no time at all.
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    monkeypatch.setattr(pki, "_now", lambda: an_hour_ago)
    expired = pki.issue_signing_certificate(
        office["ca"],
        name="Pejabat Kasi",
        title="Jabatan kasi",
        nip="198001012005011009",
        office=OFFICE,
        valid_days=0,
    )
    monkeypatch.undo()
    signed = sign_role(revisions[1], office, "kasi", key=expired)
    for moment in (None, after_days(800)):
        report = verify_pdf(signed, roots, moment=moment)
        assert report.exit_code == EXIT_INVALID
        kasi = report.signatures[1]
        assert not kasi.trusted
        assert kasi.certificate_checked_at is None
        assert kasi.certificate_valid_at_signing is False


def test_revoked_certificate_stays_invalid_after_expiry(revisions, roots, office):
    # Revoked after the signature: the key may have leaked before the date.
    crl = pki.make_crl(
        office["ca"],
        [(office["kabid"].certificate.serial_number, dt.datetime.now(dt.UTC))],
    )
    report = verify_pdf(revisions[-1], roots, crls=[crl], moment=after_days(800))
    by_role = {sig.role: sig for sig in report.signatures}
    assert report.exit_code == EXIT_INVALID
    assert not by_role["kabid"].ok
    assert by_role["kabid"].certificate_checked_at is None
    # The revocation is named before the expiry it outweighs.
    assert by_role["kabid"].problems[0] == "Sertifikat penanda tangan telah dicabut."
    assert by_role["kasi"].ok
    assert "diperiksa menurut keadaan pada waktu cap waktu" in report.summary()


def kabid_revoked(office, revoked_at, reason):
    serial = office["kabid"].certificate.serial_number
    return pki.make_crl(office["ca"], [(serial, revoked_at)], reasons={serial: reason})


@pytest.mark.parametrize(
    "reason", [x509.ReasonFlags.superseded, x509.ReasonFlags.cessation_of_operation]
)
@pytest.mark.parametrize("days", [0, 800])
def test_key_replaced_after_signing_stays_valid(revisions, roots, office, reason, days):
    crl = kabid_revoked(office, dt.datetime.now(dt.UTC), reason)
    report = verify_pdf(revisions[-1], roots, crls=[crl], moment=after_days(days))
    assert report.exit_code == EXIT_VALID, report.to_dict()
    kabid = {sig.role: sig for sig in report.signatures}["kabid"]
    assert kabid.revocation == "revoked_later"
    assert kabid.certificate_checked_at == kabid.timestamp_time
    assert "Dicabut setelah penandatanganan" in report.summary()


def test_key_replaced_before_signing_is_invalid(revisions, roots, office):
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    crl = kabid_revoked(office, an_hour_ago, x509.ReasonFlags.superseded)
    report = verify_pdf(revisions[-1], roots, crls=[crl])
    kabid = {sig.role: sig for sig in report.signatures}["kabid"]
    assert report.exit_code == EXIT_INVALID
    assert kabid.revocation == "revoked"
    assert any("dicabut" in problem for problem in kabid.problems)


@pytest.mark.parametrize(
    "reason, exit_code, revocation",
    [
        ("key_compromise", EXIT_INVALID, "revoked"),
        (None, EXIT_INVALID, "revoked"),
        ("superseded", EXIT_VALID, "revoked_later"),
    ],
)
def test_revocation_without_crl_counts(
    revisions, roots, office, reason, exit_code, revocation
):
    revoked = RevokedCertificate(
        certificate=office["kabid"].certificate,
        revoked_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2),
        reason=reason,
    )
    report = verify_pdf(revisions[-1], roots, revoked=[revoked])
    assert report.exit_code == exit_code, report.to_dict()
    kabid = {sig.role: sig for sig in report.signatures}["kabid"]
    assert kabid.revocation == revocation
    assert {sig.role: sig for sig in report.signatures}["kasi"].ok


def test_crl_with_foreign_signature_is_ignored(revisions, roots, office):
    # Same issuer name as the office CA, but another key signed the CRL.
    impostor = pki.create_ca(OFFICE)
    assert impostor.certificate.subject == office["ca"].certificate.subject
    serial = office["kabid"].certificate.serial_number
    forged = pki.make_crl(impostor, [(serial, dt.datetime.now(dt.UTC))])
    report = verify_pdf(revisions[-1], roots, crls=[forged, b"not a crl"])
    assert report.exit_code == EXIT_VALID, report.to_dict()
    kabid = {sig.role: sig for sig in report.signatures}["kabid"]
    assert kabid.revocation == "unknown"


def test_compromised_key_is_invalid_after_signing(revisions, roots, office):
    crl = kabid_revoked(
        office, dt.datetime.now(dt.UTC), x509.ReasonFlags.key_compromise
    )
    report = verify_pdf(revisions[-1], roots, crls=[crl])
    kabid = {sig.role: sig for sig in report.signatures}["kabid"]
    assert report.exit_code == EXIT_INVALID
    assert kabid.revocation == "revoked"
    assert kabid.certificate_checked_at is None


@pytest.mark.parametrize(
    "signature_dict",
    [
        {"/Type": "/Sig", "/Filter": "/Adobe.PPKLite"},
        {
            "/Type": "/Sig",
            "/Filter": "/Adobe.PPKLite",
            "/SubFilter": "/ETSI.CAdES.detached",
            "/ByteRange": [0, 10, 20, 30],
            "/Contents": b"\x30\x03\x02\x01\x00",
        },
        {
            "/Type": "/Sig",
            "/Filter": "/Adobe.PPKLite",
            "/SubFilter": "/x.unknown",
            "/ByteRange": [0, 10, 20, 30],
            "/Contents": b"garbage",
        },
    ],
    ids=["no-byterange", "bogus-cms", "unknown-subfilter"],
)
def test_malformed_signature_dictionary_is_invalid(revisions, roots, signature_dict):
    def fill_with_junk(writer):
        _, _, field_ref = next(
            enumerate_sig_fields(writer, with_name=SIGNATURE_FIELDS["kasi"])
        )
        entries = {}
        for key, value in signature_dict.items():
            if isinstance(value, bytes):
                entries[pdf_name(key)] = generic.ByteStringObject(value)
            elif isinstance(value, list):
                entries[pdf_name(key)] = generic.ArrayObject(
                    [generic.NumberObject(n) for n in value]
                )
            else:
                entries[pdf_name(key)] = pdf_name(value)
        field = field_ref.get_object()
        field[pdf_name("/V")] = writer.add_object(generic.DictionaryObject(entries))
        writer.update_container(field)

    report = verify_pdf(append_update(revisions[1], fill_with_junk), roots)
    assert report.exit_code == EXIT_INVALID
    assert report.status == "invalid"
    kasi = next(sig for sig in report.signatures if sig.field_name == "ParafKasi")
    assert not kasi.ok


# Files that cannot be verified


@pytest.mark.parametrize(
    "data",
    [b"", b"bukan dokumen PDF", b"PK\x03\x04 zip archive", b"%PDF-1.7\n garbage"],
    ids=["empty", "text", "zip", "broken-pdf"],
)
def test_unreadable_input_is_unverifiable(data, roots):
    report = verify_pdf(data, roots)
    assert report.exit_code == EXIT_UNVERIFIABLE
    assert report.status == "unverifiable"
    assert report.signatures == []


def test_unsigned_pdf_is_unverifiable(roots):
    report = verify_pdf(make_unsigned_pdf(with_fields=False), roots)
    assert report.exit_code == EXIT_UNVERIFIABLE
    assert "tidak memuat tanda tangan" in report.message


@pytest.mark.parametrize(
    "data, message",
    [
        (b"%PDF-1.7\n" + b"\0" * 2_000_000, "penanda akhir PDF"),
        (b"%PDF-1.7\n" + b" " * 2_000_000 + b"%%EOF", "penanda akhir PDF"),
        (
            b"%PDF-1.7\n" + b"\0" * 2_000_000 + b"\nstartxref\n9\n%%EOF\n",
            "tabel referensi silang",
        ),
        (b"%PDF-1.7\nstartxref\n99999999\n%%EOF\n", "tabel referensi silang"),
    ],
    ids=["no-trailer", "eof-only", "xref-offset-to-junk", "xref-offset-past-end"],
)
def test_broken_trailer_is_rejected_before_parsing(data, message, roots):
    report = verify_pdf(data, roots)
    assert report.exit_code == EXIT_UNVERIFIABLE
    assert message in report.message


@pytest.mark.parametrize("fill", [b"\n" * 6000, b"\0" * 6000, b" \r\n" * 50])
def test_trailing_whitespace_is_tolerated(revisions, roots, fill):
    report = verify_pdf(revisions[-1] + fill, roots)
    assert report.exit_code == EXIT_VALID, report.to_dict()


def test_large_appendix_is_invalid_without_parsing(revisions, roots):
    report = verify_pdf(revisions[-1] + b"sisipan " * 2000, roots)
    assert report.exit_code == EXIT_INVALID
    assert re.search(r"Ada 1600\d bait tambahan setelah akhir PDF", report.problems[0])
    report = verify_pdf(revisions[-1] + b"\n" * 100_000, roots)
    assert report.exit_code == EXIT_INVALID
    assert re.search(r"Ada 10000\d bait tambahan", report.problems[0])


def test_too_many_revisions_are_invalid(revisions, roots):
    def add_note(index):
        def change(writer):
            writer.add_object(generic.TextStringObject(f"catatan {index}"))

        return change

    data = revisions[-1]
    genuine_revisions = PdfFileReader(io.BytesIO(data)).xrefs.total_revisions
    for index in range(MAX_REVISIONS):
        data = append_update(data, add_note(index))
    report = verify_pdf(data, roots)
    assert report.exit_code == EXIT_INVALID
    assert report.signatures == []
    assert report.revisions == MAX_REVISIONS + genuine_revisions
    assert f"lebih dari {MAX_REVISIONS}" in report.problems[0]


def test_too_many_added_objects_are_invalid(revisions, roots):
    def add_objects(writer):
        for index in range(MAX_UPDATED_OBJECTS + 1):
            writer.add_object(generic.NumberObject(index))

    report = verify_pdf(append_update(revisions[-1], add_objects), roots)
    assert report.exit_code == EXIT_INVALID
    assert report.signatures == []
    assert "objek PDF" in report.problems[0]


def test_pdf_with_only_empty_fields_is_unverifiable(revisions, roots):
    report = verify_pdf(revisions[0], roots)
    assert report.exit_code == EXIT_UNVERIFIABLE
