"""The demo office: one user per role, created by the set-up."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounts import hash_password
from .models import OfficeSetting, User

logger = logging.getLogger(__name__)

OFFICE_NAME = "Dinas Komunikasi dan Informatika Kabupaten Gresik"
LETTERHEAD = "PEMERINTAH KABUPATEN GRESIK\nDINAS KOMUNIKASI DAN INFORMATIKA"
ADDRESS = "Jl. Dr. Wahidin Sudirohusodo No. 245, Gresik 61161, Telp. (031) 3951444"
NUMBER_FORMAT = "065.1/{seq}/437.87/{year}"


@dataclass(frozen=True)
class DemoUser:
    username: str
    name: str
    role: str
    title: str
    nip: str | None


# Synthetic people; the NIPs follow the 18-digit layout but belong to no one.
DEMO_USERS = (
    DemoUser(
        "admin",
        "Rina Kartikasari",
        "admin",
        "Pengelola Layanan Informasi",
        "199203152015032001",
    ),
    DemoUser(
        "kasi",
        "Dimas Prasetyo, S.Kom.",
        "kasi",
        "Kepala Seksi Layanan Informasi dan Statistik",
        "198507222010011003",
    ),
    DemoUser(
        "kabid",
        "Sri Wahyuni, S.Sos., M.Si.",
        "kabid",
        "Kepala Bidang Informasi dan Statistik",
        "197911042005012002",
    ),
    DemoUser(
        "kadis",
        "Dr. Ahmad Fauzi, S.T., M.T.",
        "kadis",
        "Kepala Dinas Komunikasi dan Informatika",
        "197302141998031004",
    ),
    DemoUser("sysadmin", "Yoga Pratama", "sysadmin", "Administrator Sistem", None),
)


def credentials_path(instance: Path) -> Path:
    return instance / "demo-accounts.json"


def load_credentials(instance: Path) -> dict[str, dict[str, str]]:
    """Return the generated demo passwords and passphrases by user name."""
    path = credentials_path(instance)
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _new_secret() -> str:
    return secrets.token_urlsafe(9)


def ensure_demo_office(session: Session, instance: Path) -> dict[str, dict[str, str]]:
    """Create the office profile and the demo users unless they exist.

    Passwords and signing passphrases are random per installation and kept in
    the instance folder (never in the repository), so `make run` can print them.
    """
    if session.scalar(select(OfficeSetting)) is None:
        session.add(
            OfficeSetting(
                name=OFFICE_NAME,
                letterhead=LETTERHEAD,
                address=ADDRESS,
                city="Gresik",
                number_format=NUMBER_FORMAT,
                open_threshold_days=14,
                is_reporter_identity_stored=False,
            )
        )
    credentials = load_credentials(instance)
    for demo in DEMO_USERS:
        entry = credentials.setdefault(demo.username, {})
        entry.setdefault("password", _new_secret())
        if demo.role in ("kasi", "kabid", "kadis"):
            entry.setdefault("passphrase", _new_secret())
        if session.scalar(select(User).where(User.username == demo.username)):
            continue
        session.add(
            User(
                username=demo.username,
                password_hash=hash_password(entry["password"]),
                name=demo.name,
                nip=demo.nip,
                title=demo.title,
                role=demo.role,
                is_active=True,
            )
        )
        logger.info("Demo user %s created", demo.username)
    session.commit()
    path = credentials_path(instance)
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    return credentials
