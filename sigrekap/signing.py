"""PAdES signing of recap PDFs with pyHanko.

Three operations make a recap's signature history:

1. :func:`certify_draft`: the office seal adds an invisible certification
   signature (DocMDP "fill forms"), so that filling the prepared signature
   fields stays allowed and any other later change is detected.
2. :func:`sign_field` for each paraf: an approval signature with a small
   visible stamp in the prepared field.
3. :func:`sign_field` with ``lock=True`` for the Kadis: a full stamp with a
   QR code, and a field lock that forbids every later change.

Each operation is one incremental update (the output starts with the input
bytes) and carries an RFC 3161 signature timestamp (PAdES B-T).

The error classes live in :mod:`sigrekap.pki` and :mod:`sigrekap.tsa` and are
re-exported here: :class:`SigningError` is the base, with
:class:`WrongPassphraseError`, :class:`KeyMaterialError` and
:class:`TimestampError` below it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
    enumerate_sig_fields,
)
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import read_certification_data
from pyhanko.stamp import BaseStampStyle, QRStampStyle, TextStampStyle

from .domain import INDONESIAN_MONTHS, SEAL_FIELD, SIGNATURE_FIELDS
from .pki import KeyMaterialError, SigningError, WrongPassphraseError
from .tsa import CheckedTimeStamper, TimestampError

__all__ = [
    "KeyMaterialError",
    "SigningError",
    "StampInfo",
    "TimestampError",
    "WrongPassphraseError",
    "certify_draft",
    "sign_field",
]

logger = logging.getLogger(__name__)
# fontTools warns on every stamp that it drops DejaVu's FFTM table (a font
# tool timestamp that PDF viewers never read).
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

DIGEST_ALGORITHM = "sha256"
STAMP_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# Offsets from UTC of Indonesia's three time zones, with their usual labels.
_ZONE_LABELS = {7: "WIB", 8: "WITA", 9: "WIT"}


@dataclass(frozen=True, kw_only=True)
class StampInfo:
    """Text of a visible signature stamp."""

    name: str
    role_label: str
    """Role line, such as "Paraf Kepala Seksi"."""
    signed_at: dt.datetime
    """Time shown on the stamp; an aware datetime shows its zone (WIB/WITA/WIT)."""
    title: str = ""
    """Official position, shown on the full stamp only."""
    nip: str = ""
    verification_url: str | None = None
    """Target of the QR code on the full stamp."""
    initials: str = ""
    """Initials for the paraf stamp; derived from ``name`` when empty."""

    @property
    def display_initials(self) -> str:
        return self.initials.strip() or initials_of(self.name)


def certify_draft(
    pdf: bytes,
    seal_signer: Signer,
    timestamper: TimeStamper,
    *,
    reason: str = "Segel kantor: konsep rekapitulasi",
    lock_field: str | None = SIGNATURE_FIELDS["kadis"],
) -> bytes:
    """Certify a draft with the office seal in an invisible signature field.

    The certification signature uses DocMDP level 2 (fill in forms and sign),
    the PAdES subfilter ``ETSI.CAdES.detached`` and a signature timestamp.
    The field :data:`~sigrekap.domain.SEAL_FIELD` is created if the draft
    does not have it. In the same revision the field ``lock_field`` gets a
    /Lock dictionary (all fields, DocMDP level 1), so that the signature
    placed there later locks the document. The lock has to be in place
    before anyone signs, because validators treat a /Lock added to a field
    after a signature as a forbidden change.

    :param pdf: the unsigned draft PDF.
    :param seal_signer: pyHanko signer holding the office seal key.
    :param timestamper: timestamper for the signature timestamp, for example
        from :func:`sigrekap.tsa.make_timestamper`.
    :param reason: text of the signature's /Reason entry.
    :param lock_field: name of the final signature field, or None for a
        draft without one. A field that already has a /Lock keeps it.
    :return: the certified PDF: ``pdf`` followed by one incremental update.
    :raises SigningError: if ``pdf`` is not a readable PDF, is already
        signed, lacks ``lock_field``, or pyHanko fails to sign it.
    :raises TimestampError: if the TSA does not return a valid token. In
        every failure case nothing is returned, and ``pdf`` is not modified.
    """
    if timestamper is None:
        raise ValueError("A timestamper is required: signatures must be PAdES B-T.")
    reader = _open_reader(pdf)
    fields = _signature_fields(reader)
    for field_name, value, _ in fields:
        if value is not None:
            raise SigningError(
                "Dokumen sudah memuat tanda tangan pada kolom "
                f"{field_name!r}; segel kantor harus menjadi tanda tangan pertama."
            )
    if lock_field is not None and lock_field not in {name for name, _, _ in fields}:
        raise SigningError(
            f"Kolom tanda tangan {lock_field!r} tidak ditemukan dalam konsep."
        )
    metadata = PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm=DIGEST_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        reason=reason,
    )
    pdf_signer = PdfSigner(
        metadata,
        seal_signer,
        timestamper=_checked(timestamper),
        # A field without a box is invisible: the seal has no stamp.
        new_field_spec=SigFieldSpec(sig_field_name=SEAL_FIELD),
    )
    signed = _run_signer(
        pdf, pdf_signer, existing_fields_only=False, lock_field=lock_field
    )
    logger.info("Certified draft with the office seal (%d bytes)", len(signed))
    return signed


def sign_field(
    pdf: bytes,
    field_name: str,
    signer: Signer,
    timestamper: TimeStamper,
    *,
    stamp: StampInfo,
    lock: bool = False,
    reason: str | None = None,
) -> bytes:
    """Sign an existing empty signature field with a visible stamp.

    A paraf (``lock=False``) gets a small stamp: role, initials, name and
    time. The final signature (``lock=True``) gets a full stamp with title,
    name, NIP, date and a QR code for ``stamp.verification_url``. It also
    locks the document: the field's /Lock dictionary (all fields, DocMDP
    level 1) makes every later change invalidate the signature.

    :param pdf: the current revision of the recap.
    :param field_name: name of the prepared signature field to fill.
    :param signer: pyHanko signer of the approver, for example from
        :func:`sigrekap.pki.load_signer_from_pkcs12`.
    :param timestamper: timestamper for the signature timestamp.
    :param stamp: text of the visible stamp.
    :param lock: lock the document after this signature.
    :param reason: text of the signature's /Reason entry; defaults to
        ``stamp.role_label``.
    :return: ``pdf`` followed by one incremental update with the signature.
    :raises ValueError: for conflicting arguments (no timestamper, the seal
        field as target, or ``lock=True`` without a verification URL).
    :raises SigningError: if the field does not exist, is already signed or
        is locked by an earlier signature, if ``pdf`` is unreadable, or if
        pyHanko fails to sign.
    :raises TimestampError: if the TSA does not return a valid token. In
        every failure case nothing is returned, and ``pdf`` is not modified.
    """
    if timestamper is None:
        raise ValueError("A timestamper is required: signatures must be PAdES B-T.")
    if field_name == SEAL_FIELD:
        raise ValueError(f"{SEAL_FIELD!r} is the seal field; use certify_draft().")
    if lock and not stamp.verification_url:
        raise ValueError("The locking signature needs stamp.verification_url.")

    reader = _open_reader(pdf)
    fields = _check_field_signable(reader, field_name)
    add_lock = False
    if lock and not _has_document_lock(reader, field_name):
        if any(value is not None for _, value, _ in fields):
            raise SigningError(
                f"Kolom {field_name!r} tidak disiapkan sebagai kolom pengunci "
                "saat konsep disegel; tanda tangan pengunci tidak dapat dibuat."
            )
        # Nothing is signed yet, so adding the lock now breaks no signature.
        add_lock = True

    metadata = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=DIGEST_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        reason=reason or stamp.role_label,
        name=stamp.name,
        docmdp_permissions=MDPPerm.NO_CHANGES if lock else MDPPerm.FILL_FORMS,
    )
    style, text_params = _stamp_layout(stamp, full=lock)
    pdf_signer = PdfSigner(
        metadata, signer, timestamper=_checked(timestamper), stamp_style=style
    )
    signed = _run_signer(
        pdf,
        pdf_signer,
        existing_fields_only=True,
        text_params=text_params,
        lock_field=field_name if add_lock else None,
    )
    logger.info("Signed field %s (lock=%s, %d bytes)", field_name, lock, len(signed))
    return signed


# Pre-checks


def _open_reader(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise SigningError(
            "Berkas PDF tidak dapat dibaca untuk ditandatangani."
        ) from exc


def _signature_fields(
    reader: PdfFileReader,
) -> list[tuple[str, generic.PdfObject | None, generic.IndirectObject]]:
    try:
        return list(enumerate_sig_fields(reader))
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise SigningError("Kolom tanda tangan dalam PDF tidak dapat dibaca.") from exc


def _check_field_signable(
    reader: PdfFileReader, field_name: str
) -> list[tuple[str, generic.PdfObject | None, generic.IndirectObject]]:
    fields = _signature_fields(reader)
    target = [value for name, value, _ in fields if name == field_name]
    if not target:
        raise SigningError(
            f"Kolom tanda tangan {field_name!r} tidak ditemukan dalam dokumen."
        )
    if target[0] is not None:
        raise SigningError(
            f"Kolom tanda tangan {field_name!r} sudah ditandatangani sebelumnya."
        )

    certification = read_certification_data(reader)
    if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
        raise SigningError("Dokumen sudah dikunci oleh tanda tangan sertifikasi.")
    for name, value, field_ref in fields:
        if value is not None and _locks_field(field_ref.get_object(), field_name):
            raise SigningError(
                f"Dokumen sudah dikunci oleh tanda tangan pada kolom {name!r}; "
                "tanda tangan baru tidak diizinkan."
            )
    return fields


def _has_document_lock(reader: PdfFileReader, field_name: str) -> bool:
    matches = list(enumerate_sig_fields(reader, with_name=field_name))
    lock = matches[0][2].get_object().get("/Lock")
    if lock is None:
        return False
    lock = lock.get_object()
    return (
        lock.get("/Action") == FieldMDPAction.ALL.value
        and lock.get("/P") == MDPPerm.NO_CHANGES.value
    )


def _locks_field(sig_field: generic.DictionaryObject, target: str) -> bool:
    """Tell whether a filled signature field's lock forbids signing ``target``."""
    lock = sig_field.get("/Lock")
    if lock is None:
        return False
    lock = lock.get_object()
    if lock.get("/P") == MDPPerm.NO_CHANGES.value:
        return True
    try:
        return FieldMDPSpec.from_pdf_object(lock).is_locked(target)
    except (PdfError, ValueError, KeyError):
        # An unreadable lock is treated as locking: signing over it could
        # only produce a signature that validators reject.
        return True


# Stamps


def _stamp_layout(stamp: StampInfo, *, full: bool) -> tuple[BaseStampStyle, dict]:
    when = format_indonesian_datetime(stamp.signed_at)
    params = {
        "name": stamp.name,
        "role": stamp.role_label,
        "initials": stamp.display_initials,
        "when": when,
        "title": stamp.title,
        "nip": stamp.nip,
    }
    text_box = _text_box_style(font_size=9 if full else 8)
    if not full:
        template = "%(role)s\n%(initials)s - %(name)s\n%(when)s"
        return TextStampStyle(
            stamp_text=template, text_box_style=text_box, border_width=1
        ), params

    lines = []
    if stamp.title:
        lines.append("%(title)s")
    lines.append("%(name)s")
    if stamp.nip:
        lines.append("NIP. %(nip)s")
    lines.extend(["Ditandatangani secara elektronik", "%(when)s"])
    params["url"] = stamp.verification_url or ""
    return QRStampStyle(
        stamp_text="\n".join(lines), text_box_style=text_box, border_width=1
    ), params


def _text_box_style(*, font_size: int) -> TextBoxStyle:
    if not STAMP_FONT.is_file():
        logger.warning("Stamp font %s is missing; using pyHanko's default", STAMP_FONT)
        return TextBoxStyle(font_size=font_size)
    try:
        factory = _in_memory_font_factory(str(STAMP_FONT), font_size)
    except ImportError:
        # pyHanko's OpenType support needs fonttools and uharfbuzz.
        logger.warning("fonttools/uharfbuzz missing; stamp uses pyHanko's default font")
        return TextBoxStyle(font_size=font_size)
    return TextBoxStyle(font=factory, font_size=font_size)


def _in_memory_font_factory(path: str, font_size: int) -> FontEngineFactory:
    from pyhanko.pdf_utils.font.opentype import (
        GlyphAccumulator,
        GlyphAccumulatorFactory,
    )

    class InMemoryGlyphAccumulatorFactory(GlyphAccumulatorFactory):
        # pyHanko 0.38's factory opens the font file and never closes it;
        # reading the bytes once avoids leaking a file handle per stamp.
        def create_font_engine(
            self, writer: BasePdfFileWriter, obj_stream: Any = None
        ) -> GlyphAccumulator:
            if obj_stream is None and writer.stream_xrefs:
                obj_stream = writer.prepare_object_stream()
            return GlyphAccumulator(
                writer=writer,
                font_handle=BytesIO(_font_bytes(self.font_file)),
                font_size=self.font_size,
                obj_stream=obj_stream,
            )

    return InMemoryGlyphAccumulatorFactory(path, font_size=font_size)


@functools.cache
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def format_indonesian_datetime(moment: dt.datetime) -> str:
    """Format a time as ``12 November 2026 pukul 14.05 WIB``."""
    text = (
        f"{moment.day} {INDONESIAN_MONTHS[moment.month - 1]} {moment.year} "
        f"pukul {moment:%H.%M}"
    )
    offset = moment.utcoffset()
    if offset is None:
        return text
    hours = offset.total_seconds() / 3600
    if hours in _ZONE_LABELS:
        return f"{text} {_ZONE_LABELS[int(hours)]}"
    return f"{text} UTC{moment:%z}"


def initials_of(name: str) -> str:
    """Derive up to three initials from a name, skipping academic titles."""
    # Degrees follow a comma ("Budi, S.Kom.") and prefixes end with a dot
    # ("Dr. Ir. Budi"); neither belongs in the initials.
    words = name.split(",")[0].split()
    letters = [w[0].upper() for w in words if not w.endswith(".") and w[0].isalpha()]
    return "".join(letters[:3]) or name.strip()[:1].upper()


# Running pyHanko


def _checked(timestamper: TimeStamper) -> CheckedTimeStamper:
    if isinstance(timestamper, CheckedTimeStamper):
        return timestamper
    description = getattr(timestamper, "url", None) or type(timestamper).__name__
    return CheckedTimeStamper(timestamper, str(description))


def _run_signer(
    pdf: bytes,
    pdf_signer: PdfSigner,
    *,
    existing_fields_only: bool,
    text_params: dict | None = None,
    lock_field: str | None = None,
) -> bytes:
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        if lock_field is not None:
            _add_document_lock(writer, lock_field)
        output = pdf_signer.sign_pdf(
            writer,
            existing_fields_only=existing_fields_only,
            appearance_text_params=text_params,
        )
    except SigningError:
        raise
    except Exception as exc:
        raise _translate_error(exc) from exc
    signed = output.getvalue()
    if not signed.startswith(pdf):
        # pyHanko always appends; anything else would break the rule that
        # each revision is a prefix of the next.
        raise SigningError("Hasil penandatanganan bukan pembaruan inkremental.")
    return signed


def _add_document_lock(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    """Put a lock on the field: all fields locked, and DocMDP level 1."""
    matches = list(enumerate_sig_fields(writer, with_name=field_name))
    field_ref = matches[0][2]
    sig_field = field_ref.get_object()
    if "/Lock" in sig_field:
        return
    lock = FieldMDPSpec(action=FieldMDPAction.ALL).as_sig_field_lock()
    lock[pdf_name("/P")] = generic.NumberObject(MDPPerm.NO_CHANGES.value)
    sig_field[pdf_name("/Lock")] = lock
    writer.mark_update(field_ref)


def _translate_error(exc: Exception) -> SigningError:
    """Map an exception from pyHanko to this module's errors."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, SigningError):
            return current
        if isinstance(current, TimestampRequestError):
            return TimestampError(
                "Layanan cap waktu (TSA) tidak dapat dihubungi atau menolak "
                "permintaan. Dokumen belum ditandatangani; coba lagi nanti."
            )
        current = current.__cause__ or current.__context__
    if isinstance(exc, PyHankoSigningError):
        logger.warning("pyHanko rejected the signing request: %s", exc)
        return SigningError(f"Penandatanganan gagal: {exc}")
    if isinstance(exc, PdfError):
        logger.warning("PDF error while signing: %s", exc)
        return SigningError("Berkas PDF tidak dapat diproses untuk ditandatangani.")
    logger.error("Unexpected error while signing", exc_info=exc)
    return SigningError("Penandatanganan gagal karena kesalahan tak terduga.")
