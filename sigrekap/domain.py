"""Plain data types shared by the core modules (import, statistics, rendering)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

INDONESIAN_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


@dataclass(frozen=True, order=True)
class Period:
    """One calendar month, the unit a recap covers."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``YYYY-MM``; raise ValueError with the bad value otherwise."""
        match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"Periode {text!r} tidak valid; gunakan format TTTT-BB.")
        # Period.end of December 9999 would need year 10000, which datetime
        # cannot represent.
        if not 1000 <= int(match.group(1)) <= 9998:
            raise ValueError(
                f"Periode {text!r} tidak valid: tahun harus antara 1000 dan 9998."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1)

    @property
    def end(self) -> dt.datetime:
        """First instant after the period (exclusive bound)."""
        if self.month == 12:
            return dt.datetime(self.year + 1, 1, 1)
        return dt.datetime(self.year, self.month + 1, 1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def contains(self, moment: dt.datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def label(self) -> str:
        """Indonesian label such as ``November 2026``."""
        return f"{INDONESIAN_MONTHS[self.month - 1]} {self.year}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass
class ComplaintRecord:
    """One LAPOR! complaint as read from an export.

    Times are naive local times (WIB), as LAPOR! exports them. The ORM model
    ``Complaint`` has the same attribute names, so the statistics and
    rendering code accept either.
    """

    tracking_id: str
    received_at: dt.datetime
    title: str = ""
    content: str = ""
    classification: str | None = None
    category: str | None = None
    channel: str | None = None
    unit: str | None = None
    status: str | None = None
    finished_at: dt.datetime | None = None
    reporter_name: str | None = None
    reporter_contact: str | None = None
    is_anonymous: bool = False
    is_confidential: bool = False
    extra: dict[str, str] = field(default_factory=dict)


# ComplaintRecord fields about the complaint itself, without its tracking ID
# and the reporter's identity; imports copy them and recap snapshots keep them.
COMPLAINT_FIELDS = (
    "received_at",
    "title",
    "content",
    "classification",
    "category",
    "channel",
    "unit",
    "status",
    "finished_at",
    "is_anonymous",
    "is_confidential",
    "extra",
)


@dataclass(frozen=True)
class OfficeProfile:
    """Office details printed on the recap, set by the sysadmin."""

    letterhead_lines: tuple[str, ...]
    address: str
    name: str
    city: str = "Gresik"
    logo_png: bytes | None = None


@dataclass(frozen=True)
class Approver:
    """A person named in the signature block."""

    role: str  # "kasi", "kabid" or "kadis"
    name: str
    title: str
    nip: str


@dataclass(frozen=True)
class HistoryEntry:
    """One approval-history line for the workbook and the recap page."""

    at: dt.datetime
    actor: str
    role: str
    action: str
    reason: str = ""


@dataclass(frozen=True)
class RecapDocumentInfo:
    """Identity of one rendered recap document."""

    number: str
    period: Period
    verification_code: str
    verification_url: str
    generated_at: dt.datetime


# Signature fields that every draft carries, in signing order. The verifier
# relies on these names to tell each signer's role.
SIGNATURE_FIELDS: dict[str, str] = {
    "kasi": "ParafKasi",
    "kabid": "ParafKabid",
    "kadis": "TandaTanganKadis",
}
SEAL_FIELD = "SegelKantor"
WORKBOOK_ATTACHMENT_NAME = "rekap.xlsx"
