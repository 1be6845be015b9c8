"""Two-step import of a LAPOR! export: preview without saving, then confirm."""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import accounts, archive, recaps
from .domain import COMPLAINT_FIELDS, Period
from .errors import NotFoundError, PermissionDeniedError, UserError
from .lapor import LaporImportError, ParseResult, parse_export
from .models import Complaint, ImportBatch, Recap, User, utcnow
from .stats import exclusion_reason, is_finished

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
IDENTITY_FIELDS = ("reporter_name", "reporter_contact")


@dataclass
class ImportPreview:
    """Preview of the changes an upload would make, shown before anything is saved."""

    token: str
    filename: str
    result: ParseResult
    new_count: int
    update_count: int
    period: Period
    #: Records received within the recap's period.
    period_count: int
    #: Records received earlier and still open when the period began, plus
    #: complaints already stored that the recap shows and the file leaves alone.
    carried_count: int

    @property
    def can_confirm(self) -> bool:
        return not self.result.has_errors and bool(self.result.records)

    @property
    def notices(self) -> list[str]:
        """Warnings about the file as a whole, which do not block the import."""
        if not self.result.records or self.period_count:
            return []
        label = self.period.label()
        if self.carried_count:
            outcome = (
                "Rekapitulasi periode ini hanya akan berisi pengaduan yang sudah "
                "diimpor sebelumnya atau yang belum selesai dari bulan sebelumnya."
            )
        else:
            outcome = (
                "Rekapitulasi periode ini tidak akan berisi pengaduan dan belum "
                "dapat diajukan."
            )
        message = (
            f"Berkas ini tidak memuat laporan yang diterima pada periode {label}. "
            f"{outcome} Pastikan berkas ekspor LAPOR! mencakup periode {label}."
        )
        return [message]


def _require_admin(actor: User) -> None:
    if actor.role != "admin":
        raise PermissionDeniedError("Hanya admin yang dapat mengimpor data LAPOR!.")


def _require_draft(recap: Recap) -> None:
    if recap.status != "draft":
        raise UserError(
            "Data hanya dapat diimpor selama rekapitulasi berstatus konsep. "
            "Rekapitulasi ini sudah diajukan."
        )


def _parse(data: bytes, filename: str, max_bytes: int) -> ParseResult:
    try:
        return parse_export(data, filename, max_bytes=max_bytes)
    except LaporImportError as exc:
        raise UserError(str(exc)) from exc


def _count_changes(session: Session, result: ParseResult) -> tuple[int, int]:
    existing = _existing_by_tracking_id(session, result)
    return len(result.records) - len(existing), len(existing)


def _make_preview(
    session: Session, recap: Recap, token: str, filename: str, result: ParseResult
) -> ImportPreview:
    new_count, update_count = _count_changes(session, result)
    period = Period.parse(recap.period)
    period_count = sum(
        1 for record in result.records if period.contains(record.received_at)
    )
    carried_count = sum(
        1
        for record in result.records
        if record.received_at < period.start
        and not is_finished(record, as_of=period.start)
    )
    in_file = {record.tracking_id for record in result.records}
    carried_count += sum(
        1
        for complaint in recaps.complaints_for_period(session, period)
        if complaint.tracking_id not in in_file
        and exclusion_reason(complaint, period) is None
    )
    return ImportPreview(
        token,
        filename,
        result,
        new_count,
        update_count,
        period,
        period_count,
        carried_count,
    )


def _upload_paths(upload_dir: Path, token: str) -> tuple[Path, Path]:
    if not TOKEN_PATTERN.fullmatch(token):
        raise NotFoundError("Pratinjau impor tidak ditemukan. Unggah berkas lagi.")
    return upload_dir / f"{token}.bin", upload_dir / f"{token}.json"


def preview_import(
    session: Session,
    actor: User,
    recap: Recap,
    filename: str,
    data: bytes,
    upload_dir: Path,
    *,
    max_bytes: int,
) -> ImportPreview:
    """Parse an upload and keep it aside until the admin confirms it."""
    _require_admin(actor)
    _require_draft(recap)
    result = _parse(data, filename, max_bytes)
    token = secrets.token_urlsafe(24)
    preview = _make_preview(session, recap, token, filename, result)

    upload_dir.mkdir(parents=True, exist_ok=True)
    data_path, meta_path = _upload_paths(upload_dir, token)
    data_path.write_bytes(data)
    meta = {"filename": filename, "recap_id": recap.id, "user_id": actor.id}
    meta_path.write_text(json.dumps(meta))
    logger.info(
        "Import preview %s for recap %s by user %s: %s rows, %s problems",
        token[:8],
        recap.id,
        actor.id,
        len(result.records),
        len(result.problems),
    )
    return preview


def load_preview(
    session: Session,
    actor: User,
    recap: Recap,
    token: str,
    upload_dir: Path,
    *,
    max_bytes: int,
) -> ImportPreview:
    """Parse a kept upload again, for showing or confirming it."""
    _require_admin(actor)
    data_path, meta_path = _upload_paths(upload_dir, token)
    if not data_path.exists() or not meta_path.exists():
        raise NotFoundError(
            "Pratinjau impor tidak ditemukan atau sudah dipakai. Unggah berkas lagi."
        )
    meta = json.loads(meta_path.read_text())
    if meta["recap_id"] != recap.id or meta["user_id"] != actor.id:
        raise PermissionDeniedError(
            "Pratinjau impor ini milik pengguna atau rekap lain."
        )
    result = _parse(data_path.read_bytes(), meta["filename"], max_bytes)
    return _make_preview(session, recap, token, meta["filename"], result)


def discard_preview(upload_dir: Path, token: str) -> None:
    """Delete a kept upload."""
    for path in _upload_paths(upload_dir, token):
        path.unlink(missing_ok=True)


def confirm_import(
    session: Session,
    actor: User,
    recap: Recap,
    token: str,
    upload_dir: Path,
    *,
    max_bytes: int,
) -> ImportBatch:
    """Save a previewed upload: update complaints by tracking ID, add new ones."""
    _require_draft(recap)
    preview = load_preview(
        session, actor, recap, token, upload_dir, max_bytes=max_bytes
    )
    result = preview.result
    if result.has_errors:
        raise UserError(
            "Berkas masih memiliki kesalahan. Perbaiki baris yang ditandai lalu "
            "unggah ulang; tidak ada data yang disimpan."
        )
    if not result.records:
        raise UserError("Berkas tidak memuat baris pengaduan yang dapat diimpor.")

    # Claim the preview with an atomic rename, so that two parallel confirms
    # of the same upload save it once.
    _, meta_path = _upload_paths(upload_dir, token)
    claimed_path = meta_path.with_suffix(".claimed")
    try:
        meta_path.rename(claimed_path)
    except FileNotFoundError:
        raise NotFoundError(
            "Pratinjau impor ini sudah dikonfirmasi atau dibatalkan. Muat ulang halaman."
        ) from None
    try:
        batch = _save_records(session, actor, recap, preview)
    except BaseException:
        claimed_path.rename(meta_path)
        raise
    discard_preview(upload_dir, token)
    claimed_path.unlink(missing_ok=True)
    archive.on_recap_changed(session, recap)
    logger.info(
        "Import %s confirmed for recap %s by user %s: %s new, %s updated, sha256 %s",
        batch.id,
        recap.id,
        actor.id,
        batch.created_count,
        batch.updated_count,
        batch.sha256,
    )
    return batch


def _save_records(
    session: Session, actor: User, recap: Recap, preview: ImportPreview
) -> ImportBatch:
    """Upsert the previewed records and their import batch in one transaction."""
    result = preview.result
    keep_identity = accounts.get_office(session).is_reporter_identity_stored
    batch = ImportBatch(
        recap_id=recap.id,
        filename=preview.filename[:255],
        sha256=result.sha256,
        file_format=result.file_format,
        row_count=len(result.records),
        created_count=0,
        updated_count=0,
        imported_by_id=actor.id,
    )
    session.add(batch)
    try:
        session.flush()
        existing = _existing_by_tracking_id(session, result)
        for record in result.records:
            complaint = existing.get(record.tracking_id)
            if complaint is None:
                complaint = Complaint(tracking_id=record.tracking_id)
                session.add(complaint)
                batch.created_count += 1
            else:
                batch.updated_count += 1
            for name in COMPLAINT_FIELDS:
                setattr(complaint, name, getattr(record, name))
            for name in IDENTITY_FIELDS:
                setattr(
                    complaint, name, getattr(record, name) if keep_identity else None
                )
            complaint.import_batch_id = batch.id
            complaint.updated_dt = utcnow()
        session.commit()
    except Exception:
        session.rollback()
        raise
    return batch


def _existing_by_tracking_id(
    session: Session, result: ParseResult
) -> dict[str, Complaint]:
    ids = [record.tracking_id for record in result.records]
    found: dict[str, Complaint] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for complaint in session.scalars(
            select(Complaint).where(Complaint.tracking_id.in_(chunk))
        ):
            found[complaint.tracking_id] = complaint
    return found


def list_imports(session: Session, recap: Recap) -> list[ImportBatch]:
    """Return the confirmed imports of a recap, newest first."""
    return list(
        session.scalars(
            select(ImportBatch)
            .where(ImportBatch.recap_id == recap.id)
            .order_by(ImportBatch.id.desc())
        )
    )
