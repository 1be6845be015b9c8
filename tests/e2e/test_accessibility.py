"""axe-core and layout checks on the pages the walkthrough does not show.

The walkthrough checks the recap page in every state, the dialogs, the import
preview and statistics. test_layout checks the main screens at two widths.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .browser_helpers import PageAudit, StepShots, login, logout

pytestmark = pytest.mark.e2e

VIEWPORTS = {1280: {"width": 1280, "height": 800}, 360: {"width": 360, "height": 740}}


@pytest.mark.parametrize("width", sorted(VIEWPORTS), ids=lambda width: f"{width}px")
def test_other_pages_accessible(
    page: Page, live_server, archived_recap, artifacts, tmp_path, width
):
    page.set_viewport_size(VIEWPORTS[width])
    shots = StepShots(artifacts)
    audit = PageAudit()

    def check(label: str) -> None:
        audit.check(page, f"{label} at {width}px")
        shots.take(page, re.sub(r"\W+", "-", label))

    # Public pages.
    page.goto("/masuk")
    check("login")
    page.get_by_label("Nama pengguna").fill("admin")
    page.get_by_label("Kata sandi").fill("salah-sekali")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("alert")).to_contain_text("salah")
    check("login with a wrong password")

    page.goto("/verifikasi")
    check("verification form")
    not_pdf = tmp_path / "bukan.pdf"
    not_pdf.write_bytes(b"bukan berkas PDF")
    page.get_by_label(re.compile("Berkas PDF")).set_input_files(str(not_pdf))
    page.get_by_role("button", name="Periksa berkas").click()
    expect(page.locator("#hasil-verifikasi")).not_to_be_empty()
    check("verification of a file that is no PDF")
    page.goto(f"/verifikasi/{archived_recap.verification_code}")
    expect(page.locator(".verdict-label").first).to_have_text("Sah")
    check("verification page of a code")
    page.goto("/verifikasi/ZZZZ2222")
    check("verification of an unknown code")
    page.goto("/tidak-ada")
    expect(page.get_by_role("heading", name="Terjadi masalah")).to_be_visible()
    check("error page")

    # The system administrator's pages.
    login(page, live_server, "sysadmin")
    page.goto("/admin/pengguna")
    check("user list")
    page.get_by_role("link", name="kasi", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("kasi")
    check("user with a signing key")
    page.goto("/admin/pengguna/baru")
    check("new user form")
    page.goto("/admin/kantor")
    check("office settings")
    page.goto("/admin/penunjukan")
    check("acting officials")
    page.goto("/arsip/pemeriksaan")
    check("archive integrity check")
    logout(page)

    # The Section Head's key page and an unknown recap.
    login(page, live_server, "kasi")
    page.goto("/kunci")
    expect(page.get_by_role("heading", name="Kunci tanda tangan")).to_be_visible()
    check("signing key page")
    page.goto("/rekap/999999")
    check("unknown recap")
    logout(page)

    # The admin's archive pages.
    login(page, live_server, "admin")
    page.goto("/arsip?q=tidak-ada-yang-cocok")
    expect(page.locator("#archive-results")).to_contain_text("Tidak ada")
    check("archive search without results")
    page.goto(f"/arsip/{archived_recap.recap_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Arsip rekapitulasi")
    check("archive entry")
    logout(page)

    audit.assert_clean()


def test_key_setup_accessible(page: Page, live_server, artifacts):
    """Check the pages a new approver without a key gets, with their errors."""
    shots = StepShots(artifacts)
    audit = PageAudit()
    login(page, live_server, "sysadmin")
    page.goto("/admin/pengguna/baru")
    page.get_by_label("Nama pengguna").fill("kasi-baru")
    page.get_by_label(re.compile("Kata sandi awal")).fill("sandi-awal-123")
    page.get_by_label("Nama lengkap dengan gelar").fill("Teguh Santoso, S.E.")
    page.get_by_label("Peran").select_option(label="Kepala Seksi")
    page.get_by_role("button", name="Simpan").click()
    # A signing role needs a NIP: the form shows the error, then accepts it.
    expect(page.get_by_role("alert")).to_contain_text("NIP")
    audit.check(page, "new user form with an error")
    page.get_by_label(re.compile("Kata sandi awal")).fill("sandi-awal-123")
    page.get_by_label(re.compile("NIP")).fill("199001012015031001")
    page.get_by_label("Jabatan").fill("Kepala Seksi Pengelolaan Informasi")
    page.get_by_role("button", name="Simpan").click()
    expect(page.locator("#messages .message")).to_be_visible()
    shots.take(page, "user-created")
    page.goto("/admin/pengguna")
    page.get_by_role("link", name="kasi-baru").click()
    check_label = "user without a signing key"
    audit.check(page, check_label)
    shots.take(page, "user-without-key")
    user_url = page.url
    logout(page)

    page.goto("/masuk")
    page.get_by_label("Nama pengguna").fill("kasi-baru")
    page.get_by_label("Kata sandi").fill("sandi-awal-123")
    page.get_by_role("button", name="Masuk").click()
    page.goto("/kunci")
    audit.check(page, "key form")
    shots.take(page, "key-form")
    page.get_by_label("Frasa sandi penandatanganan").fill("frasa-sandi-satu")
    page.get_by_label("Ulangi frasa sandi").fill("frasa-sandi-dua")
    page.get_by_role("button", name="Buat kunci tanda tangan").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check(page, "key form with an error")
    shots.take(page, "key-form-error")
    logout(page)

    # The extra approver must not take part in the other tests' workflows.
    login(page, live_server, "sysadmin")
    page.goto(user_url)
    page.get_by_label("Akun aktif").uncheck()
    page.get_by_role("button", name="Simpan", exact=True).click()
    logout(page)

    audit.assert_clean()
