"""The whole monthly procedure in Chromium, as the demo users would click it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from .browser_helpers import (
    FIXTURES,
    PageAudit,
    StepShots,
    lapor_csv,
    login,
    logout,
)

pytestmark = pytest.mark.e2e

LAPOR_XLSX = FIXTURES / "lapor-2026-11.xlsx"
EXPECTED = FIXTURES / "lapor-2026-11.expected.json"
REJECT_REASON = "Kategori Perhubungan tertukar dengan Infrastruktur; mohon diperiksa."
# From choosing the export to sending the draft to the Section Head.
MAX_ADMIN_CLICKS = 6


class CountingUser:
    """Clicks and file choices made through it are counted."""

    def __init__(self) -> None:
        self.actions = 0

    def click(self, target: Locator) -> None:
        self.actions += 1
        target.click()

    def choose_file(self, target: Locator, path: Path) -> None:
        self.actions += 1
        target.set_input_files(str(path))


def status_badge(page: Page) -> Locator:
    return page.locator("section.card").first.locator(".badge")


def open_with_keyboard(page: Page, button: Locator, dialog_id: str) -> Locator:
    """Focus a dialog's opener, press Enter and return the open dialog."""
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator(f"dialog#{dialog_id}")
    expect(dialog).to_have_attribute("open", "")
    return dialog


def open_recap_from_inbox(page: Page, period: str) -> None:
    page.locator(".inbox").get_by_role("link", name=re.compile(period)).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rekapitulasi")


def download(page: Page, link: Locator, target: Path) -> bytes:
    with page.expect_download() as info:
        link.click()
    info.value.save_as(target)
    return target.read_bytes()


def page_count(pdf: Path) -> int:
    info = subprocess.run(
        ["pdfinfo", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    pages = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    assert pages, f"pdfinfo printed no page count for {pdf}"
    return int(pages.group(1))


def decode_qr_url(pdf: Path, workdir: Path) -> str:
    """Render the PDF's last page and decode the QR code printed on it."""
    last = str(page_count(pdf))
    prefix = workdir / "last-page"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "200",
            "-png",
            "-f",
            last,
            "-l",
            last,
            "-singlefile",
            str(pdf),
            str(prefix),
        ],
        check=True,
    )
    decoded = subprocess.run(
        ["zbarimg", "--raw", "-q", f"{prefix}.png"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert decoded.returncode == 0, "zbarimg found no QR code on the last page"
    return decoded.stdout.strip().splitlines()[0]


def reject_with_reason(page: Page, reason: str) -> None:
    """Send the open recap back one level through the rejection dialog."""
    page.get_by_role("button", name="Tolak…").click()
    dialog = page.locator("dialog#reject-dialog")
    expect(dialog).to_have_attribute("open", "")
    dialog.get_by_label(re.compile("Alasan penolakan")).fill(reason)
    dialog.get_by_role("button", name="Tolak", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("dikembalikan")


@pytest.mark.skipif(
    not LAPOR_XLSX.exists(), reason=f"sample export missing: {LAPOR_XLSX}"
)
def test_monthly_procedure(page, live_server, artifacts, tmp_path):
    expected = json.loads(EXPECTED.read_text())
    shots = StepShots(artifacts)
    audit = PageAudit()
    page.on("dialog", lambda dialog: dialog.accept())

    # Step 1: the admin creates the recap, imports the export and submits.
    page.goto("/masuk")
    audit.check(page, "login")
    login(page, live_server, "admin")
    shots.take(page, "admin-inbox")
    audit.check(page, "inbox as admin")
    page.get_by_label("Periode baru").fill("2026-11")
    page.get_by_role("button", name="Buat rekapitulasi").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Rekapitulasi November 2026"
    )
    expect(status_badge(page)).to_have_text("Konsep")
    recap_url = page.url
    shots.take(page, "draft-empty")
    audit.check(page, "recap page, empty draft")

    admin = CountingUser()
    admin.choose_file(page.get_by_label("Berkas ekspor"), LAPOR_XLSX)
    admin.click(page.get_by_role("button", name="Unggah dan pratinjau"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Pratinjau impor: {LAPOR_XLSX.name}"
    )
    figures = page.locator(".figures")
    expect(figures.locator("div", has_text="Baris data").locator("dd")).to_have_text(
        str(expected["rows_total"])
    )
    expect(
        figures.locator("div", has_text="Pengaduan baru").locator("dd")
    ).to_have_text(str(expected["rows_total"]))
    shots.take(page, "import-preview")
    audit.check(page, "import preview")

    admin.click(page.get_by_role("button", name="Konfirmasi impor"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Statistik November 2026")
    expect(page.locator("#messages")).to_contain_text("Impor selesai")
    received = page.locator(".figures div", has_text="Pengaduan diterima")
    expect(received.locator("dd")).to_have_text(str(expected["received_in_period"]))
    status_table = page.locator(
        ".stat-table", has=page.get_by_role("heading", name="Status")
    )
    for status, count in expected["by_status_received_in_period"].items():
        row = status_table.locator(
            "tbody tr", has=page.get_by_role("cell", name=status, exact=True)
        )
        expect(row.locator("td[data-count]")).to_have_text(str(count))
    charts = page.locator(".charts figure svg")
    assert charts.count() >= 2, "the statistics page shows fewer than two charts"
    for index in range(charts.count()):
        chart = charts.nth(index)
        box = chart.bounding_box()
        assert box is not None, f"chart {index} has no layout box"
        assert box["width"] > 200, f"chart {index} is {box['width']}px wide"
        assert box["height"] > 100, f"chart {index} is {box['height']}px high"
        assert chart.locator("rect, path, polygon").count() > 3, (
            f"chart {index} draws no shapes"
        )
    shots.take(page, "statistics")
    audit.check(page, "statistics")

    admin.click(page.get_by_role("link", name=re.compile("Kembali ke rekapitulasi")))
    admin.click(page.get_by_role("button", name="Ajukan kepada Kepala Seksi"))
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Seksi")
    assert admin.actions <= MAX_ADMIN_CLICKS, (
        f"the admin needed {admin.actions} clicks from choosing the file to "
        f"submitting; the limit is {MAX_ADMIN_CLICKS}"
    )
    shots.take(page, "submitted")
    audit.check(page, "recap page, at Kasi, as admin")
    logout(page)

    # The Section Head first sends the draft back to the admin, who submits
    # it again.
    login(page, live_server, "kasi")
    open_recap_from_inbox(page, "2026-11")
    reject_with_reason(page, "Mohon cek ulang data kanal SMS.")
    expect(status_badge(page)).to_have_text("Konsep")
    shots.take(page, "kasi-rejected")
    logout(page)
    login(page, live_server, "admin")
    page.goto(recap_url)
    expect(page.locator(".timeline li.event-reject blockquote")).to_have_text(
        "Alasan: Mohon cek ulang data kanal SMS."
    )
    page.get_by_role("button", name="Ajukan kepada Kepala Seksi").click()
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Seksi")
    logout(page)

    # Step 2: the Section Head adds a paraf, all by keyboard.
    login(page, live_server, "kasi")
    audit.check(page, "inbox as kasi")
    open_recap_from_inbox(page, "2026-11")
    audit.check(page, "recap page, at Kasi")
    dialog = open_with_keyboard(
        page, page.get_by_role("button", name="Beri paraf…"), "approve-dialog"
    )
    passphrase = dialog.get_by_label("Frasa sandi penandatanganan")
    expect(passphrase).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).not_to_have_attribute("open", "")
    expect(page.get_by_role("button", name="Beri paraf…")).to_be_focused()
    dialog = open_with_keyboard(
        page, page.get_by_role("button", name="Beri paraf…"), "approve-dialog"
    )
    page.keyboard.type(live_server.passphrase("kasi"))
    shots.take(page, "kasi-paraf-dialog", full_page=False)
    audit.check(page, "paraf dialog open")
    page.keyboard.press("Enter")
    expect(page.locator("#messages")).to_contain_text("berhasil diparaf")
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Bidang")
    shots.take(page, "kasi-paraf-done")
    logout(page)

    # Step 3: the Division Head rejects with a reason, by keyboard.
    login(page, live_server, "kabid")
    open_recap_from_inbox(page, "2026-11")
    audit.check(page, "recap page, at Kabid")
    dialog = open_with_keyboard(
        page, page.get_by_role("button", name="Tolak…"), "reject-dialog"
    )
    expect(dialog.get_by_label(re.compile("Alasan penolakan"))).to_be_focused()
    page.keyboard.type(REJECT_REASON)
    shots.take(page, "kabid-reject-dialog", full_page=False)
    audit.check(page, "reject dialog open")
    # Enter in the textarea adds a line, so Tab moves to the Tolak button.
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Tolak", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#messages")).to_contain_text("dikembalikan")
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Seksi")
    shots.take(page, "kabid-rejected")
    logout(page)

    # The recap is back at the Section Head, with the reason, and gets a new paraf.
    login(page, live_server, "kasi")
    open_recap_from_inbox(page, "2026-11")
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Seksi")
    rejection = page.locator(".timeline li.event-reject").last
    expect(rejection).to_contain_text("Menolak")
    expect(rejection.locator("blockquote")).to_have_text(f"Alasan: {REJECT_REASON}")
    expect(page.locator("tr.current")).to_contain_text("Konsep bersegel kantor")
    shots.take(page, "kasi-sees-rejection")
    audit.check(page, "recap page, back at Kasi with a reason")
    page.get_by_role("button", name="Beri paraf…").click()
    page.get_by_label("Frasa sandi penandatanganan").fill(
        live_server.passphrase("kasi")
    )
    page.get_by_role("button", name="Ya, beri paraf").click()
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Bidang")
    logout(page)

    # Step 3 again: the Division Head adds a paraf.
    login(page, live_server, "kabid")
    open_recap_from_inbox(page, "2026-11")
    page.get_by_role("button", name="Beri paraf…").click()
    page.get_by_label("Frasa sandi penandatanganan").fill(
        live_server.passphrase("kabid")
    )
    page.get_by_role("button", name="Ya, beri paraf").click()
    expect(status_badge(page)).to_have_text("Menunggu tanda tangan Kepala Dinas")
    logout(page)

    # The Head of Office sends it back to the Division Head, whose paraf is
    # stripped, and the Division Head adds it again.
    login(page, live_server, "kadis")
    open_recap_from_inbox(page, "2026-11")
    reject_with_reason(page, "Lengkapi tabel instansi tujuan.")
    expect(status_badge(page)).to_have_text("Menunggu paraf Kepala Bidang")
    shots.take(page, "kadis-rejected")
    logout(page)
    login(page, live_server, "kabid")
    open_recap_from_inbox(page, "2026-11")
    expect(page.locator(".timeline li.event-reject").last).to_contain_text(
        "Lengkapi tabel instansi tujuan."
    )
    page.get_by_role("button", name="Beri paraf…").click()
    page.get_by_label("Frasa sandi penandatanganan").fill(
        live_server.passphrase("kabid")
    )
    page.get_by_role("button", name="Ya, beri paraf").click()
    expect(status_badge(page)).to_have_text("Menunggu tanda tangan Kepala Dinas")
    logout(page)

    # Step 4: the Head of Office signs.
    login(page, live_server, "kadis")
    open_recap_from_inbox(page, "2026-11")
    audit.check(page, "recap page, at Kadis")
    page.get_by_role("button", name="Tandatangani…").click()
    dialog = page.locator("dialog#approve-dialog")
    expect(dialog).to_have_attribute("open", "")
    dialog.get_by_label("Frasa sandi penandatanganan").fill(
        live_server.passphrase("kadis")
    )
    shots.take(page, "kadis-sign-dialog", full_page=False)
    audit.check(page, "signature dialog open")
    dialog.get_by_role("button", name="Ya, tandatangani").click()
    expect(page.locator("#messages")).to_contain_text("berhasil ditandatangani")
    expect(status_badge(page)).to_have_text("Ditandatangani")
    shots.take(page, "kadis-signed")
    audit.check(page, "recap page, signed")
    logout(page)

    # Step 5: the admin archives the signed recap.
    login(page, live_server, "admin")
    page.goto(recap_url)
    audit.check(page, "recap page, signed, as admin")
    page.get_by_role("button", name="Arsipkan rekapitulasi bertanda tangan").click()
    expect(status_badge(page)).to_have_text("Diarsipkan")
    number = page.locator("section.card").first.locator("strong").first.inner_text()
    shots.take(page, "archived")
    audit.check(page, "recap page, archived")
    signed_pdf = tmp_path / "signed.pdf"
    data = download(
        page, page.locator("tr.current").get_by_role("link", name="PDF"), signed_pdf
    )
    assert data.startswith(b"%PDF-")
    logout(page)

    # Public verification: by upload, then by the QR code on the last page.
    page.goto("/verifikasi")
    audit.check(page, "verification form")
    shots.take(page, "verify-form")
    page.get_by_label(re.compile("Berkas PDF")).set_input_files(str(signed_pdf))
    page.get_by_role("button", name="Periksa berkas").click()
    expect(page.locator("#hasil-verifikasi .verdict-label").first).to_have_text("Sah")
    shots.take(page, "verify-upload-result")
    audit.check(page, "verification result after upload")

    url = decode_qr_url(signed_pdf, tmp_path)
    assert url.startswith(live_server.base_url + "/verifikasi/"), url
    page.goto(url)
    expect(page.locator(".verdict-label").first).to_have_text("Sah")
    expect(page.get_by_role("main")).to_contain_text(number)
    shots.take(page, "verify-qr-result")
    audit.check(page, "verification result from the QR link")

    # The archive finds the recap, and its printable copy is a PDF.
    login(page, live_server, "admin")
    page.get_by_role("navigation", name="Menu utama").get_by_role(
        "link", name="Arsip"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Arsip rekapitulasi")
    audit.check(page, "archive list")
    # htmx replaces only the results; a marker on window shows no page load.
    page.evaluate("window.__noReload = true")
    page.get_by_label(re.compile("Nomor dokumen")).fill(number)
    page.get_by_label(re.compile("Nomor dokumen")).press("Enter")
    results = page.locator("#archive-results")
    expect(results.get_by_role("heading")).to_contain_text("1 rekapitulasi ditemukan")
    assert page.evaluate("window.__noReload === true"), "the search reloaded the page"
    row = results.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("Diarsipkan")
    shots.take(page, "archive-search")
    audit.check(page, "archive search result")
    row.get_by_role("link", name="November 2026").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Arsip rekapitulasi November 2026"
    )
    shots.take(page, "archive-entry")
    audit.check(page, "archive entry")
    # The copy opens inline for printing, so the test fetches the link's target
    # with the page's cookies instead of waiting for a download.
    printable = page.get_by_role("link", name=re.compile("Salinan cetak"))
    response = page.request.get(printable.get_attribute("href"))
    assert response.ok, f"printable copy failed with HTTP {response.status}"
    assert response.headers["content-type"] == "application/pdf"
    copy = tmp_path / "cetak.pdf"
    copy.write_bytes(response.body())
    assert copy.read_bytes().startswith(b"%PDF-")
    assert page_count(copy) > page_count(signed_pdf), "no verification sheet added"
    logout(page)

    audit.assert_clean()


def test_upload_error_reaches_messages(page, live_server, artifacts):
    shots = StepShots(artifacts)
    login(page, live_server, "admin")
    page.get_by_label("Periode baru").fill("2026-07")
    page.get_by_role("button", name="Buat rekapitulasi").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rekapitulasi Juli 2026")
    # A marker on window disappears if the browser loads a new page.
    page.evaluate("window.__noReload = true")

    page.get_by_label("Berkas ekspor").set_input_files(
        {"name": "kosong.csv", "mimeType": "text/csv", "buffer": b""}
    )
    page.get_by_role("button", name="Unggah dan pratinjau").click()
    message = page.locator("#messages .message-error")
    expect(message).to_be_visible()
    shots.take(page, "empty-csv-error")
    assert page.evaluate("window.__noReload === true"), "the upload reloaded the page"
    # The Indonesian message from the parser names the file and calls it empty.
    expect(message).to_contain_text("kosong.csv")
    expect(message).to_contain_text("kosong.")
    expect(message).to_have_attribute("role", "alert")
    upload_button = page.get_by_role("button", name="Unggah dan pratinjau")
    expect(upload_button).to_have_text("Unggah dan pratinjau")
    expect(upload_button).not_to_have_attribute("aria-disabled", "true")
    expect(page.locator("form progress")).to_be_hidden()
    audit = PageAudit()
    audit.check(page, "recap page with an htmx upload error")
    audit.assert_clean()

    # A valid file uploaded after the error still reaches the preview.
    page.get_by_label("Berkas ekspor").set_input_files(
        {
            "name": "lapor-2026-07.csv",
            "mimeType": "text/csv",
            "buffer": lapor_csv("2026-07", 5),
        }
    )
    page.get_by_role("button", name="Unggah dan pratinjau").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Pratinjau impor: lapor-2026-07.csv"
    )
