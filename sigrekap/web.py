"""Request helpers shared by the blueprints: CSRF, htmx and page rendering."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

csrf = CSRFProtect()
htmx = Htmx()


def init_app(app: Flask) -> None:
    """Enable CSRF protection on every state change and htmx request parsing."""
    csrf.init_app(app)
    htmx.init_app(app)
    app.add_template_filter(format_decimal, "decimal")
    app.add_template_global(format_percent, "percent")

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Pages answer differently to htmx, so caches must key on that header.
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


def is_htmx() -> bool:
    """Tell whether the current request came from htmx (HX-Request header)."""
    return bool(getattr(request, "htmx", False))


def render_page(page: str, fragment: str | None = None, **context: Any) -> str:
    """Render the whole page, or only its fragment for htmx requests."""
    if fragment is not None and is_htmx():
        return render_template(fragment, **context)
    return render_template(page, **context)
