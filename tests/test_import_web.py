import io
import json
import re

import pytest
from conftest import FIXTURES

from sigrekap import db
from sigrekap.models import Complaint, ImportBatch, Recap

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.xlsx").exists(), reason="sample exports not found"
)


def _create_recap(client, auth, period="2026-11"):
    if client.get("/masuk").status_code == 200:
        auth.login("admin")
    response = client.post(
        "/rekap", data={"csrf_token": auth.csrf_token(), "period": period}
    )
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _upload(client, auth, recap_id, name, data):
    return client.post(
        f"/rekap/{recap_id}/impor",
        data={
            "csrf_token": auth.csrf_token(f"/rekap/{recap_id}"),
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def _confirm(client, auth, preview_url):
    token = auth.csrf_token(preview_url)
    return client.post(f"{preview_url}/konfirmasi", data={"csrf_token": token})


def _complaint_count(app):
    with app.app_context():
        return db.session().query(Complaint).count()


def _counts_from_page(html, heading):
    """Read label -> count from the statistics table under ``heading``."""
    section = html.split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\" data-count=\"(\d+)\">", section)
    return {label.replace("&amp;", "&"): int(count) for label, count in rows}


@pytest.mark.parametrize("name", ["lapor-2026-11.xlsx", "lapor-2026-11.csv"])
def test_import_fixture_matches_expected_counts(app, client, auth, name):
    expected = json.loads((FIXTURES / "lapor-2026-11.expected.json").read_text())
    recap_id = _create_recap(client, auth)

    response = _upload(client, auth, recap_id, name, (FIXTURES / name).read_bytes())
    assert response.status_code == 302
    preview_url = response.headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "Konfirmasi impor" in page
    assert _complaint_count(app) == 0  # nothing saved before confirming

    response = _confirm(client, auth, preview_url)
    assert response.status_code == 302
    assert _complaint_count(app) == expected["rows_total"]

    html = client.get(f"/rekap/{recap_id}/statistik").get_data(as_text=True)
    assert f"<dd>{expected['received_in_period']}</dd>" in html
    assert _counts_from_page(html, "Status") == expected["by_status_received_in_period"]
    assert _counts_from_page(html, "Kategori") == expected["by_category_received_in_period"]
    assert _counts_from_page(html, "Kanal") == expected["by_channel_received_in_period"]
    assert html.count("<svg") >= 3


def test_reimport_updates_instead_of_duplicating(app, client, auth):
    recap_id = _create_recap(client, auth)
    first = _upload(client, auth, recap_id, "a.xlsx", (FIXTURES / "lapor-2026-11.xlsx").read_bytes())
    _confirm(client, auth, first.headers["Location"])
    second = _upload(client, auth, recap_id, "b.csv", (FIXTURES / "lapor-2026-11.csv").read_bytes())
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert re.search(r"Diperbarui \(ID sama\)</dt><dd>260</dd>", page)
    _confirm(client, auth, second.headers["Location"])

    assert _complaint_count(app) == 260
    with app.app_context():
        batches = db.session().query(ImportBatch).order_by(ImportBatch.id).all()
        assert [b.created_count for b in batches] == [260, 0]
        assert [b.updated_count for b in batches] == [0, 260]
        assert len(batches[1].sha256) == 64


def test_reporter_identity_not_stored_by_default(app, client, auth):
    recap_id = _create_recap(client, auth)
    response = _upload(client, auth, recap_id, "a.csv", (FIXTURES / "lapor-2026-11.csv").read_bytes())
    _confirm(client, auth, response.headers["Location"])
    with app.app_context():
        names = db.session().query(Complaint.reporter_name).filter(Complaint.reporter_name.isnot(None))
        assert names.count() == 0


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("kosong.csv", b"", "kosong"),
        ("gambar.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "bukan"),
        ("kolom.csv", b"Nama,Alamat\nBudi,Gresik\n", "kolom"),
    ],
)
def test_bad_upload_shows_message_and_saves_nothing(app, client, auth, name, data, message):
    recap_id = _create_recap(client, auth)
    response = _upload(client, auth, recap_id, name, data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).lower()
    assert _complaint_count(app) == 0


def test_upload_with_row_errors_cannot_be_confirmed(app, client, auth):
    recap_id = _create_recap(client, auth)
    data = (
        "ID Tracking,Tanggal Laporan,Judul Laporan,Kategori,Sumber,Instansi Tujuan,Status\n"
        "111,2026-11-02 08:00,Jalan rusak,Infrastruktur,Website,Dinas PU,Proses\n"
        "222,kemarin sore,Lampu mati,Infrastruktur,Website,Dinas PU,Proses\n"
    ).encode()
    response = _upload(client, auth, recap_id, "rusak.csv", data)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "kemarin sore" in page
    assert "Konfirmasi impor" not in page
    response = _confirm(client, auth, response.headers["Location"])
    assert response.status_code == 400
    assert _complaint_count(app) == 0


def test_export_without_period_rows_warns(app, client, auth):
    recap_id = _create_recap(client, auth)
    data = (
        "ID Tracking,Tanggal Laporan,Judul Laporan,Kategori,Sumber,Instansi Tujuan,Status\n"
        "111,2026-09-02 08:00,Jalan rusak,Infrastruktur,Website,Dinas PU,Proses\n"
    ).encode()
    response = _upload(client, auth, recap_id, "september.csv", data)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "tidak memuat laporan yang diterima pada periode November 2026" in page
    assert "hanya akan berisi pengaduan yang sudah diimpor sebelumnya" in page
    # A warning only: the rows can still be imported.
    assert "Konfirmasi impor" in page

    # Nothing earlier is still open, and nothing at all falls in the period.
    data = data.replace(b"2026-09-02", b"2026-12-02")
    response = _upload(client, auth, recap_id, "desember.csv", data)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "tidak akan berisi pengaduan dan belum dapat diajukan" in page

    data = data.replace(b"2026-12-02", b"2026-11-02")
    response = _upload(client, auth, recap_id, "november.csv", data)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "tidak memuat laporan yang diterima" not in page


def test_period_notice_counts_stored_complaints(app, client, auth):
    # November is imported; December's recap then gets a file without rows
    # for December, yet November's open complaints carry over.
    november = _create_recap(client, auth)
    data = (FIXTURES / "lapor-2026-11.csv").read_bytes()
    _confirm(client, auth, _upload(client, auth, november, "nov.csv", data).headers["Location"])
    december = _create_recap(client, auth, "2026-12")
    october_only = (
        "ID Tracking,Tanggal Laporan,Judul Laporan,Kategori,Sumber,Instansi Tujuan,Status,Tanggal Selesai\n"
        "555,2026-10-02 08:00,Jalan rusak,Infrastruktur,Website,Dinas PU,Selesai,2026-10-20 08:00\n"
    ).encode()
    response = _upload(client, auth, december, "oktober.csv", october_only)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "tidak memuat laporan yang diterima pada periode Desember 2026" in page
    assert "sudah diimpor sebelumnya" in page
    assert "belum dapat diajukan" not in page


def test_cancel_import_discards_upload(app, client, auth):
    recap_id = _create_recap(client, auth)
    response = _upload(client, auth, recap_id, "a.csv", (FIXTURES / "lapor-2026-11.csv").read_bytes())
    preview_url = response.headers["Location"]
    client.post(f"{preview_url}/batal", data={"csrf_token": auth.csrf_token(preview_url)})
    assert client.get(preview_url).status_code == 404
    assert _complaint_count(app) == 0


@pytest.mark.parametrize("username", ["kasi", "kabid", "kadis", "sysadmin"])
def test_only_admin_can_import(app, client, auth, username):
    recap_id = _create_recap(client, auth)
    auth.logout()
    auth.login(username)
    response = _upload(client, auth, recap_id, "a.csv", (FIXTURES / "lapor-2026-11.csv").read_bytes())
    assert response.status_code == 403
    assert _complaint_count(app) == 0


def test_duplicate_period_rejected(app, client, auth):
    _create_recap(client, auth)
    response = client.post("/rekap", data={"csrf_token": auth.csrf_token(), "period": "2026-11"})
    assert response.status_code == 409
    assert "sudah ada" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().query(Recap).count() == 1


def test_invalid_period_rejected(client, auth):
    auth.login("admin")
    response = client.post("/rekap", data={"csrf_token": auth.csrf_token(), "period": "2026-13"})
    assert response.status_code == 400
    assert "tidak valid" in response.get_data(as_text=True)


def test_document_numbers_follow_office_format(app, client, auth):
    _create_recap(client, auth, "2026-10")
    _create_recap(client, auth, "2026-11")
    with app.app_context():
        numbers = [r.number for r in db.session().query(Recap).order_by(Recap.id)]
    assert numbers == ["065.1/1/437.87/2026", "065.1/2/437.87/2026"]


def test_htmx_error_goes_to_message_area(client, auth):
    auth.login("admin")
    response = client.post(
        "/rekap",
        data={"csrf_token": auth.csrf_token(), "period": "salah"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#messages"
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert "tidak valid" in body


def test_htmx_upload_redirects_to_preview(client, auth):
    recap_id = _create_recap(client, auth)
    response = client.post(
        f"/rekap/{recap_id}/impor",
        data={
            "csrf_token": auth.csrf_token(f"/rekap/{recap_id}"),
            "file": (io.BytesIO((FIXTURES / "lapor-2026-11.csv").read_bytes()), "a.csv"),
        },
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith(f"/rekap/{recap_id}/impor/")


def test_htmx_upload_error_reaches_message_area(app, client, auth):
    recap_id = _create_recap(client, auth)
    response = client.post(
        f"/rekap/{recap_id}/impor",
        data={"csrf_token": auth.csrf_token(f"/rekap/{recap_id}"), "file": (io.BytesIO(b""), "x.csv")},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#messages"
    assert "kosong" in response.get_data(as_text=True).lower()
    assert _complaint_count(app) == 0


def test_upload_over_size_limit_rejected(app, client, auth):
    recap_id = _create_recap(client, auth)
    token = auth.csrf_token(f"/rekap/{recap_id}")
    boundary = "batas-uji"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{token}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="besar.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode() + b"x" * (50 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    # A prebuilt body keeps the test client from spooling it to a temporary file.
    response = client.post(
        f"/rekap/{recap_id}/impor",
        input_stream=io.BytesIO(body),
        content_length=len(body),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert "terlalu besar" in response.get_data(as_text=True)
    assert _complaint_count(app) == 0


@pytest.mark.parametrize("period", ["0000-01", "9999-12", "1999-12"])
def test_period_outside_supported_years_rejected(app, client, auth, period):
    auth.login("admin")
    response = client.post("/rekap", data={"csrf_token": auth.csrf_token(), "period": period})
    assert response.status_code == 400
    assert "tidak valid: tahun harus antara" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().query(Recap).count() == 0
