"""Export of archived recaps for the records office: one zip with a manifest."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .archive_integrity import read_file
from .audit import check_chain, event_fields
from .domain import Period
from .errors import NotFoundError, UserError
from .models import AuditEvent, Recap, utcnow
from .storage import FileStore, sha256_hex
from .verify import NO_REVOCATIONS, RevocationData, TrustRoot, verify_pdf

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveExport:
    """A zip of archived recaps for the records office."""

    filename: str
    data: bytes
    recap_count: int
    manifest: dict[str, Any]


def parse_selection(value: str) -> tuple[int, int | None]:
    """Parse ``YYYY`` or ``YYYY-MM`` into (year, month or None)."""
    value = (value or "").strip()
    if re.fullmatch(r"\d{4}", value):
        return int(value), None
    try:
        period = Period.parse(value)
    except ValueError:
        raise UserError(
            f"Periode {value!r} tidak valid; isi tahun (TTTT) atau bulan (TTTT-BB)."
        ) from None
    return period.year, period.month


def _audit_events(session: Session, recap: Recap) -> list[dict[str, Any]]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.recap_id == recap.id)
        .order_by(AuditEvent.id)
    )
    return [
        {"id": event.id, **event_fields(event), "event_hash": event.event_hash}
        for event in events
    ]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str).encode()


def export_archive(
    session: Session,
    store: FileStore,
    trust_roots: Sequence[TrustRoot],
    selection: str,
    office_name: str,
    now: dt.datetime | None = None,
    *,
    revocation: RevocationData = NO_REVOCATIONS,
) -> ArchiveExport:
    """Zip the archived recaps of a year or month with a SHA-256 manifest.

    Raise NotFoundError when nothing is archived in the selection, and
    ArchiveIntegrityError when a stored file fails its check, so that a
    damaged file never reaches the records office.
    """
    year, month = parse_selection(selection)
    label = f"{year:04d}" if month is None else f"{year:04d}-{month:02d}"
    query = select(Recap).where(Recap.status == "archived").order_by(Recap.period)
    if month is None:
        query = query.where(Recap.period.startswith(f"{year:04d}-", autoescape=True))
    else:
        query = query.where(Recap.period == label)
    selected = [recap for recap in session.scalars(query) if recap.current_revision]
    if not selected:
        human = str(year) if month is None else Period(year, month).label()
        raise NotFoundError(f"Tidak ada rekapitulasi yang diarsipkan untuk {human}.")

    now = now or utcnow()
    files: dict[str, bytes] = {}
    recap_entries = []
    for recap in selected:
        revision = recap.current_revision
        assert revision is not None
        folder = recap.period
        pdf = read_file(store, recap, revision.sha256, "PDF bertanda tangan")
        files[f"{folder}/rekap-{recap.period}-ditandatangani.pdf"] = pdf
        if revision.workbook_sha256:
            files[f"{folder}/rekap-{recap.period}.xlsx"] = read_file(
                store, recap, revision.workbook_sha256, "Excel"
            )
        report = verify_pdf(
            pdf, trust_roots, crls=revocation.crls, revoked=revocation.revoked
        )
        files[f"{folder}/verifikasi.json"] = _json_bytes(report.to_dict())
        chain_problems = check_chain(session, recap)
        files[f"{folder}/riwayat-audit.json"] = _json_bytes(
            {
                "chain_intact": not chain_problems,
                "chain_problems": chain_problems,
                "audit_head": recap.audit_head,
                "events": _audit_events(session, recap),
            }
        )
        recap_entries.append(
            {
                "recap_id": recap.id,
                "period": recap.period,
                "period_label": Period.parse(recap.period).label(),
                "number": recap.number,
                "verification_code": recap.verification_code,
                "signed_pdf_sha256": revision.sha256,
                "workbook_sha256": revision.workbook_sha256,
                "verification_status": report.status,
                "audit_chain_intact": not chain_problems,
                "folder": folder,
            }
        )

    manifest = {
        "format": "sigrekap-archive-export/1",
        "office": office_name,
        "selection": label,
        "created_dt": now.replace(microsecond=0).isoformat() + "Z",
        "recaps": recap_entries,
        "files": [
            {"path": path, "sha256": sha256_hex(data), "size": len(data)}
            for path, data in sorted(files.items())
        ],
    }
    files["manifest.json"] = _json_bytes(manifest)
    checksums = "".join(
        f"{sha256_hex(data)}  {path}\n" for path, data in sorted(files.items())
    )
    files["manifest-sha256.txt"] = checksums.encode()

    buffer = io.BytesIO()
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    logger.info("Exported %s archived recaps of %s", len(selected), label)
    return ArchiveExport(
        filename=f"arsip-rekap-{label}.zip",
        data=buffer.getvalue(),
        recap_count=len(selected),
        manifest=manifest,
    )
