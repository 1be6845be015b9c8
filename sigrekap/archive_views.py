"""Archive pages: search, entry details, integrity check and export."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user

from . import (
    accounts,
    archive,
    archive_export,
    archive_integrity,
    db,
    keys,
    printing,
    recaps,
    workflow,
)
from .auth import role_required
from .domain import INDONESIAN_MONTHS
from .errors import NotFoundError
from .models import ROLE_LABELS, Recap, Revision
from .storage import FileStore
from .verify import RevocationData
from .web import is_htmx

bp = Blueprint("archive", __name__, url_prefix="/arsip")

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_ROLES = ("admin", "sysadmin", "kadis")


def _store() -> FileStore:
    return FileStore(Path(current_app.config["STORAGE_DIR"]))


def _trust_roots() -> list:  # type: ignore[type-arg]
    return keys.trust_roots(Path(current_app.config["CERTS_DIR"]))


def _revocation() -> RevocationData:
    return keys.revocation_data(db.session(), Path(current_app.instance_path))


def _send(data: bytes, mimetype: str, filename: str, inline: bool = False) -> Response:
    response = Response(data, mimetype=mimetype)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_number() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isdecimal() and int(raw) > 0 else 1


@bp.route("")
@role_required()
def index():  # type: ignore[no-untyped-def]
    """List and search the archive; htmx requests get only the results."""
    session = db.session()
    filters, errors = archive.parse_filters(request.args)
    results = archive.search(session, filters, _page_number())
    context = {
        "filters": filters,
        "errors": errors,
        "results": results,
        "query_args": filters.to_args(),
    }
    # A history restore needs the whole page even though htmx sends it.
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("archive/_results.html", **context)
    return render_template(
        "archive/index.html",
        **context,
        status_labels=recaps.STATUS_LABELS,
        sort_labels=archive.SORT_LABELS,
        order_labels=archive.ORDER_LABELS,
        month_labels=list(enumerate(INDONESIAN_MONTHS, start=1)),
        years=archive.archive_years(session),
        signers=archive.signer_names(session),
        can_export=current_user.role in EXPORT_ROLES,
    )


def _recap(recap_id: int) -> Recap:
    return recaps.get_recap(db.session(), recap_id)


def _revision(recap: Recap, revision_id: int) -> Revision:
    revision = db.session().get(Revision, revision_id)
    if revision is None or revision.recap_id != recap.id:
        raise NotFoundError("Revisi tidak ditemukan di arsip rekapitulasi ini.")
    return revision


@bp.route("/<int:recap_id>")
@role_required()
def entry(recap_id: int):  # type: ignore[no-untyped-def]
    """Show a recap's files, hashes, history and the verification of its PDF."""
    session = db.session()
    recap = _recap(recap_id)
    archive.refresh_document(session, recap)
    details = archive_integrity.entry_details(
        session, _store(), recap, _trust_roots(), _revocation()
    )
    return render_template(
        "archive/entry.html",
        recap=recap,
        details=details,
        period=recaps.period_of(recap),
        timeline=workflow.timeline(session, recap),
        status_labels=recaps.STATUS_LABELS,
        action_labels=workflow.ACTION_LABELS,
        revision_labels=workflow.REVISION_LABELS,
        role_labels=ROLE_LABELS,
        field_labels=printing.FIELD_LABELS,
    )


def _current_revision(recap: Recap) -> Revision:
    if recap.current_revision is None:
        raise NotFoundError("Rekapitulasi ini belum memiliki dokumen tersimpan.")
    return recap.current_revision


@bp.route("/<int:recap_id>/dokumen.pdf")
@role_required()
def document_pdf(recap_id: int):  # type: ignore[no-untyped-def]
    """Download the current (signed) PDF, checked against its SHA-256."""
    recap = _recap(recap_id)
    revision = _current_revision(recap)
    data = archive_integrity.read_file(_store(), recap, revision.sha256, "PDF")
    suffix = "ditandatangani" if revision.kind == "kadis" else revision.kind
    return _send(data, "application/pdf", f"rekap-{recap.period}-{suffix}.pdf")


@bp.route("/<int:recap_id>/rekap.xlsx")
@role_required()
def document_workbook(recap_id: int):  # type: ignore[no-untyped-def]
    """Download the workbook of the current revision."""
    recap = _recap(recap_id)
    revision = _current_revision(recap)
    if not revision.workbook_sha256:
        raise NotFoundError("Revisi ini tidak memiliki berkas Excel.")
    data = archive_integrity.read_file(
        _store(), recap, revision.workbook_sha256, "Excel"
    )
    return _send(data, XLSX_MIME, f"rekap-{recap.period}.xlsx")


@bp.route("/<int:recap_id>/revisi/<int:revision_id>.pdf")
@role_required()
def revision_pdf(recap_id: int, revision_id: int):  # type: ignore[no-untyped-def]
    """Download one stored revision, checked against its SHA-256."""
    recap = _recap(recap_id)
    revision = _revision(recap, revision_id)
    data = archive_integrity.read_file(
        _store(), recap, revision.sha256, f"PDF revisi #{revision.id}"
    )
    name = f"rekap-{recap.period}-r{revision.id}-{revision.kind}.pdf"
    return _send(data, "application/pdf", name)


@bp.route("/<int:recap_id>/revisi/<int:revision_id>.xlsx")
@role_required()
def revision_workbook(recap_id: int, revision_id: int):  # type: ignore[no-untyped-def]
    """Download the workbook of one stored revision."""
    recap = _recap(recap_id)
    revision = _revision(recap, revision_id)
    if not revision.workbook_sha256:
        raise NotFoundError("Revisi ini tidak memiliki berkas Excel.")
    data = archive_integrity.read_file(
        _store(), recap, revision.workbook_sha256, "Excel"
    )
    return _send(data, XLSX_MIME, f"rekap-{recap.period}-r{revision.id}.xlsx")


@bp.route("/<int:recap_id>/cetak.pdf")
@role_required()
def printed_copy(recap_id: int):  # type: ignore[no-untyped-def]
    """Build the printable copy: the signed pages, marked, plus a verification sheet."""
    session = db.session()
    recap = _recap(recap_id)
    data = printing.printed_copy(
        session,
        _store(),
        recap,
        _trust_roots(),
        current_app.config["PUBLIC_BASE_URL"],
        revocation=_revocation(),
    )
    name = f"salinan-cetak-rekap-{recap.period}.pdf"
    return _send(data, "application/pdf", name, inline=True)


@bp.route("/pemeriksaan", methods=["GET", "POST"])
@role_required("sysadmin")
def check():  # type: ignore[no-untyped-def]
    """Re-hash every stored file and audit chain on request (sysadmin)."""
    result = None
    if request.method == "POST":
        result = archive_integrity.check_archive(db.session(), _store())
    return render_template("archive/check.html", result=result)


@bp.route("/ekspor")
@role_required(*EXPORT_ROLES)
def export():  # type: ignore[no-untyped-def]
    """Download the archived recaps of a year or month as one zip."""
    session = db.session()
    result = archive_export.export_archive(
        session,
        _store(),
        _trust_roots(),
        request.args.get("period", ""),
        accounts.get_office(session).name,
        revocation=_revocation(),
    )
    return _send(result.data, "application/zip", result.filename)
