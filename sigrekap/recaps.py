"""Recaps: creation, the complaints and statistics of a period, draft rendering."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import accounts
from .domain import (
    COMPLAINT_FIELDS,
    Approver,
    ComplaintRecord,
    HistoryEntry,
    Period,
    RecapDocumentInfo,
)
from .errors import ConflictError, NotFoundError, PermissionDeniedError, UserError
from .models import AuditEvent, Complaint, Recap, User
from .stats import RecapStatistics, compute_statistics

logger = logging.getLogger(__name__)

STATUS_LABELS = {
    "draft": "Konsep",
    "at_kasi": "Menunggu paraf Kepala Seksi",
    "at_kabid": "Menunggu paraf Kepala Bidang",
    "at_kadis": "Menunggu tanda tangan Kepala Dinas",
    "signed": "Ditandatangani",
    "archived": "Diarsipkan",
}
# Crockford-style alphabet without look-alike characters, for codes people type.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_verification_code() -> str:
    """Return a random 10-character code printed in every page footer."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def create_recap(session: Session, actor: User, period_text: str) -> Recap:
    """Start a draft recap for a period and give it the next document number."""
    if actor.role != "admin":
        raise PermissionDeniedError("Hanya admin yang dapat membuat rekapitulasi.")
    try:
        period = Period.parse(period_text)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    # The same year range as the import accepts for complaint dates.
    if not 2000 <= period.year <= 2099:
        raise UserError(
            f"Periode {period_text!r} tidak valid: tahun harus antara 2000 dan 2099."
        )
    if session.scalar(select(Recap).where(Recap.period == str(period))):
        raise ConflictError(
            f"Rekapitulasi periode {period.label()} sudah ada. Buka rekapitulasi "
            "tersebut dari daftar."
        )

    office = accounts.get_office(session)
    year_prefix = f"{period.year:04d}-%"
    last_sequence = session.scalar(
        select(func.max(Recap.sequence)).where(Recap.period.like(year_prefix))
    )
    sequence = (last_sequence or 0) + 1
    recap = Recap(
        period=str(period),
        sequence=sequence,
        number=accounts.format_document_number(
            office.number_format, sequence, period.year, period.month
        ),
        verification_code=new_verification_code(),
        status="draft",
        created_by_id=actor.id,
    )
    session.add(recap)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"Rekapitulasi periode {period.label()} baru saja dibuat oleh pengguna "
            "lain. Muat ulang daftar."
        ) from exc
    # Imported here because the archive module builds on this one.
    from .archive import on_recap_changed

    on_recap_changed(session, recap)
    logger.info("Recap %s for %s created by user %s", recap.id, period, actor.id)
    return recap


def get_recap(session: Session, recap_id: int) -> Recap:
    """Return a recap or raise NotFoundError."""
    recap = session.get(Recap, recap_id)
    if recap is None:
        raise NotFoundError("Rekapitulasi tidak ditemukan.")
    return recap


def list_recaps(session: Session) -> list[Recap]:
    """Return all recaps, newest period first."""
    return list(session.scalars(select(Recap).order_by(Recap.period.desc())))


def count_by_status(session: Session) -> dict[str, int]:
    """Return how many recaps are in each workflow state."""
    rows = session.execute(select(Recap.status, func.count()).group_by(Recap.status))
    counts = dict.fromkeys(STATUS_LABELS, 0)
    counts.update({status: count for status, count in rows})
    return counts


def period_of(recap: Recap) -> Period:
    return Period.parse(recap.period)


def complaints_for_period(session: Session, period: Period) -> list[Complaint]:
    """Load every complaint that a recap of ``period`` may show.

    That is the complaints received in the period, plus earlier ones that
    were still open at its start. The statistics decide which table each
    one belongs to.
    """
    query = (
        select(Complaint)
        .where(Complaint.received_at < period.end)
        .where(
            or_(
                Complaint.received_at >= period.start,
                Complaint.finished_at.is_(None),
                Complaint.finished_at >= period.start,
            )
        )
        .order_by(Complaint.received_at, Complaint.tracking_id)
    )
    return list(session.scalars(query))


SNAPSHOT_FIELDS = ("tracking_id", *COMPLAINT_FIELDS)
SNAPSHOT_TIMES = ("received_at", "finished_at")


def snapshot_complaints(complaints: list[Any]) -> list[dict[str, Any]]:
    """Copy the complaints a recap shows into JSON-ready dicts (no reporter identity)."""
    snapshot = []
    for complaint in complaints:
        row = {name: getattr(complaint, name) for name in SNAPSHOT_FIELDS}
        for name in SNAPSHOT_TIMES:
            row[name] = row[name].isoformat() if row[name] else None
        snapshot.append(row)
    return snapshot


def restore_complaints(snapshot: list[dict[str, Any]]) -> list[ComplaintRecord]:
    """Rebuild complaint records from a snapshot made by snapshot_complaints."""
    records = []
    for row in snapshot:
        values = dict(row)
        for name in SNAPSHOT_TIMES:
            if values[name]:
                values[name] = dt.datetime.fromisoformat(values[name])
        records.append(ComplaintRecord(**values))
    return records


def recap_complaints(session: Session, recap: Recap) -> list[Any]:
    """Return the complaints of a recap: its snapshot once submitted, else live data."""
    if recap.complaint_snapshot is not None:
        return restore_complaints(recap.complaint_snapshot)
    return complaints_for_period(session, period_of(recap))


def recap_statistics(session: Session, recap: Recap) -> RecapStatistics:
    """Compute the statistics of a recap from its complaints."""
    office = accounts.get_office(session)
    period = period_of(recap)
    return compute_statistics(
        recap_complaints(session, recap),
        period,
        open_threshold_days=office.open_threshold_days,
    )


def document_info(recap: Recap, base_url: str, now: dt.datetime) -> RecapDocumentInfo:
    """Describe the recap for the renderers."""
    return RecapDocumentInfo(
        number=recap.number,
        period=period_of(recap),
        verification_code=recap.verification_code,
        verification_url=f"{base_url.rstrip('/')}/verifikasi/{recap.verification_code}",
        generated_at=now,
    )


def approvers(session: Session) -> list[Approver]:
    """Return the active holder of each approving role for the signature block."""
    result = []
    for role in ("kasi", "kabid", "kadis"):
        user = session.scalar(
            select(User)
            .where(User.role == role, User.is_active.is_(True))
            .order_by(User.id)
        )
        if user is None:
            result.append(Approver(role=role, name="", title="", nip=""))
        else:
            result.append(
                Approver(
                    role=role, name=user.name, title=user.title, nip=user.nip or ""
                )
            )
    return result


def history_entries(session: Session, recap: Recap) -> list[HistoryEntry]:
    """Return the recap's approval history, oldest first."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.recap_id == recap.id)
        .order_by(AuditEvent.id)
    )
    return [
        HistoryEntry(
            # Stored times are naive UTC; the workbook prints them in WIB.
            at=event.created_dt.replace(tzinfo=dt.UTC),
            actor=event.actor_name,
            role=event.role,
            action=event.action,
            reason=event.reason,
        )
        for event in events
    ]


def render_documents(
    session: Session, recap: Recap, base_url: str, now: dt.datetime | None = None
) -> tuple[bytes, bytes]:
    """Render the recap's workbook and its draft PDF with the workbook embedded."""
    from .render_pdf import render_recap_pdf
    from .render_xlsx import render_recap_workbook

    now = now or dt.datetime.now().replace(microsecond=0)
    stats = recap_statistics(session, recap)
    if stats.total_received == 0 and not stats.carried_over:
        raise UserError(
            f"Belum ada pengaduan untuk periode {period_of(recap).label()}. "
            "Impor ekspor LAPOR! terlebih dahulu."
        )
    info = document_info(recap, base_url, now)
    profile = accounts.office_profile(accounts.get_office(session))
    workbook = render_recap_workbook(
        info, profile, stats, history_entries(session, recap)
    )
    pdf = render_recap_pdf(info, profile, stats, approvers(session), workbook=workbook)
    return pdf, workbook
