import datetime as dt
import re
import shutil
import subprocess
from io import BytesIO

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from reportlab.pdfbase.pdfmetrics import stringWidth

from sigrekap.charts import all_charts, drawing_to_svg, register_fonts, shorten
from sigrekap.domain import (
    SIGNATURE_FIELDS,
    WORKBOOK_ATTACHMENT_NAME,
    Approver,
    ComplaintRecord,
    OfficeProfile,
    Period,
    RecapDocumentInfo,
)
from sigrekap.render_pdf import render_recap_pdf, signature_boxes, wrap_lines
from sigrekap.stats import compute_statistics

PERIOD = Period(2026, 11)
REPORTER_NAMES = ["Sutarmi Wulandari", "Kusnadi Prawiro", "Yohanes Tumbelaka"]
REPORTER_CONTACT = "081299887766"
SECRET_TITLE = "Dugaan pungli oknum petugas loket"
UNICODE_TITLE = "Ünïcödé — ‘kutip’ ©"
LONG_TITLE = "Keluhan saluran air tersumbat " * 120
NUMBER = "000.2.3/123/437.72/2026"
CODE = "K7QX-9M2P"
URL = "https://sigrekap.example.go.id/verifikasi/K7QX-9M2P"
WORKBOOK = b"PK\x03\x04 stand-in workbook bytes \x00\xff" * 50

# `make setup` installs poppler-utils, so a missing tool is a failure, not a skip.
needs_poppler = pytest.mark.usefixtures("_require_poppler")


@pytest.fixture
def _require_poppler():
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        pytest.fail("poppler-utils (pdftotext, pdftoppm) is missing; run `make setup`")


def make_complaints(count=90):
    categories = ["Infrastruktur", "Kesehatan", "Pendidikan", "Perhubungan"]
    channels = ["Website", "SMS 1708", "Aplikasi Mobile"]
    units = [
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        "Dinas Kesehatan",
        "RSUD Ibnu Sina",
    ]
    statuses = ["Selesai", "Proses", "Belum Ditindaklanjuti", "Diarsipkan"]
    complaints = []
    for index in range(count):
        received = dt.datetime(2026, 11, 1, 8) + dt.timedelta(hours=7 * index)
        status = statuses[index % len(statuses)]
        finished = received + dt.timedelta(days=2) if status == "Selesai" else None
        complaints.append(
            ComplaintRecord(
                tracking_id=str(50_000_000 + index),
                received_at=received,
                title=f"Lampu penerangan jalan mati di Desa Sukorejo blok {index}",
                content="Mohon segera ditindaklanjuti.",
                category=categories[index % len(categories)],
                channel=channels[index % len(channels)],
                unit=units[index % len(units)],
                status=status,
                finished_at=finished,
                reporter_name=REPORTER_NAMES[index % len(REPORTER_NAMES)],
                reporter_contact=REPORTER_CONTACT,
            )
        )
    complaints[1].title = UNICODE_TITLE
    complaints[2].title = LONG_TITLE
    complaints[3].title = SECRET_TITLE
    complaints[3].content = "Isi rahasia"
    complaints[3].is_confidential = True
    complaints[4].is_anonymous = True
    complaints[4].reporter_name = None
    # DejaVu Sans has no glyph for these; they must not stop the rendering.
    complaints[5].title = "Jalan rusak 😀 中文 \x07 selesai"
    # Without the cut to MAX_CELL_CHARS this row would be taller than a page.
    complaints[6].unit = "Dinas" + "X" * 5000
    complaints[6].category = "https://lapor.example/" + "k" * 400
    # Received in October, still open: carried over into November.
    complaints.append(
        ComplaintRecord(
            tracking_id="49999999",
            received_at=dt.datetime(2026, 10, 20, 9),
            title="Jembatan desa retak sejak bulan lalu",
            category="Infrastruktur",
            channel="Website",
            unit="Dinas Pekerjaan Umum dan Penataan Ruang",
            status="Proses",
            reporter_name=REPORTER_NAMES[0],
        )
    )
    return complaints


OFFICE = OfficeProfile(
    letterhead_lines=(
        "PEMERINTAH KABUPATEN GRESIK",
        "DINAS KOMUNIKASI DAN INFORMATIKA",
    ),
    address="Jl. Dr. Wahidin Sudirohusodo No. 245, Gresik 61161",
    name="Dinas Komunikasi dan Informatika",
    city="Gresik",
)
INFO = RecapDocumentInfo(
    number=NUMBER,
    period=PERIOD,
    verification_code=CODE,
    verification_url=URL,
    generated_at=dt.datetime(2026, 12, 4, 9, 30),
)
APPROVERS = [
    Approver(
        "kasi", "Dewi Anggraini, S.Kom.", "Kepala Seksi Statistik", "198503122010012003"
    ),
    Approver(
        "kabid", "Bambang Sutrisno, M.T.", "Kepala Bidang IKP", "197801052005011002"
    ),
    Approver(
        "kadis",
        "Siti Aminah, M.Si.",
        "Kepala Dinas Komunikasi dan Informatika",
        "197203141998032004",
    ),
]


def pdf_text(path, page=None):
    args = ["pdftotext", "-layout"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    result = subprocess.run(
        [*args, str(path), "-"], capture_output=True, check=True, text=True
    )
    return result.stdout


def squeeze(text):
    return " ".join(text.split())


def page_count(pdf):
    return int(PdfFileReader(BytesIO(pdf)).root["/Pages"]["/Count"])


@pytest.fixture(scope="module")
def stats():
    return compute_statistics(make_complaints(), PERIOD)


@pytest.fixture(scope="module")
def pdf(stats):
    return render_recap_pdf(INFO, OFFICE, stats, APPROVERS, workbook=WORKBOOK)


@pytest.fixture(scope="module")
def pdf_path(pdf, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "recap.pdf"
    path.write_bytes(pdf)
    return path


@needs_poppler
def test_pdf_prints_letterhead_title_and_identity(pdf_path):
    text = squeeze(pdf_text(pdf_path))
    assert "PEMERINTAH KABUPATEN GRESIK" in text
    assert "DINAS KOMUNIKASI DAN INFORMATIKA" in text
    assert "Jl. Dr. Wahidin Sudirohusodo No. 245" in text
    assert "REKAPITULASI PENGADUAN MASYARAKAT MELALUI SP4N-LAPOR!" in text
    assert "Periode November 2026" in text
    assert f"Nomor: {NUMBER}" in text


@needs_poppler
def test_pdf_prints_summary_and_table_headings(pdf_path):
    text = squeeze(pdf_text(pdf_path))
    for heading in (
        "A. Ringkasan",
        "Jumlah pengaduan diterima",
        "Persentase pengaduan selesai",
        "Median lama penyelesaian",
        "B. Rekapitulasi per Status",
        "C. Rekapitulasi per Kategori",
        "D. Rekapitulasi per Kanal (Sumber)",
        "E. Rekapitulasi per Instansi Tujuan",
        "G. Pengaduan dari Periode Sebelumnya yang Ditangani",
        "H. Pengaduan Belum Selesai Lebih dari 14 Hari",
        "I. Daftar Pengaduan yang Diterima pada November 2026",
    ):
        assert heading in text, heading


@needs_poppler
def test_pdf_prints_charts(pdf_path, stats):
    text = squeeze(pdf_text(pdf_path))
    for title, _drawing in all_charts(stats):
        assert title in text, title
    assert "Tanggal (November 2026)" in text


@needs_poppler
def test_pdf_lists_carried_over_complaint(pdf_path):
    text = squeeze(pdf_text(pdf_path))
    carried_section = text.split("G. Pengaduan dari Periode Sebelumnya")[1]
    carried_section = carried_section.split("H. Pengaduan Belum Selesai")[0]
    assert "49999999" in carried_section
    assert "20/10/2026" in carried_section


@needs_poppler
def test_pdf_footer_on_every_page(pdf, pdf_path):
    pages = page_count(pdf)
    assert pages >= 3
    for page in range(1, pages + 1):
        text = squeeze(pdf_text(pdf_path, page))
        assert f"Halaman {page} dari {pages}" in text, page
        assert f"Nomor: {NUMBER}" in text, page
        assert f"Kode verifikasi: {CODE}" in text, page
        assert URL in text, page


@needs_poppler
def test_pdf_repeats_list_header_on_next_page(pdf, pdf_path):
    pages = page_count(pdf)
    start = next(
        page
        for page in range(1, pages + 1)
        if "I. Daftar Pengaduan" in pdf_text(pdf_path, page)
    )
    assert start < pages
    next_page = squeeze(pdf_text(pdf_path, start + 1))
    assert "I. Daftar Pengaduan" not in next_page
    # "ID Tracking" wraps inside its header cell, so look for each word.
    for heading in ("Tracking", "Judul", "Kategori", "Instansi Tujuan", "Status"):
        assert heading in next_page, heading


@needs_poppler
def test_pdf_never_prints_reporter_identity(pdf, pdf_path):
    text = pdf_text(pdf_path)
    for name in REPORTER_NAMES:
        assert name not in text
        assert name.encode() not in pdf
        assert name.encode("utf-16-be") not in pdf
    assert REPORTER_CONTACT not in text
    assert REPORTER_CONTACT.encode() not in pdf


@needs_poppler
def test_pdf_hides_confidential_title(pdf_path):
    text = squeeze(pdf_text(pdf_path))
    assert SECRET_TITLE not in text
    assert "Isi rahasia" not in text
    assert "50000003 " in text
    assert "(Rahasia)" in text.split("50000003", 1)[1][:40]


@needs_poppler
def test_pdf_keeps_unicode_and_cuts_long_title(pdf_path):
    text = squeeze(pdf_text(pdf_path))
    assert UNICODE_TITLE in text
    assert "Keluhan saluran air tersumbat Keluhan" in text
    assert text.count("Keluhan saluran air tersumbat") < 120
    assert "…" in text


@needs_poppler
def test_pdf_prints_signature_block(pdf, pdf_path):
    last = squeeze(pdf_text(pdf_path, page_count(pdf)))
    assert "Gresik, 4 Desember 2026" in last
    assert "Kepala Dinas Komunikasi dan Informatika" in last
    assert "Paraf Kepala Seksi Statistik" in last
    assert "Paraf Kepala Bidang IKP" in last
    for approver in APPROVERS:
        assert approver.name in last
        assert f"NIP. {approver.nip}" in last


def test_signature_fields_are_empty_on_last_page(pdf):
    reader = PdfFileReader(BytesIO(pdf))
    fields = {name: value for name, value, _ref in enumerate_sig_fields(reader)}
    assert set(fields) == set(SIGNATURE_FIELDS.values())
    assert all(value is None for value in fields.values())

    last_page = page_count(pdf) - 1
    boxes = signature_boxes(pdf)
    assert set(boxes) == set(SIGNATURE_FIELDS.values())
    for name, (page, (x1, y1, x2, y2)) in boxes.items():
        assert page == last_page, name
        assert 0 < x1 < x2 < 595.3, name
        assert 0 < y1 < y2 < 841.9, name


def test_signature_field_sizes(pdf):
    boxes = signature_boxes(pdf)
    cm = 72 / 2.54
    for role, (width, height) in {
        "kasi": (4.5, 2.2),
        "kabid": (4.5, 2.2),
        "kadis": (7, 3.5),
    }.items():
        _page, (x1, y1, x2, y2) = boxes[SIGNATURE_FIELDS[role]]
        assert x2 - x1 == pytest.approx(width * cm, abs=0.5), role
        assert y2 - y1 == pytest.approx(height * cm, abs=0.5), role
    kasi = boxes[SIGNATURE_FIELDS["kasi"]][1]
    kabid = boxes[SIGNATURE_FIELDS["kabid"]][1]
    kadis = boxes[SIGNATURE_FIELDS["kadis"]][1]
    # Side by side, left to right, without overlap, sharing one bottom line.
    assert kasi[2] < kabid[0]
    assert kabid[2] < kadis[0]
    assert kasi[1] == pytest.approx(kabid[1]) == pytest.approx(kadis[1])


@needs_poppler
def test_signature_fields_cover_drawn_boxes(pdf, pdf_path, tmp_path):
    scale = 2  # pixels per point at 144 dpi
    last = page_count(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "144", "-gray", "-png", "-f", str(last), "-l", str(last)]
        + ["-singlefile", str(pdf_path), str(tmp_path / "last")],
        check=True,
    )
    image = Image.open(tmp_path / "last.png").convert("L")
    height = image.height
    for name, (_page, (x1, y1, x2, y2)) in signature_boxes(pdf).items():
        left, right = round(x1 * scale), round(x2 * scale)
        top, bottom = height - round(y2 * scale), height - round(y1 * scale)
        # The dashed frame lies on the field's edges...
        top_edge = [
            image.getpixel((x, top + dy))
            for x in range(left, right)
            for dy in (-1, 0, 1)
        ]
        assert sum(p < 200 for p in top_edge) > (right - left) * 0.3, name
        left_edge = [
            image.getpixel((left + dx, y))
            for y in range(top, bottom)
            for dx in (-1, 0, 1)
        ]
        assert sum(p < 200 for p in left_edge) > (bottom - top) * 0.3, name
        # ...and nothing else is printed inside it.
        inside = image.crop((left + 4, top + 4, right - 4, bottom - 4))
        assert min(inside.tobytes()) > 240, name


def test_pdf_embeds_workbook_unchanged(pdf):
    reader = PdfFileReader(BytesIO(pdf))
    names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == WORKBOOK_ATTACHMENT_NAME
    spec = names[1]
    assert spec["/UF"] == WORKBOOK_ATTACHMENT_NAME
    stream = spec["/EF"]["/F"]
    assert stream["/Subtype"] == (
        "/application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert stream.data == WORKBOOK


def test_pdf_without_workbook_has_no_attachment(stats):
    pdf = render_recap_pdf(INFO, OFFICE, stats, APPROVERS)
    reader = PdfFileReader(BytesIO(pdf))
    assert "/Names" not in reader.root
    assert len(signature_boxes(pdf)) == 3


@needs_poppler
def test_pdf_renders_every_page_to_png(pdf, pdf_path, tmp_path):
    result = subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf_path), str(tmp_path / "page")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(list(tmp_path.glob("page-*.png"))) == page_count(pdf)


@needs_poppler
def test_pdf_renders_empty_period(tmp_path):
    stats = compute_statistics([], PERIOD)
    pdf = render_recap_pdf(INFO, OFFICE, stats, [])
    path = tmp_path / "empty.pdf"
    path.write_bytes(pdf)
    text = squeeze(pdf_text(path))
    assert "Tidak ada data untuk periode ini" in text
    assert "Tidak ada." in text
    # Without approvers the names and NIPs are left as dotted lines.
    assert "NIP. ....." in text
    assert len(signature_boxes(pdf)) == 3


@needs_poppler
def test_pdf_prints_logo(tmp_path):
    logo = BytesIO()
    Image.new("RGB", (60, 60), (200, 30, 30)).save(logo, format="PNG")
    office = OfficeProfile(
        letterhead_lines=OFFICE.letterhead_lines,
        address=OFFICE.address,
        name=OFFICE.name,
        logo_png=logo.getvalue(),
    )
    stats = compute_statistics(make_complaints(8), PERIOD)
    path = tmp_path / "logo.pdf"
    path.write_bytes(render_recap_pdf(INFO, office, stats, APPROVERS))
    subprocess.run(
        ["pdftoppm", "-r", "36", "-png", "-f", "1", "-l", "1", "-singlefile"]
        + [str(path), str(tmp_path / "first")],
        check=True,
    )
    pixels = Image.open(tmp_path / "first.png").convert("RGB").tobytes()
    reds = [
        pixels[i : i + 3]
        for i in range(0, len(pixels), 3)
        if pixels[i] > 150 and pixels[i + 1] < 80 and pixels[i + 2] < 80
    ]
    assert len(reds) > 50


def test_pdf_ignores_broken_logo(stats):
    office = OfficeProfile(
        letterhead_lines=OFFICE.letterhead_lines,
        address=OFFICE.address,
        name=OFFICE.name,
        # A PNG signature followed by garbage: the header check alone passes.
        logo_png=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    )
    pdf = render_recap_pdf(INFO, office, compute_statistics([], PERIOD), APPROVERS)
    assert pdf.startswith(b"%PDF-")


def test_wrap_lines_breaks_long_words():
    font = register_fonts().regular
    lines = wrap_lines("Jalan " + "x" * 200 + " rusak", 80, font, 7.5).split("\n")
    assert len(lines) > 3
    assert lines[0] == "Jalan"
    assert lines[-1].endswith("rusak")
    assert "".join(lines).replace(" ", "") == "Jalan" + "x" * 200 + "rusak"
    for line in lines:
        assert stringWidth(line, font, 7.5) <= 80


def test_shorten_adds_ellipsis():
    font = register_fonts().regular
    long_label = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Gresik"
    short = shorten(long_label, 80, font, 7.5)
    assert short.endswith("…")
    assert long_label.startswith(short[:-1])
    assert shorten("Sosial", 80, font, 7.5) == "Sosial"


def test_chart_svg_escapes_labels():
    stats = compute_statistics(make_complaints(10), PERIOD)
    stats.by_category = [("<script>alert(1)</script>", 3), ("Kesehatan", 2)]
    svgs = [drawing_to_svg(drawing, title) for title, drawing in all_charts(stats)]
    category_svg = svgs[1]
    assert category_svg.startswith("<svg")
    assert "<script>" not in category_svg
    assert "&lt;script&gt;" in category_svg
    clip_ids = [re.search(r'id="(clip-[0-9a-f]+)"', svg).group(1) for svg in svgs]
    assert len(set(clip_ids)) == len(svgs)


def test_charts_handle_no_data():
    stats = compute_statistics([], PERIOD)
    stats.per_day = []
    for title, drawing in all_charts(stats):
        svg = drawing_to_svg(drawing, title)
        assert "Tidak ada data untuk periode ini" in svg, title
