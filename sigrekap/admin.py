"""Sysadmin pages: users and the office settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from . import accounts, db, keys
from .auth import role_required
from .errors import UserError
from .models import ROLE_LABELS, ROLES, utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")

MAX_PKCS12_BYTES = 256 * 1024


def _user_form() -> dict[str, str]:
    fields = ("name", "role", "nip", "title")
    return {name: request.form.get(name, "") for name in fields}


@bp.route("/pengguna")
@role_required("sysadmin")
def users():  # type: ignore[no-untyped-def]
    """List the users."""
    return render_template(
        "admin/users.html",
        users=accounts.list_users(db.session()),
        role_labels=ROLE_LABELS,
    )


@bp.route("/pengguna/baru", methods=["GET", "POST"])
@role_required("sysadmin")
def create_user():  # type: ignore[no-untyped-def]
    """Create a user."""
    form = {"username": "", "name": "", "role": "admin", "nip": "", "title": ""}
    error = None
    if request.method == "POST":
        form = {"username": request.form.get("username", ""), **_user_form()}
        try:
            user = accounts.create_user(
                db.session(),
                current_user,
                password=request.form.get("password", ""),
                **form,
            )
        except UserError as exc:
            error = exc.message
        else:
            flash(f"Pengguna {user.username} dibuat.", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html",
        form=form,
        error=error,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        user=None,
    ), (422 if error else 200)


@bp.route("/pengguna/<int:user_id>", methods=["GET", "POST"])
@role_required("sysadmin")
def edit_user(user_id: int):  # type: ignore[no-untyped-def]
    """Edit a user's profile, role and active flag."""
    session = db.session()
    user = accounts.get_user(session, user_id)
    form = {
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "nip": user.nip or "",
        "title": user.title,
        "is_active": user.is_active,
    }
    error = None
    if request.method == "POST":
        form.update(_user_form())
        form["is_active"] = request.form.get("is_active") == "1"
        try:
            accounts.update_user(
                session,
                current_user,
                user_id,
                name=form["name"],
                role=form["role"],
                nip=form["nip"],
                title=form["title"],
                is_active=bool(form["is_active"]),
            )
        except UserError as exc:
            session.rollback()
            error = exc.message
        else:
            flash(f"Data pengguna {user.username} disimpan.", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html",
        form=form,
        error=error,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        user=user,
        key=keys.active_key(session, user),
        revoked_keys=keys.revoked_keys(session, user),
        revocation_reasons=keys.REVOCATION_REASONS,
        now_utc=utcnow(),
    ), (422 if error else 200)


@bp.route("/pengguna/<int:user_id>/kata-sandi", methods=["POST"])
@role_required("sysadmin")
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    """Set a new password for a user."""
    user = accounts.reset_password(
        db.session(), current_user, user_id, request.form.get("password", "")
    )
    flash(f"Kata sandi {user.username} diganti; sesi lamanya berakhir.", "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/kantor", methods=["GET", "POST"])
@role_required("sysadmin")
def office():  # type: ignore[no-untyped-def]
    """Edit the office profile printed on recaps."""
    session = db.session()
    setting = accounts.get_office(session)
    error = None
    if request.method == "POST":
        logo = request.files.get("logo")
        logo_bytes = (
            logo.read(accounts.MAX_LOGO_BYTES + 1) if logo and logo.filename else None
        )
        try:
            threshold = int(request.form.get("open_threshold_days", "0"))
        except ValueError:
            threshold = 0
        try:
            accounts.update_office(
                session,
                current_user,
                name=request.form.get("name", ""),
                letterhead=request.form.get("letterhead", ""),
                address=request.form.get("address", ""),
                city=request.form.get("city", ""),
                number_format=request.form.get("number_format", ""),
                open_threshold_days=threshold,
                is_reporter_identity_stored=request.form.get("store_identity") == "1",
                logo_png=logo_bytes,
                remove_logo=request.form.get("remove_logo") == "1",
            )
        except UserError as exc:
            session.rollback()
            error = exc.message
        else:
            flash("Pengaturan kantor disimpan.", "success")
            return redirect(url_for("admin.office"))
    return render_template("admin/office.html", office=setting, error=error), (
        422 if error else 200
    )


def _office_pki() -> keys.OfficePKI:
    return keys.load_office_pki(Path(current_app.instance_path))


@bp.route("/pengguna/<int:user_id>/kunci/cabut", methods=["POST"])
@role_required("sysadmin")
def revoke_key(user_id: int):  # type: ignore[no-untyped-def]
    """Revoke a user's signing key; they set a new passphrase on next use."""
    keys.revoke_key(db.session(), current_user, user_id, request.form.get("reason", ""))
    flash(
        "Kunci dicabut. Pengguna membuat kunci baru dengan frasa sandi baru di "
        "halaman Kunci tanda tangan.",
        "success",
    )
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/pengguna/<int:user_id>/kunci/<int:key_id>/alasan", methods=["POST"])
@role_required("sysadmin")
def change_revocation_reason(user_id: int, key_id: int):  # type: ignore[no-untyped-def]
    """Set or escalate the reason of a revoked key."""
    keys.change_revocation_reason(
        db.session(), current_user, user_id, key_id, request.form.get("reason", "")
    )
    flash("Alasan pencabutan kunci disimpan.", "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/pengguna/<int:user_id>/kunci/impor", methods=["POST"])
@role_required("sysadmin")
def import_key(user_id: int):  # type: ignore[no-untyped-def]
    """Store an externally issued PKCS#12 for a user."""
    upload = request.files.get("pkcs12")
    if upload is None or not upload.filename:
        raise UserError("Pilih berkas PKCS#12 (.p12 atau .pfx) terlebih dahulu.")
    data = upload.read(MAX_PKCS12_BYTES + 1)
    if len(data) > MAX_PKCS12_BYTES:
        raise UserError("Berkas PKCS#12 terlalu besar (maksimal 256 KB).")
    keys.import_external_key(
        db.session(),
        current_user,
        user_id,
        data,
        request.form.get("passphrase", ""),
        _office_pki(),
        Path(current_app.config["CERTS_DIR"]),
    )
    flash(
        "Kunci eksternal diimpor dan CA penerbitnya ditambahkan ke certs/.", "success"
    )
    return redirect(url_for("admin.edit_user", user_id=user_id))


def _parse_date(text: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"Tanggal {label} tidak valid; gunakan format TTTT-BB-HH.") from None


@bp.route("/penunjukan", methods=["GET", "POST"])
@role_required("sysadmin")
def appointments():  # type: ignore[no-untyped-def]
    """List and create Plt./Plh. appointments for approving roles."""
    session = db.session()
    error = None
    if request.method == "POST":
        try:
            accounts.create_appointment(
                session,
                current_user,
                user_id=int(request.form.get("user_id") or 0),
                role=request.form.get("role", ""),
                kind=request.form.get("kind", ""),
                starts_on=_parse_date(request.form.get("starts_on", ""), "mulai"),
                ends_on=_parse_date(request.form.get("ends_on", ""), "selesai"),
            )
        except UserError as exc:
            session.rollback()
            error = exc.message
        else:
            flash("Penunjukan disimpan.", "success")
            return redirect(url_for("admin.appointments"))
    candidates = [
        user
        for user in accounts.list_users(session)
        if user.is_active and user.role in accounts.APPROVING_ROLES
    ]
    return render_template(
        "admin/appointments.html",
        appointments=accounts.list_appointments(session),
        candidates=candidates,
        kinds=accounts.APPOINTMENT_KINDS,
        role_labels=ROLE_LABELS,
        roles=accounts.APPROVING_ROLES,
        today=dt.date.today(),
        error=error,
    ), (422 if error else 200)


@bp.route("/penunjukan/<int:appointment_id>/akhiri", methods=["POST"])
@role_required("sysadmin")
def end_appointment(appointment_id: int):  # type: ignore[no-untyped-def]
    """End an appointment."""
    accounts.end_appointment(db.session(), current_user, appointment_id)
    flash("Penunjukan diakhiri.", "success")
    return redirect(url_for("admin.appointments"))


@bp.route("/pengguna/<int:user_id>/kunci/buka-blokir", methods=["POST"])
@role_required("sysadmin")
def unblock_key(user_id: int):  # type: ignore[no-untyped-def]
    """Lift a user's signing-key lockout."""
    keys.unlock_key(db.session(), current_user, user_id)
    flash("Blokir kunci tanda tangan dibuka.", "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))
