"""Tests of the LAPOR! export parser, on files built by each test."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import random
import re
import struct
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from sigrekap import lapor
from sigrekap.domain import Period
from sigrekap.lapor import (
    MAX_CELL_CHARS,
    LaporImportError,
    ParseResult,
    format_number,
    normalize_header,
    parse_datetime_cell,
    parse_export,
    parse_flag_cell,
)
from sigrekap.stats import compute_statistics

FIXTURES = Path(
    os.environ.get(
        "SIGREKAP_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
)

HEADERS = [
    "No",
    "ID Tracking",
    "Tanggal Laporan",
    "Judul Laporan",
    "Isi Laporan",
    "Klasifikasi",
    "Kategori",
    "Sumber",
    "Instansi Tujuan",
    "Status",
    "Tanggal Selesai",
    "Nama Pelapor",
    "Anonim",
    "Rahasia",
]


def make_row(number, tracking_id=None, received="2026-11-05 14:30:00", **overrides):
    """Return one data row as a dict keyed by the standard headers."""
    row = {
        "No": number,
        "ID Tracking": tracking_id or str(74140750 + number),
        "Tanggal Laporan": received,
        "Judul Laporan": f"Jalan berlubang nomor {number}",
        "Isi Laporan": "Mohon segera diperbaiki.",
        "Klasifikasi": "Pengaduan",
        "Kategori": "Infrastruktur",
        "Sumber": "Website",
        "Instansi Tujuan": "Dinas Pekerjaan Umum",
        "Status": "Proses",
        "Tanggal Selesai": "",
        "Nama Pelapor": "Budi Santoso",
        "Anonim": "Tidak",
        "Rahasia": "Tidak",
    }
    row.update(overrides)
    return row


def table(rows, headers=HEADERS):
    return [list(headers)] + [[row.get(h, "") for h in headers] for row in rows]


def to_csv(lines, encoding="utf-8", delimiter=","):
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(lines)
    return buffer.getvalue().encode(encoding)


def to_xlsx(lines, epoch=None):
    workbook = openpyxl.Workbook()
    if epoch is not None:
        workbook.epoch = epoch
    sheet = workbook.active
    sheet.title = "Laporan"
    for line in lines:
        sheet.append([None if cell == "" else cell for cell in line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def three_rows():
    return [make_row(1), make_row(2), make_row(3)]


def errors_of(result):
    return [p for p in result.problems if p.severity == "error"]


def rebuild_zip(data, change):
    """Copy an xlsx archive, passing each member through change(name, bytes)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = change(info.filename, source.read(info.filename))
            if content is not None:
                target.writestr(info.filename, content)
    return out.getvalue()


def patch_central_size(data, member, new_size):
    """Overwrite the uncompressed size of one member in the central directory."""
    archive = bytearray(data)
    name = member.encode()
    position = archive.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack_from("<H", archive, position + 28)[0]
        if archive[position + 46 : position + 46 + name_length] == name:
            struct.pack_into("<I", archive, position + 24, new_size)
            return bytes(archive)
        position = archive.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"{member} not in archive")


# --- Formats ----------------------------------------------------------------


def test_xlsx_basic_record_fields():
    lines = table([make_row(1, Status="Selesai", **{"Tanggal Selesai": "2026-11-07"})])
    result = parse_export(to_xlsx(lines), "lapor.xlsx")

    assert isinstance(result, ParseResult)
    assert result.file_format == "xlsx"
    assert result.problems == []
    assert result.header_row == 1
    assert result.data_rows == 1
    record = result.records[0]
    assert record.tracking_id == "74140751"
    assert record.received_at == dt.datetime(2026, 11, 5, 14, 30)
    assert record.title == "Jalan berlubang nomor 1"
    assert record.content == "Mohon segera diperbaiki."
    assert record.classification == "Pengaduan"
    assert record.category == "Infrastruktur"
    assert record.channel == "Website"
    assert record.unit == "Dinas Pekerjaan Umum"
    assert record.status == "Selesai"
    assert record.finished_at == dt.datetime(2026, 11, 7)
    assert record.reporter_name == "Budi Santoso"
    assert record.is_anonymous is False
    assert record.is_confidential is False
    assert record.extra == {}
    assert result.ignored_columns == ["No"]


def test_xlsx_sha256_of_file_bytes():
    data = to_xlsx(table(three_rows()))
    assert parse_export(data, "a.xlsx").sha256 == hashlib.sha256(data).hexdigest()


def test_xlsx_numeric_tracking_id_becomes_text():
    lines = table([make_row(1, tracking_id=74140751)])
    result = parse_export(to_xlsx(lines), "lapor.xlsx")
    assert result.records[0].tracking_id == "74140751"


def test_xlsx_real_datetime_and_date_cells():
    rows = [
        make_row(1, received=dt.datetime(2026, 11, 5, 14, 30, 15)),
        make_row(2, received=dt.date(2026, 11, 6)),
        make_row(3, received=46331.5),  # unformatted serial number
    ]
    result = parse_export(to_xlsx(table(rows)), "lapor.xlsx")

    assert errors_of(result) == []
    received = [record.received_at for record in result.records]
    assert received == [
        dt.datetime(2026, 11, 5, 14, 30, 15),
        dt.datetime(2026, 11, 6),
        dt.datetime(2026, 11, 5, 12, 0),
    ]


def test_xlsx_serial_number_in_1904_workbook():
    lines = table([make_row(1, received=44869.5)])
    result = parse_export(to_xlsx(lines, epoch=CALENDAR_MAC_1904), "mac.xlsx")
    assert result.records[0].received_at == dt.datetime(2026, 11, 5, 12, 0)


def test_csv_utf8_with_multiline_cell():
    row = make_row(1, **{"Isi Laporan": 'Baris satu\nbaris "dua" 😡'})
    result = parse_export(to_csv(table([row, make_row(2)])), "lapor.csv")

    assert result.file_format == "csv"
    assert result.encoding == "utf-8"
    assert result.delimiter == ","
    assert result.records[0].content == 'Baris satu\nbaris "dua" 😡'
    assert [r.tracking_id for r in result.records] == ["74140751", "74140752"]


def test_csv_utf8_with_bom():
    result = parse_export(to_csv(table(three_rows()), "utf-8-sig"), "lapor.csv")
    assert result.encoding == "utf-8-sig"
    assert result.mapping["tracking_id"] == "ID Tracking"
    assert len(result.records) == 3


def test_csv_windows_1252():
    row = make_row(
        1, **{"Nama Pelapor": "Andé", "Isi Laporan": "Jalan ’rusak’ – cepat"}
    )
    result = parse_export(to_csv(table([row]), "cp1252"), "lapor.csv")

    assert result.encoding == "cp1252"
    assert result.records[0].reporter_name == "Andé"
    assert result.records[0].content == "Jalan ’rusak’ – cepat"


def test_csv_semicolon_delimiter():
    lines = table(three_rows())
    result = parse_export(to_csv(lines, delimiter=";"), "lapor.csv")
    assert result.delimiter == ";"
    assert len(result.records) == 3
    assert result.records[2].unit == "Dinas Pekerjaan Umum"


def test_csv_semicolon_with_commas_in_cells():
    row = make_row(1, **{"Judul Laporan": "Jalan, jembatan, dan drainase"})
    result = parse_export(to_csv(table([row]), delimiter=";"), "lapor.csv")
    assert result.delimiter == ";"
    assert result.records[0].title == "Jalan, jembatan, dan drainase"


def test_csv_utf16_tab_delimited():
    lines = table(three_rows())
    result = parse_export(to_csv(lines, "utf-16", "\t"), "lapor.txt")
    assert result.encoding == "utf-16"
    assert result.delimiter == "\t"
    assert len(result.records) == 3


def test_format_detected_by_content_not_name():
    xlsx = to_xlsx(table(three_rows()))
    text = to_csv(table(three_rows()))
    assert parse_export(xlsx, "salah-nama.csv").file_format == "xlsx"
    assert parse_export(text, "salah-nama.xlsx").file_format == "csv"


def test_whitespace_is_trimmed():
    row = make_row(1, tracking_id="  74140751 ", Kategori="  Kesehatan\t")
    result = parse_export(to_csv(table([row])), "lapor.csv")
    assert result.records[0].tracking_id == "74140751"
    assert result.records[0].category == "Kesehatan"


# --- Header variants and layout ---------------------------------------------

HEADER_VARIANTS = [
    ("tracking_id", "ID Tracking"),
    ("tracking_id", "Tracking ID"),
    ("tracking_id", "No. Tiket"),
    ("tracking_id", "No Tiket"),
    ("tracking_id", "Nomor Tiket"),
    ("tracking_id", "ID Laporan"),
    ("tracking_id", "id_tracking"),
    ("received_at", "Tanggal Laporan"),
    ("received_at", "Tgl Masuk"),
    ("received_at", "Tgl. Masuk"),
    ("received_at", "Tanggal Masuk"),
    ("received_at", "Waktu Laporan"),
    ("received_at", "TANGGAL  LAPORAN"),
    ("title", "Judul Laporan"),
    ("title", "Judul"),
    ("content", "Isi Laporan"),
    ("content", "Isi"),
    ("content", "Uraian"),
    ("classification", "Klasifikasi"),
    ("category", "Kategori"),
    ("category", "Topik"),
    ("channel", "Sumber"),
    ("channel", "Kanal"),
    ("channel", "Sumber Laporan"),
    ("unit", "Instansi Tujuan"),
    ("unit", "Unit Kerja Terdisposisi"),
    ("unit", "Disposisi"),
    ("unit", "Instansi"),
    ("status", "Status"),
    ("status", "Status Laporan"),
    ("finished_at", "Tanggal Selesai"),
    ("finished_at", "Tgl Selesai"),
    ("reporter_name", "Nama Pelapor"),
    ("reporter_name", "Pelapor"),
    ("reporter_contact", "Kontak Pelapor"),
    ("reporter_contact", "No HP"),
    ("reporter_contact", "No. HP"),
    ("reporter_contact", "Email Pelapor"),
    ("reporter_contact", "E-mail Pelapor"),
    ("is_anonymous", "Anonim"),
    ("is_confidential", "Rahasia"),
]

STANDARD_HEADER = {
    "tracking_id": "ID Tracking",
    "received_at": "Tanggal Laporan",
    "title": "Judul Laporan",
    "content": "Isi Laporan",
    "classification": "Klasifikasi",
    "category": "Kategori",
    "channel": "Sumber",
    "unit": "Instansi Tujuan",
    "status": "Status",
    "finished_at": "Tanggal Selesai",
    "reporter_name": "Nama Pelapor",
    "is_anonymous": "Anonim",
    "is_confidential": "Rahasia",
}

FIELD_VALUES = {
    "tracking_id": ("74140751", "74140751"),
    "received_at": ("2026-11-05 14:30", dt.datetime(2026, 11, 5, 14, 30)),
    "title": ("Jalan berlubang", "Jalan berlubang"),
    "content": ("Mohon diperbaiki", "Mohon diperbaiki"),
    "classification": ("Aspirasi", "Aspirasi"),
    "category": ("Kesehatan", "Kesehatan"),
    "channel": ("SMS 1708", "SMS 1708"),
    "unit": ("Dinas Kesehatan", "Dinas Kesehatan"),
    "status": ("Selesai", "Selesai"),
    "finished_at": ("2026-11-07 08:00", dt.datetime(2026, 11, 7, 8, 0)),
    "reporter_name": ("Siti Rahayu", "Siti Rahayu"),
    "reporter_contact": ("0812345678", "0812345678"),
    "is_anonymous": ("Ya", True),
    "is_confidential": ("Ya", True),
}


@pytest.mark.parametrize(("field", "variant"), HEADER_VARIANTS)
def test_header_variant_maps_field(field, variant):
    headers = dict(STANDARD_HEADER)
    headers[field] = variant
    names = list(headers)
    lines = [[headers[n] for n in names], [FIELD_VALUES[n][0] for n in names]]
    result = parse_export(to_csv(lines), "lapor.csv")

    assert result.mapping[field] == variant
    assert errors_of(result) == []
    assert getattr(result.records[0], field) == FIELD_VALUES[field][1]


def test_format_number_uses_indonesian_separators():
    assert format_number(32_767) == "32.767"
    assert format_number(2_000_000) == "2.000.000"
    assert format_number(20.54, 1) == "20,5"
    assert format_number(7) == "7"


def test_normalize_header_ignores_case_spacing_punctuation():
    assert normalize_header("  No.  Tiket ") == "no tiket"
    assert normalize_header("TGL_MASUK") == "tanggal masuk"
    assert normalize_header("E-Mail Pelapor") == "email pelapor"


def test_two_contact_columns_are_joined():
    headers = HEADERS + ["No HP", "Email Pelapor"]
    row = make_row(1, **{"No HP": "0812345678", "Email Pelapor": "budi@contoh.id"})
    result = parse_export(to_csv(table([row], headers)), "lapor.csv")
    assert result.records[0].reporter_contact == "0812345678; budi@contoh.id"
    assert result.mapping["reporter_contact"] == "No HP, Email Pelapor"


def test_title_rows_above_header():
    lines = [
        ["Rekapitulasi Pengaduan SP4N-LAPOR!"],
        ["Periode: November 2026"],
        [],
        ["Dicetak oleh admin", "", "05/12/2026"],
    ] + table([make_row(1), make_row(2, received="kemarin")])
    for data, name in ((to_xlsx(lines), "a.xlsx"), (to_csv(lines), "a.csv")):
        result = parse_export(data, name)

        assert result.header_row == 5
        assert result.data_rows == 2
        assert len(result.records) == 1
        assert errors_of(result)[0].row == 7


def test_blank_rows_keep_row_numbers():
    lines = (
        table([make_row(1)])
        + [[], ["", "  ", ""]]
        + table([make_row(2, received="x")])[1:]
    )
    result = parse_export(to_xlsx(lines), "a.xlsx")
    assert result.data_rows == 2
    assert errors_of(result)[0].row == 5


def test_unknown_columns_kept_in_extra():
    headers = HEADERS + ["Catatan Admin", "Lokasi", "Lokasi"]
    row = make_row(1, **{"Catatan Admin": "cek ulang", "Lokasi": "Kebomas"})
    lines = table([row], headers)
    lines[1][-1] = "Manyar"
    result = parse_export(to_xlsx(lines), "a.xlsx")

    assert result.unknown_columns == ["Catatan Admin", "Lokasi", "Lokasi"]
    assert result.records[0].extra == {
        "Catatan Admin": "cek ulang",
        "Lokasi": "Kebomas",
        "Lokasi (2)": "Manyar",
    }


def test_values_beyond_header_kept_under_column_letter():
    lines = table([make_row(1)])
    lines[1].append("tanpa judul")
    result = parse_export(to_csv(lines), "a.csv")
    assert result.records[0].extra == {"Kolom O": "tanpa judul"}


def test_duplicate_field_column_warns_and_keeps_extra():
    headers = HEADERS + ["Judul"]
    row = make_row(1, Judul="Judul kedua")
    result = parse_export(to_csv(table([row], headers)), "a.csv")

    assert result.mapping["title"] == "Judul Laporan"
    assert result.records[0].extra == {"Judul": "Judul kedua"}
    warning = [p for p in result.problems if p.column == "Judul"]
    assert warning[0].severity == "warning"
    assert warning[0].row == 1


def test_expected_columns_missing_are_warnings():
    headers = ["ID Tracking", "Tanggal Laporan", "Judul"]
    lines = [headers, ["1", "2026-11-05", "Jalan rusak"]]
    result = parse_export(to_csv(lines), "a.csv")

    assert not result.has_errors
    assert len(result.records) == 1
    missing = {p.column for p in result.problems if p.severity == "warning"}
    assert missing == {
        "Kategori",
        "Sumber",
        "Instansi Tujuan",
        "Status",
        "Tanggal Selesai",
    }


def warnings_of(result, column):
    return [p for p in result.warnings if p.column == column]


@pytest.mark.parametrize(
    "tracking_id",
    [
        "LAP-2026-001",
        "74140751x",
        "1" * 16,
        "3578012345678901",
    ],
)
def test_unusual_tracking_id_warns(tracking_id):
    rows = [make_row(1), make_row(2, tracking_id=tracking_id)]
    result = parse_export(to_csv(table(rows)), "lapor.csv")
    assert len(result.records) == 2
    assert not errors_of(result)
    warnings = warnings_of(result, "ID Tracking")
    assert [w.row for w in warnings] == [3]
    assert warnings[0].value == tracking_id
    assert "angka" in warnings[0].reason


@pytest.mark.parametrize(
    "written",
    [
        "٧٤١٤٠٧٥١",  # Arabic-Indic digits
        "７４１４０７５１",  # fullwidth digits
        "7414\u200b0751",  # zero-width space
    ],
)
def test_unusual_digits_become_plain_tracking_id(written):
    result = parse_export(to_csv(table([make_row(1, tracking_id=written)])), "lapor.csv")
    assert [record.tracking_id for record in result.records] == ["74140751"]
    warnings = warnings_of(result, "ID Tracking")
    assert len(warnings) == 1
    assert "disimpan sebagai 74140751" in warnings[0].reason
    assert "\u200b" not in warnings[0].value


def test_same_tracking_id_in_other_digits_is_duplicate():
    rows = [make_row(1, tracking_id="74140751"), make_row(2, tracking_id="７４１４０７５１")]
    result = parse_export(to_csv(table(rows)), "lapor.csv")
    assert any("sama dengan baris 2" in error.reason for error in errors_of(result))


def test_numeric_tracking_ids_do_not_warn():
    rows = [make_row(1, tracking_id="7"), make_row(2, tracking_id="1" * 15)]
    result = parse_export(to_csv(table(rows)), "lapor.csv")
    assert warnings_of(result, "ID Tracking") == []


def test_invisible_status_characters_are_shown_plainly():
    rows = [make_row(1, Status="\u200b"), make_row(2, Status="Proses\nSelesai")]
    result = parse_export(to_csv(table(rows)), "lapor.csv")
    reasons = [w.reason for w in warnings_of(result, "Status")]
    assert len(reasons) == 2
    assert reasons[0].startswith("Status “□” tidak dikenal")
    assert reasons[1].startswith("Status “Proses□Selesai” tidak dikenal")
    assert not any("\\u" in reason or "\\n" in reason for reason in reasons)


@pytest.mark.parametrize("status", ["Sedang Dibahas", "Selesai?", ""])
def test_unknown_or_empty_status_warns(status):
    rows = [make_row(1), make_row(2, Status=status)]
    result = parse_export(to_csv(table(rows)), "lapor.csv")
    assert len(result.records) == 2
    warnings = warnings_of(result, "Status")
    assert [w.row for w in warnings] == [3]
    assert "dihitung belum selesai" in warnings[0].reason
    assert "Belum Diverifikasi" in warnings[0].reason


@pytest.mark.parametrize(
    "status",
    [
        "Belum Diverifikasi",
        "belum ditindaklanjuti",
        "PROSES",
        "Ditunda",
        " Selesai ",
        "Belum  Diverifikasi",
        "Belum\xa0Ditindaklanjuti",
        "Diarsipkan",
        "Bukan Kewenangan",
    ],
)
def test_known_status_does_not_warn(status):
    result = parse_export(to_csv(table([make_row(1, Status=status)])), "lapor.csv")
    assert warnings_of(result, "Status") == []


def test_content_without_title_column_is_enough():
    headers = ["ID Tracking", "Tanggal Laporan", "Isi Laporan"]
    result = parse_export(to_csv([headers, ["1", "2026-11-05", "isi"]]), "a.csv")
    assert result.records[0].content == "isi"
    assert result.records[0].title == ""


# --- Dates ------------------------------------------------------------------

DATE_TEXTS = [
    ("2026-11-05", dt.datetime(2026, 11, 5)),
    ("2026-11-05 14:30", dt.datetime(2026, 11, 5, 14, 30)),
    ("2026-11-05 14:30:15", dt.datetime(2026, 11, 5, 14, 30, 15)),
    ("2026-11-05T14:30:15", dt.datetime(2026, 11, 5, 14, 30, 15)),
    ("2026-11-05T14:30:15.250", dt.datetime(2026, 11, 5, 14, 30, 15, 250000)),
    ("2026-11-05T07:30:00Z", dt.datetime(2026, 11, 5, 14, 30)),
    ("2026-11-05T14:30:00+07:00", dt.datetime(2026, 11, 5, 14, 30)),
    ("2026/11/05", dt.datetime(2026, 11, 5)),
    ("05/11/2026", dt.datetime(2026, 11, 5)),
    ("5/11/2026 9:05", dt.datetime(2026, 11, 5, 9, 5)),
    ("05/11/2026 14:30:15", dt.datetime(2026, 11, 5, 14, 30, 15)),
    ("05-11-2026", dt.datetime(2026, 11, 5)),
    ("05-11-2026 14:30", dt.datetime(2026, 11, 5, 14, 30)),
    ("05.11.2026 14.30", dt.datetime(2026, 11, 5, 14, 30)),
    ("5 November 2026 14:30", dt.datetime(2026, 11, 5, 14, 30)),
    ("05 Nov 2026", dt.datetime(2026, 11, 5)),
    ("5 Agustus 2026", dt.datetime(2026, 8, 5)),
    ("Kamis, 5 November 2026", dt.datetime(2026, 11, 5)),
    ("05-Nov-2026", dt.datetime(2026, 11, 5)),
    ("5 november 2026 pukul 14.30 WIB", dt.datetime(2026, 11, 5, 14, 30)),
    ("1 Jan 2026", dt.datetime(2026, 1, 1)),
    ("1 Feb 2026", dt.datetime(2026, 2, 1)),
    ("1 Mar 2026", dt.datetime(2026, 3, 1)),
    ("1 Apr 2026", dt.datetime(2026, 4, 1)),
    ("1 Mei 2026", dt.datetime(2026, 5, 1)),
    ("1 Jun 2026", dt.datetime(2026, 6, 1)),
    ("1 Jul 2026", dt.datetime(2026, 7, 1)),
    ("1 Agu 2026", dt.datetime(2026, 8, 1)),
    ("1 Agt 2026", dt.datetime(2026, 8, 1)),
    ("1 Sep 2026", dt.datetime(2026, 9, 1)),
    ("1 Okt 2026", dt.datetime(2026, 10, 1)),
    ("1 Nov 2026", dt.datetime(2026, 11, 1)),
    ("1 Des 2026", dt.datetime(2026, 12, 1)),
]


@pytest.mark.parametrize(("text", "expected"), DATE_TEXTS)
def test_date_text_formats(text, expected):
    assert parse_datetime_cell(text) == expected


@pytest.mark.parametrize(("text", "expected"), DATE_TEXTS[:20])
def test_date_text_formats_through_csv(text, expected):
    result = parse_export(to_csv(table([make_row(1, received=text)])), "a.csv")
    assert errors_of(result) == []
    assert result.records[0].received_at == expected


BAD_DATES = [
    "13/13/2026",
    "31/02/2026",
    "kemarin",
    "05/11/26",
    "2026-11-05 25:00",
    "5 Novembuari 2026",
    "2026-13-01",
    "1/1/1900",
    "11/05/2026/01",
    "74140751",
]


@pytest.mark.parametrize("text", BAD_DATES)
def test_unreadable_date_is_error_problem(text):
    rows = [make_row(1), make_row(2, received=text)]
    result = parse_export(to_csv(table(rows)), "a.csv")

    assert [r.tracking_id for r in result.records] == ["74140751"]
    problem = errors_of(result)[0]
    assert problem.row == 3
    assert problem.column == "Tanggal Laporan"
    assert problem.value == text
    assert "Gunakan" in problem.reason


def test_numbers_that_are_not_dates_rejected():
    result = parse_export(to_xlsx(table([make_row(1, received=74140751.0)])), "a.xlsx")
    assert result.records == []
    assert "bukan tanggal" in errors_of(result)[0].reason


def test_time_only_cell_rejected():
    with pytest.raises(ValueError, match="bukan tanggal"):
        parse_datetime_cell(dt.time(14, 30))


def test_empty_received_date_is_error():
    result = parse_export(to_csv(table([make_row(1, received="")])), "a.csv")
    assert errors_of(result)[0].reason.startswith("Tanggal laporan kosong")


def test_empty_finished_date_means_open():
    result = parse_export(to_csv(table([make_row(1)])), "a.csv")
    assert result.records[0].finished_at is None
    assert result.problems == []


def test_unreadable_finished_date_is_error():
    row = make_row(1, Status="Selesai", **{"Tanggal Selesai": "besok"})
    result = parse_export(to_csv(table([row])), "a.csv")
    assert result.records == []
    assert errors_of(result)[0].column == "Tanggal Selesai"


def test_finished_before_received_is_error():
    row = make_row(1, Status="Selesai", **{"Tanggal Selesai": "2026-11-01 08:00"})
    result = parse_export(to_csv(table([row])), "a.csv")
    assert result.records == []
    assert "lebih awal" in errors_of(result)[0].reason


def test_finished_status_without_date_warns():
    result = parse_export(to_csv(table([make_row(1, Status="Selesai")])), "a.csv")
    assert len(result.records) == 1
    assert not result.has_errors
    assert result.problems[0].severity == "warning"
    assert result.problems[0].column == "Tanggal Selesai"


# --- Flags ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ya", True),
        ("ya", True),
        ("Y", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        (1.0, True),
        (True, True),
        ("Tidak", False),
        ("T", False),
        ("false", False),
        ("0", False),
        (0.0, False),
        (False, False),
        ("", False),
        (None, False),
    ],
)
def test_flag_cell_values(value, expected):
    assert parse_flag_cell(value) is expected


def test_unreadable_flag_is_error_problem():
    row = make_row(1, Rahasia="mungkin")
    result = parse_export(to_csv(table([make_row(2), row])), "a.csv")
    assert [r.tracking_id for r in result.records] == ["74140752"]
    problem = errors_of(result)[0]
    assert (problem.row, problem.column, problem.value) == (3, "Rahasia", "mungkin")


def test_flags_from_xlsx_booleans():
    rows = [make_row(1, Anonim=True, Rahasia=1), make_row(2, Anonim=False, Rahasia=0)]
    result = parse_export(to_xlsx(table(rows)), "a.xlsx")
    flags = [(r.is_anonymous, r.is_confidential) for r in result.records]
    assert flags == [(True, True), (False, False)]


# --- Row problems -----------------------------------------------------------


def test_duplicate_tracking_ids_flag_later_rows():
    rows = [
        make_row(1, tracking_id="111"),
        make_row(2, tracking_id="222"),
        make_row(3, tracking_id="111"),
        make_row(4, tracking_id="111"),
    ]
    result = parse_export(to_csv(table(rows)), "a.csv")

    assert [r.tracking_id for r in result.records] == ["111", "222"]
    problems = errors_of(result)
    assert [p.row for p in problems] == [4, 5]
    assert all("baris 2" in p.reason for p in problems)


def test_empty_tracking_id_is_error():
    result = parse_export(to_csv(table([make_row(1, tracking_id=" ")])), "a.csv")
    assert result.records == []
    assert errors_of(result)[0].column == "ID Tracking"


def test_overlong_tracking_id_is_error():
    result = parse_export(to_csv(table([make_row(1, tracking_id="9" * 65)])), "a.csv")
    assert result.records == []
    assert "terlalu panjang" in errors_of(result)[0].reason


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_cell_of_100000_characters_rejects_row(fmt):
    long_text = "a" * 100_000
    if fmt == "xlsx":
        # openpyxl cuts text at Excel's limit, so the long cell is put in by hand.
        rows = [make_row(1), make_row(2, **{"Isi Laporan": "LONG-CELL"}), make_row(3)]
        data = rebuild_zip(
            to_xlsx(table(rows)),
            lambda name, content: content.replace(b"LONG-CELL", long_text.encode()),
        )
    else:
        rows = [make_row(1), make_row(2, **{"Isi Laporan": long_text}), make_row(3)]
        data = to_csv(table(rows))
    result = parse_export(data, f"a.{fmt}")

    assert [r.tracking_id for r in result.records] == ["74140751", "74140753"]
    problem = errors_of(result)[0]
    assert problem.row == 3
    assert problem.column == "Isi Laporan"
    assert "32.767" in problem.reason
    assert "100.000 karakter" in problem.reason
    assert MAX_CELL_CHARS == 32_767
    assert len(problem.value) <= 80


def test_row_with_several_problems_lists_each():
    row = make_row(1, received="kemarin", Anonim="?", **{"ID Tracking": ""})
    result = parse_export(to_csv(table([row, make_row(2)])), "a.csv")
    columns = sorted(p.column for p in errors_of(result))
    assert columns == ["Anonim", "ID Tracking", "Tanggal Laporan"]


# --- Whole-file errors ------------------------------------------------------


def test_empty_file_rejected():
    with pytest.raises(LaporImportError, match="kosong"):
        parse_export(b"", "kosong.xlsx")
    with pytest.raises(LaporImportError, match="kosong"):
        parse_export(b"\xef\xbb\xbf \r\n", "kosong.csv")


def test_file_over_limit_rejected_quickly():
    data = b"a" * (50 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(LaporImportError, match="melebihi batas 20 MB"):
        parse_export(data, "besar.csv")
    assert time.perf_counter() - started < 0.5


def test_max_bytes_argument_applies():
    data = to_csv(table(three_rows()))
    with pytest.raises(LaporImportError, match="melebihi"):
        parse_export(data, "a.csv", max_bytes=100)


PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@pytest.mark.parametrize(
    ("data", "name", "what"),
    [
        (PNG_HEADER, "laporan.xlsx", "PNG"),
        (PNG_HEADER, "laporan.csv", "PNG"),
        (b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n", "laporan.csv", "PDF"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "foto.xlsx", "JPEG"),
        (random.Random(7).randbytes(4096), "acak.csv", "biner"),
        (random.Random(8).randbytes(4096), "acak.xlsx", "biner"),
    ],
)
def test_not_a_spreadsheet_rejected(data, name, what):
    with pytest.raises(LaporImportError, match="bukan lembar kerja") as info:
        parse_export(data, name)
    assert what in str(info.value)


def test_word_document_rejected():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(LaporImportError, match="dokumen Word"):
        parse_export(out.getvalue(), "laporan.xlsx")


def test_old_xls_rejected_with_hint():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
    with pytest.raises(LaporImportError, match=r"\.xls"):
        parse_export(data, "laporan.xls")


def test_html_disguised_as_spreadsheet_rejected():
    with pytest.raises(LaporImportError, match="HTML"):
        parse_export(b"<html><table><tr><td>1</td></tr></table></html>", "a.xls")


def test_missing_required_columns_lists_missing_and_found():
    lines = [["No", "Judul", "Status"], ["1", "Jalan rusak", "Proses"]]
    with pytest.raises(LaporImportError) as info:
        parse_export(to_csv(lines), "a.csv")
    message = str(info.value)
    assert "ID Tracking" in message
    assert "Tanggal Laporan" in message
    assert "'No', 'Judul', 'Status'" in message


def test_missing_title_and_content_columns():
    lines = [
        ["ID Tracking", "Tanggal Laporan", "Status"],
        ["1", "2026-11-05", "Proses"],
    ]
    with pytest.raises(LaporImportError, match="Judul Laporan atau Isi Laporan"):
        parse_export(to_xlsx(lines), "a.xlsx")


def test_header_below_search_window_not_found():
    lines = [[f"judul {n}"] for n in range(25)] + table(three_rows())
    with pytest.raises(LaporImportError, match="Kolom wajib tidak ditemukan"):
        parse_export(to_csv(lines), "a.csv")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_header_without_data_rows_rejected(fmt):
    lines = table([]) + [[], [""] * len(HEADERS)]
    data = to_xlsx(lines) if fmt == "xlsx" else to_csv(lines)
    with pytest.raises(LaporImportError, match="tidak berisi baris data"):
        parse_export(data, f"a.{fmt}")


def test_corrupt_zip_truncated_rejected():
    data = to_xlsx(table(three_rows()))
    with pytest.raises(LaporImportError, match="rusak"):
        parse_export(data[: len(data) // 2], "a.xlsx")


def test_corrupt_zip_flipped_bytes_rejected():
    data = bytearray(to_xlsx(table(three_rows())))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + 10
    for offset in range(start, start + 20):
        data[offset] ^= 0x55
    with pytest.raises(LaporImportError, match="rusak"):
        parse_export(bytes(data), "a.xlsx")


def test_invalid_sheet_xml_rejected():
    def truncate_sheet(name, content):
        return content[: len(content) // 2] if name.endswith("sheet1.xml") else content

    data = rebuild_zip(to_xlsx(table(three_rows())), truncate_sheet)
    with pytest.raises(LaporImportError, match="rusak"):
        parse_export(data, "a.xlsx")


def test_zip_bomb_by_ratio_rejected():
    def add_padding(name, content):
        if name == "xl/worksheets/sheet1.xml":
            # 8 MB of one repeated byte compresses about 1000:1.
            return content.replace(
                b"</worksheet>", b"<!--" + b"a" * 8_000_000 + b"--></worksheet>"
            )
        return content

    data = rebuild_zip(to_xlsx(table(three_rows())), add_padding)
    assert len(data) < 100_000
    with pytest.raises(LaporImportError, match="rasio kompresi"):
        parse_export(data, "bom.xlsx")


def test_zip_bomb_by_declared_total_rejected():
    data = to_xlsx(table(three_rows()))
    data = patch_central_size(data, "xl/worksheets/sheet1.xml", 300 * 1024 * 1024)
    with pytest.raises(LaporImportError, match="batas 200 MB"):
        parse_export(data, "bom.xlsx")


def test_member_larger_than_declared_rejected():
    data = to_xlsx(table(three_rows()))
    real = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml")
    data = patch_central_size(data, "xl/worksheets/sheet1.xml", real.file_size - 100)
    with pytest.raises(LaporImportError, match="tidak sesuai"):
        parse_export(data, "bohong.xlsx")


def test_sheet_spanning_whole_grid_rejected():
    # Two cells far apart make calamine allocate 17 billion cells.
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "ID Tracking"
    workbook.active["XFD1048576"] = "x"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(LaporImportError, match="batas 2.000.000 sel"):
        parse_export(buffer.getvalue(), "luas.xlsx")


def test_sheet_extent_counts_cells_without_reference():
    # Cells without r="..." follow the previous cell, as calamine places them.
    wide_row = b'<row r="200000">' + b"<c><v>1</v></c>" * 20 + b"</row>"

    def add_row(name, content):
        if name == "xl/worksheets/sheet1.xml":
            return content.replace(b"</sheetData>", wide_row + b"</sheetData>")
        return content

    data = rebuild_zip(to_xlsx(table(three_rows())), add_row)
    with pytest.raises(LaporImportError, match="200.000 baris × 20 kolom"):
        parse_export(data, "lebar.xlsx")


def test_password_protected_member_rejected():
    data = bytearray(to_xlsx(table(three_rows())))
    position = data.find(b"PK\x01\x02")
    while position != -1:
        data[position + 8] |= 0x1  # general purpose flag: encrypted
        position = data.find(b"PK\x01\x02", position + 4)
    with pytest.raises(LaporImportError, match="kata sandi"):
        parse_export(bytes(data), "sandi.xlsx")


def test_unbalanced_quote_in_csv_handled():
    text = to_csv(table(three_rows())) + b'4,"99,2026-11-05,' + b"x" * 200_000 + b"\n"
    with pytest.raises(LaporImportError, match="CSV"):
        parse_export(text, "a.csv")


def test_mutated_inputs_raise_only_import_error():
    base_xlsx = to_xlsx(table(three_rows()))
    base_csv = to_csv(table(three_rows()))
    generator = random.Random(2026)
    for _ in range(60):
        for base, name in ((base_xlsx, "a.xlsx"), (base_csv, "a.csv")):
            data = bytearray(base)
            for _ in range(generator.randint(1, 8)):
                data[generator.randrange(len(data))] = generator.randrange(256)
            try:
                result = parse_export(bytes(data), name)
            except LaporImportError as exc:
                assert str(exc)
            else:
                assert isinstance(result, ParseResult)


def test_mutated_sheet_xml_raises_only_import_error():
    base = to_xlsx(table(three_rows()))
    generator = random.Random(17)
    for _ in range(40):

        def mutate(name, content):
            if not name.endswith("sheet1.xml"):
                return content
            data = bytearray(content)
            for _ in range(generator.randint(1, 6)):
                data[generator.randrange(len(data))] = generator.choice(b'<>/"=ab1 ')
            return bytes(data)

        try:
            parse_export(rebuild_zip(base, mutate), "a.xlsx")
        except LaporImportError as exc:
            assert str(exc)


def test_library_panic_becomes_import_error(monkeypatch):
    class PanicException(BaseException):  # same name as pyo3's panic type
        pass

    def panic(data, filename):
        raise PanicException("index out of bounds")

    monkeypatch.setattr(lapor, "_parse", panic)
    with pytest.raises(LaporImportError, match="tidak dapat dibaca"):
        parse_export(b"ID Tracking", "a.xlsx")


def test_keyboard_interrupt_not_swallowed(monkeypatch):
    def interrupt(data, filename):
        raise KeyboardInterrupt

    monkeypatch.setattr(lapor, "_parse", interrupt)
    with pytest.raises(KeyboardInterrupt):
        parse_export(b"ID Tracking", "a.xlsx")


# --- Sample export ----------------------------------------------------------


@pytest.fixture(scope="module")
def sample_expected():
    path = FIXTURES / "lapor-2026-11.expected.json"
    if not path.exists():
        pytest.skip(f"sample export not found in {FIXTURES}")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["lapor-2026-11.xlsx", "lapor-2026-11.csv"])
def test_sample_export_parses(name, sample_expected):
    result = parse_export((FIXTURES / name).read_bytes(), name)

    assert len(result.records) == sample_expected["rows_total"] == 260
    assert errors_of(result) == []
    assert result.data_rows == 260
    confidential = sorted(r.tracking_id for r in result.records if r.is_confidential)
    assert confidential == sorted(sample_expected["secret_tracking_ids"])

    stats = compute_statistics(result.records, Period.parse(sample_expected["period"]))
    assert stats.total_received == sample_expected["received_in_period"] == 247
    assert dict(stats.by_status) == sample_expected["by_status_received_in_period"]
    assert dict(stats.by_category) == sample_expected["by_category_received_in_period"]
    assert dict(stats.by_channel) == sample_expected["by_channel_received_in_period"]
    assert stats.reconciliation.balanced


def test_sample_formats_give_same_records(sample_expected):
    xlsx = parse_export((FIXTURES / "lapor-2026-11.xlsx").read_bytes(), "a.xlsx")
    text = parse_export((FIXTURES / "lapor-2026-11.csv").read_bytes(), "a.csv")
    assert xlsx.records == text.records
    assert re.fullmatch(r"[0-9a-f]{64}", xlsx.sha256)
