"""Signing round trips: seal, two paraf and the locking signature, with real
keys, the office TSA (in-process and over HTTP on 127.0.0.1) and pdfsig."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import http.server
import io
import itertools
import re
import shutil
import socket
import subprocess
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import qrcode
from asn1crypto import cms, core, tsp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fontTools import ttLib
from pyhanko.pdf_utils.form_tools import get_single_field_annot
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.qr import PdfStreamQRImage
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import (
    MDPPerm,
    SigFieldSpec,
    append_signature_field,
    enumerate_sig_fields,
)
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import (
    SignatureCoverageLevel,
    read_certification_data,
    validate_pdf_signature,
)
from pyhanko_certvalidator import ValidationContext
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from sigrekap import pki, signing, tsa
from sigrekap.domain import SEAL_FIELD, SIGNATURE_FIELDS

OFFICE = "Dinas Komunikasi dan Informatika Kabupaten Contoh"
WIB = ZoneInfo("Asia/Jakarta")
VERIFY_URL = "http://127.0.0.1:5000/verifikasi/AB12CD"


def make_draft(
    extra_fields: tuple[str, ...] = (),
    boxes: dict[str, tuple[float, float, float, float]] | None = None,
) -> bytes:
    """Build a two-page draft with the three empty signature fields."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
    pdf.drawString(72, 760, "Rekapitulasi pengaduan LAPOR! November 2026")
    pdf.showPage()
    pdf.drawString(72, 760, "Lembar pengesahan")
    pdf.showPage()
    pdf.save()
    writer = IncrementalPdfFileWriter(io.BytesIO(buffer.getvalue()))
    boxes = dict(
        boxes
        or {
            "ParafKasi": (60, 120, 220, 170),
            "ParafKabid": (230, 120, 390, 170),
            "TandaTanganKadis": (300, 200, 560, 300),
        }
    )
    for index, name in enumerate(extra_fields):
        boxes[name] = (60, 320 + 60 * index, 220, 370 + 60 * index)
    for name, box in boxes.items():
        append_signature_field(writer, SigFieldSpec(name, on_page=1, box=box))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def stamp_for(name: str, role_label: str, **extra) -> signing.StampInfo:
    return signing.StampInfo(
        name=name,
        role_label=role_label,
        signed_at=dt.datetime.now(WIB).replace(microsecond=0),
        **extra,
    )


@pytest.fixture(scope="module")
def office():
    ca = pki.create_ca(OFFICE)
    keys = {
        "ca": ca,
        "seal": pki.issue_seal_certificate(ca, office=OFFICE),
        "tsa": pki.issue_tsa_certificate(ca, office=OFFICE),
        "kasi": pki.issue_signing_certificate(
            ca,
            name="Ahmad Budi, S.Kom.",
            title="Kepala Seksi Layanan Informasi",
            nip="198001012005011001",
            office=OFFICE,
        ),
        "kabid": pki.issue_signing_certificate(
            ca,
            name="Citra Dewi",
            title="Kepala Bidang Informasi Publik",
            nip="198202022006042002",
            office=OFFICE,
        ),
        "kadis": pki.issue_signing_certificate(
            ca,
            name="Dr. Eko Prasetyo, M.Si.",
            title="Kepala Dinas Komunikasi dan Informatika",
            nip="197503032000031003",
            office=OFFICE,
        ),
    }
    return keys


@pytest.fixture(scope="module")
def timestamper(office):
    return tsa.make_timestamper(tsa.TimestampConfig(internal_key=office["tsa"]))


@pytest.fixture(scope="module")
def chain(office, timestamper):
    """Run the whole signing sequence once; return revisions and timings."""
    timings = {}
    revisions = [make_draft()]

    def step(label, func):
        started = time.perf_counter()
        revisions.append(func(revisions[-1]))
        timings[label] = time.perf_counter() - started

    step(
        "seal",
        lambda pdf: signing.certify_draft(pdf, office["seal"].to_signer(), timestamper),
    )
    step(
        "kasi",
        lambda pdf: signing.sign_field(
            pdf,
            SIGNATURE_FIELDS["kasi"],
            office["kasi"].to_signer(),
            timestamper,
            stamp=stamp_for("Ahmad Budi, S.Kom.", "Paraf Kepala Seksi"),
        ),
    )
    step(
        "kabid",
        lambda pdf: signing.sign_field(
            pdf,
            SIGNATURE_FIELDS["kabid"],
            office["kabid"].to_signer(),
            timestamper,
            stamp=stamp_for("Citra Dewi", "Paraf Kepala Bidang"),
        ),
    )
    step(
        "kadis",
        lambda pdf: signing.sign_field(
            pdf,
            SIGNATURE_FIELDS["kadis"],
            office["kadis"].to_signer(),
            timestamper,
            stamp=stamp_for(
                "Dr. Eko Prasetyo, M.Si.",
                "Kepala Dinas",
                title="Kepala Dinas Komunikasi dan Informatika",
                nip="197503032000031003",
                verification_url=VERIFY_URL,
            ),
            lock=True,
        ),
    )
    return revisions, timings


def validate_all(pdf: bytes, ca: pki.CertifiedKey):
    reader = PdfFileReader(io.BytesIO(pdf))
    results = {}
    for embedded in reader.embedded_signatures:
        context = ValidationContext(
            trust_roots=[ca.asn1_certificate], allow_fetching=False
        )
        results[embedded.field_name] = validate_pdf_signature(embedded, context)
    return results


# Signing sequence


def test_revisions_are_prefixes(chain):
    revisions, _ = chain
    for previous, current in itertools.pairwise(revisions):
        assert len(current) > len(previous)
        assert current.startswith(previous)


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_pyhanko_validates_revision(chain, office, index):
    revisions, _ = chain
    statuses = validate_all(revisions[index], office["ca"])
    expected_fields = [SEAL_FIELD, *list(SIGNATURE_FIELDS.values())[: index - 1]]
    assert sorted(statuses) == sorted(expected_fields)
    last_field = expected_fields[-1]
    for field_name, status in statuses.items():
        assert status.intact, field_name
        assert status.valid, field_name
        assert status.trusted, field_name
        assert status.docmdp_ok, field_name
        assert status.bottom_line, field_name
        assert status.timestamp_validity is not None, field_name
        assert status.timestamp_validity.trusted, field_name
        assert status.modification_level <= ModificationLevel.FORM_FILLING, field_name
        if field_name == last_field:
            assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        else:
            assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION


def test_seal_certifies_with_fill_forms(chain):
    revisions, _ = chain
    reader = PdfFileReader(io.BytesIO(revisions[1]))
    certification = read_certification_data(reader)
    assert certification is not None
    assert certification.permission == MDPPerm.FILL_FORMS
    seal = reader.embedded_signatures[0]
    assert seal.field_name == SEAL_FIELD
    assert seal.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    widget_rect = [float(x) for x in seal.sig_field["/Rect"]]
    assert widget_rect == [0, 0, 0, 0]


def test_kadis_signature_locks_document(chain):
    revisions, _ = chain
    reader = PdfFileReader(io.BytesIO(revisions[4]))
    kadis = next(
        s for s in reader.embedded_signatures if s.field_name == "TandaTanganKadis"
    )
    assert kadis.docmdp_level == MDPPerm.NO_CHANGES
    assert kadis.fieldmdp is not None
    assert kadis.fieldmdp.is_locked("ParafKasi")
    assert kadis.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"


def test_paraf_stamp_uses_dejavu_font(chain):
    revisions, _ = chain
    reader = PdfFileReader(io.BytesIO(revisions[2]))
    kasi = next(s for s in reader.embedded_signatures if s.field_name == "ParafKasi")
    base_fonts = list(font_names(kasi.sig_field["/AP"]["/N"]))
    assert base_fonts
    assert all("DejaVuSans" in name for name in base_fonts), base_fonts


def font_names(xobject, depth=0):
    """Yield the /BaseFont names used by an appearance and its nested forms."""
    resources = xobject.get("/Resources")
    if resources is None or depth > 5:
        return
    resources = resources.get_object()
    for font in resources.get("/Font", {}).values():
        yield str(font.get_object()["/BaseFont"])
    for nested in resources.get("/XObject", {}).values():
        yield from font_names(nested.get_object(), depth + 1)


def find_xobject(xobject, name, depth=0):
    """Find a named XObject in an appearance or its nested forms."""
    resources = xobject.get("/Resources")
    if resources is None or depth > 5:
        return None
    xobjects = resources.get_object().get("/XObject", {})
    if name in xobjects:
        return xobjects[name].get_object()
    for nested in xobjects.values():
        found = find_xobject(nested.get_object(), name, depth + 1)
        if found is not None:
            return found
    return None


def test_kadis_stamp_qr_encodes_verification_url(chain):
    revisions, _ = chain
    reader = PdfFileReader(io.BytesIO(revisions[4]))
    kadis = next(
        s for s in reader.embedded_signatures if s.field_name == "TandaTanganKadis"
    )
    qr_xobject = find_xobject(kadis.sig_field["/AP"]["/N"], "/QR")
    assert qr_xobject is not None
    # Rebuild the QR drawing for the expected URL with the same encoder
    # settings; identical drawing commands mean the same QR payload.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(VERIFY_URL)
    code.make()
    expected = code.make_image(image_factory=PdfStreamQRImage).render_command_stream()
    assert qr_xobject.data == expected


def test_paraf_stamp_has_no_qr(chain):
    revisions, _ = chain
    reader = PdfFileReader(io.BytesIO(revisions[2]))
    kasi = next(s for s in reader.embedded_signatures if s.field_name == "ParafKasi")
    assert find_xobject(kasi.sig_field["/AP"]["/N"], "/QR") is None


def test_signature_timestamps_come_from_office_tsa(chain, office):
    revisions, _ = chain
    reader = PdfFileReader(io.BytesIO(revisions[4]))
    for embedded in reader.embedded_signatures:
        unsigned = embedded.signer_info["unsigned_attrs"]
        tokens = [
            attr["values"][0]
            for attr in unsigned
            if attr["type"].native == "signature_time_stamp_token"
        ]
        assert len(tokens) == 1, embedded.field_name
        tst_info = tokens[0]["content"]["encap_content_info"]["content"].parsed
        assert tst_info["policy"].native == tsa.TSA_POLICY_OID
        assert tst_info["tsa"].chosen == office["tsa"].asn1_certificate.subject
        age = dt.datetime.now(dt.UTC) - tst_info["gen_time"].native
        assert abs(age) < dt.timedelta(minutes=5)


def test_step_durations(chain, record_property):
    _, timings = chain
    for label, seconds in timings.items():
        record_property(f"{label}_seconds", round(seconds, 3))
        print(f"{label}: {seconds:.3f} s")
    # Generous bound: one paraf takes a few tenths of a second on a 2-core
    # machine; ten seconds means something hangs (a TSA call, for example).
    assert timings["kasi"] < 10


# pdfsig (poppler) as an independent validator

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")


@pytest.fixture(scope="module")
def nss_database(office, tmp_path_factory):
    if not (PDFSIG and CERTUTIL):
        pytest.skip("pdfsig or certutil is not installed")
    folder = tmp_path_factory.mktemp("nss")
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(office["ca"].certificate_pem())
    subprocess.run(
        [CERTUTIL, "-N", "-d", f"sql:{folder}", "--empty-password"], check=True
    )
    subprocess.run(
        [
            CERTUTIL,
            "-A",
            "-d",
            f"sql:{folder}",
            "-n",
            "sigrekap-ca",
            "-t",
            "CT,C,C",
            "-i",
            str(ca_file),
        ],
        check=True,
    )
    return folder


def run_pdfsig(nss_database, pdf: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        [PDFSIG, "-nssdir", f"sql:{nss_database}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def signed_blocks(output: str) -> dict[str, str]:
    """Split pdfsig output into one text block per signed field."""
    blocks = {}
    for block in output.split("Signature #")[1:]:
        name = block.split("Signature Field Name: ")[1].splitlines()[0].strip()
        if "is not signed" not in block:
            blocks[name] = block
    return blocks


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_pdfsig_accepts_revision(chain, nss_database, tmp_path, index):
    revisions, _ = chain
    blocks = signed_blocks(run_pdfsig(nss_database, revisions[index], tmp_path))
    expected_fields = [SEAL_FIELD, *list(SIGNATURE_FIELDS.values())[: index - 1]]
    assert sorted(blocks) == sorted(expected_fields)
    for field_name, block in blocks.items():
        assert "Signature Validation: Signature is Valid." in block, block
        assert "Certificate Validation: Certificate is Trusted." in block, block
        assert "Signature Type: ETSI.CAdES.detached" in block, block
        if field_name == expected_fields[-1]:
            assert "- Total document signed" in block, block
        else:
            assert "- Not total document signed" in block, block


# Refusals


def test_sign_filled_field_raises(chain, office, timestamper):
    revisions, _ = chain
    with pytest.raises(signing.SigningError, match="sudah ditandatangani"):
        signing.sign_field(
            revisions[2],
            "ParafKasi",
            office["kasi"].to_signer(),
            timestamper,
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )


def test_sign_missing_field_raises(chain, office, timestamper):
    revisions, _ = chain
    with pytest.raises(signing.SigningError, match="tidak ditemukan"):
        signing.sign_field(
            revisions[1],
            "KolomLain",
            office["kasi"].to_signer(),
            timestamper,
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )


def test_sign_after_lock_raises(office, timestamper):
    pdf = make_draft(extra_fields=("Tambahan",))
    pdf = signing.certify_draft(pdf, office["seal"].to_signer(), timestamper)
    pdf = signing.sign_field(
        pdf,
        "TandaTanganKadis",
        office["kadis"].to_signer(),
        timestamper,
        stamp=stamp_for("Eko", "Kepala Dinas", verification_url=VERIFY_URL),
        lock=True,
    )
    with pytest.raises(signing.SigningError, match="dikunci"):
        signing.sign_field(
            pdf,
            "Tambahan",
            office["kasi"].to_signer(),
            timestamper,
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )


def test_certify_signed_document_raises(chain, office, timestamper):
    revisions, _ = chain
    with pytest.raises(signing.SigningError, match="tanda tangan pertama"):
        signing.certify_draft(revisions[2], office["seal"].to_signer(), timestamper)


def test_certify_non_pdf_raises(office, timestamper):
    with pytest.raises(signing.SigningError, match="tidak dapat dibaca"):
        signing.certify_draft(b"bukan pdf", office["seal"].to_signer(), timestamper)


def test_lock_without_verification_url_raises(chain, office, timestamper):
    revisions, _ = chain
    with pytest.raises(ValueError, match="verification_url"):
        signing.sign_field(
            revisions[3],
            "TandaTanganKadis",
            office["kadis"].to_signer(),
            timestamper,
            stamp=stamp_for("Eko", "Kepala Dinas"),
            lock=True,
        )


def test_lock_on_unprepared_field_raises(office, timestamper):
    # Certifying without a lock field leaves the Kadis field without /Lock;
    # adding it after the seal would invalidate the seal, so signing refuses.
    pdf = signing.certify_draft(
        make_draft(), office["seal"].to_signer(), timestamper, lock_field=None
    )
    with pytest.raises(signing.SigningError, match="pengunci"):
        signing.sign_field(
            pdf,
            "TandaTanganKadis",
            office["kadis"].to_signer(),
            timestamper,
            stamp=stamp_for("Eko", "Kepala Dinas", verification_url=VERIFY_URL),
            lock=True,
        )


def test_signing_without_timestamper_raises(chain, office):
    revisions, _ = chain
    with pytest.raises(ValueError, match="timestamper"):
        signing.sign_field(
            revisions[1],
            "ParafKasi",
            office["kasi"].to_signer(),
            None,
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )


# Stamp text helpers


def test_indonesian_datetime_with_zone_labels():
    moment = dt.datetime(2026, 11, 3, 14, 5)
    assert signing.format_indonesian_datetime(moment) == "3 November 2026 pukul 14.05"
    wib = moment.replace(tzinfo=WIB)
    assert signing.format_indonesian_datetime(wib).endswith("pukul 14.05 WIB")
    wita = moment.replace(tzinfo=ZoneInfo("Asia/Makassar"))
    assert signing.format_indonesian_datetime(wita).endswith("WITA")
    utc = moment.replace(tzinfo=dt.UTC)
    assert signing.format_indonesian_datetime(utc).endswith("UTC+0000")


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("Ahmad Budi", "AB"),
        ("Dr. Ir. Siti Rahmawati, M.Si.", "SR"),
        ("Eko Prasetyo Nugroho Wibowo", "EPN"),
        ("Tuti", "T"),
    ],
)
def test_initials_skip_titles(name, initials):
    assert signing.initials_of(name) == initials


# Stamp layout

CM = 72 / 2.54
# Field sizes of the recap template: 4.5 x 2.2 cm paraf boxes and a
# 7 x 3.5 cm box for the Kadis.
TEMPLATE_BOXES = {
    "ParafKasi": (60, 480, 60 + 4.5 * CM, 480 + 2.2 * CM),
    "ParafKabid": (200, 480, 200 + 4.5 * CM, 480 + 2.2 * CM),
    "TandaTanganKadis": (340, 480, 340 + 7 * CM, 480 + 3.5 * CM),
}
LONG_TITLE = "Kepala Dinas Komunikasi dan Informatika Kabupaten Gresik"
LONG_KADIS = "Dr. Ahmad Fauzi, S.T., M.T."
LONG_KASI = "Dr. Ir. Bambang Sutrisno Wicaksono, S.Kom., M.Kom."
PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(
    PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed"
)


@pytest.fixture(scope="module")
def template_chain(office, timestamper):
    """Sign a draft with the template's field sizes and long names."""
    pdf = make_draft(boxes=TEMPLATE_BOXES)
    pdf = signing.certify_draft(pdf, office["seal"].to_signer(), timestamper)
    pdf = signing.sign_field(
        pdf,
        "ParafKasi",
        office["kasi"].to_signer(),
        timestamper,
        stamp=stamp_for(LONG_KASI, "Paraf Kepala Seksi"),
    )
    pdf = signing.sign_field(
        pdf,
        "ParafKabid",
        office["kabid"].to_signer(),
        timestamper,
        stamp=stamp_for("Sri Wahyuni, S.Sos., M.Si.", "Paraf Kepala Bidang"),
    )
    return signing.sign_field(
        pdf,
        "TandaTanganKadis",
        office["kadis"].to_signer(),
        timestamper,
        stamp=stamp_for(
            LONG_KADIS,
            "Kepala Dinas",
            title=LONG_TITLE,
            nip="197302141998031004",
            verification_url=VERIFY_URL,
        ),
        lock=True,
    )


def field_rects(pdf: bytes) -> dict[str, tuple[float, float, float, float]]:
    reader = PdfFileReader(io.BytesIO(pdf))
    rects = {}
    for name, _, field_ref in enumerate_sig_fields(reader):
        annotation = get_single_field_annot(field_ref.get_object())
        x1, y1, x2, y2 = (float(v) for v in annotation["/Rect"])
        rects[name] = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return rects


WORD_PATTERN = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
    r"(.*?)</word>"
)


def stamp_words(pdf: bytes, tmp_path, page: int = 2) -> dict[str, list[tuple]]:
    """Run pdftotext -bbox and group the words by the field they start in.

    Each word is (x_min, y_min, x_max, y_max, text) in PDF coordinates with
    the origin at the bottom left, sorted top to bottom. pyHanko tags every
    stamp line with /ActualText, so poppler reports a whole line as one word,
    with the box that its glyphs cover.
    """
    path = tmp_path / "stamp.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        [PDFTOTEXT, "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    page_height = float(re.search(r'<page [^>]*height="([\d.]+)"', result.stdout)[1])
    rects = field_rects(pdf)
    grouped: dict[str, list[tuple]] = {name: [] for name in rects}
    for match in WORD_PATTERN.finditer(result.stdout):
        x_min, top, x_max, bottom = (float(v) for v in match.groups()[:4])
        word = (x_min, page_height - bottom, x_max, page_height - top)
        middle = (word[1] + word[3]) / 2
        for name, (x1, y1, x2, y2) in rects.items():
            if x1 - 1 <= x_min <= x2 and y1 <= middle <= y2:
                grouped[name].append((*word, html.unescape(match[5])))
    for words in grouped.values():
        words.sort(key=lambda word: (-word[3], word[0]))
    return grouped


def stamp_text(words: list[tuple]) -> str:
    return " ".join(word[4] for word in words)


def assert_inside(words: list[tuple], rect: tuple[float, float, float, float]):
    x1, y1, x2, y2 = rect
    for x_min, y_min, x_max, y_max, text in words:
        assert x_min >= x1, (text, x_min, rect)
        assert x_max <= x2, (text, x_max, rect)
        assert y_min >= y1, (text, y_min, rect)
        assert y_max <= y2, (text, y_max, rect)


@needs_pdftotext
def test_stamp_text_stays_inside_fields(template_chain, tmp_path):
    words = stamp_words(template_chain, tmp_path)
    rects = field_rects(template_chain)
    for name in SIGNATURE_FIELDS.values():
        assert words[name], name
        assert_inside(words[name], rects[name])


@needs_pdftotext
def test_stamp_lines_keep_words_whole(template_chain, tmp_path):
    words = stamp_words(template_chain, tmp_path)
    kasi = stamp_text(words["ParafKasi"])
    assert kasi.startswith("Paraf Kepala Seksi "), kasi
    assert f"BSW - {LONG_KASI}" in kasi
    assert "pukul" in kasi
    kabid = stamp_text(words["ParafKabid"])
    assert "SW - Sri Wahyuni, S.Sos., M.Si." in kabid
    kadis = stamp_text(words["TandaTanganKadis"])
    assert kadis.startswith(LONG_TITLE), kadis
    assert LONG_KADIS in kadis
    assert "NIP. 197302141998031004" in kadis
    assert "Ditandatangani secara elektronik" in kadis


@needs_pdftotext
def test_pdftotext_layout_shows_role(template_chain, tmp_path):
    path = tmp_path / "stamp.pdf"
    path.write_bytes(template_chain)
    result = subprocess.run(
        [PDFTOTEXT, "-layout", "-f", "2", "-l", "2", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Paraf Kepala Seksi" in result.stdout
    assert "Paraf Kepala Bidang" in result.stdout
    assert "P a r a f" not in result.stdout


def appearance_fonts(pdf: bytes, field_name: str):
    """Yield the descendant CIDFont dictionaries of a field's appearance."""
    reader = PdfFileReader(io.BytesIO(pdf))
    signature = next(
        s for s in reader.embedded_signatures if s.field_name == field_name
    )
    pending = [signature.sig_field["/AP"]["/N"]]
    while pending:
        xobject = pending.pop()
        resources = xobject.get("/Resources")
        if resources is None:
            continue
        resources = resources.get_object()
        for font in resources.get("/Font", {}).values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", []):
                yield descendant.get_object()
        pending.extend(x.get_object() for x in resources.get("/XObject", {}).values())


def cid_widths(cid_font) -> dict[int, float]:
    """Read a CIDFont /W array of the form [first [w1 w2 ...] ...]."""
    widths = {}
    entries = list(cid_font["/W"])
    for first, run in zip(entries[::2], entries[1::2], strict=True):
        for offset, width in enumerate(run):
            widths[int(first) + offset] = float(width)
    return widths


@pytest.mark.parametrize("field_name", ["ParafKasi", "TandaTanganKadis"])
def test_stamp_font_widths_match_font_program(template_chain, field_name):
    fonts = list(appearance_fonts(template_chain, field_name))
    assert fonts
    for cid_font in fonts:
        program = cid_font["/FontDescriptor"]["/FontFile2"].get_object()
        font = ttLib.TTFont(io.BytesIO(program.data))
        units_per_em = font["head"].unitsPerEm
        glyph_order = font.getGlyphOrder()
        widths = cid_widths(cid_font)
        assert len(widths) > 10
        for cid, width in widths.items():
            # CIDToGIDMap is /Identity, so the CID is the glyph index. PDF
            # widths are in thousandths of an em.
            advance = font["hmtx"][glyph_order[cid]][0]
            expected = advance * 1000 / units_per_em
            assert abs(width - expected) <= 1, (glyph_order[cid], width, expected)


@needs_pdftotext
def test_overlong_name_shrinks_into_box(office, timestamper, tmp_path):
    name = " ".join(["Raden Mas Panji Hadiwijoyokusumo"] * 6) + ", S.H."
    pdf = make_draft(boxes=TEMPLATE_BOXES)
    pdf = signing.certify_draft(pdf, office["seal"].to_signer(), timestamper)
    pdf = signing.sign_field(
        pdf,
        "ParafKasi",
        office["kasi"].to_signer(),
        timestamper,
        stamp=stamp_for(name, "Paraf Kepala Seksi Layanan Informasi dan Statistik"),
    )
    words = stamp_words(pdf, tmp_path)["ParafKasi"]
    assert name in stamp_text(words)
    assert_inside(words, field_rects(pdf)["ParafKasi"])


@needs_pdftotext
def test_stamp_falls_back_to_courier(office, timestamper, tmp_path, monkeypatch):
    monkeypatch.setattr(signing, "STAMP_FONT", tmp_path / "missing.ttf")
    pdf = make_draft(boxes=TEMPLATE_BOXES)
    pdf = signing.certify_draft(pdf, office["seal"].to_signer(), timestamper)
    pdf = signing.sign_field(
        pdf,
        "ParafKasi",
        office["kasi"].to_signer(),
        timestamper,
        stamp=stamp_for(LONG_KASI, "Paraf Kepala Seksi"),
    )
    reader = PdfFileReader(io.BytesIO(pdf))
    kasi = next(s for s in reader.embedded_signatures if s.field_name == "ParafKasi")
    assert list(font_names(kasi.sig_field["/AP"]["/N"])) == ["/Courier"]
    words = stamp_words(pdf, tmp_path)["ParafKasi"]
    assert LONG_KASI in stamp_text(words)
    assert_inside(words, field_rects(pdf)["ParafKasi"])


def char_count(text: str) -> float:
    return float(len(text))


def test_wrap_keeps_fitting_chunks_whole():
    chunks = ["4 Desember 2026", "pukul 14.05 WIB"]
    assert signing.wrap_chunks(chunks, 40, char_count) == [
        "4 Desember 2026 pukul 14.05 WIB"
    ]
    assert signing.wrap_chunks(chunks, 20, char_count) == [
        "4 Desember 2026",
        "pukul 14.05 WIB",
    ]


def test_wrap_breaks_long_chunk_at_spaces():
    lines = signing.wrap_chunks([LONG_TITLE], 25, char_count)
    assert lines == [
        "Kepala Dinas Komunikasi",
        "dan Informatika Kabupaten",
        "Gresik",
    ]


def test_wrap_breaks_long_word_between_characters():
    lines = signing.wrap_chunks(["NIP. 197302141998031004"], 8, char_count)
    assert lines == ["NIP.", "19730214", "19980310", "04"]


@pytest.mark.parametrize("width", [5, 12, 30, 100])
def test_wrap_lines_fit_and_keep_words(width):
    text = f"{LONG_KADIS} {LONG_TITLE}"
    lines = signing.wrap_chunks([LONG_KADIS, LONG_TITLE], width, char_count)
    assert all(len(line) <= width for line in lines), lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


# Office TSA


def make_request(digest: bytes, *, cert_req: bool = True, algorithm="sha256"):
    request = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": algorithm},
            "hashed_message": digest,
        },
        "nonce": 1234567890123,
        "cert_req": cert_req,
    }
    return tsp.TimeStampReq(request).dump()


def test_tsa_grants_token(office):
    digest = hashlib.sha256(b"isi dokumen").digest()
    response = tsa.TimeStampResponse.load(
        tsa.respond(make_request(digest), office["tsa"], office["ca"].certificate)
    )
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["nonce"].native == 1234567890123
    assert tst_info["policy"].native == tsa.TSA_POLICY_OID
    assert tst_info["accuracy"]["seconds"].native == 1
    age = dt.datetime.now(dt.UTC) - tst_info["gen_time"].native
    assert dt.timedelta(0) <= age < dt.timedelta(minutes=1)

    signer_info = signed_data["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    tst_der = signed_data["encap_content_info"]["content"].contents
    assert attrs["message_digest"].native == hashlib.sha256(tst_der).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    tsa_der = office["tsa"].certificate_der()
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    # The token must verify with the TSA certificate's public key.
    office["tsa"].certificate.public_key().verify(
        signer_info["signature"].native,
        signer_info["signed_attrs"].untag().dump(),
        ec.ECDSA(hashes.SHA256()),
    )
    embedded = {c.chosen.dump() for c in signed_data["certificates"]}
    assert tsa_der in embedded
    assert office["ca"].certificate_der() in embedded


def test_tsa_omits_certificates_without_cert_req(office):
    digest = hashlib.sha256(b"x").digest()
    response = tsa.TimeStampResponse.load(
        tsa.respond(make_request(digest, cert_req=False), office["tsa"])
    )
    signed_data = response["time_stamp_token"]["content"]
    assert not signed_data["certificates"]


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (b"not asn.1 at all", "bad_request"),
        (make_request(hashlib.sha1(b"x").digest(), algorithm="sha1"), "bad_alg"),
        (make_request(b"\x00" * 20), "bad_data_format"),
    ],
)
def test_tsa_rejects_bad_requests(office, request_der, fail_info):
    response = tsa.TimeStampResponse.load(tsa.respond(request_der, office["tsa"]))
    assert response["status"]["status"].native == "rejection"
    assert fail_info in response["status"]["fail_info"].native
    assert isinstance(response["time_stamp_token"], core.Void)


def test_timestamp_config_needs_one_source(office):
    with pytest.raises(ValueError):
        tsa.TimestampConfig()
    with pytest.raises(ValueError):
        tsa.TimestampConfig(url="http://127.0.0.1:1/", internal_key=office["tsa"])


class _TSAHandler(http.server.BaseHTTPRequestHandler):
    mode = "ok"
    tsa_key: pki.CertifiedKey

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        if self.server.mode == "garbage":
            answer = b"\x30\x03garbage"
        else:
            answer = tsa.respond(body, self.server.tsa_key)
        self.send_response(200)
        self.send_header("Content-Type", tsa.RESPONSE_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def tsa_server(office):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TSAHandler)
    server.mode = "ok"
    server.tsa_key = office["tsa"]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def http_timestamper(server) -> TimeStamper:
    url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    return tsa.make_timestamper(tsa.TimestampConfig(url=url, timeout=5))


def test_http_tsa_signature_validates(chain, office, tsa_server):
    revisions, _ = chain
    signed = signing.sign_field(
        revisions[1],
        "ParafKasi",
        office["kasi"].to_signer(),
        http_timestamper(tsa_server),
        stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
    )
    status = validate_all(signed, office["ca"])["ParafKasi"]
    assert status.bottom_line
    assert status.timestamp_validity.trusted


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_http_tsa_failure_raises(chain, office, tsa_server, mode):
    revisions, _ = chain
    tsa_server.mode = mode
    original = bytes(revisions[1])
    with pytest.raises(tsa.TimestampError, match="Layanan cap waktu"):
        signing.sign_field(
            revisions[1],
            "ParafKasi",
            office["kasi"].to_signer(),
            http_timestamper(tsa_server),
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )
    assert revisions[1] == original


def test_tsa_down_raises_and_keeps_input(chain, office):
    revisions, _ = chain
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now, so the connection is refused at once.
    config = tsa.TimestampConfig(url=f"http://127.0.0.1:{port}/tsa", timeout=5)
    original = bytes(revisions[1])
    with pytest.raises(tsa.TimestampError, match="Layanan cap waktu"):
        signing.sign_field(
            revisions[1],
            "ParafKasi",
            office["kasi"].to_signer(),
            tsa.make_timestamper(config),
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )
    assert revisions[1] == original


def test_tsa_down_blocks_certification(office):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tsa.TimestampConfig(url=f"http://127.0.0.1:{port}/tsa", timeout=5)
    with pytest.raises(tsa.TimestampError):
        signing.certify_draft(
            make_draft(), office["seal"].to_signer(), tsa.make_timestamper(config)
        )


def test_token_for_other_digest_is_rejected(office, chain):
    class WrongDigestStamper(TimeStamper):
        """A faulty TSA that stamps a fixed digest whatever it is sent."""

        async def async_request_tsa_response(self, req):
            imprint = hashlib.sha256(b"something else").digest()
            fake = tsp.TimeStampReq.load(make_request(imprint))
            fields = dict(fake.native)
            fields["nonce"] = req["nonce"].native
            return tsa.TimeStampResponse.load(
                tsa.respond(tsp.TimeStampReq(fields).dump(), office["tsa"])
            )

    revisions, _ = chain
    with pytest.raises(tsa.TimestampError):
        signing.sign_field(
            revisions[1],
            "ParafKasi",
            office["kasi"].to_signer(),
            WrongDigestStamper(),
            stamp=stamp_for("Ahmad Budi", "Paraf Kepala Seksi"),
        )


def test_tsa_token_is_cms_signed_data(office):
    digest = hashlib.sha256(b"y").digest()
    response = tsa.TimeStampResponse.load(
        tsa.respond(make_request(digest), office["tsa"])
    )
    token = response["time_stamp_token"]
    assert isinstance(token, cms.ContentInfo)
    assert token["content_type"].native == "signed_data"
    assert token["content"]["version"].native == "v3"
