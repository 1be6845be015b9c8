"""HTTP endpoint of the office's own RFC 3161 time-stamping authority."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, request

from . import keys, tsa
from .web import csrf

bp = Blueprint("tsa", __name__)

MAX_REQUEST_BYTES = 64 * 1024


@bp.route("/tsa", methods=["POST"])
@csrf.exempt  # A protocol endpoint for TSA clients: no session, no form.
def timestamp():  # type: ignore[no-untyped-def]
    """Return a signed RFC 3161 time-stamp response to a time-stamp request."""
    if request.mimetype != "application/timestamp-query":
        return Response(
            "Expected Content-Type application/timestamp-query.\n",
            status=415,
            mimetype="text/plain",
        )
    data = request.get_data(cache=False)
    if not data or len(data) > MAX_REQUEST_BYTES:
        return Response(
            "Empty or oversized request.\n", status=400, mimetype="text/plain"
        )
    office_pki = keys.load_office_pki(Path(current_app.instance_path))
    answer = tsa.respond(data, office_pki.tsa, office_pki.ca_certificate)
    return Response(answer, mimetype="application/timestamp-reply")
