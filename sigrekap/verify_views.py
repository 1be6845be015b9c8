"""Public verification pages: upload a signed PDF or open a verification code.

None of these pages needs a login. Uploads are recognised as PDF by their
content, never by their name, and are limited by the app's
MAX_CONTENT_LENGTH and, per client address, by VERIFY_UPLOADS_PER_MINUTE.
Every form posts with a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.hashes import SHA256
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from . import accounts, db, keys, recaps, workflow
from .errors import UserError
from .models import ROLE_LABELS, Recap
from .ratelimit import SlidingWindowLimiter
from .signing import format_indonesian_datetime
from .verify import (
    CHANGES_LABELS,
    REVOCATION_LABELS,
    ArchiveMatch,
    VerificationReport,
    find_recap_by_code,
    match_archive,
    normalize_verification_code,
    verify_pdf,
)
from .web import is_htmx

logger = logging.getLogger(__name__)

bp = Blueprint("verify", __name__)

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
CERTIFICATE_KIND_LABELS = {
    "seal": "Sertifikat segel kantor",
    "personal": "Sertifikat pribadi",
    "other": "Sertifikat lain (bukan pribadi dan bukan segel kantor)",
}
NO_FILE_MESSAGE = "Pilih berkas PDF yang akan diperiksa terlebih dahulu."
#: Verification reports kept at most, and for how many seconds. A report can
#: lag that long behind an expiring certificate.
REPORT_CACHE_ENTRIES = 256
REPORT_CACHE_SECONDS = 600


class _ReportCache:
    """Verification reports by key, each kept for ``seconds``, oldest dropped first."""

    def __init__(self, entries: int, seconds: float) -> None:
        self.entries = entries
        self.seconds = seconds
        self._items: OrderedDict[tuple[str, ...], tuple[float, VerificationReport]]
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> VerificationReport | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            return item[1]

    def put(self, key: tuple[str, ...], report: VerificationReport) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic() + self.seconds, report)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


def init_app(app: Flask) -> None:
    """Create the rate limiters of public uploads from the app's configuration."""
    value = app.config["VERIFY_UPLOADS_PER_MINUTE"]
    try:
        limit = int(str(value).strip())
    except ValueError:
        limit = 0
    if limit < 1:
        raise RuntimeError(
            f"VERIFY_UPLOADS_PER_MINUTE must be a whole number of at least 1, "
            f"not {value!r}"
        )
    app.config["VERIFY_UPLOADS_PER_MINUTE"] = limit
    app.extensions["sigrekap_report_cache"] = _ReportCache(
        REPORT_CACHE_ENTRIES, REPORT_CACHE_SECONDS
    )
    app.extensions["sigrekap_rate_limiters"] = {
        "verify_upload": SlidingWindowLimiter(limit, 60),
        # One log line per client and minute, however many requests it sends.
        "verify_upload_log": SlidingWindowLimiter(1, 60),
    }


@bp.get("/verifikasi")
def index():  # type: ignore[no-untyped-def]
    """Show the upload form; a code typed in the code form opens its recap."""
    code = request.args.get("kode", "").strip()
    if code:
        normalized = normalize_verification_code(code) or "-"
        return redirect(url_for("verify.recap_page", code=normalized))
    return render_template("verify/index.html", **_page_context())


@bp.post("/verifikasi")
def upload():  # type: ignore[no-untyped-def]
    """Verify an uploaded PDF and look it up in the archive."""
    return _verify_upload("verify/index.html", _page_context)


@bp.get("/verifikasi/<code>")
def recap_page(code: str):  # type: ignore[no-untyped-def]
    """Show a recap found by its code, with the verdict on its current revision."""
    recap = find_recap_by_code(db.session(), code)
    if recap is None:
        return _not_found(code)
    return render_template("verify/recap.html", **_recap_context(recap))


@bp.post("/verifikasi/<code>")
def compare(code: str):  # type: ignore[no-untyped-def]
    """Verify an uploaded file and compare it with this recap's archive."""
    recap = find_recap_by_code(db.session(), code)
    if recap is None:
        return _not_found(code)
    return _verify_upload(
        "verify/recap.html", lambda: _recap_context(recap), recap=recap
    )


@bp.get("/verifikasi/<code>/laporan.json")
def report_json(code: str):  # type: ignore[no-untyped-def]
    """Download the verification report of a recap's current revision as JSON."""
    recap = find_recap_by_code(db.session(), code)
    if recap is None:
        message = (
            "Kode verifikasi tidak ditemukan. Periksa kode pada kaki halaman "
            "atau kode QR dokumen."
        )
        return jsonify({"error": message}), 404
    context = _recap_context(recap)
    document = {
        "recap": _recap_summary(recap),
        "revision": _revision_summary(context["current"]),
        "storage_error": context["storage_error"],
        "verification": (
            context["report"].to_dict() if context["report"] is not None else None
        ),
        "history": _history_summary(context["history"]),
    }
    response = Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="verifikasi-{recap.verification_code}.json"'
    )
    return response


# Request handling


def _verify_upload(
    page: str,
    page_context: Callable[[], dict[str, Any]],
    *,
    recap: Recap | None = None,
):  # type: ignore[no-untyped-def]
    # The page context is built only for full-page responses, because the
    # recap page verifies the stored revision too.
    upload = request.files.get("berkas")
    data = upload.read() if upload is not None else b""
    if upload is None or (not upload.filename and not data):
        if is_htmx():
            return render_template("_messages.html", errors=[NO_FILE_MESSAGE]), 422
        return render_template(page, **page_context(), form_error=NO_FILE_MESSAGE), 422

    # Each verification of a recap takes roughly 0.1 to 0.2 s of CPU (see
    # bench/bench_verify.py), so uploads are rate-limited per client address.
    wait = _upload_limiter().hit(request.remote_addr or "-")
    if wait:
        return _too_many_uploads(page, page_context, wait)
    report = _verify(data)
    match = match_archive(db.session(), report.sha256) if report.sha256 else None
    logger.info(
        "Verified upload sha256=%s size=%d status=%s archive_revision=%s",
        report.sha256,
        len(data),
        report.status,
        match.revision.id if match else None,
    )
    result = _result_context(report, match, compared_with=recap)
    if is_htmx():
        return render_template("verify/_result.html", **result)
    return render_template(page, **{**page_context(), **result})


def _upload_limiter() -> SlidingWindowLimiter:
    return current_app.extensions["sigrekap_rate_limiters"]["verify_upload"]


def _too_many_uploads(page: str, page_context: Callable[[], dict[str, Any]], wait: int):  # type: ignore[no-untyped-def]
    client = request.remote_addr or "-"
    log_limiter = current_app.extensions["sigrekap_rate_limiters"]["verify_upload_log"]
    if not log_limiter.hit(client):
        logger.warning(
            "Verification uploads from %s over the limit of %s a minute; "
            "rejecting for %s s",
            client,
            current_app.config["VERIFY_UPLOADS_PER_MINUTE"],
            wait,
        )
    message = (
        "Terlalu banyak berkas diperiksa dari alamat ini dalam satu menit. "
        f"Coba lagi dalam {wait} detik."
    )
    headers = {"Retry-After": str(wait)}
    if is_htmx():
        return render_template("_messages.html", errors=[message]), 429, headers
    return render_template(page, **page_context(), form_error=message), 429, headers


def _not_found(code: str):  # type: ignore[no-untyped-def]
    return render_template("verify/not_found.html", code=code, **_page_context()), 404


def _trust_roots() -> list[Any]:
    return keys.trust_roots(Path(current_app.config["CERTS_DIR"]))


def _verify(data: bytes) -> VerificationReport:
    """Verify a PDF, reusing a recent report of the same bytes.

    Every open of a verification code verifies the stored PDF again, so
    reports are kept for REPORT_CACHE_SECONDS, keyed by the file's SHA-256,
    the trust anchors and the revocation state.
    """
    roots = _trust_roots()
    key = (
        hashlib.sha256(data).hexdigest(),
        hashlib.sha256(
            b"".join(root.fingerprint(SHA256()) for root in roots)
        ).hexdigest(),
        keys.revocation_state(db.session()),
    )
    cache = current_app.extensions["sigrekap_report_cache"]
    report = cache.get(key)
    if report is None:
        revocation = keys.revocation_data(db.session(), Path(current_app.instance_path))
        report = verify_pdf(
            data, roots, crls=revocation.crls, revoked=revocation.revoked
        )
        cache.put(key, report)
    return report


@bp.get(keys.CRL_PATH)
def crl():  # type: ignore[no-untyped-def]
    """Serve the office CA's current CRL, built from the revoked keys."""
    try:
        office_pki = keys.load_office_pki(Path(current_app.instance_path))
    except UserError:
        return Response("CRL belum tersedia.", status=404, mimetype="text/plain")
    response = Response(
        keys.office_crl(db.session(), office_pki), mimetype="application/pkix-crl"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="sigrekap-ca.crl"'
    response.headers["Cache-Control"] = "no-cache"
    return response


def _signing_settings() -> workflow.SigningSettings:
    """Return the app's signing settings, built on first use."""
    cached = current_app.extensions.get("sigrekap.signing")
    if cached is None:
        office = accounts.get_office(db.session())
        cached = workflow.settings_from_config(
            current_app.config, Path(current_app.instance_path), office.name
        )
        current_app.extensions["sigrekap.signing"] = cached
    return cached


# Template context


def _page_context() -> dict[str, Any]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return {
        "max_upload_mb": limit // (1024 * 1024),
        "format_time": format_time,
        "role_labels": ROLE_LABELS,
        "changes_labels": CHANGES_LABELS,
        "revocation_labels": REVOCATION_LABELS,
        "certificate_kind_labels": CERTIFICATE_KIND_LABELS,
        "action_labels": workflow.ACTION_LABELS,
        "revision_labels": workflow.REVISION_LABELS,
        "status_labels": recaps.STATUS_LABELS,
    }


def _recap_context(recap: Recap) -> dict[str, Any]:
    """Verify the recap's current stored revision and collect its history."""
    session = db.session()
    current = recap.current_revision
    report: VerificationReport | None = None
    storage_error = None
    if current is not None:
        try:
            data = workflow.read_revision(_signing_settings(), current)
        except UserError as exc:
            storage_error = exc.message
        else:
            report = _verify(data)
    return {
        **_page_context(),
        "recap": recap,
        "period": recaps.period_of(recap),
        "current": current,
        "report": report,
        "storage_error": storage_error,
        "history": workflow.timeline(session, recap),
        "json_url": url_for("verify.report_json", code=recap.verification_code),
    }


def _result_context(
    report: VerificationReport,
    match: ArchiveMatch | None,
    *,
    compared_with: Recap | None,
) -> dict[str, Any]:
    session = db.session()
    history = workflow.timeline(session, match.recap) if match else []
    document = {
        "verification": report.to_dict(),
        "archive": _match_summary(match),
    }
    return {
        **_page_context(),
        "result": report,
        "match": match,
        "match_period": recaps.period_of(match.recap) if match else None,
        "match_history": history,
        "compared_with": compared_with,
        "result_json": json.dumps(document, indent=2, ensure_ascii=False),
    }


def format_time(moment: dt.datetime | None) -> str:
    """Format a time in WIB, reading a naive time as UTC as the database stores it."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_indonesian_datetime(moment.astimezone(WIB))


# JSON documents


def _recap_summary(recap: Recap) -> dict[str, Any]:
    return {
        "number": recap.number,
        "period": recap.period,
        "status": recap.status,
        "status_label": recaps.STATUS_LABELS.get(recap.status, recap.status),
        "verification_code": recap.verification_code,
        "verification_url": (
            f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}"
            f"/verifikasi/{recap.verification_code}"
        ),
    }


def _revision_summary(revision: Any) -> dict[str, Any] | None:
    if revision is None:
        return None
    return {
        "kind": revision.kind,
        "label": workflow.REVISION_LABELS.get(revision.kind, revision.kind),
        "sha256": revision.sha256,
        "size": revision.size,
        "created": revision.created_dt.replace(tzinfo=dt.UTC).isoformat(),
    }


def _history_summary(history: list[workflow.TimelineEntry]) -> list[dict[str, Any]]:
    # NOTE: rejection reasons are internal notes, so the public page and
    # its report leave them out.
    return [
        {
            "at": entry.at.replace(tzinfo=dt.UTC).isoformat(),
            "actor": entry.actor,
            "role": entry.role,
            "action": entry.action,
            "action_label": workflow.ACTION_LABELS.get(entry.action, entry.action),
            "to_status": entry.to_status,
        }
        for entry in history
    ]


def _match_summary(match: ArchiveMatch | None) -> dict[str, Any] | None:
    if match is None:
        return None
    return {
        "recap": _recap_summary(match.recap),
        "revision": _revision_summary(match.revision),
        "is_current": match.is_current,
    }
