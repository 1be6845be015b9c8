"""The main screens at phone and desktop width: no overflow, cut text or overlap.

With SIGREKAP_UPDATE_SCREENSHOTS=1 the test also writes the README screenshots
to docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .browser_helpers import (
    PageAudit,
    StepShots,
    layout_problems,
    login,
    logout,
    save_doc_screenshot,
    update_doc_screenshots,
)

pytestmark = pytest.mark.e2e

VIEWPORTS = {1280: {"width": 1280, "height": 800}, 360: {"width": 360, "height": 740}}


@pytest.mark.parametrize("width", sorted(VIEWPORTS), ids=lambda width: f"{width}px")
def test_main_screens_fit(
    page: Page, live_server, archived_recap, waiting_recap, artifacts, tmp_path, width
):
    page.set_viewport_size(VIEWPORTS[width])
    shots = StepShots(artifacts)
    audit = PageAudit()

    def inspect(screen: str, ready: Callable[[], None]) -> None:
        ready()
        audit.check(page, f"{screen} at {width}px")
        shots.take(page, screen)
        if update_doc_screenshots():
            save_doc_screenshot(page, f"{screen}-{width}")

    # The Section Head's inbox lists the seeded recap that waits for a paraf.
    login(page, live_server, "kasi")
    inspect(
        "inbox",
        lambda: expect(page.locator(".inbox")).to_contain_text(waiting_recap.number),
    )
    logout(page)

    login(page, live_server, "admin")
    page.goto(f"/rekap/{archived_recap.recap_id}")
    inspect(
        "recap",
        lambda: expect(page.locator(".timeline blockquote")).to_be_visible(),
    )
    page.goto(f"/rekap/{archived_recap.recap_id}/statistik")

    def charts_shown() -> None:
        charts = page.get_by_role("heading", name="Grafik")
        expect(page.locator(".charts svg").first).to_be_visible()
        # The README shows the charts rather than the tables above them.
        charts.evaluate("heading => heading.scrollIntoView({block: 'start'})")

    inspect("statistics", charts_shown)
    page.goto("/arsip")

    def archive_row_shown() -> None:
        row = page.locator("#archive-results tbody tr", has_text=archived_recap.number)
        expect(row).to_be_visible()
        # The README shows the search results below the filter form.
        row.scroll_into_view_if_needed()

    inspect("archive", archive_row_shown)
    logout(page)

    signed = tmp_path / f"rekap-{archived_recap.period}.pdf"
    signed.write_bytes(archived_recap.signed_pdf or b"")
    page.goto("/verifikasi")
    page.get_by_label(re.compile("Berkas PDF")).set_input_files(str(signed))
    page.get_by_role("button", name="Periksa berkas").click()

    def verdict_shown() -> None:
        verdict = page.locator("#hasil-verifikasi .verdict-label").first
        expect(verdict).to_have_text("Sah")
        verdict.scroll_into_view_if_needed()

    inspect("verification", verdict_shown)

    audit.assert_clean()


BROKEN_PAGE = """<!doctype html><html lang="id"><body style="margin:0">
<div style="width:2000px">lebar</div>
<div style="width:100px; overflow:hidden; white-space:nowrap">
  <span>Teks yang terlalu panjang untuk kotaknya</span></div>
<a href="#satu" style="position:absolute; left:10px; top:200px">Satu</a>
<a href="#dua" style="position:absolute; left:14px; top:204px">Dua</a>
<div style="width:100px; overflow-x:auto; white-space:nowrap">tabel boleh digulir</div>
<p class="visually-hidden" style="position:absolute; width:1px; height:1px;
  overflow:hidden">teks untuk pembaca layar</p>
</body></html>"""


def test_layout_checks_find_problems(page: Page):
    page.set_viewport_size({"width": 360, "height": 640})
    page.set_content(BROKEN_PAGE)
    problems = "\n".join(layout_problems(page))
    assert "page overflow: 2000px wide in a 360px viewport" in problems
    assert 'clipped text "Teks yang terlalu panjang' in problems
    assert 'overlap: a "Satu" and a "Dua"' in problems
    assert "tabel boleh digulir" not in problems
    assert "pembaca layar" not in problems
