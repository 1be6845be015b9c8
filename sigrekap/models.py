"""Database models. Timestamps end in ``_dt`` (UTC, naive); flags start with ``is_``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base

ROLES = ("admin", "kasi", "kabid", "kadis", "sysadmin")
ROLE_LABELS = {
    "admin": "Admin",
    "kasi": "Kepala Seksi",
    "kabid": "Kepala Bidang",
    "kadis": "Kepala Dinas",
    "sysadmin": "Administrator Sistem",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    nip: Mapped[str | None] = mapped_column(String(18))
    title: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped on password reset or deactivation so that old sessions end.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    #: Wrong passwords in a row; too many block logins for a while.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    login_blocked_until_dt: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    # Flask-Login protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class OfficeSetting(Base):
    """The office profile that recaps print; one row per deployment."""

    __tablename__ = "office_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    letterhead: Mapped[str] = mapped_column(Text)  # one line per printed line
    address: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    number_format: Mapped[str] = mapped_column(String(120))
    open_threshold_days: Mapped[int] = mapped_column(Integer, default=14)
    is_reporter_identity_stored: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ImportBatch(Base):
    """One confirmed import of a LAPOR! export."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    recap_id: Mapped[int | None] = mapped_column(ForeignKey("recaps.id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(8))
    row_count: Mapped[int] = mapped_column(Integer)
    created_count: Mapped[int] = mapped_column(Integer)
    updated_count: Mapped[int] = mapped_column(Integer)
    imported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Complaint(Base):
    """A LAPOR! complaint; attribute names mirror ``domain.ComplaintRecord``."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(100))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_contact: Mapped[str | None] = mapped_column(String(200))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    is_confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Recap(Base):
    """The recap document of one period and its state in the workflow."""

    __tablename__ = "recaps"
    __table_args__ = (UniqueConstraint("period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(120))
    verification_code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: Incremented by every transition; a form carries it to detect stale requests.
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Approval round: a rejection to the draft starts a new one.
    round: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("revisions.id", use_alter=True)
    )
    #: The complaints as they were when the draft was submitted. The figures of
    #: a submitted, signed or archived recap come from here, so later imports
    #: cannot change them. None while the recap is a draft.
    complaint_snapshot: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: Hash of the newest audit event, so that deleting the last event shows.
    audit_head: Mapped[str | None] = mapped_column(String(64))
    step_started_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    current_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[current_revision_id], post_update=True
    )

    # Every UPDATE checks and bumps ``version``, so two concurrent transitions
    # cannot both succeed (the loser gets StaleDataError).
    __mapper_args__ = {"version_id_col": version}


class Revision(Base):
    """One stored PDF revision of a recap; never deleted or overwritten."""

    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    recap_id: Mapped[int] = mapped_column(ForeignKey("recaps.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # draft, sealed, kasi, kabid, kadis
    round: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    workbook_sha256: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id"))
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    signer: Mapped[User | None] = relationship(foreign_keys=[signer_id])


class AuditEvent(Base):
    """A hash-chained record of one workflow transition."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    recap_id: Mapped[int] = mapped_column(ForeignKey("recaps.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    sha256_before: Mapped[str | None] = mapped_column(String(64))
    sha256_after: Mapped[str | None] = mapped_column(String(64))
    step_started_dt: Mapped[dt.datetime] = mapped_column(DateTime)
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    previous_hash: Mapped[str] = mapped_column(String(64))
    event_hash: Mapped[str] = mapped_column(String(64), unique=True)

    actor: Mapped[User | None] = relationship()


class SigningKey(Base):
    """An approver's key pair, stored as PKCS#12 under their signing passphrase."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    pkcs12: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_pem: Mapped[str] = mapped_column(Text)
    serial: Mapped[str] = mapped_column(String(64))
    is_external: Mapped[bool] = mapped_column(Boolean, default=False)
    is_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_dt: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: A key of keys.REVOCATION_REASONS; None for keys revoked without one.
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until_dt: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()


class ActingAppointment(Base):
    """A Plt. or Plh. appointment: a user acts for an approving role for a while."""

    __tablename__ = "acting_appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(3))  # "Plt" or "Plh"
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ArchiveDocument(Base):
    """A recap's row in the archive catalog, rebuilt by ``archive.index_recap``.

    It copies what the archive filters and sorts by into one narrow table, so
    that searches over many years of recaps stay fast. On PostgreSQL it also
    has the search vector ``body_tsv`` with a GIN index, which exists only in
    the migrations.
    """

    __tablename__ = "archive_documents"
    __table_args__ = (
        Index("ix_archive_documents_status_period", "status", "period"),
        Index("ix_archive_documents_year_sequence", "year", "sequence"),
    )

    recap_id: Mapped[int] = mapped_column(ForeignKey("recaps.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer, index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(120))
    #: The number in lower case, for the prefix filter.
    number_key: Mapped[str] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(String(16))
    updated_dt: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    #: ``Recap.version`` when the row was built, so a stale one can be spotted.
    recap_version: Mapped[int] = mapped_column(Integer)
    indexed_dt: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ArchiveText(Base):
    """The words of a recap that full-text search matches.

    SQLite indexes them in the FTS5 table ``archive_texts_fts`` (external
    content, rowid = recap id). PostgreSQL indexes them in
    ``archive_documents.body_tsv``. Both exist only in the migrations.
    """

    __tablename__ = "archive_texts"

    recap_id: Mapped[int] = mapped_column(ForeignKey("recaps.id"), primary_key=True)
    #: Lower-case words without punctuation, each once.
    body: Mapped[str] = mapped_column(Text)


class ArchiveSigner(Base):
    """A user who marked a revision of a recap, for the archive's signer filter."""

    __tablename__ = "archive_signers"

    recap_id: Mapped[int] = mapped_column(ForeignKey("recaps.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id"), primary_key=True, index=True
    )
    #: The name when the recap was indexed; a later rename does not change it.
    name: Mapped[str] = mapped_column(String(200))


class ArchiveFile(Base):
    """A stored file of a recap (revision PDF or workbook), found by its SHA-256."""

    __tablename__ = "archive_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    recap_id: Mapped[int] = mapped_column(ForeignKey("recaps.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "pdf" or "workbook"
