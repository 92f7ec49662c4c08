"""Encryption at rest: AES-256-GCM under a ring of keys kept in a JSON file of mode 0600.

Three formats, told apart by the first byte:

- by a ring key (version 1): version | key-id length (1 byte) | key id (ASCII) | nonce (12) | ciphertext+tag
- by a call's data key (version 2): version | nonce (12) | ciphertext+tag. Once a ring is given the
  call's data keys (``use_data_keys``; the runtime does), every context ``call:<uuid>:<field>`` is sealed
  under that call's own key, which the ring's active key wraps (``calls/datakeys.py``): rotating the ring
  re-wraps data keys only, and destroying one makes every copy of that call's ciphertexts unreadable.
- in segments (version 3, ``streamcipher.py``), under either kind of key: the recordings in the archive,
  written (``encrypt_stream``) and read (``open_blob``) a segment at a time. Database values and small
  blobs stay whole messages (versions 1 and 2).

The associated data is the header followed by the caller's ``context`` (``call:<uuid>:transcript``),
so a ciphertext copied to another row or field, or given another key id or version, fails to open.

A ring that has read or written its file follows it: a rotation or retirement saved by another process
(``callsense keys rotate``) is loaded before the next encryption, and when a ciphertext names a key the ring
does not hold, so long-running services never keep encrypting under a retired key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import re
import secrets
import stat
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callsense import streamcipher, tempfiles
from callsense.errors import ConfigError, DecryptionError

__all__ = ["DIRECT_VERSION", "HEAD_BYTES", "DataKeys", "KeyRing", "envelope_prefix"]

_VERSION = 1  # sealed by a ring key, named in the header
_DATA_KEY_VERSION = 2  # sealed by the data key of the call its context names
# The first byte of every ciphertext sealed by a ring key, so a database can find those left in place.
DIRECT_VERSION = bytes([_VERSION])
_NONCE_BYTES = 12  # random 96-bit nonces: safe for about 2**32 messages per key, so rotate well before that
_KEY_BYTES = 32
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HEAD_BYTES = max(streamcipher.HEAD_BYTES, 2 + 64 + _NONCE_BYTES + _TAG_BYTES)  # enough for ``key_id_of``
_CALL_CONTEXT = re.compile(r"call:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):")

# One version of the key file: inode, size, modification time. Saves replace the file (a new inode), so a
# change shows even where modification times are coarse.
_FileVersion = tuple[int, int, int]


class _Keys(NamedTuple):
    """Keys and the active id, swapped as one value: a concurrent encrypt never sees half of a reload."""

    by_id: dict[str, bytes]
    active: str


class DataKeys(Protocol):
    """Each call's own 256-bit data key (``calls.datakeys.DataKeyStore``)."""

    def key_for(self, call: uuid.UUID, *, create: bool) -> bytes:
        """The call's data key, made and stored first if ``create`` and it has none; raises
        ``DataKeyDestroyedError`` once destroyed, ``DecryptionError`` if it has none and not ``create``."""
        ...


def envelope_prefix(key_id: str) -> bytes:
    """The first bytes of every ciphertext sealed under ``key_id``, so a database can count them in place."""
    return bytes([_VERSION, len(key_id)]) + key_id.encode("ascii")


class KeyRing:
    """256-bit keys by id, one of them active; encrypts under the active key, decrypts under any held key.

    ``path`` is where :meth:`rotate` and :meth:`retire` save; ``None`` keeps the ring in memory (tests).
    """

    __slots__ = ("_data_keys", "_keys", "_lock", "_path", "_seen")

    def __init__(self, keys: dict[str, bytes], active: str, *, path: Path | None = None) -> None:
        self._keys = _validated(keys, active)
        self._path = path
        self._seen: _FileVersion | None = None  # the file version the keys were read from or saved as
        self._lock = threading.Lock()
        self._data_keys: DataKeys | None = None

    def __repr__(self) -> str:  # ids only: key material must never reach a log
        keys = self._keys
        return f"KeyRing(active={keys.active!r}, key_ids={sorted(keys.by_id)!r}, path={self._path!r})"

    @classmethod
    def generate(cls, *, path: Path | None = None) -> KeyRing:
        """A ring of one fresh key, in memory until saved (tests, and the first run)."""
        key_id = secrets.token_hex(8)
        return cls({key_id: AESGCM.generate_key(bit_length=256)}, key_id, path=path)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyRing:
        """Load the key file, or create it with one fresh key; refuses a file others can read."""
        if not path.exists():
            fresh = cls.generate()._keys
            try:
                if not path.parent.is_dir():
                    path.parent.mkdir(parents=True, mode=0o700)
                    os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
                # link, not rename: if another process made the file first, we load theirs
                with contextlib.suppress(FileExistsError):
                    _write_private(path, _dump(fresh), replace=False)
            except OSError as exc:
                raise ConfigError(f"cannot create key file {path}: {exc.strerror}") from exc
        keys, version = _read(path)
        ring = cls(keys.by_id, keys.active, path=path)
        ring._seen = version
        return ring

    @classmethod
    def from_export(cls, data: bytes, *, source: str) -> KeyRing:
        """A ring from what :meth:`export` gave (in memory); ``source`` names where it came from in errors."""
        keys = _parse(data, source=source)
        return cls(keys.by_id, keys.active)

    def export(self) -> bytes:
        """Every key, as the key file holds them (JSON): for a backup to wrap, or to keep elsewhere."""
        return _dump(self._keys)

    def install(self, path: Path) -> None:
        """Write this ring into the key file at ``path`` (made 0600 if missing), keeping every other key it
        holds, so nothing it could open is lost; this ring's active key becomes the file's."""
        by_id = dict(self._keys.by_id)
        if path.exists():
            held, _ = _read(path)
            for key_id, key in held.by_id.items():
                if by_id.setdefault(key_id, key) != key:
                    raise ConfigError(f"key file {path} holds a different key under the id {key_id!r}")
        try:
            path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            _write_private(path, _dump(_Keys(by_id, self._keys.active)), replace=True)
        except OSError as exc:
            raise ConfigError(f"cannot write key file {path}: {exc.strerror}") from exc

    @property
    def active_key_id(self) -> str:
        return self._keys.active

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys.by_id)

    def rotate(self) -> str:
        """Add a fresh key, make it active and save; returns its id. Older ciphertexts still open."""
        with self._lock:
            self._reload_if_changed()  # build on the file as it is now, not on what we read at start
            while (key_id := secrets.token_hex(8)) in self._keys.by_id:
                pass
            keys = _Keys({**self._keys.by_id, key_id: AESGCM.generate_key(bit_length=256)}, key_id)
            # saved before use: a key that encrypted anything must survive a restart
            self._save(keys)
        return key_id

    def retire(self, key_id: str) -> None:
        """Forget a key that is not active; whatever it encrypted can no longer be read."""
        with self._lock:
            self._reload_if_changed()
            if key_id == self._keys.active:
                raise ConfigError(f"key {key_id!r} is the active key; rotate before retiring it")
            if key_id not in self._keys.by_id:
                raise ConfigError(f"key {key_id!r} is not in the key ring")
            remaining = {kid: key for kid, key in self._keys.by_id.items() if kid != key_id}
            self._save(_Keys(remaining, self._keys.active))

    def use_data_keys(self, data_keys: DataKeys) -> None:
        """From now on seal each ``call:<uuid>:`` context under that call's data key (envelope encryption)."""
        self._data_keys = data_keys

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        key_id, key = self._sealing_key(context)
        header = bytes([_DATA_KEY_VERSION]) if key_id is None else envelope_prefix(key_id)
        nonce = os.urandom(_NONCE_BYTES)
        return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + context.encode())

    def decrypt(self, ciphertext: bytes, *, context: str) -> bytes:
        key_id, header, nonce, sealed = _split(ciphertext)
        key, under = self._opening_key(key_id, context)
        return _open(key, header, nonce, sealed, context=context, under=under)

    def encrypt_stream(self, chunks: Iterable[bytes], *, context: str) -> Iterator[bytes]:
        """The ciphertext of the concatenated ``chunks`` in segments (version 3), a segment at a time, under
        the key ``encrypt`` would use; the key is taken before the first chunk is read."""
        key_id, key = self._sealing_key(context)
        return streamcipher.seal(chunks, key=key, key_id=key_id, context=context)

    def open_blob(self, source: io.BufferedIOBase, *, context: str) -> io.BufferedIOBase:
        """The plaintext of the ciphertext in ``source`` as a seekable reader that owns ``source``: only the
        segments read are decrypted (version 3); versions 1 and 2 (sealed whole) are decrypted whole."""
        try:
            head = source.read(HEAD_BYTES)
            if head[:1] == bytes([streamcipher.VERSION]):
                header = streamcipher.parse_header(head)
                key, _ = self._opening_key(header.key_id, context)
                return streamcipher.SegmentReader(source, header, key=key, context=context)
            with source:
                return io.BytesIO(self.decrypt(head + source.read(), context=context))
        except BaseException:
            source.close()
            raise

    def _sealing_key(self, context: str) -> tuple[str | None, bytes]:
        """The ring key's id and the key to seal ``context`` under; no id for a call's data key."""
        if self._data_keys is not None and (call := _call_of(context)) is not None:
            return None, self._data_keys.key_for(call, create=True)
        self._follow_file()
        keys = self._keys
        return keys.active, keys.by_id[keys.active]

    def _opening_key(self, key_id: str | None, context: str) -> tuple[bytes, str]:
        """The key named ``key_id`` (None: the data key of the call ``context`` names), and how to name it."""
        if key_id is None:
            call = _call_of(context)
            if call is None or self._data_keys is None:
                raise DecryptionError(
                    f"ciphertext is sealed under a call's data key, but the context {context!r} names no "
                    "call or this key ring was given no data keys"
                )
            return self._data_keys.key_for(call, create=False), f"the data key of call {call}"
        if key_id not in self._keys.by_id:
            self._follow_file()  # a key made by another process's rotation since we last looked
        if (key := self._keys.by_id.get(key_id)) is None:
            raise DecryptionError(f"key {key_id!r} is not in the key ring (retired, or from elsewhere)")
        return key, f"key {key_id!r}"

    def encrypt_text(self, text: str, *, context: str) -> bytes:
        return self.encrypt(text.encode("utf-8"), context=context)

    def decrypt_text(self, ciphertext: bytes, *, context: str) -> str:
        return self.decrypt(ciphertext, context=context).decode("utf-8")

    def key_id_of(self, ciphertext: bytes) -> str | None:
        """The ring key that sealed it; None where a call's data key did (rotation leaves those alone).
        The first ``HEAD_BYTES`` of a ciphertext suffice."""
        if ciphertext[:1] == bytes([streamcipher.VERSION]):
            return streamcipher.parse_header(ciphertext).key_id
        return _split(ciphertext)[0]

    def needs_rotation(self, ciphertext: bytes) -> bool:
        """Sealed by a ring key other than the active one."""
        return self.key_id_of(ciphertext) not in (None, self._keys.active)

    def reencrypt(self, ciphertext: bytes, *, context: str) -> bytes:
        """Open under whichever key sealed it, seal again as ``encrypt`` does now (under the call's data key
        where this ring has data keys, else under the active key)."""
        return self.encrypt(self.decrypt(ciphertext, context=context), context=context)

    def _follow_file(self) -> None:
        """Reload the key file if another process changed it: one ``stat`` when it did not."""
        if self._path is not None and self._seen is not None and _version(self._path) != self._seen:
            with self._lock:
                self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        """Under the lock: read the key file again if it is not the version we hold."""
        if self._path is not None and self._seen is not None and _version(self._path) != self._seen:
            self._keys, self._seen = _read(self._path)

    def _save(self, keys: _Keys) -> None:
        """Under the lock: write the file first, then use the keys, so a failed save changes nothing."""
        if self._path is not None:
            try:
                self._seen = _write_private(self._path, _dump(keys), replace=True)
            except OSError as exc:
                raise ConfigError(f"cannot save key file {self._path}: {exc.strerror}") from exc
        self._keys = keys


def _validated(keys: dict[str, bytes], active: str) -> _Keys:
    for key_id, key in keys.items():
        if not _KEY_ID.fullmatch(key_id) or len(key) != _KEY_BYTES:
            raise ConfigError(f"key {key_id!r} needs an id of [A-Za-z0-9_-]{{1,64}} and 32 bytes")
    if active not in keys:
        raise ConfigError(f"the active key {active!r} is not in the key ring")
    return _Keys(dict(keys), active)


def _version(path: Path) -> _FileVersion:
    try:
        info = os.stat(path)  # follows symlinks, as opening does: mounted secrets are swapped by link
    except OSError as exc:
        raise ConfigError(f"cannot open key file {path}: {exc.strerror}") from exc
    return info.st_ino, info.st_size, info.st_mtime_ns


def _read(path: Path) -> tuple[_Keys, _FileVersion]:
    """The keys in the file and the version they were read from; refuses a file others can read."""
    try:
        fd = os.open(path, os.O_RDONLY)  # symlinks followed: mounted secrets are often links
    except OSError as exc:
        raise ConfigError(f"cannot open key file {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)  # checked on the open file, so a swap after the check cannot fool us
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(
                f"key file {path} has mode {stat.S_IMODE(info.st_mode):04o}, so other users may read it; "
                f"restrict it with 'chmod 600 {path}' (and consider rotating the keys)"
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            raw = file.read()
    finally:
        os.close(fd)
    return _parse(raw, source=f"key file {path}"), (info.st_ino, info.st_size, info.st_mtime_ns)


def _parse(raw: bytes, *, source: str) -> _Keys:
    """Keys by id and the active id from the key file's JSON; ``source`` names it in the error."""
    try:
        doc = json.loads(raw)
        active, encoded = doc["active"], doc["keys"]
        if not isinstance(active, str) or not isinstance(encoded, dict) or not encoded:
            raise TypeError("'active' must be a string and 'keys' a non-empty object")
        keys = {str(kid): base64.b64decode(value, validate=True) for kid, value in encoded.items()}
        return _validated(keys, active)
    except (ConfigError, ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ConfigError(
            f"{source} is malformed ({exc}): expected {{'active': id, 'keys': {{id: base64 key}}}}"
        ) from exc


def _call_of(context: str) -> uuid.UUID | None:
    """The call a context names (``call:<uuid>:<field>``), if it names one."""
    found = _CALL_CONTEXT.match(context)
    return uuid.UUID(found.group(1)) if found else None


def _open(key: bytes, header: bytes, nonce: bytes, sealed: bytes, *, context: str, under: str) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, sealed, header + context.encode())
    except InvalidTag:
        raise DecryptionError(
            f"ciphertext does not open under {under} with context {context!r}: "
            "tampered, or stored for another record"
        ) from None


def _split(ciphertext: bytes) -> tuple[str | None, bytes, bytes, bytes]:
    """Key id (None: a call's data key), header, nonce and sealed data of a whole-message ciphertext
    (version 1 or 2); the header is checked, the rest is not."""
    if len(ciphertext) < 2 or ciphertext[0] not in (_VERSION, _DATA_KEY_VERSION):
        raise DecryptionError("not a callsense ciphertext (unknown envelope version)")
    header_len = 1 if ciphertext[0] == _DATA_KEY_VERSION else 2 + ciphertext[1]
    if len(ciphertext) < header_len + _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("ciphertext is truncated")
    key_id = ciphertext[2:header_len].decode("ascii", errors="replace") if header_len > 1 else None
    if key_id is not None and not _KEY_ID.fullmatch(key_id):
        raise DecryptionError("ciphertext names an invalid key id")
    nonce_end = header_len + _NONCE_BYTES
    return key_id, ciphertext[:header_len], ciphertext[header_len:nonce_end], ciphertext[nonce_end:]


def _dump(keys: _Keys) -> bytes:
    encoded = {kid: base64.b64encode(key).decode("ascii") for kid, key in keys.by_id.items()}
    return json.dumps({"active": keys.active, "keys": encoded}, indent=2).encode() + b"\n"


def _write_private(path: Path, data: bytes, *, replace: bool) -> _FileVersion:
    """Write a file atomically: a temporary file created 0600, synced, then renamed (or linked) in place.

    Returns the version of the file written (renaming keeps its inode and modification time)."""
    tmp = tempfiles.temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            info = os.fstat(file.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    tempfiles.fsync_dir(path.parent)  # make the rename itself durable
    return info.st_ino, info.st_size, info.st_mtime_ns
