"""Exception tree and the handlers that turn exceptions into pages."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from . import db
from .web import is_htmx

logger = logging.getLogger(__name__)


class SigRekapError(Exception):
    """Base class of the application's own errors."""


class UserError(SigRekapError):
    """An error whose message is safe to show to the user, in Indonesian."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDeniedError(UserError):
    status_code = 403


class NotFoundError(UserError):
    status_code = 404


class ConflictError(UserError):
    """A stale or repeated request that the current state no longer allows."""

    status_code = 409


HTTP_MESSAGES = {
    400: "Permintaan tidak dapat diproses. Periksa isian lalu coba lagi.",
    403: "Anda tidak berwenang membuka halaman ini.",
    404: "Halaman yang Anda cari tidak ditemukan.",
    405: "Metode permintaan ini tidak diizinkan untuk alamat tersebut.",
    413: "Berkas terlalu besar. Unggah berkas yang lebih kecil dari batas yang tertera.",
    429: "Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.",
    500: "Terjadi kesalahan pada server. Data Anda tidak berubah; coba lagi "
    "atau hubungi administrator sistem.",
}


def render_error(message: str, status: int):  # type: ignore[no-untyped-def]
    """Render an error as a full page, or as a message fragment for htmx."""
    if is_htmx():
        body = render_template("_messages.html", errors=[message])
        # htmx swaps error responses because the base template configures
        # responseHandling; the headers send the message to the message area.
        headers = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
        return body, status, headers
    return render_template("error.html", message=message, status=status), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(UserError)
    def _user_error(error: UserError):  # type: ignore[no-untyped-def]
        db.session().rollback()
        return render_error(error.message, error.status_code)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        code = error.code or 500
        if code == 400 and "CSRF" in (error.description or ""):
            message = (
                "Sesi formulir sudah kedaluwarsa atau token keamanan tidak valid. "
                "Muat ulang halaman lalu kirim lagi."
            )
        else:
            message = HTTP_MESSAGES.get(code, error.name)
        return render_error(message, code)

    @app.errorhandler(Exception)
    def _unexpected_error(error: Exception):  # type: ignore[no-untyped-def]
        if app.testing and app.config.get("PROPAGATE_UNEXPECTED", True):
            raise error
        db.session().rollback()
        logger.exception("Unhandled error while serving a request")
        return render_error(HTTP_MESSAGES[500], 500)
