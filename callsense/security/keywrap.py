"""The key ring sealed with a passphrase, so a backup can carry it without carrying it in clear.

scrypt turns the passphrase into a 256-bit key (128 MiB of memory and about a second per guess, so guessing
is costly), AES-256-GCM seals the ring. The file is JSON; its header (format, KDF and its parameters) is the
associated data, so a header edited to weaken the KDF fails to open like a wrong passphrase does.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from callsense.errors import BackupError

__all__ = ["MIN_PASSPHRASE_LENGTH", "check_passphrase", "unwrap", "wrap"]

FORMAT = "callsense-wrapped-keyring-1"
MIN_PASSPHRASE_LENGTH = 12
SCRYPT_LOG2_N = (
    17  # N = 2**17 with r = 8: 128 MiB per derivation (RFC 7914's interactive-use advice, doubled)
)
MAX_SCRYPT_LOG2_N = 20  # a file asking for more memory than 1 GiB is refused, not obeyed
_SALT_BYTES = 16
_NONCE_BYTES = 12


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise BackupError(f"the passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")


def wrap(plaintext: bytes, passphrase: str) -> bytes:
    """``plaintext`` (the exported key ring) sealed under ``passphrase``, as the JSON file's bytes."""
    check_passphrase(passphrase)
    kdf = {"name": "scrypt", "log2_n": SCRYPT_LOG2_N, "r": 8, "p": 1, "salt": _b64(os.urandom(_SALT_BYTES))}
    header = {"format": FORMAT, "kdf": kdf}
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_derive(passphrase, kdf)).encrypt(nonce, plaintext, _associated(header))
    return json.dumps({**header, "nonce": _b64(nonce), "sealed": _b64(sealed)}, indent=2).encode() + b"\n"


def unwrap(wrapped: bytes, passphrase: str) -> bytes:
    """The key ring sealed in ``wrapped``; ``BackupError`` for a wrong passphrase or a damaged file."""
    try:
        doc = json.loads(wrapped)
        header = {"format": doc["format"], "kdf": doc["kdf"]}
        if header["format"] != FORMAT or header["kdf"].get("name") != "scrypt":
            raise ValueError(f"not a {FORMAT} file")
        key = _derive(passphrase, header["kdf"])
        nonce, sealed = base64.b64decode(doc["nonce"], validate=True), base64.b64decode(doc["sealed"])
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise BackupError(f"the wrapped key ring is malformed ({exc})") from exc
    try:
        return AESGCM(key).decrypt(nonce, sealed, _associated(header))
    except InvalidTag:
        raise BackupError(
            "the passphrase does not open the wrapped key ring (wrong, or the file was altered)"
        ) from None


def _derive(passphrase: str, kdf: dict[str, Any]) -> bytes:
    log2_n, r, p = int(kdf["log2_n"]), int(kdf["r"]), int(kdf["p"])
    if not (10 <= log2_n <= MAX_SCRYPT_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError(f"scrypt parameters out of range: log2_n={log2_n} r={r} p={p}")
    salt = base64.b64decode(kdf["salt"], validate=True)
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _associated(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
