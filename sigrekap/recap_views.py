"""Recap pages: inbox, recap detail, import, statistics and draft downloads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from . import accounts, db, importing, keys, recaps, workflow
from .auth import role_required
from .charts import all_charts, drawing_to_svg
from .errors import NotFoundError, UserError
from .models import ROLE_LABELS, Revision
from .storage import StorageIntegrityError
from .web import is_htmx, render_page

bp = Blueprint("recaps", __name__)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload_dir() -> Path:
    return Path(current_app.instance_path) / "uploads"


def _max_import_bytes() -> int:
    return int(current_app.config["IMPORT_MAX_BYTES"])


@bp.route("/")
@role_required()
def inbox():  # type: ignore[no-untyped-def]
    """Show what waits for the user, counts per state, then every recap."""
    session = db.session()
    return render_page(
        "recaps/inbox.html",
        "recaps/_inbox_list.html",
        waiting=workflow.inbox_recaps(session, current_user),
        state_counts=recaps.count_by_status(session),
        recaps=recaps.list_recaps(session),
        status_labels=recaps.STATUS_LABELS,
        default_period=_previous_month(),
    )


@bp.route("/kotak-masuk/jumlah")
@role_required()
def inbox_badge():  # type: ignore[no-untyped-def]
    """Return the nav badge with the number of recaps waiting for the user."""
    waiting = workflow.inbox_recaps(db.session(), current_user)
    return render_template("recaps/_inbox_badge.html", count=len(waiting))


def _previous_month() -> str:
    first = dt.date.today().replace(day=1)
    last_month = first - dt.timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


@bp.route("/rekap", methods=["POST"])
@role_required("admin")
def create():  # type: ignore[no-untyped-def]
    """Create a recap for a period."""
    recap = recaps.create_recap(
        db.session(), current_user, request.form.get("period", "")
    )
    flash(f"Rekapitulasi {recap.number} dibuat.", "success")
    return redirect(url_for("recaps.detail", recap_id=recap.id))


@bp.route("/rekap/<int:recap_id>")
@role_required()
def detail(recap_id: int):  # type: ignore[no-untyped-def]
    """Show a recap: status, actions, statistics summary, timeline and revisions."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    return render_template(
        "recaps/detail.html",
        recap=recap,
        period=recaps.period_of(recap),
        stats=recaps.recap_statistics(session, recap),
        imports=importing.list_imports(session, recap),
        actions=workflow.available_actions(session, current_user, recap),
        timeline=workflow.timeline(session, recap),
        revisions=workflow.revisions_of(session, recap),
        has_key=keys.active_key(session, current_user) is not None,
        leaked_key_problem=workflow.leaked_key_problem(session, recap),
        status_labels=recaps.STATUS_LABELS,
        action_labels=workflow.ACTION_LABELS,
        revision_labels=workflow.REVISION_LABELS,
        role_labels=ROLE_LABELS,
    )


@bp.route("/rekap/<int:recap_id>/statistik")
@role_required()
def statistics(recap_id: int):  # type: ignore[no-untyped-def]
    """Show the statistics of a recap with its charts."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    stats = recaps.recap_statistics(session, recap)
    charts = [(title, drawing_to_svg(drawing)) for title, drawing in all_charts(stats)]
    return render_template(
        "recaps/statistics.html",
        recap=recap,
        period=recaps.period_of(recap),
        stats=stats,
        charts=charts,
    )


@bp.route("/rekap/<int:recap_id>/impor", methods=["POST"])
@role_required("admin")
def upload(recap_id: int):  # type: ignore[no-untyped-def]
    """Parse an uploaded export and show the preview; nothing is saved yet."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    file = request.files.get("file")
    if file is None or not file.filename:
        raise UserError("Pilih berkas ekspor LAPOR! (.xlsx atau .csv) terlebih dahulu.")
    data = file.read(_max_import_bytes() + 1)
    preview = importing.preview_import(
        session,
        current_user,
        recap,
        file.filename,
        data,
        _upload_dir(),
        max_bytes=_max_import_bytes(),
    )
    target = url_for("recaps.preview", recap_id=recap.id, token=preview.token)
    if is_htmx():
        # htmx posted the upload with a progress bar; the browser then loads
        # the preview as a normal page.
        return Response("", headers={"HX-Redirect": target})
    return redirect(target)


@bp.route("/rekap/<int:recap_id>/impor/<token>")
@role_required("admin")
def preview(recap_id: int, token: str):  # type: ignore[no-untyped-def]
    """Show a kept upload's column mapping, counts and problems."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    preview = importing.load_preview(
        session,
        current_user,
        recap,
        token,
        _upload_dir(),
        max_bytes=_max_import_bytes(),
    )
    return render_template(
        "recaps/preview.html",
        recap=recap,
        preview=preview,
        period=recaps.period_of(recap),
    )


@bp.route("/rekap/<int:recap_id>/impor/<token>/konfirmasi", methods=["POST"])
@role_required("admin")
def confirm(recap_id: int, token: str):  # type: ignore[no-untyped-def]
    """Save a previewed import."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    batch = importing.confirm_import(
        session,
        current_user,
        recap,
        token,
        _upload_dir(),
        max_bytes=_max_import_bytes(),
    )
    flash(
        f"Impor selesai: {batch.created_count} pengaduan baru, "
        f"{batch.updated_count} diperbarui.",
        "success",
    )
    return redirect(url_for("recaps.statistics", recap_id=recap.id))


@bp.route("/rekap/<int:recap_id>/impor/<token>/batal", methods=["POST"])
@role_required("admin")
def cancel_import(recap_id: int, token: str):  # type: ignore[no-untyped-def]
    """Throw a previewed upload away."""
    importing.discard_preview(_upload_dir(), token)
    flash("Impor dibatalkan; tidak ada data yang disimpan.", "info")
    return redirect(url_for("recaps.detail", recap_id=recap_id))


def _draft_documents(recap_id: int) -> tuple[recaps.Recap, bytes, bytes]:
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    pdf, workbook = recaps.render_documents(
        session, recap, current_app.config["PUBLIC_BASE_URL"]
    )
    return recap, pdf, workbook


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/rekap/<int:recap_id>/konsep.pdf")
@role_required()
def draft_pdf(recap_id: int):  # type: ignore[no-untyped-def]
    """Download the draft recap PDF rendered from the current data."""
    recap, pdf, _ = _draft_documents(recap_id)
    return _download(pdf, "application/pdf", f"konsep-rekap-{recap.period}.pdf")


@bp.route("/rekap/<int:recap_id>/konsep.xlsx")
@role_required()
def draft_workbook(recap_id: int):  # type: ignore[no-untyped-def]
    """Download the recap workbook rendered from the current data."""
    recap, _, workbook = _draft_documents(recap_id)
    return _download(workbook, XLSX_MIME, f"rekap-{recap.period}.xlsx")


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


def _expected_version() -> int:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        raise UserError(
            "Formulir tidak lengkap. Muat ulang halaman lalu coba lagi."
        ) from None


@bp.route("/rekap/<int:recap_id>/ajukan", methods=["POST"])
@role_required("admin")
def submit(recap_id: int):  # type: ignore[no-untyped-def]
    """Seal the draft and send it to the Section Head."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    workflow.submit(
        session, _signing_settings(), current_user, recap, _expected_version()
    )
    flash("Konsep diajukan kepada Kepala Seksi.", "success")
    return redirect(url_for("recaps.detail", recap_id=recap.id))


@bp.route("/rekap/<int:recap_id>/setujui", methods=["POST"])
@role_required("kasi", "kabid", "kadis")
def approve(recap_id: int):  # type: ignore[no-untyped-def]
    """Add the user's paraf or signature after checking their passphrase."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    workflow.approve(
        session,
        _signing_settings(),
        current_user,
        recap,
        _expected_version(),
        request.form.get("passphrase", ""),
    )
    done = "ditandatangani" if recap.status == "signed" else "diparaf"
    flash(f"Rekapitulasi {recap.number} berhasil {done}.", "success")
    return redirect(url_for("recaps.detail", recap_id=recap.id))


@bp.route("/rekap/<int:recap_id>/tolak", methods=["POST"])
@role_required("kasi", "kabid", "kadis")
def reject(recap_id: int):  # type: ignore[no-untyped-def]
    """Send the recap back one level with a reason."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    workflow.reject(
        session,
        current_user,
        recap,
        _expected_version(),
        request.form.get("reason", ""),
    )
    flash("Rekapitulasi dikembalikan satu tingkat beserta alasannya.", "success")
    return redirect(url_for("recaps.detail", recap_id=recap.id))


@bp.route("/rekap/<int:recap_id>/arsipkan", methods=["POST"])
@role_required("admin")
def archive(recap_id: int):  # type: ignore[no-untyped-def]
    """Archive the signed recap."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    workflow.archive(
        session, _signing_settings(), current_user, recap, _expected_version()
    )
    flash(f"Rekapitulasi {recap.number} diarsipkan.", "success")
    return redirect(url_for("recaps.detail", recap_id=recap.id))


@bp.route("/rekap/<int:recap_id>/revisi/<int:revision_id>.pdf")
@role_required()
def revision_pdf(recap_id: int, revision_id: int):  # type: ignore[no-untyped-def]
    """Download one stored revision, checked against its SHA-256."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    revision = session.get(Revision, revision_id)
    if revision is None or revision.recap_id != recap.id:
        raise NotFoundError("Revisi tidak ditemukan.")
    data = workflow.read_revision(_signing_settings(), revision)
    name = f"rekap-{recap.period}-r{revision.id}-{revision.kind}.pdf"
    return _download(data, "application/pdf", name)


@bp.route("/rekap/<int:recap_id>/revisi/<int:revision_id>.xlsx")
@role_required()
def revision_workbook(recap_id: int, revision_id: int):  # type: ignore[no-untyped-def]
    """Download the workbook embedded in a stored revision."""
    session = db.session()
    recap = recaps.get_recap(session, recap_id)
    revision = session.get(Revision, revision_id)
    if (
        revision is None
        or revision.recap_id != recap.id
        or not revision.workbook_sha256
    ):
        raise NotFoundError("Berkas Excel tidak ditemukan.")
    try:
        data = _signing_settings().store.get(revision.workbook_sha256)
    except StorageIntegrityError as exc:
        raise UserError("Berkas Excel tersimpan rusak atau hilang.") from exc
    return _download(data, XLSX_MIME, f"rekap-{recap.period}.xlsx")


@bp.route("/kunci", methods=["GET", "POST"])
@role_required("kasi", "kabid", "kadis")
def signing_key():  # type: ignore[no-untyped-def]
    """Show the user's signing key, or let them set a passphrase for a new one."""
    session = db.session()
    error = None
    if request.method == "POST":
        settings = _signing_settings()
        try:
            keys.create_key(
                session,
                current_user,
                settings.office_pki,
                settings.office_name,
                request.form.get("passphrase", ""),
                request.form.get("confirmation", ""),
                crl_url=settings.base_url.rstrip("/") + keys.CRL_PATH,
            )
        except UserError as exc:
            session.rollback()
            error = exc.message
        else:
            flash(
                "Kunci tanda tangan Anda dibuat. Simpan frasa sandi dengan baik.",
                "success",
            )
            return redirect(url_for("recaps.signing_key"))
    key = keys.active_key(session, current_user)
    return render_template("recaps/signing_key.html", key=key, error=error), (
        422 if error else 200
    )
