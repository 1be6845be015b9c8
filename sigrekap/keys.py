"""Office PKI files and approvers' signing keys: creation, unlocking, revocation."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.sign.signers import SimpleSigner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import accounts, pki
from .errors import ConflictError, NotFoundError, PermissionDeniedError, UserError
from .models import SigningKey, User, utcnow
from .verify import RevocationData, RevokedCertificate

logger = logging.getLogger(__name__)

SIGNING_ROLES = ("kasi", "kabid", "kadis")
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=15)
CA_CERT_FILENAME = "sigrekap-ca.pem"


#: Reasons for revoking a key, with the labels of the user form.
REVOCATION_REASONS = {
    "key_compromise": "Kunci bocor atau diduga dipakai orang lain",
    "superseded": "Diganti kunci baru, misalnya karena lupa frasa sandi",
    "cessation_of_operation": "Pejabat tidak lagi menjabat",
}
#: The RFC 5280 reason code that the CRL publishes for each reason.
CRL_REASONS = {
    "key_compromise": x509.ReasonFlags.key_compromise,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}
#: URL path of the office CA's CRL, below PUBLIC_BASE_URL.
CRL_PATH = "/crl/sigrekap-ca.crl"


@dataclass(frozen=True)
class OfficePKI:
    """The per-deployment CA and the system keys it issued."""

    ca: pki.CertifiedKey
    seal: pki.CertifiedKey
    tsa: pki.CertifiedKey
    secret: bytes

    @property
    def ca_certificate(self) -> x509.Certificate:
        return self.ca.certificate


_cache: dict[str, OfficePKI] = {}
_cache_lock = threading.Lock()


def _pki_dir(instance: Path) -> Path:
    return Path(instance) / "pki"


def _server_secret(instance: Path) -> bytes:
    """Return the key-encryption secret of this deployment, creating it once."""
    path = _pki_dir(instance) / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def ensure_office_pki(instance: Path, certs_dir: Path, office_name: str) -> OfficePKI:
    """Create the office CA, seal and TSA keys unless they exist.

    Private keys stay in the instance folder, encrypted under a server-side
    secret; only the CA certificate is written to ``certs_dir``.
    """
    folder = _pki_dir(instance)
    secret = _server_secret(instance)
    paths = {name: folder / f"{name}.pem" for name in ("ca", "seal", "tsa")}
    if not paths["ca"].exists():
        ca = pki.create_ca(office_name)
        pki.save_certified_key(paths["ca"], ca, secret)
        pki.save_certified_key(
            paths["seal"], pki.issue_seal_certificate(ca, office=office_name), secret
        )
        pki.save_certified_key(
            paths["tsa"], pki.issue_tsa_certificate(ca, office=office_name), secret
        )
        logger.info("Created the office CA, seal and TSA keys in %s", folder)
    office_pki = load_office_pki(instance)
    _publish_ca_certificate(office_pki, Path(certs_dir))
    return office_pki


def _publish_ca_certificate(office_pki: OfficePKI, certs: Path) -> None:
    """Write the office CA certificate to ``certs`` without replacing another's.

    Two instances set up from one checkout share the default certs folder.
    Overwriting would leave the first instance's recaps without a trust
    anchor, so a second CA gets a file named after its fingerprint.
    """
    certs.mkdir(parents=True, exist_ok=True)
    pem = office_pki.ca.certificate_pem()
    path = certs / CA_CERT_FILENAME
    if path.exists() and path.read_bytes() != pem:
        fingerprint = office_pki.ca.certificate.fingerprint(hashes.SHA256()).hex()
        path = certs / f"sigrekap-ca-{fingerprint[:16]}.pem"
        logger.warning(
            "%s contains another office CA; writing this instance's CA to %s",
            certs / CA_CERT_FILENAME,
            path,
        )
    if not path.exists() or path.read_bytes() != pem:
        path.write_bytes(pem)


def load_office_pki(instance: Path) -> OfficePKI:
    """Load (once per process) the office PKI created by ensure_office_pki."""
    key = str(Path(instance).resolve())
    with _cache_lock:
        if key not in _cache:
            folder = _pki_dir(instance)
            if not (folder / "ca.pem").exists():
                raise UserError(
                    "Infrastruktur kunci kantor belum dibuat. Jalankan `make setup`."
                )
            secret = _server_secret(instance)
            _cache[key] = OfficePKI(
                ca=pki.load_certified_key(folder / "ca.pem", secret),
                seal=pki.load_certified_key(folder / "seal.pem", secret),
                tsa=pki.load_certified_key(folder / "tsa.pem", secret),
                secret=secret,
            )
        return _cache[key]


def trust_roots(certs_dir: Path) -> list[x509.Certificate]:
    """Return every certificate in the PEM files of ``certs_dir``."""
    roots: list[x509.Certificate] = []
    for path in sorted(Path(certs_dir).glob("*.pem")):
        roots.extend(pki.load_pem_certificates(path.read_bytes()))
    return roots


def active_key(session: Session, user: User) -> SigningKey | None:
    """Return the user's current, unrevoked key."""
    return session.scalar(
        select(SigningKey)
        .where(SigningKey.user_id == user.id, SigningKey.is_revoked.is_(False))
        .order_by(SigningKey.id.desc())
    )


def create_key(
    session: Session,
    user: User,
    office_pki: OfficePKI,
    office_name: str,
    passphrase: str,
    confirmation: str,
    *,
    crl_url: str | None = None,
) -> SigningKey:
    """Issue the user a key and certificate, stored under their new passphrase.

    ``crl_url``, when given, goes into the certificate as the place where
    validators fetch the office CA's CRL.
    """
    if user.role not in SIGNING_ROLES:
        raise PermissionDeniedError(
            "Hanya pejabat penyetuju yang memiliki kunci tanda tangan."
        )
    if active_key(session, user) is not None:
        raise ConflictError("Anda sudah memiliki kunci tanda tangan yang aktif.")
    if passphrase != confirmation:
        raise UserError("Konfirmasi frasa sandi tidak sama. Ketik ulang keduanya.")
    try:
        pki.check_passphrase_strength(passphrase)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if accounts.is_current_password(user, passphrase):
        raise UserError(
            "Frasa sandi penandatanganan harus berbeda dari kata sandi masuk, "
            "agar sesi yang terbuka tidak cukup untuk menandatangani."
        )
    if not user.nip:
        raise UserError(
            "NIP Anda belum diisi. Minta administrator sistem melengkapinya."
        )

    certified = pki.issue_signing_certificate(
        office_pki.ca,
        name=user.name,
        title=user.title or user.role_label,
        nip=user.nip,
        office=office_name,
        crl_url=crl_url,
    )
    blob = pki.export_pkcs12(certified, office_pki.ca_certificate, passphrase)
    key = SigningKey(
        user_id=user.id,
        pkcs12=pki.encrypt_at_rest(blob, office_pki.secret),
        certificate_pem=certified.certificate_pem().decode(),
        serial=format(certified.certificate.serial_number, "x"),
        is_external=False,
    )
    session.add(key)
    session.commit()
    logger.info("Signing key %s issued to user %s", key.id, user.id)
    return key


def unlock_signer(
    session: Session, user: User, office_pki: OfficePKI, passphrase: str
) -> SimpleSigner:
    """Open the user's key with their passphrase for one signing operation.

    Five wrong passphrases in a row lock the key for 15 minutes. The attempt
    counter is committed here, before the caller's transition starts.
    """
    key = active_key(session, user)
    if key is None:
        raise UserError(
            "Anda belum memiliki kunci tanda tangan. Buat frasa sandi di halaman "
            "Kunci tanda tangan terlebih dahulu."
        )
    now = utcnow()
    if key.locked_until_dt and key.locked_until_dt > now:
        minutes = max(1, int((key.locked_until_dt - now).total_seconds() // 60) + 1)
        raise UserError(
            "Kunci tanda tangan Anda dikunci sementara karena frasa sandi salah "
            f"{MAX_FAILED_ATTEMPTS} kali. Coba lagi dalam {minutes} menit."
        )

    # Each try takes an attempt before the passphrase is checked, with one
    # atomic UPDATE, so parallel requests cannot test more passphrases than
    # the limit allows.
    attempt = session.execute(
        update(SigningKey)
        .where(SigningKey.id == key.id)
        .values(failed_attempts=SigningKey.failed_attempts + 1)
        .returning(SigningKey.failed_attempts)
    ).scalar_one()
    session.commit()
    if attempt > MAX_FAILED_ATTEMPTS:
        _lock_key(session, key, user, now)
        raise UserError(
            "Kunci tanda tangan Anda dikunci sementara karena terlalu banyak "
            "percobaan frasa sandi. Coba lagi dalam 15 menit."
        )

    try:
        blob = pki.decrypt_at_rest(key.pkcs12, office_pki.secret)
        signer = pki.load_signer_from_pkcs12(blob, passphrase)
    except pki.WrongPassphraseError:
        if attempt >= MAX_FAILED_ATTEMPTS:
            _lock_key(session, key, user, now)
            raise UserError(
                "Frasa sandi salah. Kunci tanda tangan Anda dikunci selama 15 menit "
                "karena lima kali salah berturut-turut."
            ) from None
        logger.info("Wrong signing passphrase for key %s of user %s", key.id, user.id)
        raise UserError(
            f"Frasa sandi salah. Tersisa {MAX_FAILED_ATTEMPTS - attempt} percobaan "
            "sebelum kunci tanda tangan Anda diblokir sementara. Dokumen tidak berubah."
        ) from None
    except pki.KeyMaterialError as exc:
        logger.error("Signing key %s of user %s is unreadable", key.id, user.id)
        raise UserError(
            "Berkas kunci tanda tangan Anda rusak. Minta administrator sistem "
            "mencabut kunci ini lalu buat kunci baru."
        ) from exc
    session.execute(
        update(SigningKey).where(SigningKey.id == key.id).values(failed_attempts=0)
    )
    session.commit()
    return signer


def _lock_key(session: Session, key: SigningKey, user: User, now: dt.datetime) -> None:
    session.execute(
        update(SigningKey)
        .where(SigningKey.id == key.id)
        .values(locked_until_dt=now + LOCKOUT, failed_attempts=0)
    )
    session.commit()
    logger.warning(
        "Signing key %s of user %s locked after %s wrong passphrases",
        key.id,
        user.id,
        MAX_FAILED_ATTEMPTS,
    )


def revoke_key(session: Session, actor: User, user_id: int, reason: str) -> SigningKey:
    """Revoke a user's active key; the user then sets a new passphrase."""
    if actor.role != "sysadmin":
        raise PermissionDeniedError(
            "Hanya administrator sistem yang dapat mencabut kunci."
        )
    if reason not in REVOCATION_REASONS:
        raise UserError("Pilih alasan pencabutan kunci dari daftar.")
    user = session.get(User, user_id)
    key = active_key(session, user) if user else None
    if key is None:
        raise UserError("Pengguna ini tidak memiliki kunci aktif.")
    key.is_revoked = True
    key.revoked_dt = utcnow()
    key.revocation_reason = reason
    session.commit()
    logger.info(
        "Signing key %s of user %s revoked by user %s, reason %s",
        key.id,
        user_id,
        actor.id,
        reason,
    )
    return key


def revoked_keys(session: Session, user: User) -> list[SigningKey]:
    """Return the user's revoked keys, newest first."""
    return list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.user_id == user.id, SigningKey.is_revoked.is_(True))
            .order_by(SigningKey.id.desc())
        )
    )


def change_revocation_reason(
    session: Session, actor: User, user_id: int, key_id: int, reason: str
) -> SigningKey:
    """Set the reason of a revoked key, for example when a leak comes to light.

    A missing reason may become any reason, and any reason may become
    key_compromise. The reverse would make the signatures of a leaked key
    valid again, so it is rejected.
    """
    if actor.role != "sysadmin":
        raise PermissionDeniedError(
            "Hanya administrator sistem yang dapat mengubah alasan pencabutan."
        )
    if reason not in REVOCATION_REASONS:
        raise UserError("Pilih alasan pencabutan kunci dari daftar.")
    key = session.get(SigningKey, key_id)
    if key is None or key.user_id != user_id or not key.is_revoked:
        raise NotFoundError("Kunci yang dicabut tidak ditemukan.")
    previous = key.revocation_reason
    if previous == "key_compromise" and reason != "key_compromise":
        raise UserError(
            "Kunci yang dicabut karena bocor tetap tercatat bocor, agar tanda "
            "tangannya tidak menjadi sah lagi."
        )
    if previous is not None and previous != reason and reason != "key_compromise":
        raise UserError(
            "Alasan pencabutan hanya dapat diisi bila belum ada, atau diubah "
            "menjadi kunci bocor."
        )
    key.revocation_reason = reason
    session.commit()
    logger.warning(
        "Revocation reason of signing key %s of user %s changed from %s to %s "
        "by user %s",
        key.id,
        key.user_id,
        previous,
        reason,
        actor.id,
    )
    return key


def key_used_at(
    session: Session, user_id: int, moment: dt.datetime
) -> SigningKey | None:
    """Return the key the user could sign with at ``moment`` (naive UTC)."""
    return session.scalar(
        select(SigningKey)
        .where(
            SigningKey.user_id == user_id,
            SigningKey.created_dt <= moment,
            (SigningKey.revoked_dt.is_(None)) | (SigningKey.revoked_dt > moment),
        )
        .order_by(SigningKey.id.desc())
    )


def revocation_state(session: Session) -> str:
    """Return a digest that changes whenever a key is revoked or its reason is."""
    rows = session.execute(
        select(SigningKey.id, SigningKey.revocation_reason, SigningKey.revoked_dt)
        .where(SigningKey.is_revoked.is_(True))
        .order_by(SigningKey.id)
    ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def revocation_data(session: Session, instance: Path) -> RevocationData:
    """Collect the revocations that every verification in the app applies.

    Keys from the office CA are in its CRL, built fresh unless the office PKI
    does not exist yet. Imported external keys have no CRL here, so their
    revocations are passed on directly.
    """
    revoked_rows = list(
        session.scalars(select(SigningKey).where(SigningKey.is_revoked.is_(True)))
    )
    try:
        office_pki = load_office_pki(instance)
    except UserError:
        crls = []
    else:
        crls = [_crl_of(office_pki, revoked_rows)]
    revoked = [
        RevokedCertificate(
            certificate=key.certificate_pem.encode(),
            revoked_at=_revocation_time(key),
            reason=key.revocation_reason,
        )
        for key in revoked_rows
        if key.is_external
    ]
    return RevocationData(crls=crls, revoked=revoked)


def _revocation_time(key: SigningKey) -> dt.datetime:
    """Return when a key was revoked, rounded up to a whole second.

    CRLs give whole seconds. Rounding down would place a revocation before a
    signature timestamped earlier in the same second, and rounding up cannot
    cover a later signature, because a revoked key no longer signs.
    """
    # The database keeps naive UTC times.
    moment = (key.revoked_dt or key.created_dt).replace(tzinfo=dt.UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    return moment


def office_crl(session: Session, office_pki: OfficePKI) -> bytes:
    """Build the office CA's CRL of every key it issued that has been revoked."""
    revoked = session.scalars(select(SigningKey).where(SigningKey.is_revoked.is_(True)))
    return _crl_of(office_pki, list(revoked))


def _crl_of(office_pki: OfficePKI, revoked: list[SigningKey]) -> bytes:
    """Build the office CA's CRL from revoked keys, leaving out external ones."""
    entries = []
    reasons = {}
    for key in revoked:
        if key.is_external:
            continue
        serial = int(key.serial, 16)
        entries.append((serial, _revocation_time(key)))
        if key.revocation_reason in CRL_REASONS:
            reasons[serial] = CRL_REASONS[key.revocation_reason]
    # A CRL is valid for a week, but the app builds a fresh one for every
    # verification and for every download.
    return pki.make_crl(office_pki.ca, entries, reasons=reasons)


def import_external_key(
    session: Session,
    actor: User,
    user_id: int,
    data: bytes,
    passphrase: str,
    office_pki: OfficePKI,
    certs_dir: Path,
) -> SigningKey:
    """Store an externally issued PKCS#12 for a user and trust its issuing CA."""
    if actor.role != "sysadmin":
        raise PermissionDeniedError(
            "Hanya administrator sistem yang dapat mengimpor kunci."
        )
    user = session.get(User, user_id)
    if user is None or user.role not in SIGNING_ROLES:
        raise UserError("Kunci hanya dapat diimpor untuk pejabat penyetuju.")
    if active_key(session, user) is not None:
        raise ConflictError(
            "Cabut dulu kunci aktif pengguna ini sebelum mengimpor kunci baru."
        )
    try:
        certified, issuers = pki.import_external_pkcs12(data, passphrase)
    except pki.SigningError as exc:
        raise UserError(str(exc)) from exc
    if _was_revoked(session, certified.certificate):
        raise UserError(
            "Sertifikat dalam berkas ini pernah dicabut di SigRekap, sehingga "
            "tidak dapat dipakai lagi. Minta penerbit mengeluarkan kunci baru."
        )

    key = SigningKey(
        user_id=user.id,
        pkcs12=pki.encrypt_at_rest(data, office_pki.secret),
        certificate_pem=certified.certificate_pem().decode(),
        serial=format(certified.certificate.serial_number, "x"),
        is_external=True,
    )
    session.add(key)
    session.commit()
    roots = [cert for cert in issuers if cert.issuer == cert.subject]
    for root in roots:
        # Serial numbers repeat between CAs, fingerprints do not.
        fingerprint = root.fingerprint(hashes.SHA256()).hex()
        path = Path(certs_dir) / f"external-{fingerprint[:16]}.pem"
        path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    logger.info(
        "External signing key %s imported for user %s by user %s",
        key.id,
        user.id,
        actor.id,
    )
    return key


def _was_revoked(session: Session, certificate: x509.Certificate) -> bool:
    """Tell whether a key with this certificate was stored and revoked before."""
    serial = format(certificate.serial_number, "x")
    candidates = session.scalars(
        select(SigningKey).where(
            SigningKey.serial == serial, SigningKey.is_revoked.is_(True)
        )
    )
    return any(
        x509.load_pem_x509_certificate(key.certificate_pem.encode()).issuer
        == certificate.issuer
        for key in candidates
    )


def unlock_key(session: Session, actor: User, user_id: int) -> SigningKey:
    """Lift a passphrase lockout early, after the sysadmin has checked with the owner."""
    if actor.role != "sysadmin":
        raise PermissionDeniedError("Hanya administrator sistem yang dapat membuka blokir kunci.")
    user = session.get(User, user_id)
    key = active_key(session, user) if user else None
    if key is None:
        raise UserError("Pengguna ini tidak memiliki kunci aktif.")
    key.locked_until_dt = None
    key.failed_attempts = 0
    session.commit()
    logger.info("Signing key %s of user %s unblocked by user %s", key.id, user_id, actor.id)
    return key
