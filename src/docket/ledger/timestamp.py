"""RFC 3161 trusted timestamps over signed checkpoints: requesting them (only when the person
asks), queueing them when offline, and checking the tokens.

A token from an independent timestamp authority shows that a checkpoint, and so every entry
it covers, existed no later than the token's time. The request sends only a hash of the
checkpoint; no diary content leaves the computer. Raw responses are stored verbatim.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

CONTENT_TYPE = "application/timestamp-query"
TIMEOUT_SECONDS = 20
MAX_RESPONSE_BYTES = 1024 * 1024


class TimestampError(Exception):
    """A request that could not be sent, or a token that does not check out."""


class Unreachable(TimestampError):
    """The authority could not be reached: the request stays queued for a retry."""


@dataclass(frozen=True)
class PreparedRequest:
    der: bytes
    nonce: int


def prepare(message: bytes) -> PreparedRequest:
    req = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    if req.nonce is None:  # pragma: no cover - the builder always sets one when asked
        raise TimestampError("the timestamp request has no nonce")
    return PreparedRequest(req.as_bytes(), int(req.nonce))


def send(url: str, request_der: bytes) -> bytes:
    """POST the request to the authority; return the raw response bytes."""
    if not url.startswith(("http://", "https://")):
        raise TimestampError(f"{url!r} is not an http(s) address")
    http = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=request_der, headers={"Content-Type": CONTENT_TYPE}, method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=TIMEOUT_SECONDS) as reply:  # noqa: S310
            body: bytes = reply.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise Unreachable(f"the authority answered HTTP {exc.code}") from exc
        raise TimestampError(f"the authority refused the request (HTTP {exc.code})") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise Unreachable(f"the authority could not be reached ({exc})") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError("the authority's answer is too large")
    return body


@dataclass(frozen=True)
class TokenCheck:
    gen_time: datetime
    trusted: bool  # chained to a root certificate supplied from outside the token
    detail: str


def load_roots(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError("the root certificates are not PEM certificates") from exc


def check(
    response: bytes, message: bytes, nonce: int, roots: list[x509.Certificate] | None
) -> TokenCheck:
    """Check a stored token against the checkpoint it should cover.

    With ``roots``, the full RFC 3161 verification (status, chain to a root at the signing
    time, timeStamping EKU, nonce, message imprint). Without, only status, nonce and imprint:
    such a token is reported as not checked against a trusted root.
    """
    try:
        resp = decode_timestamp_response(response)
    except ValueError as exc:
        raise TimestampError(f"the token cannot be read ({exc})") from exc
    if PKIStatus(resp.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError("the authority did not grant the timestamp")
    info = resp.tst_info
    if info.nonce != nonce:
        raise TimestampError("the token's nonce does not match the request")
    if info.message_imprint.message != hashlib.sha256(message).digest():
        raise TimestampError("the token covers other data, not this checkpoint")
    gen_time = info.gen_time
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=UTC)
    if not roots:
        return TokenCheck(gen_time, False, "not checked against a trusted root certificate")
    builder = VerifierBuilder(roots=list(roots), nonce=nonce)
    try:
        builder.build().verify_message(resp, message)
    except VerificationError as exc:
        raise TimestampError(f"the token does not verify against the root given ({exc})") from exc
    return TokenCheck(gen_time, True, "verified against the root certificate given")
