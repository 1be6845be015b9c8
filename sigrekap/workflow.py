"""The approval workflow: submit, paraf, sign, reject and archive a recap.

Each transition checks who may act in the core (not only in templates),
runs in one database transaction with an audit event, and is guarded by the
recap's version counter, so a stale or repeated request changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import keys, recaps, signing
from .archive import on_recap_changed
from .audit import append_event
from .domain import SIGNATURE_FIELDS
from .errors import ConflictError, PermissionDeniedError, UserError
from .models import ActingAppointment, Recap, Revision, User, utcnow
from .pki import SigningError
from .storage import FileStore, StorageIntegrityError
from .tsa import TimestampConfig, make_timestamper
from .verify import REPLACEMENT_REASONS

logger = logging.getLogger(__name__)

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")

# The role that acts on a recap in each waiting state.
STEP_ROLE = {"at_kasi": "kasi", "at_kabid": "kabid", "at_kadis": "kadis"}
NEXT_STATUS = {"at_kasi": "at_kabid", "at_kabid": "at_kadis", "at_kadis": "signed"}
REJECT_STATUS = {"at_kasi": "draft", "at_kabid": "at_kasi", "at_kadis": "at_kabid"}
ACTION_LABELS = {
    "submit": "Mengajukan konsep",
    "paraf": "Memberi paraf",
    "sign": "Menandatangani",
    "reject": "Menolak",
    "archive": "Mengarsipkan",
}
REVISION_LABELS = {
    "draft": "Konsep",
    "sealed": "Konsep bersegel kantor",
    "kasi": "Paraf Kepala Seksi",
    "kabid": "Paraf Kepala Bidang",
    "kadis": "Tanda tangan Kepala Dinas",
}
#: The mark and the position named on each role's stamp.
STAMP_ROLE_PARTS = {
    "kasi": ("Paraf", "Kepala Seksi"),
    "kabid": ("Paraf", "Kepala Bidang"),
    "kadis": ("Tanda Tangan", "Kepala Dinas"),
}
# Service standard of each step, from the office's operating procedure.
STANDARD_TIMES = {
    "draft": None,
    "at_kasi": dt.timedelta(hours=3),
    "at_kabid": dt.timedelta(hours=3),
    "at_kadis": dt.timedelta(days=2),
    "signed": dt.timedelta(minutes=15),
}
MAX_REASON_LENGTH = 2000


@dataclass(frozen=True)
class SigningSettings:
    """Everything a transition needs besides the database; built once from config."""

    office_pki: keys.OfficePKI
    timestamp: TimestampConfig
    store: FileStore
    base_url: str
    office_name: str


def _conflict() -> ConflictError:
    return ConflictError(
        "Rekapitulasi ini sudah diproses oleh permintaan lain (mungkin klik ganda "
        "atau pengguna lain). Muat ulang halaman untuk melihat status terbaru; "
        "tidak ada yang berubah."
    )


def _check_version(recap: Recap, expected_version: int) -> None:
    if recap.version != expected_version:
        raise _conflict()


def acting_roles(
    session: Session, user: User, today: dt.date | None = None
) -> set[str]:
    """Return the user's roles today: their own role and any acting appointments."""
    today = today or dt.date.today()
    roles = {user.role}
    appointments = session.scalars(
        select(ActingAppointment.role).where(
            ActingAppointment.user_id == user.id,
            ActingAppointment.starts_on <= today,
            ActingAppointment.ends_on >= today,
        )
    )
    roles.update(appointments)
    return roles


def acting_kind(session: Session, user: User, role: str) -> str:
    """Return "Plt" or "Plh" for the user's current appointment to ``role``."""
    today = dt.date.today()
    kind = session.scalar(
        select(ActingAppointment.kind).where(
            ActingAppointment.user_id == user.id,
            ActingAppointment.role == role,
            ActingAppointment.starts_on <= today,
            ActingAppointment.ends_on >= today,
        )
    )
    return kind or "Plt"


def position_title(session: Session, role: str) -> str:
    """Return the full title of an approving position, as its holder has it."""
    holder_title = session.scalar(
        select(User.title)
        .where(User.role == role, User.is_active.is_(True), User.title != "")
        .order_by(User.id)
    )
    return holder_title or STAMP_ROLE_PARTS[role][1]


def revision_chain(session: Session, revision: Revision | None) -> list[Revision]:
    """Return the revisions from the draft up to ``revision``."""
    chain = []
    while revision is not None:
        chain.append(revision)
        revision = (
            session.get(Revision, revision.parent_id) if revision.parent_id else None
        )
    return list(reversed(chain))


def check_can_approve(session: Session, actor: User, recap: Recap) -> str:
    """Return the role the actor approves in, or raise if they may not act."""
    role = STEP_ROLE.get(recap.status)
    if role is None:
        raise ConflictError(
            f"Rekapitulasi berstatus {recaps.STATUS_LABELS[recap.status]!r}; "
            "tidak ada paraf atau tanda tangan yang ditunggu."
        )
    if role not in acting_roles(session, actor):
        raise PermissionDeniedError(
            f"Langkah ini {recaps.STATUS_LABELS[recap.status].lower()}, "
            "dan peran Anda tidak berwenang."
        )
    if actor.id == recap.created_by_id:
        raise PermissionDeniedError(
            "Penyusun konsep tidak boleh menyetujui rekapitulasi yang disusunnya."
        )
    for revision in revision_chain(session, recap.current_revision):
        if revision.signer_id == actor.id:
            raise PermissionDeniedError(
                "Anda sudah memberi paraf atau tanda tangan pada rekapitulasi ini "
                "dalam putaran yang sama; satu orang hanya menandai satu kali."
            )
    return role


def leaked_key_problem(session: Session, recap: Recap) -> str | None:
    """Describe an earlier mark made with a key later revoked as leaked.

    Such a mark no longer verifies, so a further mark would only produce an
    invalid recap. Rejecting the recap strips the marks, and the official
    then marks again with a new key.
    """
    for revision in revision_chain(session, recap.current_revision):
        if revision.signer_id is None:
            continue
        key = keys.key_used_at(session, revision.signer_id, revision.created_dt)
        if key is None or not key.is_revoked:
            continue
        if key.revocation_reason in REPLACEMENT_REASONS:
            continue
        signer = revision.signer.name if revision.signer else "penanda tangan"
        mark = REVISION_LABELS[revision.kind].lower()
        problem = (
            f"Kunci yang dipakai {signer} untuk {mark} sudah dicabut karena "
            "bocor, sehingga tanda itu tidak sah lagi."
        )
        if recap.status in ("signed", "archived"):
            return (
                f"{problem} Rekapitulasi yang sudah ditandatangani ini tidak sah "
                "lagi, dan SigRekap tidak dapat memperbaikinya."
            )
        return (
            f"{problem} Tolak rekapitulasi ini. Setiap penolakan mengembalikannya "
            "satu langkah dan menghapus tanda langkah itu; setelah tanda ini "
            f"terhapus, {signer} memberikannya lagi dengan kunci baru."
        )
    return None


def _commit_transition(
    session: Session,
    recap: Recap,
    actor: User,
    *,
    role: str,
    action: str,
    to_status: str,
    revision: Revision | None,
    sha256_before: str | None,
    reason: str = "",
) -> None:
    from_status = recap.status
    append_event(
        session,
        recap,
        actor,
        role=role,
        action=action,
        from_status=from_status,
        to_status=to_status,
        sha256_before=sha256_before,
        sha256_after=revision.sha256 if revision else None,
        reason=reason,
    )
    now = utcnow()
    recap.status = to_status
    recap.current_revision = revision
    recap.step_started_dt = now
    recap.updated_dt = now
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise _conflict() from None
    on_recap_changed(session, recap)
    logger.info(
        "Recap %s: %s by user %s (%s), %s -> %s",
        recap.id,
        action,
        actor.id,
        role,
        from_status,
        to_status,
    )


def _store_revision(
    session: Session,
    settings: SigningSettings,
    recap: Recap,
    data: bytes,
    *,
    kind: str,
    parent: Revision | None,
    signer: User | None,
    workbook_sha256: str | None = None,
) -> Revision:
    digest = settings.store.put(data)
    revision = Revision(
        recap_id=recap.id,
        kind=kind,
        round=recap.round,
        sha256=digest,
        size=len(data),
        workbook_sha256=workbook_sha256,
        parent_id=parent.id if parent else None,
        signer_id=signer.id if signer else None,
    )
    session.add(revision)
    session.flush()
    return revision


def read_revision(settings: SigningSettings, revision: Revision) -> bytes:
    """Read a stored revision, checked against its SHA-256."""
    try:
        return settings.store.get(revision.sha256)
    except StorageIntegrityError as exc:
        raise UserError(
            "Berkas revisi yang tersimpan rusak atau hilang (hash SHA-256 tidak "
            "cocok). Proses dihentikan dan tidak ada yang berubah; hubungi "
            "administrator sistem."
        ) from exc


def submit(
    session: Session,
    settings: SigningSettings,
    actor: User,
    recap: Recap,
    expected_version: int,
) -> Recap:
    """Render the draft, seal it with the office certificate and send it to the Kasi."""
    if actor.role != "admin":
        raise PermissionDeniedError("Hanya admin yang dapat mengajukan konsep.")
    _check_version(recap, expected_version)
    if recap.status != "draft":
        raise _conflict()

    # Freeze the data: the submitted figures must not move when a later
    # import updates complaints of this period.
    recap.complaint_snapshot = recaps.snapshot_complaints(
        recaps.complaints_for_period(session, recaps.period_of(recap))
    )
    pdf, workbook = recaps.render_documents(session, recap, settings.base_url)
    try:
        sealed = signing.certify_draft(
            pdf,
            settings.office_pki.seal.to_signer(),
            make_timestamper(settings.timestamp),
        )
    except SigningError as exc:
        raise UserError(str(exc)) from exc

    workbook_sha256 = settings.store.put(workbook)
    draft = _store_revision(
        session,
        settings,
        recap,
        pdf,
        kind="draft",
        parent=None,
        signer=None,
        workbook_sha256=workbook_sha256,
    )
    sealed_revision = _store_revision(
        session,
        settings,
        recap,
        sealed,
        kind="sealed",
        parent=draft,
        signer=None,
        workbook_sha256=workbook_sha256,
    )
    _commit_transition(
        session,
        recap,
        actor,
        role="admin",
        action="submit",
        to_status="at_kasi",
        revision=sealed_revision,
        sha256_before=None,
    )
    return recap


def approve(
    session: Session,
    settings: SigningSettings,
    actor: User,
    recap: Recap,
    expected_version: int,
    passphrase: str,
) -> Recap:
    """Add the actor's paraf (Kasi, Kabid) or final signature (Kadis)."""
    # A stale version is reported first, so a double click reads "already
    # processed" instead of "not your step".
    _check_version(recap, expected_version)
    role = check_can_approve(session, actor, recap)
    problem = leaked_key_problem(session, recap)
    if problem is not None:
        raise ConflictError(problem)
    current = recap.current_revision
    if current is None:
        raise UserError(
            "Rekapitulasi belum memiliki konsep bersegel. Ajukan ulang konsep."
        )
    data = read_revision(settings, current)
    signer = keys.unlock_signer(session, actor, settings.office_pki, passphrase)

    verification_url = (
        f"{settings.base_url.rstrip('/')}/verifikasi/{recap.verification_code}"
    )
    mark, position = STAMP_ROLE_PARTS[role]
    title = actor.title
    if actor.role != role:
        # An acting official signs under their own name, for the position they
        # act in, marked Plt. or Plh. as official letters are.
        kind = acting_kind(session, actor, role)
        position = f"{kind}. {position}"
        title = f"{kind}. {position_title(session, role)}"
    stamp = signing.StampInfo(
        name=actor.name,
        role_label=f"{mark} {position}",
        title=title,
        nip=actor.nip or "",
        signed_at=dt.datetime.now(WIB).replace(microsecond=0),
        verification_url=verification_url,
    )
    try:
        signed = signing.sign_field(
            data,
            SIGNATURE_FIELDS[role],
            signer,
            make_timestamper(settings.timestamp),
            stamp=stamp,
            lock=role == "kadis",
        )
    except SigningError as exc:
        raise UserError(str(exc)) from exc

    revision = _store_revision(
        session,
        settings,
        recap,
        signed,
        kind=role,
        parent=current,
        signer=actor,
        workbook_sha256=current.workbook_sha256,
    )
    _commit_transition(
        session,
        recap,
        actor,
        role=role,
        action="sign" if role == "kadis" else "paraf",
        to_status=NEXT_STATUS[recap.status],
        revision=revision,
        sha256_before=current.sha256,
    )
    return recap


def reject(
    session: Session, actor: User, recap: Recap, expected_version: int, reason: str
) -> Recap:
    """Send the recap back one level; the previous level's mark is stripped."""
    _check_version(recap, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise UserError(
            "Alasan penolakan wajib diisi agar penerima tahu apa yang harus diperbaiki."
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise UserError(
            f"Alasan penolakan terlalu panjang (maksimal {MAX_REASON_LENGTH} karakter)."
        )
    role = STEP_ROLE.get(recap.status)
    if role is None:
        raise _conflict()
    if role not in acting_roles(session, actor):
        raise PermissionDeniedError(
            "Peran Anda tidak berwenang menolak pada langkah ini."
        )
    if actor.id == recap.created_by_id:
        raise PermissionDeniedError(
            "Penyusun konsep tidak boleh menolak rekapitulasi yang disusunnya."
        )

    current = recap.current_revision
    to_status = REJECT_STATUS[recap.status]
    if to_status == "draft":
        # Back to the admin, who revises the data; the next submission renders
        # and seals a new draft in a new round.
        target = None
        recap.round += 1
        recap.complaint_snapshot = None
    else:
        # The current revision carries the previous level's mark: step back to
        # the stored revision before it. Nothing is deleted.
        target = (
            session.get(Revision, current.parent_id)
            if current and current.parent_id
            else None
        )
        if target is None:
            raise UserError("Revisi sebelumnya tidak ditemukan; penolakan dibatalkan.")
    _commit_transition(
        session,
        recap,
        actor,
        role=role,
        action="reject",
        to_status=to_status,
        revision=target,
        sha256_before=current.sha256 if current else None,
        reason=reason,
    )
    return recap


def archive(
    session: Session,
    settings: SigningSettings,
    actor: User,
    recap: Recap,
    expected_version: int,
) -> Recap:
    """Archive a signed recap: its files are checked and kept write-once."""
    if actor.role != "admin":
        raise PermissionDeniedError("Hanya admin yang dapat mengarsipkan rekapitulasi.")
    _check_version(recap, expected_version)
    if recap.status != "signed" or recap.current_revision is None:
        raise ConflictError(
            "Hanya rekapitulasi yang sudah ditandatangani yang dapat diarsipkan."
        )
    current = recap.current_revision
    read_revision(settings, current)
    if current.workbook_sha256:
        try:
            settings.store.get(current.workbook_sha256)
        except StorageIntegrityError as exc:
            raise UserError(
                "Berkas Excel tersimpan rusak; pengarsipan dibatalkan."
            ) from exc
    _commit_transition(
        session,
        recap,
        actor,
        role="admin",
        action="archive",
        to_status="archived",
        revision=current,
        sha256_before=current.sha256,
    )
    return recap


def inbox_recaps(session: Session, user: User) -> list[Recap]:
    """Return the recaps waiting for the user's action."""
    roles = acting_roles(session, user)
    waiting = [status for status, role in STEP_ROLE.items() if role in roles]
    if "admin" in roles:
        waiting += ["draft", "signed"]
    if not waiting:
        return []
    return list(
        session.scalars(
            select(Recap)
            .where(Recap.status.in_(waiting))
            .order_by(Recap.updated_dt.desc())
        )
    )


def settings_from_config(
    config: dict, instance: Path, office_name: str
) -> SigningSettings:
    """Build the signing settings of an app from its configuration."""
    office_pki = keys.load_office_pki(instance)
    return SigningSettings(
        office_pki=office_pki,
        timestamp=timestamp_config(config, office_pki),
        store=FileStore(Path(config["STORAGE_DIR"])),
        base_url=config["PUBLIC_BASE_URL"],
        office_name=office_name,
    )


def available_actions(session: Session, user: User, recap: Recap) -> set[str]:
    """Return the transitions the user may start on the recap now."""
    actions: set[str] = set()
    if user.role == "admin":
        if recap.status == "draft":
            actions.update({"import", "submit"})
        if recap.status == "signed":
            actions.add("archive")
    if recap.status in STEP_ROLE:
        try:
            check_can_approve(session, user, recap)
        except (PermissionDeniedError, ConflictError):
            pass
        else:
            actions.update({"approve", "reject"})
    return actions


@dataclass(frozen=True)
class TimelineEntry:
    """One audit event with its step duration measured against the standard."""

    at: dt.datetime
    actor: str
    role: str
    action: str
    reason: str
    from_status: str
    to_status: str
    duration: dt.timedelta
    standard: dt.timedelta | None

    @property
    def is_over_standard(self) -> bool:
        return self.standard is not None and self.duration > self.standard


def timeline(session: Session, recap: Recap) -> list[TimelineEntry]:
    """Return the recap's events, oldest first, with each step's duration."""
    from .models import AuditEvent

    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.recap_id == recap.id)
        .order_by(AuditEvent.id)
    )
    return [
        TimelineEntry(
            at=event.created_dt,
            actor=event.actor_name,
            role=event.role,
            action=event.action,
            reason=event.reason,
            from_status=event.from_status,
            to_status=event.to_status,
            duration=event.created_dt - event.step_started_dt,
            standard=STANDARD_TIMES.get(event.from_status),
        )
        for event in events
    ]


def revisions_of(session: Session, recap: Recap) -> list[Revision]:
    """Return every stored revision of the recap, oldest first."""
    return list(
        session.scalars(
            select(Revision).where(Revision.recap_id == recap.id).order_by(Revision.id)
        )
    )


def timestamp_config(config: dict, office_pki: keys.OfficePKI) -> TimestampConfig:
    """Use the TSA at TSA_URL when configured, else the office's own TSA key."""
    if config.get("TSA_URL"):
        return TimestampConfig(
            url=config["TSA_URL"], timeout=float(config["TSA_TIMEOUT"])
        )
    return TimestampConfig(internal_key=office_pki.tsa)
