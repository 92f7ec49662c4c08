"""Webhook signature checks, against signatures made by the independent reference libraries.

Standard Webhooks signatures come from the ``standardwebhooks`` package, Twilio's from ``twilio``'s
``RequestValidator``; our own signer is only used where it is itself under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from multidict import MultiDict
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from callsense.errors import ConfigError, PermanentError, SignatureError
from callsense.security.signatures import (
    VerifiedWebhook,
    sign_standard_webhook,
    verify_bearer,
    verify_standard_webhook,
    verify_twilio,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
KEY_A = b"recorder-secret-a-0123456789abcdef"
KEY_B = b"recorder-secret-b-fedcba9876543210"
SECRET_A = "whsec_" + base64.b64encode(KEY_A).decode()
SECRET_B = "whsec_" + base64.b64encode(KEY_B).decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
BODY = json.dumps({"type": "recording.ready", "call_id": "c-42", "note": "Grüße"}).encode()


def _signed(secret: str, *, when: datetime = NOW, body: bytes = BODY, msg_id: str = MSG_ID) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def _verify(
    headers: dict[str, str], *, secrets: list[str] | None = None, body: bytes = BODY
) -> VerifiedWebhook:
    return verify_standard_webhook(headers=headers, body=body, secrets=secrets or [SECRET_A], now=NOW)


def _fails(
    reason: str,
    header: str | None,
    headers: dict[str, str],
    *,
    secrets: list[str] | None = None,
    body: bytes = BODY,
) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        _verify(headers, secrets=secrets, body=body)
    assert (caught.value.reason, caught.value.header) == (reason, header)
    _assert_no_secret_in(str(caught.value))
    return caught.value


def _assert_no_secret_in(message: str) -> None:
    for secret in (SECRET_A, SECRET_B, SECRET_A.removeprefix("whsec_"), KEY_A.decode(), KEY_B.decode()):
        assert secret not in message


# --- Standard Webhooks -------------------------------------------------------------------------------


def test_valid_signature_returns_id_and_timestamp() -> None:
    verified = _verify(_signed(SECRET_A))
    assert verified == VerifiedWebhook(webhook_id=MSG_ID, timestamp=NOW)
    assert verified.timestamp.tzinfo is not None


def test_secret_without_prefix_is_accepted() -> None:
    assert _verify(_signed(SECRET_A), secrets=[SECRET_A.removeprefix("whsec_")]).webhook_id == MSG_ID


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in _signed(SECRET_A).items()}
    assert "Webhook-Signature" in headers
    assert _verify(headers).webhook_id == MSG_ID


def test_wrong_secret() -> None:
    _fails("bad_signature", "webhook-signature", _signed(SECRET_B))


@pytest.mark.parametrize("signed_with", [SECRET_A, SECRET_B])
def test_any_of_two_rotated_secrets(signed_with: str) -> None:
    assert _verify(_signed(signed_with), secrets=[SECRET_A, SECRET_B]).webhook_id == MSG_ID


@pytest.mark.parametrize("order", ["match_last", "match_first"])
def test_several_signatures_in_the_header(order: str) -> None:
    headers = _signed(SECRET_A)
    others = [_signed(SECRET_B)["webhook-signature"], "v1a,c29tZSBhc3ltbWV0cmljIHNpZ25hdHVyZQ=="]
    parts = [*others, headers["webhook-signature"]]
    headers["webhook-signature"] = " ".join(parts if order == "match_last" else parts[::-1])
    assert _verify(headers).webhook_id == MSG_ID


def test_tampered_body() -> None:
    _fails("bad_signature", "webhook-signature", _signed(SECRET_A), body=BODY.replace(b"c-42", b"c-43"))


def test_tampered_id() -> None:
    headers = _signed(SECRET_A) | {"webhook-id": "msg_other"}
    _fails("bad_signature", "webhook-signature", headers)


def test_expired_timestamp() -> None:
    error = _fails("expired", "webhook-timestamp", _signed(SECRET_A, when=NOW - timedelta(minutes=6)))
    assert "webhook-timestamp" in str(error) and "360 s old" in str(error)


def test_future_timestamp() -> None:
    _fails("future_timestamp", "webhook-timestamp", _signed(SECRET_A, when=NOW + timedelta(minutes=6)))


@pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(minutes=-4), timedelta(minutes=4)])
def test_timestamp_within_tolerance(offset: timedelta) -> None:
    assert _verify(_signed(SECRET_A, when=NOW + offset)).timestamp == NOW + offset


def test_tolerance_is_configurable() -> None:
    headers = _signed(SECRET_A, when=NOW - timedelta(minutes=6))
    verified = verify_standard_webhook(
        headers=headers, body=BODY, secrets=[SECRET_A], now=NOW, tolerance=timedelta(minutes=10)
    )
    assert verified.webhook_id == MSG_ID
    with pytest.raises(SignatureError, match="31 s old"):
        verify_standard_webhook(
            headers=_signed(SECRET_A, when=NOW - timedelta(seconds=31)),
            body=BODY,
            secrets=[SECRET_A],
            now=NOW,
            tolerance=timedelta(seconds=30),
        )


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_missing_header_is_named(missing: str, how: str) -> None:
    headers = _signed(SECRET_A)
    if how == "absent":
        del headers[missing]
    else:
        headers[missing] = "  "
    error = _fails("missing_header", missing, headers)
    assert missing in str(error)


@pytest.mark.parametrize("value", ["garbage", "v1", "v1,", "v1,not*base64!", "v2,c2lnbmF0dXJl", "v1a,c2ln"])
def test_malformed_signature_list(value: str) -> None:
    error = _fails("malformed_header", "webhook-signature", _signed(SECRET_A) | {"webhook-signature": value})
    assert "webhook-signature" in str(error)


@pytest.mark.parametrize(
    "value", ["soon", "1772366400.5", "-1772366400", "1e9", "\uff10\uff11\uff12", "2026-03-01T12:00:00Z"]
)
def test_non_numeric_timestamp(value: str) -> None:
    error = _fails("bad_timestamp", "webhook-timestamp", _signed(SECRET_A) | {"webhook-timestamp": value})
    assert "webhook-timestamp" in str(error)


def test_absurd_timestamp_is_expired_not_a_crash() -> None:
    _fails("future_timestamp", "webhook-timestamp", _signed(SECRET_A) | {"webhook-timestamp": "9" * 15})


def test_signature_error_is_permanent() -> None:
    assert issubclass(SignatureError, PermanentError)
    assert SignatureError("bad_signature", "x").retryable is False


@pytest.mark.parametrize(
    "secrets", [[], "whsec_" + base64.b64encode(KEY_A).decode(), [SECRET_A, ""], ["whsec_not*base64!"]]
)
def test_unusable_secrets_are_config_errors(secrets: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        verify_standard_webhook(headers=_signed(SECRET_A), body=BODY, secrets=secrets, now=NOW)
    assert "not*base64" not in str(caught.value)
    _assert_no_secret_in(str(caught.value))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        verify_standard_webhook(
            headers=_signed(SECRET_A), body=BODY, secrets=[SECRET_A], now=NOW.replace(tzinfo=None)
        )


def test_default_now_is_the_clock() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    verified = verify_standard_webhook(headers=_signed(SECRET_A, when=now), body=BODY, secrets=[SECRET_A])
    assert verified.timestamp == now


# --- our signer, checked by the reference verifier ------------------------------------------------------


@pytest.mark.parametrize("secret", [SECRET_A, SECRET_B.removeprefix("whsec_")])
def test_our_signature_is_accepted_by_the_reference_library(secret: str) -> None:
    timestamp = int(datetime.now(UTC).timestamp())
    signature = sign_standard_webhook(secret=secret, webhook_id=MSG_ID, timestamp=timestamp, body=BODY)
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    stamp = datetime.fromtimestamp(timestamp, UTC)
    assert signature == Webhook(secret).sign(MSG_ID, stamp, BODY.decode())


def test_our_signer_round_trips_binary_bodies() -> None:
    body = bytes(range(256))
    stamp = int(NOW.timestamp())
    signature = sign_standard_webhook(secret=SECRET_B, webhook_id="m1", timestamp=stamp, body=body)
    headers = {"webhook-id": "m1", "webhook-timestamp": str(stamp), "webhook-signature": signature}
    assert (
        verify_standard_webhook(headers=headers, body=body, secrets=[SECRET_A, SECRET_B], now=NOW).webhook_id
        == "m1"
    )


# --- bearer tokens ---------------------------------------------------------------------------------------


TOKENS = ["tok-current-9f8e7d", "tok-previous-1a2b3c"]


@pytest.mark.parametrize(
    "header", ["Bearer tok-current-9f8e7d", "bearer tok-previous-1a2b3c", " Bearer  tok-current-9f8e7d "]
)
def test_bearer_valid(header: str) -> None:
    verify_bearer(authorization=header, tokens=TOKENS)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("Bearer", "malformed_header"),
        ("Basic dXNlcjpwYXNz", "malformed_header"),
        ("tok-current-9f8e7d", "malformed_header"),
        ("Bearer tok-current-9f8e7", "bad_token"),
        ("Bearer tok-current-9f8e7d-and-more", "bad_token"),
        ("Bearer tök-ünicode", "bad_token"),
    ],
)
def test_bearer_refused(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_bearer(authorization=header, tokens=TOKENS)
    assert (caught.value.reason, caught.value.header) == (reason, "authorization")
    assert all(token not in str(caught.value) for token in TOKENS)


@pytest.mark.parametrize("tokens", [[], [""], "tok-current-9f8e7d"])
def test_bearer_needs_configured_tokens(tokens: list[str]) -> None:
    with pytest.raises(ConfigError):
        verify_bearer(authorization="Bearer x", tokens=tokens)


# --- Twilio ----------------------------------------------------------------------------------------------


TOKEN = "12345678901234567890123456789012"
OLD_TOKEN = "abcdefabcdefabcdefabcdefabcdefab"
URL = "https://calls.example.com/webhooks/twilio/recording?tenant=acme"
PARAMS = {
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "CallSid": "CA0123456789abcdef0123456789abcdef",
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC01/Recordings/RE01",
    "RecordingStatus": "completed",
    "RecordingDuration": "42",
}


def _twilio(token: str, url: str, params: object) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def test_twilio_form_params_valid() -> None:
    verify_twilio(
        url=URL, params=PARAMS, body=b"ignored", signature=_twilio(TOKEN, URL, PARAMS), auth_tokens=[TOKEN]
    )


@pytest.mark.parametrize(
    ("signed_url", "request_url"),
    [
        ("https://calls.example.com:443/hook?a=1", "https://calls.example.com/hook?a=1"),
        ("https://calls.example.com/hook?a=1", "https://calls.example.com:443/hook?a=1"),
        ("http://calls.example.com:80/hook", "http://calls.example.com/hook"),
        ("http://calls.example.com/hook", "http://calls.example.com:80/hook"),
        ("https://calls.example.com:8443/hook", "https://calls.example.com:8443/hook"),
        ("https://calls.example.com/hook", "https://calls.example.com:8443/hook"),
    ],
)
def test_twilio_url_with_and_without_port(signed_url: str, request_url: str) -> None:
    signature = _twilio(TOKEN, signed_url, PARAMS)
    assert RequestValidator(TOKEN).validate(request_url, PARAMS, signature)  # the reference agrees
    verify_twilio(url=request_url, params=PARAMS, body=b"", signature=signature, auth_tokens=[TOKEN])


def test_twilio_other_host_or_path_is_refused() -> None:
    signature = _twilio(TOKEN, URL, PARAMS)
    for url in (
        URL.replace("calls.", "evil."),
        URL.replace("recording", "recordings"),
        URL.replace("http", "ftp"),
    ):
        with pytest.raises(SignatureError, match="x-twilio-signature"):
            verify_twilio(url=url, params=PARAMS, body=b"", signature=signature, auth_tokens=[TOKEN])


def test_twilio_repeated_keys_as_pairs() -> None:
    pairs = [("Event", "ringing"), ("To", "+15550001"), ("Event", "answered")]
    signature = _twilio(TOKEN, URL, MultiDict(pairs))
    verify_twilio(url=URL, params=pairs, body=b"", signature=signature, auth_tokens=[TOKEN])


def test_twilio_no_params() -> None:
    signature = _twilio(TOKEN, URL, {})
    verify_twilio(url=URL, params=None, body=b"", signature=signature, auth_tokens=[TOKEN])


def test_twilio_tampered_param() -> None:
    signature = _twilio(TOKEN, URL, PARAMS)
    tampered = PARAMS | {"RecordingUrl": "https://evil.example.com/r.wav"}
    with pytest.raises(SignatureError) as caught:
        verify_twilio(url=URL, params=tampered, body=b"", signature=signature, auth_tokens=[TOKEN])
    assert (caught.value.reason, caught.value.header) == ("bad_signature", "x-twilio-signature")


def _json_request(body: bytes) -> tuple[str, str]:
    url = f"https://calls.example.com/webhooks/twilio/json?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return url, _twilio(TOKEN, url, {})


def test_twilio_body_sha256_valid() -> None:
    body = json.dumps({"CallSid": "CA01", "RecordingStatus": "completed"}).encode()
    url, signature = _json_request(body)
    assert RequestValidator(TOKEN).validate(url, body.decode(), signature)  # the reference agrees
    verify_twilio(url=url, params=None, body=body, signature=signature, auth_tokens=[TOKEN])
    # the signature covers the URL only: stray params (say, the query parsed by a framework) do not count
    verify_twilio(url=url, params=PARAMS, body=body, signature=signature, auth_tokens=[TOKEN])
    # the port variants apply to the JSON form too
    port_url = url.replace("example.com/", "example.com:443/")
    verify_twilio(url=port_url, params=None, body=body, signature=signature, auth_tokens=[TOKEN])


def test_twilio_body_sha256_tampered_body() -> None:
    body = json.dumps({"CallSid": "CA01", "RecordingStatus": "completed"}).encode()
    url, signature = _json_request(body)
    with pytest.raises(SignatureError) as caught:
        verify_twilio(
            url=url,
            params=None,
            body=body.replace(b"CA01", b"CA02"),
            signature=signature,
            auth_tokens=[TOKEN],
        )
    assert caught.value.reason == "body_mismatch"
    assert "bodySHA256" in str(caught.value)


def test_twilio_body_sha256_forged_hash_breaks_signature() -> None:
    body = b'{"CallSid": "CA01"}'
    url, signature = _json_request(body)
    other = b'{"CallSid": "CA02"}'
    forged_url = url.replace(hashlib.sha256(body).hexdigest(), hashlib.sha256(other).hexdigest())
    with pytest.raises(SignatureError) as caught:
        verify_twilio(url=forged_url, params=None, body=other, signature=signature, auth_tokens=[TOKEN])
    assert caught.value.reason == "bad_signature"


def test_twilio_wrong_token() -> None:
    signature = _twilio(OLD_TOKEN, URL, PARAMS)
    with pytest.raises(SignatureError) as caught:
        verify_twilio(url=URL, params=PARAMS, body=b"", signature=signature, auth_tokens=[TOKEN])
    assert (caught.value.reason, caught.value.header) == ("bad_signature", "x-twilio-signature")
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("signed_with", [TOKEN, OLD_TOKEN])
def test_twilio_rotated_tokens(signed_with: str) -> None:
    signature = _twilio(signed_with, URL, PARAMS)
    verify_twilio(url=URL, params=PARAMS, body=b"", signature=signature, auth_tokens=[TOKEN, OLD_TOKEN])


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_twilio_missing_header(signature: str | None) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_twilio(url=URL, params=PARAMS, body=b"", signature=signature, auth_tokens=[TOKEN])
    assert (caught.value.reason, caught.value.header) == ("missing_header", "x-twilio-signature")
    assert "x-twilio-signature" in str(caught.value)


def test_twilio_garbage_signature_and_bad_port_do_not_crash() -> None:
    for url, signature in ((URL, "not base64 ü"), ("https://calls.example.com:99999999/hook", "AAAA")):
        with pytest.raises(SignatureError, match="x-twilio-signature"):
            verify_twilio(url=url, params=PARAMS, body=b"", signature=signature, auth_tokens=[TOKEN])


@pytest.mark.parametrize("tokens", [[], [""], TOKEN])
def test_twilio_needs_configured_tokens(tokens: list[str]) -> None:
    with pytest.raises(ConfigError):
        verify_twilio(url=URL, params=PARAMS, body=b"", signature="x", auth_tokens=tokens)
