"""Public verification pages: upload a signed PDF or open a verification code."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("verify", __name__)
