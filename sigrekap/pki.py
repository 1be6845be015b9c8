"""Internal certificate authority, key storage and PKCS#12 handling.

Every key this module generates is ECDSA on NIST P-256 (secp256r1) with
SHA-256. PAdES validators support it (the tests check poppler's pdfsig, which
uses NSS), and generating a key takes milliseconds, so keys can be issued on
demand. Private keys leave this module only in encrypted form: PKCS#12 for
people, encrypted PKCS#8 PEM for system keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from asn1crypto import keys as asn1_keys
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

logger = logging.getLogger(__name__)

PKCS12_KDF_ROUNDS = 600_000
"""PBKDF2-SHA256 rounds protecting a PKCS#12 key bag.

Unlocking then takes about 0.2 s (measured on one 2-core machine).
"""

MIN_PASSPHRASE_LENGTH = 10

# Clock skew allowance: certificates start a few minutes in the past so that a
# validator whose clock lags slightly still accepts a freshly issued key.
_BACKDATE = dt.timedelta(minutes=5)

# X.520 upper bound for commonName and organizationName.
_MAX_NAME_LENGTH = 64

# Format marker and associated data of blobs written by encrypt_at_rest.
_AT_REST_MAGIC = b"SRK1"

SignablePrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class SigningError(Exception):
    """Base class of signing and key errors; the message is Indonesian."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WrongPassphraseError(SigningError):
    """The passphrase does not decrypt the stored key."""


class KeyMaterialError(SigningError):
    """The key file is corrupt, unsupported or unfit for signing."""


@dataclass(frozen=True)
class CertifiedKey:
    """A private key with its certificate and the issuer chain above it."""

    private_key: SignablePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())
    """Issuer certificates, nearest issuer first; empty for a root CA."""

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def private_key_pem(self, passphrase: bytes | str) -> bytes:
        """Serialise the private key as PKCS#8 PEM encrypted under ``passphrase``."""
        secret = _as_bytes(passphrase)
        if not secret:
            raise ValueError("Refusing to write an unencrypted private key.")
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        )

    @property
    def asn1_certificate(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.certificate_der())

    @property
    def asn1_private_key(self) -> asn1_keys.PrivateKeyInfo:
        return asn1_keys.PrivateKeyInfo.load(
            self.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def to_signer(self) -> SimpleSigner:
        """Build a pyHanko signer that embeds this certificate and its chain."""
        registry = SimpleCertificateStore.from_certs(
            [to_asn1_certificate(cert) for cert in self.chain]
        )
        return SimpleSigner(
            signing_cert=self.asn1_certificate,
            signing_key=self.asn1_private_key,
            cert_registry=registry,
        )


# Certificate issuance


def create_ca(office_name: str, *, valid_years: int = 10) -> CertifiedKey:
    """Create the self-signed root CA of one office."""
    office = _clean_name(office_name, "nama kantor")
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(
        (NameOID.COMMON_NAME, f"SigRekap CA {office}"),
        (NameOID.ORGANIZATION_NAME, office),
        (NameOID.COUNTRY_NAME, "ID"),
    )
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=365 * valid_years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
    )
    certificate = builder.sign(key, hashes.SHA256())
    logger.info("Created CA certificate serial %x", certificate.serial_number)
    return CertifiedKey(key, certificate)


def issue_signing_certificate(
    ca: CertifiedKey,
    *,
    name: str,
    title: str,
    nip: str,
    office: str,
    email: str | None = None,
    valid_days: int = 730,
    crl_url: str | None = None,
) -> CertifiedKey:
    """Issue a personal signing certificate for one civil servant."""
    nip_digits = normalize_nip(nip)
    office_name = _clean_name(office, "nama kantor")
    subject = _name(
        (NameOID.COMMON_NAME, _clean_name(name, "nama")),
        (NameOID.TITLE, _clean_name(title, "jabatan")),
        (NameOID.SERIAL_NUMBER, nip_digits),
        (NameOID.ORGANIZATION_NAME, office_name),
        (NameOID.COUNTRY_NAME, "ID"),
    )
    extensions: list[tuple[x509.ExtensionType, bool]] = []
    if email:
        extensions.append(
            (x509.SubjectAlternativeName([x509.RFC822Name(email.strip())]), False)
        )
    return _issue(
        ca,
        subject,
        _key_usage(digital_signature=True, content_commitment=True),
        extensions,
        valid_days=valid_days,
        crl_url=crl_url,
    )


def issue_seal_certificate(
    ca: CertifiedKey,
    *,
    office: str,
    valid_days: int = 1825,
    crl_url: str | None = None,
) -> CertifiedKey:
    """Issue the office seal certificate that certifies drafts."""
    office_name = _clean_name(office, "nama kantor")
    subject = _name(
        (NameOID.COMMON_NAME, office_name),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Segel Elektronik SigRekap"),
        (NameOID.ORGANIZATION_NAME, office_name),
        (NameOID.COUNTRY_NAME, "ID"),
    )
    return _issue(
        ca,
        subject,
        _key_usage(digital_signature=True, content_commitment=True),
        [],
        valid_days=valid_days,
        crl_url=crl_url,
    )


def issue_tsa_certificate(
    ca: CertifiedKey,
    *,
    office: str,
    valid_days: int = 1825,
    crl_url: str | None = None,
) -> CertifiedKey:
    """Issue the certificate of the office's own time-stamping authority."""
    office_name = _clean_name(office, "nama kantor")
    subject = _name(
        (NameOID.COMMON_NAME, f"SigRekap TSA {office_name}"),
        (NameOID.ORGANIZATION_NAME, office_name),
        (NameOID.COUNTRY_NAME, "ID"),
    )
    # RFC 3161 section 2.3: the TSA certificate carries exactly one
    # extended key usage, id-kp-timeStamping, marked critical.
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
    return _issue(
        ca,
        subject,
        _key_usage(digital_signature=True, content_commitment=True),
        [(eku, True)],
        valid_days=valid_days,
        crl_url=crl_url,
    )


def make_crl(
    ca: CertifiedKey,
    revoked: Iterable[tuple[int, dt.datetime]],
    *,
    reasons: Mapping[int, x509.ReasonFlags] | None = None,
    next_update_days: int = 7,
    crl_number: int | None = None,
) -> bytes:
    """Build a DER CRL listing ``(serial, revocation time)`` pairs.

    ``reasons`` maps a serial to its reason code; entries without one carry
    no reason, which RFC 5280 reads as unspecified.
    """
    reasons = reasons or {}
    now = _now()
    if crl_number is None:
        # Seconds since the epoch only grow, so successive CRLs get
        # increasing numbers as RFC 5280 section 5.2.3 requires.
        crl_number = int(now.timestamp())
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=next_update_days))
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value),
            critical=False,
        )
    )
    for serial, revoked_at in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(_as_utc(revoked_at))
        )
        if serial in reasons:
            entry = entry.add_extension(x509.CRLReason(reasons[serial]), False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(ca.private_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def _issue(
    ca: CertifiedKey,
    subject: x509.Name,
    key_usage: x509.KeyUsage,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    *,
    valid_days: int,
    crl_url: str | None,
) -> CertifiedKey:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()

    # A certificate must not outlive its issuer, otherwise validators reject
    # the tail of its validity period.
    not_after = min(
        now + dt.timedelta(days=valid_days), ca.certificate.not_valid_after_utc
    )
    ca_ski = ca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(key_usage, critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski.value
            ),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)

    if crl_url:
        distribution_point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(
            x509.CRLDistributionPoints([distribution_point]), critical=False
        )

    certificate = builder.sign(ca.private_key, hashes.SHA256())
    logger.info(
        "Issued certificate serial %x for %s",
        certificate.serial_number,
        certificate.subject.rfc4514_string(),
    )
    return CertifiedKey(key, certificate, (ca.certificate, *ca.chain))


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _clean_name(value: str, label: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ValueError(f"Isian {label} wajib diisi.")
    return text[:_MAX_NAME_LENGTH]


def normalize_nip(nip: str) -> str:
    """Return the 18 NIP digits, ignoring spaces; raise ValueError otherwise."""
    digits = re.sub(r"\s+", "", nip or "")
    if not re.fullmatch(r"\d{18}", digits):
        raise ValueError(
            f"NIP {nip!r} tidak valid: NIP harus terdiri atas 18 digit angka."
        )
    return digits


def check_passphrase_strength(passphrase: str) -> None:
    """Raise ValueError if a signing passphrase is too weak."""
    if len(passphrase or "") < MIN_PASSPHRASE_LENGTH:
        raise ValueError(
            f"Frasa sandi penandatanganan minimal {MIN_PASSPHRASE_LENGTH} karakter."
        )
    if not passphrase.strip():
        raise ValueError("Frasa sandi penandatanganan tidak boleh hanya spasi.")


# PKCS#12 key storage


def export_pkcs12(
    key: CertifiedKey, ca_cert: x509.Certificate | None, passphrase: str
) -> bytes:
    """Encrypt a key, its certificate and its issuer chain as PKCS#12.

    The key and certificate bags use PBES2 (PBKDF2-SHA256, AES-256-CBC) and
    the file MAC is HMAC-SHA256, so OpenSSL, NSS and pyHanko can all open it.
    """
    if not passphrase:
        raise ValueError("Frasa sandi penandatanganan wajib diisi.")
    chain = list(key.chain)
    if ca_cert is not None and ca_cert not in chain:
        chain.append(ca_cert)
    # NOTE: cryptography 50 fixes the MAC iteration count at 2048, so an
    # offline guess costs only that MAC check, not PKCS12_KDF_ROUNDS. Keep the
    # stored blobs out of reach (or wrap them with encrypt_at_rest) and
    # throttle online attempts.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PKCS12_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase.encode("utf-8"))
    )
    friendly_name = _common_name(key.certificate).encode("utf-8")
    return pkcs12.serialize_key_and_certificates(
        friendly_name, key.private_key, key.certificate, chain or None, encryption
    )


def load_certified_key_from_pkcs12(data: bytes, passphrase: str) -> CertifiedKey:
    """Decrypt a PKCS#12 file into a CertifiedKey with its issuer chain.

    Raises WrongPassphraseError when the file is well-formed but does not
    decrypt, and KeyMaterialError when it is corrupt, incomplete or contains
    a key type this application does not sign with.
    """
    try:
        private_key, certificate, extra = pkcs12.load_key_and_certificates(
            data, passphrase.encode("utf-8")
        )
    except ValueError as exc:
        # cryptography raises ValueError both for a wrong password and for
        # bad data. When the outer structure parses, the password is the
        # likely cause, although damaged encrypted content fails the same way.
        if _is_pkcs12_structure(data):
            raise WrongPassphraseError(
                "Frasa sandi penandatanganan salah. Periksa lalu coba lagi."
            ) from exc
        raise KeyMaterialError(
            "Berkas kunci rusak atau bukan berkas PKCS#12 (.p12/.pfx)."
        ) from exc
    except TypeError as exc:
        raise KeyMaterialError("Berkas kunci tidak dapat dibaca.") from exc

    if private_key is None or certificate is None:
        raise KeyMaterialError(
            "Berkas PKCS#12 harus memuat kunci privat dan sertifikatnya."
        )
    if not isinstance(private_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise KeyMaterialError(
            "Jenis kunci dalam berkas PKCS#12 tidak didukung; gunakan RSA atau ECDSA."
        )
    if private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise KeyMaterialError(
            "Kunci privat dalam berkas PKCS#12 tidak cocok dengan sertifikatnya."
        )
    chain = tuple(_order_chain(certificate, list(extra)))
    return CertifiedKey(private_key, certificate, chain)


def load_signer_from_pkcs12(data: bytes, passphrase: str) -> SimpleSigner:
    """Unlock a PKCS#12 file into a pyHanko signer.

    pyHanko's own ``SimpleSigner.load_pkcs12`` logs and returns None on bad
    input, so this decrypts with cryptography and raises WrongPassphraseError
    or KeyMaterialError instead.
    """
    return load_certified_key_from_pkcs12(data, passphrase).to_signer()


def import_external_pkcs12(
    data: bytes, passphrase: str
) -> tuple[CertifiedKey, list[x509.Certificate]]:
    """Validate a PKCS#12 file issued by an external CA for signing use.

    :return: the key and a list of the issuer certificates found in the file,
        nearest issuer first. The list is empty when the file carries no
        issuer, in which case the issuing CA must already be a trust anchor.
    """
    key = load_certified_key_from_pkcs12(data, passphrase)
    certificate = key.certificate
    try:
        basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        if basic.value.ca:
            raise KeyMaterialError(
                "Sertifikat dalam berkas adalah sertifikat CA, bukan sertifikat "
                "penandatangan."
            )
    except x509.ExtensionNotFound:
        pass
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise KeyMaterialError(
            "Sertifikat tidak diizinkan untuk tanda tangan elektronik "
            "(key usage tanpa digitalSignature/nonRepudiation)."
        )
    now = _now()
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise KeyMaterialError(
            "Sertifikat dalam berkas belum berlaku atau sudah kedaluwarsa "
            f"(berlaku {certificate.not_valid_before_utc:%d-%m-%Y} s.d. "
            f"{certificate.not_valid_after_utc:%d-%m-%Y})."
        )
    issuers = [cert for cert in key.chain if _is_ca(cert)]
    return CertifiedKey(key.private_key, certificate, tuple(issuers)), issuers


def _is_pkcs12_structure(data: bytes) -> bool:
    """Tell whether ``data`` parses as a PFX whose encrypted parts are intact."""
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        content = pfx["auth_safe"]["content"]
        auth_safe = asn1_pkcs12.AuthenticatedSafe.load(content.native, strict=True)
        # asn1crypto parses lazily; reading .native forces a full parse.
        _ = [content_info.native for content_info in auth_safe]
        _ = pfx["mac_data"].native
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


def _order_chain(
    leaf: x509.Certificate, candidates: list[x509.Certificate]
) -> list[x509.Certificate]:
    """Return the issuers of ``leaf`` among ``candidates``, nearest first."""
    ordered: list[x509.Certificate] = []
    current = leaf
    remaining = [c for c in candidates if c != leaf]
    while remaining:
        issuer = next((c for c in remaining if _issued_by(current, c)), None)
        if issuer is None:
            break
        ordered.append(issuer)
        remaining.remove(issuer)
        if issuer.issuer == issuer.subject:
            break
        current = issuer
    # Certificates outside the path are kept after it: a PKCS#12 export may
    # carry cross-certificates that a validator can still use.
    return ordered + remaining


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


# System keys (CA, seal, TSA) in the instance folder


def dump_certified_key_pem(key: CertifiedKey, secret: bytes | str) -> bytes:
    """Serialise a key (encrypted under ``secret``), its certificate and chain."""
    parts = [key.private_key_pem(secret), key.certificate_pem()]
    parts.extend(c.public_bytes(serialization.Encoding.PEM) for c in key.chain)
    return b"".join(parts)


def load_certified_key_pem(data: bytes, secret: bytes | str) -> CertifiedKey:
    """Read a bundle written by dump_certified_key_pem.

    Raises KeyMaterialError when the secret is wrong or the bundle is damaged.
    """
    try:
        private_key = serialization.load_pem_private_key(data, _as_bytes(secret))
        certificates = x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(
            "Kunci sistem tidak dapat dibuka: rahasia server salah atau berkas rusak."
        ) from exc
    if not isinstance(private_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise KeyMaterialError("Jenis kunci sistem tidak didukung.")
    return CertifiedKey(private_key, certificates[0], tuple(certificates[1:]))


def save_certified_key(path: Path, key: CertifiedKey, secret: bytes | str) -> None:
    """Write a system key bundle readable by the owner only."""
    data = dump_certified_key_pem(key, secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def load_certified_key(path: Path, secret: bytes | str) -> CertifiedKey:
    """Read a system key bundle written by save_certified_key."""
    return load_certified_key_pem(path.read_bytes(), secret)


def encrypt_at_rest(data: bytes, secret: bytes | str) -> bytes:
    """Wrap a stored blob (such as a PKCS#12 file) with AES-256-GCM.

    The key is derived from the server-side secret with HKDF-SHA256, so a copy
    of the database alone cannot be used to guess passphrases offline.
    """
    nonce = os.urandom(12)
    return (
        _AT_REST_MAGIC
        + nonce
        + AESGCM(_at_rest_key(secret)).encrypt(nonce, data, _AT_REST_MAGIC)
    )


def decrypt_at_rest(blob: bytes, secret: bytes | str) -> bytes:
    """Unwrap a blob written by encrypt_at_rest; raise KeyMaterialError if damaged."""
    header = len(_AT_REST_MAGIC)
    if not blob.startswith(_AT_REST_MAGIC) or len(blob) < header + 12 + 16:
        raise KeyMaterialError(
            "Berkas kunci tersimpan rusak atau formatnya tidak dikenal."
        )
    nonce = blob[header : header + 12]
    try:
        return AESGCM(_at_rest_key(secret)).decrypt(
            nonce, blob[header + 12 :], _AT_REST_MAGIC
        )
    except InvalidTag as exc:
        raise KeyMaterialError(
            "Berkas kunci tersimpan tidak dapat dibuka: rahasia server salah atau "
            "berkas rusak."
        ) from exc


def _at_rest_key(secret: bytes | str) -> bytes:
    material = _as_bytes(secret)
    if not material:
        raise ValueError("The server-side secret is empty.")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"sigrekap key at rest"
    ).derive(material)


# Conversions


def to_asn1_certificate(
    cert: x509.Certificate | asn1_x509.Certificate | bytes,
) -> asn1_x509.Certificate:
    """Convert a certificate (cryptography, asn1crypto, DER or PEM) to asn1crypto."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, x509.Certificate):
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    if cert.lstrip().startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(cert).public_bytes(
            serialization.Encoding.DER
        )
    return asn1_x509.Certificate.load(cert)


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Read every certificate in a PEM file (for the trust anchors in certs/)."""
    return x509.load_pem_x509_certificates(data)


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"Revocation time {moment!r} needs a time zone.")
    return moment.astimezone(dt.UTC)


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value
