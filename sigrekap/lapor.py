"""Parser for the complaint exports of SP4N-LAPOR! (.xlsx or .csv).

The parser is strict. A cell it cannot read becomes a ``Problem`` that names
the row and column the user sees in Excel, and the row is left out of the
records. Whole-file problems raise ``LaporImportError``. Messages meant for
the user are in Indonesian.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import logging
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import python_calamine

from .domain import ComplaintRecord
from .stats import LAPOR_STATUSES, is_finished_status, is_known_status

logger = logging.getLogger(__name__)

Severity = Literal["error", "warning"]
# Cell values as calamine or the csv module return them, row by row.
Rows = Sequence[Sequence[object]]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Excel itself stores at most 32,767 characters in one cell.
MAX_CELL_CHARS = 32_767
# Exports often open with title lines, so the header row is searched for.
HEADER_SEARCH_ROWS = 20
#: Tracking IDs are numbers. A longer one is more likely a NIK (16 digits) or
#: a phone number in the wrong column, so it is imported with a warning.
MAX_TRACKING_DIGITS = 15

# Zip-bomb limits, checked before calamine opens a workbook. A 20,000-row
# export written by openpyxl inflates to about 17 MB, a ratio of about 13:1.
MAX_ZIP_MEMBERS = 1_000
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 1024 * 1024
# calamine allocates every cell between A1 and the last used cell. With
# python-calamine 0.9.1, a 5 KB file with values in A1 and XFD1048576 aborted
# the process under a 1.5 GB memory limit. 2,000,000 cells is 50,000 rows of
# 40 columns.
MAX_SHEET_CELLS = 2_000_000

# Longest accepted text per field. The limits match the column sizes of the
# ``complaints`` table, so that PostgreSQL does not reject a value on import.
FIELD_MAX_CHARS = {
    "tracking_id": 64,
    "classification": 200,
    "category": 200,
    "channel": 200,
    "unit": 300,
    "status": 100,
    "reporter_name": 200,
    "reporter_contact": 200,
}

# Dates outside this range are typing errors or numbers that are not dates.
MIN_YEAR = 2000
MAX_YEAR = 2099

WIB = dt.timezone(dt.timedelta(hours=7))
EXCEL_EPOCH_1900 = dt.datetime(1899, 12, 30)
EXCEL_EPOCH_1904 = dt.datetime(1904, 1, 1)


class LaporImportError(Exception):
    """Error for an unusable export; ``str(err)`` is the Indonesian message."""


@dataclass(frozen=True)
class Problem:
    """A cell or row that was rejected, or imported with a warning."""

    row: int  # 1-based spreadsheet row number, as Excel shows it
    column: str  # header as it appears in the file, or the field's label
    value: str  # the cell's text, shortened for display
    reason: str  # Indonesian explanation with the fix
    severity: Severity


@dataclass
class ParseResult:
    """Records and problems read from one export."""

    records: list[ComplaintRecord]
    problems: list[Problem]
    mapping: dict[str, str]  # ComplaintRecord field -> header as it appeared
    unknown_columns: list[str]
    header_row: int
    data_rows: int  # non-blank rows below the header
    sha256: str
    file_format: Literal["xlsx", "csv"]
    # Row-number columns such as "No", which carry no data.
    ignored_columns: list[str] = field(default_factory=list)
    sheet_name: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def has_errors(self) -> bool:
        return any(problem.severity == "error" for problem in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "warning"]


# --- Column mapping ---------------------------------------------------------


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    label: str
    aliases: tuple[str, ...]


FIELDS = (
    _FieldSpec(
        "tracking_id",
        "ID Tracking",
        (
            "id tracking",
            "tracking id",
            "tracking",
            "no tracking",
            "kode tracking",
            "no tiket",
            "id tiket",
            "ticket id",
            "id laporan",
            "no laporan",
            "kode laporan",
            "id pengaduan",
            "no pengaduan",
        ),
    ),
    _FieldSpec(
        "received_at",
        "Tanggal Laporan",
        (
            "tanggal laporan",
            "tanggal lapor",
            "tanggal pelaporan",
            "waktu laporan",
            "waktu pelaporan",
            "tanggal masuk",
            "waktu masuk",
            "tanggal pengaduan",
            "tanggal diterima",
            "tanggal dibuat",
        ),
    ),
    _FieldSpec("title", "Judul Laporan", ("judul laporan", "judul", "judul pengaduan")),
    _FieldSpec(
        "content",
        "Isi Laporan",
        (
            "isi laporan",
            "isi",
            "isi pengaduan",
            "uraian",
            "uraian laporan",
            "deskripsi",
            "deskripsi laporan",
        ),
    ),
    _FieldSpec(
        "classification",
        "Klasifikasi",
        ("klasifikasi", "klasifikasi laporan", "jenis laporan"),
    ),
    _FieldSpec(
        "category",
        "Kategori",
        (
            "kategori",
            "kategori laporan",
            "kategori pengaduan",
            "topik",
            "topik laporan",
        ),
    ),
    _FieldSpec(
        "channel",
        "Sumber",
        (
            "sumber",
            "sumber laporan",
            "sumber pengaduan",
            "kanal",
            "kanal laporan",
            "kanal pengaduan",
            "saluran",
        ),
    ),
    _FieldSpec(
        "unit",
        "Instansi Tujuan",
        (
            "instansi tujuan",
            "instansi",
            "instansi terdisposisi",
            "unit kerja terdisposisi",
            "unit kerja",
            "disposisi",
            "opd",
            "opd tujuan",
        ),
    ),
    _FieldSpec("status", "Status", ("status", "status laporan", "status pengaduan")),
    _FieldSpec(
        "finished_at",
        "Tanggal Selesai",
        ("tanggal selesai", "waktu selesai", "tanggal penyelesaian"),
    ),
    _FieldSpec("reporter_name", "Nama Pelapor", ("nama pelapor", "pelapor", "nama")),
    _FieldSpec(
        "reporter_contact",
        "Kontak Pelapor",
        (
            "kontak pelapor",
            "kontak",
            "no hp",
            "no hp pelapor",
            "no telepon",
            "no telepon pelapor",
            "telepon",
            "no wa",
            "no whatsapp",
            "email",
            "email pelapor",
            "surel",
        ),
    ),
    _FieldSpec(
        "is_anonymous", "Anonim", ("anonim", "laporan anonim", "pelapor anonim")
    ),
    _FieldSpec("is_confidential", "Rahasia", ("rahasia", "laporan rahasia")),
)
FIELD_LABELS = {spec.name: spec.label for spec in FIELDS}
REQUIRED_FIELDS = ("tracking_id", "received_at")
TEXT_BODY_FIELDS = ("title", "content")  # at least one of them is required
EXPECTED_FIELDS = ("category", "channel", "unit", "status", "finished_at")
DATE_FIELDS = ("received_at", "finished_at")
FLAG_FIELDS = ("is_anonymous", "is_confidential")
# Several contact columns (phone and e-mail) are joined into one value.
MULTI_COLUMN_FIELDS = ("reporter_contact",)

_HEADER_WORDS = {
    "tgl": "tanggal",
    "nomor": "no",
    "nomer": "no",
    "nmr": "no",
    "telp": "telepon",
    "tlp": "telepon",
    "handphone": "hp",
}
ROW_NUMBER_HEADERS = frozenset({"no", "no urut", "urutan"})


def normalize_header(text: str) -> str:
    """Reduce a header to lower-case words so that spelling variants compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\be[\s-]+mail\b", "email", text)
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    return " ".join(_HEADER_WORDS.get(word, word) for word in words)


_ALIASES = {
    normalize_header(alias): spec.name for spec in FIELDS for alias in spec.aliases
}


@dataclass
class _Header:
    """Column layout read from the header row."""

    headers: list[str]
    fields: dict[str, list[int]] = field(default_factory=dict)
    unknown: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)

    def missing_required(self) -> list[str]:
        missing = [
            FIELD_LABELS[name] for name in REQUIRED_FIELDS if name not in self.fields
        ]
        if not any(name in self.fields for name in TEXT_BODY_FIELDS):
            missing.append("Judul Laporan atau Isi Laporan")
        return missing

    def column_name(self, index: int) -> str:
        if index < len(self.headers) and self.headers[index]:
            return self.headers[index]
        return f"Kolom {column_letter(index)}"


def column_letter(index: int) -> str:
    """Return the Excel column letters of a 0-based column index."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _read_header(cells: Sequence[object]) -> _Header:
    header = _Header(headers=[_cell_text(cell) for cell in cells])
    for index, text in enumerate(header.headers):
        if not text:
            continue
        key = normalize_header(text)
        name = _ALIASES.get(key)
        if key in ROW_NUMBER_HEADERS:
            header.ignored.append(index)
        elif name is None:
            header.unknown.append(index)
        elif name in header.fields and name not in MULTI_COLUMN_FIELDS:
            header.duplicates.append((index, name))
            header.unknown.append(index)
        else:
            header.fields.setdefault(name, []).append(index)
    return header


def _find_header(rows: Rows) -> tuple[int | None, _Header]:
    """Return the index of the header row, or None and the closest candidate."""
    best = _Header(headers=[])
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        header = _read_header(cells)
        if not header.missing_required():
            return index, header
        if _candidate_rank(header) > _candidate_rank(best):
            best = header
    return None, best


def _candidate_rank(header: _Header) -> tuple[int, int]:
    """Rank header candidates for the error message by mapped, then filled cells."""
    return len(header.fields), sum(1 for text in header.headers if text)


# --- Cell values ------------------------------------------------------------


def _cell_text(value: object) -> str:
    """Render a cell as trimmed text; whole numbers lose the ``.0`` Excel adds."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def format_number(value: float, decimals: int = 0) -> str:
    """Format a number the Indonesian way: 32.767 and 20,5."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _plain_tracking_id(text: str) -> str:
    """Write a tracking ID with ASCII digits and without invisible characters.

    Fullwidth, Arabic-Indic and other decimal digits become 0-9, so that the
    same ID typed either way is one complaint.
    """
    characters = []
    for char in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(char)
        if category == "Cf":  # zero-width and other format characters
            continue
        characters.append(str(unicodedata.digit(char)) if category == "Nd" else char)
    return "".join(characters).strip()


def _visible(text: str) -> str:
    """Show invisible and control characters of a cell as □, for messages."""
    return "".join(char if char.isprintable() else "□" for char in text)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MONTHS = {
    **dict.fromkeys(("januari", "jan", "january"), 1),
    **dict.fromkeys(("februari", "pebruari", "feb", "peb", "february"), 2),
    **dict.fromkeys(("maret", "mar", "march"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mei", "may"), 5),
    **dict.fromkeys(("juni", "jun", "june"), 6),
    **dict.fromkeys(("juli", "jul", "july"), 7),
    **dict.fromkeys(("agustus", "agu", "agt", "ags", "aug", "august"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "okt", "oct", "october"), 10),
    **dict.fromkeys(("november", "nov", "nop"), 11),
    **dict.fromkeys(("desember", "des", "dec", "december"), 12),
}
_WEEKDAYS = r"senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad"
_TIME = (
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
    r"(?:[:.](?P<second>\d{2})(?:[.,](?P<fraction>\d{1,6}))?)?"
)
_DATE_PATTERNS = (
    # 2026-11-05, 2026/11/05
    r"(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})",
    # 05/11/2026, 5-11-2026, 05.11.2026: always day first
    r"(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})",
    # Kamis, 5 November 2026 and 05-Nov-2026
    (
        rf"(?:(?:{_WEEKDAYS}),?\s+)?(?P<day>\d{{1,2}})[\s-]+"
        r"(?P<month_name>[a-z]+)\.?[\s-]+(?P<year>\d{4})"
    ),
)
_DATETIME_RES = tuple(
    re.compile(
        rf"\s*{date}(?:(?:\s+|T|,\s*)(?:pukul\s+|jam\s+)?{_TIME})?"
        r"\s*(?P<zone>WIB|Z|[+-]\d{2}:?\d{2})?\s*",
        re.IGNORECASE,
    )
    for date in _DATE_PATTERNS
)
DATE_FORMAT_HINT = (
    "Gunakan sel tanggal Excel atau format DD/MM/YYYY, YYYY-MM-DD, atau "
    "'5 November 2026', dengan jam HH:MM bila ada."
)


def parse_datetime_cell(value: object, *, date1904: bool = False) -> dt.datetime | None:
    """Read a date cell as a naive WIB datetime, or None when it is empty.

    Raises ValueError with an Indonesian reason when the cell is not a date.
    Numeric day/month dates are always read day first, as Indonesian exports
    write them.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    moment = _cell_datetime(value, date1904)
    if moment is None:
        raise ValueError(
            f"Nilai {_cell_text(value)!r} bukan tanggal. {DATE_FORMAT_HINT}"
        )
    if moment.tzinfo is not None:
        moment = moment.astimezone(WIB).replace(tzinfo=None)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(
            f"Tahun {moment.year} di luar rentang {MIN_YEAR}–{MAX_YEAR}; "
            f"periksa apakah sel ini benar berisi tanggal. {DATE_FORMAT_HINT}"
        )
    return moment


def _cell_datetime(value: object, date1904: bool) -> dt.datetime | None:
    """Convert a non-empty cell to a datetime, or None for a type without dates."""
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)):
        return _excel_serial(float(value), date1904)
    if isinstance(value, str):
        return _parse_date_text(value)
    return None


def _excel_serial(serial: float, date1904: bool) -> dt.datetime:
    """Convert an Excel serial day number to a datetime, rounded to the second."""
    epoch = EXCEL_EPOCH_1904 if date1904 else EXCEL_EPOCH_1900
    # Excel counts a fictitious 1900-02-29, so serials below 61 are one day
    # off with this epoch. They are far below MIN_YEAR and rejected anyway.
    if not 0 < serial < 2_958_466:  # 2_958_465 is 9999-12-31
        raise ValueError(f"Angka {serial:g} bukan tanggal. {DATE_FORMAT_HINT}")
    return epoch + dt.timedelta(seconds=round(serial * 86_400))


def _parse_date_text(text: str) -> dt.datetime:
    for pattern in _DATETIME_RES:
        match = pattern.fullmatch(text)
        if match:
            return _datetime_from_match(match, text)
    raise ValueError(
        f"Format tanggal {_shorten(text)!r} tidak dikenali. {DATE_FORMAT_HINT}"
    )


def _datetime_from_match(match: re.Match[str], text: str) -> dt.datetime:
    parts = match.groupdict()
    if parts.get("month_name") is not None:
        month = _MONTHS.get(parts["month_name"].casefold())
        if month is None:
            raise ValueError(
                f"Nama bulan {parts['month_name']!r} tidak dikenali. {DATE_FORMAT_HINT}"
            )
    else:
        month = int(parts["month"])
    fraction = (parts["fraction"] or "0").ljust(6, "0")
    try:
        moment = dt.datetime(
            int(parts["year"]),
            month,
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction),
        )
    except ValueError:
        raise ValueError(
            f"Tanggal {_shorten(text.strip())!r} tidak ada di kalender "
            f"(hari, bulan atau jam di luar rentang). {DATE_FORMAT_HINT}"
        ) from None
    zone = (parts["zone"] or "").upper()
    if zone == "Z":
        moment = moment.replace(tzinfo=dt.UTC)
    elif zone and zone != "WIB":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment = moment.replace(tzinfo=dt.timezone(sign * offset))
    return moment


_TRUE_WORDS = frozenset({"ya", "y", "yes", "true", "benar", "1"})
_FALSE_WORDS = frozenset({"tidak", "t", "no", "n", "false", "salah", "0", ""})


def parse_flag_cell(value: object) -> bool:
    """Read a yes/no cell, raising ValueError with an Indonesian reason if unclear."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value in (0.0, 1.0):
        return value == 1.0
    text = _cell_text(value).casefold()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise ValueError(
        f"Nilai {_shorten(_cell_text(value))!r} tidak dikenali; "
        "isi dengan Ya atau Tidak."
    )


# --- Rows -------------------------------------------------------------------


@dataclass
class _RowReader:
    """Turn data rows below a header into records and problems."""

    header: _Header
    date1904: bool = False
    records: list[ComplaintRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    data_rows: int = 0
    first_row_of_id: dict[str, int] = field(default_factory=dict)

    def read(self, rows: Rows, first_row_number: int) -> None:
        for offset, cells in enumerate(rows):
            if all(_cell_text(cell) == "" for cell in cells):
                continue
            self.data_rows += 1
            self._read_row(first_row_number + offset, cells)

    def _problem(
        self,
        row: int,
        column: str,
        value: str,
        reason: str,
        severity: Severity = "error",
    ) -> Problem:
        problem = Problem(row, column, _shorten(value), reason, severity)
        self.problems.append(problem)
        return problem

    def _read_row(self, row: int, cells: Sequence[object]) -> None:
        before = len(self.problems)
        too_long = self._check_lengths(row, cells)
        values: dict[str, object] = {}
        for name, indexes in self.header.fields.items():
            if name in MULTI_COLUMN_FIELDS:
                texts = [_cell_text(cells[i]) for i in indexes if i < len(cells)]
                values[name] = "; ".join(text for text in texts if text)
            else:
                index = indexes[0]
                values[name] = cells[index] if index < len(cells) else None
        record = self._build_record(row, values, too_long)
        record.extra = self._extra(cells)
        if any(p.severity == "error" for p in self.problems[before:]):
            return
        self.records.append(record)

    def _check_lengths(self, row: int, cells: Sequence[object]) -> set[int]:
        too_long = set()
        for index, cell in enumerate(cells):
            if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                too_long.add(index)
                self._problem(
                    row,
                    self.header.column_name(index),
                    cell,
                    f"Isi sel terlalu panjang ({format_number(len(cell))} karakter, "
                    f"batas {format_number(MAX_CELL_CHARS)}). Persingkat isinya; "
                    "baris ini tidak diimpor.",
                )
        return too_long

    def _column(self, name: str) -> str:
        indexes = self.header.fields.get(name)
        return self.header.column_name(indexes[0]) if indexes else FIELD_LABELS[name]

    def _build_record(
        self, row: int, values: dict[str, object], too_long: set[int]
    ) -> ComplaintRecord:
        texts = {
            name: _cell_text(value)
            for name, value in values.items()
            if name not in DATE_FIELDS and name not in FLAG_FIELDS
        }
        for name, limit in FIELD_MAX_CHARS.items():
            text = texts.get(name, "")
            if len(text) > limit and not set(self.header.fields[name]) & too_long:
                self._problem(
                    row,
                    self._column(name),
                    text,
                    f"{FIELD_LABELS[name]} terlalu panjang ({len(text)} karakter, "
                    f"batas {limit}). Periksa apakah kolomnya tertukar.",
                )
        tracking_id = self._tracking_id(row, values.get("tracking_id"))
        received_at = self._date(row, "received_at", values.get("received_at"))
        if received_at is None and _cell_text(values.get("received_at")) == "":
            self._problem(
                row,
                self._column("received_at"),
                "",
                "Tanggal laporan kosong. Isi tanggal laporan dari LAPOR!.",
            )
        finished_at = self._date(row, "finished_at", values.get("finished_at"))
        if received_at and finished_at and finished_at < received_at:
            self._problem(
                row,
                self._column("finished_at"),
                _cell_text(values.get("finished_at")),
                "Tanggal selesai lebih awal dari tanggal laporan "
                f"({received_at:%d/%m/%Y %H:%M}). Periksa kedua tanggal.",
            )
        if not texts.get("title") and not texts.get("content"):
            self._problem(
                row,
                self._column("title" if "title" in self.header.fields else "content"),
                "",
                "Judul dan isi laporan kosong; pengaduan tetap diimpor tanpa uraian.",
                "warning",
            )
        self._check_status(row, texts.get("status", ""))
        self._check_finished_status(row, texts.get("status", ""), finished_at, values)
        return ComplaintRecord(
            tracking_id=tracking_id,
            received_at=received_at or dt.datetime.min,
            title=texts.get("title", ""),
            content=texts.get("content", ""),
            classification=texts.get("classification") or None,
            category=texts.get("category") or None,
            channel=texts.get("channel") or None,
            unit=texts.get("unit") or None,
            status=texts.get("status") or None,
            finished_at=finished_at,
            reporter_name=texts.get("reporter_name") or None,
            reporter_contact=texts.get("reporter_contact") or None,
            is_anonymous=self._flag(row, "is_anonymous", values),
            is_confidential=self._flag(row, "is_confidential", values),
        )

    def _tracking_id(self, row: int, value: object) -> str:
        written = _cell_text(value)
        tracking_id = _plain_tracking_id(written)
        column = self._column("tracking_id")
        if tracking_id and tracking_id != written:
            self._problem(
                row,
                column,
                _visible(written),
                f"ID tracking memuat angka atau karakter tak biasa; disimpan "
                f"sebagai {tracking_id}.",
                "warning",
            )
        if not tracking_id:
            self._problem(
                row,
                column,
                "",
                "ID tracking kosong. Setiap laporan LAPOR! memiliki ID.",
            )
            return ""
        # isdigit alone accepts Arabic-Indic, fullwidth and superscript digits.
        is_number = tracking_id.isascii() and tracking_id.isdigit()
        if not is_number or len(tracking_id) > MAX_TRACKING_DIGITS:
            self._problem(
                row,
                column,
                _visible(tracking_id),
                f"ID tracking LAPOR! berupa angka dengan paling banyak "
                f"{MAX_TRACKING_DIGITS} digit. Periksa apakah kolom ini memang "
                "berisi ID tracking; baris tetap diimpor dengan ID ini.",
                "warning",
            )
        first_row = self.first_row_of_id.setdefault(tracking_id, row)
        if first_row != row:
            self._problem(
                row,
                column,
                tracking_id,
                f"ID tracking sama dengan baris {first_row}. Hapus baris ganda "
                "lalu unggah ulang.",
            )
        return tracking_id

    def _date(self, row: int, name: str, value: object) -> dt.datetime | None:
        try:
            return parse_datetime_cell(value, date1904=self.date1904)
        except ValueError as exc:
            self._problem(row, self._column(name), _cell_text(value), str(exc))
            return None

    def _flag(self, row: int, name: str, values: dict[str, object]) -> bool:
        try:
            return parse_flag_cell(values.get(name))
        except ValueError as exc:
            # A misread "Rahasia" flag could publish a reporter's identity, so an
            # unclear value rejects the row.
            self._problem(
                row, self._column(name), _cell_text(values.get(name)), str(exc)
            )
            return False

    def _check_status(self, row: int, status: str) -> None:
        if "status" not in self.header.fields or is_known_status(status):
            return
        known = ", ".join(LAPOR_STATUSES)
        if not status.strip():
            reason = "Status kosong"
        else:
            reason = f"Status “{_visible(status)}” tidak dikenal"
        self._problem(
            row,
            self._column("status"),
            status,
            f"{reason}; pengaduan ini dihitung belum selesai. Status LAPOR! yang "
            f"dikenal: {known}.",
            "warning",
        )

    def _check_finished_status(
        self,
        row: int,
        status: str,
        finished_at: dt.datetime | None,
        values: dict[str, object],
    ) -> None:
        finished_text = _cell_text(values.get("finished_at"))
        if (
            "finished_at" in self.header.fields
            and is_finished_status(status)
            and finished_at is None
            and not finished_text
        ):
            self._problem(
                row,
                self._column("finished_at"),
                "",
                f"Status “{_visible(status)}” tetapi tanggal selesai kosong; pengaduan ini "
                "dihitung belum selesai.",
                "warning",
            )

    def _extra(self, cells: Sequence[object]) -> dict[str, str]:
        extra: dict[str, str] = {}
        known = {i for indexes in self.header.fields.values() for i in indexes}
        known.update(self.header.ignored)
        for index, cell in enumerate(cells):
            if index in known:
                continue
            text = _cell_text(cell)
            unnamed = (
                index >= len(self.header.headers) or not self.header.headers[index]
            )
            if unnamed and not text:
                continue
            name = self.header.column_name(index)
            key, copy = name, 2
            while key in extra:
                key, copy = f"{name} ({copy})", copy + 1
            extra[key] = text
        return extra


# --- File formats -----------------------------------------------------------

_MAGIC_NAMES = (
    (b"\x89PNG", "gambar PNG"),
    (b"\xff\xd8\xff", "gambar JPEG"),
    (b"GIF8", "gambar GIF"),
    (b"%PDF", "dokumen PDF"),
    (b"\x1f\x8b", "arsip GZIP"),
    (b"Rar!", "arsip RAR"),
    (b"7z\xbc\xaf", "arsip 7-Zip"),
)
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_SUPPORTED_HINT = "Unggah berkas ekspor LAPOR! dalam format .xlsx atau .csv."


def _not_a_spreadsheet(filename: str, what: str) -> LaporImportError:
    return LaporImportError(
        f"Berkas {filename!r} bukan lembar kerja: isinya {what}. {_SUPPORTED_HINT}"
    )


def _detect_format(data: bytes, filename: str) -> Literal["xlsx", "csv"]:
    """Recognise the format from the content, because the file name may be wrong."""
    if data.startswith(_ZIP_MAGICS):
        return "xlsx"
    if data.startswith(_CFB_MAGIC):
        raise LaporImportError(
            f"Berkas {filename!r} berformat Excel lama (.xls) atau dilindungi kata "
            "sandi. Buka di Excel, hapus kata sandinya bila ada, lalu simpan sebagai "
            "Excel Workbook (.xlsx)."
        )
    for magic, what in _MAGIC_NAMES:
        if data.startswith(magic):
            raise _not_a_spreadsheet(filename, what)
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")):
        raise LaporImportError(
            f"Berkas {filename!r} berisi HTML atau XML, bukan lembar kerja. Buka di "
            "Excel lalu simpan sebagai Excel Workbook (.xlsx)."
        )
    return "csv"


# --- CSV --------------------------------------------------------------------

_CSV_DELIMITERS = (",", ";", "\t")


def _decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """Decode CSV bytes and return the text with the encoding that worked."""
    candidates: tuple[str, ...]
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        if b"\x00" in data[:65_536]:
            raise _not_a_spreadsheet(filename, "data biner")
        # Excel saves "CSV (Comma delimited)" in the Windows ANSI code page,
        # Windows-1252 in Indonesia. It leaves five bytes undefined, so random
        # binary data almost always fails to decode.
        candidates = ("utf-8", "cp1252")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:65_536]
        controls = sum(
            1
            for char in sample
            if (ord(char) < 32 and char not in "\t\r\n") or char == "\x7f"
        )
        if controls > len(sample) // 100:
            raise _not_a_spreadsheet(filename, "data biner")
        return text, encoding
    raise LaporImportError(
        f"Berkas {filename!r} tidak dapat dibaca sebagai teks "
        "(UTF-8 atau Windows-1252). "
        "Jika ini lembar kerja, simpan ulang sebagai CSV UTF-8 atau .xlsx."
    )


def _csv_rows(text: str, delimiter: str, limit: int | None = None) -> list[list[str]]:
    """Split CSV text into rows, raising csv.Error(line number) on bad syntax."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(itertools.islice(reader, limit))
    except csv.Error as exc:
        raise csv.Error(reader.line_num) from exc


def _read_csv(data: bytes, filename: str) -> tuple[list[list[str]], str, str]:
    """Return the rows, encoding and delimiter of a CSV export."""
    text, encoding = _decode_text(data, filename)
    if not text.strip():
        raise LaporImportError(f"Berkas {filename!r} kosong. {_SUPPORTED_HINT}")
    # Pick the delimiter under which a header row appears. Excel with Indonesian
    # regional settings writes semicolons, because the decimal mark is a comma.
    best_delimiter, best_score = ",", (False, -1, -1)
    for delimiter in _CSV_DELIMITERS:
        try:
            sample = _csv_rows(text, delimiter, HEADER_SEARCH_ROWS)
        except csv.Error:
            continue
        index, header = _find_header(sample)
        score = (index is not None, len(header.fields), len(header.headers))
        if score > best_score:
            best_delimiter, best_score = delimiter, score
    try:
        rows = _csv_rows(text, best_delimiter)
    except csv.Error as exc:
        logger.info("CSV syntax error in %r: %r", filename, exc.__cause__)
        raise LaporImportError(
            f"Berkas CSV {filename!r} rusak di sekitar baris teks {exc.args[0]}: "
            "ada tanda kutip yang tidak berpasangan atau sel yang sangat panjang. "
            "Perbaiki baris itu atau ekspor ulang dari LAPOR!."
        ) from exc
    return rows, encoding, best_delimiter


# --- XLSX -------------------------------------------------------------------

_SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")
# A <row> or <c> start tag with its optional r="B12" reference. The lazy scan
# stays inside the tag because it cannot cross ">".
_SHEET_TAG = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])"
    rb"""(?:[^>]*?\sr\s*=\s*["']([A-Za-z]{0,3})(\d*)["'])?"""
)
_DATE1904 = re.compile(rb"""date1904\s*=\s*["'](?:1|true)["']""")


def _corrupt_zip(filename: str, detail: str) -> LaporImportError:
    return LaporImportError(
        f"Berkas {filename!r} rusak: arsip .xlsx tidak dapat dibuka ({detail}). "
        "Unduh ulang ekspor dari LAPOR!, atau buka di Excel lalu simpan ulang "
        "sebagai .xlsx."
    )


def _too_large_zip(filename: str, detail: str) -> LaporImportError:
    return LaporImportError(
        f"Berkas {filename!r} ditolak: {detail}. Berkas ekspor LAPOR! yang wajar "
        "tidak seperti ini; ekspor ulang dari LAPOR! atau simpan ulang di Excel."
    )


def _open_zip(data: bytes, filename: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        OSError,
        EOFError,
    ) as exc:
        logger.info("Invalid zip archive %r: %r", filename, exc)
        raise _corrupt_zip(filename, "struktur arsip ZIP tidak valid") from exc
    names = {info.filename for info in members}
    if "xl/workbook.xml" not in names:
        if "word/document.xml" in names:
            what = "dokumen Word"
        elif "ppt/presentation.xml" in names:
            what = "presentasi PowerPoint"
        elif "content.xml" in names:
            what = "dokumen OpenDocument (simpan sebagai .xlsx dari LibreOffice)"
        else:
            what = "arsip ZIP tanpa buku kerja Excel"
        raise _not_a_spreadsheet(filename, what)
    return archive


def _check_zip_limits(members: list[zipfile.ZipInfo], filename: str) -> None:
    """Reject zip bombs by their declared sizes before inflating anything."""
    if len(members) > MAX_ZIP_MEMBERS:
        raise _too_large_zip(
            filename, f"arsip berisi {len(members)} bagian (batas {MAX_ZIP_MEMBERS})"
        )
    total = sum(info.file_size for info in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _too_large_zip(
            filename,
            f"isinya {format_number(total / 2**20)} MB setelah diekstrak "
            f"(batas {MAX_UNCOMPRESSED_BYTES // 2**20} MB)",
        )
    for info in members:
        if info.flag_bits & 0x1:
            raise LaporImportError(
                f"Berkas {filename!r} dilindungi kata sandi. Buka di Excel, hapus "
                "kata sandinya, lalu simpan ulang sebagai .xlsx."
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _corrupt_zip(filename, f"metode kompresi {info.compress_type}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise _too_large_zip(
                filename,
                f"bagian {info.filename!r} memiliki rasio kompresi "
                f"{format_number(ratio)}:1 "
                f"(batas {MAX_COMPRESSION_RATIO}:1)",
            )


def _inflate(data: bytes, info: zipfile.ZipInfo, filename: str) -> bytes:
    """Inflate one member, checking that it matches its declared size and CRC.

    The declared sizes are what the zip-bomb limits trust, so a member that
    inflates beyond them is rejected here instead of inside calamine.
    """
    offset = info.header_offset
    if data[offset : offset + 4] != b"PK\x03\x04":
        raise _corrupt_zip(filename, f"header bagian {info.filename!r} tidak valid")
    name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
    start = offset + 30 + name_length + extra_length
    raw = data[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise _corrupt_zip(filename, f"bagian {info.filename!r} terpotong")
    if info.compress_type == zipfile.ZIP_STORED:
        content = raw
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            content = inflater.decompress(raw, info.file_size + 1)
        except zlib.error as exc:
            logger.info(
                "Invalid deflate data in %r, %s: %r", filename, info.filename, exc
            )
            raise _corrupt_zip(
                filename, f"data terkompresi bagian {info.filename!r} rusak"
            ) from exc
        if len(content) == info.file_size and not inflater.eof:
            # max_length can stop the inflater before it reads the end-of-stream
            # marker. One more byte of output means the member is larger.
            content += inflater.decompress(inflater.unconsumed_tail, 1)
            if not inflater.eof:
                raise _corrupt_zip(filename, f"bagian {info.filename!r} terpotong")
    if len(content) != info.file_size:
        raise _corrupt_zip(
            filename, f"ukuran bagian {info.filename!r} tidak sesuai dengan header"
        )
    if zlib.crc32(content) != info.CRC:
        raise _corrupt_zip(filename, f"CRC bagian {info.filename!r} salah")
    return content


def _sheet_extent(xml: bytes) -> tuple[int, int]:
    """Return the last row and column a worksheet uses, as calamine counts them.

    Rows and cells without an ``r`` reference follow the previous one.
    """
    row = column = max_row = max_column = 0
    column_numbers: dict[bytes, int] = {}
    for kind, letters, digits in _SHEET_TAG.findall(xml):
        if kind == b"row":
            row = int(digits) if digits else row + 1
            column = 0
        else:
            if letters:
                if letters not in column_numbers:
                    column_numbers[letters] = _column_number(letters)
                column = column_numbers[letters]
            else:
                column += 1
            if digits:
                row = max(row, int(digits))
        max_row = max(max_row, row)
        max_column = max(max_column, column)
    return max_row, max_column


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + (char - ord("A") + 1)
    return number


def _inspect_xlsx(data: bytes, filename: str) -> bool:
    """Check an xlsx archive before calamine opens it and return its date1904 flag."""
    archive = _open_zip(data, filename)
    members = archive.infolist()
    _check_zip_limits(members, filename)
    date1904 = False
    for info in members:
        content = _inflate(data, info, filename)
        if info.filename == "xl/workbook.xml":
            date1904 = bool(_DATE1904.search(content))
        elif _SHEET_PART.fullmatch(info.filename):
            rows, columns = _sheet_extent(content)
            if rows * columns > MAX_SHEET_CELLS:
                raise _too_large_zip(
                    filename,
                    f"lembar kerja {info.filename!r} mencakup {format_number(rows)} "
                    f"baris × {format_number(columns)} kolom "
                    f"(batas {format_number(MAX_SHEET_CELLS)} sel)",
                )
    return date1904


def _xlsx_sheets(data: bytes, filename: str) -> Iterator[tuple[str, Rows]]:
    """Yield the name and rows of each visible worksheet, starting at cell A1."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [
            meta.name
            for meta in workbook.sheets_metadata
            if meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            and meta.visible == python_calamine.SheetVisibleEnum.Visible
        ]
    except Exception as exc:  # calamine raises several types for bad content
        logger.warning("calamine could not open %r: %r", filename, exc)
        raise _corrupt_zip(filename, "struktur buku kerja tidak valid") from exc
    for name in sheets:
        try:
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:
            logger.warning(
                "calamine could not read sheet %r of %r: %r", name, filename, exc
            )
            raise _corrupt_zip(filename, f"lembar {name!r} tidak dapat dibaca") from exc
        yield name, rows


# --- Entry point ------------------------------------------------------------


def parse_export(
    data: bytes, filename: str, *, max_bytes: int = MAX_UPLOAD_BYTES
) -> ParseResult:
    """Parse a LAPOR! export (.xlsx or .csv) into complaint records and problems.

    Raises LaporImportError when the file as a whole cannot be used. No other
    exception escapes for bad input.
    """
    if len(data) > max_bytes:
        raise LaporImportError(
            f"Berkas {filename!r} berukuran {format_number(len(data) / 2**20, 1)} MB, "
            f"melebihi batas {format_number(max_bytes / 2**20)} MB. "
            "Ekspor data satu bulan saja, atau "
            "simpan sebagai .xlsx yang lebih ringkas daripada CSV."
        )
    if not data.strip():
        raise LaporImportError(f"Berkas {filename!r} kosong. {_SUPPORTED_HINT}")
    try:
        result = _parse(data, filename)
    except LaporImportError as exc:
        logger.info("Rejected LAPOR! export %r: %s", filename, exc)
        raise
    except Exception as exc:
        # Any other failure on user input is still a bad file for the user,
        # but it may be a bug, hence the stack trace.
        logger.exception("Unexpected error while parsing LAPOR! export %r", filename)
        raise _unreadable(filename) from exc
    except BaseException as exc:
        # pyo3 raises a Rust panic inside calamine as PanicException, which
        # derives from BaseException and would escape the handler above.
        if type(exc).__name__ != "PanicException":
            raise
        logger.exception("calamine panicked while parsing LAPOR! export %r", filename)
        raise _unreadable(filename) from exc
    logger.info(
        "Parsed LAPOR! export %r (%s, sha256 %s): %d records, %d errors, %d warnings",
        filename,
        result.file_format,
        result.sha256[:12],
        len(result.records),
        len(result.errors),
        len(result.warnings),
    )
    return result


def _unreadable(filename: str) -> LaporImportError:
    return LaporImportError(
        f"Berkas {filename!r} tidak dapat dibaca. Buka di Excel, simpan ulang "
        "sebagai .xlsx, lalu unggah lagi."
    )


def _parse(data: bytes, filename: str) -> ParseResult:
    file_format = _detect_format(data, filename)
    encoding = delimiter = None
    date1904 = False
    if file_format == "xlsx":
        date1904 = _inspect_xlsx(data, filename)
        tables: Iterator[tuple[str | None, Rows]] = _xlsx_sheets(data, filename)
    else:
        csv_rows, encoding, delimiter = _read_csv(data, filename)
        tables = iter([(None, csv_rows)])

    sheet_name, rows, header_index, header = _locate_header(tables, filename)
    reader = _RowReader(header, date1904=date1904)
    reader.read(rows[header_index + 1 :], first_row_number=header_index + 2)
    if reader.data_rows == 0:
        raise LaporImportError(
            f"Berkas {filename!r} tidak berisi baris data di bawah judul kolom "
            f"(baris {header_index + 1}). Ekspor ulang data dari LAPOR!."
        )
    problems = _header_problems(header, header_index + 1) + reader.problems
    return ParseResult(
        records=reader.records,
        problems=problems,
        mapping={
            name: ", ".join(header.headers[i] for i in indexes)
            for name, indexes in header.fields.items()
        },
        unknown_columns=[header.headers[i] for i in header.unknown],
        header_row=header_index + 1,
        data_rows=reader.data_rows,
        sha256=hashlib.sha256(data).hexdigest(),
        file_format=file_format,
        ignored_columns=[header.headers[i] for i in header.ignored],
        sheet_name=sheet_name,
        encoding=encoding,
        delimiter=delimiter,
    )


def _locate_header(
    tables: Iterator[tuple[str | None, Rows]], filename: str
) -> tuple[str | None, Rows, int, _Header]:
    """Return the first table with a header row, or raise with what was found."""
    best = _Header(headers=[])
    for name, rows in tables:
        index, header = _find_header(rows)
        if index is not None:
            return name, rows, index, header
        if _candidate_rank(header) > _candidate_rank(best):
            best = header
    found = [text for text in best.headers if text]
    if not found:
        raise LaporImportError(
            f"Berkas {filename!r} tidak berisi tabel: tidak ada judul kolom di "
            f"{HEADER_SEARCH_ROWS} baris pertama. {_SUPPORTED_HINT}"
        )
    missing = best.missing_required()
    shown = ", ".join(repr(_shorten(text, 40)) for text in found[:30])
    raise LaporImportError(
        f"Kolom wajib tidak ditemukan: {', '.join(missing)}. Kolom yang ada: {shown}. "
        "Pastikan baris judul kolom memuat nama kolom ekspor LAPOR!, misalnya "
        "'ID Tracking', 'Tanggal Laporan' dan 'Judul Laporan'."
    )


def _header_problems(header: _Header, header_row: int) -> list[Problem]:
    problems = []
    for name in EXPECTED_FIELDS:
        if name not in header.fields:
            label = FIELD_LABELS[name]
            problems.append(
                Problem(
                    header_row,
                    label,
                    "",
                    f"Kolom {label!r} tidak ditemukan; tabel dan statistik yang "
                    "memakainya akan kosong.",
                    "warning",
                )
            )
    for index, name in header.duplicates:
        first = header.headers[header.fields[name][0]]
        problems.append(
            Problem(
                header_row,
                header.headers[index],
                "",
                f"Kolom ini juga berarti {FIELD_LABELS[name]!r}; yang dipakai kolom "
                f"{first!r}, kolom ini disimpan sebagai kolom tambahan.",
                "warning",
            )
        )
    return problems
