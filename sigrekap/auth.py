"""Login, logout, session expiry and role checks for views."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user

from . import accounts, db
from .errors import PermissionDeniedError
from .models import User

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Silakan masuk terlebih dahulu."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_key: str) -> User | None:
    """Load the user of a session; a changed session version ends the session."""
    user_id, _, version = user_key.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session().get(User, int(user_id))
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


def init_app(app: Flask) -> None:
    """Set up Flask-Login and the idle timeout."""
    login_manager.init_app(app)

    @app.before_request
    def _expire_idle_session() -> None:
        if not current_user.is_authenticated:
            return
        now = int(time.time())
        last_seen = session.get("last_seen", now)
        idle_limit = current_app.config["SESSION_IDLE_MINUTES"] * 60
        if now - last_seen > idle_limit:
            logout_user()
            session.clear()
            flash("Sesi Anda berakhir karena tidak aktif. Silakan masuk lagi.", "info")
            return
        session["last_seen"] = now


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let only logged-in users with one of ``roles`` reach the view."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                raise PermissionDeniedError(
                    "Peran Anda tidak berwenang membuka halaman ini."
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _safe_next(target: str | None) -> str | None:
    """Accept only a local path as the post-login destination."""
    if not target:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return None
    return target


@bp.route("/masuk", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("recaps.inbox"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        try:
            user = accounts.authenticate(db.session(), username, password)
        except accounts.LoginBlockedError as exc:
            return render_template(
                "auth/login.html", error=exc.message, username=username
            ), exc.status_code
        if user is None:
            error = "Nama pengguna atau kata sandi salah, atau akun tidak aktif."
        else:
            session.clear()
            session.permanent = True
            login_user(user)
            session["last_seen"] = int(time.time())
            current_app.logger.info("User %s logged in", user.id)
            return redirect(
                _safe_next(request.args.get("next")) or url_for("recaps.inbox")
            )
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, username=username), status


@bp.route("/keluar", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    """Log the user out and invalidate every copy of their session cookie."""
    if current_user.is_authenticated:
        # Sessions live in signed cookies; bumping the version makes a copied
        # cookie useless, on every device of this user.
        current_user.session_version += 1
        db.session().commit()
    logout_user()
    session.clear()
    flash("Anda telah keluar.", "info")
    return redirect(url_for("auth.login"))
