"""Forged and tampered variants of a genuine signed recap, for verifier tests.

Every generator takes a :class:`GenuineRecap` and returns the bytes of one
forged file. The files are built with pyHanko's incremental writer and
generic objects, or by editing bytes. Each one models an attack on signed
PDFs: byte edits, incremental updates that change content, shadow content,
sneaky signature fields, forged byte ranges, and untrusted or expired
certificates. Signatures that a forger can make are real, made with keys
issued in the test and no mocked crypto step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign.fields import (
    SigFieldSpec,
    SigSeedSubFilter,
    append_signature_field,
    enumerate_sig_fields,
)
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import TextStampStyle

from sigrekap import pki, signing
from sigrekap.domain import SIGNATURE_FIELDS

WIB = ZoneInfo("Asia/Jakarta")
FORGER_OFFICE = "Dinas Komunikasi dan Informatika Kabupaten Gresik"
# Lower-left and upper-right corners (points) of a box over the summary
# figures on the first page of a rendered recap.
FIGURES_BOX = (56, 430, 540, 700)


@dataclass(frozen=True)
class GenuineRecap:
    """The signed revisions of one genuine recap and the office CA that issued its keys."""

    draft: bytes
    """The unsigned draft, before the office seal."""
    sealed: bytes
    kasi: bytes
    kabid: bytes
    kadis: bytes
    ca: pki.CertifiedKey
    timestamper: TimeStamper


# Helpers


def _append_update(
    pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None]
) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    change(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _page_ref(writer: IncrementalPdfFileWriter, index: int) -> generic.IndirectObject:
    return writer.root["/Pages"]["/Kids"].raw_get(index)


def _stream(data: bytes, **entries: generic.PdfObject) -> generic.StreamObject:
    stream = generic.StreamObject(
        {pdf_name(f"/{key}"): value for key, value in entries.items()},
        stream_data=data,
    )
    stream.compress()
    return stream


def _rect(*numbers: float) -> generic.ArrayObject:
    return generic.ArrayObject([generic.FloatObject(n) for n in numbers])


def _white_box_with_zero(width: float, height: float) -> bytes:
    # A white box that hides what is under it, with a large "0" drawn in
    # strokes so no font resource is needed.
    return (
        f"q 1 1 1 rg 0 0 {width} {height} re f 0 0 0 RG 4 w "
        f"{width / 2 - 20} {height / 2 - 30} 40 60 re S Q"
    ).encode()


def _same_ca_person(
    genuine: GenuineRecap, name: str = "Budi Santoso"
) -> pki.CertifiedKey:
    """Issue a personal certificate from the office CA, as a colleague would hold."""
    return pki.issue_signing_certificate(
        genuine.ca,
        name=name,
        title="Staf Bidang Informasi dan Statistik",
        nip="199001012015031001",
        office=FORGER_OFFICE,
    )


def _stamp(name: str) -> signing.StampInfo:
    return signing.StampInfo(
        name=name,
        role_label="Paraf Kepala Bidang",
        signed_at=dt.datetime.now(WIB).replace(microsecond=0),
    )


def _sign_kabid_field(genuine: GenuineRecap, key: pki.CertifiedKey) -> bytes:
    return signing.sign_field(
        genuine.kasi,
        SIGNATURE_FIELDS["kabid"],
        key.to_signer(),
        genuine.timestamper,
        stamp=_stamp(key.certificate.subject.rfc4514_string()[:40]),
    )


# Byte edits


def flipped_byte(genuine: GenuineRecap) -> bytes:
    """Flip one bit inside the first content stream, which every signature covers."""
    data = bytearray(genuine.kadis)
    position = data.index(b"stream\n", 1000) + 40
    data[position] ^= 0x01
    return bytes(data)


def junk_after_eof(genuine: GenuineRecap) -> bytes:
    """Append bytes after the final %%EOF that form no revision."""
    return genuine.kadis + b"\n% catatan tambahan\n1 0 0 1 0 0 cm (999) Tj\n"


def junk_with_fake_eof(genuine: GenuineRecap) -> bytes:
    """Append junk that ends with a copy of the last startxref and %%EOF."""
    tail = re.search(rb"startxref\s+\d+\s+%%EOF\s*$", genuine.kadis)
    assert tail is not None
    return genuine.kadis + b"% sisipan\n" + tail.group(0)


# Incremental updates that change the content


def _rewrite_first_page(pdf: bytes) -> bytes:
    def change(writer: IncrementalPdfFileWriter) -> None:
        page = _page_ref(writer, 0).get_object()
        contents_ref = page.raw_get("/Contents")
        original = contents_ref.get_object().data
        # Change every digit in the page, so the figures differ.
        forged = re.sub(rb"\((\d+)\)", rb"(9\1)", original)
        assert forged != original
        ref = contents_ref.reference
        # Redefine the content stream under its own object number.
        writer.objects[(ref.generation, ref.idnum)] = _stream(forged)

    return _append_update(pdf, change)


def content_after_final(genuine: GenuineRecap) -> bytes:
    """Redefine the first page's content stream after the Kadis signature."""
    return _rewrite_first_page(genuine.kadis)


def metadata_after_final(genuine: GenuineRecap) -> bytes:
    """Replace the document information (/Info) after the Kadis signature."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        info = generic.DictionaryObject(
            {generic.NameObject("/Title"): generic.TextStringObject("Diubah")}
        )
        writer.trailer["/Info"] = writer.add_object(info)

    return _append_update(genuine.kadis, change)


def content_after_paraf(genuine: GenuineRecap) -> bytes:
    """Redefine the first page's content stream after the Kasi's paraf."""
    return _rewrite_first_page(genuine.kasi)


def overlay_stream(genuine: GenuineRecap) -> bytes:
    """Add a content stream to the first page's /Contents that paints over the figures."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        page_ref = _page_ref(writer, 0)
        page = page_ref.get_object()
        x1, y1, x2, y2 = FIGURES_BOX
        overlay = writer.add_object(
            _stream(
                f"q 1 0 0 1 {x1} {y1} cm ".encode()
                + _white_box_with_zero(x2 - x1, y2 - y1)
                + b" Q"
            )
        )
        page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), overlay])
        writer.update_container(page)

    return _append_update(genuine.kadis, change)


def swapped_content_reference(genuine: GenuineRecap) -> bytes:
    """Point the first page's /Contents at the second page's content stream."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        first = _page_ref(writer, 0).get_object()
        second = _page_ref(writer, 1).get_object()
        first["/Contents"] = second.raw_get("/Contents")
        writer.update_container(first)

    return _append_update(genuine.kadis, change)


def _square_annotation(writer: IncrementalPdfFileWriter) -> None:
    x1, y1, x2, y2 = FIGURES_BOX
    appearance = writer.add_object(
        _stream(
            _white_box_with_zero(x2 - x1, y2 - y1),
            Type=pdf_name("/XObject"),
            Subtype=pdf_name("/Form"),
            BBox=_rect(0, 0, x2 - x1, y2 - y1),
        )
    )
    annotation = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Square"),
            pdf_name("/Rect"): _rect(*FIGURES_BOX),
            pdf_name("/F"): generic.NumberObject(4),
            pdf_name("/IC"): _rect(1, 1, 1),
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): appearance}),
        }
    )
    writer.register_annotation(_page_ref(writer, 0), writer.add_object(annotation))


def annotation_after_final(genuine: GenuineRecap) -> bytes:
    """Draw a /Square annotation with an opaque appearance over the figures."""
    return _append_update(genuine.kadis, _square_annotation)


def annotation_after_paraf(genuine: GenuineRecap) -> bytes:
    """Draw the same annotation after the Kasi's paraf, before anyone else signs."""
    return _append_update(genuine.kasi, _square_annotation)


def annotation_then_paraf(genuine: GenuineRecap) -> bytes:
    """Annotate the sealed draft, then sign the Kasi field on top of it.

    The newest signature covers the whole file and passes on its own; the
    office seal, which allows only form filling, is what the change breaks.
    """
    annotated = _append_update(genuine.sealed, _square_annotation)
    key = _same_ca_person(genuine, name="Dimas Prasetyo")
    return signing.sign_field(
        annotated,
        SIGNATURE_FIELDS["kasi"],
        key.to_signer(),
        genuine.timestamper,
        stamp=_stamp("Dimas Prasetyo"),
    )


# Sneaky signature fields


def sneaky_signed_field(genuine: GenuineRecap) -> bytes:
    """Add and sign a new visible signature field whose stamp covers the figures."""
    return _sign_new_field(genuine, genuine.kasi)


def _sign_new_field(genuine: GenuineRecap, pdf: bytes) -> bytes:
    name = "ParafTambahan"
    metadata = PdfSignatureMetadata(
        field_name=name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
    )
    style = TextStampStyle(
        stamp_text="Jumlah pengaduan: 0\n%(ts)s", border_width=0, background_opacity=1
    )
    pdf_signer = PdfSigner(
        metadata,
        _same_ca_person(genuine).to_signer(),
        timestamper=genuine.timestamper,
        stamp_style=style,
        new_field_spec=SigFieldSpec(name, on_page=0, box=FIGURES_BOX),
    )
    out = pdf_signer.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(pdf)), existing_fields_only=False
    )
    return out.getvalue()


def sneaky_unsigned_field(genuine: GenuineRecap) -> bytes:
    """Add an empty visible signature field whose appearance covers the figures."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        name = "ParafTambahan"
        append_signature_field(writer, SigFieldSpec(name, on_page=0, box=FIGURES_BOX))
        _, _, field_ref = next(enumerate_sig_fields(writer, with_name=name))
        field = field_ref.get_object()
        x1, y1, x2, y2 = FIGURES_BOX
        appearance = writer.add_object(
            _stream(
                _white_box_with_zero(x2 - x1, y2 - y1),
                Type=pdf_name("/XObject"),
                Subtype=pdf_name("/Form"),
                BBox=_rect(0, 0, x2 - x1, y2 - y1),
            )
        )
        field["/AP"] = generic.DictionaryObject({pdf_name("/N"): appearance})
        writer.mark_update(field_ref)

    return _append_update(genuine.kasi, change)


def sneaky_field_without_seal(genuine: GenuineRecap) -> bytes:
    """Skip the seal: paraf the unsigned draft, then add and sign a new field.

    Without a certification signature pyHanko accepts a new signature field
    after an approval signature, so only the recap's own field rules stop it.
    """
    key = _same_ca_person(genuine, name="Dimas Prasetyo")
    with_paraf = signing.sign_field(
        genuine.draft,
        SIGNATURE_FIELDS["kasi"],
        key.to_signer(),
        genuine.timestamper,
        stamp=_stamp("Dimas Prasetyo"),
    )
    return _sign_new_field(genuine, with_paraf)


def paraf_out_of_order(genuine: GenuineRecap) -> bytes:
    """Sign the Kabid field on the sealed draft, before the Kasi's paraf."""
    return signing.sign_field(
        genuine.sealed,
        SIGNATURE_FIELDS["kabid"],
        _same_ca_person(genuine).to_signer(),
        genuine.timestamper,
        stamp=_stamp("Budi Santoso"),
    )


def seal_certificate_on_paraf(genuine: GenuineRecap) -> bytes:
    """Sign the Kabid field with a seal certificate instead of a personal one."""
    seal = pki.issue_seal_certificate(genuine.ca, office=FORGER_OFFICE)
    return _sign_kabid_field(genuine, seal)


# Malformed signature dictionaries


def _fill_kabid_field(
    genuine: GenuineRecap, entries: dict[str, generic.PdfObject]
) -> bytes:
    def change(writer: IncrementalPdfFileWriter) -> None:
        _, _, field_ref = next(
            enumerate_sig_fields(writer, with_name=SIGNATURE_FIELDS["kabid"])
        )
        sig = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Sig"),
                pdf_name("/Filter"): pdf_name("/Adobe.PPKLite"),
                pdf_name("/SubFilter"): pdf_name("/ETSI.CAdES.detached"),
                **{pdf_name(key): value for key, value in entries.items()},
            }
        )
        field = field_ref.get_object()
        field["/V"] = writer.add_object(sig)
        writer.mark_update(field_ref)

    return _append_update(genuine.kasi, change)


def _genuine_contents(genuine: GenuineRecap) -> generic.ByteStringObject:
    reader = PdfFileReader(BytesIO(genuine.kasi))
    return generic.ByteStringObject(reader.embedded_signatures[-1].pkcs7_content)


def signature_without_contents(genuine: GenuineRecap) -> bytes:
    """Fill the Kabid field with a signature dictionary that has no /Contents."""
    byte_range = generic.ArrayObject([generic.NumberObject(n) for n in (0, 10, 20, 30)])
    return _fill_kabid_field(genuine, {"/ByteRange": byte_range})


def signature_without_byterange(genuine: GenuineRecap) -> bytes:
    """Fill the Kabid field with a copied CMS blob and no /ByteRange."""
    return _fill_kabid_field(genuine, {"/Contents": _genuine_contents(genuine)})


def signature_null_byterange(genuine: GenuineRecap) -> bytes:
    """Fill the Kabid field with a copied CMS blob and a null /ByteRange."""
    return _fill_kabid_field(
        genuine,
        {"/Contents": _genuine_contents(genuine), "/ByteRange": generic.NullObject()},
    )


def broken_field_tree(genuine: GenuineRecap) -> bytes:
    """Replace the AcroForm's field list with a number after the Kasi's paraf."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        form = writer.root["/AcroForm"]
        form["/Fields"] = generic.NumberObject(7)
        writer.update_container(form)

    return _append_update(genuine.kasi, change)


# Forged byte ranges, signed for real


_RANGE_PLACEHOLDER = b"[ 0 1111111111 2222222222 3333333333 ]"
_CONTENTS_BYTES = 8192


def _sign_with_byte_range(
    genuine: GenuineRecap,
    choose_range: Callable[[int, int, int], tuple[int, int, int, int]],
) -> bytes:
    """Sign the Kabid field over a byte range picked by ``choose_range``.

    ``choose_range`` gets the offsets of the /Contents string's ``<`` and of
    the byte after its ``>``, and the file length.
    """
    key = _same_ca_person(genuine)
    placeholder = b"<" + b"0" * (2 * _CONTENTS_BYTES) + b">"
    prepared = _fill_kabid_field(
        genuine,
        {
            "/ByteRange": generic.ArrayObject(
                [
                    generic.NumberObject(n)
                    for n in (0, 1111111111, 2222222222, 3333333333)
                ]
            ),
            "/Contents": generic.ByteStringObject(b"\0" * _CONTENTS_BYTES),
            "/M": generic.pdf_date(dt.datetime.now(dt.UTC)),
        },
    )
    start = prepared.rindex(placeholder)
    end = start + len(placeholder)
    byte_range = choose_range(start, end, len(prepared))
    text = ("[ " + " ".join(str(n) for n in byte_range) + " ]").encode()
    assert len(text) <= len(_RANGE_PLACEHOLDER)
    data = bytearray(prepared)
    range_at = prepared.rindex(_RANGE_PLACEHOLDER)
    data[range_at : range_at + len(_RANGE_PLACEHOLDER)] = text.ljust(
        len(_RANGE_PLACEHOLDER)
    )

    offset1, length1, offset2, length2 = byte_range
    digest = hashlib.sha256(
        bytes(data[offset1 : offset1 + length1])
        + bytes(data[offset2 : offset2 + length2])
    ).digest()
    cms = asyncio.run(
        key.to_signer().async_sign(digest, "sha256", use_pades=True)
    ).dump()
    signature_hex = cms.hex().encode().ljust(2 * _CONTENTS_BYTES, b"0")
    data[start + 1 : end - 1] = signature_hex
    return bytes(data)


def byterange_gap_too_large(genuine: GenuineRecap) -> bytes:
    """Sign a byte range whose gap leaves 40 bytes after /Contents unsigned."""
    return _sign_with_byte_range(
        genuine, lambda start, end, size: (0, start, end + 40, size - end - 40)
    )


def byterange_tail_uncovered(genuine: GenuineRecap) -> bytes:
    """Sign a byte range that stops before the xref table and trailer."""

    def choose(start: int, end: int, size: int) -> tuple[int, int, int, int]:
        return (0, start, end, size - end - 300)

    return _sign_with_byte_range(genuine, choose)


# Signatures by keys the office does not trust


def unknown_ca_signature(genuine: GenuineRecap) -> bytes:
    """Sign the Kabid field with a key from a CA that is not a trust anchor."""
    stranger_ca = pki.create_ca("Dinas Komunikasi dan Informatika Kabupaten Palsu")
    key = pki.issue_signing_certificate(
        stranger_ca,
        name="Sri Wahyuni, S.Sos., M.Si.",
        title="Kepala Bidang Informasi dan Statistik",
        nip="197911042005012002",
        office=FORGER_OFFICE,
    )
    return _sign_kabid_field(genuine, key)


def expired_certificate(genuine: GenuineRecap) -> bytes:
    """Sign the Kabid field with an office-CA certificate that expired last year."""
    return _sign_kabid_field(genuine, _expired_person(genuine.ca))


def _expired_person(ca: pki.CertifiedKey) -> pki.CertifiedKey:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Sri Wahyuni, S.Sos., M.Si."),
            x509.NameAttribute(NameOID.TITLE, "Kepala Bidang Informasi dan Statistik"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "197911042005012002"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, FORGER_OFFICE),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
        ]
    )
    ca_ski = ca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=800))
        .not_valid_after(now - dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski.value
            ),
            critical=False,
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    return pki.CertifiedKey(key, certificate, (ca.certificate,))


# Files that are not verifiable at all


def not_a_pdf(genuine: GenuineRecap) -> bytes:
    """Return a ZIP-like file renamed to .pdf."""
    return b"PK\x03\x04" + zlib.compress(genuine.kadis[:4096])


def encrypted_pdf(genuine: GenuineRecap) -> bytes:
    """Copy the signed recap into a new file encrypted with a user password."""
    writer = copy_into_new_writer(PdfFileReader(BytesIO(genuine.kadis)))
    writer.encrypt("pemilik-rahasia", "pengguna-rahasia")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def empty_file(genuine: GenuineRecap) -> bytes:
    """Return an empty upload."""
    return b""


FORGERIES: dict[str, Callable[[GenuineRecap], bytes]] = {
    "flipped_byte": flipped_byte,
    "content_after_final": content_after_final,
    "metadata_after_final": metadata_after_final,
    "content_after_paraf": content_after_paraf,
    "overlay_stream": overlay_stream,
    "signature_without_contents": signature_without_contents,
    "signature_without_byterange": signature_without_byterange,
    "signature_null_byterange": signature_null_byterange,
    "broken_field_tree": broken_field_tree,
    "byterange_gap_too_large": byterange_gap_too_large,
    "byterange_tail_uncovered": byterange_tail_uncovered,
    "swapped_content_reference": swapped_content_reference,
    "annotation_after_final": annotation_after_final,
    "annotation_after_paraf": annotation_after_paraf,
    "annotation_then_paraf": annotation_then_paraf,
    "sneaky_signed_field": sneaky_signed_field,
    "sneaky_unsigned_field": sneaky_unsigned_field,
    "sneaky_field_without_seal": sneaky_field_without_seal,
    "paraf_out_of_order": paraf_out_of_order,
    "seal_certificate_on_paraf": seal_certificate_on_paraf,
    "junk_after_eof": junk_after_eof,
    "junk_with_fake_eof": junk_with_fake_eof,
    "unknown_ca_signature": unknown_ca_signature,
    "expired_certificate": expired_certificate,
    "not_a_pdf": not_a_pdf,
    "encrypted_pdf": encrypted_pdf,
    "empty_file": empty_file,
}


def make_forgeries(genuine: GenuineRecap) -> dict[str, bytes]:
    """Build every forgery from one genuine recap."""
    return {name: make(genuine) for name, make in FORGERIES.items()}
