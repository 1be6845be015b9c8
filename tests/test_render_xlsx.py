import datetime as dt
import re
import zipfile
from io import BytesIO

import openpyxl
import pytest

from sigrekap.domain import (
    ComplaintRecord,
    HistoryEntry,
    OfficeProfile,
    Period,
    RecapDocumentInfo,
)
from sigrekap.render_xlsx import needs_text_guard, render_recap_workbook
from sigrekap.stats import compute_statistics

PERIOD = Period(2026, 11)
GENERATED_AT = dt.datetime(2026, 12, 4, 9, 30)
REPORTER_NAMES = ["Sutarmi Wulandari", "Kusnadi Prawiro"]
REPORTER_CONTACT = "081299887766"
SECRET_TITLE = "Dugaan pungli oknum petugas loket"
SECRET_CONTENT = "Nama oknum dan lokasi kejadian"
# Each of these would become a formula, or could on a later edit, if it were
# not stored as text.
INJECTIONS = [
    "=1+1",
    '=HYPERLINK("http://127.0.0.1/x","klik")',
    "+62 812 3456",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "=cmd|' /C calc'!A0",
]

OFFICE = OfficeProfile(
    letterhead_lines=(
        "PEMERINTAH KABUPATEN GRESIK",
        "DINAS KOMUNIKASI DAN INFORMATIKA",
    ),
    address="Jl. Dr. Wahidin Sudirohusodo No. 245, Gresik",
    name="Dinas Komunikasi dan Informatika",
)
INFO = RecapDocumentInfo(
    number="000.2.3/123/437.72/2026",
    period=PERIOD,
    verification_code="K7QX-9M2P",
    verification_url="https://sigrekap.example.go.id/verifikasi/K7QX-9M2P",
    generated_at=GENERATED_AT,
)
HISTORY = [
    HistoryEntry(dt.datetime(2026, 12, 4, 9, 35), "Admin Satu", "admin", "submit"),
    HistoryEntry(
        dt.datetime(2026, 12, 4, 11, 0),
        "Dewi Anggraini",
        "kasi",
        "reject",
        "=Data kanal belum lengkap",
    ),
    HistoryEntry(dt.datetime(2026, 12, 5, 8, 0), "Dewi Anggraini", "kasi", "paraf"),
]


def make_complaints():
    statuses = ["Selesai", "Proses", "Belum Ditindaklanjuti"]
    complaints = []
    for index in range(30):
        received = dt.datetime(2026, 11, 1, 8) + dt.timedelta(hours=20 * index)
        status = statuses[index % len(statuses)]
        complaints.append(
            ComplaintRecord(
                tracking_id=str(60_000_000 + index),
                received_at=received,
                title=f"Lampu jalan mati di blok {index}",
                content="Mohon segera ditindaklanjuti.",
                classification="Pengaduan",
                category=["Infrastruktur", "Kesehatan"][index % 2],
                channel=["Website", "SMS 1708", "Aplikasi Mobile"][index % 3],
                unit=["Dinas Kesehatan", "RSUD Ibnu Sina"][index % 2],
                status=status,
                finished_at=received + dt.timedelta(days=1)
                if status == "Selesai"
                else None,
                reporter_name=REPORTER_NAMES[index % 2],
                reporter_contact=REPORTER_CONTACT,
            )
        )
    for complaint, text in zip(complaints[10:], INJECTIONS):
        complaint.title = text
    complaints[3].title = SECRET_TITLE
    complaints[3].content = SECRET_CONTENT
    complaints[3].is_confidential = True
    complaints[4].is_anonymous = True
    complaints[5].title = "Kabel \x00putus\x07 di tiang"
    complaints.append(
        ComplaintRecord(
            tracking_id="59999999",
            received_at=dt.datetime(2026, 10, 20, 9),
            title="Jembatan desa retak sejak bulan lalu",
            status="Proses",
            reporter_name=REPORTER_NAMES[0],
        )
    )
    return complaints


@pytest.fixture(scope="module")
def stats():
    return compute_statistics(make_complaints(), PERIOD)


@pytest.fixture(scope="module")
def data(stats):
    return render_recap_workbook(INFO, OFFICE, stats, HISTORY)


@pytest.fixture(scope="module")
def workbook(data):
    return openpyxl.load_workbook(BytesIO(data))


def label_values(sheet):
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row[0]}


def complaint_rows(workbook):
    sheet = workbook["Pengaduan"]
    header = [cell.value for cell in sheet[1]]
    return header, [
        dict(zip(header, row)) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]


def test_workbook_sheet_names(workbook):
    assert workbook.sheetnames == [
        "Ringkasan",
        "Statistik",
        "Pengaduan",
        "Riwayat Persetujuan",
    ]


def test_summary_sheet_figures(workbook, stats):
    values = label_values(workbook["Ringkasan"])
    assert workbook["Ringkasan"]["A1"].value == (
        "REKAPITULASI PENGADUAN MASYARAKAT MELALUI SP4N-LAPOR!"
    )
    assert values["Instansi"] == "Dinas Komunikasi dan Informatika"
    assert values["Nomor"] == "000.2.3/123/437.72/2026"
    assert values["Periode"] == "November 2026"
    assert values["Kode verifikasi"] == "K7QX-9M2P"
    assert values["Dibuat pada"] == GENERATED_AT
    assert values["Jumlah pengaduan diterima"] == 30
    assert values["Pengaduan selesai"] == stats.finished_count
    assert values["Persentase pengaduan selesai"] == pytest.approx(stats.finished_share)
    assert values["Pengaduan periode sebelumnya yang ditangani"] == 1


def test_statistics_sheet_tables_and_charts(workbook, stats):
    sheet = workbook["Statistik"]
    rows = list(sheet.iter_rows(values_only=True))
    assert ("Rekapitulasi per Status", None, None) == rows[0][:3]
    assert rows[1][:3] == ("Status", "Jumlah", "Persentase")
    status_rows = {row[0]: row[1] for row in rows[2 : 2 + len(stats.by_status)]}
    assert status_rows == dict(stats.by_status)
    per_day = [row for row in rows if isinstance(row[0], dt.datetime)]
    assert len(per_day) == 30
    assert sum(row[1] for row in per_day) == 30
    assert len(sheet._charts) == 5


def test_complaint_sheet_layout(workbook):
    sheet = workbook["Pengaduan"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:O{sheet.max_row}"
    assert sheet.max_row == 1 + 30 + 1
    assert sheet.column_dimensions["E"].width >= 30


def test_complaint_sheet_rows(workbook):
    header, rows = complaint_rows(workbook)
    assert header[:5] == [
        "Kelompok",
        "No",
        "ID Tracking",
        "Tanggal Laporan",
        "Judul Laporan",
    ]
    groups = [row["Kelompok"] for row in rows]
    assert groups.count("Diterima periode ini") == 30
    assert groups.count("Periode sebelumnya") == 1
    carried = next(row for row in rows if row["ID Tracking"] == "59999999")
    assert carried["Kelompok"] == "Periode sebelumnya"
    first = rows[0]
    assert first["Tanggal Laporan"] == dt.datetime(2026, 11, 1, 8)
    assert first["Tanggal Selesai"] == dt.datetime(2026, 11, 2, 8)
    anonymous = next(row for row in rows if row["ID Tracking"] == "60000004")
    assert anonymous["Anonim"] == "Ya"
    cleaned = next(row for row in rows if row["ID Tracking"] == "60000005")
    assert cleaned["Judul Laporan"] == "Kabel putus di tiang"


def test_complaint_dates_are_excel_datetimes(workbook):
    cell = workbook["Pengaduan"]["D2"]
    assert cell.data_type == "d"
    assert isinstance(cell.value, dt.datetime)
    assert "yyyy" in cell.number_format


def test_confidential_complaint_hidden(workbook):
    _header, rows = complaint_rows(workbook)
    secret = next(row for row in rows if row["ID Tracking"] == "60000003")
    assert secret["Judul Laporan"] == "(Rahasia)"
    assert secret["Isi Laporan"] == "(Rahasia)"
    assert secret["Rahasia"] == "Ya"
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            assert SECRET_TITLE not in row
            assert SECRET_CONTENT not in row


def test_no_reporter_identity_anywhere(workbook, data):
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                text = str(value)
                for name in REPORTER_NAMES:
                    assert name not in text, (sheet.title, value)
                assert REPORTER_CONTACT not in text, (sheet.title, value)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for member in archive.namelist():
            raw = archive.read(member)
            for name in REPORTER_NAMES:
                assert name.encode() not in raw, member
            assert REPORTER_CONTACT.encode() not in raw, member


@pytest.mark.parametrize("text", INJECTIONS)
def test_formula_like_text_stays_text(workbook, text):
    sheet = workbook["Pengaduan"]
    cells = [row[4] for row in sheet.iter_rows(min_row=2) if row[4].value == text]
    assert len(cells) == 1
    assert cells[0].data_type == "s"
    assert cells[0].quotePrefix


def test_sheets_contain_no_formula_elements(data):
    with zipfile.ZipFile(BytesIO(data)) as archive:
        sheets = [
            name
            for name in archive.namelist()
            if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name)
        ]
        assert len(sheets) == 4
        for name in sheets:
            xml = archive.read(name).decode()
            assert re.search(r"<f[ >/]", xml) is None, name


def test_history_sheet_rows(workbook):
    sheet = workbook["Riwayat Persetujuan"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Waktu", "Nama", "Peran", "Tindakan", "Alasan")
    assert rows[1][:4] == (
        dt.datetime(2026, 12, 4, 9, 35),
        "Admin Satu",
        "Admin",
        "Diajukan",
    )
    assert rows[2][2:] == ("Kepala Seksi", "Ditolak", "=Data kanal belum lengkap")
    assert sheet["E3"].data_type == "s"
    assert rows[3][3] == "Paraf"
    assert sheet.freeze_panes == "A2"


def test_workbook_bytes_are_deterministic(data, stats):
    again = render_recap_workbook(INFO, OFFICE, stats, HISTORY)
    assert again == data


def test_workbook_metadata_uses_generation_time(workbook):
    assert workbook.properties.created == GENERATED_AT
    assert workbook.properties.modified == GENERATED_AT
    assert workbook.properties.creator == "SigRekap"


def test_empty_period_workbook():
    stats = compute_statistics([], PERIOD)
    workbook = openpyxl.load_workbook(
        BytesIO(render_recap_workbook(INFO, OFFICE, stats, []))
    )
    values = label_values(workbook["Ringkasan"])
    assert values["Jumlah pengaduan diterima"] == 0
    assert values["Median lama penyelesaian (hari)"] is None
    assert workbook["Pengaduan"].max_row == 1
    assert workbook["Riwayat Persetujuan"].max_row == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1", True),
        ("  @x", True),
        ("\t1", True),
        ("-", True),
        ("Jalan rusak", False),
        ("", False),
        ("50% selesai", False),
    ],
)
def test_needs_text_guard(text, expected):
    assert needs_text_guard(text) is expected
