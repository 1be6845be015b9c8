"""Integrity of the archive: stored files against their SHA-256, audit chains.

A damaged file is reported and never served: ``read_file`` raises instead of
returning bytes that do not match their hash.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import check_chain
from .errors import UserError
from .models import Recap, Revision
from .storage import FileStore, StorageIntegrityError
from .verify import (
    NO_REVOCATIONS,
    RevocationData,
    TrustRoot,
    VerificationReport,
    verify_pdf,
)

logger = logging.getLogger(__name__)


class ArchiveIntegrityError(UserError):
    """A stored archive file is missing or changed, so its bytes are not served."""

    status_code = 500


@dataclass(frozen=True)
class FileCheck:
    """The integrity of one stored file."""

    sha256: str
    label: str
    is_intact: bool
    is_missing: bool = False

    @property
    def message(self) -> str:
        if self.is_intact:
            return "Utuh: isi berkas cocok dengan SHA-256."
        if self.is_missing:
            return "Berkas hilang dari penyimpanan arsip."
        return "Isi berkas tidak cocok dengan SHA-256-nya: berkas telah berubah."


def check_file(
    store: FileStore, sha256: str, label: str
) -> tuple[FileCheck, bytes | None]:
    """Read a stored file and report whether it matches its SHA-256."""
    try:
        data = store.get(sha256)
    except StorageIntegrityError:
        missing = not store.exists(sha256)
        return FileCheck(sha256, label, is_intact=False, is_missing=missing), None
    return FileCheck(sha256, label, is_intact=True), data


def read_file(store: FileStore, recap: Recap, sha256: str, label: str) -> bytes:
    """Read a recap's stored file, or raise ArchiveIntegrityError (logged)."""
    check, data = check_file(store, sha256, label)
    if data is not None:
        return data
    logger.error(
        "Archive file %s (%s of recap %s, %s) failed its integrity check: %s",
        sha256,
        label,
        recap.id,
        recap.period,
        "missing" if check.is_missing else "content does not match its SHA-256",
    )
    raise ArchiveIntegrityError(
        f"Berkas {label} rekapitulasi {recap.number} tidak dapat diberikan: "
        f"{check.message[0].lower()}{check.message[1:]} "
        f"(SHA-256 {sha256}). Berkas tidak dikirim agar tidak dianggap asli. "
        "Hubungi administrator sistem untuk memulihkannya dari cadangan."
    )


@dataclass(frozen=True)
class RevisionFiles:
    """A stored revision with the integrity of its PDF and workbook."""

    revision: Revision
    pdf: FileCheck
    workbook: FileCheck | None


@dataclass
class EntryDetails:
    """Everything the archive entry page shows about one recap."""

    recap: Recap
    revisions: list[RevisionFiles]
    current: RevisionFiles | None
    report: VerificationReport | None
    audit_problems: list[str]

    @property
    def damaged_files(self) -> list[FileCheck]:
        seen: dict[str, FileCheck] = {}
        for item in self.revisions:
            for check in (item.pdf, item.workbook):
                if check is not None and not check.is_intact:
                    seen.setdefault(check.sha256, check)
        return list(seen.values())


def entry_details(
    session: Session,
    store: FileStore,
    recap: Recap,
    trust_roots: Sequence[TrustRoot],
    revocation: RevocationData = NO_REVOCATIONS,
) -> EntryDetails:
    """Check every stored file of a recap and verify its current PDF."""
    revisions = list(
        session.scalars(
            select(Revision).where(Revision.recap_id == recap.id).order_by(Revision.id)
        )
    )
    workbook_checks: dict[str, FileCheck] = {}
    items: list[RevisionFiles] = []
    current: RevisionFiles | None = None
    current_pdf: bytes | None = None
    for revision in revisions:
        pdf_check, data = check_file(
            store, revision.sha256, f"PDF revisi #{revision.id}"
        )
        workbook_check = None
        if revision.workbook_sha256:
            if revision.workbook_sha256 not in workbook_checks:
                workbook_checks[revision.workbook_sha256] = check_file(
                    store, revision.workbook_sha256, "Excel"
                )[0]
            workbook_check = workbook_checks[revision.workbook_sha256]
        item = RevisionFiles(revision, pdf_check, workbook_check)
        items.append(item)
        if revision.id == recap.current_revision_id:
            current, current_pdf = item, data

    for item in items:
        for check in (item.pdf, item.workbook):
            if check is not None and not check.is_intact:
                logger.error(
                    "Archive file %s (%s of recap %s) failed its integrity check",
                    check.sha256,
                    check.label,
                    recap.id,
                )
    report = (
        verify_pdf(
            current_pdf,
            trust_roots,
            crls=revocation.crls,
            revoked=revocation.revoked,
        )
        if current_pdf is not None
        else None
    )
    return EntryDetails(
        recap=recap,
        revisions=items,
        current=current,
        report=report,
        audit_problems=check_chain(session, recap),
    )


@dataclass(frozen=True)
class IntegrityProblem:
    """One mismatch found by the archive check."""

    kind: str  # "file_missing", "file_changed" or "audit_chain"
    recap_id: int
    period: str
    detail: str
    sha256: str | None = None

    def line(self) -> str:
        """Describe the problem on one line, in English, for logs and the CLI."""
        if self.kind == "audit_chain":
            return f"recap {self.recap_id} ({self.period}): audit chain: {self.detail}"
        state = "missing" if self.kind == "file_missing" else "content changed"
        return f"{self.sha256}: {state}: {self.detail}"

    @property
    def label(self) -> str:
        return {
            "file_missing": "Berkas hilang",
            "file_changed": "Isi berkas berubah (SHA-256 tidak cocok)",
            "audit_chain": "Rantai riwayat audit rusak",
        }[self.kind]


@dataclass
class ArchiveCheck:
    """The result of re-hashing every stored file and audit chain."""

    files_checked: int = 0
    recaps_checked: int = 0
    problems: list[IntegrityProblem] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """Return the one-line English summary."""
        outcome = (
            "no problems found"
            if self.is_ok
            else f"{len(self.problems)} problem(s) found"
        )
        return (
            f"Checked {self.files_checked} stored files and the audit chains of "
            f"{self.recaps_checked} recaps: {outcome}."
        )


def check_archive(session: Session, store: FileStore) -> ArchiveCheck:
    """Re-hash every stored file of every revision and check every audit chain."""
    result = ArchiveCheck()
    recaps_by_id = {recap.id: recap for recap in session.scalars(select(Recap))}
    # One file can back several revisions (a round shares its workbook).
    references: dict[str, list[str]] = {}
    owners: dict[str, Recap] = {}
    for revision in session.scalars(select(Revision).order_by(Revision.id)):
        recap = recaps_by_id[revision.recap_id]
        for sha256, what in (
            (revision.sha256, "PDF"),
            (revision.workbook_sha256, "workbook"),
        ):
            if sha256:
                references.setdefault(sha256, []).append(
                    f"{what} of revision {revision.id}"
                )
                owners.setdefault(sha256, recap)

    for sha256, uses in references.items():
        result.files_checked += 1
        check, _ = check_file(store, sha256, "")
        if check.is_intact:
            continue
        recap = owners[sha256]
        result.problems.append(
            IntegrityProblem(
                kind="file_missing" if check.is_missing else "file_changed",
                recap_id=recap.id,
                period=recap.period,
                sha256=sha256,
                detail=f"{', '.join(uses)} of recap {recap.id} ({recap.period})",
            )
        )

    for recap in sorted(recaps_by_id.values(), key=lambda item: item.id):
        result.recaps_checked += 1
        for description in check_chain(session, recap):
            result.problems.append(
                IntegrityProblem(
                    kind="audit_chain",
                    recap_id=recap.id,
                    period=recap.period,
                    detail=description,
                )
            )
    for problem in result.problems:
        logger.error("Archive check: %s", problem.line())
    logger.info("Archive check: %s", result.summary())
    return result
