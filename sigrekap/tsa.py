"""The office's own RFC 3161 time-stamping authority, and timestamper set-up.

``respond`` turns a DER TimeStampReq into a DER TimeStampResp and does not
raise: a request it cannot serve gets a rejection response. The web layer
only has to pass the request body through (content types below).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from .pki import CertifiedKey, SigningError, to_asn1_certificate

logger = logging.getLogger(__name__)

REQUEST_CONTENT_TYPE = "application/timestamp-query"
RESPONSE_CONTENT_TYPE = "application/timestamp-reply"

TSA_POLICY_OID = "2.25.254803182302580428904476662802574645209"
"""Policy identifier written into every token of the office TSA.

It is a UUID-derived OID (ITU-T X.667, arc 2.25), unique without
registration. A deployment with a registered TSA policy can replace it.
"""

ACCURACY_SECONDS = 1

# Digest algorithms accepted in a request's message imprint, with the length
# of their output; SHA-1 and MD5 are rejected as broken.
_IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}

_CMS_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class TimestampError(SigningError):
    """The time-stamping authority could not provide a valid token."""


class TimeStampResponse(core.Sequence):
    """RFC 3161 TimeStampResp with the token optional, as the RFC defines it.

    asn1crypto 1.5's ``tsp.TimeStampResp`` requires the token, so it can
    neither write nor read a rejection.
    """

    _fields = [  # noqa: RUF012 - asn1crypto's schema declaration format
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class _RequestRejected(Exception):
    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


@dataclass(frozen=True)
class TimestampConfig:
    """Source of signature timestamps: an HTTP TSA or the office TSA key."""

    url: str | None = None
    internal_key: CertifiedKey | None = None
    timeout: float = 10

    def __post_init__(self) -> None:
        if (self.url is None) == (self.internal_key is None):
            raise ValueError(
                "TimestampConfig needs exactly one of url and internal_key, "
                f"got url={self.url!r} and internal_key={self.internal_key!r}."
            )
        if self.timeout <= 0:
            raise ValueError(f"TSA timeout must be positive, got {self.timeout!r}.")


# Server side


def respond(
    request_der: bytes,
    tsa_key: CertifiedKey,
    ca_cert: x509.Certificate | None = None,
    *,
    now: dt.datetime | None = None,
) -> bytes:
    """Process one RFC 3161 request into a signed token or a rejection.

    ``ca_cert`` (default: the first certificate of ``tsa_key.chain``) is sent
    along with the TSA certificate when the request sets certReq.
    """
    try:
        request = _parse_request(request_der)
        token = _issue_token(request, tsa_key, ca_cert, now)
    except _RequestRejected as rejected:
        logger.info("TSA rejected a request: %s", rejected.text)
        return _rejection(rejected.fail_info, rejected.text)
    except Exception:
        # A broken key or library error must still produce a protocol response,
        # so the client reports "TSA failed" instead of hanging or crashing.
        logger.exception("TSA failed to issue a token")
        return _rejection("system_failure", "Internal error of the TSA.")
    return TimeStampResponse(
        {"status": {"status": "granted"}, "time_stamp_token": token}
    ).dump()


def _parse_request(request_der: bytes) -> tsp.TimeStampReq:
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        # asn1crypto parses lazily; reading .native forces a full parse.
        _ = request.native
    except (ValueError, TypeError, KeyError) as exc:
        raise _RequestRejected("bad_request", "Malformed TimeStampReq.") from exc
    if request["version"].native != "v1":
        raise _RequestRejected("bad_request", "Unsupported request version.")
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in _IMPRINT_LENGTHS:
        raise _RequestRejected(
            "bad_alg", f"Hash algorithm {algorithm} is not supported."
        )
    if len(imprint["hashed_message"].native) != _IMPRINT_LENGTHS[algorithm]:
        raise _RequestRejected("bad_data_format", "Imprint length mismatch.")
    policy = request["req_policy"].native
    if policy is not None and policy != TSA_POLICY_OID:
        raise _RequestRejected(
            "unaccepted_policy", f"Policy {policy} is not supported."
        )
    if request["extensions"].native:
        raise _RequestRejected(
            "unaccepted_extensions", "Request extensions are not supported."
        )
    return request


def _issue_token(
    request: tsp.TimeStampReq,
    tsa_key: CertifiedKey,
    ca_cert: x509.Certificate | None,
    now: dt.datetime | None,
) -> cms.ContentInfo:
    tsa_cert = tsa_key.asn1_certificate
    gen_time = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    # Whole seconds keep genTime free of fraction digits (RFC 3161 forbids
    # trailing zeros there); the accuracy field covers the truncation.
    gen_time = gen_time.replace(microsecond=0)
    tst_info_fields = {
        "version": "v1",
        "policy": TSA_POLICY_OID,
        "message_imprint": request["message_imprint"],
        "serial_number": x509.random_serial_number(),
        "gen_time": gen_time,
        "accuracy": {"seconds": ACCURACY_SECONDS},
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if request["nonce"].native is not None:
        tst_info_fields["nonce"] = request["nonce"]
    tst_info_der = tsp.TSTInfo(tst_info_fields).dump()

    digest_name = request["message_imprint"]["hash_algorithm"]["algorithm"].native
    signed_attrs = cms.CMSAttributes(
        [
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute(
                "message_digest", hashlib.new(digest_name, tst_info_der).digest()
            ),
            simple_cms_attribute(
                "signing_certificate_v2", as_signing_certificate_v2(tsa_cert)
            ),
        ]
    )
    signature, signature_algorithm = _sign(tsa_key, signed_attrs.dump(), digest_name)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {
                        "issuer": tsa_cert.issuer,
                        "serial_number": tsa_cert.serial_number,
                    }
                ),
            ),
            "digest_algorithm": {"algorithm": digest_name},
            "signed_attrs": signed_attrs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    signed_data = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_name})],
        "encap_content_info": {
            "content_type": "tst_info",
            "content": core.ParsableOctetString(tst_info_der),
        },
        "signer_infos": [signer_info],
    }
    if request["cert_req"].native:
        extra = ca_cert if ca_cert is not None else next(iter(tsa_key.chain), None)
        certificates = [tsa_cert]
        if extra is not None:
            certificates.append(to_asn1_certificate(extra))
        signed_data["certificates"] = certificates
    return cms.ContentInfo(
        {"content_type": "signed_data", "content": cms.SignedData(signed_data)}
    )


def _sign(
    tsa_key: CertifiedKey, data: bytes, digest_name: str
) -> tuple[bytes, algos.SignedDigestAlgorithm]:
    digest = _CMS_HASHES[digest_name]
    key = tsa_key.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(digest))
        algorithm = f"{digest_name}_ecdsa"
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), digest)
        algorithm = "rsassa_pkcs1v15"
    else:  # pragma: no cover - CertifiedKey only holds EC and RSA keys
        raise TypeError(f"Unsupported TSA key type {type(key).__name__}.")
    return signature, algos.SignedDigestAlgorithm({"algorithm": algorithm})


def _rejection(fail_info: str, text: str) -> bytes:
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({fail_info}),
        }
    )
    return TimeStampResponse({"status": status}).dump()


# Client side


class OfficeTimeStamper(TimeStamper):
    """pyHanko timestamper that calls the office TSA in-process (no HTTP)."""

    def __init__(
        self, tsa_key: CertifiedKey, ca_cert: x509.Certificate | None = None
    ) -> None:
        super().__init__()
        self.tsa_key = tsa_key
        self.ca_cert = ca_cert

    async def async_request_tsa_response(
        self, req: tsp.TimeStampReq
    ) -> TimeStampResponse:
        return TimeStampResponse.load(respond(req.dump(), self.tsa_key, self.ca_cert))


class CheckedTimeStamper(TimeStamper):
    """Wrap a timestamper so that every failure becomes a TimestampError.

    Besides transport errors and rejections, it rejects a "granted" response
    whose token does not parse or stamps another digest, so a faulty TSA
    cannot slip a useless token into a signature.
    """

    def __init__(self, inner: TimeStamper, description: str) -> None:
        super().__init__(include_nonce=inner.include_nonce)
        self.inner = inner
        self.description = description

    async def async_request_tsa_response(
        self, req: tsp.TimeStampReq
    ) -> tsp.TimeStampResp:
        return await self.inner.async_request_tsa_response(req)

    async def async_timestamp(
        self, message_digest: bytes, md_algorithm: str
    ) -> cms.ContentInfo:
        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
            tst_info = token["content"]["encap_content_info"]["content"].parsed
            imprint = tst_info["message_imprint"]["hashed_message"].native
        except TimestampError:
            raise
        except (TimeoutError, TimestampRequestError, OSError) as exc:
            logger.warning("TSA %s failed: %s", self.description, exc)
            raise _unreachable(self.description) from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning(
                "TSA %s sent a malformed response: %s", self.description, exc
            )
            raise _unreachable(self.description) from exc
        if imprint != message_digest:
            logger.warning("TSA %s stamped a different digest", self.description)
            raise _unreachable(self.description)
        return token


def _unreachable(description: str) -> TimestampError:
    return TimestampError(
        "Layanan cap waktu (TSA) tidak dapat dihubungi atau memberi jawaban "
        f"yang tidak sah ({description}). Dokumen belum ditandatangani; "
        "coba lagi nanti atau hubungi administrator sistem."
    )


def make_timestamper(config: TimestampConfig) -> TimeStamper:
    """Build the pyHanko timestamper that ``config`` describes.

    Every failure of the returned timestamper raises TimestampError; there is
    no fallback to the server clock.
    """
    if config.internal_key is not None:
        return CheckedTimeStamper(
            OfficeTimeStamper(config.internal_key), "TSA internal kantor"
        )
    assert config.url is not None
    return CheckedTimeStamper(
        HTTPTimeStamper(config.url, timeout=config.timeout), config.url
    )
