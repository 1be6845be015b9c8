"""Internal CA, certificate profiles, CRLs and encrypted key storage."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.signers import SimpleSigner

from sigrekap import keys, pki

OFFICE = "Dinas Komunikasi dan Informatika Kabupaten Contoh"
PASSPHRASE = "frasa-sandi-rahasia-123"


@pytest.fixture(scope="module")
def ca():
    return pki.create_ca(OFFICE)


@pytest.fixture(scope="module")
def person(ca):
    return pki.issue_signing_certificate(
        ca,
        name="Ahmad Budi, S.Kom.",
        title="Kepala Seksi Layanan Informasi",
        nip="19800101 200501 1 001",
        office=OFFICE,
        email="ahmad@contoh.go.id",
    )


@pytest.fixture(scope="module")
def person_p12(person, ca):
    return pki.export_pkcs12(person, ca.certificate, PASSPHRASE)


def subject_value(cert: x509.Certificate, oid) -> str:
    return cert.subject.get_attributes_for_oid(oid)[0].value


def extension(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind)


# Certificates


def test_ca_certificate_profile(ca):
    cert = ca.certificate
    assert subject_value(cert, NameOID.COMMON_NAME) == f"SigRekap CA {OFFICE}"
    assert subject_value(cert, NameOID.ORGANIZATION_NAME) == OFFICE
    assert subject_value(cert, NameOID.COUNTRY_NAME) == "ID"
    assert cert.issuer == cert.subject
    basic = extension(cert, x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = extension(cert, x509.SubjectKeyIdentifier).value
    aki = extension(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=3649) < lifetime < dt.timedelta(days=3652)


def test_signing_certificate_profile(ca, person):
    cert = person.certificate
    assert subject_value(cert, NameOID.COMMON_NAME) == "Ahmad Budi, S.Kom."
    assert subject_value(cert, NameOID.TITLE) == "Kepala Seksi Layanan Informasi"
    assert subject_value(cert, NameOID.SERIAL_NUMBER) == "198001012005011001"
    assert subject_value(cert, NameOID.ORGANIZATION_NAME) == OFFICE
    assert subject_value(cert, NameOID.COUNTRY_NAME) == "ID"
    assert cert.issuer == ca.certificate.subject
    cert.verify_directly_issued_by(ca.certificate)
    assert not extension(cert, x509.BasicConstraints).value.ca
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.content_commitment
    assert not usage.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        extension(cert, x509.ExtendedKeyUsage)
    with pytest.raises(x509.ExtensionNotFound):
        extension(cert, x509.CRLDistributionPoints)
    san = extension(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["ahmad@contoh.go.id"]
    ca_ski = extension(ca.certificate, x509.SubjectKeyIdentifier).value
    aki = extension(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert person.chain == (ca.certificate,)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=729) < lifetime < dt.timedelta(days=731)


@pytest.mark.parametrize(
    "nip", ["12345", "19800101200501100A", "1980010120050110011", "", "   "]
)
def test_invalid_nip_raises(ca, nip):
    with pytest.raises(ValueError, match="18 digit"):
        pki.issue_signing_certificate(
            ca, name="Budi", title="Staf", nip=nip, office=OFFICE
        )


def test_empty_name_raises(ca):
    with pytest.raises(ValueError, match="nama wajib diisi"):
        pki.issue_signing_certificate(
            ca, name="  ", title="Staf", nip="198001012005011001", office=OFFICE
        )


def test_crl_distribution_point_with_url(ca):
    url = "http://127.0.0.1:5000/crl/ca.crl"
    key = pki.issue_signing_certificate(
        ca,
        name="Budi",
        title="Staf",
        nip="198001012005011001",
        office=OFFICE,
        crl_url=url,
    )
    points = extension(key.certificate, x509.CRLDistributionPoints).value
    assert [n.value for n in points[0].full_name] == [url]


def test_seal_certificate_names_the_office(ca):
    seal = pki.issue_seal_certificate(ca, office=OFFICE)
    assert subject_value(seal.certificate, NameOID.COMMON_NAME) == OFFICE
    assert subject_value(seal.certificate, NameOID.ORGANIZATION_NAME) == OFFICE
    usage = extension(seal.certificate, x509.KeyUsage).value
    assert usage.content_commitment


def test_tsa_certificate_has_critical_timestamping_eku(ca):
    tsa = pki.issue_tsa_certificate(ca, office=OFFICE)
    eku = extension(tsa.certificate, x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert extension(tsa.certificate, x509.KeyUsage).value.digital_signature


def test_long_office_name_is_truncated_in_cn(ca):
    office = "Dinas " + "Komunikasi " * 10
    key = pki.issue_seal_certificate(ca, office=office)
    assert len(subject_value(key.certificate, NameOID.COMMON_NAME)) == 64


def test_certificate_never_outlives_ca():
    short_ca = pki.create_ca(OFFICE, valid_years=1)
    key = pki.issue_signing_certificate(
        short_ca,
        name="Budi",
        title="Staf",
        nip="198001012005011001",
        office=OFFICE,
        valid_days=5000,
    )
    ca_end = short_ca.certificate.not_valid_after_utc
    assert key.certificate.not_valid_after_utc == ca_end


def test_crl_lists_revoked_serial(ca, person):
    revoked_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    der = pki.make_crl(ca, [(person.certificate.serial_number, revoked_at)])
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(ca.certificate.public_key())
    assert crl.issuer == ca.certificate.subject
    entry = crl.get_revoked_certificate_by_serial_number(
        person.certificate.serial_number
    )
    assert entry is not None
    assert entry.revocation_date_utc == revoked_at
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=7)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0


def test_crl_needs_aware_revocation_time(ca, person):
    with pytest.raises(ValueError, match="time zone"):
        pki.make_crl(ca, [(person.certificate.serial_number, dt.datetime(2026, 1, 1))])


# PKCS#12


def test_pkcs12_uses_pbes2_aes256(person_p12):
    pfx = asn1_pkcs12.Pfx.load(person_p12)
    assert pfx["mac_data"]["mac"]["digest_algorithm"]["algorithm"].native == "sha256"
    auth_safe = asn1_pkcs12.AuthenticatedSafe.load(pfx["auth_safe"]["content"].native)
    algorithms = []
    for content_info in auth_safe:
        if content_info["content_type"].native == "encrypted_data":
            encrypted = content_info["content"]["encrypted_content_info"]
            algorithms.append(encrypted["content_encryption_algorithm"])
        else:
            bags = asn1_pkcs12.SafeContents.load(content_info["content"].native)
            for bag in bags:
                if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                    algorithms.append(bag["bag_value"]["encryption_algorithm"])
    assert algorithms
    for algorithm in algorithms:
        assert algorithm["algorithm"].native == "pbes2"
        parameters = algorithm["parameters"]
        assert parameters["encryption_scheme"]["algorithm"].native == "aes256_cbc"
        kdf = parameters["key_derivation_func"]
        assert kdf["algorithm"].native == "pbkdf2"
        assert kdf["parameters"]["iteration_count"].native == pki.PKCS12_KDF_ROUNDS


def test_pkcs12_round_trip_to_signer(person, person_p12, ca):
    signer = pki.load_signer_from_pkcs12(person_p12, PASSPHRASE)
    assert isinstance(signer, SimpleSigner)
    assert signer.signing_cert.dump() == person.certificate_der()
    embedded = [cert.dump() for cert in signer.cert_registry]
    assert ca.certificate_der() in embedded


def test_pyhanko_loads_exported_pkcs12(person, person_p12):
    signer = SimpleSigner.load_pkcs12_data(
        person_p12, other_certs=[], passphrase=PASSPHRASE.encode()
    )
    assert signer.signing_cert.dump() == person.certificate_der()


def test_wrong_passphrase_raises(person_p12):
    with pytest.raises(pki.WrongPassphraseError, match="Frasa sandi"):
        pki.load_signer_from_pkcs12(person_p12, "bukan-frasa-yang-benar")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"garbage that is not a PKCS#12 file",
        lambda data: data[: len(data) // 2],
        lambda data: b"\x30\x82" + data[2:40],
    ],
    ids=["empty", "garbage", "truncated", "broken-header"],
)
def test_corrupt_pkcs12_raises_key_material_error(person_p12, damage):
    with pytest.raises(pki.KeyMaterialError):
        pki.load_signer_from_pkcs12(damage(person_p12), PASSPHRASE)


def test_key_errors_share_base_class():
    assert issubclass(pki.WrongPassphraseError, pki.SigningError)
    assert issubclass(pki.KeyMaterialError, pki.SigningError)


def test_pkcs12_without_private_key_raises(person):
    encryption = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    data = pkcs12.serialize_key_and_certificates(
        b"cert only", None, person.certificate, None, encryption
    )
    with pytest.raises(pki.KeyMaterialError, match="kunci privat"):
        pki.load_signer_from_pkcs12(data, PASSPHRASE)


def test_import_external_pkcs12_returns_chain():
    external_ca = pki.create_ca("Badan Siber dan Sandi Contoh")
    key = pki.issue_signing_certificate(
        external_ca,
        name="Citra Dewi",
        title="Kepala Bidang",
        nip="198202022006042002",
        office="Pemerintah Kabupaten Contoh",
    )
    data = pki.export_pkcs12(key, external_ca.certificate, PASSPHRASE)
    imported, issuers = pki.import_external_pkcs12(data, PASSPHRASE)
    assert imported.certificate == key.certificate
    assert issuers == [external_ca.certificate]
    assert imported.chain == (external_ca.certificate,)


def test_import_rejects_ca_certificate(ca):
    data = pki.export_pkcs12(ca, None, PASSPHRASE)
    with pytest.raises(pki.KeyMaterialError, match="sertifikat CA"):
        pki.import_external_pkcs12(data, PASSPHRASE)


def test_import_rejects_encryption_only_certificate(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Enc")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    data = pki.export_pkcs12(
        pki.CertifiedKey(key, cert, (ca.certificate,)), None, PASSPHRASE
    )
    with pytest.raises(pki.KeyMaterialError, match="key usage"):
        pki.import_external_pkcs12(data, PASSPHRASE)


@pytest.mark.parametrize("passphrase", ["", "pendek", "123456789", " " * 12])
def test_weak_passphrase_raises(passphrase):
    with pytest.raises(ValueError, match="[Ff]rasa sandi"):
        pki.check_passphrase_strength(passphrase)


def test_strong_passphrase_accepted():
    assert pki.check_passphrase_strength("sepuluh-karakter") is None


# System keys and blobs at rest


def test_system_key_file_round_trip(ca, tmp_path):
    seal = pki.issue_seal_certificate(ca, office=OFFICE)
    path = tmp_path / "keys" / "seal.pem"
    pki.save_certified_key(path, seal, "rahasia-server")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in text
    assert b"BEGIN PRIVATE KEY" not in text
    loaded = pki.load_certified_key(path, "rahasia-server")
    assert loaded.certificate == seal.certificate
    assert loaded.chain == (ca.certificate,)
    assert loaded.private_key.private_numbers() == seal.private_key.private_numbers()


def test_system_key_wrong_secret_raises(ca):
    data = pki.dump_certified_key_pem(ca, "rahasia-server")
    with pytest.raises(pki.KeyMaterialError, match="rahasia server"):
        pki.load_certified_key_pem(data, "rahasia-lain")


def test_private_key_pem_requires_passphrase(ca):
    with pytest.raises(ValueError):
        ca.private_key_pem(b"")


def test_encrypt_at_rest_round_trip():
    blob = pki.encrypt_at_rest(b"isi pkcs12", "rahasia-server")
    assert b"isi pkcs12" not in blob
    assert pki.decrypt_at_rest(blob, "rahasia-server") == b"isi pkcs12"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),
        lambda blob: blob[:10],
        lambda blob: b"XXXX" + blob[4:],
    ],
    ids=["flipped-bit", "truncated", "wrong-magic"],
)
def test_decrypt_at_rest_rejects_damage(tamper):
    blob = pki.encrypt_at_rest(b"isi pkcs12", "rahasia-server")
    with pytest.raises(pki.KeyMaterialError):
        pki.decrypt_at_rest(tamper(blob), "rahasia-server")


def test_decrypt_at_rest_wrong_secret_raises():
    blob = pki.encrypt_at_rest(b"isi pkcs12", "rahasia-server")
    with pytest.raises(pki.KeyMaterialError):
        pki.decrypt_at_rest(blob, "rahasia-lain")


def test_to_asn1_certificate_accepts_all_forms(ca):
    der = ca.certificate_der()
    for form in (ca.certificate, der, ca.certificate_pem(), ca.asn1_certificate):
        assert pki.to_asn1_certificate(form).dump() == der


def test_second_instance_keeps_first_ca_file(tmp_path):
    certs = tmp_path / "certs"
    first = keys.ensure_office_pki(tmp_path / "one", certs, "Dinas Satu")
    second = keys.ensure_office_pki(tmp_path / "two", certs, "Dinas Dua")
    assert (certs / keys.CA_CERT_FILENAME).read_bytes() == first.ca.certificate_pem()
    others = [p for p in certs.glob("sigrekap-ca-*.pem")]
    assert len(others) == 1
    assert others[0].read_bytes() == second.ca.certificate_pem()
    # Both are trusted, and setting up again writes nothing new.
    keys.ensure_office_pki(tmp_path / "two", certs, "Dinas Dua")
    assert len(list(certs.glob("*.pem"))) == 2
    subjects = {root.subject for root in keys.trust_roots(certs)}
    assert subjects == {first.ca.certificate.subject, second.ca.certificate.subject}
