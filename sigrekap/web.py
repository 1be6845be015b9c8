"""Request helpers shared by the blueprints: CSRF, htmx and page rendering."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from werkzeug.routing import IntegerConverter

csrf = CSRFProtect()
htmx = Htmx()


class IdConverter(IntegerConverter):
    """An ``int`` URL part that fits a 32-bit database id; larger ones are 404."""

    def __init__(self, url_map, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Enable CSRF protection on every state change and htmx request parsing."""
    # Set before the blueprints add their routes, which look converters up.
    app.url_map.converters["int"] = IdConverter
    csrf.init_app(app)
    htmx.init_app(app)
    app.add_template_filter(format_decimal, "decimal")
    app.add_template_global(format_percent, "percent")
    app.add_template_filter(format_wib, "wib")
    app.add_template_filter(format_duration, "duration")

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Pages return different bodies to htmx, so caches must key on that header.
        response.vary.add("HX-Request")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            # Inline styles are allowed because the SVG charts from ReportLab
            # carry style attributes; scripts stay limited to our own files.
            "default-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        return response


def format_decimal(value: float | None, places: int = 1) -> str:
    """Format a number the Indonesian way, with a decimal comma (12,5)."""
    if value is None:
        return "–"
    return f"{value:,.{places}f}".replace(",", "_").replace(".", ",").replace("_", ".")


def format_percent(part: int, whole: int) -> str:
    """Format a share of a whole as an Indonesian percentage (59,9%)."""
    return format_decimal(part * 100 / whole if whole else 0.0) + "%"


WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


def format_wib(moment: dt.datetime | None) -> str:
    """Show a stored UTC time in Western Indonesian Time (WIB)."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


def format_duration(span: dt.timedelta) -> str:
    """Describe a duration in Indonesian words, to the minute (3 jam 5 menit)."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} detik"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{value} {unit}"
        for value, unit in ((days, "hari"), (hours, "jam"), (minutes, "menit"))
        if value
    ]
    return " ".join(parts)


def is_htmx() -> bool:
    """Tell whether the current request came from htmx (HX-Request header)."""
    return bool(getattr(request, "htmx", False))


def render_page(page: str, fragment: str | None = None, **context: Any) -> str:
    """Render the whole page, or only its fragment for htmx requests."""
    if fragment is not None and is_htmx():
        return render_template(fragment, **context)
    return render_template(page, **context)
