"""Render a monthly recap as an A4 PDF draft with empty signature fields."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import (
    EmbeddedFileObject,
    EmbeddedFileParams,
    FileSpec,
    embed_file,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    SigFieldSpec,
    append_signature_field,
    enumerate_sig_fields,
)
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    LongTable,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from .charts import (
    all_charts,
    format_number,
    format_percent,
    format_share,
    register_fonts,
)
from .domain import (
    INDONESIAN_MONTHS,
    SIGNATURE_FIELDS,
    WORKBOOK_ATTACHMENT_NAME,
    Approver,
    OfficeProfile,
    RecapDocumentInfo,
)
from .stats import UNFILLED_LABEL, RecapStatistics

logger = logging.getLogger(__name__)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCUMENT_TITLE = "REKAPITULASI PENGADUAN MASYARAKAT MELALUI SP4N-LAPOR!"
CONFIDENTIAL_TITLE = "(Rahasia)"
UNTITLED = "(Tanpa judul)"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 2 * cm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
TOP_MARGIN = 1.8 * cm
BOTTOM_MARGIN = 2.1 * cm
# Table cell text is cut to this many characters, because one table row
# taller than a page makes ReportLab fail with a LayoutError.
MAX_CELL_CHARS = 300

CELL_PADDING = 3

PARAF_BOX = (4.5 * cm, 2.2 * cm)
# Room for the final signature's QR code and the office stamp.
SIGNATURE_BOX = (7 * cm, 3.5 * cm)

HEADER_BLUE = colors.HexColor("#1f4e79")
ZEBRA_BLUE = colors.HexColor("#eef3f9")
TOTAL_BLUE = colors.HexColor("#d9e2f3")
GRID_GREY = colors.HexColor("#9e9e9e")
MUTED_GREY = colors.HexColor("#595959")

# C0 and C1 control characters other than tab, LF and CR have no printable
# glyph and would print as empty boxes, so they are dropped.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class _Column:
    """One complaint table column: heading, width in points and cell text function.

    ``value`` receives the row number and the complaint.
    """

    heading: str
    width: float
    value: Callable[[int, Any], str]
    align: str = "LEFT"


# -- text helpers ---------------------------------------------------------


def clean_text(value: object) -> str:
    """Return value as printable single-line text without control characters."""
    if value is None:
        return ""
    text = _CONTROL_CHARS.sub("", str(value))
    # Lone surrogates cannot be encoded to UTF-8 and would crash ReportLab.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split())


def wrap_lines(text: str, width: float, font_name: str, font_size: float) -> str:
    """Break text into newline-separated lines no wider than width points.

    Table cells get pre-wrapped plain text instead of a Paragraph because
    ReportLab wraps a Paragraph cell up to three times per layout. With
    Paragraph cells a 20,000-complaint recap took about twice as long.
    """
    lines: list[str] = []
    for line in simpleSplit(text, font_name, font_size, width) or [""]:
        # simpleSplit leaves a word longer than the cell on one line, so
        # break such lines between characters.
        while stringWidth(line, font_name, font_size) > width and len(line) > 1:
            # Binary search for the longest prefix that fits, at least 1 char.
            low, high = 1, len(line) - 1
            while low < high:
                middle = (low + high + 1) // 2
                if stringWidth(line[:middle], font_name, font_size) <= width:
                    low = middle
                else:
                    high = middle - 1
            lines.append(line[:low])
            line = line[low:]
        lines.append(line)
    return "\n".join(lines)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_date_long(value: dt.date) -> str:
    """Format a date the Indonesian way, such as ``4 Desember 2026``."""
    return f"{value.day} {INDONESIAN_MONTHS[value.month - 1]} {value.year}"


def _format_date_short(value: dt.datetime | dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "–"


def _format_days(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} hari".replace(".", ",")


def complaint_title(complaint: Any) -> str:
    """Return the printable title of a complaint, hiding confidential ones."""
    if getattr(complaint, "is_confidential", False):
        return CONFIDENTIAL_TITLE
    title = clean_text(getattr(complaint, "title", ""))
    return title or UNTITLED


# -- styles -----------------------------------------------------------------


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    chart_title: ParagraphStyle
    cell: ParagraphStyle
    cell_center: ParagraphStyle
    cell_right: ParagraphStyle
    header_cell: ParagraphStyle
    total_cell: ParagraphStyle
    letterhead: ParagraphStyle
    letterhead_main: ParagraphStyle
    address: ParagraphStyle
    sign: ParagraphStyle
    sign_name: ParagraphStyle


@functools.cache
def _styles() -> _Styles:
    fonts = register_fonts()
    regular, bold = fonts.regular, fonts.bold
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=12.5)
    cell = ParagraphStyle("cell", fontName=regular, fontSize=7.5, leading=9.2)
    return _Styles(
        body=body,
        small=ParagraphStyle("small", body, fontSize=7.5, leading=9.5),
        title=ParagraphStyle(
            "title", body, fontName=bold, fontSize=12, leading=15, alignment=TA_CENTER
        ),
        subtitle=ParagraphStyle(
            "subtitle", body, fontSize=10, leading=13, alignment=TA_CENTER
        ),
        heading=ParagraphStyle(
            "heading",
            body,
            fontName=bold,
            fontSize=10,
            leading=13,
            spaceBefore=12,
            spaceAfter=5,
        ),
        chart_title=ParagraphStyle(
            "chart_title",
            body,
            fontName=bold,
            fontSize=8.5,
            leading=11,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=True,
        ),
        cell=cell,
        cell_center=ParagraphStyle("cell_center", cell, alignment=TA_CENTER),
        cell_right=ParagraphStyle("cell_right", cell, alignment=TA_RIGHT),
        header_cell=ParagraphStyle(
            "header_cell",
            cell,
            fontName=bold,
            textColor=colors.white,
            alignment=TA_CENTER,
        ),
        total_cell=ParagraphStyle("total_cell", cell, fontName=bold),
        letterhead=ParagraphStyle(
            "letterhead",
            body,
            fontName=bold,
            fontSize=13,
            leading=16,
            alignment=TA_CENTER,
        ),
        letterhead_main=ParagraphStyle(
            "letterhead_main",
            body,
            fontName=bold,
            fontSize=15,
            leading=18.5,
            alignment=TA_CENTER,
        ),
        address=ParagraphStyle(
            "address", body, fontSize=8.5, leading=11, alignment=TA_CENTER
        ),
        sign=ParagraphStyle(
            "sign", body, fontSize=8.5, leading=11, alignment=TA_CENTER
        ),
        sign_name=ParagraphStyle(
            "sign_name",
            body,
            fontName=bold,
            fontSize=8.5,
            leading=11,
            alignment=TA_CENTER,
        ),
    )


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


# -- page furniture ----------------------------------------------------------


class _FooterCanvas(Canvas):
    """Canvas that holds back every page until the end to print "x dari y".

    ``showPage`` only stores the finished page's state. ``save`` then draws
    the footer with the final page count on each stored page and writes it.
    """

    def __init__(self, *args: Any, footer: RecapDocumentInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer_info = footer
        self._held_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        page_count = len(self._held_pages)
        for state in self._held_pages:
            self.__dict__.update(state)
            self._draw_footer(page_count)
            super().showPage()
        super().save()

    def _draw_footer(self, page_count: int) -> None:
        fonts = register_fonts()
        info = self._footer_info
        self.saveState()
        self.setStrokeColor(GRID_GREY)
        self.setLineWidth(0.5)
        self.line(MARGIN_X, 1.55 * cm, PAGE_WIDTH - MARGIN_X, 1.55 * cm)
        self.setFillColor(MUTED_GREY)
        self.setFont(fonts.regular, 7.5)
        self.drawCentredString(
            PAGE_WIDTH / 2,
            1.15 * cm,
            f"Nomor: {clean_text(info.number)}  ·  "
            f"Halaman {self._pageNumber} dari {page_count}  ·  "
            f"Kode verifikasi: {clean_text(info.verification_code)}",
        )
        self.setFont(fonts.regular, 6.5)
        self.drawCentredString(
            PAGE_WIDTH / 2,
            0.8 * cm,
            f"Periksa keaslian dokumen ini di {clean_text(info.verification_url)}",
        )
        self.restoreState()


def _draw_running_header(info: RecapDocumentInfo) -> Callable[[Canvas, Any], None]:
    """Return a page callback that prints the document identity on later pages."""

    def draw(canvas: Canvas, _doc: Any) -> None:
        fonts = register_fonts()
        top = PAGE_HEIGHT - 1.2 * cm
        canvas.saveState()
        canvas.setFillColor(MUTED_GREY)
        canvas.setFont(fonts.regular, 7.5)
        canvas.drawString(MARGIN_X, top, "Rekapitulasi Pengaduan SP4N-LAPOR!")
        canvas.drawRightString(
            PAGE_WIDTH - MARGIN_X,
            top,
            f"Periode {info.period.label()}  ·  Nomor: {clean_text(info.number)}",
        )
        canvas.setStrokeColor(GRID_GREY)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, top - 4, PAGE_WIDTH - MARGIN_X, top - 4)
        canvas.restoreState()

    return draw


class _DoubleRule(Flowable):
    """The thick-over-thin rule under an Indonesian letterhead."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width
        self.height = 5

    def draw(self) -> None:
        self.canv.setStrokeColor(colors.black)
        self.canv.setLineWidth(2)
        self.canv.line(0, 4, self.width, 4)
        self.canv.setLineWidth(0.6)
        self.canv.line(0, 0.5, self.width, 0.5)


class _SignatureBox(Flowable):
    """An empty framed box that records where it lands for its signature field.

    ``placements`` maps the field name to (page index, (x1, y1, x2, y2)) in
    default user space. ``draw`` fills it in, so it is complete once the
    document is built.
    """

    def __init__(
        self,
        field_name: str,
        size: tuple[float, float],
        placements: dict[str, tuple[int, tuple[float, float, float, float]]],
    ) -> None:
        super().__init__()
        self.field_name = field_name
        self.width, self.height = size
        self.placements = placements

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        canvas.setStrokeColor(GRID_GREY)
        canvas.setLineWidth(0.6)
        canvas.setDash(2, 2)
        canvas.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        canvas.restoreState()
        x1, y1 = canvas.absolutePosition(0, 0)
        x2, y2 = canvas.absolutePosition(self.width, self.height)
        self.placements[self.field_name] = (
            canvas.getPageNumber() - 1,
            (round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)),
        )


# -- story sections ----------------------------------------------------------


def _logo(data: bytes) -> Flowable | str:
    """Return the logo image, or "" when the bytes are not a readable image."""
    # Decode the whole image now: ReportLab reads only the header here and
    # would fail halfway through the build on truncated data.
    try:
        with PILImage.open(BytesIO(data)) as probe:
            probe.load()
    except (OSError, ValueError, PILImage.DecompressionBombError) as error:
        logger.warning(
            "Office logo is not a readable image, so it is left out: %s", error
        )
        return ""
    return Image(BytesIO(data), width=2.2 * cm, height=2.4 * cm, kind="bound")


def _letterhead(office: OfficeProfile, styles: _Styles) -> list[Flowable]:
    lines = [clean_text(line) for line in office.letterhead_lines if clean_text(line)]
    texts: list[Flowable] = [
        _para(
            line, styles.letterhead_main if i == len(lines) - 1 else styles.letterhead
        )
        for i, line in enumerate(lines)
    ]
    for address_line in str(office.address or "").splitlines():
        if clean_text(address_line):
            texts.append(_para(clean_text(address_line), styles.address))

    logo: Flowable | str = _logo(office.logo_png) if office.logo_png else ""
    side = 2.6 * cm
    table = Table(
        [[logo, texts, ""]],
        colWidths=[side, FRAME_WIDTH - 2 * side, side],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (0, 0), "LEFT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )
    return [table, Spacer(1, 4), _DoubleRule(FRAME_WIDTH), Spacer(1, 12)]


def _title_block(info: RecapDocumentInfo, styles: _Styles) -> list[Flowable]:
    return [
        _para(DOCUMENT_TITLE, styles.title),
        _para(f"Periode {info.period.label()}", styles.subtitle),
        _para(f"Nomor: {clean_text(info.number)}", styles.subtitle),
        Spacer(1, 10),
    ]


def _base_table_style(header_rows: int = 1) -> list[tuple]:
    return [
        ("FONTNAME", (0, 0), (-1, -1), register_fonts().regular),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LEADING", (0, 0), (-1, -1), 9.2),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("VALIGN", (0, 0), (-1, header_rows - 1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), HEADER_BLUE),
        ("ROWBACKGROUNDS", (0, header_rows), (-1, -1), [colors.white, ZEBRA_BLUE]),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID_GREY),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]


def _summary_table(stats: RecapStatistics, styles: _Styles) -> Table:
    total = stats.total_received
    rows = [
        ("Jumlah pengaduan diterima", format_number(total)),
        ("Pengaduan selesai", format_number(stats.finished_count)),
        ("Persentase pengaduan selesai", format_share(stats.finished_share)),
        ("Median lama penyelesaian", _format_days(stats.median_days_to_finish)),
        (
            "Lama penyelesaian persentil ke-90",
            _format_days(stats.p90_days_to_finish),
        ),
        (
            f"Belum selesai lebih dari {stats.open_threshold_days} hari",
            format_number(len(stats.overdue_open)),
        ),
        (
            "Pengaduan periode sebelumnya yang ditangani",
            format_number(len(stats.carried_over)),
        ),
    ]
    data = [[_para("Uraian", styles.header_cell), _para("Nilai", styles.header_cell)]]
    data += [
        [_para(label, styles.cell), _para(value, styles.cell_right)]
        for label, value in rows
    ]
    return Table(
        data,
        colWidths=[FRAME_WIDTH * 0.7, FRAME_WIDTH * 0.3],
        style=TableStyle(_base_table_style()),
        hAlign="LEFT",
    )


def _breakdown_table(
    heading: str, items: Sequence[tuple[str, int]], total: int, styles: _Styles
) -> Flowable:
    """Build a No / label / count / percentage table with a total row."""
    if not items:
        return _para("Tidak ada data.", styles.body)

    data: list[list[Any]] = [
        [
            _para(text, styles.header_cell)
            for text in ("No", heading, "Jumlah", "Persentase")
        ]
    ]
    for index, (label, count) in enumerate(items, start=1):
        data.append(
            [
                str(index),
                _para(
                    _truncate(clean_text(label), MAX_CELL_CHARS) or UNFILLED_LABEL,
                    styles.cell,
                ),
                format_number(count),
                format_percent(count, total),
            ]
        )
    listed = sum(count for _, count in items)
    data.append(
        [
            "",
            _para("Jumlah", styles.total_cell),
            format_number(listed),
            format_percent(listed, total),
        ]
    )
    style = _base_table_style() + [
        ("ALIGN", (0, 1), (0, -1), "CENTER"),
        ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
        ("BACKGROUND", (0, -1), (-1, -1), TOTAL_BLUE),
        ("FONTNAME", (0, -1), (-1, -1), register_fonts().bold),
    ]
    widths = [1 * cm, FRAME_WIDTH - 1 * cm - 2 * 2.6 * cm, 2.6 * cm, 2.6 * cm]
    return LongTable(
        data, colWidths=widths, repeatRows=1, style=TableStyle(style), hAlign="LEFT"
    )


def _complaint_table(
    complaints: Iterable[Any], columns: Sequence[_Column], styles: _Styles
) -> Flowable:
    """Build a complaint table whose header row repeats on every page."""
    font = register_fonts().regular
    size = styles.cell.fontSize
    data: list[list[Any]] = [
        [_para(column.heading, styles.header_cell) for column in columns]
    ]
    # Cell text is wrapped to the column width less the cell padding.
    text_widths = [column.width - 2 * CELL_PADDING for column in columns]
    for index, complaint in enumerate(complaints, start=1):
        data.append(
            [
                wrap_lines(
                    _truncate(column.value(index, complaint), MAX_CELL_CHARS),
                    width,
                    font,
                    size,
                )
                for column, width in zip(columns, text_widths)
            ]
        )
    if len(data) == 1:
        return _para("Tidak ada.", styles.body)

    style = _base_table_style()
    for position, column in enumerate(columns):
        if column.align != "LEFT":
            style.append(("ALIGN", (position, 1), (position, -1), column.align))
    return LongTable(
        data,
        colWidths=[column.width for column in columns],
        repeatRows=1,
        style=TableStyle(style),
        hAlign="LEFT",
    )


def _age_days(complaint: Any, until: dt.datetime) -> str:
    received = getattr(complaint, "received_at", None)
    if received is None:
        return "–"
    return format_number(max(0, (until - received).days))


def _as_of(stats: RecapStatistics) -> dt.datetime:
    """Return the moment the statistics treat as "now", by default the period end."""
    return getattr(stats, "as_of", None) or stats.period.end


def _columns(kind: str, stats: RecapStatistics) -> list[_Column]:
    """Return the complaint table columns for "received", "carried" or "overdue"."""

    def attr(name: str) -> Callable[[int, Any], str]:
        return lambda _, complaint: clean_text(getattr(complaint, name, "")) or "–"

    def title(_: int, complaint: Any) -> str:
        return complaint_title(complaint)

    number = _Column("No", 22, lambda index, _: str(index), "CENTER")
    tracking = _Column("ID Tracking", 46, attr("tracking_id"))
    received = _Column(
        "Tanggal Laporan",
        51,
        lambda _, c: _format_date_short(getattr(c, "received_at", None)),
        "CENTER",
    )
    unit = _Column("Instansi Tujuan", 92, attr("unit"))
    # Wide enough for "Ditindaklanjuti" on one line.
    status = _Column("Status", 68, attr("status"))
    fixed = number.width + tracking.width + received.width + unit.width + status.width

    if kind == "received":
        category = _Column("Kategori", 74, attr("category"))
        judul = _Column("Judul", FRAME_WIDTH - fixed - category.width, title)
        return [number, tracking, received, judul, category, unit, status]
    if kind == "carried":
        finished = _Column(
            "Tanggal Selesai",
            51,
            lambda _, c: _format_date_short(getattr(c, "finished_at", None)),
            "CENTER",
        )
        judul = _Column("Judul", FRAME_WIDTH - fixed - finished.width, title)
        return [number, tracking, received, judul, unit, status, finished]
    as_of = _as_of(stats)
    age = _Column("Umur (hari)", 44, lambda _, c: _age_days(c, as_of), "RIGHT")
    judul = _Column("Judul", FRAME_WIDTH - fixed - age.width, title)
    return [number, tracking, received, judul, unit, status, age]


def _approver_for(
    role: str, approvers: Sequence[Approver], office: OfficeProfile
) -> Approver:
    for approver in approvers:
        if approver.role == role:
            return approver
    # A missing approver leaves dotted lines to fill by hand, as on paper.
    default_titles = {
        "kasi": "Kepala Seksi",
        "kabid": "Kepala Bidang",
        "kadis": f"Kepala {office.name}",
    }
    return Approver(role, "." * 30, default_titles[role], "." * 24)


def _signature_block(
    info: RecapDocumentInfo,
    office: OfficeProfile,
    approvers: Sequence[Approver],
    placements: dict[str, tuple[int, tuple[float, float, float, float]]],
    styles: _Styles,
) -> Flowable:
    """Lay out the Kasi and Kabid paraf boxes and the Kadis signature box in a row."""
    roles = ("kasi", "kabid", "kadis")
    people = [_approver_for(role, approvers, office) for role in roles]

    # One column per approver: label, box, name, NIP.
    place_date = (
        f"{clean_text(office.city)}, {format_date_long(info.generated_at.date())}"
    )
    labels = [
        _para(f"Paraf {clean_text(people[0].title)}", styles.sign),
        _para(f"Paraf {clean_text(people[1].title)}", styles.sign),
        _para(clean_text(people[2].title), styles.sign_name),
    ]
    boxes = [
        _SignatureBox(SIGNATURE_FIELDS["kasi"], PARAF_BOX, placements),
        _SignatureBox(SIGNATURE_FIELDS["kabid"], PARAF_BOX, placements),
        _SignatureBox(SIGNATURE_FIELDS["kadis"], SIGNATURE_BOX, placements),
    ]
    names = [
        Paragraph(f"<u>{escape(clean_text(person.name))}</u>", styles.sign_name)
        for person in people
    ]
    nips = [_para(f"NIP. {clean_text(person.nip)}", styles.sign) for person in people]

    data = [
        ["", "", _para(place_date, styles.sign)],
        [[label, Spacer(1, 4), box] for label, box in zip(labels, boxes)],
        names,
        nips,
    ]

    main_width = SIGNATURE_BOX[0] + 0.4 * cm
    side = (FRAME_WIDTH - main_width) / 2
    table = Table(
        data,
        colWidths=[side, side, main_width],
        style=TableStyle(
            [
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                # Each label sits right above its box and the boxes share
                # one bottom line, so the names below line up.
                ("VALIGN", (0, 0), (-1, 1), "BOTTOM"),
                ("VALIGN", (0, 2), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 6),
                ("TOPPADDING", (0, 2), (-1, 2), 5),
            ]
        ),
    )
    # Keep the whole block on one page, which is then the last page.
    return KeepTogether([Spacer(1, 18), table])


def _section(heading: str, styles: _Styles, note: str = "") -> list[Flowable]:
    """Start a section on a new page when less than about 4 cm of the page is left."""
    parts: list[Flowable] = [CondPageBreak(4 * cm), _para(heading, styles.heading)]
    if note:
        parts += [_para(note, styles.small), Spacer(1, 4)]
    return parts


def _build_story(
    info: RecapDocumentInfo,
    office: OfficeProfile,
    stats: RecapStatistics,
    approvers: Sequence[Approver],
    placements: dict[str, tuple[int, tuple[float, float, float, float]]],
) -> list[Flowable]:
    styles = _styles()
    total = stats.total_received
    label = info.period.label()
    story: list[Flowable] = []
    story += _letterhead(office, styles)
    story += _title_block(info, styles)
    story.append(
        _para(
            f"Rekapitulasi ini memuat pengaduan masyarakat yang diterima "
            f"{clean_text(office.name)} melalui SP4N-LAPOR! selama periode "
            f"{label}, beserta pengaduan dari periode sebelumnya yang "
            "ditangani pada periode ini. Identitas dan kontak pelapor tidak "
            "dicantumkan, dan judul pengaduan yang bersifat rahasia ditulis "
            f"{CONFIDENTIAL_TITLE}.",
            styles.body,
        )
    )

    # Figures and breakdowns.
    story += _section("A. Ringkasan", styles)
    story.append(_summary_table(stats, styles))
    breakdowns = (
        ("B. Rekapitulasi per Status", "Status", stats.by_status),
        ("C. Rekapitulasi per Kategori", "Kategori", stats.by_category),
        ("D. Rekapitulasi per Kanal (Sumber)", "Kanal", stats.by_channel),
        ("E. Rekapitulasi per Instansi Tujuan", "Instansi Tujuan", stats.by_unit),
    )
    for heading, column, items in breakdowns:
        story += _section(heading, styles)
        story.append(_breakdown_table(column, items, total, styles))

    # Charts, each kept on one page with its title.
    story += _section("F. Grafik", styles)
    for title, drawing in all_charts(stats):
        drawing.hAlign = "CENTER"
        story.append(KeepTogether([_para(title, styles.chart_title), drawing]))

    # Complaint lists.
    story += _section(
        "G. Pengaduan dari Periode Sebelumnya yang Ditangani",
        styles,
        f"Pengaduan yang diterima sebelum {label} dan selesai pada periode ini "
        "atau masih terbuka pada akhir periode.",
    )
    story.append(
        _complaint_table(stats.carried_over, _columns("carried", stats), styles)
    )
    story += _section(
        f"H. Pengaduan Belum Selesai Lebih dari {stats.open_threshold_days} Hari",
        styles,
        "Pengaduan yang diterima pada periode ini dan belum selesai. Umur "
        f"dihitung sampai {format_date_long(_as_of(stats) - dt.timedelta(seconds=1))}.",
    )
    story.append(
        _complaint_table(stats.overdue_open, _columns("overdue", stats), styles)
    )
    story += _section(f"I. Daftar Pengaduan yang Diterima pada {label}", styles)
    story.append(_complaint_table(stats.received, _columns("received", stats), styles))

    story.append(_signature_block(info, office, approvers, placements, styles))
    return story


# -- PDF post-processing with pyHanko ----------------------------------------


def _add_fields_and_attachment(
    pdf: bytes,
    placements: dict[str, tuple[int, tuple[float, float, float, float]]],
    workbook: bytes | None,
    generated_at: dt.datetime,
) -> bytes:
    """Append the empty signature fields and the workbook in one incremental update."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    for role in ("kasi", "kabid", "kadis"):
        field_name = SIGNATURE_FIELDS[role]
        page_index, box = placements[field_name]
        # SigFieldSpec annotates the box as ints, but pyHanko writes each
        # coordinate as a real number, which keeps the field on the drawn frame.
        spec = SigFieldSpec(
            sig_field_name=field_name,
            on_page=page_index,
            box=box,  # type: ignore[arg-type]
        )
        append_signature_field(writer, spec)

    if workbook is not None:
        data = EmbeddedFileObject.from_file_data(
            writer,
            data=workbook,
            mime_type=XLSX_MIME,
            params=EmbeddedFileParams(
                creation_date=generated_at, modification_date=generated_at
            ),
        )
        embed_file(
            writer,
            FileSpec(
                file_spec_string=WORKBOOK_ATTACHMENT_NAME,
                file_name=WORKBOOK_ATTACHMENT_NAME,
                embedded_data=data,
                description="Data rekapitulasi dalam format Excel",
            ),
        )

    output = BytesIO()
    writer.write(output)
    return output.getvalue()


def render_recap_pdf(
    info: RecapDocumentInfo,
    office: OfficeProfile,
    stats: RecapStatistics,
    approvers: list[Approver],
    *,
    workbook: bytes | None = None,
) -> bytes:
    """Render the recap draft as PDF bytes with empty signature fields.

    The fields named in ``SIGNATURE_FIELDS`` lie over the boxes of the
    signature block on the last page. ``workbook``, when given, is embedded
    as ``WORKBOOK_ATTACHMENT_NAME``.

    NOTE: the bytes differ between calls with the same input, because
    pyHanko's writer stamps a random document ID and the current ModDate.
    The ReportLab part is built in invariant mode.
    """
    register_fonts()
    placements: dict[str, tuple[int, tuple[float, float, float, float]]] = {}
    buffer = BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Rekapitulasi Pengaduan SP4N-LAPOR! Periode {info.period.label()}",
        author=clean_text(office.name),
        subject=f"Nomor: {clean_text(info.number)}",
        creator="SigRekap",
        invariant=1,
    )
    # Zero frame padding keeps tables and charts exactly FRAME_WIDTH wide.
    frame = Frame(
        MARGIN_X,
        BOTTOM_MARGIN,
        FRAME_WIDTH,
        PAGE_HEIGHT - TOP_MARGIN - BOTTOM_MARGIN,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates(
        [
            PageTemplate(id="first", frames=[frame], autoNextPageTemplate="later"),
            PageTemplate(id="later", frames=[frame], onPage=_draw_running_header(info)),
        ]
    )
    story = _build_story(info, office, stats, approvers, placements)
    doc.build(story, canvasmaker=functools.partial(_FooterCanvas, footer=info))

    missing = set(SIGNATURE_FIELDS.values()) - placements.keys()
    if missing:
        raise RuntimeError(
            f"Signature boxes {sorted(missing)} were not drawn; the signature "
            "block did not reach the page."
        )
    pdf = _add_fields_and_attachment(
        buffer.getvalue(), placements, workbook, info.generated_at
    )
    logger.info(
        "Rendered recap PDF %s for %s: %d complaints, %d bytes.",
        info.number,
        info.period,
        len(stats.received),
        len(pdf),
    )
    return pdf


# -- reading the result back --------------------------------------------------


def _page_refs(reader: PdfFileReader) -> list[tuple[int, int]]:
    """Return (object number, generation) of every page in document order."""
    refs: list[tuple[int, int]] = []
    stack = [reader.root.raw_get("/Pages")]
    while stack:
        node_ref = stack.pop()
        node = node_ref.get_object()
        if node.get("/Type") == "/Pages":
            kids = node.raw_get("/Kids")
            kids = (
                kids.get_object() if isinstance(kids, generic.IndirectObject) else kids
            )
            stack.extend(reversed(list(kids)))
        else:
            refs.append((node_ref.idnum, node_ref.generation))
    return refs


def signature_boxes(
    pdf_bytes: bytes,
) -> dict[str, tuple[int, tuple[float, float, float, float]]]:
    """Read each signature field's page index and rectangle (x1, y1, x2, y2)."""
    reader = PdfFileReader(BytesIO(pdf_bytes))
    page_index = {ref: index for index, ref in enumerate(_page_refs(reader))}
    result: dict[str, tuple[int, tuple[float, float, float, float]]] = {}
    for name, _value, field_ref in enumerate_sig_fields(reader):
        field = field_ref.get_object()
        widget = field
        if "/Rect" not in field and "/Kids" in field:
            widget = field["/Kids"][0].get_object()
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        page_ref = widget.raw_get("/P") if "/P" in widget else None
        index = -1
        if isinstance(page_ref, generic.IndirectObject):
            index = page_index.get((page_ref.idnum, page_ref.generation), -1)
        result[name] = (
            index,
            (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)),
        )
    return result
