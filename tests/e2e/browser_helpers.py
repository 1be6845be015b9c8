"""Helpers for the browser tests: logins, screenshots, axe-core and layout checks,
and seeding recaps through the web forms."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import APIResponse, Browser, Page, expect

ROOT = Path(__file__).resolve().parents[2]
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
FIXTURES = Path(
    os.environ.get("SIGREKAP_FIXTURES", ROOT.parent / "shared" / "fixtures")
)
# axe-core impacts that fail a test. Findings rated moderate or minor are only
# printed.
BLOCKING_IMPACTS = ("serious", "critical")


def login(page: Page, server: Any, username: str) -> None:
    """Log in through the login form and wait for the inbox."""
    page.goto("/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(server.password(username))
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name="Menunggu tindakan Anda")).to_be_visible()


def logout(page: Page) -> None:
    """Log out with the header button and wait for the login form."""
    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_role("heading", name="Masuk ke SigRekap")).to_be_visible()


class StepShots:
    """Numbered screenshots of a test's steps in its artifact folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def take(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@dataclass
class PageAudit:
    """axe-core and layout findings collected over the pages a test visits."""

    findings: list[str] = field(default_factory=list)
    minor: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def check(self, page: Page, label: str, *, layout: bool = True) -> None:
        """Check the page as it is now with axe-core and the layout checks."""
        self.pages.append(label)
        if layout:
            self.findings.extend(f"[{label}] {p}" for p in layout_problems(page))
        for violation in axe_violations(page):
            heading = (
                f"[{label}] {violation['impact']}: {violation['id']} - "
                f"{violation['help']}"
            )
            lines = [heading]
            for node in violation["nodes"][:5]:
                summary = " ".join((node["summary"] or "").split())
                lines.append(f"    at {node['target']}: {summary[:300]}")
            text = "\n".join(lines)
            if violation["impact"] in BLOCKING_IMPACTS:
                self.findings.append(text)
            else:
                self.minor.append(text)

    def assert_clean(self) -> None:
        if self.minor:
            print("axe-core findings below 'serious':\n" + "\n".join(self.minor))
        assert not self.findings, (
            f"{len(self.findings)} problems on {len(self.pages)} checked pages "
            "(axe-core violations rated serious or critical, page overflow, "
            "clipped text, overlapping controls):\n" + "\n".join(self.findings)
        )


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page and return its violations."""
    # The app serves axe from static/vendor, so the CSP (script-src 'self')
    # allows it and the test needs no CSP bypass.
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe.min.js")
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({
                    target: n.target.join(" "),
                    summary: n.failureSummary,
                })),
            }));
        }"""
    )


# Page overflow, clipped text and overlapping controls, measured in the page.
# layout_checks.js explains each check.
LAYOUT_SCRIPT = (Path(__file__).parent / "layout_checks.js").read_text()


def layout_problems(page: Page) -> list[str]:
    """Return page overflow, clipped text and overlapping controls on the page."""
    return page.evaluate(LAYOUT_SCRIPT)


def update_doc_screenshots() -> bool:
    """Tell whether this run should rewrite docs/screenshots/."""
    return os.environ.get("SIGREKAP_UPDATE_SCREENSHOTS") == "1"


def save_doc_screenshot(page: Page, name: str) -> Path:
    """Save a viewport screenshot for the README as a small palette PNG."""
    png = page.screenshot(full_page=False)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    # A 64-colour palette keeps the flat UI colours and makes the PNG files
    # about three times smaller than full colour (measured on the 1280 px shots).
    palette = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=0)
    DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = DOC_SCREENSHOTS / f"{name}.png"
    palette.save(path, optimize=True)
    return path


# Seeding recaps through the web forms, so that the layout and accessibility
# tests have pages in known states without clicking through them again.

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_FIELD = re.compile(r'name="version" value="(\d+)"')
RECAP_URL = re.compile(r"/rekap/(\d+)$")
CODE_TEXT = re.compile(r"Kode verifikasi <code>([A-Z0-9]+)</code>")
CURRENT_PDF = re.compile(
    r'<tr class="current">.*?href="(/rekap/\d+/revisi/\d+\.pdf)"', re.DOTALL
)

CATEGORIES = {
    "Infrastruktur": 6,
    "Perhubungan": 5,
    "Kesehatan": 4,
    "Administrasi Kependudukan": 4,
    "Pendidikan": 3,
    "Lingkungan Hidup dan Kebersihan": 3,
    "Sosial": 2,
}
CHANNELS = {"Aplikasi Mobile": 5, "Website": 4, "SMS 1708": 3, "Kanal Terintegrasi": 2}
UNITS = {
    "Dinas Pekerjaan Umum dan Penataan Ruang": 5,
    "Dinas Perhubungan": 4,
    "Dinas Kesehatan": 3,
    "Dinas Kependudukan dan Pencatatan Sipil": 3,
    "Kecamatan Kebomas": 2,
}
STATUSES = {"Selesai": 6, "Proses": 2, "Belum Ditindaklanjuti": 1, "Ditunda": 1}
TOPICS = (
    "Lampu jalan padam",
    "Jalan berlubang",
    "Antrean panjang di puskesmas",
    "Sampah menumpuk",
    "Angkutan tidak sesuai jadwal",
)


def lapor_csv(period: str, rows: int) -> bytes:
    """Build a LAPOR! CSV export whose complaints all fall in the period.

    The rows come from a generator seeded with the period, so every run gets
    the same file but the charts show uneven, realistic-looking counts.
    """
    year, month = (int(part) for part in period.split("-"))
    rng = random.Random(f"lapor-{period}")
    start = dt.datetime(year, month, 1, 7, 0)

    def pick(weights: dict[str, int]) -> str:
        return rng.choices(list(weights), weights=list(weights.values()))[0]

    header = (
        "No,ID Tracking,Tanggal Laporan,Judul Laporan,Isi Laporan,Klasifikasi,"
        "Kategori,Sumber,Instansi Tujuan,Status,Tanggal Selesai,Nama Pelapor,"
        "Anonim,Rahasia"
    )
    lines = [header]
    for index in range(rows):
        received = start + dt.timedelta(minutes=rng.randrange(27 * 24 * 60))
        status = pick(STATUSES)
        finished = received + dt.timedelta(hours=rng.randrange(6, 20 * 24))
        title = f"{rng.choice(TOPICS)} di RT {rng.randrange(1, 20):02d}"
        lines.append(
            ",".join(
                [
                    str(index + 1),
                    f"8{year % 100:02d}{month:02d}{index:04d}",
                    received.strftime("%Y-%m-%d %H:%M:%S"),
                    title,
                    f"{title}. Mohon ditindaklanjuti.",
                    "Pengaduan",
                    pick(CATEGORIES),
                    pick(CHANNELS),
                    pick(UNITS),
                    status,
                    finished.strftime("%Y-%m-%d %H:%M:%S")
                    if status == "Selesai"
                    else "",
                    "",
                    "Ya" if rng.random() < 0.2 else "Tidak",
                    "Tidak",
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode()


class WebActor:
    """One demo user posting the app's forms over HTTP with their own cookies."""

    def __init__(self, browser: Browser, server: Any, username: str) -> None:
        self.server = server
        self.context = browser.new_context(base_url=server.base_url)
        self.request = self.context.request
        page = self._get("/masuk")
        response = self.request.post(
            "/masuk",
            form={
                "csrf_token": _csrf(page),
                "username": username,
                "password": server.password(username),
            },
        )
        _check(response, f"log in as {username}")
        assert not response.url.endswith("/masuk"), f"login as {username} failed"

    def close(self) -> None:
        self.context.close()

    def _get(self, path: str) -> str:
        response = self.request.get(path)
        _check(response, f"GET {path}")
        return response.text()

    def recap_page(self, recap_id: int) -> str:
        return self._get(f"/rekap/{recap_id}")

    def create_recap(self, period: str) -> int:
        response = self.request.post(
            "/rekap", form={"csrf_token": _csrf(self._get("/")), "period": period}
        )
        _check(response, f"create the {period} recap")
        match = RECAP_URL.search(response.url)
        assert match, f"creating the {period} recap ended at {response.url}"
        return int(match.group(1))

    def import_csv(self, recap_id: int, filename: str, data: bytes) -> None:
        csrf = _csrf(self.recap_page(recap_id))
        response = self.request.post(
            f"/rekap/{recap_id}/impor",
            multipart={
                "csrf_token": csrf,
                "file": {"name": filename, "mimeType": "text/csv", "buffer": data},
            },
        )
        _check(response, f"upload {filename}")
        confirm = self.request.post(
            response.url.split("?")[0] + "/konfirmasi", form={"csrf_token": csrf}
        )
        _check(confirm, f"confirm the import of {filename}")

    def act(self, recap_id: int, action: str, **fields: str) -> None:
        """Post one workflow form (ajukan, setujui, tolak, arsipkan) of a recap."""
        html = self.recap_page(recap_id)
        version = VERSION_FIELD.search(html)
        assert version, f"recap {recap_id} page has no version field for {action}"
        response = self.request.post(
            f"/rekap/{recap_id}/{action}",
            form={"csrf_token": _csrf(html), "version": version.group(1), **fields},
        )
        _check(response, f"{action} recap {recap_id}")


def _csrf(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _check(response: APIResponse, what: str) -> None:
    assert response.ok, (
        f"{what} failed with HTTP {response.status}: "
        f"{re.sub(r'<[^>]+>', ' ', response.text())[-600:]}"
    )


@dataclass(frozen=True)
class SeededRecap:
    """A recap created through the web forms, and what the tests need of it."""

    recap_id: int
    period: str
    number: str
    verification_code: str
    signed_pdf: bytes | None


def seed_recap(
    browser: Browser,
    server: Any,
    period: str,
    *,
    until: str,
    rows: int = 80,
    reject_reason: str | None = None,
) -> SeededRecap:
    """Create a recap from generated data and take it to ``until``.

    ``until`` is "at_kasi" (submitted only) or "archived".
    """
    admin = WebActor(browser, server, "admin")
    approvers: dict[str, WebActor] = {}
    try:
        recap_id = admin.create_recap(period)
        admin.import_csv(recap_id, f"lapor-{period}.csv", lapor_csv(period, rows))
        admin.act(recap_id, "ajukan")
        if until == "archived":
            for username in ("kasi", "kabid", "kadis"):
                approvers[username] = WebActor(browser, server, username)

            def approve(username: str) -> None:
                approvers[username].act(
                    recap_id, "setujui", passphrase=server.passphrase(username)
                )

            approve("kasi")
            if reject_reason:
                approvers["kabid"].act(recap_id, "tolak", reason=reject_reason)
                approve("kasi")
            approve("kabid")
            approve("kadis")
            admin.act(recap_id, "arsipkan")
        html = admin.recap_page(recap_id)
        code = CODE_TEXT.search(html)
        number = re.search(r"Nomor <strong>([^<]+)</strong>", html)
        assert code and number, f"recap {recap_id} page lacks its number or code"
        signed_pdf = None
        if until == "archived":
            link = CURRENT_PDF.search(html)
            assert link, f"recap {recap_id} page has no current revision link"
            response = admin.request.get(link.group(1))
            _check(response, "download the signed PDF")
            signed_pdf = response.body()
        return SeededRecap(recap_id, period, number.group(1), code.group(1), signed_pdf)
    finally:
        admin.close()
        for actor in approvers.values():
            actor.close()
