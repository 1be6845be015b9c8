"""SigRekap: approval and signing of the monthly LAPOR! complaint recap."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "SIGREKAP_INSTANCE", str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(
        DATABASE_URL=None,
        CERTS_DIR=str(ROOT / "certs"),
        STORAGE_DIR=None,
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
        IMPORT_MAX_BYTES=20 * 1024 * 1024,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        SESSION_IDLE_MINUTES=60,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        PUBLIC_BASE_URL="http://127.0.0.1:5000",
        TSA_URL=None,
        TSA_TIMEOUT=10.0,
        VERIFY_UPLOADS_PER_MINUTE=20,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("SIGREKAP")
    else:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or _instance_secret(
        instance
    )
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'sigrekap.db'}"
    if not app.config["STORAGE_DIR"]:
        app.config["STORAGE_DIR"] = str(instance / "storage")

    if not app.testing:
        configure_logging(app)

    from . import (
        admin,
        archive_views,
        auth,
        cli,
        db,
        errors,
        recap_views,
        tsa_views,
        verify_views,
        web,
    )

    db.init_app(app)
    web.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    verify_views.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(recap_views.bp)
    app.register_blueprint(tsa_views.bp)
    app.register_blueprint(verify_views.bp)
    app.register_blueprint(archive_views.bp)
    return app


def _instance_secret(instance: Path) -> str:
    """Return the instance's session secret, creating it on first start."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def configure_logging(app: Flask) -> None:
    """Send INFO and above from the sigrekap loggers to standard error."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    package_logger = logging.getLogger("sigrekap")
    if not package_logger.handlers:
        package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
