"""Render a monthly recap as an Excel workbook with native charts."""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from .domain import HistoryEntry, OfficeProfile, RecapDocumentInfo
from .stats import UNFILLED_LABEL, RecapStatistics

logger = logging.getLogger(__name__)

CONFIDENTIAL_TEXT = "(Rahasia)"
DOCUMENT_TITLE = "REKAPITULASI PENGADUAN MASYARAKAT MELALUI SP4N-LAPOR!"
# Excel rejects longer cell text.
MAX_CELL_CHARS = 32_767
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
DATE_FORMAT = "dd/mm/yyyy"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"

# A cell whose text starts with one of these (also after leading spaces)
# may be turned into a formula by Excel or another spreadsheet when a user
# edits it, or when the data is exported to CSV and opened again.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
TOTAL_FONT = Font(bold=True)
TOTAL_FILL = PatternFill("solid", fgColor="D9E2F3")
TITLE_FONT = Font(bold=True, size=13)
SECTION_FONT = Font(bold=True, size=11)

# The office works in Western Indonesia Time (UTC+7, no daylight saving),
# the zone of the naive times in LAPOR! exports.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")

GROUP_RECEIVED = "Diterima periode ini"
GROUP_CARRIED = "Periode sebelumnya"

ROLE_LABELS = {
    "admin": "Admin",
    "kasi": "Kepala Seksi",
    "kabid": "Kepala Bidang",
    "kadis": "Kepala Dinas",
    "seal": "Segel Kantor",
}
ACTION_LABELS = {
    "draft": "Konsep dibuat",
    "submit": "Diajukan",
    "paraf": "Paraf",
    "approve": "Disetujui",
    "reject": "Ditolak",
    "sign": "Ditandatangani",
    "archive": "Diarsipkan",
}


# -- cell helpers -------------------------------------------------------------


def _local(moment: dt.datetime) -> dt.datetime:
    """Return a naive WIB datetime, since Excel cells cannot carry a time zone."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(WIB).replace(tzinfo=None)


def _clean(value: str) -> str:
    """Drop characters that XML 1.0 cannot carry and cut text to Excel's limit."""
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    return text[:MAX_CELL_CHARS]


def needs_text_guard(text: str) -> bool:
    """Tell whether a spreadsheet could read text as a formula."""
    stripped = text.lstrip(" \u00a0")
    return bool(stripped) and (
        stripped.startswith(FORMULA_TRIGGERS) or text.startswith(FORMULA_TRIGGERS)
    )


def set_value(ws: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write value to a cell, storing text as a string that never becomes a formula."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        text = _clean(value)
        cell.value = text
        # openpyxl turns any text starting with "=" into a formula, so force
        # the string type. quotePrefix is Excel's leading apostrophe: it keeps
        # the cell text when a user edits it later.
        cell.data_type = "s"
        if needs_text_guard(text):
            cell.quotePrefix = True
    elif isinstance(value, dt.datetime):
        cell.value = _local(value)
    else:
        cell.value = value
    return cell


def _write_header(
    ws: Worksheet, row: int, headings: Sequence[str], column: int = 1
) -> None:
    for offset, heading in enumerate(headings):
        cell = set_value(ws, row, column + offset, heading)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(
            horizontal="center", vertical="center", wrap_text=True
        )


def _set_widths(ws: Worksheet, widths: Sequence[float]) -> None:
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


def _text(complaint: Any, name: str) -> str:
    value = getattr(complaint, name, None)
    return "" if value is None else str(value)


def _share(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


# -- sheets ---------------------------------------------------------------------


def _write_summary(
    ws: Worksheet,
    info: RecapDocumentInfo,
    office: OfficeProfile,
    stats: RecapStatistics,
) -> None:
    """Fill the "Ringkasan" sheet: document identity, then the key figures."""
    set_value(ws, 1, 1, DOCUMENT_TITLE).font = TITLE_FONT
    identity: list[tuple[str, Any]] = [
        ("Instansi", office.name),
        ("Nomor", info.number),
        ("Periode", info.period.label()),
        ("Kode periode", str(info.period)),
        ("Kode verifikasi", info.verification_code),
        ("Alamat verifikasi", info.verification_url),
        ("Dibuat pada", info.generated_at),
    ]
    total = stats.total_received
    figures: list[tuple[str, Any, str | None]] = [
        ("Jumlah pengaduan diterima", total, None),
        ("Pengaduan selesai", stats.finished_count, None),
        (
            "Persentase pengaduan selesai",
            stats.finished_share,
            PERCENT_FORMAT,
        ),
        ("Median lama penyelesaian (hari)", stats.median_days_to_finish, DAYS_FORMAT),
        (
            "Lama penyelesaian persentil ke-90 (hari)",
            stats.p90_days_to_finish,
            DAYS_FORMAT,
        ),
        (
            f"Belum selesai lebih dari {stats.open_threshold_days} hari",
            len(stats.overdue_open),
            None,
        ),
        (
            "Pengaduan periode sebelumnya yang ditangani",
            len(stats.carried_over),
            None,
        ),
    ]

    row = 3
    for label, value in identity:
        set_value(ws, row, 1, label).font = TOTAL_FONT
        cell = set_value(ws, row, 2, value)
        if isinstance(value, dt.datetime):
            cell.number_format = DATETIME_FORMAT
            cell.alignment = Alignment(horizontal="left")
        row += 1

    row += 1
    _write_header(ws, row, ("Uraian", "Nilai"))
    for label, value, number_format in figures:
        row += 1
        set_value(ws, row, 1, label)
        # An unknown median stays an empty cell rather than a made-up zero.
        cell = set_value(ws, row, 2, value)
        if number_format:
            cell.number_format = number_format
    _set_widths(ws, (46, 48))


def _write_breakdown(
    ws: Worksheet,
    top: int,
    title: str,
    heading: str,
    items: Sequence[tuple[str, int]],
    total: int,
) -> tuple[int, int]:
    """Write a label / count / share table and return its first and last data rows."""
    set_value(ws, top, 1, title).font = SECTION_FONT
    _write_header(ws, top + 1, (heading, "Jumlah", "Persentase"))
    row = top + 1
    for label, count in items:
        row += 1
        set_value(ws, row, 1, label or UNFILLED_LABEL)
        set_value(ws, row, 2, count)
        set_value(ws, row, 3, _share(count, total)).number_format = PERCENT_FORMAT
    first, last = top + 2, row

    listed = sum(count for _, count in items)
    row += 1
    for column, value in enumerate(("Jumlah", listed, _share(listed, total)), start=1):
        cell = set_value(ws, row, column, value)
        cell.font = TOTAL_FONT
        cell.fill = TOTAL_FILL
    ws.cell(row=row, column=3).number_format = PERCENT_FORMAT
    return first, last


def _bar_chart(
    ws: Worksheet, title: str, first: int, last: int, horizontal: bool
) -> BarChart:
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.legend = None
    chart.y_axis.title = "Jumlah"
    chart.y_axis.majorGridlines = None
    data = Reference(ws, min_col=2, min_row=first - 1, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.dataLabels = DataLabelList()
    chart.dataLabels.showVal = True
    _show_axes(chart)
    if horizontal:
        # Excel draws the first category at the bottom, so flip the axis to
        # read the table's order from the top.
        chart.x_axis.scaling.orientation = "maxMin"
    chart.width = 18
    chart.height = max(7.5, 0.6 * (last - first + 1) + 2.5)
    return chart


def _show_axes(chart: BarChart | LineChart) -> None:
    # openpyxl 3.1 omits the axis <c:delete> element unless it is set. An
    # explicit False shows the axes whatever a reader assumes for a missing one.
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def _pie_chart(ws: Worksheet, title: str, first: int, last: int) -> PieChart:
    chart = PieChart()
    chart.title = title
    data = Reference(ws, min_col=2, min_row=first - 1, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.dataLabels = DataLabelList()
    chart.dataLabels.showPercent = True
    chart.width = 18
    chart.height = 7.5
    return chart


def _write_statistics(ws: Worksheet, stats: RecapStatistics) -> None:
    """Fill the "Statistik" sheet: one table per breakdown, each with its chart."""
    total = stats.total_received
    breakdowns = (
        ("Rekapitulasi per Status", "Status", stats.by_status, "bar"),
        ("Rekapitulasi per Kategori", "Kategori", stats.by_category, "bar"),
        ("Rekapitulasi per Kanal (Sumber)", "Kanal", stats.by_channel, "pie"),
        ("Rekapitulasi per Instansi Tujuan", "Instansi Tujuan", stats.by_unit, "bar"),
    )
    top = 1
    for title, heading, items, kind in breakdowns:
        first, last = _write_breakdown(ws, top, title, heading, items, total)
        chart_rows = 16
        if items:
            if kind == "pie":
                chart: BarChart | PieChart = _pie_chart(ws, title, first, last)
            else:
                chart = _bar_chart(ws, title, first, last, horizontal=True)
                chart_rows = int(chart.height / 0.53) + 1
            ws.add_chart(chart, f"E{top}")
        # Leave room below the table and its chart so neither overlaps the next.
        top = max(last + 4, top + chart_rows + 2)

    set_value(ws, top, 1, "Pengaduan Diterima per Hari").font = SECTION_FONT
    _write_header(ws, top + 1, ("Tanggal", "Jumlah"))
    row = top + 1
    for day, count in stats.per_day:
        row += 1
        set_value(ws, row, 1, day).number_format = DATE_FORMAT
        set_value(ws, row, 2, count)
    if stats.per_day:
        chart = LineChart()
        chart.title = "Pengaduan Diterima per Hari"
        chart.legend = None
        chart.y_axis.title = "Jumlah"
        chart.x_axis.number_format = "d"
        _show_axes(chart)
        chart.add_data(
            Reference(ws, min_col=2, min_row=top + 1, max_row=row),
            titles_from_data=True,
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=top + 2, max_row=row))
        chart.width = 18
        chart.height = 7.5
        ws.add_chart(chart, f"E{top}")
    _set_widths(ws, (40, 10, 12))


COMPLAINT_COLUMNS: tuple[tuple[str, float], ...] = (
    ("Kelompok", 20),
    ("No", 7),
    ("ID Tracking", 13),
    ("Tanggal Laporan", 17),
    ("Judul Laporan", 45),
    ("Isi Laporan", 60),
    ("Klasifikasi", 20),
    ("Kategori", 28),
    ("Kanal (Sumber)", 22),
    ("Instansi Tujuan", 34),
    ("Status", 20),
    ("Tanggal Selesai", 17),
    ("Anonim", 9),
    ("Rahasia", 9),
    ("Melewati Batas", 10),
)


def _complaint_row(
    group: str, number: int, complaint: Any, overdue_ids: set[str]
) -> list[Any]:
    confidential = bool(getattr(complaint, "is_confidential", False))
    tracking_id = _text(complaint, "tracking_id")
    return [
        group,
        number,
        tracking_id,
        getattr(complaint, "received_at", None),
        CONFIDENTIAL_TEXT if confidential else _text(complaint, "title"),
        CONFIDENTIAL_TEXT if confidential else _text(complaint, "content"),
        _text(complaint, "classification"),
        _text(complaint, "category"),
        _text(complaint, "channel"),
        _text(complaint, "unit"),
        _text(complaint, "status"),
        getattr(complaint, "finished_at", None),
        "Ya" if getattr(complaint, "is_anonymous", False) else "Tidak",
        "Ya" if confidential else "Tidak",
        "Ya" if tracking_id in overdue_ids else "Tidak",
    ]


def _write_complaints(ws: Worksheet, stats: RecapStatistics) -> None:
    """Fill the "Pengaduan" sheet without reporter names or contacts."""
    _write_header(ws, 1, [heading for heading, _ in COMPLAINT_COLUMNS])
    overdue_ids = {_text(c, "tracking_id") for c in stats.overdue_open}
    groups: Iterable[tuple[str, Sequence[Any]]] = (
        (GROUP_RECEIVED, stats.received),
        (GROUP_CARRIED, stats.carried_over),
    )
    row = 1
    for group, complaints in groups:
        for number, complaint in enumerate(complaints, start=1):
            row += 1
            values = _complaint_row(group, number, complaint, overdue_ids)
            for column, value in enumerate(values, start=1):
                cell = set_value(ws, row, column, value)
                if isinstance(value, dt.datetime):
                    cell.number_format = DATETIME_FORMAT

    last_column = get_column_letter(len(COMPLAINT_COLUMNS))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{last_column}{row}"
    ws.row_dimensions[1].height = 30
    _set_widths(ws, [width for _, width in COMPLAINT_COLUMNS])


def _write_history(ws: Worksheet, history: Sequence[HistoryEntry]) -> None:
    """Fill the "Riwayat Persetujuan" sheet with one row per workflow action."""
    _write_header(ws, 1, ("Waktu", "Nama", "Peran", "Tindakan", "Alasan"))
    row = 1
    for entry in history:
        row += 1
        set_value(ws, row, 1, entry.at).number_format = DATETIME_FORMAT
        set_value(ws, row, 2, entry.actor)
        set_value(ws, row, 3, ROLE_LABELS.get(entry.role, entry.role))
        set_value(ws, row, 4, ACTION_LABELS.get(entry.action, entry.action))
        set_value(ws, row, 5, entry.reason)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:E{row}"
    _set_widths(ws, (18, 32, 18, 20, 60))


# -- saving -----------------------------------------------------------------------


class _FixedTimeZipFile(zipfile.ZipFile):
    """ZIP archive that stamps every member with one fixed time.

    Python's zipfile otherwise records the current time (or a temporary
    file's time) per member, so the same recap would give different bytes.
    """

    def __init__(self, *args: Any, fixed_time: dt.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # ZIP timestamps cannot go below 1980.
        moment = max(fixed_time, dt.datetime(1980, 1, 1))
        self._fixed_time = moment.timetuple()[:6]

    def writestr(
        self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any
    ) -> None:  # type: ignore[override]
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, self._fixed_time)
            zinfo_or_arcname.compress_type = self.compression
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(
        self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any
    ) -> None:  # type: ignore[override]
        with open(filename, "rb") as source:
            self.writestr(arcname or str(filename), source.read())


def _save(workbook: Workbook, moment: dt.datetime) -> bytes:
    """Serialise the workbook with fixed document times and ZIP member times."""
    # The core properties are written as UTC.
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    workbook.properties.created = moment
    workbook.properties.modified = moment
    buffer = BytesIO()
    archive = _FixedTimeZipFile(
        buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True, fixed_time=moment
    )
    # ExcelWriter is what openpyxl's save_workbook uses, minus the line that
    # resets the "modified" property to the current time.
    ExcelWriter(workbook, archive).save()
    return buffer.getvalue()


def render_recap_workbook(
    info: RecapDocumentInfo,
    office: OfficeProfile,
    stats: RecapStatistics,
    history: list[HistoryEntry],
) -> bytes:
    """Render the recap as .xlsx bytes with summary, statistics, complaints and history."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = "Ringkasan"
    _write_summary(summary, info, office, stats)
    _write_statistics(workbook.create_sheet("Statistik"), stats)
    _write_complaints(workbook.create_sheet("Pengaduan"), stats)
    _write_history(workbook.create_sheet("Riwayat Persetujuan"), history)

    workbook.properties.title = f"Rekapitulasi Pengaduan {info.period.label()}"
    workbook.properties.subject = f"Nomor: {info.number}"
    workbook.properties.creator = "SigRekap"
    workbook.properties.lastModifiedBy = "SigRekap"
    data = _save(workbook, info.generated_at)
    logger.info(
        "Rendered recap workbook %s for %s: %d complaints, %d bytes.",
        info.number,
        info.period,
        len(stats.received) + len(stats.carried_over),
        len(data),
    )
    return data
