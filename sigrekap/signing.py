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
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.form_tools import annot_width_height, get_single_field_annot
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
    box = _field_box_size(reader, field_name)
    style, text_params = _stamp_layout(stamp, full=lock, box=box)
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


def _field_box_size(reader: PdfFileReader, field_name: str) -> tuple[float, float]:
    """Return the width and height in points of a signature field's widget."""
    matches = list(enumerate_sig_fields(reader, with_name=field_name))
    try:
        annotation = get_single_field_annot(matches[0][2].get_object())
    except PdfError:
        # pyHanko rejects such a field when it signs; report that error there.
        return 0, 0
    width, height = annot_width_height(annotation)
    # pyHanko reads PDF reals as Decimal.
    return float(width), float(height)


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

# Gap in points between the stamp border and its text.
STAMP_TEXT_MARGIN = 4
# Gap in points around the QR code of the full stamp (pyHanko's "innsep").
QR_PADDING = 3
# Largest share of the full stamp's width that the QR code may take.
QR_MAX_WIDTH_SHARE = 0.35
# Candidate font sizes in points, largest first. pyHanko writes the size with
# "%d Tf", so only whole points are possible.
PARAF_FONT_SIZES = (8, 7, 6)
FULL_FONT_SIZES = (9, 8, 7, 6)
# Line spacing as a multiple of the font size.
LINE_SPACING = 1.25
# Width of every Courier glyph in em, for pyHanko's fallback font.
COURIER_EM_WIDTH = 0.6

# Unicode ranges kept in the embedded stamp font: Basic Latin, Latin-1,
# Latin Extended-A and -B, Latin Extended Additional, general punctuation,
# currency and letterlike symbols. Indonesian names and titles are written
# with these; any other character is drawn as the font's .notdef box.
STAMP_FONT_RANGES = (
    (0x0020, 0x007E),
    (0x00A0, 0x024F),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
)
# PDF reads CIDFont glyph widths (/W) and TJ adjustments in thousandths of
# an em, whatever the font program's own units per em.
PDF_GLYPH_SPACE_UNITS = 1000


@dataclass(frozen=True)
class _StampFont:
    """Font engine factory of the stamps, with the text measure that fits it."""

    factory: FontEngineFactory | None
    """Factory for :class:`TextBoxStyle`; None means pyHanko's Courier."""
    em_width: Callable[[str], float]
    """Advance width of one line of text, in em."""


@dataclass(frozen=True)
class _TextFit:
    lines: list[str]
    font_size: int
    leading: int


def _stamp_layout(
    stamp: StampInfo, *, full: bool, box: tuple[float, float]
) -> tuple[BaseStampStyle, dict]:
    """Build the stamp style and text parameters for a field of size ``box``.

    The text is wrapped to the box and set in the largest candidate size at
    which every line fits. If none fits, the smallest size is used and pyHanko
    scales the stamp content down until it fits the box.
    """
    font = _load_stamp_font(str(STAMP_FONT))
    box_width, box_height = box
    when = format_indonesian_datetime(stamp.signed_at)
    # Keep "12 November 2026" and "pukul 14.05 WIB" whole when the line wraps.
    date_text, _, time_text = when.partition(" pukul ")
    when_chunks = [date_text, f"pukul {time_text}"] if time_text else [when]

    if not full:
        paragraphs = [
            [stamp.role_label],
            [f"{stamp.display_initials} - {stamp.name}"],
            when_chunks,
        ]
        fit = _fit_text(
            paragraphs,
            font,
            width=box_width - 2 * STAMP_TEXT_MARGIN,
            height=box_height - 2 * STAMP_TEXT_MARGIN,
            sizes=PARAF_FONT_SIZES,
        )
        style = TextStampStyle(
            stamp_text="%(stamp_text)s",
            text_box_style=_text_box_style(font, fit),
            border_width=1,
        )
        return style, {"stamp_text": "\n".join(fit.lines)}

    paragraphs = []
    if stamp.title:
        paragraphs.append([stamp.title])
    paragraphs.append([stamp.name])
    if stamp.nip:
        paragraphs.append([f"NIP. {stamp.nip}"])
    paragraphs.append(["Ditandatangani secara elektronik"])
    paragraphs.append(when_chunks)
    qr_size = _qr_size(box_width, box_height)
    fit = _fit_text(
        paragraphs,
        font,
        width=box_width - (qr_size + 2 * QR_PADDING) - 2 * STAMP_TEXT_MARGIN,
        height=box_height - 2 * STAMP_TEXT_MARGIN,
        sizes=FULL_FONT_SIZES,
    )
    style = QRStampStyle(
        stamp_text="%(stamp_text)s",
        text_box_style=_text_box_style(font, fit),
        border_width=1,
        innsep=QR_PADDING,
        qr_inner_size=qr_size,
        # Center the QR code and text as one group in the box.
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
        ),
    )
    params = {
        "stamp_text": "\n".join(fit.lines),
        "url": stamp.verification_url or "",
    }
    return style, params


def _qr_size(box_width: float, box_height: float) -> int:
    """Return the QR code's side in points: the box height, capped by width."""
    if not box_width or not box_height:
        # No box: the field is invisible and pyHanko draws no stamp.
        return 60
    size = min(box_height - 2 * QR_PADDING, box_width * QR_MAX_WIDTH_SHARE)
    return max(1, int(size))


def _fit_text(
    paragraphs: list[list[str]],
    font: _StampFont,
    *,
    width: float,
    height: float,
    sizes: tuple[int, ...],
) -> _TextFit:
    """Wrap the paragraphs at the largest font size whose lines fit the area.

    Each paragraph is a list of chunks for :func:`wrap_chunks`. When no size
    fits, the smallest one is returned.
    """
    if width <= 0 or height <= 0:
        # No room for text: an invisible field, which gets no stamp, or a box
        # smaller than the margins, whose content pyHanko shrinks to fit.
        lines = [" ".join(chunks) for chunks in paragraphs]
        return _TextFit(lines, sizes[0], round(sizes[0] * LINE_SPACING))
    for size in sizes:
        leading = round(size * LINE_SPACING)
        lines, widest = _wrap_paragraphs(paragraphs, font, size=size, width=width)
        # pyHanko rounds each line's width to whole points, hence the +1.
        if widest + 1 <= width and len(lines) * leading <= height:
            break
    return _TextFit(lines, size, leading)


def _wrap_paragraphs(
    paragraphs: list[list[str]], font: _StampFont, *, size: int, width: float
) -> tuple[list[str], float]:
    """Wrap the paragraphs at one font size; return the lines and the widest."""

    def line_width(text: str) -> float:
        return font.em_width(text) * size

    lines = [
        line for chunks in paragraphs for line in wrap_chunks(chunks, width, line_width)
    ]
    return lines, max((line_width(line) for line in lines), default=0.0)


def wrap_chunks(
    chunks: list[str], max_width: float, width_of: Callable[[str], float]
) -> list[str]:
    """Wrap chunks of text into lines no wider than ``max_width``.

    Chunks are joined with spaces and kept whole where a line has room. A
    chunk wider than a line is broken at its spaces, and a single word wider
    than a line is broken between characters.
    """
    lines: list[str] = []
    current = ""
    pending = [chunk.strip() for chunk in reversed(chunks) if chunk.strip()]
    while pending:
        chunk = pending.pop()
        candidate = f"{current} {chunk}" if current else chunk
        if width_of(candidate) <= max_width:
            current = candidate
        elif current:
            lines.append(current)
            current = ""
            pending.append(chunk)
        elif " " in chunk:
            pending.extend(reversed(chunk.split()))
        else:
            head = _longest_fitting_prefix(chunk, max_width, width_of)
            lines.append(head)
            if chunk[len(head) :]:
                pending.append(chunk[len(head) :])
    if current:
        lines.append(current)
    return lines


def _longest_fitting_prefix(
    word: str, max_width: float, width_of: Callable[[str], float]
) -> str:
    # At least one character, so that wrapping always makes progress.
    end = 1
    while end < len(word) and width_of(word[: end + 1]) <= max_width:
        end += 1
    return word[:end]


def _text_box_style(font: _StampFont, fit: _TextFit) -> TextBoxStyle:
    text_layout = layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MID,
        y_align=layout.AxisAlignment.ALIGN_MID,
        margins=layout.Margins.uniform(STAMP_TEXT_MARGIN),
    )
    if font.factory is None:
        return TextBoxStyle(
            font_size=fit.font_size, leading=fit.leading, box_layout_rule=text_layout
        )
    return TextBoxStyle(
        font=font.factory,
        font_size=fit.font_size,
        leading=fit.leading,
        box_layout_rule=text_layout,
    )


@functools.cache
def _load_stamp_font(path: str) -> _StampFont:
    """Load the stamp font, or fall back to pyHanko's Courier."""
    if not Path(path).is_file():
        logger.warning("Stamp font %s is missing; using pyHanko's Courier", path)
        return _courier()
    try:
        import uharfbuzz

        factory = _in_memory_font_factory(path)
        font_bytes = _stamp_font_bytes(path)
    except ImportError:
        # pyHanko's OpenType support needs fonttools and uharfbuzz.
        logger.warning("fonttools/uharfbuzz missing; stamps use pyHanko's Courier")
        return _courier()
    hb_font = uharfbuzz.Font(uharfbuzz.Face(font_bytes))

    def em_width(text: str) -> float:
        # Shape like pyHanko's GlyphAccumulator does, so kerning counts.
        buffer = uharfbuzz.Buffer()
        buffer.add_str(text)
        buffer.guess_segment_properties()
        uharfbuzz.shape(hb_font, buffer)
        advance = sum(position.x_advance for position in buffer.glyph_positions)
        return advance / PDF_GLYPH_SPACE_UNITS

    return _StampFont(factory=factory, em_width=em_width)


def _courier() -> _StampFont:
    return _StampFont(factory=None, em_width=lambda text: COURIER_EM_WIDTH * len(text))


def _in_memory_font_factory(path: str) -> FontEngineFactory:
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
            engine = GlyphAccumulator(
                writer=writer,
                font_handle=BytesIO(_stamp_font_bytes(self.font_file)),
                font_size=self.font_size,
                obj_stream=obj_stream,
            )
            # HarfBuzz has read the kerning already, and pyHanko drops these
            # tables from the embedded subset anyway. Removing them first
            # spares fontTools from parsing them: about 25 ms per paraf stamp,
            # measured on a 2-core x86-64 machine.
            for tag in ("GPOS", "GSUB", "GDEF"):
                if tag in engine.tt:
                    del engine.tt[tag]
            return engine

    # TextBox sets the engine's font size from its style, so this one is unused.
    return InMemoryGlyphAccumulatorFactory(path)


@functools.cache
def _stamp_font_bytes(path: str) -> bytes:
    """Cut the stamp font to Latin text and rescale it to 1000 units per em."""
    # pyHanko 0.38's GlyphAccumulator writes glyph widths into the CIDFont
    # /W array, and kerning into TJ, in the font's own units. PDF reads both
    # in thousandths of an em, so a font with 2048 units per em (DejaVu
    # Sans) is drawn with each glyph advanced 2.048 times too far. A font
    # with 1000 units per em makes the two scales agree.
    from fontTools import subset, ttLib
    from fontTools.ttLib.scaleUpem import scale_upem

    font = ttLib.TTFont(path)
    options = subset.Options()
    # scale_upem leaves TrueType hinting programs in the old units, so the
    # hints would distort the glyphs; viewers render fine without them.
    options.hinting = False
    options.layout_features = ["*"]
    options.notdef_outline = True
    # FFTM (a font tool timestamp) and MATH are of no use in a PDF, and
    # listing them here keeps fontTools from warning that it cannot subset them.
    options.drop_tables += ["FFTM", "MATH"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(
        unicodes=[c for low, high in STAMP_FONT_RANGES for c in range(low, high + 1)]
    )
    subsetter.subset(font)
    scale_upem(font, PDF_GLYPH_SPACE_UNITS)
    output = BytesIO()
    font.save(output)
    return output.getvalue()


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
