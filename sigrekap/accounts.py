"""User accounts and the office profile: the services behind the sysadmin pages."""

from __future__ import annotations

import datetime as dt
import logging
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .domain import OfficeProfile
from .errors import ConflictError, NotFoundError, PermissionDeniedError, UserError
from .models import ROLES, ActingAppointment, OfficeSetting, User, utcnow

logger = logging.getLogger(__name__)

password_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10
USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
NIP_PATTERN = re.compile(r"\d{18}")
# A dummy hash keeps the login time the same for unknown user names.
_DUMMY_HASH = password_hasher.hash("sigrekap-dummy-password")


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return password_hasher.hash(password)


def is_current_password(user: User, candidate: str) -> bool:
    """Tell whether ``candidate`` is the user's login password."""
    try:
        return password_hasher.verify(user.password_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str) -> None:
    """Raise UserError when the password is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter. "
            "Gunakan kalimat yang mudah diingat namun sulit ditebak."
        )


MAX_FAILED_LOGINS = 5
LOGIN_BLOCK = dt.timedelta(minutes=5)


class LoginBlockedError(UserError):
    """Too many wrong passwords for one account in a row."""

    status_code = 429


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None.

    Five wrong passwords in a row block the account's logins for five
    minutes (LoginBlockedError), which slows down password guessing.
    """
    user = session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )
    now = utcnow()
    if user is not None and user.login_blocked_until_dt and user.login_blocked_until_dt > now:
        raise LoginBlockedError(
            "Terlalu banyak kata sandi salah untuk akun ini. Tunggu lima menit "
            "lalu coba lagi, atau minta administrator sistem mengatur ulang kata sandi."
        )
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        password_hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        if user is not None:
            _count_failed_login(session, user, now)
        return None
    if user is None or not user.is_active:
        return None
    user.failed_logins = 0
    user.login_blocked_until_dt = None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.commit()
    return user


def _count_failed_login(session: Session, user: User, now: dt.datetime) -> None:
    # One atomic UPDATE, so parallel guesses are all counted.
    failures = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    if failures >= MAX_FAILED_LOGINS:
        session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, login_blocked_until_dt=now + LOGIN_BLOCK)
        )
        logger.warning("Logins of user %s blocked after %s wrong passwords", user.id, failures)
    session.commit()


def validate_nip(nip: str) -> str | None:
    """Normalise a NIP (spaces removed); raise UserError if it is not 18 digits."""
    cleaned = re.sub(r"\s+", "", nip or "")
    if not cleaned:
        return None
    if not NIP_PATTERN.fullmatch(cleaned):
        raise UserError(
            f"NIP {nip!r} tidak valid: NIP terdiri atas 18 angka "
            "(tanggal lahir, TMT pengangkatan, jenis kelamin, nomor urut)."
        )
    try:
        dt.date(int(cleaned[0:4]), int(cleaned[4:6]), int(cleaned[6:8]))
        dt.date(int(cleaned[8:12]), int(cleaned[12:14]), 1)
    except ValueError:
        raise UserError(
            f"NIP {nip!r} tidak valid: 8 angka pertama harus tanggal lahir "
            "(TTTTBBHH) dan 6 angka berikutnya bulan pengangkatan (TTTTBB)."
        ) from None
    if cleaned[14] not in "12":
        raise UserError(
            f"NIP {nip!r} tidak valid: angka ke-15 (jenis kelamin) harus 1 atau 2."
        )
    return cleaned


def _require_sysadmin(actor: User) -> None:
    if actor.role != "sysadmin":
        raise PermissionDeniedError(
            "Hanya administrator sistem yang dapat mengelola pengguna dan "
            "pengaturan kantor."
        )


def _validate_user_fields(name: str, role: str, nip: str) -> str | None:
    if not name.strip():
        raise UserError("Nama wajib diisi.")
    if role not in ROLES:
        raise UserError(f"Peran {role!r} tidak dikenal.")
    cleaned_nip = validate_nip(nip)
    if role in ("kasi", "kabid", "kadis") and cleaned_nip is None:
        raise UserError(
            "NIP wajib diisi untuk pejabat yang memberi paraf atau tanda tangan."
        )
    return cleaned_nip


def create_user(
    session: Session,
    actor: User,
    *,
    username: str,
    password: str,
    name: str,
    role: str,
    nip: str = "",
    title: str = "",
) -> User:
    """Create a user account."""
    _require_sysadmin(actor)
    username = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError(
            "Nama pengguna harus 3–64 karakter: huruf kecil, angka, titik, "
            "garis bawah atau tanda hubung."
        )
    cleaned_nip = _validate_user_fields(name, role, nip)
    check_password_policy(password)
    if session.scalar(select(User).where(User.username == username)):
        raise ConflictError(f"Nama pengguna {username!r} sudah dipakai.")

    user = User(
        username=username,
        password_hash=hash_password(password),
        name=name.strip(),
        nip=cleaned_nip,
        title=title.strip(),
        role=role,
        is_active=True,
    )
    session.add(user)
    session.commit()
    logger.info("User %s (%s) created by user %s", user.id, role, actor.id)
    return user


def get_user(session: Session, user_id: int) -> User:
    """Return a user or raise NotFoundError."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("Pengguna tidak ditemukan.")
    return user


def update_user(
    session: Session,
    actor: User,
    user_id: int,
    *,
    name: str,
    role: str,
    nip: str,
    title: str,
    is_active: bool,
) -> User:
    """Change a user's profile, role or active flag."""
    _require_sysadmin(actor)
    user = get_user(session, user_id)
    cleaned_nip = _validate_user_fields(name, role, nip)
    if user.id == actor.id and (not is_active or role != "sysadmin"):
        raise UserError(
            "Anda tidak dapat menonaktifkan akun sendiri atau melepas peran "
            "administrator sistem dari akun sendiri."
        )
    if user.is_active and not is_active:
        user.session_version += 1
    user.name = name.strip()
    user.role = role
    user.nip = cleaned_nip
    user.title = title.strip()
    user.is_active = is_active
    session.commit()
    logger.info("User %s updated by user %s", user.id, actor.id)
    return user


def reset_password(session: Session, actor: User, user_id: int, password: str) -> User:
    """Set a new password and end the user's existing sessions."""
    _require_sysadmin(actor)
    user = get_user(session, user_id)
    check_password_policy(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    session.commit()
    logger.info("Password of user %s reset by user %s", user.id, actor.id)
    return user


def list_users(session: Session) -> list[User]:
    """Return every user, by role then name."""
    return list(session.scalars(select(User).order_by(User.role, User.name)))


def get_office(session: Session) -> OfficeSetting:
    """Return the office profile row; set-up creates it."""
    office = session.scalar(select(OfficeSetting).order_by(OfficeSetting.id))
    if office is None:
        raise NotFoundError(
            "Profil kantor belum diatur. Jalankan `make setup` atau isi "
            "pengaturan kantor sebagai administrator sistem."
        )
    return office


def office_profile(office: OfficeSetting) -> OfficeProfile:
    """Convert the office row to the profile that the renderers print."""
    lines = tuple(
        line.strip() for line in office.letterhead.splitlines() if line.strip()
    )
    return OfficeProfile(
        letterhead_lines=lines,
        address=office.address,
        name=office.name,
        city=office.city,
        logo_png=office.logo_png,
    )


NUMBER_FIELDS = ("{seq}", "{year}")


def check_number_format(number_format: str) -> None:
    """Raise UserError unless the format can number documents uniquely."""
    if "{seq}" not in number_format:
        raise UserError(
            "Format nomor dokumen harus memuat {seq} (nomor urut), misalnya "
            "065.1/{seq}/437.87/{year}."
        )
    try:
        format_document_number(number_format, 1, 2026, 11)
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(
            "Format nomor dokumen tidak valid. Gunakan hanya {seq}, {year} dan "
            "{month}, misalnya 065.1/{seq}/437.87/{year}."
        ) from exc


def format_document_number(number_format: str, seq: int, year: int, month: int) -> str:
    """Fill a number format such as ``065.1/{seq}/437.87/{year}``."""
    return number_format.format(seq=seq, year=year, month=f"{month:02d}")


MAX_LOGO_BYTES = 512 * 1024


def update_office(
    session: Session,
    actor: User,
    *,
    name: str,
    letterhead: str,
    address: str,
    city: str,
    number_format: str,
    open_threshold_days: int,
    is_reporter_identity_stored: bool,
    logo_png: bytes | None = None,
    remove_logo: bool = False,
) -> OfficeSetting:
    """Save the office profile printed on every recap."""
    _require_sysadmin(actor)
    if not name.strip() or not letterhead.strip():
        raise UserError("Nama kantor dan kop surat wajib diisi.")
    check_number_format(number_format.strip())
    if not 1 <= open_threshold_days <= 365:
        raise UserError("Batas hari pengaduan terbuka harus antara 1 dan 365 hari.")
    if logo_png is not None:
        if len(logo_png) > MAX_LOGO_BYTES:
            raise UserError("Logo terlalu besar: maksimal 512 KB.")
        if not logo_png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise UserError("Logo harus berupa gambar PNG.")

    office = get_office(session)
    office.name = name.strip()
    office.letterhead = letterhead.strip()
    office.address = address.strip()
    office.city = city.strip()
    office.number_format = number_format.strip()
    office.open_threshold_days = open_threshold_days
    office.is_reporter_identity_stored = is_reporter_identity_stored
    if remove_logo:
        office.logo_png = None
    elif logo_png is not None:
        office.logo_png = logo_png
    office.updated_dt = utcnow()
    session.commit()
    logger.info("Office settings updated by user %s", actor.id)
    return office


APPOINTMENT_KINDS = {"Plt": "Pelaksana Tugas (Plt.)", "Plh": "Pelaksana Harian (Plh.)"}
APPROVING_ROLES = ("kasi", "kabid", "kadis")


def create_appointment(
    session: Session,
    actor: User,
    *,
    user_id: int,
    role: str,
    kind: str,
    starts_on: dt.date,
    ends_on: dt.date,
) -> ActingAppointment:
    """Appoint a user as acting official (Plt. or Plh.) for an approving role."""
    _require_sysadmin(actor)
    user = get_user(session, user_id)

    if role not in APPROVING_ROLES:
        raise UserError("Plt./Plh. hanya dapat ditunjuk untuk Kasi, Kabid atau Kadis.")
    if kind not in APPOINTMENT_KINDS:
        raise UserError("Jenis penunjukan harus Plt. atau Plh.")
    if ends_on < starts_on:
        raise UserError("Tanggal selesai penunjukan tidak boleh sebelum tanggal mulai.")
    if not user.is_active or user.role not in APPROVING_ROLES:
        raise UserError(
            "Plt./Plh. harus pejabat aktif yang memiliki kunci tanda tangan "
            "(peran Kasi, Kabid atau Kadis)."
        )
    if user.role == role:
        raise UserError(f"{user.name} sudah memegang peran tersebut.")

    appointment = ActingAppointment(
        user_id=user.id,
        role=role,
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by_id=actor.id,
    )
    session.add(appointment)
    session.commit()
    logger.info(
        "User %s appointed %s for role %s from %s to %s by user %s",
        user.id,
        kind,
        role,
        starts_on,
        ends_on,
        actor.id,
    )
    return appointment


def end_appointment(session: Session, actor: User, appointment_id: int) -> None:
    """End an appointment now; one that already ran stays on record."""
    _require_sysadmin(actor)
    appointment = session.get(ActingAppointment, appointment_id)
    if appointment is None:
        raise NotFoundError("Penunjukan tidak ditemukan.")
    today = dt.date.today()
    if appointment.starts_on >= today:
        session.delete(appointment)
    else:
        appointment.ends_on = min(appointment.ends_on, today - dt.timedelta(days=1))
    session.commit()
    logger.info("Appointment %s ended by user %s", appointment_id, actor.id)


def list_appointments(session: Session) -> list[ActingAppointment]:
    """Return every appointment, newest first."""
    return list(
        session.scalars(select(ActingAppointment).order_by(ActingAppointment.id.desc()))
    )
