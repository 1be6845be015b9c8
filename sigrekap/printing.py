"""The printable signed copy: the signed pages plus a verification sheet.

The signed original is never changed. The copy is a new PDF. Each of its
pages shows a signed page as a form XObject, draws the signature stamps
(widget appearances) onto it and adds a printed-copy mark in the left margin.
A last sheet summarises every signature and the document hashes, with a QR
code to the verification page. Everything stays vector.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, cast
from xml.sax.saxutils import escape

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from . import accounts, archive_integrity
from .charts import register_fonts
from .domain import SEAL_FIELD, SIGNATURE_FIELDS, Period
from .errors import ConflictError
from .models import Recap, Revision
from .storage import FileStore
from .verify import (
    NO_REVOCATIONS,
    RevocationData,
    TrustRoot,
    VerificationReport,
    verify_pdf,
)

logger = logging.getLogger(__name__)

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
MARK_FONT = "Helvetica"
MARK_SIZE = 7.0
#: Distance of the mark's baseline from the page's left edge, in points. Most
#: printers cannot print the outer 4-5 mm of a sheet.
MARK_BASELINE_X = 24.0
ROLE_LABELS = {
    "seal": "Segel elektronik kantor (sertifikasi)",
    "kasi": "Paraf Kepala Seksi",
    "kabid": "Paraf Kepala Bidang",
    "kadis": "Tanda tangan Kepala Dinas",
}
_ROLE_BY_FIELD = {name: role for role, name in SIGNATURE_FIELDS.items()}
_ROLE_BY_FIELD[SEAL_FIELD] = "seal"
#: Signature field name -> what the signature in it means.
FIELD_LABELS = {name: ROLE_LABELS[role] for name, role in _ROLE_BY_FIELD.items()}
# Annotation flags (PDF 32000-1, 12.5.3): Hidden and Print.
_FLAG_HIDDEN = 2
_FLAG_PRINT = 4


def mark_text(verification_code: str) -> str:
    """Return the printed-copy mark that every page of the copy carries."""
    return (
        "Salinan cetak dokumen yang ditandatangani secara elektronik · "
        f"Kode verifikasi: {verification_code}"
    )


@dataclass(frozen=True)
class SignatureLine:
    """One signature as the verification sheet lists it."""

    signer: str
    title: str
    role: str
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None
    is_valid: bool


@dataclass(frozen=True)
class VerificationSheet:
    """The contents of a printed copy's verification sheet."""

    office_name: str
    number: str
    period_label: str
    verification_code: str
    verification_url: str
    pdf_sha256: str
    workbook_sha256: str | None
    status: str
    signatures: tuple[SignatureLine, ...]
    printed_at: dt.datetime


# ---------------------------------------------------------------------------
# Page import


class _Importer:
    """Copy objects of one source PDF into a writer, each shared object once.

    ``BasePdfFileWriter.import_object`` does not keep its map of imported
    objects between calls, so importing every page's resources separately
    would copy the shared fonts once per page.
    """

    def __init__(self, writer: PdfFileWriter) -> None:
        self.writer = writer
        self._done: dict[tuple[int, int], generic.PdfObject] = {}

    def object(self, value: generic.PdfObject) -> generic.PdfObject:
        if isinstance(value, generic.IndirectObject):
            key = (value.idnum, value.generation)
            if key not in self._done:
                self._done[key] = self.writer.import_object(value)
            return self._done[key]
        return self.writer.import_object(value)

    def resources(
        self, resources: generic.DictionaryObject
    ) -> generic.DictionaryObject:
        result = generic.DictionaryObject()
        for category in resources:
            entries = resources[category]
            if isinstance(entries, generic.DictionaryObject):
                imported = generic.DictionaryObject()
                for name in entries:
                    imported[pdf_name(name)] = self.object(entries.raw_get(name))
                result[pdf_name(category)] = imported
            else:
                result[pdf_name(category)] = self.object(resources.raw_get(category))
        return result


def _resolved_entry(
    dictionary: generic.DictionaryObject, key: str
) -> generic.PdfObject | None:
    # ``DictionaryObject.get`` returns indirect references unresolved.
    try:
        return dictionary[key]
    except KeyError:
        return None


def _inherited(page: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    node: generic.DictionaryObject | None = page
    while node is not None:
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return None


def _box(value: Any) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(number) for number in value)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _array(box: tuple[float, float, float, float]) -> generic.ArrayObject:
    return generic.ArrayObject(generic.FloatObject(value) for value in box)


def _content_data(page: generic.DictionaryObject) -> bytes:
    if "/Contents" not in page:
        return b""
    contents = page["/Contents"]
    if isinstance(contents, generic.ArrayObject):
        return b"\n".join(part.get_object().data for part in contents)
    return contents.data


def _form_xobject(
    importer: _Importer,
    data: bytes,
    bbox: tuple[float, float, float, float],
    resources: generic.DictionaryObject,
) -> generic.IndirectObject:
    stream = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): _array(bbox),
            pdf_name("/Resources"): importer.resources(resources),
        },
        stream_data=data,
    )
    stream.compress()
    return importer.writer.add_object(stream)


def _appearance_placement(
    annotation: generic.DictionaryObject,
) -> tuple[generic.IndirectObject, tuple[float, ...]] | None:
    """Return the normal appearance and the matrix that maps it onto its Rect."""
    flags = int(annotation["/F"]) if "/F" in annotation else 0
    if flags & _FLAG_HIDDEN or not flags & _FLAG_PRINT:
        return None
    try:
        appearance_dict = annotation["/AP"]
        normal = appearance_dict.raw_get("/N")
    except KeyError:
        return None
    resolved = normal.get_object()
    if not isinstance(resolved, generic.StreamObject):
        # For a dictionary of states (check boxes), /AS selects the state.
        state = _resolved_entry(annotation, "/AS")
        if state is None or state not in resolved:
            return None
        normal = resolved.raw_get(state)
        resolved = normal.get_object()
    if not isinstance(normal, generic.IndirectObject) or "/BBox" not in resolved:
        return None

    rx0, ry0, rx1, ry1 = _box(annotation["/Rect"])
    bx0, by0, bx1, by1 = _box(resolved["/BBox"])
    if "/Matrix" in resolved:
        a, b, c, d, e, f = (float(value) for value in resolved["/Matrix"])
        corners = [
            (a * x + c * y + e, b * x + d * y + f)
            for x in (bx0, bx1)
            for y in (by0, by1)
        ]
        bx0, bx1 = min(x for x, _ in corners), max(x for x, _ in corners)
        by0, by1 = min(y for _, y in corners), max(y for _, y in corners)
    if rx1 <= rx0 or ry1 <= ry0 or bx1 <= bx0 or by1 <= by0:
        return None
    # PDF 32000-1, 12.5.5: scale and move the transformed BBox onto the Rect.
    sx = (rx1 - rx0) / (bx1 - bx0)
    sy = (ry1 - ry0) / (by1 - by0)
    return normal, (sx, 0.0, 0.0, sy, rx0 - bx0 * sx, ry0 - by0 * sy)


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return (
        b"("
        + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        + b")"
    )


def _mark_operators(text: str, box: tuple[float, float, float, float]) -> bytes:
    """Draw the mark upwards along the left margin, centred on the page height."""
    x0, y0, _, y1 = box
    width = stringWidth(text, MARK_FONT, MARK_SIZE)
    start = y0 + max(0.0, (y1 - y0 - width) / 2)
    return (
        b"q 0.3 0.3 0.3 rg BT /SRMark %.2f Tf 0 1 -1 0 %.2f %.2f Tm "
        % (MARK_SIZE, x0 + MARK_BASELINE_X, start)
        + _pdf_string(text)
        + b" Tj ET Q\n"
    )


def _mark_font() -> generic.DictionaryObject:
    # A standard font with WinAnsiEncoding covers the mark's Latin-1 text
    # (including the middle dot) without embedding anything.
    return generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name(f"/{MARK_FONT}"),
            pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
        }
    )


def _copy_pages(
    writer: PdfFileWriter, source: bytes, mark: str, mark_font: generic.IndirectObject
) -> int:
    """Append every page of ``source`` to ``writer``, flattened and marked."""
    reader = PdfFileReader(BytesIO(source))
    importer = _Importer(writer)
    count = int(reader.root["/Pages"]["/Count"])
    for index in range(count):
        page_ref, resources = reader.find_page_for_modification(index)
        page = page_ref.get_object()
        media_box_value = _inherited(page, "/MediaBox")
        if media_box_value is None:
            raise ValueError(f"Page {index + 1} of the signed PDF has no /MediaBox")
        media_box = _box(media_box_value)
        page_form = _form_xobject(importer, _content_data(page), media_box, resources)

        xobjects = generic.DictionaryObject({pdf_name("/SRPage"): page_form})
        operators = [b"q /SRPage Do Q\n"]
        annotations: Any = _resolved_entry(page, "/Annots") or []
        for number, annotation_ref in enumerate(annotations):
            annotation = annotation_ref.get_object()
            placement = _appearance_placement(annotation)
            if placement is None:
                continue
            appearance, matrix = placement
            name = f"/SRAp{number}"
            imported = importer.object(appearance)
            form = imported.get_object()
            # Appearance streams may omit these, but Do needs them on a form.
            form[pdf_name("/Type")] = pdf_name("/XObject")
            form[pdf_name("/Subtype")] = pdf_name("/Form")
            xobjects[pdf_name(name)] = imported
            matrix_text = " ".join(f"{value:.4f}" for value in matrix)
            operators.append(f"q {matrix_text} cm {name} Do Q\n".encode())
        operators.append(_mark_operators(mark, media_box))

        content = generic.StreamObject(stream_data=b"".join(operators))
        content.compress()
        new_page = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): _array(media_box),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {
                        pdf_name("/XObject"): xobjects,
                        pdf_name("/Font"): generic.DictionaryObject(
                            {pdf_name("/SRMark"): mark_font}
                        ),
                    }
                ),
                pdf_name("/Contents"): writer.add_object(content),
            }
        )
        crop_box = _inherited(page, "/CropBox")
        if crop_box is not None:
            new_page[pdf_name("/CropBox")] = _array(_box(crop_box))
        rotate = _inherited(page, "/Rotate")
        if rotate:
            # NOTE: the mark turns with the page, so on a rotated page it
            # runs along another edge.
            new_page[pdf_name("/Rotate")] = generic.NumberObject(int(cast(Any, rotate)))
        writer.insert_page(new_page)
    return count


# ---------------------------------------------------------------------------
# Verification sheet


def _format_time(moment: dt.datetime | None) -> str:
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M:%S WIB")


def _qr_drawing(url: str, size: float) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(
        size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0]
    )
    drawing.add(widget)
    return drawing


def render_sheet(sheet: VerificationSheet) -> bytes:
    """Render the verification sheet as a PDF of its own (one page or more)."""
    fonts = register_fonts()
    body = ParagraphStyle("sheet", fontName=fonts.regular, fontSize=9, leading=12)
    small = ParagraphStyle("sheet_small", body, fontSize=7.5, leading=9.5)
    heading = ParagraphStyle(
        "sheet_heading", body, fontName=fonts.bold, fontSize=13, leading=17
    )
    label = ParagraphStyle("sheet_label", small, fontName=fonts.bold)
    hash_style = ParagraphStyle("sheet_hash", small, fontSize=7.5)

    status_text = {
        "valid": (
            "Sah: semua tanda tangan sah dan tepercaya, dan dokumen tidak "
            "berubah setelah tanda tangan terakhir."
        ),
        "invalid": (
            "Tidak sah: ada tanda tangan yang tidak sah atau tidak tepercaya, "
            "atau dokumen berubah setelah ditandatangani."
        ),
        "unverifiable": "Tidak dapat diperiksa: dokumen tidak memuat tanda tangan.",
    }.get(sheet.status, sheet.status)
    facts = [
        ("Instansi", sheet.office_name),
        ("Nomor dokumen", sheet.number),
        ("Periode", sheet.period_label),
        ("Kode verifikasi", sheet.verification_code),
        ("SHA-256 PDF bertanda tangan", sheet.pdf_sha256),
        ("SHA-256 berkas Excel", sheet.workbook_sha256 or "–"),
        ("Hasil verifikasi saat dicetak", status_text),
        ("Dicetak pada", _format_time(sheet.printed_at)),
    ]
    fact_rows = [
        [
            Paragraph(escape(name), label),
            Paragraph(escape(value), hash_style if "SHA-256" in name else small),
        ]
        for name, value in facts
    ]
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a96a3")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
    )
    fact_table = Table(fact_rows, colWidths=[4.6 * cm, 12.4 * cm])
    fact_table.setStyle(grid)

    header = [
        "No",
        "Penanda tangan",
        "Jabatan dan peran",
        "Waktu tanda tangan",
        "Waktu cap waktu (timestamp)",
        "Keabsahan",
    ]
    signature_rows = [[Paragraph(escape(text), label) for text in header]]
    for number, line in enumerate(sheet.signatures, start=1):
        role = f"{line.title}<br/>{escape(line.role)}" if line.title else line.role
        signature_rows.append(
            [
                Paragraph(str(number), small),
                Paragraph(escape(line.signer), small),
                Paragraph(role if line.title else escape(role), small),
                Paragraph(_format_time(line.signing_time), small),
                Paragraph(_format_time(line.timestamp_time), small),
                Paragraph("Sah" if line.is_valid else "Tidak sah", small),
            ]
        )
    signature_table = Table(
        signature_rows,
        colWidths=[0.8 * cm, 3.6 * cm, 4.4 * cm, 2.9 * cm, 2.9 * cm, 2.4 * cm],
        repeatRows=1,
    )
    signature_table.setStyle(grid)

    qr = _qr_drawing(sheet.verification_url, 4.2 * cm)
    instruction = Paragraph(
        "Salinan kertas ini tidak memuat tanda tangan elektronik; keasliannya "
        "diperiksa terhadap dokumen asli yang diarsipkan. Pindai kode QR ini "
        f"atau buka <b>{escape(sheet.verification_url)}</b>, lalu pastikan "
        "nomor dokumen, kode verifikasi dan SHA-256 pada halaman verifikasi sama "
        "dengan yang tercantum pada lembar ini.",
        body,
    )
    qr_table = Table([[qr, instruction]], colWidths=[4.8 * cm, 12.2 * cm])
    qr_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=f"Lembar verifikasi {sheet.number}",
        author=sheet.office_name,
        creator="SigRekap",
    )
    document.build(
        [
            Paragraph("LEMBAR VERIFIKASI SALINAN CETAK", heading),
            Paragraph(
                "Lembar ini melengkapi salinan cetak dokumen elektronik yang "
                "ditandatangani di bawah ini.",
                body,
            ),
            Spacer(1, 0.3 * cm),
            fact_table,
            Spacer(1, 0.5 * cm),
            Paragraph("Tanda tangan elektronik pada dokumen", heading),
            signature_table,
            Spacer(1, 0.6 * cm),
            qr_table,
        ]
    )
    return buffer.getvalue()


def build_printed_copy(signed_pdf: bytes, sheet: VerificationSheet) -> bytes:
    """Build the printable copy of a signed PDF without changing its bytes."""
    writer = PdfFileWriter()
    writer.document_meta.title = f"Salinan cetak {sheet.number}"
    writer.document_meta.author = sheet.office_name
    writer.document_meta.creator = "SigRekap"
    mark_font = writer.add_object(_mark_font())
    mark = mark_text(sheet.verification_code)
    pages = _copy_pages(writer, signed_pdf, mark, mark_font)
    sheet_pages = _copy_pages(writer, render_sheet(sheet), mark, mark_font)
    output = BytesIO()
    writer.write(output)
    logger.info(
        "Printed copy of %s built: %s signed pages and %s sheet page(s)",
        sheet.number,
        pages,
        sheet_pages,
    )
    return output.getvalue()


# ---------------------------------------------------------------------------
# From a recap


def signature_lines(
    report: VerificationReport, signers_by_role: dict[str, tuple[str, str]]
) -> tuple[SignatureLine, ...]:
    """Describe every signature of a report, with titles from the signers' profiles."""
    lines = []
    for signature in report.signatures:
        role = _ROLE_BY_FIELD.get(signature.field_name)
        name, title = signers_by_role.get(role or "", ("", ""))
        if role == "seal":
            title = ""
        lines.append(
            SignatureLine(
                signer=signature.signer_name or name or "–",
                title=title,
                role=ROLE_LABELS.get(role or "", signature.field_name),
                signing_time=signature.signing_time,
                timestamp_time=signature.timestamp_time,
                is_valid=signature.intact and signature.valid and signature.trusted,
            )
        )
    return tuple(lines)


def _signers_by_role(
    session: Session, revision: Revision
) -> dict[str, tuple[str, str]]:
    signers: dict[str, tuple[str, str]] = {}
    current: Revision | None = revision
    while current is not None:
        if current.signer is not None:
            signers.setdefault(
                current.kind, (current.signer.name, current.signer.title)
            )
        current = (
            session.get(Revision, current.parent_id) if current.parent_id else None
        )
    return signers


def printed_copy(
    session: Session,
    store: FileStore,
    recap: Recap,
    trust_roots: Sequence[TrustRoot],
    base_url: str,
    now: dt.datetime | None = None,
    *,
    revocation: RevocationData = NO_REVOCATIONS,
) -> bytes:
    """Build the printable copy of a signed recap's current revision.

    Raise ConflictError when the recap is not signed yet, and
    ArchiveIntegrityError when a stored file fails its hash check.
    """
    revision = recap.current_revision
    if recap.status not in ("signed", "archived") or revision is None:
        raise ConflictError(
            "Salinan cetak hanya tersedia untuk rekapitulasi yang sudah "
            "ditandatangani Kepala Dinas."
        )
    pdf = archive_integrity.read_file(
        store, recap, revision.sha256, "PDF bertanda tangan"
    )
    if revision.workbook_sha256:
        # The sheet prints this hash, so the file behind it must be intact.
        archive_integrity.read_file(store, recap, revision.workbook_sha256, "Excel")
    report = verify_pdf(
        pdf, trust_roots, crls=revocation.crls, revoked=revocation.revoked
    )
    sheet = VerificationSheet(
        office_name=accounts.get_office(session).name,
        number=recap.number,
        period_label=Period.parse(recap.period).label(),
        verification_code=recap.verification_code,
        verification_url=(
            f"{base_url.rstrip('/')}/verifikasi/{recap.verification_code}"
        ),
        pdf_sha256=revision.sha256,
        workbook_sha256=revision.workbook_sha256,
        status=report.status,
        signatures=signature_lines(report, _signers_by_role(session, revision)),
        printed_at=now or dt.datetime.now(dt.UTC),
    )
    return build_printed_copy(pdf, sheet)
