"""Shared fixtures: an app on a fresh database, a client and a login helper.

Every test that uses ``app`` runs on SQLite, and again on PostgreSQL when
SIGREKAP_TEST_POSTGRES_URL names a database (``make test`` sets it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from sigrekap import accounts, create_app, db, demo

POSTGRES_URL = os.environ.get("SIGREKAP_TEST_POSTGRES_URL")
FIXTURES = Path(
    os.environ.get(
        "SIGREKAP_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
)
if os.environ.get("CI") and not FIXTURES.is_dir():
    raise RuntimeError(
        f"Sample exports not found at {FIXTURES}; set SIGREKAP_FIXTURES to their folder."
    )
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # Argon2id with small costs keeps the suite fast; production keeps the
    # library's defaults.
    original = accounts.password_hasher
    accounts.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts.password_hasher = original


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db.upgrade_schema(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> str:
    assert POSTGRES_URL
    engine = db.make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    db.upgrade_schema(POSTGRES_URL)
    return POSTGRES_URL


def truncate_postgres(app) -> None:
    from sigrekap.db import Base

    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with app.extensions["sigrekap.engine"].begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-only-secret",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "CERTS_DIR": str(tmp_path / "certs"),
    }
    if request.param == "sqlite":
        database = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), database)
        config["DATABASE_URL"] = f"sqlite:///{database}"
    else:
        config["DATABASE_URL"] = request.getfixturevalue("postgres_schema")

    config["INSTANCE_PATH"] = str(instance)
    application = create_app(config)
    if request.param == "postgres":
        truncate_postgres(application)
    with application.app_context():
        demo.ensure_demo_office(db.session(), instance)
    yield application
    application.extensions["sigrekap.session"].remove()
    application.extensions["sigrekap.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def credentials(app) -> dict[str, dict[str, str]]:
    return demo.load_credentials(Path(app.instance_path))


CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class AuthActions:
    """Log demo users in and out through the real login form."""

    def __init__(self, client, credentials):
        self._client = client
        self._credentials = credentials

    def login(self, username: str = "admin", password: str | None = None):
        page = self._client.get("/masuk")
        token = csrf_token_from(page.get_data(as_text=True))
        if password is None:
            password = self._credentials[username]["password"]
        return self._client.post(
            "/masuk",
            data={"username": username, "password": password, "csrf_token": token},
        )

    def csrf_token(self, path: str = "/") -> str:
        return csrf_token_from(self._client.get(path).get_data(as_text=True))

    def logout(self):
        return self._client.post("/keluar", data={"csrf_token": self.csrf_token()})


@pytest.fixture
def auth(client, credentials) -> AuthActions:
    return AuthActions(client, credentials)


@pytest.fixture(scope="session", autouse=True)
def _fast_pkcs12_kdf():
    # Fewer PBKDF2 rounds for keys made in tests; the stored files carry
    # their own round count, so loading works the same.
    from sigrekap import pki

    original = pki.PKCS12_KDF_ROUNDS
    pki.PKCS12_KDF_ROUNDS = 2_000
    yield
    pki.PKCS12_KDF_ROUNDS = original


@pytest.fixture
def office_pki(app):
    """The office CA, seal and TSA keys, and a signing key per demo approver."""
    from sigrekap import cli, keys

    instance = Path(app.instance_path)
    with app.app_context():
        office = keys.ensure_office_pki(
            instance, Path(app.config["CERTS_DIR"]), demo.OFFICE_NAME
        )
        cli.prepare_demo(db.session(), instance, office)
    return office
