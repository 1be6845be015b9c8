import time

import pytest

from sigrekap import accounts, db
from sigrekap.models import User


def test_login_page_renders(client):
    response = client.get("/masuk")
    assert response.status_code == 200
    assert "Masuk ke SigRekap" in response.get_data(as_text=True)


def test_login_redirects_to_inbox(client, auth):
    response = auth.login("admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Menunggu tindakan Anda" in client.get("/").get_data(as_text=True)


def test_login_wrong_password_rejected(client, auth):
    response = auth.login("admin", password="salah-sekali-123")
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_rejected(client, credentials):
    response = client.post(
        "/masuk",
        data={"username": "admin", "password": credentials["admin"]["password"]},
    )
    assert response.status_code == 400
    assert "token keamanan" in response.get_data(as_text=True)


def test_login_ignores_external_next(client, auth, credentials):
    page = client.get("/masuk?next=https://evil.example/")
    from conftest import csrf_token_from

    response = client.post(
        "/masuk?next=https://evil.example/",
        data={
            "username": "admin",
            "password": credentials["admin"]["password"],
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/", "/admin/pengguna", "/admin/kantor", "/kunci"])
def test_pages_require_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/masuk")


def test_logout_ends_session(client, auth):
    auth.login("admin")
    auth.logout()
    assert client.get("/").status_code == 302


def test_idle_session_expires(app, client, auth):
    auth.login("admin")
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - app.config["SESSION_IDLE_MINUTES"] * 60 - 5
    assert client.get("/").status_code == 302


def test_deactivated_user_loses_session(app, client, auth):
    auth.login("kasi")
    assert client.get("/").status_code == 200
    with app.app_context():
        session = db.session()
        sysadmin = session.query(User).filter_by(username="sysadmin").one()
        kasi = session.query(User).filter_by(username="kasi").one()
        accounts.update_user(
            session, sysadmin, kasi.id, name=kasi.name, role=kasi.role,
            nip=kasi.nip, title=kasi.title, is_active=False,
        )
    assert client.get("/").status_code == 302


def test_password_is_hashed_with_argon2(app):
    with app.app_context():
        user = db.session().query(User).filter_by(username="admin").one()
        assert user.password_hash.startswith("$argon2id$")


def test_security_headers_present(client):
    response = client.get("/masuk")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]



def test_repeated_wrong_passwords_block_login(client, auth, caplog):
    for _ in range(5):
        assert auth.login("kadis", password="tebakan-salah-1").status_code == 401
    response = auth.login("kadis")
    assert response.status_code == 429
    assert "Tunggu lima menit" in response.get_data(as_text=True)
    assert "blocked after 5 wrong passwords" in caplog.text


def test_successful_login_resets_failures(app, client, auth):
    for _ in range(4):
        auth.login("kasi", password="tebakan-salah-1")
    assert auth.login("kasi").status_code == 302
    with app.app_context():
        assert db.session().query(User).filter_by(username="kasi").one().failed_logins == 0
