"""Authenticity checks for incoming webhooks: Standard Webhooks, bearer tokens, Twilio signatures.

Pure functions over header values and raw body bytes; the API layer extracts those and maps
``SignatureError`` to 401. Every check accepts several secrets at once, so keys can be rotated
without downtime. Replay protection (a ``webhook-id`` seen before) belongs to the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from callsense.config.service import webhook_secret_key
from callsense.errors import ConfigError, SignatureError

__all__ = [
    "VerifiedWebhook",
    "sign_standard_webhook",
    "verify_bearer",
    "verify_standard_webhook",
    "verify_twilio",
]

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_TS, _SIG, _AUTH, _TWILIO = "webhook-timestamp", "webhook-signature", "authorization", "x-twilio-signature"


@dataclass(frozen=True)
class VerifiedWebhook:
    webhook_id: str
    timestamp: datetime  # timezone-aware, UTC


# The longest webhook-id kept for replay protection (``webhook_receipts.webhook_id``).
WEBHOOK_ID_MAX_CHARS = 200


def _header(headers: Mapping[str, str], name: str) -> str:
    value = next((v for k, v in headers.items() if k.lower() == name), "").strip()
    if not value:
        raise SignatureError("missing_header", f"{name} header is missing or empty", header=name)
    return value


def _secret_key(secret: str, index: int) -> bytes:
    try:
        return webhook_secret_key(secret)
    except ValueError as exc:
        raise ConfigError(f"webhook secret #{index + 1} {exc}") from None


def _configured(values: Sequence[str], what: str) -> Sequence[str]:
    if isinstance(values, str) or not values or not all(values):
        raise ConfigError(f"configure a list of one or more non-empty {what}")
    return values


def _mac(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign_standard_webhook(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (``v1,<base64>``) for one of our outgoing webhooks."""
    mac = _mac(_secret_key(secret, 0), webhook_id, str(timestamp), body)
    return "v1," + base64.b64encode(mac).decode("ascii")


def verify_standard_webhook(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime | None = None,
    tolerance: timedelta = timedelta(minutes=5),
) -> VerifiedWebhook:
    """Check a Standard Webhooks request (https://www.standardwebhooks.com) against every secret.

    ``secrets`` are ``whsec_<base64>`` or bare base64; ``now`` must be timezone-aware. Raises
    ``SignatureError`` when the request is not authentic, ``ConfigError`` when a secret is unusable.
    """
    keys = [_secret_key(secret, i) for i, secret in enumerate(_configured(secrets, "webhook secrets"))]
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    webhook_id = _header(headers, "webhook-id")
    if len(webhook_id) > WEBHOOK_ID_MAX_CHARS:
        raise SignatureError(
            "malformed_header",
            f"webhook-id header is over {WEBHOOK_ID_MAX_CHARS} characters",
            header="webhook-id",
        )
    stamp = _header(headers, _TS)
    signatures = _header(headers, _SIG)
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureError("bad_timestamp", "webhook-timestamp header is not unix seconds", header=_TS)
    skew = int(stamp) - now.timestamp()
    if abs(skew) > tolerance.total_seconds():
        reason, when = ("expired", "old") if skew < 0 else ("future_timestamp", "in the future")
        raise SignatureError(
            reason,
            f"{_TS} header is {abs(skew):.0f} s {when}; tolerance {tolerance.total_seconds():.0f} s",
            header=_TS,
        )
    candidates: list[bytes] = []
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue  # other schemes (v1a: asymmetric) are not ours to check
        try:
            candidates.append(base64.b64decode(value, validate=True))
        except binascii.Error:
            continue
    if not candidates:
        raise SignatureError(
            "malformed_header", f"{_SIG} header holds no well-formed v1 signature", header=_SIG
        )
    expected = [_mac(key, webhook_id, stamp, body) for key in keys]
    if not any([hmac.compare_digest(e, c) for e in expected for c in candidates]):
        raise SignatureError("bad_signature", f"{_SIG} header matches no configured secret", header=_SIG)
    return VerifiedWebhook(webhook_id=webhook_id, timestamp=datetime.fromtimestamp(int(stamp), UTC))


def _digest(text: str) -> bytes:
    # hashing first makes the comparison independent of the lengths too
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def verify_bearer(*, authorization: str | None, tokens: Sequence[str]) -> None:
    """Check an ``Authorization: Bearer <token>`` header against the configured tokens, in constant time."""
    _configured(tokens, "bearer tokens")
    if not authorization or not authorization.strip():
        raise SignatureError("missing_header", f"{_AUTH} header is missing or empty", header=_AUTH)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SignatureError("malformed_header", f"{_AUTH} header is not 'Bearer <token>'", header=_AUTH)
    presented = _digest(token)
    if not any([hmac.compare_digest(presented, _digest(t)) for t in tokens]):
        raise SignatureError("bad_token", f"{_AUTH} header holds no configured token", header=_AUTH)


def _url_variants(url: str) -> list[str]:
    """The URL as given, with the port and without it: Twilio signs either, inconsistently."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if port is None:
        default = 443 if parts.scheme == "https" else 80
        with_port, without_port = f"{parts.netloc}:{default}", parts.netloc
    else:
        with_port, without_port = parts.netloc, parts.netloc.rsplit(":", 1)[0]
    variants = [url] + [urlunsplit(parts._replace(netloc=n)) for n in (with_port, without_port)]
    return list(dict.fromkeys(variants))


def _twilio_payload(url: str, params: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> str:
    grouped: dict[str, set[str]] = {}
    for key, value in params.items() if isinstance(params, Mapping) else params or ():
        grouped.setdefault(key, set()).add(value)
    return url + "".join(key + value for key in sorted(grouped) for value in sorted(grouped[key]))


def verify_twilio(
    *,
    url: str,
    params: Mapping[str, str] | Sequence[tuple[str, str]] | None,
    body: bytes,
    signature: str | None,
    auth_tokens: Sequence[str],
) -> None:
    """Check an ``X-Twilio-Signature`` (HMAC-SHA1 with the account auth token) as Twilio computes it.

    ``url`` must be the PUBLIC URL Twilio requested, query string included: behind a reverse proxy
    or TLS terminator, rebuild it from the configured public base URL (or trusted X-Forwarded-*
    headers), never from the scheme and host the app sees, or every signature fails.
    ``params`` are the form-encoded POST fields (a mapping, or ``(key, value)`` pairs when a key
    repeats). When the URL carries ``bodySHA256`` (JSON bodies), the signature covers the URL only
    and ``params`` are ignored; that query value must equal the hex SHA-256 of ``body``.
    """
    _configured(auth_tokens, "Twilio auth tokens")
    if not signature or not signature.strip():
        raise SignatureError("missing_header", f"{_TWILIO} header is missing or empty", header=_TWILIO)
    body_hashes = [v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k == "bodySHA256"]
    presented = signature.strip().encode("utf-8", "surrogateescape")
    valid: list[bool] = []
    for variant in _url_variants(url):
        payload = _twilio_payload(variant, None if body_hashes else params).encode("utf-8")
        for token in auth_tokens:
            mac = base64.b64encode(hmac.new(token.encode("utf-8"), payload, hashlib.sha1).digest())
            valid.append(hmac.compare_digest(mac, presented))
    if not any(valid):
        raise SignatureError(
            "bad_signature", f"{_TWILIO} header matches no configured auth token", header=_TWILIO
        )
    if body_hashes and (
        len(body_hashes) != 1
        or not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), body_hashes[0].lower().encode())
    ):
        raise SignatureError("body_mismatch", "the body does not match the signed bodySHA256 query parameter")
