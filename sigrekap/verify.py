"""Validation of every signature in a PDF against the office trust anchors.

The verdict follows the ``flask verify`` exit codes: 0 when every signature
is intact, valid and trusted and nothing follows the last one, 1 when any
check fails, 2 when the file is not a readable PDF or carries no signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from io import BytesIO
from typing import Any, TypeAlias

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
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

from .domain import SEAL_FIELD, SIGNATURE_FIELDS
from .pki import to_asn1_certificate

logger = logging.getLogger(__name__)

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNVERIFIABLE = 2

_ROLE_BY_FIELD = {name: role for role, name in SIGNATURE_FIELDS.items()}
_ROLE_BY_FIELD[SEAL_FIELD] = "seal"

# Either bit is accepted: certificates from external CAs often carry only
# digitalSignature, while the internal CA sets both.
_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)

TrustRoot: TypeAlias = x509.Certificate | asn1_x509.Certificate | bytes


@dataclass
class SignatureReport:
    """Result of the checks on one signature field."""

    field_name: str
    role: str | None = None
    """kasi, kabid, kadis or seal when the field is one of the recap's."""
    kind: str = "signature"
    """"signature", or "document_timestamp" for a PAdES document timestamp."""
    signer_name: str | None = None
    signer_subject: str | None = None
    certification: bool = False
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    signing_time: dt.datetime | None = None
    """Time claimed by the signer; only the timestamp time is attested."""
    timestamp_time: dt.datetime | None = None
    timestamp_trusted: bool | None = None
    coverage: str | None = None
    """entire_file, entire_revision, contiguous_block_from_start or unclear."""
    modification_level: str | None = None
    docmdp_ok: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        for key in ("signing_time", "timestamp_time"):
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
    signatures: list[SignatureReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "message": self.message,
            "sha256": self.sha256,
            "signatures": [s.to_dict() for s in self.signatures],
        }


def verify_pdf(
    data: bytes,
    trust_roots: Iterable[TrustRoot],
    *,
    crls: Iterable[bytes] = (),
) -> VerificationReport:
    """Validate every signature of a PDF against ``trust_roots``.

    ``crls`` are DER CRLs to consult. Nothing is fetched from the network, so
    revocation is checked only for certificates that declare a CRL
    distribution point, and a missing CRL alone does not fail (soft-fail).
    """
    digest = hashlib.sha256(data).hexdigest()
    if b"%PDF-" not in data[:1024]:
        return _unverifiable("Berkas bukan dokumen PDF.", digest)
    try:
        reader = PdfFileReader(BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - parsers raise many types on hostile input
        logger.info("Unreadable PDF %s: %r", digest, exc)
        return _unverifiable("Berkas PDF rusak dan tidak dapat dibaca.", digest)
    if reader.encrypted:
        return _unverifiable(
            "Berkas PDF terenkripsi; buka kuncinya lebih dahulu lalu periksa lagi.",
            digest,
        )

    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # noqa: BLE001 - hostile input must not crash
        logger.info("Unreadable signature fields in %s: %r", digest, exc)
        return _invalid(
            [],
            "Struktur kolom tanda tangan dalam PDF rusak; dokumen tidak dapat "
            "dipercaya.",
            digest,
        )
    if not fields:
        return _unverifiable("Dokumen tidak memuat tanda tangan elektronik.", digest)

    roots = [to_asn1_certificate(cert) for cert in trust_roots]
    crl_list = [asn1_crl.CertificateList.load(item) for item in crls]
    checked: list[tuple[int, SignatureReport]] = []
    broken: list[SignatureReport] = []
    for field_name, _, field_ref in fields:
        report, revision = _check_signature(
            reader, field_name, field_ref, roots, crl_list
        )
        if revision is None:
            broken.append(report)
        else:
            checked.append((revision, report))

    checked.sort(key=lambda item: item[0])
    reports = [report for _, report in checked] + broken
    if checked:
        last = checked[-1][1]
        if last.coverage != SignatureCoverageLevel.ENTIRE_FILE.name.lower():
            last.problems.append(
                "Ada data yang ditambahkan ke berkas setelah tanda tangan terakhir."
            )

    if all(report.ok for report in reports):
        return VerificationReport(
            status="valid",
            exit_code=EXIT_VALID,
            message=(
                "Semua tanda tangan sah dan tepercaya, dan dokumen tidak berubah "
                "setelah tanda tangan terakhir."
            ),
            sha256=digest,
            signatures=reports,
        )
    return _invalid(
        reports,
        "Ada tanda tangan yang tidak sah atau tidak tepercaya, atau dokumen "
        "telah diubah setelah ditandatangani.",
        digest,
    )


def _check_signature(
    reader: PdfFileReader,
    field_name: str,
    field_ref: Any,
    roots: list[asn1_x509.Certificate],
    crls: list[asn1_crl.CertificateList],
) -> tuple[SignatureReport, int | None]:
    """Validate one signature; the revision is None if it could not be read."""
    report = SignatureReport(field_name=field_name, role=_ROLE_BY_FIELD.get(field_name))
    try:
        embedded = EmbeddedPdfSignature(reader, field_ref, field_name)
    except Exception as exc:  # noqa: BLE001 - hostile input must not crash
        logger.info("Malformed signature in field %s: %r", field_name, exc)
        report.problems.append(
            "Kamus tanda tangan rusak atau tidak dapat dibaca; tanda tangan ini "
            "tidak dapat diperiksa."
        )
        return report, None

    try:
        _fill_report(report, embedded, reader, roots, crls)
    except Exception as exc:  # noqa: BLE001 - hostile input must not crash
        logger.info("Validation of field %s failed: %r", field_name, exc)
        report.problems.append(f"Tanda tangan tidak dapat divalidasi: {exc}")
    return report, embedded.signed_revision


def _fill_report(
    report: SignatureReport,
    embedded: EmbeddedPdfSignature,
    reader: PdfFileReader,
    roots: list[asn1_x509.Certificate],
    crls: list[asn1_crl.CertificateList],
) -> None:
    context = ValidationContext(trust_roots=roots, crls=crls, allow_fetching=False)
    if embedded.sig_object_type == "/DocTimeStamp":
        report.kind = "document_timestamp"
        ts_status = validate_pdf_timestamp(embedded, validation_context=context)
        _fill_common(report, ts_status)
        report.timestamp_time = ts_status.timestamp
        report.timestamp_trusted = ts_status.trusted
        return

    status = validate_pdf_signature(
        embedded,
        signer_validation_context=context,
        key_usage_settings=_KEY_USAGE,
        skip_diff=False,
    )
    _fill_common(report, status)
    report.certification = _is_certification(reader, embedded)
    report.signing_time = status.signer_reported_dt
    if status.timestamp_validity is not None:
        tst = status.timestamp_validity
        report.timestamp_time = tst.timestamp
        report.timestamp_trusted = tst.intact and tst.valid and tst.trusted
        if not report.timestamp_trusted:
            report.problems.append(
                "Cap waktu (timestamp) tidak sah atau tidak tepercaya."
            )
    if not status.seed_value_ok:
        report.problems.append("Tanda tangan melanggar batasan kolom tanda tangannya.")
    if not status.bottom_line and report.ok:
        report.problems.append("Tanda tangan tidak lolos validasi.")


def _is_certification(reader: PdfFileReader, embedded: EmbeddedPdfSignature) -> bool:
    """Tell whether the catalog's /Perms /DocMDP entry names this signature."""
    try:
        docmdp_ref = reader.root["/Perms"].raw_get("/DocMDP")
        own_ref = embedded.sig_field.raw_get("/V")
        return docmdp_ref.reference == own_ref.reference
    except (KeyError, AttributeError):
        return False


def _fill_common(
    report: SignatureReport, status: PdfSignatureStatus | DocumentTimestampStatus
) -> None:
    signer = status.signing_cert
    names = signer.subject.native
    report.signer_name = names.get("common_name")
    report.signer_subject = signer.subject.human_friendly
    report.intact = status.intact
    report.valid = status.valid
    report.trusted = status.trusted
    report.coverage = status.coverage.name.lower() if status.coverage else None
    level = status.modification_level
    report.modification_level = level.name.lower() if level is not None else None
    report.docmdp_ok = status.docmdp_ok

    if not status.intact:
        report.problems.append(
            "Isi dokumen tidak cocok dengan tanda tangan: dokumen telah diubah."
        )
    elif not status.valid:
        report.problems.append("Tanda tangan kriptografis tidak valid.")
    elif status.revoked:
        report.problems.append("Sertifikat penandatangan telah dicabut.")
    elif not status.trusted:
        report.problems.append(
            "Sertifikat penandatangan tidak tepercaya: tidak diterbitkan oleh CA "
            "yang dikenal, belum berlaku, atau kedaluwarsa."
        )
    if (
        status.coverage is None
        or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION
    ):
        report.problems.append(
            "Cakupan tanda tangan tidak standar: sebagian berkas tidak terlindungi."
        )
    elif level is None or level == ModificationLevel.OTHER or status.docmdp_ok is False:
        report.problems.append(
            "Dokumen diubah setelah tanda tangan ini dengan perubahan yang tidak "
            "diizinkan."
        )


def _unverifiable(message: str, digest: str) -> VerificationReport:
    return VerificationReport(
        status="unverifiable",
        exit_code=EXIT_UNVERIFIABLE,
        message=message,
        sha256=digest,
    )


def _invalid(
    reports: list[SignatureReport], message: str, digest: str
) -> VerificationReport:
    return VerificationReport(
        status="invalid",
        exit_code=EXIT_INVALID,
        message=message,
        sha256=digest,
        signatures=reports,
    )
