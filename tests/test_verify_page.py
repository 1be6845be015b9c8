"""The public verification pages: upload, verification code, archive match, JSON."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
from conftest import BACKENDS, FIXTURES, csrf_token_from
from test_verify_forgeries import build_world

from sigrekap import create_app, db, recaps, verify_views
from sigrekap.models import User
from sigrekap.ratelimit import SlidingWindowLimiter
from sigrekap.verify_views import NO_FILE_MESSAGE

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.csv").exists(), reason="sample exports not found"
)

VERDICT_PATTERN = re.compile(r'data-verdict="(\w+)"')
ARCHIVE_PATTERN = re.compile(r'data-archive="(\w+)"')
HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory, sqlite_template):
    # The pages look recaps and revisions up in the database, so they run on
    # both backends like the rest of the suite.
    database_url = (
        request.getfixturevalue("postgres_schema")
        if request.param == "postgres"
        else None
    )
    built = build_world(
        tmp_path_factory.mktemp("verify-page"), sqlite_template, database_url
    )
    yield built
    built.app.extensions["sigrekap.engine"].dispose()


@pytest.fixture
def client(world):
    return world.app.test_client()


@pytest.fixture
def code(world):
    return world.recap.verification_code


def post_file(client, path, data, name="rekap.pdf", headers=None, with_token=True):
    form = {"berkas": (io.BytesIO(data), name)}
    if with_token:
        form["csrf_token"] = csrf_token_from(
            client.get("/verifikasi").get_data(as_text=True)
        )
    return client.post(
        path, data=form, content_type="multipart/form-data", headers=headers
    )


def text_of(response) -> str:
    return response.get_data(as_text=True)


# Pages without login


def test_index_needs_no_login(client):
    response = client.get("/verifikasi")
    page = text_of(response)
    assert response.status_code == 200
    assert 'name="berkas"' in page
    assert 'enctype="multipart/form-data"' in page
    assert "maksimal 25 MB" in page
    assert 'name="kode"' in page
    assert "Keluar" not in page  # no user is logged in


def test_pages_link_print_stylesheet(client, code):
    for path in ("/verifikasi", f"/verifikasi/{code}"):
        assert "/static/css/verify.css" in text_of(client.get(path))
    with client.get("/static/css/verify.css") as css:
        assert css.status_code == 200
        assert b"@media print" in css.data


def test_code_page_shows_recap_and_verdict(client, world, code):
    response = client.get(f"/verifikasi/{code}")
    page = text_of(response)
    assert response.status_code == 200
    assert world.recap.number in page
    assert "November 2026" in page
    assert "Diarsipkan" in page
    assert VERDICT_PATTERN.findall(page) == ["valid"]
    assert '<span class="verdict-label">Sah</span>' in page
    assert "Tidak sah" not in page
    assert page.count('class="signature signature-ok"') == 4
    assert "198507222010011003" in page  # the Kasi's NIP from the certificate
    assert (
        "Kepala Bidang Informasi dan Statistik" in page
    )  # a title from the certificate
    for actor in ("Rina Kartikasari", "Dimas Prasetyo", "Sri Wahyuni", "Ahmad Fauzi"):
        assert actor in page
    assert f"/verifikasi/{code}/laporan.json" in page


@pytest.mark.parametrize(
    "variant",
    [
        str.lower,
        lambda c: f"{c[:5]}-{c[5:]}",
        lambda c: f" {c[:3]} {c[3:7]}-{c[7:]}".lower(),
    ],
    ids=["lower", "dash", "spaces"],
)
def test_code_lookup_ignores_case_spaces_dashes(client, world, code, variant):
    response = client.get(f"/verifikasi/{variant(code)}")
    assert response.status_code == 200
    assert world.recap.number in text_of(response)


def test_code_form_redirects_to_normalized_code(client, code):
    typed = f"{code[:4].lower()}-{code[4:]} "
    response = client.get("/verifikasi", query_string={"kode": typed})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/verifikasi/{code}")


@pytest.mark.parametrize("path", ["/verifikasi/ZZZZZZZZZZ", "/verifikasi/%3Cscript%3E"])
def test_unknown_code_is_404(client, path):
    response = client.get(path)
    page = text_of(response)
    assert response.status_code == 404
    assert "Kode verifikasi tidak ditemukan" in page
    assert "<script>" not in page


def test_unknown_code_json_is_404(client):
    assert client.get("/verifikasi/ZZZZZZZZZZ/laporan.json").status_code == 404


def test_recap_without_document_shows_notice(client, world):
    with world.app.app_context():
        session = db.session()
        admin = session.query(User).filter_by(username="admin").one()
        draft = recaps.create_recap(session, admin, "2026-10")
        draft_code = draft.verification_code
    page = text_of(client.get(f"/verifikasi/{draft_code}"))
    assert "Belum ada dokumen yang diajukan" in page
    assert "data-verdict" not in page


# Uploads


def test_upload_non_pdf_is_unverifiable(client):
    response = post_file(
        client, "/verifikasi", b"Bukan PDF, hanya teks.", name="rekap.pdf"
    )
    page = text_of(response)
    assert response.status_code == 200
    assert VERDICT_PATTERN.findall(page) == ["unverifiable"]
    assert "Tidak dapat diverifikasi" in page
    assert "bukan dokumen PDF" in page


def test_pdf_is_recognised_by_content_not_name(client, world):
    response = post_file(
        client, "/verifikasi", world.revisions["kadis"], name="catatan.txt"
    )
    assert VERDICT_PATTERN.findall(text_of(response)) == ["valid"]


@pytest.mark.parametrize("blank", [False, True], ids=["missing", "blank"])
def test_upload_without_file_is_rejected(client, blank):
    form = {"berkas": (io.BytesIO(b""), "")} if blank else {}
    form["csrf_token"] = csrf_token_from(text_of(client.get("/verifikasi")))
    response = client.post("/verifikasi", data=form, content_type="multipart/form-data")
    page = text_of(response)
    assert response.status_code == 422
    assert NO_FILE_MESSAGE in page
    assert "data-verdict" not in page


def test_upload_requires_csrf_token(client, world):
    response = post_file(
        client, "/verifikasi", world.revisions["kadis"], with_token=False
    )
    assert response.status_code == 400
    assert "data-verdict" not in text_of(response)


def test_uploads_over_rate_limit_get_429(client, world, monkeypatch):
    limiters = world.app.extensions["sigrekap_rate_limiters"]
    monkeypatch.setitem(limiters, "verify_upload", SlidingWindowLimiter(2, 60))
    pdf = world.revisions["kadis"]
    for _ in range(2):
        assert post_file(client, "/verifikasi", pdf).status_code == 200

    response = post_file(client, "/verifikasi", pdf)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    page = text_of(response)
    assert "Terlalu banyak berkas diperiksa" in page
    assert "data-verdict" not in page

    response = post_file(client, "/verifikasi", pdf, headers=HTMX)
    assert response.status_code == 429
    assert "Terlalu banyak berkas diperiksa" in text_of(response)
    # Another client address still gets through.
    other = client.post(
        "/verifikasi",
        data={
            "csrf_token": csrf_token_from(text_of(client.get("/verifikasi"))),
            "berkas": (io.BytesIO(pdf), "rekap.pdf"),
        },
        content_type="multipart/form-data",
        environ_overrides={"REMOTE_ADDR": "127.0.0.2"},
    )
    assert other.status_code == 200


def test_repeated_checks_reuse_the_report(client, world, code, monkeypatch):
    calls = []
    original = verify_views.verify_pdf

    def counting_verify(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(verify_views, "verify_pdf", counting_verify)
    world.app.extensions["sigrekap_report_cache"] = verify_views._ReportCache(8, 600)
    for _ in range(3):
        assert client.get(f"/verifikasi/{code}").status_code == 200
    assert client.get(f"/verifikasi/{code}/laporan.json").status_code == 200
    assert len(calls) == 1

    # A revocation changes the key, so the next check verifies again.
    monkeypatch.setattr(verify_views.keys, "revocation_state", lambda session: "x")
    assert client.get(f"/verifikasi/{code}").status_code == 200
    assert len(calls) == 2


@pytest.mark.parametrize("value", ["abc", "2.5", 0, -3, ""])
def test_invalid_upload_limit_stops_startup(tmp_path, value):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-only-secret",
        "INSTANCE_PATH": str(tmp_path),
        "VERIFY_UPLOADS_PER_MINUTE": value,
    }
    with pytest.raises(RuntimeError, match="VERIFY_UPLOADS_PER_MINUTE"):
        create_app(config)


def test_upload_limit_accepts_text_number(tmp_path):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-only-secret",
        "INSTANCE_PATH": str(tmp_path),
        "VERIFY_UPLOADS_PER_MINUTE": " 30 ",
    }
    app = create_app(config)
    assert app.config["VERIFY_UPLOADS_PER_MINUTE"] == 30
    assert app.extensions["sigrekap_rate_limiters"]["verify_upload"].limit == 30


def test_upload_over_size_limit_is_rejected(client, world):
    token = csrf_token_from(text_of(client.get("/verifikasi")))
    world.app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    try:
        response = client.post(
            "/verifikasi",
            data={
                "csrf_token": token,
                "berkas": (io.BytesIO(world.revisions["kadis"]), "r.pdf"),
            },
            content_type="multipart/form-data",
        )
    finally:
        world.app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024
    assert response.status_code == 413


def test_upload_matching_current_revision_shows_history(client, world, code):
    page = text_of(post_file(client, "/verifikasi", world.revisions["kadis"]))
    assert VERDICT_PATTERN.findall(page) == ["valid"]
    assert ARCHIVE_PATTERN.findall(page) == ["current"]
    assert "versi terkini" in page
    assert world.recap.number in page
    assert f'href="/verifikasi/{code}"' in page
    assert "Mengarsipkan" in page
    assert "Dr. Ahmad Fauzi" in page


@pytest.mark.parametrize("kind", ["sealed", "kasi", "kabid"])
def test_upload_recognises_earlier_revision(client, world, kind):
    page = text_of(post_file(client, "/verifikasi", world.revisions[kind]))
    assert VERDICT_PATTERN.findall(page) == ["valid"]
    assert ARCHIVE_PATTERN.findall(page) == ["earlier"]
    assert "revisi sebelumnya" in page
    assert "Menandatangani" in page  # the recap's whole history is shown


def test_upload_not_in_archive(client, world):
    altered = world.revisions["kadis"] + b"\n% tambahan\n"
    page = text_of(post_file(client, "/verifikasi", altered))
    assert VERDICT_PATTERN.findall(page) == ["invalid"]
    assert ARCHIVE_PATTERN.findall(page) == ["none"]
    assert "Tidak sah" in page


def test_upload_result_offers_json(client, world):
    page = text_of(post_file(client, "/verifikasi", world.revisions["kabid"]))
    assert 'href="data:application/json;charset=utf-8,' in page
    match = re.search(r'<pre class="json">(.*?)</pre>', page, re.DOTALL)
    assert match
    document = json.loads(html.unescape(match.group(1)))
    assert document["verification"]["status"] == "valid"
    assert document["archive"]["is_current"] is False
    assert document["archive"]["revision"]["kind"] == "kabid"
    assert len(document["verification"]["signatures"]) == 3


def test_compare_on_code_page(client, world, code):
    page = text_of(post_file(client, f"/verifikasi/{code}", world.revisions["kadis"]))
    assert page.count('data-verdict="valid"') == 2  # stored document and upload
    assert ARCHIVE_PATTERN.findall(page) == ["current"]

    page = text_of(post_file(client, f"/verifikasi/{code}", b"%PDF-1.7\nrusak"))
    assert VERDICT_PATTERN.findall(page) == ["valid", "unverifiable"]
    assert ARCHIVE_PATTERN.findall(page) == ["none"]
    assert f"termasuk rekapitulasi {world.recap.number}" in page


def test_compare_with_unknown_code_is_404(client, world):
    response = post_file(client, "/verifikasi/ZZZZZZZZZZ", world.revisions["kadis"])
    assert response.status_code == 404


# htmx: the same URLs answer with a fragment


@pytest.mark.parametrize("use_code", [False, True], ids=["index", "code"])
def test_upload_with_htmx_returns_fragment(client, world, code, use_code):
    path = f"/verifikasi/{code}" if use_code else "/verifikasi"
    response = post_file(client, path, world.revisions["kadis"], headers=HTMX)
    page = text_of(response)
    assert response.status_code == 200
    assert "<html" not in page
    assert 'name="berkas"' not in page
    assert VERDICT_PATTERN.findall(page) == ["valid"]
    assert ARCHIVE_PATTERN.findall(page) == ["current"]
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("use_code", [False, True], ids=["index", "code"])
def test_upload_without_htmx_returns_page(client, world, code, use_code):
    path = f"/verifikasi/{code}" if use_code else "/verifikasi"
    page = text_of(post_file(client, path, world.revisions["kadis"]))
    assert "<html" in page
    assert 'name="berkas"' in page
    assert 'id="hasil-verifikasi"' in page


def test_upload_without_file_with_htmx_returns_message(client):
    token = csrf_token_from(text_of(client.get("/verifikasi")))
    response = client.post(
        "/verifikasi",
        data={"csrf_token": token},
        content_type="multipart/form-data",
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "<html" not in text_of(response)
    assert NO_FILE_MESSAGE in text_of(response)


# Downloadable report


def test_json_report_by_code(client, world, code):
    response = client.get(f"/verifikasi/{code.lower()}/laporan.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    document = response.get_json()
    assert document["recap"]["number"] == world.recap.number
    assert document["recap"]["status"] == "archived"
    assert document["revision"]["kind"] == "kadis"
    assert document["verification"]["status"] == "valid"
    assert document["verification"]["verdict"] == "Sah"
    names = [sig["field_name"] for sig in document["verification"]["signatures"]]
    assert names == ["SegelKantor", "ParafKasi", "ParafKabid", "TandaTanganKadis"]
    assert [entry["action"] for entry in document["history"]] == [
        "submit",
        "paraf",
        "paraf",
        "sign",
        "archive",
    ]
    assert all("reason" not in entry for entry in document["history"])


# The QR code on the signed recap


@pytest.mark.skipif(
    not (
        shutil.which("pdftoppm") and shutil.which("zbarimg") and shutil.which("pdfinfo")
    ),
    reason="poppler-utils and zbar-tools are required",
)
def test_qr_code_opens_verification_page(client, world, tmp_path):
    pdf = tmp_path / "rekap.pdf"
    pdf.write_bytes(world.revisions["kadis"])
    info = subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
    )
    pages = re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE).group(1)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "200",
            "-png",
            "-f",
            pages,
            "-l",
            pages,
            "-singlefile",
            str(pdf),
            str(tmp_path / "last"),
        ],
        check=True,
        timeout=60,
    )
    decoded = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "last.png")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert decoded.returncode == 0, decoded.stderr
    url = decoded.stdout.strip()
    assert url == f"http://127.0.0.1:5000/verifikasi/{world.recap.verification_code}"

    response = client.get(urlsplit(url).path)
    page = text_of(response)
    assert response.status_code == 200
    assert world.recap.number in page
    assert '<span class="verdict-label">Sah</span>' in page


def test_unknown_code_json_report_is_json(client):
    response = client.get("/verifikasi/TIDAKADA99/laporan.json")
    assert response.status_code == 404
    assert response.is_json
    assert "tidak ditemukan" in response.get_json()["error"]
