"""Validation of every signature in a PDF against the office trust anchors.

The verdict follows the ``flask verify`` exit codes. 0 ("Sah") means that
every signature is intact, valid and trusted, and that only later signatures
or validation data follow it. 1 ("Tidak sah") means that a check failed. 2
("Tidak dapat diverifikasi") means that the file is not a readable PDF or
carries no signature.

pyHanko checks each signature and runs its change analysis between
revisions. On top of that this module judges the document as a whole:

- every signature must pass, not only the newest one;
- a revision without a signature may add validation data only;
- bytes after the last revision that form no revision are rejected;
- a recap made by SigRekap must carry exactly the signature fields the app
  creates, signed in workflow order, each by a certificate that fits the
  field's role (office seal or personal certificate).

The second half of the module looks files and verification codes up in the
archive; it takes a database session and never touches Flask state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from io import BytesIO
from typing import Any, TypeAlias

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import XRefSectionType
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffResult,
    ModificationLevel,
)
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    KeyUsageConstraints,
    SignatureCoverageLevel,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from .domain import SEAL_FIELD, SIGNATURE_FIELDS
from .models import Recap, Revision
from .pki import to_asn1_certificate

logger = logging.getLogger(__name__)
# pyHanko logs every failed change analysis and path validation with a stack
# trace. The report carries those outcomes, so the traces would only add noise
# to the server log and to the output of `flask verify`.
for _name in (
    "pyhanko.sign.diff_analysis.policies",
    "pyhanko.sign.validation.generic_cms",
):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNVERIFIABLE = 2

VERDICT_LABELS = {
    "valid": "Sah",
    "invalid": "Tidak sah",
    "unverifiable": "Tidak dapat diverifikasi",
}
ROLE_LABELS = {
    "seal": "Segel kantor",
    "kasi": "Paraf Kepala Seksi",
    "kabid": "Paraf Kepala Bidang",
    "kadis": "Tanda tangan Kepala Dinas",
}
CHANGES_LABELS = {
    "none": "Tidak ada perubahan sesudahnya",
    "signatures": "Sesudahnya hanya ada tanda tangan atau data validasi berikutnya",
    "other": "Sesudahnya ada perubahan lain pada dokumen",
}
REVOCATION_LABELS = {
    "good": "Tidak dicabut (diperiksa dengan CRL)",
    "revoked": "Dicabut",
    "revoked_later": (
        "Dicabut setelah penandatanganan karena kunci diganti atau pejabat "
        "berhenti; tanda tangan ini tetap sah"
    ),
    "unknown": "Tidak diketahui (tidak ada CRL dari penerbit)",
}
# Organizational unit of the office seal certificate (see pki.issue_seal_certificate).
SEAL_UNIT = "Segel Elektronik SigRekap"
# The signature fields of a recap, in the order the workflow signs them.
RECAP_FIELD_ORDER = (SEAL_FIELD, *SIGNATURE_FIELDS.values())

_ROLE_BY_FIELD = {name: role for role, name in SIGNATURE_FIELDS.items()}
_ROLE_BY_FIELD[SEAL_FIELD] = "seal"
_NIP_PATTERN = re.compile(r"\d{18}")
_PDF_WHITESPACE = b" \t\r\n\f\0"
_TAIL_PATTERN = re.compile(
    rb"[ \t\r\n\f\0]*startxref[ \t\r\n\f\0]+(\d+)[ \t\r\n\f\0]+%%EOF[ \t\r\n\f\0]*"
)

_UNCHECKABLE_PDF = (
    "Struktur PDF rusak atau tidak lazim, sehingga tanda tangannya tidak dapat "
    "diperiksa sampai tuntas."
)
_BROKEN_FIELD_TREE = (
    "Struktur kolom tanda tangan dalam PDF rusak, sehingga dokumen tidak dapat "
    "dipercaya."
)

# Either bit is accepted: certificates from external CAs often carry only
# digitalSignature, while the internal CA sets both.
_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)

TrustRoot: TypeAlias = x509.Certificate | asn1_x509.Certificate | bytes


@dataclass(frozen=True)
class RevokedCertificate:
    """A revocation known without a CRL, such as an imported external key's."""

    certificate: TrustRoot
    revoked_at: dt.datetime
    """Time of the revocation, time-zone aware."""
    reason: str | None = None
    """CRL reason name, such as "key_compromise" or "superseded"."""


@dataclass(frozen=True)
class RevocationData:
    """Revocation facts that a verification applies."""

    crls: Sequence[bytes] = ()
    """DER CRLs; only those that a trust root signed are used."""
    revoked: Sequence[RevokedCertificate] = ()


NO_REVOCATIONS = RevocationData()


@dataclass
class SignatureReport:
    """Result of the checks on one signature field."""

    field_name: str
    role: str | None = None
    """seal, kasi, kabid or kadis when the field is one of the recap's."""
    kind: str = "signature"
    """"signature", or "document_timestamp" for a PAdES document timestamp."""
    signer_name: str | None = None
    signer_title: str | None = None
    """Title from the certificate subject (OID 2.5.4.12)."""
    signer_nip: str | None = None
    """serialNumber from the certificate subject (OID 2.5.4.5), the NIP."""
    signer_subject: str | None = None
    issuer: str | None = None
    certificate_serial: str | None = None
    certificate_kind: str | None = None
    """"seal" (office seal), "personal" (has a title or NIP) or "other"."""
    certification: bool = False
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    certificate_valid_at_signing: bool | None = None
    """Whether the signing time falls within the certificate's validity."""
    revocation: str = "unknown"
    """good, revoked, revoked_later (replaced after a timestamped signature)
    or unknown (no CRL from the issuer was available)."""
    signing_time: dt.datetime | None = None
    """Time claimed by the signer. Only the timestamp time is attested."""
    timestamp_time: dt.datetime | None = None
    timestamp_authority: str | None = None
    timestamp_trusted: bool | None = None
    certificate_checked_at: dt.datetime | None = None
    """Set when the signer's certificate has expired since the trusted
    timestamp and its chain was therefore checked at the timestamp's time."""
    revision: int | None = None
    """Number of the revision the signature covers, counted from 1."""
    coverage: str | None = None
    """entire_file, entire_revision, contiguous_block_from_start or unclear."""
    modification_level: str | None = None
    docmdp_ok: bool | None = None
    changes_after: str | None = None
    """none, signatures (later signatures or validation data only) or other."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def role_label(self) -> str | None:
        return ROLE_LABELS.get(self.role or "")

    def notes(self) -> list[str]:
        """List facts that do not change the verdict but explain it."""
        notes = []
        if self.revocation == "revoked_later":
            notes.append(REVOCATION_LABELS["revoked_later"] + ".")
        if self.certificate_checked_at is not None:
            notes.append(
                "Sertifikat sudah kedaluwarsa; diperiksa menurut keadaan pada "
                f"waktu cap waktu ({self.certificate_checked_at:%Y-%m-%d %H:%M} UTC)."
            )
        return notes

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["role_label"] = self.role_label
        for key in ("signing_time", "timestamp_time", "certificate_checked_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


@dataclass
class VerificationReport:
    """Verdict on a whole file, with one entry per signature."""

    status: str
    """valid, invalid or unverifiable."""
    exit_code: int
    message: str
    sha256: str | None = None
    size: int | None = None
    signatures: list[SignatureReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Problems of the document as a whole, not tied to one signature."""
    revisions: int | None = None
    is_recap: bool = False
    """The file carries the recap's signature fields or the office seal."""

    @property
    def verdict(self) -> str:
        """Verdict in Indonesian: Sah, Tidak sah or Tidak dapat diverifikasi."""
        return VERDICT_LABELS[self.status]

    def reasons(self) -> list[str]:
        """List every problem found, each prefixed with its signature field."""
        lines = list(self.problems)
        for signature in self.signatures:
            label = signature.role_label or signature.field_name
            lines.extend(f"{label}: {problem}" for problem in signature.problems)
        return lines

    def summary(self) -> str:
        """Describe the verdict in a few lines of text for the command line."""
        lines = [f"Hasil: {self.verdict} ({self.status})", self.message]
        if self.sha256:
            lines.append(f"SHA-256: {self.sha256}")
        for index, signature in enumerate(self.signatures, start=1):
            label = signature.role_label or "Tanda tangan lain"
            state = "sah" if signature.ok else "TIDAK SAH"
            signer = signature.signer_name or "penanda tangan tidak terbaca"
            lines.append(f"{index}. {label} [{signature.field_name}] {signer}: {state}")
            lines.extend(f"   - {problem}" for problem in signature.problems)
            lines.extend(f"   * {note}" for note in signature.notes())
        if self.problems:
            lines.append("Masalah pada dokumen:")
            lines.extend(f"   - {problem}" for problem in self.problems)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "message": self.message,
            "sha256": self.sha256,
            "size": self.size,
            "revisions": self.revisions,
            "is_recap": self.is_recap,
            "problems": list(self.problems),
            "signatures": [s.to_dict() for s in self.signatures],
        }


@dataclass
class _Field:
    """One signature field as found in the AcroForm tree."""

    name: str
    ref: generic.IndirectObject
    filled: bool


@dataclass
class _Checked:
    """A signature report with the pyHanko object behind it, if it could be read."""

    report: SignatureReport
    embedded: EmbeddedPdfSignature | None = None
    revision: int | None = None
    """Revision index from 0, as pyHanko counts."""


def verify_pdf(
    data: bytes,
    trust_roots: Iterable[TrustRoot],
    *,
    crls: Iterable[bytes] = (),
    revoked: Iterable[RevokedCertificate] = (),
    moment: dt.datetime | None = None,
) -> VerificationReport:
    """Validate every signature of a PDF against ``trust_roots``.

    ``crls`` are DER CRLs to consult. Nothing is fetched from the network, so
    revocation is checked only for certificates whose issuer published one
    of ``crls``, and a missing CRL alone does not fail (soft-fail). A file
    that makes the checks fail with an exception is reported as invalid.

    ``revoked`` lists revocations known without a CRL; they count like CRL
    entries.

    ``moment`` is the validation time, by default the current time. A signer
    certificate that has expired by then still counts as trusted when a
    trusted timestamp shows that the signature was made while it was valid.
    """
    roots = [to_asn1_certificate(cert) for cert in trust_roots]
    revocations = _Revocations(_signed_by_roots(crls, roots), revoked)
    digest = hashlib.sha256(data).hexdigest()
    opened = _open_pdf(data, digest)
    if isinstance(opened, VerificationReport):
        return opened
    reader, parsed = opened
    try:
        return _verify_document(
            reader, parsed, len(data), digest, roots, revocations, moment
        )
    except Exception:
        # Fail closed, because a hostile file must not become a server error
        # or a valid verdict. The trace is logged since the cause may be a bug
        # here and not the file.
        logger.exception("Verification of %s stopped with an error", digest)
        return _invalid(digest, len(data), [], [_UNCHECKABLE_PDF])


def _signed_by_roots(
    crls: Iterable[bytes], roots: list[asn1_x509.Certificate]
) -> list[asn1_crl.CertificateList]:
    """Parse the DER CRLs that a trust root with the issuer's name signed.

    The verdict applies CRL entries beyond pyHanko's own checks, so a CRL
    without a valid signature is dropped with a warning.
    """
    keys_by_subject = {}
    for root in roots:
        certificate = x509.load_der_x509_certificate(root.dump())
        keys_by_subject[certificate.subject] = certificate.public_key()
    kept = []
    for data in crls:
        try:
            crl = x509.load_der_x509_crl(data)
            public_key = keys_by_subject.get(crl.issuer)
            verified = public_key is not None and crl.is_signature_valid(public_key)
        except (ValueError, TypeError) as exc:
            logger.warning("Ignoring an unreadable CRL: %r", exc)
            continue
        if not verified:
            logger.warning("Ignoring a CRL of %s: no trust root signed it", crl.issuer)
            continue
        kept.append(asn1_crl.CertificateList.load(data))
    return kept


def _verify_document(
    reader: PdfFileReader,
    data: bytes,
    size: int,
    digest: str,
    roots: list[asn1_x509.Certificate],
    revocations: _Revocations,
    moment: dt.datetime | None,
) -> VerificationReport:
    try:
        fields = list(_signature_fields(reader))
    except Exception as exc:  # noqa: BLE001 - parsers raise many types on hostile input
        logger.info("Unreadable signature fields in %s: %r", digest, exc)
        return _invalid(digest, size, [], [_BROKEN_FIELD_TREE])
    filled = [item for item in fields if item.filled]
    if not filled:
        return _unverifiable(
            "Dokumen tidak memuat tanda tangan elektronik.", digest, size
        )

    # One context for all signatures: certificates and CRLs are parsed once.
    context = ValidationContext(
        trust_roots=roots,
        crls=revocations.crls,
        allow_fetching=False,
        moment=moment,
    )

    def context_at(then: dt.datetime) -> ValidationContext:
        # The CRLs at hand were issued after the timestamp, and
        # retroactive_revinfo lets them count for its time.
        return ValidationContext(
            trust_roots=roots,
            crls=revocations.crls,
            allow_fetching=False,
            moment=then,
            retroactive_revinfo=True,
        )

    checked = [
        _check_signature(reader, item, _Contexts(context, context_at), revocations)
        for item in filled
    ]
    checked.sort(key=lambda item: (item.revision is None, item.revision or 0))

    problems: list[str] = []
    _check_revisions(reader, checked, problems)
    _check_file_tail(reader, data, checked, problems)
    is_recap = _is_recap(fields, checked)
    if is_recap:
        _check_recap_rules(reader, fields, checked, problems)

    reports = [item.report for item in checked]
    revisions = reader.xrefs.total_revisions
    if problems or not all(report.ok for report in reports):
        return _invalid(digest, size, reports, problems, revisions, is_recap)
    return VerificationReport(
        status="valid",
        exit_code=EXIT_VALID,
        message=(
            "Semua tanda tangan sah dan tepercaya, dan dokumen tidak berubah "
            "setelah ditandatangani selain oleh tanda tangan berikutnya."
        ),
        sha256=digest,
        size=size,
        signatures=reports,
        revisions=revisions,
        is_recap=is_recap,
    )


# Reading the file


def _open_pdf(
    data: bytes, digest: str
) -> tuple[PdfFileReader, bytes] | VerificationReport:
    """Open a PDF for pyHanko, returning the reader and the bytes it parsed."""
    if not data:
        return _unverifiable(
            "Berkas kosong; tidak ada yang dapat diperiksa.", digest, 0
        )
    if b"%PDF-" not in data[:1024]:
        return _unverifiable(
            "Berkas bukan dokumen PDF (tanda %PDF- tidak ditemukan di awal berkas).",
            digest,
            len(data),
        )
    checked = _check_trailer(data, digest)
    if isinstance(checked, VerificationReport):
        return checked
    parsed = data[:checked]
    # Reading the cross-reference tables of 400,000 objects alone took 1.5 s,
    # so a rough count of object headers rejects such files unread.
    if parsed.count(b" obj") > 2 * MAX_OBJECTS:
        problem = (
            f"Berkas memuat terlalu banyak objek PDF; batas pemeriksaan adalah "
            f"{MAX_OBJECTS} objek."
        )
        return _invalid(digest, len(data), [], [problem])
    try:
        reader = PdfFileReader(BytesIO(parsed))
    except Exception as exc:  # noqa: BLE001 - parsers raise many types on hostile input
        logger.info("Unreadable PDF %s: %r", digest, exc)
        return _unverifiable(
            "Berkas PDF rusak dan tidak dapat dibaca.", digest, len(data)
        )
    if reader.encrypted:
        return _unverifiable(
            "Berkas PDF terenkripsi; buka kuncinya lebih dahulu lalu periksa lagi.",
            digest,
            len(data),
        )
    problem = _size_problem(reader)
    if problem is not None:
        revisions = reader.xrefs.total_revisions
        return _invalid(digest, len(data), [], [problem], revisions)
    return reader, parsed


def _size_problem(reader: PdfFileReader) -> str | None:
    """Reject files whose change analysis would take too long.

    The analysis compares revisions object by object, so its time grows with
    the number of revisions and of the objects they add: 600 small revisions
    took 19 s, and one revision of 200,000 objects 9 s.
    """
    xrefs = reader.xrefs
    revisions = xrefs.total_revisions
    if revisions > MAX_REVISIONS:
        return (
            f"Berkas memuat {revisions} revisi, lebih dari {MAX_REVISIONS} yang "
            "diperiksa. Rekapitulasi yang sah hanya memiliki beberapa revisi "
            "(konsep, segel, paraf dan tanda tangan)."
        )
    counts = [len(list(xrefs.explicit_refs_in_revision(r))) for r in range(revisions)]
    total, added = sum(counts), sum(counts[1:])
    if total > MAX_OBJECTS or added > MAX_UPDATED_OBJECTS:
        return (
            f"Berkas memuat {total} objek PDF, {added} di antaranya dalam revisi "
            "tambahan; itu melebihi batas pemeriksaan "
            f"({MAX_OBJECTS} objek, {MAX_UPDATED_OBJECTS} dalam revisi tambahan)."
        )
    return None


def _check_trailer(data: bytes, digest: str) -> VerificationReport | int:
    """Check the file's end before pyHanko parses it.

    pyHanko finds the trailer by reading back from the end of the file, and
    rebuilds a PDF whose trailer it cannot find by scanning the whole file:
    24 MB of zeros took 3.5 s. A signed PDF ends with ``startxref``, the
    offset of its last cross-reference section and ``%%EOF`` (ISO 32000-1,
    7.5.5), and every signature depends on that offset being right. So a
    file without them is rejected at once, and so is one with more than
    TRAILER_SEARCH_BYTES or TRAILING_FILL_BYTES after them, which no
    signature covers.

    Return the report of a rejected file, or else how many of its bytes to
    parse: trailing whitespace and NUL bytes are cut to PARSED_FILL_BYTES,
    because pyHanko looks for %%EOF only near the end of the file.
    """
    end = len(data.rstrip(_TRAILING_FILL))
    start = data.rfind(b"startxref", 0, end)
    found = _STARTXREF.match(data, start) if start >= 0 else None
    if found is None:
        return _unverifiable(
            "Berkas PDF tidak utuh: penanda akhir PDF (startxref dan %%EOF) "
            "tidak ditemukan.",
            digest,
            len(data),
        )
    extra = end - found.end()
    fill = len(data) - end
    if extra > TRAILER_SEARCH_BYTES or fill > TRAILING_FILL_BYTES:
        extra = len(data) - found.end()
        problem = (
            f"Ada {extra} bait tambahan setelah akhir PDF (%%EOF) yang tidak "
            "dicakup tanda tangan mana pun."
        )
        return _invalid(digest, len(data), [], [problem])
    offset = int(found.group(1))
    if not _XREF_START.match(data[offset : offset + 1024]):
        return _unverifiable(
            "Berkas PDF rusak: tabel referensi silang (xref) tidak berada di "
            "tempat yang ditunjuk akhir berkas.",
            digest,
            len(data),
        )
    return end + min(fill, PARSED_FILL_BYTES)


def _signature_fields(reader: PdfFileReader) -> Iterator[_Field]:
    """Yield the signature fields, counting a field as filled when it has any /V."""
    try:
        top_level = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return
    for name, field_ref, field_dict in _walk_fields(top_level):
        if _inherited(field_dict, "/FT") == "/Sig":
            # pyHanko's own enumeration treats an empty or null /V as unsigned.
            # Any /V entry at all is counted here, so a broken one is reported.
            yield _Field(name=name, ref=field_ref, filled="/V" in field_dict)


def _walk_fields(
    field_list: generic.PdfObject, parent_name: str = "", depth: int = 0
) -> Iterator[tuple[str, generic.IndirectObject, generic.DictionaryObject]]:
    """Yield (qualified name, reference, dictionary) of each terminal form field."""
    if depth > 32:
        raise ValueError("Form field tree is nested too deeply.")
    if not isinstance(field_list, generic.ArrayObject):
        raise TypeError("A form field list is not an array.")
    for field_ref in field_list:
        field_dict = field_ref.get_object()
        if not isinstance(field_dict, generic.DictionaryObject):
            continue
        own_name = str(_get(field_dict, "/T") or "")
        name = (
            f"{parent_name}.{own_name}"
            if parent_name and own_name
            else (own_name or parent_name)
        )
        kids = _get(field_dict, "/Kids")
        if kids is not None and any("/T" in kid.get_object() for kid in kids):
            yield from _walk_fields(kids, name, depth + 1)
        else:
            yield name, field_ref, field_dict


def _inherited(field_dict: generic.DictionaryObject, key: str) -> Any:
    current: generic.DictionaryObject | None = field_dict
    for _ in range(32):
        if current is None:
            return None
        if key in current:
            return current[key]
        current = _get(current, "/Parent")
    return None


def _get(dictionary: generic.DictionaryObject, key: str) -> Any:
    """Return a dictionary entry with indirect references resolved, or None."""
    try:
        return dictionary[key]
    except KeyError:
        return None


# One signature


@dataclass
class _Contexts:
    """Validation contexts: one at the validation time, and a factory for others."""

    now: ValidationContext
    at: Callable[[dt.datetime], ValidationContext]


def _check_signature(
    reader: PdfFileReader,
    sig_field: _Field,
    contexts: _Contexts,
    revocations: _Revocations,
) -> _Checked:
    """Validate one filled signature field and report every failure as a problem."""
    report = SignatureReport(
        field_name=sig_field.name, role=_ROLE_BY_FIELD.get(sig_field.name)
    )
    checked = _Checked(report=report)
    try:
        field_dict = sig_field.ref.get_object()
        checked.revision = _revision_of_value(reader, field_dict)
        structure_problem = _signature_dictionary_problem(field_dict)
    except Exception as exc:  # noqa: BLE001 - hostile input must not crash
        logger.info("Unreadable signature field %s: %r", sig_field.name, exc)
        structure_problem = "Kamus tanda tangan rusak dan tidak dapat dibaca."
    if checked.revision is not None:
        report.revision = checked.revision + 1
    if structure_problem is not None:
        report.problems.append(structure_problem)
        return checked

    try:
        embedded = EmbeddedPdfSignature(reader, field_dict, sig_field.name)
    except Exception as exc:  # noqa: BLE001 - hostile input must not crash
        logger.info("Malformed signature in field %s: %r", sig_field.name, exc)
        report.problems.append(
            "Kamus tanda tangan rusak: data tanda tangan (CMS) tidak dapat dibaca."
        )
        return checked

    checked.embedded = embedded
    checked.revision = embedded.signed_revision
    report.revision = embedded.signed_revision + 1
    try:
        _validate(report, embedded, reader, contexts, revocations)
    except Exception as exc:  # noqa: BLE001 - hostile input must not crash
        logger.info("Validation of field %s failed: %r", sig_field.name, exc)
        report.problems.append(
            "Tanda tangan rusak atau formatnya tidak didukung, sehingga tidak "
            "dapat divalidasi."
        )
        checked.embedded = None
    return checked


def _revision_of_value(
    reader: PdfFileReader, field_dict: generic.DictionaryObject
) -> int | None:
    value = field_dict.raw_get("/V")
    if not isinstance(value, generic.IndirectObject):
        return None
    try:
        return reader.xrefs.get_last_change(value.reference)
    except Exception:  # noqa: BLE001 - a dangling reference has no revision
        return None


def _signature_dictionary_problem(field_dict: generic.DictionaryObject) -> str | None:
    """Describe what makes a signature dictionary unusable, or return None."""
    value = _get(field_dict, "/V")
    if not isinstance(value, generic.DictionaryObject):
        return "Kamus tanda tangan rusak: nilai kolom bukan kamus tanda tangan."
    if (_get(value, "/Type") or "/Sig") not in ("/Sig", "/DocTimeStamp"):
        return "Kamus tanda tangan rusak: jenis (/Type) tidak dikenal."
    if "/Contents" not in value:
        return "Kamus tanda tangan rusak: data tanda tangan (/Contents) tidak ada."
    if not isinstance(
        value.raw_get("/Contents"), (generic.ByteStringObject, generic.TextStringObject)
    ):
        return "Kamus tanda tangan rusak: /Contents bukan string."
    byte_range = _get(value, "/ByteRange")
    if byte_range is None or isinstance(byte_range, generic.NullObject):
        return (
            "Kamus tanda tangan rusak: rentang bita yang ditandatangani "
            "(/ByteRange) tidak ada atau bernilai null."
        )
    if (
        not isinstance(byte_range, generic.ArrayObject)
        or len(byte_range) != 4
        or not all(isinstance(n, int) and n >= 0 for n in byte_range)
    ):
        return (
            "Kamus tanda tangan rusak: /ByteRange harus berisi empat bilangan bulat "
            "tidak negatif."
        )
    return None


def _validate(
    report: SignatureReport,
    embedded: EmbeddedPdfSignature,
    reader: PdfFileReader,
    contexts: _Contexts,
    revocations: _Revocations,
) -> None:
    # The change analysis always runs (skip_diff=False), because it is what
    # detects content added after a signature.
    if embedded.sig_object_type == "/DocTimeStamp":
        report.kind = "document_timestamp"
        ts_status = validate_pdf_timestamp(
            embedded, validation_context=contexts.now, skip_diff=False
        )
        _fill_common(report, ts_status, revocations)
        report.timestamp_time = ts_status.timestamp
        report.timestamp_trusted = ts_status.trusted
        report.timestamp_authority = _common_name(ts_status.signing_cert)
        report.certificate_valid_at_signing = _valid_at(
            ts_status.signing_cert, ts_status.timestamp
        )
        return

    status = validate_pdf_signature(
        embedded,
        signer_validation_context=contexts.now,
        key_usage_settings=_KEY_USAGE,
        skip_diff=False,
    )
    if _trust_lost_after_timestamp(status, revocations):
        # The trusted timestamp proves that the signature existed at its time,
        # so the signer's chain is checked as it stood then. The timestamp
        # itself is still checked at the validation time.
        # NOTE: once the TSA certificate expires too, nothing proves the time
        # any more, so the signature reads invalid. Archive timestamps (PAdES
        # B-LTA) are not added, so recaps stay valid only that long.
        checked_at = status.timestamp_validity.timestamp
        then = validate_pdf_signature(
            embedded,
            signer_validation_context=contexts.at(checked_at),
            ts_validation_context=contexts.now,
            key_usage_settings=_KEY_USAGE,
            skip_diff=False,
        )
        if then.trusted and not then.revoked:
            status = then
            report.certificate_checked_at = checked_at
    _fill_common(report, status, revocations)
    report.certification = _is_certification(reader, embedded)
    report.signing_time = status.signer_reported_dt
    tst = status.timestamp_validity
    if tst is not None:
        report.timestamp_time = tst.timestamp
        report.timestamp_authority = _common_name(tst.signing_cert)
        report.timestamp_trusted = tst.intact and tst.valid and tst.trusted
        if not report.timestamp_trusted:
            report.problems.append(
                "Cap waktu (timestamp) tidak sah atau tidak tepercaya."
            )
    _check_listed_revocation(report, status.signing_cert, revocations)
    attested = report.timestamp_time if report.timestamp_trusted else None
    moment = attested or report.signing_time
    if moment is not None:
        valid_then = _valid_at(status.signing_cert, moment)
        report.certificate_valid_at_signing = valid_then
        if not valid_then and report.trusted:
            report.problems.append(
                "Sertifikat penanda tangan tidak berlaku pada waktu penandatanganan."
            )
    if not status.seed_value_ok:
        report.problems.append("Tanda tangan melanggar batasan kolom tanda tangannya.")
    if not status.bottom_line and report.ok:
        report.problems.append("Tanda tangan tidak lolos validasi.")


def _fill_common(
    report: SignatureReport,
    status: PdfSignatureStatus | DocumentTimestampStatus,
    revocations: _Revocations,
) -> None:
    signer = status.signing_cert
    _fill_certificate(report, signer)
    report.intact = status.intact
    report.valid = status.valid
    report.trusted = status.trusted
    report.revocation = _revocation(status, signer, revocations)
    report.coverage = status.coverage.name.lower() if status.coverage else None
    level = status.modification_level
    report.modification_level = level.name.lower() if level is not None else None
    report.docmdp_ok = getattr(status, "docmdp_ok", None)

    if not status.intact:
        report.problems.append(
            "Isi dokumen tidak cocok dengan tanda tangan: dokumen telah diubah."
        )
    elif not status.valid:
        report.problems.append("Tanda tangan kriptografis tidak valid.")
    elif status.revoked:
        report.problems.append("Sertifikat penanda tangan telah dicabut.")
    elif not status.trusted:
        report.problems.append(_trust_problem(status))

    if (
        status.coverage is None
        or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION
    ):
        report.problems.append(
            "Cakupan tanda tangan tidak standar: sebagian berkas tidak ikut "
            "ditandatangani (/ByteRange menyimpang)."
        )
    elif level is None or level == ModificationLevel.OTHER or report.docmdp_ok is False:
        report.problems.append(
            "Dokumen diubah setelah tanda tangan ini dengan perubahan yang tidak "
            "diizinkan."
        )


def _fill_certificate(report: SignatureReport, cert: asn1_x509.Certificate) -> None:
    names = cert.subject.native
    report.signer_name = _first(names.get("common_name"))
    report.signer_title = _first(names.get("title"))
    report.signer_nip = _first(names.get("serial_number"))
    report.signer_subject = cert.subject.human_friendly
    report.issuer = cert.issuer.human_friendly
    report.certificate_serial = format(cert.serial_number, "x")
    report.certificate_kind = _certificate_kind(cert)


def _certificate_kind(cert: asn1_x509.Certificate) -> str:
    """Classify a signer certificate as the office seal, a person, or other."""
    names = cert.subject.native
    units = names.get("organizational_unit_name") or []
    if isinstance(units, str):
        units = [units]
    if SEAL_UNIT in units:
        return "seal"
    usages = cert.extended_key_usage_value
    if usages is not None and "time_stamping" in usages.native:
        return "other"
    nip = _first(names.get("serial_number")) or ""
    if _NIP_PATTERN.fullmatch(nip) or _first(names.get("title")):
        return "personal"
    return "other"


_EXPIRED_INDICATIONS = ("EXPIRED", "OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED")
#: Revisions that a file may have. Checking what each revision changed costs
#: time in proportion to the square of their number (600 took 19 s), and a
#: recap has about six.
MAX_REVISIONS = 64
#: Objects that a file may define, in all revisions and in revisions after
#: the first. A 16-page recap defines about 100, 45 of them in its first
#: revision.
MAX_OBJECTS = 20_000
MAX_UPDATED_OBJECTS = 2_000
#: Bytes that may follow the final %%EOF, besides whitespace and NUL bytes.
#: pyHanko finds %%EOF only within about the last kilobyte.
TRAILER_SEARCH_BYTES = 1000
#: Whitespace and NUL bytes that may end the file. pyHanko reads back through
#: them slowly: 24 MB of them after a genuine recap took 1 to 3.5 s.
TRAILING_FILL_BYTES = 64 * 1024
#: Trailing whitespace and NUL bytes handed on to pyHanko.
PARSED_FILL_BYTES = 64
_STARTXREF = re.compile(rb"startxref\s+(\d{1,15})\s+%%EOF")
_TRAILING_FILL = b" \t\r\n\x0c\x00"
# A cross-reference table, or an xref stream's "N G obj" header.
_XREF_START = re.compile(rb"\s*(?:xref|\d{1,10}\s+\d{1,5}\s+obj)")
#: CRL reasons after which earlier signatures of the key stay valid.
REPLACEMENT_REASONS = ("superseded", "cessation_of_operation")


def _trust_problem(status: PdfSignatureStatus | DocumentTimestampStatus) -> str:
    indication = getattr(status.trust_problem_indic, "name", "")
    if indication in _EXPIRED_INDICATIONS:
        return "Sertifikat penanda tangan sudah kedaluwarsa."
    if indication == "NOT_YET_VALID":
        return "Sertifikat penanda tangan belum berlaku."
    if indication in ("REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE"):
        return "Sertifikat penanda tangan telah dicabut."
    if indication in (
        "NO_CERTIFICATE_CHAIN_FOUND",
        "CERTIFICATE_CHAIN_GENERAL_FAILURE",
    ):
        return (
            "Sertifikat penanda tangan tidak tepercaya: tidak diterbitkan oleh "
            "otoritas sertifikat (CA) yang dipercaya kantor."
        )
    return (
        "Sertifikat penanda tangan tidak tepercaya: tidak diterbitkan oleh CA "
        "yang dikenal, belum berlaku, atau kedaluwarsa."
    )


def _revocation(
    status: PdfSignatureStatus | DocumentTimestampStatus,
    cert: asn1_x509.Certificate,
    revocations: _Revocations,
) -> str:
    if status.revoked:
        return "revoked"
    if any(crl.issuer == cert.issuer for crl in revocations.crls):
        return "good"
    return "unknown"


def _trust_lost_after_timestamp(
    status: PdfSignatureStatus, revocations: _Revocations
) -> bool:
    """Tell whether the signer's certificate lost its trust only after a
    trusted timestamp that falls within its validity.

    That is the case when the certificate has expired since, or when a CRL
    revoked it after the timestamp because the key was replaced or its
    holder left office. A compromised key, or a revocation without a reason,
    never qualifies, because the key may have leaked before the date.
    """
    tst = status.timestamp_validity
    if not (
        status.intact
        and status.valid
        and not status.trusted
        and tst is not None
        and tst.intact
        and tst.valid
        and tst.trusted
        and _valid_at(status.signing_cert, tst.timestamp)
    ):
        return False
    entry = revocations.entry(status.signing_cert)
    if entry is not None:
        revoked_at, reason = entry
        return reason in REPLACEMENT_REASONS and revoked_at > tst.timestamp
    indication = getattr(status.trust_problem_indic, "name", "")
    return not status.revoked and indication in _EXPIRED_INDICATIONS


def _check_listed_revocation(
    report: SignatureReport,
    cert: asn1_x509.Certificate,
    revocations: _Revocations,
) -> None:
    """Apply a revocation of the signer that pyHanko did not act on.

    pyHanko consults CRLs only for certificates that name a CRL distribution
    point, and keys issued before the office published its CRL name none.
    Revocations known without a CRL are applied here only.
    """
    entry = revocations.entry(cert)
    if entry is None or report.revocation == "revoked":
        return
    revoked_at, reason = entry
    attested = report.timestamp_time if report.timestamp_trusted else None
    if reason in REPLACEMENT_REASONS and attested is not None and revoked_at > attested:
        report.revocation = "revoked_later"
        return
    report.revocation = "revoked"
    report.trusted = False
    # The revocation outweighs any expiry reported before it.
    report.problems.insert(0, "Sertifikat penanda tangan telah dicabut.")


class _Revocations:
    """CRLs that a trust root signed, and revocations known without one."""

    def __init__(
        self,
        crls: list[asn1_crl.CertificateList],
        revoked: Iterable[RevokedCertificate],
    ) -> None:
        self.crls = crls
        # (issuer name, serial) -> (revocation time, reason name or None).
        # A CRL entry wins over a revocation known without one.
        self._entries: dict[tuple[str, int], tuple[dt.datetime, str | None]] = {}
        for crl in crls:
            issuer = crl.issuer.hashable
            for entry in crl["tbs_cert_list"]["revoked_certificates"]:
                reason = entry.crl_reason_value
                self._entries.setdefault(
                    (issuer, entry["user_certificate"].native),
                    (
                        entry["revocation_date"].native,
                        reason.native if reason is not None else None,
                    ),
                )
        for item in revoked:
            cert = to_asn1_certificate(item.certificate)
            key = (cert.issuer.hashable, cert.serial_number)
            self._entries.setdefault(key, (item.revoked_at, item.reason))

    def entry(
        self, cert: asn1_x509.Certificate
    ) -> tuple[dt.datetime, str | None] | None:
        """Return the revocation time and reason recorded for ``cert``."""
        return self._entries.get((cert.issuer.hashable, cert.serial_number))


def _valid_at(cert: asn1_x509.Certificate, moment: dt.datetime) -> bool:
    return cert.not_valid_before <= moment <= cert.not_valid_after


def _is_certification(reader: PdfFileReader, embedded: EmbeddedPdfSignature) -> bool:
    """Tell whether the catalog's /Perms /DocMDP entry names this signature."""
    try:
        docmdp_ref = reader.root["/Perms"].raw_get("/DocMDP")
        own_ref = embedded.sig_field.raw_get("/V")
        return docmdp_ref.reference == own_ref.reference
    except (KeyError, AttributeError):
        return False


def _common_name(cert: asn1_x509.Certificate) -> str | None:
    return _first(cert.subject.native.get("common_name"))


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value is not None else None


# The document as a whole


def _check_revisions(
    reader: PdfFileReader, checked: list[_Checked], problems: list[str]
) -> None:
    """Classify what follows each signature and reject unsigned content changes."""
    total = reader.xrefs.total_revisions
    signed = {item.revision for item in checked if item.embedded is not None}
    known = [item.revision for item in checked if item.revision is not None]
    if not known:
        return
    foreign = []
    for revision in range(min(known) + 1, total):
        if revision not in signed and not _adds_validation_data_only(reader, revision):
            foreign.append(revision)
            problems.append(
                f"Revisi ke-{revision + 1} mengubah dokumen tanpa tanda tangan yang "
                "sah."
            )

    for item in checked:
        report = item.report
        if item.revision is None or item.embedded is None:
            continue
        later = range(item.revision + 1, total)
        level = item.embedded.diff_result
        level = level.modification_level if isinstance(level, DiffResult) else None
        if not later:
            report.changes_after = "none"
        elif (
            any(revision in foreign for revision in later)
            or level is None
            or level > ModificationLevel.FORM_FILLING
        ):
            report.changes_after = "other"
        else:
            report.changes_after = "signatures"
        if report.changes_after == "other" and not _modification_flagged(report):
            report.problems.append(
                "Setelah tanda tangan ini dokumen diubah dengan cara lain selain "
                "penambahan tanda tangan berikutnya."
            )


def _modification_flagged(report: SignatureReport) -> bool:
    """Tell whether pyHanko's own analysis already rejected the later changes."""
    return (
        report.coverage not in ("entire_file", "entire_revision")
        or report.modification_level in (None, "other")
        or report.docmdp_ok is False
    )


def _adds_validation_data_only(reader: PdfFileReader, revision: int) -> bool:
    """Tell whether an unsigned revision only adds validation data (PAdES LTV)."""
    try:
        result = DEFAULT_DIFF_POLICY.apply(
            old=reader.get_historical_resolver(revision - 1),
            new=reader.get_historical_resolver(revision),
        )
    except Exception:  # noqa: BLE001 - pyHanko raises SuspiciousModification and parse errors
        return False
    if result.modification_level > ModificationLevel.LTA_UPDATES:
        return False
    # pyHanko's policy also lets metadata such as the trailer /Info change at
    # this level. An unsigned revision counts as validation data only if it
    # actually changes the document security store (/DSS).
    try:
        before = _dss_snapshot(reader, revision - 1)
        after = _dss_snapshot(reader, revision)
    except Exception:  # noqa: BLE001 - hostile files break object resolution
        return False
    return after is not None and after != before


def _dss_snapshot(reader: PdfFileReader, revision: int) -> str | None:
    """Describe a revision's /DSS dictionary so two revisions can be compared."""
    root = reader.get_historical_root(revision)
    if "/DSS" not in root:
        return None
    dss = root["/DSS"]
    return repr(sorted((key, repr(dss.raw_get(key))) for key in dss))


def _check_file_tail(
    reader: PdfFileReader, data: bytes, checked: list[_Checked], problems: list[str]
) -> None:
    """Reject bytes after the last revision's %%EOF that form no revision.

    pyHanko reads the file from its last startxref and ignores anything else
    at the end, so such bytes pass its checks. This check detects them.
    """
    if _tail_is_clean(reader, data):
        return
    message = "Ada data yang ditambahkan ke berkas setelah tanda tangan terakhir."
    problems.append(
        "Berkas memuat data tambahan setelah revisi terakhirnya yang bukan bagian "
        "dari dokumen bertanda tangan."
    )
    for item in reversed(checked):
        if item.embedded is not None:
            item.report.problems.append(message)
            break


def _tail_is_clean(reader: PdfFileReader, data: bytes) -> bool:
    xrefs = reader.xrefs
    last = xrefs.total_revisions - 1
    meta = xrefs.get_xref_container_info(last)
    stream = BytesIO(data)
    stream.seek(meta.end_location)
    try:
        if meta.xref_section_type == XRefSectionType.STREAM:
            rest = data[meta.end_location :].lstrip(_PDF_WHITESPACE)
            if not rest.startswith(b"endobj"):
                return False
            position = len(data) - len(rest) + len(b"endobj")
        else:
            # The xref table ends where its trailer dictionary starts.
            generic.DictionaryObject.read_from_stream(
                stream, generic.TrailerReference(reader)
            )
            position = stream.tell()
    except Exception:  # noqa: BLE001 - a trailer that does not parse is not clean
        return False
    match = _TAIL_PATTERN.fullmatch(data, position)
    return match is not None and int(match.group(1)) == meta.declared_startxref


# Recaps made by SigRekap


def _is_recap(fields: list[_Field], checked: list[_Checked]) -> bool:
    if any(item.name in RECAP_FIELD_ORDER for item in fields):
        return True
    return any(
        item.report.certification and item.report.certificate_kind == "seal"
        for item in checked
    )


def _check_recap_rules(
    reader: PdfFileReader,
    fields: list[_Field],
    checked: list[_Checked],
    problems: list[str],
) -> None:
    """Apply the rules that every recap signed through SigRekap satisfies."""
    by_field = {item.report.field_name: item for item in checked}
    seal = by_field.get(SEAL_FIELD)
    names = [sig_field.name for sig_field in fields]

    for name in RECAP_FIELD_ORDER:
        if names.count(name) > 1:
            problems.append(f"Kolom tanda tangan {name} muncul lebih dari sekali.")
        if name not in names:
            problems.append(f"Kolom tanda tangan {name} milik rekapitulasi tidak ada.")
    extra = [
        sig_field.name
        for sig_field in fields
        if sig_field.name not in RECAP_FIELD_ORDER
        and not _is_document_timestamp(by_field.get(sig_field.name))
    ]
    for name in extra:
        problems.append(
            f"Dokumen memuat kolom tanda tangan {name!r} yang tidak dibuat "
            "oleh aplikasi."
        )
        if name in by_field:
            by_field[name].report.problems.append(
                "Kolom ini bukan kolom tanda tangan rekapitulasi."
            )
    if extra and seal is not None:
        seal.report.problems.append(
            "Segel kantor hanya mengizinkan pengisian kolom tanda tangan yang "
            "disiapkan, tetapi kolom lain ditambahkan sesudahnya."
        )
    other_types = _non_signature_fields(reader)
    if other_types:
        problems.append(
            "Dokumen memuat isian formulir yang bukan kolom tanda tangan: "
            + ", ".join(sorted(other_types))
            + "."
        )

    signed_order = [
        item.report.field_name
        for item in checked
        if item.report.field_name in RECAP_FIELD_ORDER
    ]
    if signed_order != list(RECAP_FIELD_ORDER[: len(signed_order)]):
        problems.append(
            "Urutan tanda tangan tidak sesuai alur persetujuan: segel kantor, "
            "paraf Kepala Seksi, paraf Kepala Bidang, lalu tanda tangan Kepala Dinas."
        )
    for item in checked:
        _check_role(item.report)


def _check_role(report: SignatureReport) -> None:
    """Check that the signer's certificate fits the role of its field."""
    if report.certificate_kind is None:
        return
    if report.role == "seal":
        if report.certificate_kind != "seal":
            report.problems.append(
                "Kolom segel kantor harus ditandatangani dengan sertifikat segel "
                "kantor, bukan sertifikat lain."
            )
        if not report.certification:
            report.problems.append(
                "Segel kantor harus berupa tanda tangan sertifikasi (DocMDP)."
            )
    elif report.role is not None:
        if report.certificate_kind != "personal":
            report.problems.append(
                "Paraf dan tanda tangan pejabat harus dibuat dengan sertifikat "
                "pribadi (berisi jabatan atau NIP), bukan segel atau sertifikat "
                "sistem."
            )
        if report.certification:
            report.problems.append(
                "Hanya segel kantor yang boleh menjadi tanda tangan sertifikasi."
            )


def _is_document_timestamp(item: _Checked | None) -> bool:
    return (
        item is not None
        and item.report.kind == "document_timestamp"
        and item.embedded is not None
        and _widget_is_invisible(item.embedded.sig_field)
    )


def _widget_is_invisible(field_dict: generic.DictionaryObject) -> bool:
    rect = _get(field_dict, "/Rect")
    if rect is None:
        return True
    try:
        x1, y1, x2, y2 = (float(n) for n in rect)
    except (TypeError, ValueError):
        return False
    return x1 == x2 or y1 == y2


def _non_signature_fields(reader: PdfFileReader) -> set[str]:
    try:
        top_level = reader.root["/AcroForm"]["/Fields"]
        return {
            name or "(tanpa nama)"
            for name, _, field_dict in _walk_fields(top_level)
            if _inherited(field_dict, "/FT") != "/Sig"
        }
    except Exception:  # noqa: BLE001 - already read once by _signature_fields
        return set()


def _unverifiable(message: str, digest: str, size: int) -> VerificationReport:
    return VerificationReport(
        status="unverifiable",
        exit_code=EXIT_UNVERIFIABLE,
        message=message,
        sha256=digest,
        size=size,
    )


def _invalid(
    digest: str,
    size: int,
    reports: list[SignatureReport],
    problems: list[str],
    revisions: int | None = None,
    is_recap: bool = False,
) -> VerificationReport:
    return VerificationReport(
        status="invalid",
        exit_code=EXIT_INVALID,
        message=f"Dokumen tidak sah. {_headline(reports, problems)}".strip(),
        sha256=digest,
        size=size,
        signatures=reports,
        problems=problems,
        revisions=revisions,
        is_recap=is_recap,
    )


def _headline(reports: list[SignatureReport], problems: list[str]) -> str:
    """Pick the problem that best explains an invalid verdict."""
    broken = [r for r in reports if r.problems and not (r.intact and r.valid)]
    candidates = [
        *(f"{r.role_label or r.field_name}: {r.problems[0]}" for r in broken),
        *problems,
        *(
            f"{r.role_label or r.field_name}: {r.problems[0]}"
            for r in reports
            if r.problems
        ),
    ]
    return candidates[0] if candidates else ""


# Archive lookups


@dataclass(frozen=True)
class ArchiveMatch:
    """A stored revision whose bytes are identical to a verified file."""

    recap: Recap
    revision: Revision

    @property
    def is_current(self) -> bool:
        return self.recap.current_revision_id == self.revision.id


def normalize_verification_code(code: str) -> str:
    """Upper-case a verification code and drop spaces and dashes."""
    return re.sub(r"[\s\-\u2010-\u2015]+", "", code or "").upper()


def find_recap_by_code(session: Session, code: str) -> Recap | None:
    """Return the recap with this verification code, ignoring case, spaces, dashes."""
    normalized = normalize_verification_code(code)
    if not re.fullmatch(r"[0-9A-Z]{4,16}", normalized):
        return None
    return session.scalar(select(Recap).where(Recap.verification_code == normalized))


def match_archive(session: Session, sha256: str) -> ArchiveMatch | None:
    """Find the stored revision with this SHA-256, if any."""
    revision = session.scalar(
        select(Revision).where(Revision.sha256 == sha256).order_by(Revision.id)
    )
    if revision is None:
        return None
    recap = session.get(Recap, revision.recap_id)
    if recap is None:
        return None
    return ArchiveMatch(recap=recap, revision=revision)
