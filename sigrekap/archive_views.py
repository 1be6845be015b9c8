"""Archive pages: search, entry details, integrity check and export."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("archive", __name__, url_prefix="/arsip")
